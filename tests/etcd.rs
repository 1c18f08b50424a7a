//! The etcd v3 adapter (`--etcd-addr`), through etcd's own clients: Debian's `etcdctl`, run
//! against Forest and against a real etcd and compared line by line; a client of the original
//! forest's SDKs (register under a lease, poll, claim by delete, report), which the scheduler
//! must treat as any worker, across a leader's death too; and etcd's answers to what etcdctl
//! cannot ask (nested transactions, multiplexed watches, refusals), checked against a real
//! etcd as well when one is installed.

mod common;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::PathBuf;

use common::etcd::{etcdctl, etcdctl_watch, tools, LegacyClient, RealEtcd, Snapshot};
use common::http::Api;
use common::*;
use forest::pb::etcd::etcdserverpb::{
    self as etcd, auth_client::AuthClient, cluster_client::ClusterClient, compare,
    kv_client::KvClient, lease_client::LeaseClient, maintenance_client::MaintenanceClient,
    request_op, response_op, watch_client::WatchClient, watch_create_request::FilterType,
    watch_request::RequestUnion,
};
use forest::pb::etcd::mvccpb::event::EventType;
use serde_json::{json, Value};
use tonic::transport::Channel;
use tonic::Code;

// ================================================================================================
// etcdctl against Forest and against etcd
// ================================================================================================

/// How a step's output varies between two servers that agree: what to mask before comparing.
#[derive(Clone, Copy)]
enum Shape {
    /// Compared as printed (after the common masks).
    Text,
    /// One JSON document per line; ids, revisions, terms, sizes and names are masked, the
    /// structure (which fields are present) is kept.
    Json,
    /// Comma-separated rows; these columns are masked.
    Columns(&'static [usize]),
    /// Every number is masked.
    Digits,
}

struct Step {
    args: Vec<String>,
    stdin: &'static str,
    shape: Shape,
}

fn step(args: &str, shape: Shape) -> Step {
    Step {
        args: args.split_whitespace().map(str::to_string).collect(),
        stdin: "",
        shape,
    }
}

fn txn(stdin: &'static str, json: bool) -> Step {
    Step {
        args: if json {
            vec!["txn".into(), "-w".into(), "json".into()]
        } else {
            vec!["txn".into()]
        },
        stdin,
        shape: if json { Shape::Json } else { Shape::Text },
    }
}

/// Fields whose values differ between two healthy servers.
const VOLATILE: &[&str] = &[
    "cluster_id",
    "member_id",
    "revision",
    "raft_term",
    "create_revision",
    "mod_revision",
    "compact_revision",
    "ID",
    "lease",
    "dbSize",
    "dbSizeInUse",
    "leader",
    "raftIndex",
    "raftTerm",
    "raftAppliedIndex",
    "version",
    "name",
    "Endpoint",
    "peerURLs",
    "clientURLs",
];

fn mask_json(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if VOLATILE.contains(&k.as_str()) && !v.is_object() {
                    *v = json!("<masked>");
                } else {
                    mask_json(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_json),
        _ => {}
    }
}

fn mask_digits(s: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            out.push(c);
            in_number = false;
        }
    }
    out
}

