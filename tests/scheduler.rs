//! Exactly-once firing by the Raft leader, end to end: real nodes, jobs written as the
//! original's JSON, and workers that follow the original client protocol over the KV API
//! (register under a lease, poll their snapshot prefix, claim by deleting, report twice).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use forest::model::{keys, ExecuteStatus, JobExecuteSnapshot, JobSnapshot, SnapshotId, WireJson};
use forest::pb::kv::{
    LeaseGrantRequest, LeaseKeepAliveRequest, PutRequest, RangeRequest, TxnRequest,
};

/// Every snapshot id each worker ran, in the order it claimed them.
type Ran = Arc<Mutex<Vec<(String, String)>>>;

/// A worker speaking the original client protocol through one node's KV API.
fn spawn_worker(
    endpoint: String,
    group: &'static str,
    name: &'static str,
    ran: Ran,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut leases = lease(&endpoint).await;
        let mut c = kv(&endpoint).await;
        let mut id = 0;
        let mut last_keepalive = tokio::time::Instant::now();
        loop {
            // Register, and register again whenever the lease was lost (a client cut off for
            // longer than its TTL comes back, as the original clients do).
            if id == 0 {
                let Ok(granted) = leases
                    .lease_grant(LeaseGrantRequest { ttl: 3, id: 0 })
                    .await
                else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let granted = granted.into_inner().id;
                let put = PutRequest {
                    lease: granted,
                    ..put_req(&keys::client(group, name), name)
                };
                if c.put(put).await.is_ok() {
                    id = granted;
                }
                continue;
            }
            if last_keepalive.elapsed() > Duration::from_millis(800) {
                if let Err(e) = leases.lease_keep_alive(LeaseKeepAliveRequest { id }).await {
                    if e.code() == tonic::Code::NotFound {
                        id = 0;
                    }
                }
                last_keepalive = tokio::time::Instant::now();
            }
            let prefix = keys::snapshot_worker_prefix(group, name);
            let Ok(r) = c
                .range(RangeRequest {
                    range_end: forest::kv::prefix_end(prefix.as_bytes()).unwrap(),
                    key: prefix.into_bytes(),
                    ..Default::default()
                })
                .await
            else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            for kv in r.into_inner().kvs {
                // Claim: delete the snapshot, only if it is still the one we read.
                let claim = TxnRequest {
                    compare: vec![forest::pb::kv::Compare {
                        result: 0,
                        target: forest::pb::kv::compare::CompareTarget::Mod as i32,
                        key: kv.key.clone(),
                        target_union: Some(forest::pb::kv::compare::TargetUnion::ModRevision(
                            kv.mod_revision,
                        )),
                        ..Default::default()
                    }],
                    success: vec![forest::pb::kv::RequestOp {
                        request: Some(forest::pb::kv::request_op::Request::DeleteRange(
                            forest::pb::kv::DeleteRangeRequest {
                                key: kv.key.clone(),
                                ..Default::default()
                            },
                        )),
                    }],
                    failure: vec![],
                };
                let claimed = match c.txn(claim).await {
                    Ok(r) => r.into_inner().succeeded,
                    // The outcome is unknown (the leader died with the write in flight): only
                    // this worker deletes its snapshots, so the key being gone means the claim
                    // took effect, and the run is this worker's to do.
                    Err(_) => loop {
                        let read = RangeRequest {
                            key: kv.key.clone(),
                            ..Default::default()
                        };
                        match c.range(read).await {
                            Ok(r) => break r.into_inner().kvs.is_empty(),
                            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                        }
                    },
                };
                if !claimed {
                    continue;
                }
                let snap =
                    JobSnapshot::from_json(&kv.value).expect("a snapshot the original can read");
                ran.lock()
                    .unwrap()
                    .push((snap.id.clone(), name.to_string()));
                let now = chrono::Local::now().naive_local();
                let mut report = JobExecuteSnapshot::started(&snap, &now);
                let key = keys::execute_snapshot(group, name, &snap.id);
                report_until_stored(&mut c, &key, &report).await;
                report.finish(
                    ExecuteStatus::SUCCESS,
                    "ok".into(),
                    &now,
                    Duration::from_millis(5),
                );
                report_until_stored(&mut c, &key, &report).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// A report is retried until the cluster acknowledges it (a leader change may refuse it), as
/// a real client does: a lost report would leave the run "running".
async fn report_until_stored(
    c: &mut forest::pb::kv::kv_client::KvClient<tonic::transport::Channel>,
    key: &str,
    report: &JobExecuteSnapshot,
) {
    while c.put(put_req(key, &report.to_json())).await.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tick_runs_exactly_once_across_a_leader_kill() {
    let mut cluster = Cluster::start(3, &[]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let followers: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let ep = cluster.endpoint(followers[0]);

    put_json(
        &ep,
        keys::group("g"),
        r#"{"name":"g","remark":"test"}"#.into(),
    )
    .await;
    let ran: Ran = Arc::default();
    let workers = vec![
        spawn_worker(cluster.endpoint(followers[0]), "g", "w1", ran.clone()),
        spawn_worker(cluster.endpoint(followers[1]), "g", "w2", ran.clone()),
    ];
    let jobs: Vec<String> = (0..10).map(|i| format!("2026112400000000000{i}")).collect();
    for id in &jobs {
        put_json(
            &ep,
            keys::job_conf(id),
            job(id, "g", "* * * * * *").to_json(),
        )
        .await;
    }
    let start = chrono::Utc::now();

    tokio::time::sleep(Duration::from_secs(4)).await;
    cluster.node(leader).kill();
    let rest = cluster.running();
    let new_leader = cluster.wait_for_leader(&rest).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    cluster.node(leader).start();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Stop the schedule, then let every dispatched run finish and be collected.
    let mut paused_at = BTreeMap::new();
    for id in &jobs {
        let mut j = job(id, "g", "* * * * * *");
        j.status = 2;
        paused_at.insert(id.clone(), chrono::Utc::now());
        put_json(
            &cluster.endpoint(new_leader),
            keys::job_conf(id),
            j.to_json(),
        )
        .await;
    }
    let ep = cluster.endpoint(new_leader);
    settled(&ep).await;
    for w in workers {
        w.abort();
    }

    let ran = ran.lock().unwrap().clone();
    let mut seen = BTreeSet::new();
    for (id, worker) in &ran {
        assert!(
            seen.insert(id.clone()),
            "snapshot {id} ran twice (second time on {worker})"
        );
    }
    let history = history(&ep).await;
    // A job starts firing when the leader learns of it (on a loaded machine, a moment after
    // the write): from its first tick until shortly before it was paused, every tick has
    // exactly one run, whichever leader fired it.
    for job_id in &jobs {
        let first = history
            .values()
            .filter(|r| &r.job_id == job_id)
            .filter_map(|r| r.scheduled_at)
            .min()
            .expect("the job ran")
            .with_timezone(&chrono::Utc);
        assert!(
            first <= start + chrono::Duration::seconds(5),
            "{job_id} began firing only at {first}"
        );
        let last = paused_at[job_id] - chrono::Duration::seconds(1);
        let mut t = first;
        while t <= last {
            let tick = chrono::DateTime::from_timestamp(t.timestamp(), 0).unwrap();
            let id = SnapshotId::tick(&tick, job_id).unwrap().to_string();
            let run = history
                .get(&id)
                .unwrap_or_else(|| {
                    let mut have: Vec<String> = history
                        .values()
                        .filter(|r| &r.job_id == job_id)
                        .map(|r| format!("{} {}", r.id, r.status))
                        .collect();
                    have.sort();
                    panic!(
                        "tick {tick} of job {job_id} has no record (start {start}, leader {leader} killed, pause {}); it has: {have:#?}\n{}",
                        paused_at[job_id],
                        cluster.node(new_leader).log_text()
                    )
                });
            assert_eq!(
                run.status,
                ExecuteStatus::SUCCESS,
                "tick {tick} of {job_id}: {run:?}"
            );
            assert!(
                seen.contains(&id),
                "tick {tick} of {job_id} recorded but never ran"
            );
            t += chrono::Duration::seconds(1);
        }
    }
    assert!(history.values().all(|r| r.status != ExecuteStatus::RUNNING));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_with_no_worker_waits_for_one_and_is_missed_past_its_deadline() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    put_json(
        &ep,
        keys::group("lonely"),
        r#"{"name":"lonely","remark":""}"#.into(),
    )
    .await;
    let mut waits = job("20261124000000000100", "lonely", "* * * * * *");
    waits.starting_deadline = 30;
    let mut expires = job("20261124000000000101", "lonely", "* * * * * *");
    expires.starting_deadline = 1;
    put_json(&ep, keys::job_conf(&waits.id), waits.to_json()).await;
    put_json(&ep, keys::job_conf(&expires.id), expires.to_json()).await;

    eventually("ticks wait pending for a worker", || {
        let ep = ep.clone();
        async move {
            read_prefix(&ep, &keys::pending_group_prefix("lonely"))
                .await
                .count
                >= 2
        }
    })
    .await;
    eventually("a tick past its 1 s deadline is recorded missed", || {
        let ep = ep.clone();
        async move {
            history(&ep)
                .await
                .values()
                .any(|r| r.job_id == "20261124000000000101" && r.status == ExecuteStatus::MISSED)
        }
    })
    .await;

    let ran: Ran = Arc::default();
    let worker = spawn_worker(ep.clone(), "lonely", "late", ran.clone());
    eventually("the waiting ticks run once a worker arrives", || {
        let ep = ep.clone();
        async move {
            history(&ep)
                .await
                .values()
                .any(|r| r.job_id == "20261124000000000100" && r.status == ExecuteStatus::SUCCESS)
        }
    })
    .await;
    worker.abort();
    let history = history(&ep).await;
    assert!(
        history
            .values()
            .all(|r| r.job_id != "20261124000000000100" || r.status == ExecuteStatus::SUCCESS),
        "with a 30 s deadline nothing of the patient job was missed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_claimed_by_a_worker_that_dies_before_reporting_is_recorded_lost() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    put_json(
        &ep,
        keys::group("fragile"),
        r#"{"name":"fragile","remark":""}"#.into(),
    )
    .await;

    // A worker that claims one snapshot and dies at once, without a word.
    let mut leases = lease(&ep).await;
    let id = leases
        .lease_grant(LeaseGrantRequest { ttl: 30, id: 0 })
        .await
        .unwrap()
        .into_inner()
        .id;
    let mut c = kv(&ep).await;
    c.put(PutRequest {
        lease: id,
        ..put_req(&keys::client("fragile", "doomed"), "doomed")
    })
    .await
    .unwrap();
    let job_id = "20261124000000000200";
    put_json(
        &ep,
        keys::job_conf(job_id),
        job(job_id, "fragile", "* * * * * *").to_json(),
    )
    .await;
    let prefix = keys::snapshot_worker_prefix("fragile", "doomed");
    eventually("a snapshot reaches the worker", || {
        let ep = ep.clone();
        let prefix = prefix.clone();
        async move { read_prefix(&ep, &prefix).await.count > 0 }
    })
    .await;
    let kv = read_prefix(&ep, &prefix).await.kvs.remove(0);
    c.delete_range(forest::pb::kv::DeleteRangeRequest {
        key: kv.key.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let claimed = JobSnapshot::from_json(&kv.value).unwrap().id;
    leases
        .lease_revoke(forest::pb::kv::LeaseRevokeRequest { id })
        .await
        .unwrap();

    eventually("the claimed run is recorded lost", || {
        let ep = ep.clone();
        let claimed = claimed.clone();
        async move {
            history(&ep)
                .await
                .get(&claimed)
                .is_some_and(|r| r.status == ExecuteStatus::LOST)
        }
    })
    .await;
}
