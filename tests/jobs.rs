//! `forest ctl group` and `forest ctl job` against a real single node: the job lifecycle as operators
//! type it, compare-and-swap edits, manual runs, and refusals that name the problem and store
//! nothing.

mod common;

use chrono::DateTime;
use common::*;
use serde_json::Value;

/// Flags for a valid job in `group`.
fn job_flags<'a>(name: &'a str, group: &'a str) -> Vec<&'a str> {
    vec![
        "job",
        "add",
        "--name",
        name,
        "--group",
        group,
        "--cron",
        "*/10 * * * * *",
        "--target",
        "demo.echo",
    ]
}

/// A job's JSON written to a file in `dir`, for `--file`.
fn job_file(dir: &std::path::Path, name: &str, job: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, job.to_string()).expect("write the job file");
    path.display().to_string()
}

fn keys_under(ep: &str, prefix: &str) -> Value {
    ok_json_at(ep, &["kv", "get", prefix, "--prefix"])
}

#[tokio::test]
async fn bad_jobs_are_refused_with_the_reason_and_store_nothing() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    let http = cluster.nodes[0].http.clone();
    ctl_json(&http, &["group", "add", "ops"]);

    let err = ctl_refused(&http, &job_flags("backup", "nope"));
    assert!(err.contains(r#"group "nope" does not exist"#), "{err}");

    let mut bad_cron = job_flags("backup", "ops");
    bad_cron[7] = "0 0 25 * * * *";
    let err = ctl_refused(&http, &bad_cron);
    assert!(err.contains("invalid: cron: expected"), "{err}");

    let mut crontab = job_flags("backup", "ops");
    crontab[7] = "0 0 * * * *";
    crontab.extend(["--cron-syntax", "crontab"]);
    let err = ctl_refused(&http, &crontab);
    assert!(err.contains("cron: expected 5 fields"), "{err}");

    let mut zone = job_flags("backup", "ops");
    zone.extend(["--timezone", "Mars/Olympus"]);
    let err = ctl_refused(&http, &zone);
    assert!(err.contains(r#"unknown time zone "Mars/Olympus""#), "{err}");

    let mut target = job_flags("backup", "ops");
    target[9] = "";
    let err = ctl_refused(&http, &target);
    assert!(err.contains("target: must not be empty"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("job.yaml");
    std::fs::write(&yaml, "name: backup\ngroup: ops\n").unwrap();
    let err = ctl_refused(&http, &["job", "add", "--file", yaml.to_str().unwrap()]);
    assert!(
        err.contains("cron"),
        "a YAML job is validated like any other: {err}"
    );
    let no_version = job_file(
        dir.path(),
        "new.json",
        &serde_json::json!({"name": "backup"}),
    );
    let err = ctl_refused(&http, &["job", "edit", "--file", &no_version]);
    assert!(
        err.contains(r#"must carry the job's "id" and the "version""#),
        "{err}"
    );
    let err = ctl_refused(&http, &["job", "get", "20190707191011593096"]);
    assert!(
        err.contains("not found: job 20190707191011593096 not found"),
        "{err}"
    );

    assert_eq!(
        ctl_json(&http, &["job", "list"])["jobs"],
        Value::Array(vec![])
    );
    for prefix in ["/forest/server/conf/", "/forest/server/plan/"] {
        assert_eq!(
            keys_under(&ep, prefix)["count"],
            0,
            "nothing under {prefix}"
        );
    }

    std::fs::write(
        &yaml,
        "name: nightly\ngroup: ops\ncron: \"0 0 2 * * ?\"\ntarget: shell\nparams: echo hi\nstatus: 1\n",
    )
    .unwrap();
    let added = ctl_json(&http, &["job", "add", "--file", yaml.to_str().unwrap()]);
    assert_eq!(
        added["name"], "nightly",
        "a job written as YAML is added: {added}"
    );
    assert_eq!(added["params"], "echo hi");
}

#[tokio::test]
async fn a_job_is_added_edited_at_its_version_paused_listed_and_deleted() {
    let cluster = Cluster::start(1, &[]).await;
    let http = cluster.nodes[0].http.clone();
    let dir = tempfile::tempdir().unwrap();
    ctl_json(&http, &["group", "add", "ops", "--remark", "operations"]);
    ctl_json(&http, &["group", "add", "batch"]);
    let groups = ctl_json(&http, &["group", "list"]);
    let names: Vec<_> = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["batch", "ops"]);

    let mut flags = job_flags("backup", "ops");
    flags.extend([
        "--params",
        r#"{"dir":"/srv"}"#,
        "--timezone",
        "Asia/Shanghai",
    ]);
    let added = ctl_json(&http, &flags);
    let id = added["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 20, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
    assert_eq!(added["version"], 1);
    assert_eq!(added["status"], 1);
    assert_eq!(added["params"], r#"{"dir":"/srv"}"#);
    let got = ctl_json(&http, &["job", "get", &id]);
    assert_eq!(got, added, "get returns the stored job");

    // Compare-and-swap: a file read at version 1 no longer applies once the job has moved on.
    let stale = job_file(dir.path(), "stale.json", &got);
    let edited = ctl_json(&http, &["job", "edit", &id, "--cron", "0 */5 * * * *"]);
    assert_eq!(edited["version"], 2);
    assert_eq!(edited["cron"], "0 */5 * * * *");
    assert_eq!(edited["params"], r#"{"dir":"/srv"}"#, "other fields kept");
    let err = ctl_refused(&http, &["job", "edit", "--file", &stale, "--name", "lost"]);
    assert!(
        err.contains(&format!("conflict: job {id} is at version 2, not 1")),
        "{err}"
    );
    assert_eq!(ctl_json(&http, &["job", "get", &id]), edited, "unchanged");
    let mut current = edited.clone();
    current["name"] = "nightly backup".into();
    let fresh = job_file(dir.path(), "fresh.json", &current);
    let edited = ctl_json(&http, &["job", "edit", "--file", &fresh]);
    assert_eq!(edited["version"], 3);
    assert_eq!(edited["name"], "nightly backup");

    let paused = ctl_json(&http, &["job", "pause", &id]);
    assert_eq!(
        (paused["status"].clone(), paused["version"].clone()),
        (2.into(), 4.into())
    );
    let resumed = ctl_json(&http, &["job", "resume", &id]);
    assert_eq!(
        (resumed["status"].clone(), resumed["version"].clone()),
        (1.into(), 5.into())
    );

    let other = ctl_json(&http, &job_flags("report", "batch"));
    let in_batch = ctl_json(&http, &["job", "list", "--group", "batch"]);
    assert_eq!(in_batch["jobs"], Value::Array(vec![other.clone()]));
    assert_eq!(
        ctl_json(&http, &["job", "list"])["jobs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    ctl_json(&http, &["job", "pause", other["id"].as_str().unwrap()]);
    let table = cli(&["ctl", "job", "list", "--server", &http]);
    let table = String::from_utf8_lossy(&table.stdout);
    let lines: Vec<_> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let header: Vec<_> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["ID", "NAME", "GROUP", "CRON", "STATUS", "VERSION"]);
    let row = lines
        .iter()
        .find(|l| l.starts_with(&id))
        .expect("a row for the job");
    assert!(
        row.contains("nightly backup") && row.contains("running"),
        "{row}"
    );
    assert!(row.trim_end().ends_with(" 5"), "{row}");
    assert!(table.contains("stopped"), "{table}");

    let next = ctl_json(&http, &["job", "next", &id, "--count", "3"]);
    let times: Vec<_> = next["times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| DateTime::parse_from_rfc3339(t.as_str().unwrap()).expect("RFC 3339"))
        .collect();
    assert_eq!(times.len(), 3);
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    assert!(
        times
            .iter()
            .all(|t| t.offset().local_minus_utc() == 8 * 3600),
        "in the job's zone: {times:?}"
    );

    assert_eq!(
        ctl_json(&http, &["job", "delete", &id])["deleted"],
        id.as_str()
    );
    let err = ctl_refused(&http, &["job", "get", &id]);
    assert!(
        err.contains(&format!("not found: job {id} not found")),
        "{err}"
    );
    let err = ctl_refused(&http, &["job", "delete", &id]);
    assert!(err.contains("not found"), "{err}");
}

#[tokio::test]
async fn a_manual_run_with_no_worker_waits_pending_under_its_group() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    let http = cluster.nodes[0].http.clone();
    ctl_json(&http, &["group", "add", "lonely"]);
    let mut flags = job_flags("once", "lonely");
    flags.push("--stopped");
    let job = ctl_json(&http, &flags);
    assert_eq!(job["status"], 2, "added paused");
    let id = job["id"].as_str().unwrap();

    // A paused job still runs when asked to.
    let run = ctl_json(&http, &["job", "run", id]);
    let sid = run["snapshot_id"].as_str().unwrap();
    assert!(sid.ends_with(id), "{sid}");
    let pending = keys_under(&ep, "/forest/server/pending/lonely/");
    assert_eq!(pending["count"], 1, "{pending}");
    let kv = &pending["kvs"][0];
    assert_eq!(kv["key"], format!("/forest/server/pending/lonely/{sid}"));
    let snapshot: Value = serde_json::from_str(kv["value"].as_str().unwrap()).unwrap();
    assert_eq!(snapshot["jobId"], id);
    assert_eq!(snapshot["target"], "demo.echo");

    let text = cli(&["ctl", "job", "run", id, "--server", &http]);
    assert!(text.status.success());
    let second = String::from_utf8_lossy(&text.stdout).trim().to_string();
    assert!(
        second.ends_with(id) && second != sid,
        "text prints the new snapshot id: {second}"
    );
}
