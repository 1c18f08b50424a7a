//! The REST API v1 against real nodes: every route, bad input refused with a clear error and
//! nothing stored, any node answering, and the OpenAPI document matching the routes.

mod common;

use common::http::Api;
use common::{eventually, worker_process, Cluster};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Asserts a refusal: its status, and a message that mentions `about`.
fn refused(answer: (StatusCode, Value), status: StatusCode, about: &str) {
    let (got, body) = answer;
    assert_eq!(got, status, "{body}");
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(
        message(&body).to_lowercase().contains(about),
        "{about:?} not in {body}"
    );
}

fn a_job(group: &str) -> Value {
    json!({"name": "nightly", "group": group, "cron": "0 0 3 * * *", "target": "shell", "params": "true"})
}

#[tokio::test]
async fn jobs_and_groups_are_managed_through_any_node_and_bad_input_stores_nothing() {
    let mut cluster = Cluster::start(3, &[]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let follower = (1..=3).find(|id| *id != leader).expect("a follower");
    let other = (1..=3)
        .find(|id| *id != leader && *id != follower)
        .expect("a third node");
    let api = Api::new(&cluster.node(follower).http.clone());
    let reader = Api::new(&cluster.node(other).http.clone());

    let (status, group) = api
        .post("/api/v1/groups", json!({"name": "g", "remark": "ours"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    refused(
        api.post("/api/v1/groups", json!({"name": "g"})).await,
        StatusCode::CONFLICT,
        "exists",
    );
    refused(
        api.post("/api/v1/groups", json!({"name": "a/b"})).await,
        StatusCode::BAD_REQUEST,
        "name",
    );

    let bad = [
        (
            json!({"group": "g", "cron": "* * * * * *", "target": "t"}),
            "name",
        ),
        (
            json!({"name": "n", "group": "g", "cron": "61 * * * * *", "target": "t"}),
            "cron",
        ),
        (
            json!({"name": "n", "group": "g", "cron": "", "target": "t"}),
            "cron",
        ),
        (
            json!({"name": "n", "group": "nope", "cron": "* * * * * *", "target": "t"}),
            "group",
        ),
        (
            json!({"name": "n", "group": "g", "cron": "* * * * * *", "target": ""}),
            "target",
        ),
        (
            json!({"name": "n", "group": "g", "cron": "* * * * * *", "target": "t", "timezone": "Mars/Base"}),
            "timezone",
        ),
        (
            json!({"name": "n", "group": "g", "cron": "* * * * * *", "target": "t", "route": "sideways"}),
            "route",
        ),
        (json!(["not", "an", "object"]), "object"),
    ];
    for (job, about) in bad {
        refused(
            api.post("/api/v1/jobs", job).await,
            StatusCode::BAD_REQUEST,
            about,
        );
    }
    refused(
        api.raw(
            Method::POST,
            "/api/v1/jobs",
            "application/json",
            b"{\"name\":".to_vec(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "json",
    );
    let (status, _) = api
        .raw(Method::POST, "/api/v1/jobs", "text/plain", b"{}".to_vec())
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({"name": "n", "group": "g", "cron": "* * * * * *", "target": "t", "params": "x".repeat(300 * 1024)});
    let (status, body) = api.post("/api/v1/jobs", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "too_large");
    assert_eq!(
        reader.ok("/api/v1/jobs").await["total"],
        0,
        "a refused job was stored"
    );

    let (status, job) = api.post("/api/v1/jobs", a_job("g")).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().expect("an id").to_string();
    assert_eq!(
        (job["version"].clone(), job["status"].clone()),
        (json!(1), json!(1))
    );
    let path = format!("/api/v1/jobs/{id}");
    eventually("the job is readable on another node", || async {
        reader.get(&path).await.0 == StatusCode::OK
    })
    .await;
    assert_eq!(reader.ok(&path).await, job);
    for (query, total) in [
        ("", 1),
        ("?group=g", 1),
        ("?group=h", 0),
        ("?q=NIGHT", 1),
        ("?q=zzz", 0),
        ("?status=1", 1),
        ("?status=2", 0),
    ] {
        assert_eq!(
            reader.ok(&format!("/api/v1/jobs{query}")).await["total"],
            total,
            "{query}"
        );
    }
    refused(
        reader.get("/api/v1/jobs?status=7").await,
        StatusCode::BAD_REQUEST,
        "status",
    );
    refused(
        reader.get("/api/v1/jobs?pageSize=5000").await,
        StatusCode::BAD_REQUEST,
        "pagesize",
    );
    refused(
        reader.get("/api/v1/jobs?page=x").await,
        StatusCode::BAD_REQUEST,
        "page",
    );

    let mut edited = job.clone();
    edited["name"] = json!("renamed");
    edited.as_object_mut().expect("an object").remove("version");
    refused(
        api.call(Method::PUT, &path, Some(&edited)).await,
        StatusCode::BAD_REQUEST,
        "version",
    );
    edited["version"] = json!(7);
    refused(
        api.call(Method::PUT, &path, Some(&edited)).await,
        StatusCode::CONFLICT,
        "version",
    );
    edited["version"] = json!(1);
    edited["id"] = json!("other");
    refused(
        api.call(Method::PUT, &path, Some(&edited)).await,
        StatusCode::BAD_REQUEST,
        "id",
    );
    edited["id"] = json!(id);
    let (status, put) = api.call(Method::PUT, &path, Some(&edited)).await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(
        (put["name"].clone(), put["version"].clone()),
        (json!("renamed"), json!(2))
    );

    let (status, patched) = api
        .call(
            Method::PATCH,
            &path,
            Some(&json!({"remark": "r", "timeout": 30})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (
            patched["remark"].clone(),
            patched["timeout"].clone(),
            patched["version"].clone()
        ),
        (json!("r"), json!(30), json!(3))
    );
    refused(
        api.call(Method::PATCH, &path, Some(&json!({"cron": "bad"})))
            .await,
        StatusCode::BAD_REQUEST,
        "cron",
    );
    refused(
        api.call(
            Method::PATCH,
            &path,
            Some(&json!({"version": 1, "name": "x"})),
        )
        .await,
        StatusCode::CONFLICT,
        "version",
    );
    assert_eq!(
        api.ok(&path).await["version"],
        3,
        "a refused patch changed the job"
    );

    let (status, paused) = api.post(&format!("{path}/pause"), json!({})).await;
    assert_eq!(
        (status, paused["status"].clone()),
        (StatusCode::OK, json!(2))
    );
    assert_eq!(reader.ok("/api/v1/jobs?status=2").await["total"], 1);
    let (status, resumed) = api.post(&format!("{path}/resume"), Value::Null).await;
    assert_eq!(
        (status, resumed["status"].clone()),
        (StatusCode::OK, json!(1))
    );

    let next = reader.ok(&format!("{path}/next?count=3")).await;
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = next["times"]
        .as_array()
        .expect("times")
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t.as_str().expect("text")).expect("RFC 3339"))
        .collect();
    assert_eq!(times.len(), 3);
    assert!(
        times
            .windows(2)
            .all(|w| w[1] - w[0] == chrono::Duration::days(1)),
        "{next}"
    );
    refused(
        reader.get(&format!("{path}/next?count=0")).await,
        StatusCode::BAD_REQUEST,
        "count",
    );

    let (status, preview) = reader
        .post(
            "/api/v1/cron/preview",
            json!({"cron": "0 30 9 * * 1", "timezone": "Asia/Shanghai", "count": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(
        preview["times"][0]
            .as_str()
            .expect("a time")
            .ends_with("09:30:00+08:00"),
        "{preview}"
    );
    let (status, crontab) = reader
        .post(
            "/api/v1/cron/preview",
            json!({"cron": "*/5 * * * *", "cronSyntax": "crontab", "count": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{crontab}");
    refused(
        reader
            .post("/api/v1/cron/preview", json!({"cron": "* * *"}))
            .await,
        StatusCode::BAD_REQUEST,
        "cron",
    );
    // A body of the wrong shape is 400 like any invalid input, not axum's 422 (schemathesis).
    refused(
        reader
            .post("/api/v1/cron/preview", json!({"count": 2}))
            .await,
        StatusCode::BAD_REQUEST,
        "cron",
    );

    let groups = reader.ok("/api/v1/groups").await;
    assert_eq!(groups["items"], json!([group]));

    let (status, _) = api.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    refused(api.get(&path).await, StatusCode::NOT_FOUND, "not found");
    refused(
        api.call(Method::DELETE, &path, None).await,
        StatusCode::NOT_FOUND,
        "not found",
    );
}

#[tokio::test]
async fn runs_workers_snapshots_and_the_cluster_are_visible() {
    let mut cluster = Cluster::start(1, &[]).await;
    let api = Api::new(&cluster.node(1).http.clone());
    for g in ["g", "idle"] {
        let (status, body) = api
            .post("/api/v1/groups", json!({"name": g, "remark": ""}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let endpoint = cluster.endpoint(1);
    let _worker = worker_process(cluster.dir.path(), &endpoint, "g", "w1");
    let (_, job) = api
        .post("/api/v1/jobs", json!({"name": "hello", "group": "g", "cron": "* * * * * *", "target": "shell", "params": "echo hi"}))
        .await;
    let id = job["id"].as_str().expect("an id").to_string();

    let succeeded = format!("/api/v1/executions?jobId={id}&status=2");
    eventually("a run of the job succeeds and is listed", || async {
        api.ok(&succeeded).await["items"][0].is_object()
    })
    .await;
    let done = api.ok(&succeeded).await["items"][0].clone();
    assert_eq!(
        (done["statusName"].clone(), done["worker"].clone()),
        (json!("success"), json!("w1"))
    );
    let run = api
        .ok(&format!(
            "/api/v1/executions/{}",
            done["id"].as_str().expect("an id")
        ))
        .await;
    assert_eq!(run["output"].as_str().map(str::trim), Some("hi"), "{run}");
    refused(
        api.get("/api/v1/executions/nope").await,
        StatusCode::NOT_FOUND,
        "not found",
    );

    // More manual runs in a moment than one second's numbers: each its own run, none lost.
    let mut asked = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let (status, queued) = api.post(&format!("/api/v1/jobs/{id}/run"), json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
        asked.insert(queued["snapshotId"].as_str().expect("an id").to_string());
    }
    assert_eq!(asked.len(), 12, "two manual runs shared an id: {asked:?}");
    for sid in &asked {
        eventually("every manual run succeeds", || async {
            let (status, r) = api.get(&format!("/api/v1/executions/{sid}")).await;
            status == StatusCode::OK && r["status"] == json!(2)
        })
        .await;
    }

    let runs = api.ok(&format!("/api/v1/jobs/{id}/runs?pageSize=2")).await;
    assert!(runs["total"].as_i64().expect("a total") >= 1, "{runs}");
    assert!(runs["items"].as_array().expect("items").len() <= 2);
    assert!(runs["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|r| r["jobId"] == json!(id)));
    let stats = api.ok(&format!("/api/v1/jobs/{id}/stats")).await;
    assert!(
        stats["successes"].as_i64().expect("successes") >= 1,
        "{stats}"
    );

    let workers = api.ok("/api/v1/workers").await;
    let w = &workers["items"][0];
    assert_eq!(
        (w["group"].clone(), w["name"].clone(), w["legacy"].clone()),
        (json!("g"), json!("w1"), json!(false)),
        "{workers}"
    );
    assert!(w["capacity"].as_u64().expect("a capacity") >= 1);
    assert_eq!(
        api.ok("/api/v1/workers?group=idle").await["items"],
        json!([])
    );

    let dash = api.ok("/api/v1/stats").await;
    assert_eq!(
        (
            dash["jobs"].clone(),
            dash["groups"].clone(),
            dash["workersOnline"].clone()
        ),
        (json!(1), json!(2), json!(1)),
        "{dash}"
    );
    assert_eq!(dash["perMinute"].as_array().expect("minutes").len(), 60);
    assert!(
        dash["lastHour"]["successes"].as_i64().expect("a count") >= 1,
        "{dash}"
    );

    let cl = api.ok("/api/v1/cluster").await;
    assert_eq!(
        (cl["leaderId"].clone(), cl["members"][0]["role"].clone()),
        (json!(1), json!("leader")),
        "{cl}"
    );

    // A manual run of a job whose group has no worker waits; withdrawn, it is recorded.
    let (_, idle) = api
        .post("/api/v1/jobs", json!({"name": "later", "group": "idle", "cron": "0 0 0 1 1 *", "target": "shell", "params": "true", "status": 2}))
        .await;
    let idle_id = idle["id"].as_str().expect("an id").to_string();
    let (status, queued) = api
        .post(&format!("/api/v1/jobs/{idle_id}/run"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let sid = queued["snapshotId"]
        .as_str()
        .expect("a snapshot id")
        .to_string();
    let waiting = api.ok("/api/v1/snapshots?group=idle").await;
    assert_eq!(
        (
            waiting["items"][0]["id"].clone(),
            waiting["items"][0]["state"].clone()
        ),
        (json!(sid), json!("waiting")),
        "{waiting}"
    );
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/snapshots/idle/{sid}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.ok("/api/v1/snapshots?group=idle").await["items"],
        json!([])
    );
    refused(
        api.call(
            Method::DELETE,
            &format!("/api/v1/snapshots/idle/{sid}"),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not waiting",
    );
    eventually("the withdrawn tick is recorded cancelled", || async {
        let (status, r) = api.get(&format!("/api/v1/executions/{sid}")).await;
        status == StatusCode::OK && r["statusName"] == json!("cancelled")
    })
    .await;
}

/// Every route the document names exists with its method (an unknown one answers `no_route`
/// or 405), every route the tests above use is in the document, and what each answers to an
/// empty or unreadable request is an answer the document lists for it (as schemathesis checks:
/// a client generated from the document must know every status it can get).
#[tokio::test]
async fn the_openapi_document_describes_the_routes_the_server_has() {
    let mut cluster = Cluster::start(1, &[]).await;
    let api = Api::new(&cluster.node(1).http.clone());
    let (status, unknown) = api.get("/api/v1/nothing-here").await;
    assert_eq!(
        (status, unknown["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("no_route"))
    );
    let doc = api.ok("/api/v1/openapi.json").await;
    let paths = doc["paths"].as_object().expect("paths");
    for want in [
        "/api/v1/jobs",
        "/api/v1/jobs/{id}",
        "/api/v1/jobs/{id}/pause",
        "/api/v1/jobs/{id}/resume",
        "/api/v1/jobs/{id}/run",
        "/api/v1/jobs/{id}/next",
        "/api/v1/jobs/{id}/runs",
        "/api/v1/jobs/{id}/stats",
        "/api/v1/cron/preview",
        "/api/v1/groups",
        "/api/v1/workers",
        "/api/v1/snapshots",
        "/api/v1/snapshots/{group}/{id}",
        "/api/v1/executions",
        "/api/v1/executions/{id}",
        "/api/v1/stats",
        "/api/v1/cluster",
    ] {
        assert!(paths.contains_key(want), "{want} is not in the document");
    }
    for (path, ops) in paths {
        let concrete = path.replace("{id}", "x").replace("{group}", "g");
        for (method, op) in ops.as_object().expect("operations") {
            if op["responses"]["200"]["content"]
                .get("text/event-stream")
                .is_some()
            {
                continue; // a stream never ends; the events test reads it
            }
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            let body = (m != Method::GET && m != Method::DELETE).then(|| json!({}));
            let documented = |status: StatusCode| op["responses"].get(status.as_str()).is_some();
            let (status, answer) = api.call(m.clone(), &concrete, body.as_ref()).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_ne!(answer["error"]["code"], "no_route", "{method} {path}");
            assert!(
                !status.is_server_error(),
                "{method} {path}: {status} {answer}"
            );
            assert!(documented(status), "{method} {path}: {status} {answer}");
            if op.get("requestBody").is_some() {
                for (content_type, want) in [
                    ("text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE),
                    ("application/json", StatusCode::BAD_REQUEST),
                ] {
                    let (status, answer) = api
                        .raw(m.clone(), &concrete, content_type, b"{\"a\":".to_vec())
                        .await;
                    assert_eq!(status, want, "{method} {path}: {answer}");
                    assert!(documented(status), "{method} {path}: {status} {answer}");
                }
            }
            if path.contains('{') {
                // A path segment that is not UTF-8 once decoded.
                let (status, answer) = api
                    .call(
                        m.clone(),
                        &path.replace("{id}", "%FF").replace("{group}", "g"),
                        body.as_ref(),
                    )
                    .await;
                assert!(documented(status), "{method} {path}: {status} {answer}");
            }
        }
    }
}

/// Reads server-sent events until `want` has been seen, returning the text read.
async fn await_events(resp: &mut reqwest::Response, want: &[&str]) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while !want.iter().all(|w| seen.contains(w)) {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .unwrap_or_else(|_| panic!("not all of {want:?} in:\n{seen}"))
            .expect("the stream stays open")
            .expect("the stream does not end");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

#[tokio::test]
async fn live_events_metrics_and_readiness_tell_what_happens() {
    let mut cluster = Cluster::start(1, &[]).await;
    let http = cluster.node(1).http.clone();
    let api = Api::new(&http);
    let mut events = reqwest::get(format!("http://{http}/api/v1/events"))
        .await
        .expect("the event stream opens");
    assert_eq!(
        events.headers()["content-type"].to_str().ok(),
        Some("text/event-stream")
    );
    await_events(&mut events, &["event: leader", "\"leaderId\":1"]).await;

    api.post("/api/v1/groups", json!({"name": "g", "remark": ""}))
        .await;
    let endpoint = cluster.endpoint(1);
    let _worker = worker_process(cluster.dir.path(), &endpoint, "g", "w1");
    await_events(
        &mut events,
        &["event: worker", "\"change\":\"joined\"", "\"name\":\"w1\""],
    )
    .await;
    let (_, job) = api
        .post("/api/v1/jobs", json!({"name": "tick", "group": "g", "cron": "* * * * * *", "target": "shell", "params": "true"}))
        .await;
    let id = job["id"].as_str().expect("an id");
    let seen = await_events(
        &mut events,
        &["event: job", "event: run", "\"status\":1", "\"status\":2"],
    )
    .await;
    assert!(seen.contains(id), "{seen}");

    let (status, ready) = api.get("/readyz").await;
    assert_eq!(
        (status, ready["ready"].clone()),
        (StatusCode::OK, json!(true)),
        "{ready}"
    );
    let scrape = || async {
        reqwest::get(format!("http://{http}/metrics"))
            .await
            .expect("metrics answer")
            .text()
            .await
            .expect("a text")
    };
    eventually("the run is counted in the metrics", || async {
        scrape()
            .await
            .contains("forest_runs_total{status=\"success\"}")
    })
    .await;
    let text = scrape().await;
    for want in [
        "forest_fire_delay_seconds_bucket",
        "forest_raft_term 1",
        "forest_raft_is_leader 1",
        "forest_workers_online 1",
        "forest_raft_applied_index",
        "forest_raft_commit_index",
    ] {
        assert!(text.contains(want), "{want} not in:\n{text}");
    }
}

#[tokio::test]
async fn a_node_that_lost_its_quorum_is_not_ready() {
    let mut cluster = Cluster::start(3, &[]).await;
    let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
    let survivor = (1..=3).find(|id| *id != leader).expect("a follower");
    let api = Api::new(&cluster.node(survivor).http.clone());
    assert_eq!(api.get("/readyz").await.0, StatusCode::OK);
    for id in (1..=3).filter(|id| *id != survivor) {
        cluster.node(id).kill();
    }
    eventually("the survivor says it is not ready", || async {
        let (status, body) = api.get("/readyz").await;
        status == StatusCode::SERVICE_UNAVAILABLE && body["reasons"][0] == json!("no leader known")
    })
    .await;
}
