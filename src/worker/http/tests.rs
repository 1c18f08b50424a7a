//! The http target against a small local axum server.

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;
use forest_sdk::pb;
use serde_json::json;

use super::*;
use crate::worker::allow::HostPattern;

/// Serves on 127.0.0.1:0; returns the base URL.
async fn server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The same server under a name the tests' policy does not list.
    let elsewhere = format!("http://localhost:{}/hello", addr.port());
    let app = Router::new()
        .route("/hello", get(|| async { "hello there" }))
        .route("/here", get(|| async { Redirect::temporary("/hello") }))
        .route(
            "/away",
            get(move || async move { Redirect::temporary(&elsewhere) }),
        )
        .route(
            "/echo",
            post(|headers: HeaderMap, body: String| async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                format!(
                    "{}|{}|{body}",
                    header("x-token"),
                    header("x-forest-snapshot-id")
                )
            }),
        )
        .route(
            "/teapot",
            get(|| async { (AxumStatus::IM_A_TEAPOT, "short and stout") }),
        )
        .route("/big", get(|| async { "x".repeat(100_000) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn ctx(params: serde_json::Value) -> Context {
    Context::new(pb::Dispatch {
        snapshot_id: "snap-1".into(),
        target: TARGET.into(),
        params: params.to_string(),
        ..Default::default()
    })
}

/// The policy of these tests: the local server, by address.
fn local() -> HttpPolicy {
    HttpPolicy::new(vec![HostPattern::parse("127.0.0.1").unwrap()])
}

async fn call_with(params: serde_json::Value) -> Result<String, RunError> {
    Http::new(local()).unwrap().run(ctx(params)).await
}

#[tokio::test]
async fn a_get_returns_status_and_body() {
    let base = server().await;
    let text = call_with(json!({"url": format!("{base}/hello")}))
        .await
        .unwrap();
    assert_eq!(text, "200 OK: hello there");
}

#[tokio::test]
async fn method_headers_and_body_are_sent_with_the_snapshot_id() {
    let base = server().await;
    let text = call_with(json!({
        "method": "post",
        "url": format!("{base}/echo"),
        "headers": {"x-token": "secret"},
        "body": "payload",
    }))
    .await
    .unwrap();
    assert_eq!(text, "200 OK: secret|snap-1|payload");
}

#[tokio::test]
async fn an_unexpected_status_is_an_error_and_an_expected_one_is_not() {
    let base = server().await;
    let url = format!("{base}/teapot");
    let e = call_with(json!({"url": url})).await.unwrap_err();
    assert!(e.to_string().contains("418"), "{e}");
    let text = call_with(json!({"url": url, "expectStatus": 418}))
        .await
        .unwrap();
    assert!(
        text.starts_with("418 I'm a teapot: short and stout"),
        "{text}"
    );
    let e = call_with(json!({"url": format!("{base}/hello"), "expectStatus": 204}))
        .await
        .unwrap_err();
    assert!(
        e.to_string().starts_with("expected status 204, got 200 OK"),
        "{e}"
    );
}

#[tokio::test]
async fn the_result_keeps_only_the_start_of_a_big_body() {
    let base = server().await;
    let text = call_with(json!({"url": format!("{base}/big")}))
        .await
        .unwrap();
    assert_eq!(text.len(), "200 OK: ".len() + BODY_EXCERPT_BYTES);
}

#[tokio::test]
async fn bad_params_are_an_error() {
    let e = call_with(json!({"method": "GET"})).await.unwrap_err();
    assert!(e.to_string().contains("not an http request"), "{e}");
    let e = call_with(json!({"url": "http://127.0.0.1:1/", "bogus": 1}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("bogus"), "{e}");
}

#[tokio::test]
async fn the_params_timeout_and_cancellation_end_a_slow_request() {
    let base = server().await;
    let url = format!("{base}/slow");
    let e = call_with(json!({"url": url, "timeout": 50}))
        .await
        .unwrap_err();
    assert!(!e.to_string().is_empty());

    let c = ctx(json!({"url": url}));
    let running = tokio::spawn(Http::new(local()).unwrap().run(c.clone()));
    c.cancellation().cancel();
    let e = running.await.unwrap().unwrap_err();
    assert!(e.to_string().starts_with("cancelled"), "{e}");
}

#[tokio::test]
async fn a_worker_that_lists_no_host_refuses_before_reading_the_params() {
    let http = Http::new(HttpPolicy::default()).unwrap();
    let e = http
        .run(ctx(json!("not even an object")))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "refused: HTTP calls are not allowed on this worker (start it with --http-allow HOST)"
    );
}

#[tokio::test]
async fn a_host_not_listed_is_refused_without_a_request() {
    let base = server().await;
    let port = base.rsplit_once(':').unwrap().1;
    let e = call_with(json!({"url": format!("http://localhost:{port}/hello")}))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("refused: localhost:{port} is not in this worker's --http-allow list")
    );
}

#[tokio::test]
async fn a_redirect_is_followed_only_to_a_listed_host() {
    let base = server().await;
    let text = call_with(json!({"url": format!("{base}/here")}))
        .await
        .unwrap();
    assert_eq!(text, "200 OK: hello there");
    let e = call_with(json!({"url": format!("{base}/away")}))
        .await
        .unwrap_err();
    let e = e.to_string();
    assert!(
        e.starts_with("refused: localhost:") && e.ends_with("--http-allow list (after a redirect)"),
        "{e}"
    );
}
