//! The ready-made worker, `forest worker`, as users run it: real node processes, real worker
//! processes, shell jobs. Node deaths, worker deaths and timeouts, checked from the history;
//! what a worker refuses to run, checked through the REST API.

mod common;

use std::time::{Duration, Instant};

use common::http::Api;
use common::*;
use forest::model::job::Retries;
use forest::model::{keys, ExecuteStatus, JobConf, JobExecuteSnapshot, WireJson};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A shell job that fires once, two seconds from now.
fn shell_once(id: &str, group: &str, command: &str) -> JobConf {
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let mut j = job(id, group, &at.format("%-S %-M %-H * * ?").to_string());
    j.timezone = "UTC".into();
    j.target = "shell".into();
    j.params = command.into();
    j
}

/// The one report under the execute prefix once a worker has claimed the job's run.
async fn running_report(ep: &str) -> (String, JobExecuteSnapshot) {
    let ep = ep.to_string();
    eventually("a worker reports the run running", || {
        let ep = ep.clone();
        async move { read_prefix(&ep, keys::EXECUTE_PREFIX).await.count == 1 }
    })
    .await;
    let kv = read_prefix(&ep, keys::EXECUTE_PREFIX).await.kvs.remove(0);
    let key = String::from_utf8(kv.key).unwrap();
    (key, JobExecuteSnapshot::from_json(&kv.value).unwrap())
}

