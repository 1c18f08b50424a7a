//! The REST API from the command line: the first of `--server` that answers serves the call;
//! an error answer becomes the command's one-line reason.

use anyhow::{anyhow, Context};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// How long one call may take.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub struct Api {
    servers: Vec<String>,
    http: reqwest::Client,
    token: Option<String>,
}

/// An answer: the body exactly as sent (to print with `--output json`) and parsed.
pub struct Answer {
    pub text: String,
    pub json: Value,
}

impl Api {
    pub fn new(servers: &[String], token: Option<String>) -> anyhow::Result<Api> {
        let servers: Vec<String> = servers
            .iter()
            .map(|s| {
                let s = s.trim_end_matches('/');
                if s.contains("://") {
                    s.to_string()
                } else {
                    format!("http://{s}")
                }
            })
            .collect();
        if servers.is_empty() {
            anyhow::bail!("no --server given");
        }
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .context("cannot make an HTTP client")?;
        Ok(Api {
            servers,
            http,
            token,
        })
    }

    /// Sends `body` to `path` (under /api/v1) and returns the answer, or the API's error as
    /// `<code>: <message>`. A server that cannot be reached passes the call to the next.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let mut last = anyhow!("no --server given");
        for server in &self.servers {
            let mut req = self
                .http
                .request(method.clone(), format!("{server}/api/v1{path}"));
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b.to_string());
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if e.is_connect() => {
                    last = anyhow!("cannot connect to {server}: {e}");
                    continue;
                }
                Err(e) => return Err(anyhow!("{server}: {e}")),
            };
            let status = resp.status();
            let text = resp
                .text()
                .await
                .with_context(|| format!("{server} broke off its answer"))?;
            let json: Value = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).with_context(|| {
                    format!("{server} answered {status} with something not JSON")
                })?
            };
            if !status.is_success() {
                return Err(refusal(status, &json));
            }
            return Ok(Answer { text, json });
        }
        Err(last)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Answer> {
        self.call(Method::POST, path, Some(body)).await
    }
}

fn refusal(status: StatusCode, body: &Value) -> anyhow::Error {
    let code = body["error"]["code"].as_str().unwrap_or("error");
    let message = body["error"]["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| status.to_string());
    anyhow!("{}: {message}", code.replace('_', " "))
}

/// `s` made safe for a path segment or a query value (percent-encoded).
pub fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A query string of the given pairs, the unset ones left out.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let set: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", escape(v))))
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!("?{}", set.join("&"))
    }
}
