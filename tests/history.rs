//! The execution history end to end: runs collected by whichever node leads land exactly once
//! in every node's store, and `forest history` finds them from any node.

mod common;

use std::collections::BTreeSet;

use common::*;
use forest::model::{keys, ExecuteStatus, WireJson};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_is_in_every_nodes_history_once_across_a_leader_kill() {
    let mut cluster = Cluster::start(3, &[]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let ep = cluster.endpoint((1..=3).find(|id| *id != leader).unwrap());
    add_group(&ep, "g").await;
    let endpoints = cluster.endpoints();
    let _workers = [
        worker_process(cluster.dir.path(), &endpoints, "g", "a"),
        worker_process(cluster.dir.path(), &endpoints, "g", "b"),
    ];
    let jobs: Vec<String> = (0..5).map(|i| format!("2026112400000000050{i}")).collect();
    for id in &jobs {
        let mut j = job(id, "g", "* * * * * *");
        j.target = "shell".into();
        j.params = "echo ran $FOREST_SNAPSHOT_ID".into();
        put_json(&ep, keys::job_conf(id), j.to_json()).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    cluster.node(leader).kill();
    let rest = cluster.running();
    let new_leader = cluster.wait_for_leader(&rest).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    cluster.node(leader).start();
    let ep = cluster.endpoint(new_leader);
    for id in &jobs {
        let mut j = job(id, "g", "* * * * * *");
        j.status = 2;
        put_json(&ep, keys::job_conf(id), j.to_json()).await;
    }
    eventually("every run is finished and collected", || {
        let ep = ep.clone();
        async move {
            read_prefix(&ep, keys::SNAPSHOT_PREFIX).await.count == 0
                && read_prefix(&ep, keys::EXECUTE_PREFIX).await.count == 0
                && read_prefix(&ep, keys::PENDING_PREFIX).await.count == 0
        }
    })
    .await;

    let reference = history(&ep).await;
    assert!(
        reference.len() >= 20,
        "runs were recorded: {}",
        reference.len()
    );
    for (id, run) in &reference {
        assert_eq!(run.status, ExecuteStatus::SUCCESS, "{id}: {run:?}");
    }
    for node in 1..=3 {
        let node_ep = cluster.endpoint(node);
        let want: BTreeSet<String> = reference.keys().cloned().collect();
        eventually(&format!("node {node} holds the same runs"), || {
            let (node_ep, want) = (node_ep.clone(), want.clone());
            async move {
                let have: BTreeSet<String> = history(&node_ep).await.into_keys().collect();
                have == want
            }
        })
        .await;
    }
    // Every history key the whole cluster has indexed leaves the KV.
    eventually("the KV copies are trimmed", || {
        let ep = ep.clone();
        async move { read_prefix(&ep, keys::HISTORY_PREFIX).await.count == 0 }
    })
    .await;

    // The command line finds them from any node.
    let other = cluster.endpoint(leader);
    let listed = ok_json_at(
        &other,
        &["history", "list", "--job", &jobs[0], "--limit", "1000"],
    );
    let of_job0 = reference.values().filter(|r| r.job_id == jobs[0]).count();
    assert_eq!(listed["total"], of_job0 as i64, "{listed}");
    assert_eq!(listed["runs"].as_array().unwrap().len(), of_job0);
    let id = listed["runs"][0]["id"].as_str().unwrap().to_string();
    let one = ok_json_at(&other, &["history", "get", &id]);
    assert_eq!(one["status"], 2);
    assert!(
        one["output"]
            .as_str()
            .unwrap()
            .contains(&format!("ran {id}")),
        "{one}"
    );
    let stats = ok_json_at(&other, &["history", "stats", &jobs[0]]);
    assert_eq!(stats["runs"], of_job0 as i64, "{stats}");
    assert_eq!(stats["successes"], of_job0 as i64);
    let failed = ok_json_at(&other, &["history", "list", "--status", "-1"]);
    assert_eq!(failed["total"], 0);
    let err = refused_at(&other, &["history", "get", "nope"]);
    assert!(err.contains("not found"), "{err}");
}
