//! Per-job policies end to end (DESIGN §4): timeouts cancel the run on its worker, failed and
//! lost runs are retried on another worker, `forbid` keeps runs from overlapping, and
//! broadcast gives every worker its own snapshot. Real nodes, workers on the wire protocol.

mod common;

use common::stream::{hello, Stream};
use common::*;
use forest::model::job::{Concurrency, Retries, Route};
use forest::model::{keys, ExecuteStatus, JobConf, WireJson};
use forest::pb::forest::{node_message, worker_message, CancelAck, Dispatch};

/// A job that fires exactly once, two seconds from now (UTC, robfig syntax with seconds).
fn once_soon(id: &str, group: &str) -> JobConf {
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let mut j = job(id, group, &at.format("%-S %-M %-H * * ?").to_string());
    j.timezone = "UTC".into();
    j
}

async fn add_job(ep: &str, j: &JobConf) {
    put_json(ep, keys::job_conf(&j.id), j.to_json()).await;
}

/// The first dispatch either worker gets, and which of them got it (0 or 1).
async fn first_of(a: &mut Stream, b: &mut Stream) -> (usize, Dispatch) {
    tokio::select! {
        d = a.next_dispatch() => (0, d),
        d = b.next_dispatch() => (1, d),
    }
}

async fn record(ep: &str, id: &str) -> forest::model::JobExecuteSnapshot {
    let (ep, id) = (ep.to_string(), id.to_string());
    eventually(&format!("run {id} is recorded"), || {
        let (ep, id) = (ep.clone(), id.clone());
        async move { history(&ep).await.contains_key(&id) }
    })
    .await;
    history(&ep).await.remove(&id).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_its_timeout_is_cancelled_and_retried_on_another_worker() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    add_group(&ep, "g").await;
    let mut workers = [
        Stream::welcomed(&ep, hello("g", "a", "sa")).await,
        Stream::welcomed(&ep, hello("g", "b", "sb")).await,
    ];
    let mut j = once_soon("20261124000000000301", "g");
    j.timeout = 1;
    j.retries = Some(Retries {
        count: 1,
        ..Default::default()
    });
    add_job(&ep, &j).await;

    let [a, b] = &mut workers;
    let (who, d) = first_of(a, b).await;
    let slow = &mut workers[who];
    slow.claim(&d.snapshot_id).await;
    // The run never ends by itself: the node tells the worker to stop.
    let cancel = loop {
        if let node_message::Kind::Cancel(c) = slow.next().await.expect("stream alive") {
            break c;
        }
    };
    assert_eq!(cancel.snapshot_id, d.snapshot_id);
    assert!(cancel.reason.contains("timeout"), "{}", cancel.reason);
    slow.send(worker_message::Kind::CancelAck(CancelAck {
        snapshot_id: d.snapshot_id.clone(),
    }))
    .await;
    let (ok, why) = slow.finish(&d.snapshot_id, -5, "stopped").await;
    assert!(
        !ok && why.contains("closed"),
        "a late result does not overwrite the timeout: {why}"
    );
    assert_eq!(
        record(&ep, &d.snapshot_id).await.status,
        ExecuteStatus::TIMEOUT
    );

    let other = &mut workers[1 - who];
    let retry = other.next_dispatch().await;
    assert_eq!(retry.attempt, 1, "the retry is a new attempt");
    assert_ne!(retry.snapshot_id, d.snapshot_id, "with its own id");
    assert_eq!(retry.job_id, j.id);
    other.claim(&retry.snapshot_id).await;
    let (ok, why) = other
        .finish(&retry.snapshot_id, 2, "second time lucky")
        .await;
    assert!(ok, "{why}");
    let run = record(&ep, &retry.snapshot_id).await;
    assert_eq!((run.status, run.attempt), (ExecuteStatus::SUCCESS, 1));
    assert_eq!(
        read_prefix(&ep, keys::CANCEL_PREFIX).await.count,
        0,
        "the acknowledged cancellation is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_lost_with_its_worker_is_retried_on_another() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    add_group(&ep, "g").await;
    let mut workers = vec![
        Some(Stream::welcomed(&ep, hello("g", "a", "sa")).await),
        Some(Stream::welcomed(&ep, hello("g", "b", "sb")).await),
    ];
    let mut j = once_soon("20261124000000000302", "g");
    j.retries = Some(Retries {
        count: 2,
        backoff: 1,
        ..Default::default()
    });
    add_job(&ep, &j).await;

    let (who, d) = {
        let [Some(a), Some(b)] = &mut workers[..] else {
            unreachable!()
        };
        first_of(a, b).await
    };
    workers[who].as_mut().unwrap().claim(&d.snapshot_id).await;
    workers[who] = None; // the worker dies mid-run
    assert_eq!(
        record(&ep, &d.snapshot_id).await.status,
        ExecuteStatus::LOST
    );
    let survivor = workers[1 - who].as_mut().unwrap();
    let retry = survivor.next_dispatch().await;
    assert_eq!((retry.attempt, retry.job_id.as_str()), (1, j.id.as_str()));
    survivor.claim(&retry.snapshot_id).await;
    let (ok, why) = survivor.finish(&retry.snapshot_id, 2, "ok").await;
    assert!(ok, "{why}");
    assert_eq!(
        record(&ep, &retry.snapshot_id).await.status,
        ExecuteStatus::SUCCESS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbid_skips_ticks_while_the_previous_run_is_going() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    add_group(&ep, "g").await;
    let mut w = Stream::welcomed(&ep, hello("g", "a", "sa")).await;
    let mut j = job("20261124000000000303", "g", "* * * * * *");
    j.concurrency = Concurrency::Forbid;
    add_job(&ep, &j).await;

    let d = w.next_dispatch().await;
    w.claim(&d.snapshot_id).await;
    let id = j.id.clone();
    eventually("ticks during the run are recorded as skipped", || {
        let (ep, id) = (ep.clone(), id.clone());
        async move {
            history(&ep)
                .await
                .values()
                .filter(|r| {
                    r.job_id == id
                        && r.status == ExecuteStatus::MISSED
                        && r.result.contains("forbid")
                })
                .count()
                >= 2
        }
    })
    .await;
    let (ok, why) = w.finish(&d.snapshot_id, 2, "done").await;
    assert!(ok, "{why}");
    // Nothing else was dispatched while the run went on; the next tick after it runs again.
    let next = w.next_dispatch().await;
    assert!(next.snapshot_id > d.snapshot_id);
    let records = history(&ep).await;
    let skipped_after_finish = records
        .values()
        .any(|r| r.job_id == j.id && r.status == ExecuteStatus::MISSED && r.id > next.snapshot_id);
    assert!(!skipped_after_finish);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_gives_every_worker_its_own_snapshot() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    add_group(&ep, "g").await;
    let mut a = Stream::welcomed(&ep, hello("g", "a", "sa")).await;
    let mut b = Stream::welcomed(&ep, hello("g", "b", "sb")).await;
    let mut j = once_soon("20261124000000000304", "g");
    j.route = Route::Broadcast;
    add_job(&ep, &j).await;

    let (da, db) = (a.next_dispatch().await, b.next_dispatch().await);
    assert_ne!(da.snapshot_id, db.snapshot_id);
    assert_eq!((da.shard_total, db.shard_total), (2, 2));
    let mut slots = [da.shard_index, db.shard_index];
    slots.sort();
    assert_eq!(slots, [0, 1]);
    assert_eq!(da.scheduled_at_ms, db.scheduled_at_ms, "one tick");
}
