//! The SDK against a fake node: the conversation of proto/forest.proto, message by message.

mod common;

use std::time::Duration;

use common::{dispatch, within, FakeNode, Probe};
use forest_sdk::pb::worker_message::Kind;
use forest_sdk::{status, Builder, Context, RunError, Worker};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

fn worker(endpoints: &[String], probe: &Probe) -> Builder {
    Worker::builder()
        .endpoints(endpoints)
        .group("g")
        .name("w-1")
        .concurrency(2)
        .label("zone", "a")
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
        .target("probe", probe.target())
        .target("echo", |ctx: Context| async move {
            ctx.output("hello\n");
            Ok::<_, RunError>(ctx.params().to_string())
        })
        .target("fail", |ctx: Context| async move {
            match ctx.params() {
                "panic" => panic!("a bug in the target"),
                params => Err::<String, RunError>(params.into()),
            }
        })
}

/// A running worker and the switch that shuts it down.
struct Running {
    stop: oneshot::Sender<()>,
    done: JoinHandle<()>,
}

fn spawn(builder: Builder) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = builder.build().expect("valid worker");
    let done = tokio::spawn(worker.run_until(async {
        let _ = stopped.await;
    }));
    Running { stop, done }
}

#[tokio::test]
async fn hello_then_claim_before_run_then_one_result() {
    let mut node = FakeNode::start().await;
    let probe = Probe::new();
    let _worker = spawn(worker(&[node.endpoint()], &probe));

    let mut s = node.accept().await;
    assert_eq!(s.hello.group, "g");
    assert_eq!(s.hello.name, "w-1");
    assert_eq!(s.hello.capacity, 2);
    assert_eq!(s.hello.targets, ["echo", "fail", "probe"]);
    assert_eq!(s.hello.labels.get("zone").map(String::as_str), Some("a"));
    assert!(s.hello.version.starts_with("forest-sdk/"));
    assert_eq!(s.hello.session.len(), 32);
    assert!(s.hello.running.is_empty());
    s.welcome();
    s.heartbeat().await;

    // Refused claim: never run.
    s.dispatch(dispatch("s-refused", "probe", "x"));
    assert_eq!(s.claim().await, "s-refused");
    assert!(
        probe.nothing_started().await,
        "ran before the claim was answered"
    );
    s.claimed("s-refused", false);

    s.dispatch(dispatch("s-1", "echo", "the params"));
    assert_eq!(s.grant_claim().await, "s-1");
    match s.next().await {
        Some(Kind::Progress(p)) => assert_eq!(
            (p.snapshot_id.as_str(), p.output.as_str()),
            ("s-1", "hello\n")
        ),
        other => panic!("expected Progress, got {other:?}"),
    }
    let r = s.result().await;
    assert_eq!(r.snapshot_id, "s-1");
    assert_eq!(r.status, status::SUCCESS);
    assert_eq!(r.result, "the params");
    assert_eq!(r.output, "hello\n");
    assert!(r.started_at_ms > 0 && r.finished_at_ms >= r.started_at_ms);
    assert!(probe.nothing_started().await, "the refused dispatch ran");
}

#[tokio::test]
async fn never_more_runs_than_the_concurrency() {
    let mut node = FakeNode::start().await;
    let probe = Probe::new();
    let _worker = spawn(worker(&[node.endpoint()], &probe));
    let mut s = node.accept_welcomed().await;

    // A node that ignores the capacity it was told: four at once for a worker of two.
    for i in 0..4 {
        s.dispatch(dispatch(&format!("s-{i}"), "probe", ""));
    }
    s.grant_claim().await;
    s.grant_claim().await;
    probe.started().await;
    probe.started().await;
    let mut results = Vec::new();
    for _ in 0..2 {
        probe.release(1);
        results.push(s.result().await.snapshot_id);
        // The freed slot is claimed again.
        s.grant_claim().await;
        probe.started().await;
    }
    probe.release(2);
    results.push(s.result().await.snapshot_id);
    results.push(s.result().await.snapshot_id);
    results.sort();
    assert_eq!(results, ["s-0", "s-1", "s-2", "s-3"]);
    assert_eq!(probe.max_running(), 2);
}

#[tokio::test]
async fn a_dispatch_sent_twice_runs_once() {
    let mut node = FakeNode::start().await;
    let probe = Probe::new();
    let _worker = spawn(worker(&[node.endpoint()], &probe));
    let mut s = node.accept_welcomed().await;

    s.dispatch(dispatch("s-1", "echo", "once"));
    s.dispatch(dispatch("s-1", "echo", "once"));
    assert_eq!(s.grant_claim().await, "s-1");
    s.dispatch(dispatch("s-1", "echo", "once"));
    assert_eq!(s.result().await.snapshot_id, "s-1");
    s.dispatch(dispatch("s-1", "echo", "once"));
    s.recorded("s-1");
    s.dispatch(dispatch("s-1", "echo", "once"));
    // The next claim is the marker's: s-1 was not taken again.
    s.dispatch(dispatch("s-2", "echo", "marker"));
    assert_eq!(s.grant_claim().await, "s-2");
    assert_eq!(s.result().await.snapshot_id, "s-2");
}

