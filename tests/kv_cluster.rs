//! The replicated KV core, end to end: three real `forest` nodes on loopback, driven through
//! the public gRPC API, with leaders killed, nodes stopped and paused.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use forest::pb::kv::{
    compare, request_op, Compare, LeaseGrantRequest, LeaseKeepAliveRequest, RangeRequest,
    RequestOp, TxnRequest, WatchRequest,
};

#[tokio::test]
async fn a_write_through_a_follower_is_readable_from_every_node() {
    let cluster = Cluster::start(3, &[]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let follower = (1..=3).find(|id| *id != leader).unwrap();

    let put = kv(&cluster.endpoint(follower))
        .await
        .put(put_req("/t/through-follower", "hello"))
        .await
        .expect("a follower accepts a write")
        .into_inner();
    let rev = put.header.unwrap().revision;

    // A linearizable read on any node sees the acknowledged write at once.
    for id in 1..=3 {
        let r = kv(&cluster.endpoint(id))
            .await
            .range(RangeRequest {
                key: "/t/through-follower".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.kvs.len(), 1, "node {id}");
        assert_eq!(r.kvs[0].value, b"hello");
        assert_eq!(r.kvs[0].mod_revision, rev);
    }
}

#[tokio::test]
async fn killing_the_leader_loses_no_acknowledged_write() {
    let mut cluster = Cluster::start(3, &[]).await;
    let old = cluster.wait_for_leader(&[1, 2, 3]).await;
    let survivor = (1..=3).find(|id| *id != old).unwrap();

    let mut acked = BTreeMap::new();
    let mut client = kv(&cluster.endpoint(survivor)).await;
    for i in 0..50 {
        let (k, v) = (format!("/t/kill/{i}"), format!("v{i}"));
        client
            .put(put_req(&k, &v))
            .await
            .expect("healthy cluster accepts writes");
        acked.insert(k, v);
    }

    cluster.node(old).kill();
    let rest: Vec<u64> = cluster.running();
    let new = cluster.wait_for_leader(&rest).await;
    assert_ne!(new, old);

    // Writes go on through the survivors.
    for i in 50..80 {
        let (k, v) = (format!("/t/kill/{i}"), format!("v{i}"));
        kv(&cluster.endpoint(survivor))
            .await
            .put(put_req(&k, &v))
            .await
            .expect("survivors accept writes");
        acked.insert(k, v);
    }
    for id in &rest {
        let r = read_prefix(&cluster.endpoint(*id), "/t/kill/").await;
        let got: BTreeMap<String, String> = r
            .kvs
            .iter()
            .map(|kv| {
                (
                    String::from_utf8_lossy(&kv.key).into(),
                    String::from_utf8_lossy(&kv.value).into(),
                )
            })
            .collect();
        assert_eq!(got, acked, "node {id} has every acknowledged write");
    }

    // The old leader comes back and catches up.
    cluster.node(old).start();
    let ep = cluster.endpoint(old);
    eventually(
        "the restarted leader has the writes made while it was down",
        || {
            let ep = ep.clone();
            async move { local_value(&ep, "/t/kill/79").await.as_deref() == Some("v79") }
        },
    )
    .await;
    assert_eq!(local_value(&ep, "/t/kill/0").await.as_deref(), Some("v0"));
}

#[tokio::test]
async fn a_node_that_missed_the_compacted_log_catches_up_by_snapshot() {
    let mut cluster = Cluster::start(3, &["--snapshot-logs", "50"]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let lagging = (1..=3).find(|id| *id != leader).unwrap();
    cluster.node(lagging).kill();

    let mut client = kv(&cluster.endpoint(leader)).await;
    for i in 0..400 {
        client
            .put(put_req(&format!("/t/snap/{i:03}"), &format!("{i}")))
            .await
            .unwrap();
    }

    cluster.node(lagging).start();
    let ep = cluster.endpoint(lagging);
    eventually("the lagging node has the last write", || {
        let ep = ep.clone();
        async move { local_value(&ep, "/t/snap/399").await.as_deref() == Some("399") }
    })
    .await;
    let all = kv(&ep)
        .await
        .range(RangeRequest {
            key: "/t/snap/".into(),
            range_end: "/t/snap0".into(),
            serializable: true,
            count_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.count, 400);
    assert!(
        cluster
            .node(lagging)
            .log_text()
            .contains("installed a snapshot"),
        "the leader's log was purged, so the node must have caught up from a snapshot"
    );
}

#[tokio::test]
async fn a_leased_key_expires_everywhere_and_lives_while_kept_alive_across_a_leader_change() {
    let mut cluster = Cluster::start(3, &[]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let ep = cluster.endpoint(follower);

    let mut leases = lease(&ep).await;
    let short = leases
        .lease_grant(LeaseGrantRequest { ttl: 2, id: 0 })
        .await
        .unwrap()
        .into_inner()
        .id;
    let long = leases
        .lease_grant(LeaseGrantRequest { ttl: 3, id: 0 })
        .await
        .unwrap()
        .into_inner()
        .id;
    let mut c = kv(&ep).await;
    c.put(forest::pb::kv::PutRequest {
        lease: short,
        ..put_req("/t/lease/short", "x")
    })
    .await
    .unwrap();
    c.put(forest::pb::kv::PutRequest {
        lease: long,
        ..put_req("/t/lease/kept", "y")
    })
    .await
    .unwrap();

    // Keep `long` alive from a follower, the whole time, through a leader change.
    let keeper = {
        let ep = ep.clone();
        tokio::spawn(async move {
            let mut l = lease(&ep).await;
            loop {
                let _ = l.lease_keep_alive(LeaseKeepAliveRequest { id: long }).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };

    for id in 1..=3 {
        let ep = cluster.endpoint(id);
        eventually("the short lease's key is gone on every node", || {
            let ep = ep.clone();
            async move { local_value(&ep, "/t/lease/short").await.is_none() }
        })
        .await;
    }

    cluster.node(leader).kill();
    let rest = cluster.running();
    cluster.wait_for_leader(&rest).await;
    // Well past the TTL of 3 s, measured from the leader change.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for id in &rest {
        assert_eq!(
            local_value(&cluster.endpoint(*id), "/t/lease/kept")
                .await
                .as_deref(),
            Some("y"),
            "a kept-alive lease survives the leader change (node {id})"
        );
    }

    keeper.abort();
    for id in rest {
        let ep = cluster.endpoint(id);
        eventually("once keepalives stop, the key expires", || {
            let ep = ep.clone();
            async move { local_value(&ep, "/t/lease/kept").await.is_none() }
        })
        .await;
    }
}

#[tokio::test]
async fn a_watch_from_an_old_revision_gets_what_it_missed_in_order_exactly_once() {
    let cluster = Cluster::start(3, &[]).await;
    let mut c = kv(&cluster.endpoint(1)).await;
    let first = put_at_revision(&mut c, "/t/watch/a", "1").await;
    c.put(put_req("/t/watch/b", "2")).await.unwrap();
    c.put(put_req("/t/other", "not watched")).await.unwrap();
    c.put(put_req("/t/watch/a", "3")).await.unwrap();
    c.delete_range(forest::pb::kv::DeleteRangeRequest {
        key: "/t/watch/b".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    let mut stream = watch(&cluster.endpoint(2))
        .await
        .watch(WatchRequest {
            key: "/t/watch/".into(),
            range_end: "/t/watch0".into(),
            start_revision: first,
            prev_kv: true,
        })
        .await
        .unwrap()
        .into_inner();
    let created = stream.message().await.unwrap().expect("the watch opens");
    assert!(created.events.is_empty());

    // One more change after the watch is in place arrives live.
    c.put(put_req("/t/watch/c", "4")).await.unwrap();

    let mut seen = Vec::new();
    while seen.len() < 5 {
        let msg = stream
            .message()
            .await
            .unwrap()
            .expect("the stream stays open");
        for e in msg.events {
            let kv = e.kv.unwrap();
            seen.push((
                e.r#type,
                String::from_utf8_lossy(&kv.key).into_owned(),
                kv.mod_revision,
            ));
        }
    }
    let keys: Vec<(i32, &str)> = seen.iter().map(|(t, k, _)| (*t, k.as_str())).collect();
    assert_eq!(
        keys,
        vec![
            (0, "/t/watch/a"),
            (0, "/t/watch/b"),
            (0, "/t/watch/a"),
            (1, "/t/watch/b"),
            (0, "/t/watch/c")
        ]
    );
    let revs: Vec<i64> = seen.iter().map(|(_, _, r)| *r).collect();
    assert!(
        revs.windows(2).all(|w| w[0] < w[1]),
        "in revision order, no repeats: {revs:?}"
    );

    // Nothing else is delivered: a later change is the very next event.
    c.put(put_req("/t/watch/d", "5")).await.unwrap();
    let next = stream.message().await.unwrap().unwrap();
    assert_eq!(next.events.len(), 1);
    assert_eq!(next.events[0].kv.as_ref().unwrap().key, b"/t/watch/d");
}

#[tokio::test]
async fn of_concurrent_create_if_absent_txns_exactly_one_wins() {
    let cluster = Cluster::start(3, &[]).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let ep = cluster.endpoint(i % 3 + 1);
        tasks.push(tokio::spawn(async move {
            let txn = TxnRequest {
                compare: vec![Compare {
                    result: compare::CompareResult::Equal as i32,
                    target: compare::CompareTarget::Version as i32,
                    key: "/t/cas".into(),
                    target_union: Some(compare::TargetUnion::Version(0)),
                    ..Default::default()
                }],
                success: vec![RequestOp {
                    request: Some(request_op::Request::Put(put_req(
                        "/t/cas",
                        &format!("client-{i}"),
                    ))),
                }],
                failure: vec![],
            };
            let won = kv(&ep)
                .await
                .txn(txn)
                .await
                .expect("txn answers")
                .into_inner()
                .succeeded;
            (i, won)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (i, won) = t.await.unwrap();
        if won {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let r = kv(&cluster.endpoint(1))
        .await
        .range(RangeRequest {
            key: "/t/cas".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.kvs[0].value,
        format!("client-{}", winners[0]).into_bytes()
    );
    assert_eq!(r.kvs[0].version, 1, "no loser overwrote the winner");
}

#[tokio::test]
async fn a_node_cut_off_from_the_majority_cannot_commit_and_converges_when_it_returns() {
    let mut cluster = Cluster::start(3, &[]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    // The leader ends up alone: the other two are frozen, so no quorum is reachable from it.
    let others: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    for id in &others {
        cluster.node(*id).pause();
    }
    let alone = cluster.endpoint(leader);
    let attempt = tokio::time::timeout(
        Duration::from_secs(8),
        kv(&alone)
            .await
            .put(put_req("/t/minority", "must not commit")),
    )
    .await;
    assert!(
        !matches!(attempt, Ok(Ok(_))),
        "a lone node acknowledged a write without a majority"
    );
    for id in &others {
        cluster.node(*id).resume();
    }
    let new = cluster.wait_for_leader(&[1, 2, 3]).await;
    kv(&cluster.endpoint(new))
        .await
        .put(put_req("/t/minority/after", "ok"))
        .await
        .unwrap();
    for id in 1..=3 {
        let ep = cluster.endpoint(id);
        eventually("every node converges on the majority's history", || {
            let ep = ep.clone();
            async move { local_value(&ep, "/t/minority/after").await.as_deref() == Some("ok") }
        })
        .await;
    }
    // Whatever the lone node did not commit was not invented by anyone else either: if the
    // write is visible, it must have been committed by a majority after the heal.
    let r = kv(&cluster.endpoint(new))
        .await
        .range(RangeRequest {
            key: "/t/minority".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for kv in r.kvs {
        assert_eq!(kv.value, b"must not commit");
    }
}
