//! The worker stream (`forest.v1.WorkerService.Connect`) end to end: real nodes, and workers
//! that speak the protocol message by message, so each promise is checked on the wire.

mod common;

use common::stream::{hello, msg, Stream};
use common::*;
use forest::model::{keys, ExecuteStatus, WireJson};
use forest::pb::forest::{node_message, worker_message, Heartbeat, Hello, Progress};

async fn every_second_job(ep: &str, id: &str, group: &str) {
    put_json(
        ep,
        keys::job_conf(id),
        job(id, group, "* * * * * *").to_json(),
    )
    .await;
}

async fn pause(ep: &str, id: &str, group: &str) {
    let mut j = job(id, group, "* * * * * *");
    j.status = 2;
    put_json(ep, keys::job_conf(id), j.to_json()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_on_a_follower_runs_what_the_leader_fires() {
    let cluster = Cluster::start(3, &[]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let ep = cluster.endpoint(follower);
    add_group(&ep, "g").await;
    let mut w = Stream::welcomed(&ep, hello("g", "w1", "s1")).await;
    // Registered at the original's client key, valued with its name: committed before the
    // welcome, applied on this follower a moment later.
    eventually("the follower has applied the registration", || async {
        local_value(&ep, &keys::client("g", "w1")).await.as_deref() == Some("w1")
    })
    .await;
    every_second_job(&ep, "20261124000000000201", "g").await;

    let d = w.next_dispatch().await;
    assert_eq!(d.job_id, "20261124000000000201");
    assert_eq!(d.snapshot_id.len(), 40);
    assert!(d.scheduled_at_ms > 0);
    w.claim(&d.snapshot_id).await;
    let running = read_prefix(&ep, &keys::execute_worker_prefix("g", "w1")).await;
    assert_eq!(
        running.count, 1,
        "a claimed run is reported running at once"
    );
    w.send(worker_message::Kind::Progress(Progress {
        snapshot_id: d.snapshot_id.clone(),
        output: "hello from the run\n".into(),
    }))
    .await;
    let (ok, why) = w.finish(&d.snapshot_id, 2, "done").await;
    assert!(ok, "{why}");
    pause(&ep, "20261124000000000201", "g").await;

    let id = d.snapshot_id.clone();
    eventually("the run is collected into the history", || {
        let ep = ep.clone();
        let id = id.clone();
        async move { history(&ep).await.contains_key(&id) }
    })
    .await;
    let run = run_record(&ep, &id)
        .await
        .expect("the run, with its output");
    assert_eq!(run.status, ExecuteStatus::SUCCESS);
    assert_eq!(run.result, "done");
    assert_eq!(run.ip, "w1");
    assert_eq!(
        run.output, "hello from the run\n",
        "progress became the output"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_streams_are_cut_off_with_a_reason_and_others_keep_working() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    add_group(&ep, "g").await;
    let mut good = Stream::welcomed(&ep, hello("g", "good", "s-good")).await;

    let refusal = |r: Result<node_message::Kind, tonic::Status>| match r {
        Err(s) => s,
        Ok(k) => panic!("expected a refusal, got {k:?}"),
    };
    // The same name from another process.
    let mut dup = Stream::open(
        &ep,
        msg(worker_message::Kind::Hello(hello("g", "good", "other"))),
    )
    .await
    .expect("opens");
    let s = refusal(dup.next().await);
    assert_eq!(s.code(), tonic::Code::AlreadyExists);
    assert!(s.message().contains("already online"), "{}", s.message());
    // A group that does not exist.
    let mut lost = Stream::open(
        &ep,
        msg(worker_message::Kind::Hello(hello("nope", "x", "s"))),
    )
    .await
    .expect("opens");
    let s = refusal(lost.next().await);
    assert_eq!(s.code(), tonic::Code::NotFound);
    assert!(s.message().contains("nope"), "{}", s.message());
    // Not a hello first.
    let mut rude = Stream::open(&ep, msg(worker_message::Kind::Heartbeat(Heartbeat {})))
        .await
        .expect("opens");
    assert_eq!(
        refusal(rude.next().await).code(),
        tonic::Code::FailedPrecondition
    );
    // A hello that breaks the rules.
    let mut bad = Stream::open(
        &ep,
        msg(worker_message::Kind::Hello(Hello {
            capacity: 0,
            ..hello("g", "bad", "s")
        })),
    )
    .await
    .expect("opens");
    let s = refusal(bad.next().await);
    assert_eq!(s.code(), tonic::Code::InvalidArgument);
    assert!(s.message().contains("capacity"), "{}", s.message());
    // An oversized message after a proper hello.
    let mut big = Stream::welcomed(&ep, hello("g", "big", "s-big")).await;
    big.send(worker_message::Kind::Progress(Progress {
        snapshot_id: "x".into(),
        output: "y".repeat(1024 * 1024),
    }))
    .await;
    let s = refusal(big.next().await);
    assert_ne!(s.code(), tonic::Code::Ok);
    // A result for a run it never claimed is refused, not recorded.
    let (ok, why) = good
        .finish("2026112400000000000020261124000000000299", 2, "x")
        .await;
    assert!(!ok && why.contains("no run"), "{why}");

    // The good worker still gets and runs work.
    every_second_job(&ep, "20261124000000000202", "g").await;
    let d = good.next_dispatch().await;
    good.claim(&d.snapshot_id).await;
    let (ok, why) = good.finish(&d.snapshot_id, 2, "fine").await;
    assert!(ok, "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_run_of_a_worker_that_disconnects_is_recorded_lost() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    add_group(&ep, "g").await;
    let mut w = Stream::welcomed(&ep, hello("g", "fleeting", "s1")).await;
    every_second_job(&ep, "20261124000000000203", "g").await;
    let d = w.next_dispatch().await;
    w.claim(&d.snapshot_id).await;
    pause(&ep, "20261124000000000203", "g").await;
    drop(w);

    eventually(
        "the worker's registration goes after the grace period",
        || {
            let ep = ep.clone();
            async move {
                local_value(&ep, &keys::client("g", "fleeting"))
                    .await
                    .is_none()
            }
        },
    )
    .await;
    let id = d.snapshot_id.clone();
    eventually("its run is recorded lost", || {
        let ep = ep.clone();
        let id = id.clone();
        async move {
            history(&ep)
                .await
                .get(&id)
                .is_some_and(|r| r.status == ExecuteStatus::LOST)
        }
    })
    .await;
    assert_eq!(
        read_prefix(&ep, keys::EXECUTE_PREFIX).await.count,
        0,
        "nothing is left running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_node_dies_reports_its_run_on_another_node() {
    let mut cluster = Cluster::start(3, &[]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let others: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let (first, second) = (others[0], others[1]);
    let ep = cluster.endpoint(first);
    add_group(&ep, "g").await;
    let mut w = Stream::welcomed(&ep, hello("g", "mover", "session-7")).await;
    every_second_job(&ep, "20261124000000000204", "g").await;
    let d = w.next_dispatch().await;
    w.claim(&d.snapshot_id).await;
    pause(&ep, "20261124000000000204", "g").await;

    cluster.node(first).kill();
    let ep2 = cluster.endpoint(second);
    let mut again = Stream::welcomed(
        &ep2,
        Hello {
            running: vec![d.snapshot_id.clone()],
            ..hello("g", "mover", "session-7")
        },
    )
    .await;
    let (ok, why) = again.finish(&d.snapshot_id, 2, "finished elsewhere").await;
    assert!(ok, "the run's result is taken on the new node: {why}");
    let id = d.snapshot_id.clone();
    eventually("the run is collected once, as a success", || {
        let ep2 = ep2.clone();
        let id = id.clone();
        async move {
            history(&ep2)
                .await
                .get(&id)
                .is_some_and(|r| r.status == ExecuteStatus::SUCCESS)
        }
    })
    .await;
    // Still registered: the reconnect took the registration over instead of losing it.
    assert!(local_value(&ep2, &keys::client("g", "mover"))
        .await
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_holds_a_thousand_workers() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.endpoint(1);
    add_group(&ep, "crowd").await;
    let mut streams = Vec::new();
    for i in 0..1000 {
        streams
            .push(Stream::welcomed(&ep, hello("crowd", &format!("w{i}"), &format!("s{i}"))).await);
    }
    assert_eq!(
        read_prefix(&ep, &keys::clients_prefix("crowd")).await.count,
        1000,
        "every worker is registered"
    );
    // The crowd still gets work: ticks of a job firing every second are dispatched to it.
    every_second_job(&ep, "20261124000000000205", "crowd").await;
    eventually("three ticks are dispatched to the crowd", || {
        let ep = ep.clone();
        async move {
            read_prefix(&ep, &keys::snapshot_group_prefix("crowd"))
                .await
                .count
                >= 3
        }
    })
    .await;
    pause(&ep, "20261124000000000205", "crowd").await;
    assert_eq!(
        read_prefix(&ep, &keys::clients_prefix("crowd")).await.count,
        1000,
        "and nobody fell off"
    );
}