#[tokio::test]
async fn cancel_cancels_the_run_and_is_acked_after_its_result() {
    let mut node = FakeNode::start().await;
    let probe = Probe::new();
    let _worker = spawn(worker(&[node.endpoint()], &probe));
    let mut s = node.accept_welcomed().await;

    s.dispatch(dispatch("s-1", "probe", ""));
    s.grant_claim().await;
    probe.started().await;
    s.cancel("s-1", "replaced");
    assert_eq!(
        probe.ended().await,
        ("s-1".to_string(), Some("replaced".to_string()))
    );
    let r = s.result().await;
    assert_eq!(
        (r.status, r.result.as_str()),
        (status::CANCELLED, "cancelled: replaced")
    );
    assert!(matches!(s.next().await, Some(Kind::CancelAck(a)) if a.snapshot_id == "s-1"));

    // A cancel of a run this worker does not have: it is stopped already.
    s.cancel("s-unknown", "timeout");
    assert!(matches!(s.next().await, Some(Kind::CancelAck(a)) if a.snapshot_id == "s-unknown"));
}

#[tokio::test]
async fn the_job_timeout_cancels_the_run() {
    let mut node = FakeNode::start().await;
    let probe = Probe::new();
    let _worker = spawn(worker(&[node.endpoint()], &probe));
    let mut s = node.accept_welcomed().await;

    s.dispatch(forest_sdk::pb::Dispatch {
        timeout_ms: 50,
        ..dispatch("s-1", "probe", "")
    });
    s.grant_claim().await;
    let (_, reason) = probe.ended().await;
    assert!(reason.is_some_and(|r| r.contains("timed out")));
    assert_eq!(s.result().await.status, status::CANCELLED);
}

#[tokio::test]
async fn an_unknown_target_is_claimed_then_reported_as_status_3() {
    let mut node = FakeNode::start().await;
    let probe = Probe::new();
    let _worker = spawn(worker(&[node.endpoint()], &probe));
    let mut s = node.accept_welcomed().await;

    s.dispatch(dispatch("s-1", "nope", ""));
    assert_eq!(s.grant_claim().await, "s-1");
    let r = s.result().await;
    assert_eq!(r.status, status::UNKNOWN_TARGET);
    assert!(r.result.contains("nope"));
    assert!(probe.nothing_started().await);
}

#[tokio::test]
async fn an_error_or_a_panic_is_status_minus_1_and_the_worker_goes_on() {
    let mut node = FakeNode::start().await;
    let probe = Probe::new();
    let _worker = spawn(worker(&[node.endpoint()], &probe));
    let mut s = node.accept_welcomed().await;

    s.dispatch(dispatch("s-1", "fail", "bad input"));
    s.grant_claim().await;
    let r = s.result().await;
    assert_eq!((r.status, r.result.as_str()), (status::ERROR, "bad input"));
    s.dispatch(dispatch("s-2", "fail", "panic"));
    s.grant_claim().await;
    let r = s.result().await;
    assert_eq!(r.status, status::ERROR);
    assert!(r.result.contains("panic"), "{}", r.result);
    s.dispatch(dispatch("s-3", "echo", "still here"));
    s.grant_claim().await;
    assert_eq!(s.result().await.status, status::SUCCESS);
}

#[tokio::test]
async fn a_broken_stream_moves_to_the_next_node_with_the_run_going_on() {
    let mut a = FakeNode::start().await;
    let mut b = FakeNode::start().await;
    let probe = Probe::new();
    let _worker = spawn(worker(&[a.endpoint(), b.endpoint()], &probe));

    let mut on_a = a.accept_welcomed().await;
    on_a.dispatch(dispatch("s-1", "probe", "long"));
    on_a.grant_claim().await;
    probe.started().await;
    let session = on_a.hello.session.clone();
    on_a.fail();

    // Node b: the same session, the run still going.
    let mut on_b = b.accept().await;
    assert_eq!(on_b.hello.session, session);
    assert_eq!(on_b.hello.running, ["s-1"]);
    // The run ends while the worker waits for b's Welcome: its result comes after it.
    probe.release(1);
    probe.ended().await;
    on_b.welcome();
    let r = on_b.result().await;
    assert_eq!((r.snapshot_id.as_str(), r.status), ("s-1", status::SUCCESS));
    assert_eq!(r.output, "long\n");

    // Not recorded by b before b dies: the next node gets it again.
    on_b.fail();
    let mut again = a.accept().await;
    assert!(again.hello.running.is_empty());
    again.welcome();
    assert_eq!(again.result().await.snapshot_id, "s-1");
}

#[tokio::test]
async fn shutdown_drains_runs_then_closes_the_stream() {
    let mut node = FakeNode::start().await;
    let probe = Probe::new();
    let worker = spawn(worker(&[node.endpoint()], &probe).drain_timeout(Duration::from_secs(30)));
    let mut s = node.accept_welcomed().await;

    s.dispatch(dispatch("s-1", "probe", ""));
    s.grant_claim().await;
    probe.started().await;
    worker.stop.send(()).unwrap();
    // Draining: a new dispatch is not claimed; the run under way finishes and is reported.
    s.dispatch(dispatch("s-2", "probe", ""));
    probe.release(1);
    assert_eq!(s.result().await.snapshot_id, "s-1");
    s.recorded("s-1");
    assert!(
        s.next().await.is_none(),
        "the stream is closed once drained"
    );
    within(worker.done).await.unwrap();
}

#[tokio::test]
async fn a_run_that_outlives_the_drain_timeout_is_cancelled() {
    let mut node = FakeNode::start().await;
    let probe = Probe::new();
    let worker = spawn(worker(&[node.endpoint()], &probe).drain_timeout(Duration::from_millis(50)));
    let mut s = node.accept_welcomed().await;

    s.dispatch(dispatch("s-1", "probe", ""));
    s.grant_claim().await;
    probe.started().await;
    worker.stop.send(()).unwrap();
    let (_, reason) = probe.ended().await;
    assert_eq!(reason.as_deref(), Some("the worker is shutting down"));
    assert_eq!(s.result().await.status, status::CANCELLED);
    s.recorded("s-1");
    within(worker.done).await.unwrap();
}