/// The output with what legitimately differs masked: this server's endpoint, the lease the
/// script granted, remaining seconds, timings, and what `shape` names. clientv3's own log
/// lines (a retried call, with a timestamp and a client id) are left out; the error etcdctl
/// prints after them stays.
fn normalise(text: &str, shape: Shape, endpoint: &str, lease: &str) -> String {
    let mut text = text.replace(endpoint, "<endpoint>");
    if !lease.is_empty() {
        text = text.replace(lease, "<lease>");
    }
    text.lines()
        .filter(|line| !line.starts_with("{\"level\":"))
        .map(|line| {
            let line = match line.find("remaining(") {
                Some(i) => format!("{}remaining(<n>)", &line[..i]),
                None => line.to_string(),
            };
            let line = match line.find("took = ") {
                Some(i) => line[..i].to_string(),
                None => line,
            };
            match shape {
                Shape::Text => line,
                Shape::Digits => mask_digits(&line),
                Shape::Json => match serde_json::from_str::<Value>(&line) {
                    Ok(mut v) => {
                        mask_json(&mut v);
                        v.to_string()
                    }
                    Err(_) => line,
                },
                Shape::Columns(masked) => line
                    .split(", ")
                    .enumerate()
                    .map(|(i, col)| if masked.contains(&i) { "<masked>" } else { col })
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One server's run of the script: each step's (succeeded, stdout, stderr), normalised.
async fn run_script(
    etcdctl_bin: &PathBuf,
    endpoint: &str,
) -> Vec<(String, (bool, String, String))> {
    let run = |args: &[String], stdin: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        etcdctl(etcdctl_bin, endpoint, &args, stdin)
    };
    let mut out = Vec::new();
    let entry = |name: String, o: &common::etcd::Output, shape: Shape, lease: &str| {
        (
            name,
            (
                o.ok,
                normalise(&o.stdout, shape, endpoint, lease),
                normalise(&o.stderr, shape, endpoint, lease),
            ),
        )
    };

    let before_lease = [
        step("put /x/a 1", Shape::Text),
        step("put /x/b 2", Shape::Text),
        step("put /x/c 3 -w json", Shape::Json),
        step("get /x/ --prefix", Shape::Text),
        step("get /x/a -w json", Shape::Json),
        step("get /x/nothing -w json", Shape::Json),
        step(
            "get /x/ --prefix --keys-only --limit=2 --sort-by=VALUE --order=DESCEND",
            Shape::Text,
        ),
        step("get /x/ --prefix --limit=1 -w json", Shape::Json),
        step("get /x/a /x/c", Shape::Text),
        step("get /x/b --from-key --print-value-only", Shape::Text),
        step(
            "get /x/ --prefix --sort-by=MODIFY --order=DESCEND",
            Shape::Text,
        ),
        step("put /x/a 10 --prev-kv", Shape::Text),
        step("put /x/a 10 --prev-kv -w json", Shape::Json),
        step("del /x/b --prev-kv", Shape::Text),
        step("del /x/nothing", Shape::Text),
        step("del /x/x /x/z -w json", Shape::Json),
    ];
    let txns = [
        txn(
            "value(\"/x/a\") = \"10\"\n\nput /x/t yes\nget /x/a\n\nput /x/t no\n\n",
            false,
        ),
        txn(
            "version(\"/x/a\") = \"5\"\n\nput /x/t never\n\nget /x/t\ndel /x/c\n\n",
            true,
        ),
        txn(
            "mod(\"/x/missing\") = \"0\"\ncreate(\"/x/a\") > \"0\"\n\nput /x/u 1\n\n\n",
            false,
        ),
    ];
    for s in before_lease.iter().chain(&txns) {
        let o = run(&s.args, s.stdin);
        out.push(entry(s.args.join(" "), &o, s.shape, ""));
    }

    let granted = run(&["lease".into(), "grant".into(), "60".into()], "");
    let lease = granted
        .stdout
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    out.push(entry(
        "lease grant 60".into(),
        &granted,
        Shape::Text,
        &lease,
    ));
    let with_lease = [
        format!("put --lease={lease} /x/l v"),
        "get /x/l -w json".to_string(),
        format!("lease keep-alive --once {lease}"),
        format!("lease timetolive {lease} --keys"),
        format!("lease revoke {lease}"),
        "get /x/l".to_string(),
        format!("lease timetolive {lease}"),
        format!("lease revoke {lease}"),
        format!("lease keep-alive --once {lease}"),
    ];
    for cmd in with_lease {
        let shape = if cmd.contains("json") {
            Shape::Json
        } else {
            Shape::Text
        };
        let o = run(&step(&cmd, shape).args, "");
        out.push(entry(cmd, &o, shape, &lease));
    }

    // Watches replay history from a revision: the script writes first, then watches.
    let first = run(&step("put /x/w 1 -w json", Shape::Json).args, "");
    let rev: Value = serde_json::from_str(first.stdout.trim()).expect("put -w json is JSON");
    let rev = rev["header"]["revision"].as_i64().expect("a revision");
    out.push(entry("put /x/w 1 -w json".into(), &first, Shape::Json, ""));
    for cmd in ["put /x/w 2", "del /x/w", "put /x/w end"] {
        let o = run(&step(cmd, Shape::Text).args, "");
        out.push(entry(cmd.into(), &o, Shape::Text, ""));
    }
    for args in [
        vec![format!("--rev={rev}"), "/x/w".into(), "--prev-kv".into()],
        vec![format!("--rev={rev}"), "--prefix".into(), "/x/".into()],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let seen = etcdctl_watch(etcdctl_bin, endpoint, &args, "end");
        out.push((
            format!("watch {}", args.join(" ")),
            (true, seen, String::new()),
        ));
    }

    let after = [
        (format!("get /x/ --prefix --rev={rev}"), Shape::Text),
        (format!("compaction {rev}"), Shape::Digits),
        (format!("get /x/a --rev={}", rev - 1), Shape::Text),
        (
            "endpoint status".into(),
            Shape::Columns(&[1, 2, 3, 6, 7, 8]),
        ),
        ("endpoint status -w json".into(), Shape::Json),
        ("member list".into(), Shape::Columns(&[0, 2, 3, 4])),
        ("member list -w json".into(), Shape::Json),
        ("endpoint health".into(), Shape::Text),
        ("alarm list".into(), Shape::Text),
        ("del /x/ --prefix".into(), Shape::Text),
        ("get /x/ --prefix -w json".into(), Shape::Json),
    ];
    for (cmd, shape) in after {
        let o = run(&step(&cmd, shape).args, "");
        out.push(entry(cmd, &o, shape, ""));
    }
    out
}

#[tokio::test]
async fn etcdctl_prints_the_same_for_forest_as_for_a_real_etcd() {
    let Some((etcd_bin, etcdctl_bin)) =
        tools("etcdctl_prints_the_same_for_forest_as_for_a_real_etcd")
    else {
        return;
    };
    let real = RealEtcd::start(&etcd_bin, &etcdctl_bin).await;
    let cluster = Cluster::start(1, &[]).await;
    let theirs = run_script(&etcdctl_bin, &real.endpoint).await;
    let ours = run_script(&etcdctl_bin, &cluster.nodes[0].etcd).await;
    assert_eq!(theirs.len(), ours.len());
    let differences: Vec<String> = theirs
        .iter()
        .zip(&ours)
        .filter(|(t, o)| t.1 != o.1)
        .map(|(t, o)| {
            format!(
                "`etcdctl {}`\n  etcd:   {:?}\n  forest: {:?}",
                t.0, t.1, o.1
            )
        })
        .collect();
    assert!(
        differences.is_empty(),
        "etcdctl printed differently:\n{}",
        differences.join("\n")
    );
    // The script did real work on both sides, not the same failure twice.
    assert!(ours.iter().filter(|(_, (ok, _, _))| *ok).count() > 30);
}

// ================================================================================================
// A client of the original SDKs
// ================================================================================================

/// Creates a group and, for each target, a job firing every second; returns the job ids.
async fn every_second_jobs(api: &Api, group: &str, targets: &[&str]) -> Vec<String> {
    let (status, body) = api
        .post("/api/v1/groups", json!({"name": group, "remark": ""}))
        .await;
    assert!(status.is_success(), "{body}");
    let mut ids = Vec::new();
    for target in targets {
        let (status, job) = api
            .post(
                "/api/v1/jobs",
                json!({"name": target, "group": group, "cron": "* * * * * *", "target": target}),
            )
            .await;
        assert!(status.is_success(), "{job}");
        ids.push(job["id"].as_str().expect("an id").to_string());
    }
    ids
}

/// One round of the SDKs' loop: poll, claim each snapshot by deleting it, run it and report
/// (1 then 2 for `ok`, 1 then -1 for `fail`, 3 at once for a target the client does not
/// know). Returns the ids it ran.
async fn serve(client: &LegacyClient) -> Vec<String> {
    let mut ran = Vec::new();
    for s in client.poll().await {
        if !client.claim(&s).await {
            continue;
        }
        run(client, &s).await;
        ran.push(s.id().to_string());
    }
    ran
}

async fn run(client: &LegacyClient, s: &Snapshot) {
    match s.json["target"].as_str() {
        Some("ok") => {
            client.report(s, 1, "").await;
            client.report(s, 2, "done").await;
        }
        Some("fail") => {
            client.report(s, 1, "").await;
            client.report(s, -1, "boom").await;
        }
        _ => client.report(s, 3, "此任务作业不存在").await,
    }
}

/// The run as the REST API shows it, if the history has it.
async fn execution(api: &Api, id: &str) -> Option<Value> {
    let (status, run) = api.get(&format!("/api/v1/executions/{id}")).await;
    status.is_success().then_some(run)
}

#[tokio::test]
async fn a_legacy_client_runs_its_snapshots_and_hands_them_over_when_it_dies() {
    let cluster = Cluster::start(1, &[]).await;
    let api = Api::new(&cluster.nodes[0].http);
    let ep = cluster.nodes[0].etcd.clone();
    let a = LegacyClient::register(&ep, "trade", "10.0.0.1", 3).await;
    let jobs = every_second_jobs(&api, "trade", &["ok", "fail", "nope"]).await;

    // Every kind of report lands in the history, under the client's name.
    for (job, status, result) in [
        (&jobs[0], 2, "done"),
        (&jobs[1], -1, "boom"),
        (&jobs[2], 3, "此任务作业不存在"),
    ] {
        let listed = format!("/api/v1/executions?jobId={job}&status={status}");
        eventually("the client's reports reach the history", || async {
            serve(&a).await;
            api.ok(&listed).await["items"][0].is_object()
        })
        .await;
        let run = api.ok(&listed).await["items"][0].clone();
        assert_eq!(
            (&run["result"], &run["ip"], &run["group"]),
            (&json!(result), &json!("10.0.0.1"), &json!("trade")),
            "{run}"
        );
    }

    // The client stops claiming: snapshots pile up under its key.
    let left = RefCell::new(BTreeSet::new());
    eventually("snapshots wait for the client", || async {
        let waiting: BTreeSet<String> = a.poll().await.iter().map(|s| s.id().to_string()).collect();
        *left.borrow_mut() = waiting;
        left.borrow().len() >= 3
    })
    .await;
    let left = left.into_inner();
    // A second client comes; the first one dies (its lease is no longer kept alive).
    let b = LegacyClient::register(&ep, "trade", "10.0.0.2", 3).await;
    a.stop_keepalive();
    let ran_by_b = RefCell::new(BTreeSet::new());
    eventually(
        "the dead client's snapshots run on the other one",
        || async {
            let ran = serve(&b).await;
            ran_by_b.borrow_mut().extend(ran);
            left.is_subset(&ran_by_b.borrow())
        },
    )
    .await;
    assert!(
        a.poll().await.is_empty(),
        "nothing is left for the dead client"
    );
    for id in &left {
        eventually(
            "a handed-over run is recorded under its new worker",
            || async {
                execution(&api, id)
                    .await
                    .is_some_and(|r| r["ip"] == json!("10.0.0.2") && r["status"] != json!(1))
            },
        )
        .await;
    }
}

#[tokio::test]
async fn a_legacy_client_given_every_endpoint_goes_on_when_its_node_is_killed() {
    let mut cluster = Cluster::start(3, &[]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let api_of = |c: &Cluster, id: u64| Api::new(&c.nodes[id as usize - 1].http);

    // MemberList on any node lists every member with its etcd endpoint.
    let members = ClusterClient::new(connect(&cluster.nodes[0].etcd).await);
    let want: BTreeSet<(String, Vec<String>)> = cluster
        .nodes
        .iter()
        .map(|n| (format!("node-{}", n.id), vec![format!("http://{}", n.etcd)]))
        .collect();
    eventually("every member advertises its etcd endpoint", || {
        let mut members = members.clone();
        let want = &want;
        async move {
            let listed = members
                .member_list(etcd::MemberListRequest { linearizable: true })
                .await
                .expect("member list")
                .into_inner();
            let got: BTreeSet<_> = listed
                .members
                .into_iter()
                .map(|m| (m.name, m.client_ur_ls))
                .collect();
            &got == want
        }
    })
    .await;

    // The client talks to the leader first; it knows the others.
    let mut order = vec![leader];
    order.extend([1, 2, 3].into_iter().filter(|id| *id != leader));
    let endpoints: Vec<String> = order
        .iter()
        .map(|id| cluster.nodes[*id as usize - 1].etcd.clone())
        .collect();
    let client = LegacyClient::register(&endpoints.join(","), "g", "10.0.0.9", 10).await;
    let job = every_second_jobs(&api_of(&cluster, leader), "g", &["ok"])
        .await
        .remove(0);
    let succeeded = format!("/api/v1/executions?jobId={job}&status=2");
    let survivor = order[1];
    eventually("a run succeeds before the kill", || async {
        serve(&client).await;
        api_of(&cluster, survivor).ok(&succeeded).await["items"][0].is_object()
    })
    .await;

    cluster.node(leader).kill();
    let api = api_of(&cluster, survivor);
    let ran_after = RefCell::new(Vec::new());
    eventually("a run dispatched after the kill succeeds", || async {
        let ran = serve(&client).await;
        ran_after.borrow_mut().extend(ran);
        let ids = ran_after.borrow().clone();
        for id in &ids {
            if execution(&api, id)
                .await
                .is_some_and(|r| r["status"] == json!(2))
            {
                return true;
            }
        }
        false
    })
    .await;
}

// ================================================================================================
// What etcdctl cannot ask: checked against Forest, and against a real etcd when installed
// ================================================================================================

async fn connect(endpoint: &str) -> Channel {
    channel(endpoint).await.expect("connect")
}

fn put_op(key: &str, value: &str) -> etcd::RequestOp {
    etcd::RequestOp {
        request: Some(request_op::Request::RequestPut(etcd::PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        })),
    }
}

fn del_op(key: &str) -> etcd::RequestOp {
    etcd::RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(
            etcd::DeleteRangeRequest {
                key: key.into(),
                ..Default::default()
            },
        )),
    }
}

fn value_is(key: &str, value: &str) -> etcd::Compare {
    etcd::Compare {
        result: compare::CompareResult::Equal as i32,
        target: compare::CompareTarget::Value as i32,
        key: key.into(),
        target_union: Some(compare::TargetUnion::Value(value.into())),
        ..Default::default()
    }
}

fn refusal<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>) -> (Code, String) {
    let s = r.expect_err("refused");
    (s.code(), s.message().to_string())
}

