//! The `http` target: the job's params describe one HTTP request, as JSON:
//!
//! ```json
//! {"method": "POST", "url": "https://example.com/hook", "headers": {"authorization": "…"},
//!  "body": "…", "expectStatus": 204, "timeout": 5000}
//! ```
//!
//! Only `url` is required; `method` defaults to GET, `timeout` is in milliseconds (the job's
//! own timeout applies as well). The run succeeds when the response status is `expectStatus`,
//! or any 2xx when none is given. The result text is the status and the start of the body. The
//! request carries `x-forest-snapshot-id`, the run's idempotency key, for the server to
//! deduplicate on.
//!
//! Only hosts the worker's [`HttpPolicy`] lists are called, redirects included (see
//! [`super::allow`]).
//!
//! One client serves every run, so connections to a host are reused between runs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use forest_sdk::{BoxFuture, Context, RunError, Target};
use reqwest::{redirect, Client, Method, RequestBuilder, StatusCode, Url};
use serde::Deserialize;

use super::allow::{HttpPolicy, Refused};

pub const TARGET: &str = "http";

/// How much of the response body the result text keeps.
const BODY_EXCERPT_BYTES: usize = 1024;
/// How many redirects a request follows, as reqwest's default policy.
const MAX_REDIRECTS: usize = 10;

/// The `http` target.
pub struct Http {
    client: Client,
    policy: Arc<HttpPolicy>,
}

/// A job's params.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HttpParams {
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: String,
    expect_status: Option<u16>,
    /// Milliseconds.
    timeout: Option<u64>,
}

fn get() -> String {
    "GET".to_string()
}

impl Http {
    pub fn new(policy: HttpPolicy) -> Result<Http, reqwest::Error> {
        let policy = Arc::new(policy);
        // An allowed host must not be a way to reach one that is not.
        let redirects = {
            let policy = Arc::clone(&policy);
            redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error("too many redirects");
                }
                match policy.check(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refused) => attempt.error(refused),
                }
            })
        };
        let client = Client::builder()
            .user_agent(concat!("forest-worker/", env!("CARGO_PKG_VERSION")))
            .redirect(redirects)
            .build()?;
        Ok(Http { client, policy })
    }
}

impl Target for Http {
    fn run(&self, ctx: Context) -> BoxFuture<Result<String, RunError>> {
        Box::pin(call(self.client.clone(), Arc::clone(&self.policy), ctx))
    }
}

async fn call(client: Client, policy: Arc<HttpPolicy>, ctx: Context) -> Result<String, RunError> {
    // Before the params are read: a worker that calls nothing says so whatever they hold.
    policy.check_open()?;
    let params: HttpParams = serde_json::from_str(ctx.params())
        .map_err(|e| format!("the params are not an http request: {e}"))?;
    let url = Url::parse(&params.url).map_err(|e| format!("the url is not valid: {e}"))?;
    policy.check(&url)?;
    let request = request(&client, &params, url, ctx.snapshot_id())?;
    let (status, body) = tokio::select! {
        exchanged = exchange(request) => exchanged.map_err(refused_redirect)?,
        () = ctx.cancelled() => return Err("cancelled: the request was abandoned".into()),
    };
    let text = format!("{status}: {body}");
    let expected = match params.expect_status {
        Some(want) => status.as_u16() == want,
        None => status.is_success(),
    };
    match (expected, params.expect_status) {
        (true, _) => Ok(text),
        (false, Some(want)) => Err(format!("expected status {want}, got {text}").into()),
        (false, None) => Err(format!("expected a 2xx status, got {text}").into()),
    }
}

fn request(
    client: &Client,
    params: &HttpParams,
    url: Url,
    snapshot_id: &str,
) -> Result<RequestBuilder, RunError> {
    let method = Method::from_bytes(params.method.to_ascii_uppercase().as_bytes())?;
    let mut request = client
        .request(method, url)
        .header("x-forest-snapshot-id", snapshot_id);
    for (name, value) in &params.headers {
        request = request.header(name, value);
    }
    if !params.body.is_empty() {
        request = request.body(params.body.clone());
    }
    if let Some(ms) = params.timeout {
        request = request.timeout(Duration::from_millis(ms));
    }
    Ok(request)
}

/// reqwest's message for a redirect the policy stopped leaves out why; this one says it.
fn refused_redirect(e: reqwest::Error) -> RunError {
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<Refused>() {
            return format!("{refused} (after a redirect)").into();
        }
        cause = c.source();
    }
    e.into()
}

/// Sends the request; the status and the start of the body (the rest is not read).
async fn exchange(request: RequestBuilder) -> Result<(StatusCode, String), reqwest::Error> {
    let mut response = request.send().await?;
    let status = response.status();
    let mut body = Vec::new();
    while body.len() < BODY_EXCERPT_BYTES {
        match response.chunk().await? {
            Some(chunk) => body.extend_from_slice(&chunk),
            None => break,
        }
    }
    body.truncate(BODY_EXCERPT_BYTES);
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
mod tests;