async fn final_record(ep: &str, id: &str) -> JobExecuteSnapshot {
    let (ep, id) = (ep.to_string(), id.to_string());
    eventually(&format!("run {id} is in the history"), || {
        let (ep, id) = (ep.clone(), id.clone());
        async move { run_record(&ep, &id).await.is_some() }
    })
    .await;
    run_record(&ep, &id).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_survives_the_death_of_its_workers_node() {
    let mut cluster = Cluster::start(3, &[]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let others: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let (first, second) = (others[0], others[1]);
    let ep = cluster.endpoint(second);
    add_group(&ep, "g").await;
    let endpoints = format!("{},{}", cluster.endpoint(first), cluster.endpoint(second));
    let _w = worker_process(cluster.dir.path(), &endpoints, "g", "w1");
    let j = shell_once(
        "20261124000000000401",
        "g",
        "sleep 3; echo done-$FOREST_ATTEMPT",
    );
    put_json(&ep, keys::job_conf(&j.id), j.to_json()).await;

    let (_, running) = running_report(&ep).await;
    assert_eq!(
        running.node,
        format!("node-{first}"),
        "the worker is on its first endpoint"
    );
    cluster.node(first).kill();

    let run = final_record(&ep, &running.id).await;
    assert_eq!(run.status, ExecuteStatus::SUCCESS, "{run:?}");
    assert!(run.output.contains("done-0"), "{:?}", run.output);
    let all = history(&ep).await;
    assert_eq!(
        all.values().filter(|r| r.job_id == j.id).count(),
        1,
        "one run, neither lost nor doubled: {all:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_worker_is_killed_is_retried_on_another_worker() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    add_group(&ep, "g").await;
    let mut workers = vec![
        ("a", worker_process(cluster.dir.path(), &ep, "g", "a")),
        ("b", worker_process(cluster.dir.path(), &ep, "g", "b")),
    ];
    eventually("both workers are online", || {
        let ep = ep.clone();
        async move { read_prefix(&ep, &keys::clients_prefix("g")).await.count == 2 }
    })
    .await;
    let mut j = shell_once(
        "20261124000000000402",
        "g",
        r#"if [ "$FOREST_ATTEMPT" = 0 ]; then sleep 60; fi; echo attempt-$FOREST_ATTEMPT"#,
    );
    j.retries = Some(Retries {
        count: 1,
        ..Default::default()
    });
    put_json(&ep, keys::job_conf(&j.id), j.to_json()).await;

    let (_, running) = running_report(&ep).await;
    let victim = workers.iter().position(|(n, _)| *n == running.ip).unwrap();
    workers[victim].1.kill();

    assert_eq!(
        final_record(&ep, &running.id).await.status,
        ExecuteStatus::LOST
    );
    let retried = loop {
        let all = history(&ep).await;
        if let Some(r) = all.values().find(|r| r.job_id == j.id && r.attempt == 1) {
            break r.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(retried.status, ExecuteStatus::SUCCESS, "{retried:?}");
    assert_ne!(retried.ip, running.ip, "the retry ran on the other worker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_job_over_its_timeout_is_stopped_with_its_children() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    add_group(&ep, "g").await;
    let _w = worker_process(cluster.dir.path(), &ep, "g", "w1");
    let pidfile = cluster.dir.path().join("child.pid");
    let mut j = shell_once(
        "20261124000000000403",
        "g",
        &format!("sleep 100 & echo $! > {}; wait", pidfile.display()),
    );
    j.timeout = 1;
    put_json(&ep, keys::job_conf(&j.id), j.to_json()).await;

    let (_, running) = running_report(&ep).await;
    let run = final_record(&ep, &running.id).await;
    assert!(
        [ExecuteStatus::TIMEOUT, ExecuteStatus::CANCELLED].contains(&run.status),
        "{run:?}"
    );
    let pid = std::fs::read_to_string(&pidfile).expect("the job wrote its child's pid");
    let proc = format!("/proc/{}", pid.trim());
    eventually("the job's child process is gone", || {
        let proc = proc.clone();
        async move {
            // A zombie waiting for its reaper is gone too.
            std::fs::read_to_string(format!("{proc}/stat"))
                .map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"))
        }
    })
    .await;
}

/// A group with one worker started with `flags`, on a single node; the node's API.
async fn group_with_worker(cluster: &Cluster, group: &str, worker: &str, flags: &[&str]) -> Proc {
    let api = Api::new(&cluster.nodes[0].http);
    let (status, body) = api
        .post("/api/v1/groups", json!({"name": group, "remark": ""}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let w = worker_process_with(
        cluster.dir.path(),
        &cluster.endpoint(1),
        group,
        worker,
        flags,
    );
    let online = format!("/api/v1/workers?group={group}");
    eventually(&format!("worker {worker} is online"), || async {
        api.ok(&online).await["items"][0]["name"] == json!(worker)
    })
    .await;
    w
}

/// Runs, once and at once, a paused job of `target` with `params` in `group`; the run as
/// `GET /api/v1/executions/{id}` shows it once it has ended, and how long that took.
async fn run_once(api: &Api, group: &str, target: &str, params: &str) -> (Value, Duration) {
    let (status, job) = api
        .post(
            "/api/v1/jobs",
            json!({"name": "once", "group": group, "cron": "0 0 0 1 1 *", "target": target,
                   "params": params, "status": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().expect("a job id");
    let asked = Instant::now();
    let (status, queued) = api.post(&format!("/api/v1/jobs/{id}/run"), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let run = format!(
        "/api/v1/executions/{}",
        queued["snapshotId"].as_str().expect("a snapshot id")
    );
    eventually(&format!("{run} ends"), || async {
        let (status, r) = api.get(&run).await;
        status == StatusCode::OK && r["status"] != json!(1)
    })
    .await;
    (api.ok(&run).await, asked.elapsed())
}

/// A refused run: at once, status -1, the result `refused: …` with `says` in it.
fn assert_refused(run: &Value, took: Duration, says: &str) {
    assert_eq!(
        (run["status"].clone(), run["statusName"].clone()),
        (json!(-1), json!("error")),
        "{run}"
    );
    let result = run["result"].as_str().expect("a result");
    assert!(
        result.starts_with("refused: ") && result.contains(says),
        "{result}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?} to refuse");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_runs_only_the_shell_commands_it_allows() {
    let cluster = Cluster::start(1, &[]).await;
    let api = Api::new(&cluster.nodes[0].http);
    let _closed = group_with_worker(&cluster, "closed", "c", &[]).await;
    let _narrow = group_with_worker(
        &cluster,
        "narrow",
        "n",
        &["--allow-shell", "--shell-allow", "echo [a-z ]*"],
    )
    .await;
    let victim = cluster.dir.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    let rm = format!("rm -rf {}", victim.display());

    let (run, took) = run_once(&api, "closed", "shell", &rm).await;
    assert_refused(
        &run,
        took,
        "shell commands are not allowed on this worker (start it with --allow-shell)",
    );
    // The worker says why, under the run's ids, and never what the command was.
    let log = std::fs::read_to_string(cluster.dir.path().join("worker-c.log")).unwrap();
    let ids = [run["id"].as_str().unwrap(), run["jobId"].as_str().unwrap()];
    assert!(
        log.lines().any(|l| l.contains("WARN")
            && l.contains("refused")
            && ids.iter().all(|id| l.contains(id))),
        "{log}"
    );
    assert!(!log.contains("rm -rf"), "{log}");

    let (run, _) = run_once(&api, "narrow", "shell", "echo hi").await;
    assert_eq!(run["status"], json!(2), "{run}");
    assert_eq!(run["output"], json!("hi\n"), "{run}");
    for refused in [rm.clone(), format!("echo hi; {rm}")] {
        let (run, took) = run_once(&api, "narrow", "shell", &refused).await;
        assert_refused(&run, took, "--shell-allow");
    }
    assert!(victim.exists(), "a refused command ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_calls_only_the_hosts_it_allows() {
    let cluster = Cluster::start(1, &[]).await;
    let api = Api::new(&cluster.nodes[0].http);
    let _w = group_with_worker(&cluster, "web", "h", &["--http-allow", "127.0.0.1"]).await;
    // The node's own API is the server to call: it listens on 127.0.0.1.
    let (_, port) = cluster.nodes[0].http.rsplit_once(':').unwrap();
    let call =
        |host: &str| json!({"url": format!("http://{host}:{port}/api/v1/cluster")}).to_string();

    let (run, _) = run_once(&api, "web", "http", &call("127.0.0.1")).await;
    assert_eq!(run["status"], json!(2), "{run}");
    assert!(
        run["result"].as_str().unwrap().starts_with("200 OK"),
        "{run}"
    );
    // The same server by another name: hosts are matched as written, never resolved.
    let (run, took) = run_once(&api, "web", "http", &call("localhost")).await;
    assert_refused(
        &run,
        took,
        &format!("localhost:{port} is not in this worker's --http-allow list"),
    );
    // A shell job on a worker started for HTTP only.
    let (run, took) = run_once(&api, "web", "shell", "true").await;
    assert_refused(&run, took, "--allow-shell");
}

#[test]
fn a_bad_allow_flag_stops_the_worker_at_start_and_names_it() {
    for (flags, names) in [
        (&["--allow-shell", "--shell-allow", "echo ("][..], "echo ("),
        (&["--http-allow", "api.*.com"][..], "api.*.com"),
        (&["--shell-allow", "echo .*"][..], "--allow-shell"),
    ] {
        let out = cli(&[&["worker", "--group", "g"][..], flags].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(names),
            "{flags:?}: {stderr}"
        );
    }
}