/// KV and lease answers every etcd gives; `endpoint` is Forest's or a real etcd's.
async fn kv_semantics(endpoint: &str) {
    let ch = connect(endpoint).await;
    let mut kv = KvClient::new(ch.clone());
    let put = |k: &str, v: &str| etcd::PutRequest {
        key: k.into(),
        value: v.into(),
        ..Default::default()
    };
    kv.put(put("/s/a", "1")).await.expect("put");

    // A nested transaction decides on the store as it was before the outer writes.
    let nested = etcd::RequestOp {
        request: Some(request_op::Request::RequestTxn(etcd::TxnRequest {
            compare: vec![value_is("/s/a", "1")],
            success: vec![put_op("/s/then", "x")],
            failure: vec![put_op("/s/else", "y")],
        })),
    };
    let t = kv
        .txn(etcd::TxnRequest {
            compare: vec![],
            success: vec![put_op("/s/a", "2"), nested],
            failure: vec![],
        })
        .await
        .expect("a nested txn")
        .into_inner();
    let Some(response_op::Response::ResponseTxn(inner)) = &t.responses[1].response else {
        panic!("no nested answer: {t:?}")
    };
    assert!(inner.succeeded);
    let found = |k: &str| etcd::RangeRequest {
        key: k.into(),
        ..Default::default()
    };
    let r = kv
        .range(found("/s/then"))
        .await
        .expect("range")
        .into_inner();
    assert_eq!(r.kvs.len(), 1);

    // A put that keeps the value, or the lease, of a key that must exist.
    let kept = kv
        .put(etcd::PutRequest {
            ignore_value: true,
            prev_kv: true,
            ..put("/s/a", "")
        })
        .await
        .expect("ignore_value")
        .into_inner();
    assert_eq!(kept.prev_kv.expect("prev").value, b"2");
    let r = kv.range(found("/s/a")).await.expect("range").into_inner();
    assert_eq!(
        (r.kvs[0].value.as_slice(), r.kvs[0].version),
        (&b"2"[..], 3)
    );
    let refusals = [
        (
            etcd::PutRequest {
                ignore_value: true,
                ..put("/s/missing", "")
            },
            (Code::InvalidArgument, "etcdserver: key not found"),
        ),
        (
            etcd::PutRequest {
                ignore_value: true,
                ..put("/s/a", "v")
            },
            (Code::InvalidArgument, "etcdserver: value is provided"),
        ),
        (
            etcd::PutRequest {
                ignore_lease: true,
                lease: 5,
                ..put("/s/a", "v")
            },
            (Code::InvalidArgument, "etcdserver: lease is provided"),
        ),
        (
            etcd::PutRequest {
                lease: 12345,
                ..put("/s/a", "v")
            },
            (Code::NotFound, "etcdserver: requested lease not found"),
        ),
        (
            put("", "v"),
            (Code::InvalidArgument, "etcdserver: key is not provided"),
        ),
    ];
    for (req, (code, msg)) in refusals {
        assert_eq!(refusal(kv.put(req).await), (code, msg.to_string()));
    }

    // etcd's transaction rules: no key written twice on any path, at most 128 operations.
    let dup = |success| etcd::TxnRequest {
        compare: vec![],
        success,
        failure: vec![],
    };
    for success in [
        vec![put_op("/s/d", "1"), del_op("/s/d")],
        vec![
            put_op("/s/d", "1"),
            etcd::RequestOp {
                request: Some(request_op::Request::RequestTxn(dup(vec![put_op(
                    "/s/d", "2",
                )]))),
            },
        ],
    ] {
        assert_eq!(
            refusal(kv.txn(dup(success)).await),
            (
                Code::InvalidArgument,
                "etcdserver: duplicate key given in txn request".to_string()
            )
        );
    }
    let many = (0..129).map(|i| put_op(&format!("/s/m{i}"), "x")).collect();
    assert_eq!(
        refusal(kv.txn(dup(many)).await),
        (
            Code::InvalidArgument,
            "etcdserver: too many operations in txn request".to_string()
        )
    );

    // Sorting and filters happen before the limit; count counts every match.
    for (k, v) in [("/s/r/1", "c"), ("/s/r/2", "a"), ("/s/r/3", "b")] {
        kv.put(put(k, v)).await.expect("put");
    }
    let r = kv
        .range(etcd::RangeRequest {
            key: "/s/r/".into(),
            range_end: "/s/r0".into(),
            sort_order: etcd::range_request::SortOrder::Ascend as i32,
            sort_target: etcd::range_request::SortTarget::Value as i32,
            limit: 2,
            ..Default::default()
        })
        .await
        .expect("a sorted range")
        .into_inner();
    let keys: Vec<&[u8]> = r.kvs.iter().map(|kv| kv.key.as_slice()).collect();
    assert_eq!(
        (keys, r.more, r.count),
        (vec![&b"/s/r/2"[..], b"/s/r/3"], true, 3)
    );
    let now = r.header.expect("a header").revision;
    assert_eq!(
        refusal(
            kv.range(etcd::RangeRequest {
                revision: now + 100,
                ..found("/s/a")
            })
            .await
        ),
        (
            Code::OutOfRange,
            "etcdserver: mvcc: required revision is a future revision".to_string()
        )
    );

    // Leases: listed, and an unknown one named as etcd names it.
    let mut leases = LeaseClient::new(ch.clone());
    let id = leases
        .lease_grant(etcd::LeaseGrantRequest { ttl: 60, id: 0 })
        .await
        .expect("grant")
        .into_inner()
        .id;
    let listed = leases
        .lease_leases(etcd::LeaseLeasesRequest {})
        .await
        .expect("leases")
        .into_inner();
    assert!(listed.leases.iter().any(|l| l.id == id));
    assert_eq!(
        refusal(
            leases
                .lease_revoke(etcd::LeaseRevokeRequest { id: id + 1 })
                .await
        ),
        (
            Code::NotFound,
            "etcdserver: requested lease not found".to_string()
        )
    );
    assert_eq!(
        refusal(
            AuthClient::new(ch)
                .authenticate(etcd::AuthenticateRequest {
                    name: "root".into(),
                    password: "x".into(),
                })
                .await
        ),
        (
            Code::FailedPrecondition,
            "etcdserver: authentication is not enabled".to_string()
        )
    );
}

