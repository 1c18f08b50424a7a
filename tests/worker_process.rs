//! The ready-made worker, `forest worker`, as users run it: real node processes, real worker
//! processes, shell jobs. Node deaths, worker deaths and timeouts, checked from the history.

mod common;

use common::*;
use forest::model::job::Retries;
use forest::model::{keys, ExecuteStatus, JobConf, JobExecuteSnapshot, WireJson};

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
