//! The original's answer to every handled request: HTTP 200 and
//! `{"code":0|-1,"data":…,"message":"…"}`, written as Echo's `c.JSON` wrote it: Go's JSON
//! encoding ([`crate::model::json::encode`]), `Content-Type: application/json; charset=UTF-8`,
//! a trailing newline, and indented by two spaces when the URL has `?pretty` ([`pretty`]).
//!
//! A handler returns a [`Reply`]: [`Done`] (code 0, its data and message) or a [`Refusal`]
//! (code -1, `data` null, the reason).

use std::borrow::Cow;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::jobs::JobError;
use crate::kv::KvError;
use crate::model::json::encode;

/// What Echo answered JSON with.
const CONTENT_TYPE: &str = "application/json; charset=UTF-8";

/// The message of most successful lists, misspelt as in the original ("query succeeded").
pub const LISTED: &str = "查询成成功";

/// The envelope, its fields in the original's order.
#[derive(Serialize)]
struct Envelope<'a, T> {
    code: i32,
    data: &'a T,
    message: &'a str,
}

/// A handled request that succeeded: `code` 0.
pub struct Done<T> {
    data: T,
    message: &'static str,
}

/// A handled request that was refused: `code` -1, `data` null, and why.
#[derive(Debug)]
pub struct Refusal(Cow<'static, str>);

pub type Reply<T> = Result<Done<T>, Refusal>;

/// Success with `data` and the route's `message`.
pub fn done<T>(data: T, message: &'static str) -> Reply<T> {
    Ok(Done { data, message })
}

/// A refusal with one of the original's messages.
pub fn refuse<T>(message: &'static str) -> Reply<T> {
    Err(Refusal::new(message))
}

/// Go's nil slice: an empty list is `null` where the original's handlers returned the slice
/// they had appended to.
pub fn nil_if_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

impl Refusal {
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Refusal(message.into())
    }
}

/// A failure of the cluster (no leader, a timeout) answers with its text, as the original
/// answered etcd's errors.
impl From<KvError> for Refusal {
    fn from(e: KvError) -> Self {
        Refusal::new(e.to_string())
    }
}

/// What a route does not map to one of the original's messages answers with its text.
impl From<JobError> for Refusal {
    fn from(e: JobError) -> Self {
        Refusal::new(e.to_string())
    }
}

impl<T: Serialize> IntoResponse for Done<T> {
    fn into_response(self) -> Response {
        json(
            StatusCode::OK,
            &Envelope {
                code: 0,
                data: &self.data,
                message: self.message,
            },
        )
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        json(
            StatusCode::OK,
            &Envelope {
                code: -1,
                data: &(),
                message: &self.0,
            },
        )
    }
}

/// `value` as Echo wrote JSON: Go's encoding and a trailing newline.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match encode(value) {
        Ok(mut body) => {
            body.push(b'\n');
            (
                status,
                [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
                body,
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "an answer of the original API did not encode");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}

/// Indents the JSON answer when the URL has `pretty` among its query parameters (Echo's
/// `?pretty`).
pub async fn pretty(req: Request, next: Next) -> Response {
    let wanted = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.split('=').next() == Some("pretty")));
    let resp = next.run(req).await;
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == CONTENT_TYPE);
    if !wanted || !is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // The body is an answer built in memory just above: reading it back cannot be too large.
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(compact) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(indent(&compact)))
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Go's `json.Indent(dst, src, "", "  ")` of compact JSON, which is how Echo indented: a
/// newline and two spaces per level after `{`, `[` and `,`, a space after `:`, and empty
/// objects and arrays left as `{}` and `[]`. Works on bytes: outside strings JSON's
/// punctuation is ASCII, and inside them every byte is copied.
fn indent(compact: &[u8]) -> Vec<u8> {
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', 2 * depth));
    };
    let mut out = Vec::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut bytes = compact.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if in_string {
            out.push(b);
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                out.push(b);
            }
            b'{' | b'[' => {
                out.push(b);
                match bytes.next_if(|next| matches!(next, b'}' | b']')) {
                    Some(close) => out.push(close),
                    None => {
                        depth += 1;
                        newline(&mut out, depth);
                    }
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::indent;

    #[test]
    fn indents_like_go() {
        let compact = r#"{"code":0,"data":[{"a":"x,{}:[\"]","b":[]},{}],"message":"查询成成功"}"#;
        let want = r#"{
  "code": 0,
  "data": [
    {
      "a": "x,{}:[\"]",
      "b": []
    },
    {}
  ],
  "message": "查询成成功"
}
"#;
        let got = indent(format!("{compact}\n").as_bytes());
        assert_eq!(String::from_utf8_lossy(&got), want);
        assert_eq!(indent(b"null\n"), b"null\n");
        // An escaped backslash does not escape the quote after it.
        assert_eq!(indent(br#"{"\\":1}"#), b"{\n  \"\\\\\": 1\n}");
    }
}