#[tokio::test]
async fn etcd_clients_get_etcds_answers_from_forest() {
    let cluster = Cluster::start(1, &[]).await;
    let ep = cluster.nodes[0].etcd.clone();
    kv_semantics(&ep).await;

    let ch = connect(&ep).await;
    // What Forest does not do answers Unimplemented, never something else.
    let mut kv = KvClient::new(ch.clone());
    let past_read = etcd::RequestOp {
        request: Some(request_op::Request::RequestRange(etcd::RangeRequest {
            key: "/s/a".into(),
            revision: 1,
            ..Default::default()
        })),
    };
    let t = etcd::TxnRequest {
        success: vec![past_read],
        ..Default::default()
    };
    assert_eq!(refusal(kv.txn(t).await).0, Code::Unimplemented);
    let mut maintenance = MaintenanceClient::new(ch.clone());
    assert_eq!(
        refusal(maintenance.defragment(etcd::DefragmentRequest {}).await).0,
        Code::Unimplemented
    );
    assert_eq!(
        refusal(
            ClusterClient::new(ch.clone())
                .member_add(etcd::MemberAddRequest::default())
                .await
        )
        .0,
        Code::Unimplemented
    );
    let status = maintenance
        .status(etcd::StatusRequest {})
        .await
        .expect("status")
        .into_inner();
    let header = status.header.expect("a header");
    assert_eq!(
        (status.version.as_str(), status.leader, header.member_id),
        ("3.5.0", 1, 1)
    );
    assert!(header.cluster_id != 0 && header.raft_term >= 1 && status.db_size > 0);

    // A request larger than the KV service takes is refused before it is read.
    let huge = etcd::PutRequest {
        key: "/s/huge".into(),
        value: vec![b'x'; forest::kv::service::MAX_REQUEST_BYTES + 1],
        ..Default::default()
    };
    assert_ne!(refusal(kv.put(huge).await).0, Code::Ok);
}

