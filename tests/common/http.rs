//! A node's HTTP API, as a script would use it: JSON in, status and JSON out.

use reqwest::{Method, StatusCode};
use serde_json::Value;

pub struct Api {
    base: String,
    client: reqwest::Client,
    token: Option<String>,
}

impl Api {
    /// The API of the node whose HTTP listener is at `addr` (HOST:PORT).
    pub fn new(addr: &str) -> Api {
        Api {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            token: None,
        }
    }

    /// The same API, each request carrying `token` as its bearer.
    pub fn with_token(addr: &str, token: &str) -> Api {
        Api {
            token: Some(token.to_string()),
            ..Api::new(addr)
        }
    }

    /// Sends `body` (JSON, if any) to `path` and returns the status and the JSON answer
    /// (`Null` for an empty one).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        self.send(req).await
    }

    /// Sends raw bytes with a content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        self.send(req).await
    }

    async fn send(&self, mut req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("the node answers HTTP");
        let status = resp.status();
        let text = resp.text().await.expect("a body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(&body)).await
    }

    /// GET that must succeed.
    pub async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }
}
