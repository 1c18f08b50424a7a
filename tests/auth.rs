//! Authentication and roles through the public interfaces of real nodes run with `--auth`:
//! every route refuses a missing or bad token, a weaker role is refused what it may not do, a
//! group-scoped token stays in its groups, a revoked token stops working, a non-loopback
//! listener without auth refuses to start, and no secret reaches a log.

mod common;

use common::http::Api;
use common::{cli, ctl_json, eventually, Cluster, BIN};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The administrator token the node wrote into its data directory on first start, which only
/// its owner may read.
async fn admin_token(cluster: &mut Cluster) -> String {
    let node = cluster.node(1);
    let token = node.admin_token().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(node.admin_token_file())
            .expect("the file")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "only its owner may read the token file"
        );
    }
    token
}

async fn make_token(admin: &Api, role: &str, groups: &[&str]) -> String {
    let (status, made) = admin
        .post(
            "/api/v1/tokens",
            json!({"name": role, "role": role, "groups": groups}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    made["token"].as_str().expect("the token text").to_string()
}

#[tokio::test]
async fn every_route_wants_a_token_and_each_role_gets_what_it_may() {
    let mut cluster = Cluster::start(1, &["--auth"]).await;
    let http = cluster.node(1).http.clone();
    let token = admin_token(&mut cluster).await;
    let anonymous = Api::new(&http);
    let forged = Api::with_token(&http, "fst_admin_0000");
    let admin = Api::with_token(&http, &token);

    // Every route in the API document, and the original's, without a token or with a wrong one;
    // the document says so (401 and 403 on every operation, and the bearer scheme).
    let doc = anonymous.ok("/api/v1/openapi.json").await;
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        let concrete = path.replace("{id}", "x").replace("{group}", "g");
        for (method, op) in ops.as_object().expect("operations") {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            for status in ["401", "403"] {
                assert!(
                    op["responses"].get(status).is_some(),
                    "{method} {path}: {status}"
                );
            }
            for (who, api) in [("no token", &anonymous), ("a forged token", &forged)] {
                let (status, body) = api.call(m.clone(), &concrete, Some(&json!({}))).await;
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with {who}: {body}"
                );
                assert_eq!(body["error"]["code"], "unauthorized");
            }
        }
    }
    for path in [
        "/job/list",
        "/job/add",
        "/snapshot/delete",
        "/execute/snapshot/list",
    ] {
        assert_eq!(
            anonymous.post(path, json!({})).await.0,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    assert_eq!(anonymous.get("/metrics").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.get("/healthz").await.0, StatusCode::OK);
    assert_eq!(anonymous.get("/readyz").await.0, StatusCode::OK);

    let (status, _) = admin
        .post("/api/v1/groups", json!({"name": "a", "remark": ""}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    admin
        .post("/api/v1/groups", json!({"name": "b", "remark": ""}))
        .await;
    let job = |group: &str| json!({"name": "n", "group": group, "cron": "0 0 3 * * *", "target": "t", "status": 2});
    let (_, in_a) = admin.post("/api/v1/jobs", job("a")).await;
    let (_, in_b) = admin.post("/api/v1/jobs", job("b")).await;
    let a_id = in_a["id"].as_str().expect("an id").to_string();
    let b_id = in_b["id"].as_str().expect("an id").to_string();

    let viewer = Api::with_token(&http, &make_token(&admin, "viewer", &[]).await);
    assert_eq!(viewer.ok("/api/v1/jobs").await["total"], 2);
    assert!(viewer
        .ok("/metrics")
        .await
        .as_str()
        .is_some_and(|m| m.contains("forest_raft_term")));
    for (m, path) in [
        (Method::POST, "/api/v1/jobs".to_string()),
        (Method::POST, format!("/api/v1/jobs/{a_id}/run")),
        (Method::DELETE, format!("/api/v1/jobs/{a_id}")),
        (Method::GET, "/api/v1/tokens".to_string()),
    ] {
        let (status, body) = viewer.call(m.clone(), &path, Some(&job("a"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "viewer {m} {path}: {body}");
    }

    let operator = Api::with_token(&http, &make_token(&admin, "operator", &[]).await);
    assert_eq!(
        operator
            .post(&format!("/api/v1/jobs/{a_id}/run"), json!({}))
            .await
            .0,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        operator
            .post(&format!("/api/v1/jobs/{a_id}/resume"), json!({}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        operator.post("/api/v1/jobs", job("a")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        operator
            .post("/api/v1/groups", json!({"name": "c", "remark": ""}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // A token for group a: a's jobs only, lists filtered, b refused.
    let scoped_token = make_token(&admin, "admin", &["a"]).await;
    let scoped = Api::with_token(&http, &scoped_token);
    let listed = scoped.ok("/api/v1/jobs").await;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["items"][0]["id"], json!(a_id));
    assert_eq!(
        scoped.ok("/api/v1/groups").await["items"],
        json!([{"name": "a", "remark": ""}])
    );
    assert_eq!(
        scoped.get(&format!("/api/v1/jobs/{a_id}")).await.0,
        StatusCode::OK
    );
    for (m, path, body) in [
        (Method::GET, format!("/api/v1/jobs/{b_id}"), None),
        (
            Method::POST,
            format!("/api/v1/jobs/{b_id}/run"),
            Some(json!({})),
        ),
        (Method::DELETE, format!("/api/v1/jobs/{b_id}"), None),
        (Method::POST, "/api/v1/jobs".to_string(), Some(job("b"))),
        (Method::GET, "/api/v1/executions?group=b".to_string(), None),
        (Method::GET, "/api/v1/snapshots?group=b".to_string(), None),
        (Method::DELETE, "/api/v1/snapshots/b/x".to_string(), None),
        (
            Method::POST,
            "/api/v1/tokens".to_string(),
            Some(json!({"role": "admin"})),
        ),
        (Method::POST, "/job/list".to_string(), Some(json!({}))),
    ] {
        let (status, answer) = scoped.call(m.clone(), &path, body.as_ref()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "scoped {m} {path}: {answer}");
    }
    let moved = json!({"group": "b"});
    assert_eq!(
        scoped
            .call(Method::PATCH, &format!("/api/v1/jobs/{a_id}"), Some(&moved))
            .await
            .0,
        StatusCode::FORBIDDEN,
        "a scoped token cannot move a job out of its groups"
    );

    // The command line with a token; a revoked token stops working.
    let tokens = ctl_json(&http, &["token", "list", "--token", &token]);
    assert!(!tokens.to_string().contains("hash"), "{tokens}");
    let scoped_id = tokens["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["groups"] == json!(["a"]))
        .and_then(|t| t["id"].as_str())
        .expect("the scoped token is listed")
        .to_string();
    ctl_json(&http, &["token", "revoke", &scoped_id, "--token", &token]);
    assert_eq!(scoped.get("/api/v1/jobs").await.0, StatusCode::UNAUTHORIZED);
    let no_token = cli(&["ctl", "job", "list", "--server", &http]);
    assert!(!no_token.status.success());
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("unauthorized"));

    // Failed attempts are counted.
    let metrics = admin.ok("/metrics").await;
    let failures: f64 = metrics
        .as_str()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("forest_auth_failures_total"))
        })
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .expect("the failure counter");
    assert!(failures >= 2.0, "{failures}");

    // None of the secrets used reached the log.
    let log = cluster.node(1).log_text();
    for secret in [&token, &scoped_token] {
        let hidden = secret.rsplit('_').next().expect("a secret part");
        assert!(
            !log.contains(hidden),
            "a token's secret is in the node's log"
        );
    }
}

#[tokio::test]
async fn the_original_routes_can_be_opened_to_this_machine_for_duck() {
    let mut cluster = Cluster::start(1, &["--auth", "--legacy-open"]).await;
    let http = cluster.node(1).http.clone();
    admin_token(&mut cluster).await;
    let anonymous = Api::new(&http);
    let (status, body) = anonymous.post("/group/list", json!({})).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::OK, json!(0)),
        "{body}"
    );
    assert_eq!(
        anonymous.get("/api/v1/jobs").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn a_listener_off_loopback_without_authentication_refuses_to_start() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let port = common::free_port();
    let out = std::process::Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--http-addr", &format!("0.0.0.0:{port}")])
        .args(["--grpc-addr", &format!("127.0.0.1:{}", common::free_port())])
        .output()
        .expect("forest runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--http-addr") && err.contains("--auth"),
        "{err}"
    );
    // Tokens alone do not guard Raft between several nodes: that needs the cluster secret.
    let me = format!("127.0.0.1:{}", common::free_port());
    let peers = format!(
        "1={me},2=127.0.0.1:{},3=127.0.0.1:{}",
        common::free_port(),
        common::free_port()
    );
    let grpc = std::process::Command::new(BIN)
        .args(["serve", "--auth", "--data-dir"])
        .arg(dir.path())
        .args(["--peers", &peers, "--advertise-addr", &me])
        .args(["--grpc-addr", &format!("0.0.0.0:{}", common::free_port())])
        .output()
        .expect("forest runs");
    assert!(!grpc.status.success());
    let err = String::from_utf8_lossy(&grpc.stderr);
    assert!(
        err.contains("--grpc-addr") && err.contains("--cluster-secret-file"),
        "{err}"
    );
}

#[tokio::test]
async fn an_insecure_node_says_so_when_probed() {
    let mut cluster = Cluster::start(1, &["--insecure"]).await;
    let (status, ready) = Api::new(&cluster.node(1).http.clone()).get("/readyz").await;
    assert_eq!(
        (status, ready["insecure"].clone()),
        (StatusCode::OK, json!(true))
    );
}

#[tokio::test]
async fn only_peers_with_the_cluster_secret_reach_raft() {
    let secrets = tempfile::tempdir().expect("a temp dir");
    let secret = secrets.path().join("cluster.secret");
    std::fs::write(&secret, "a-long-shared-cluster-secret-0123\n").expect("the secret file");
    let secret = secret.display().to_string();
    // Three nodes that prove membership to one another elect a leader and replicate.
    let mut cluster = Cluster::start(3, &["--cluster-secret-file", &secret]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let follower = (1..=3).find(|id| *id != leader).expect("a follower");
    let api = Api::new(&cluster.node(follower).http.clone());
    let (status, body) = api
        .post("/api/v1/groups", json!({"name": "g", "remark": ""}))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a write forwarded to the leader: {body}"
    );

    // A stranger without the secret is refused before anything is decoded.
    let channel = common::channel(&cluster.endpoint(leader))
        .await
        .expect("a channel");
    let mut raft = forest::pb::raft::raft_client::RaftClient::new(channel);
    for rpc in ["call", "vote"] {
        let payload = forest::pb::raft::Payload {
            data: vec![1, 2, 3],
        };
        let refused = match rpc {
            "call" => raft.call(payload).await,
            _ => raft.vote(payload).await,
        }
        .expect_err("a stranger is refused");
        assert_eq!(
            refused.code(),
            tonic::Code::Unauthenticated,
            "{rpc}: {refused:?}"
        );
    }
    let log = cluster.node(1).log_text();
    assert!(
        !log.contains("a-long-shared-cluster-secret"),
        "the secret is in a log"
    );
}

#[tokio::test]
async fn a_worker_token_serves_only_its_groups() {
    let mut cluster = Cluster::start(1, &["--auth"]).await;
    let http = cluster.node(1).http.clone();
    let admin = Api::with_token(&http, &admin_token(&mut cluster).await);
    for g in ["a", "b"] {
        admin
            .post("/api/v1/groups", json!({"name": g, "remark": ""}))
            .await;
    }
    let worker_token = make_token(&admin, "worker", &["a"]).await;
    let file = cluster.dir.path().join("worker.token");
    std::fs::write(&file, &worker_token).expect("the token file");
    // A worker token reaches no API.
    let as_api = Api::with_token(&http, &worker_token);
    assert_eq!(as_api.get("/api/v1/jobs").await.0, StatusCode::FORBIDDEN);

    let endpoint = cluster.endpoint(1);
    let start = |group: &str, name: &str, token: Option<&std::path::Path>| {
        let mut args: Vec<String> = [
            "worker",
            "--endpoints",
            &endpoint,
            "--group",
            group,
            "--name",
            name,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(t) = token {
            args.extend(["--token-file".to_string(), t.display().to_string()]);
        }
        let mut p = common::Proc::new(args, cluster.dir.path().join(format!("{name}.log")));
        p.start();
        p
    };
    let in_a = start("a", "wa", Some(&file));
    let in_b = start("b", "wb", Some(&file));
    let anonymous = start("a", "anon", None);
    eventually("the worker with a token for a is online in a", || async {
        admin.ok("/api/v1/workers?group=a").await["items"]
            .as_array()
            .is_some_and(|w| w.iter().any(|w| w["name"] == json!("wa")))
    })
    .await;
    eventually("the others say why they are refused", || async {
        in_b.log_text().contains("may not serve group")
            && anonymous.log_text().contains("authentication required")
    })
    .await;
    let workers = admin.ok("/api/v1/workers").await;
    let names: Vec<&str> = workers["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    assert_eq!(names, ["wa"], "{workers}");
    drop(in_a);
}