#[tokio::test]
async fn a_real_etcd_gives_the_answers_forest_is_held_to() {
    let Some((etcd_bin, etcdctl_bin)) = tools("a_real_etcd_gives_the_answers_forest_is_held_to")
    else {
        return;
    };
    let real = RealEtcd::start(&etcd_bin, &etcdctl_bin).await;
    kv_semantics(&real.endpoint).await;
    watch_semantics(&real.endpoint).await;
}

/// One watch stream: its requests in, its answers out.
struct WatchStream {
    tx: tokio::sync::mpsc::Sender<etcd::WatchRequest>,
    rx: tonic::Streaming<etcd::WatchResponse>,
}

impl WatchStream {
    /// Opens a stream with its first watch: etcd answers the call only with its first message.
    async fn open(ch: Channel, first: etcd::WatchCreateRequest) -> WatchStream {
        let (tx, requests) = tokio::sync::mpsc::channel(16);
        tx.send(etcd::WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(first)),
        })
        .await
        .expect("room for a request");
        let rx = WatchClient::new(ch)
            .watch(tokio_stream::wrappers::ReceiverStream::new(requests))
            .await
            .expect("a watch stream")
            .into_inner();
        WatchStream { tx, rx }
    }

    async fn send(&self, r: RequestUnion) {
        self.tx
            .send(etcd::WatchRequest {
                request_union: Some(r),
            })
            .await
            .expect("the stream is open");
    }

    async fn create(&self, c: etcd::WatchCreateRequest) {
        self.send(RequestUnion::CreateRequest(c)).await
    }

    async fn next(&mut self) -> etcd::WatchResponse {
        tokio::time::timeout(PATIENCE, self.rx.message())
            .await
            .expect("an answer in time")
            .expect("the stream is healthy")
            .expect("the stream goes on")
    }
}

