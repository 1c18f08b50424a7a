//! The promise end to end, proved from the execution history: 3 nodes, 3 `forest worker`
//! processes, 20 jobs every second; the leader is killed and restarted, a worker is killed
//! mid-run. Every tick of every job has exactly one run, final, in every node's history, and
//! `forest history` finds them from any node.

mod common;

use std::collections::BTreeSet;

use common::*;
use forest::model::{keys, ExecuteStatus, WireJson};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tick_runs_once_and_is_in_every_nodes_history_whatever_dies() {
    let mut cluster = Cluster::start(3, &[]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let ep = cluster.endpoint((1..=3).find(|id| *id != leader).unwrap());
    add_group(&ep, "g").await;
    let endpoints = cluster.endpoints();
    let mut workers: Vec<Proc> = ["a", "b", "c"]
        .iter()
        .map(|name| worker_process(cluster.dir.path(), &endpoints, "g", name))
        .collect();
    let jobs: Vec<String> = (0..20)
        .map(|i| format!("202611240000000005{i:02}"))
        .collect();
    let every_second = |id: &str, status: i64| {
        let mut j = job(id, "g", "* * * * * *");
        j.status = status;
        j.target = "shell".into();
        j.params = "sleep 0.3; echo ran $FOREST_SNAPSHOT_ID".into();
        j.to_json()
    };
    for id in &jobs {
        put_json(&ep, keys::job_conf(id), every_second(id, 1)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    cluster.node(leader).kill();
    let rest = cluster.running();
    let new_leader = cluster.wait_for_leader(&rest).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    cluster.node(leader).start();
    // A worker dies mid-run (its jobs sleep 0.3 s of every second).
    workers[0].kill();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let ep = cluster.endpoint(new_leader);
    for id in &jobs {
        put_json(&ep, keys::job_conf(id), every_second(id, 2)).await;
    }
    settled(&ep).await;
    // A history key leaves the KV once every member has it in its store.
    eventually("every member has indexed every run", || {
        let ep = ep.clone();
        async move { read_prefix(&ep, keys::HISTORY_PREFIX).await.count == 0 }
    })
    .await;

    let reference = history(&ep).await;
    for job_id in &jobs {
        // Ticks (first attempts), in order: one per second from the first to the last, none
        // missing, none twice (the map is by run id, and the id is the tick).
        let ticks: Vec<_> = reference
            .values()
            .filter(|r| &r.job_id == job_id && r.attempt == 0)
            .map(|r| r.scheduled_at.expect("a tick").timestamp())
            .collect();
        assert!(ticks.len() >= 5, "{job_id} ran: {ticks:?}");
        let (first, last) = (ticks[0], ticks[ticks.len() - 1]);
        assert_eq!(
            ticks,
            (first..=last).collect::<Vec<_>>(),
            "{job_id}: every tick from the first to the last, once"
        );
    }
    for (id, run) in &reference {
        // Lost: on the killed worker when it died; everything else ran to success.
        assert!(
            run.status == ExecuteStatus::SUCCESS
                || (run.status == ExecuteStatus::LOST && run.ip == "a"),
            "{id}: {run:?}"
        );
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

    // The command line finds them from any node.
    let other = cluster.node(leader).http.clone();
    let listed = ctl_json(
        &other,
        &["run", "list", "--job", &jobs[0], "--limit", "1000"],
    );
    let of_job0 = reference.values().filter(|r| r.job_id == jobs[0]).count();
    assert_eq!(listed["total"], of_job0 as i64, "{listed}");
    assert_eq!(listed["items"].as_array().unwrap().len(), of_job0);
    let succeeded = ctl_json(&other, &["run", "list", "--job", &jobs[0], "--status", "2"]);
    let id = succeeded["items"][0]["id"].as_str().unwrap().to_string();
    let one = ctl_json(&other, &["run", "get", &id]);
    assert_eq!(one["status"], 2);
    assert!(
        one["output"]
            .as_str()
            .unwrap()
            .contains(&format!("ran {id}")),
        "{one}"
    );
    let stats = ctl_json(&other, &["run", "stats", &jobs[0]]);
    let ok_job0 = reference
        .values()
        .filter(|r| r.job_id == jobs[0] && r.status == ExecuteStatus::SUCCESS)
        .count();
    assert_eq!(stats["runs"], of_job0 as i64, "{stats}");
    assert_eq!(stats["successes"], ok_job0 as i64);
    let failed = ctl_json(&other, &["run", "list", "--status", "-1"]);
    assert_eq!(failed["total"], 0);
    let err = ctl_refused(&other, &["run", "get", "nope"]);
    assert!(err.contains("not found"), "{err}");
}
