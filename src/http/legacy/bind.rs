//! Request bodies read as Echo's `c.Bind` read them: JSON whose field names match in any
//! case ([`WireJson::from_json`], as Go's decoder), or a form (`name=…&status=1`, names in any
//! case too). An empty body, another media type or a malformed one cannot be bound; each
//! route answers that with its own message ([`Bound::or_refuse`]).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::envelope::Refusal;
use crate::model::WireJson;

/// Why a body could not be bound (for the log; the client gets the route's message).
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("the request body is empty")]
    Empty,
    #[error(transparent)]
    Body(#[from] BytesRejection),
    #[error("media type {0:?}: expected application/json or application/x-www-form-urlencoded")]
    MediaType(String),
    #[error("the body is not the request's JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the form does not parse: {0}")]
    Form(#[from] serde_urlencoded::de::Error),
    #[error("form field {field}: {value:?} is not an integer")]
    FormNumber { field: String, value: String },
}

/// A request body bound to `T`, or why it could not be.
pub struct Bound<T>(Result<T, BindError>);

impl<T> Bound<T> {
    /// The bound request, or the route's refusal for a body it cannot read.
    pub fn or_refuse(self, message: &'static str) -> Result<T, Refusal> {
        self.0.map_err(|e| {
            tracing::debug!(error = %e, "original API: request not bound");
            Refusal::new(message)
        })
    }
}

impl<T: WireJson + Default, S: Send + Sync> FromRequest<S> for Bound<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let media_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bound = match Bytes::from_request(req, state).await {
            Ok(body) => bind(&media_type, &body),
            Err(e) => Err(e.into()),
        };
        Ok(Bound(bound))
    }
}

fn bind<T: WireJson + Default>(media_type: &str, body: &[u8]) -> Result<T, BindError> {
    if body.is_empty() {
        return Err(BindError::Empty);
    }
    if media_type.starts_with("application/json") {
        Ok(T::from_json(body)?)
    } else if media_type.starts_with("application/x-www-form-urlencoded") {
        // Through JSON, so that the form's field names fold as a JSON body's do.
        let json = serde_json::to_vec(&form_to_json::<T>(body)?)?;
        Ok(T::from_json(&json)?)
    } else {
        Err(BindError::MediaType(media_type.to_string()))
    }
}

/// A form as the JSON object it stands for. Form values are all text; a field that is a
/// number in `T` (as its default value writes it) is read as one, and empty as 0, as Echo's
/// form binding did.
fn form_to_json<T: WireJson + Default>(body: &[u8]) -> Result<Value, BindError> {
    let Value::Object(template) = serde_json::to_value(T::default())? else {
        return Err(BindError::Json(serde_json::Error::custom(
            "the request type is not an object",
        )));
    };
    let mut object = Map::new();
    for (field, value) in serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)? {
        let numeric = template
            .iter()
            .any(|(name, v)| v.is_number() && name.eq_ignore_ascii_case(&field));
        let value = if !numeric {
            Value::String(value)
        } else if value.trim().is_empty() {
            Value::from(0)
        } else {
            match value.trim().parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => return Err(BindError::FormNumber { field, value }),
            }
        };
        object.insert(field, value);
    }
    Ok(Value::Object(object))
}

/// An integer filter that duck sends as `""` when its select is cleared: `""` reads as 0 (no
/// filter) and a number in a string as that number, where Go refused both.
pub fn loose_int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Number(i64),
        Text(String),
    }
    match Loose::deserialize(d)? {
        Loose::Number(n) => Ok(n),
        Loose::Text(text) if text.trim().is_empty() => Ok(0),
        Loose::Text(text) => text
            .trim()
            .parse()
            .map_err(|_| D::Error::custom(format_args!("{text:?} is not an integer"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GroupConf, JobConf};

    #[test]
    fn binds_json_in_any_case_and_forms() {
        let json = "application/json;charset=utf-8";
        let group: GroupConf =
            bind(json, r#"{"NAME":"trade","Remark":"交易"}"#.as_bytes()).unwrap();
        assert_eq!(
            (group.name.as_str(), group.remark.as_str()),
            ("trade", "交易")
        );

        let form = "application/x-www-form-urlencoded";
        let job: JobConf =
            bind(form, "Name=%E4%BA%A4&status=2&version=&target=7".as_bytes()).unwrap();
        assert_eq!(job.name, "交");
        assert_eq!((job.status, job.version), (2, 0));
        assert_eq!(job.target, "7", "a text field stays text, digits or not");

        assert!(matches!(
            bind::<JobConf>(form, b"status=x"),
            Err(BindError::FormNumber { .. })
        ));
        assert!(matches!(bind::<JobConf>(json, b""), Err(BindError::Empty)));
        assert!(matches!(
            bind::<JobConf>("text/plain", b"{}"),
            Err(BindError::MediaType(_))
        ));
        assert!(matches!(
            bind::<JobConf>(json, br#"{"status":""}"#),
            Err(BindError::Json(_))
        ));
    }
}