fn watch_of(key: &str, end: &str) -> etcd::WatchCreateRequest {
    etcd::WatchCreateRequest {
        key: key.into(),
        range_end: end.into(),
        ..Default::default()
    }
}

/// (type, key, value, previous value) of each event.
fn events(r: &etcd::WatchResponse) -> Vec<(EventType, String, String, Option<String>)> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    r.events
        .iter()
        .map(|e| {
            let kv = e.kv.as_ref().expect("an event has a kv");
            (
                EventType::try_from(e.r#type).expect("a known type"),
                text(&kv.key),
                text(&kv.value),
                e.prev_kv.as_ref().map(|p| text(&p.value)),
            )
        })
        .collect()
}

/// Watch answers every etcd gives; `endpoint` is Forest's or a real etcd's.
async fn watch_semantics(endpoint: &str) {
    let ch = connect(endpoint).await;
    let mut kv = KvClient::new(ch.clone());
    let put = |k: &str, v: &str| etcd::PutRequest {
        key: k.into(),
        value: v.into(),
        ..Default::default()
    };
    let start = kv
        .put(put("/w/a", "1"))
        .await
        .expect("put")
        .into_inner()
        .header
        .expect("a header")
        .revision;
    kv.put(put("/w/a", "2")).await.expect("put");
    kv.delete_range(etcd::DeleteRangeRequest {
        key: "/w/a".into(),
        ..Default::default()
    })
    .await
    .expect("delete");

    // Two watches on one stream, ids given by the server: from a past revision with previous
    // values, and of deletes only.
    let mut w = WatchStream::open(
        ch.clone(),
        etcd::WatchCreateRequest {
            start_revision: start,
            prev_kv: true,
            ..watch_of("/w/", "/w0")
        },
    )
    .await;
    let created = w.next().await;
    assert!(created.created && !created.canceled, "{created:?}");
    let first = created.watch_id;
    let mut history = Vec::new();
    while history.len() < 3 {
        let r = w.next().await;
        assert_eq!(r.watch_id, first);
        history.extend(events(&r));
    }
    assert_eq!(
        history,
        [
            (EventType::Put, "/w/a".into(), "1".into(), None),
            (EventType::Put, "/w/a".into(), "2".into(), Some("1".into())),
            (
                EventType::Delete,
                "/w/a".into(),
                "".into(),
                Some("2".into())
            ),
        ]
    );
    w.create(etcd::WatchCreateRequest {
        filters: vec![FilterType::Noput as i32],
        ..watch_of("/w/", "/w0")
    })
    .await;
    let second = w.next().await;
    assert!(second.created && second.watch_id != first, "{second:?}");

    // A watch id chosen by the client, then the same id again; an empty range.
    w.create(etcd::WatchCreateRequest {
        watch_id: 70,
        ..watch_of("/w/b", "")
    })
    .await;
    let chosen = w.next().await;
    assert_eq!((chosen.created, chosen.watch_id), (true, 70));
    for refused in [
        etcd::WatchCreateRequest {
            watch_id: 70,
            ..watch_of("/w/c", "")
        },
        watch_of("/w/z", "/w/a"),
    ] {
        w.create(refused).await;
        let r = w.next().await;
        assert_eq!(
            (r.created, r.canceled, r.watch_id),
            (true, true, -1),
            "{r:?}"
        );
        assert!(!r.cancel_reason.is_empty());
    }

    // A put reaches the first watch only; a delete reaches both.
    kv.put(put("/w/b", "3")).await.expect("put");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let r = w.next().await;
        seen.extend(events(&r).into_iter().map(|e| (r.watch_id, e.0)));
    }
    seen.sort_by_key(|(id, _)| *id);
    assert_eq!(seen, [(first, EventType::Put), (70, EventType::Put)]);
    kv.delete_range(etcd::DeleteRangeRequest {
        key: "/w/b".into(),
        ..Default::default()
    })
    .await
    .expect("delete");
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let r = w.next().await;
        seen.extend(events(&r).into_iter().map(|e| (r.watch_id, e.0)));
    }
    seen.sort_by_key(|(id, _)| *id);
    let mut want = vec![
        (first, EventType::Delete),
        (second.watch_id, EventType::Delete),
        (70, EventType::Delete),
    ];
    want.sort_by_key(|(id, _)| *id);
    assert_eq!(seen, want);

    // A progress request is answered for the whole stream.
    w.send(RequestUnion::ProgressRequest(etcd::WatchProgressRequest {}))
        .await;
    let progress = w.next().await;
    assert_eq!((progress.watch_id, progress.events.len()), (-1, 0));
    assert!(progress.header.expect("a header").revision > start);

    // Cancelling answers once; the watch then hears nothing more.
    w.send(RequestUnion::CancelRequest(etcd::WatchCancelRequest {
        watch_id: first,
    }))
    .await;
    let canceled = w.next().await;
    assert_eq!((canceled.watch_id, canceled.canceled), (first, true));

    // A watch from a compacted revision is created, then canceled with the compaction point.
    let now = kv
        .put(put("/w/c", "x"))
        .await
        .expect("put")
        .into_inner()
        .header
        .expect("a header")
        .revision;
    kv.compact(etcd::CompactionRequest {
        revision: now,
        physical: true,
    })
    .await
    .expect("compact");
    w.create(etcd::WatchCreateRequest {
        start_revision: start,
        ..watch_of("/w/", "/w0")
    })
    .await;
    let mut answers = vec![w.next().await];
    while !answers.last().is_some_and(|r| r.canceled) {
        answers.push(w.next().await);
    }
    let compacted = answers.last().expect("an answer");
    assert!(answers[0].created, "{answers:?}");
    assert_eq!(compacted.compact_revision, now, "{answers:?}");
}

#[tokio::test]
async fn etcd_watches_on_forest_multiplex_filter_cancel_and_report_progress() {
    let cluster = Cluster::start(1, &["--etcd-progress-notify-ms", "200"]).await;
    let ep = cluster.nodes[0].etcd.clone();
    watch_semantics(&ep).await;

    // A watch that asked for progress notifications hears how far it has seen while idle.
    let mut w = WatchStream::open(
        connect(&ep).await,
        etcd::WatchCreateRequest {
            progress_notify: true,
            ..watch_of("/idle", "")
        },
    )
    .await;
    let created = w.next().await;
    let notified = w.next().await;
    assert_eq!(
        (notified.watch_id, notified.events.len(), notified.canceled),
        (created.watch_id, 0, false)
    );
    assert_eq!(
        notified.header.expect("a header").revision,
        created.header.expect("a header").revision
    );
}
