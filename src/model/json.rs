//! Reading and writing the original's JSON values the way its Go code (`encoding/json`) did.
//!
//! **Reading** ([`WireJson::from_json`]) accepts everything the original accepted from its
//! clients (forest-compat §8):
//! - field names in any ASCII case (`jobid`, `JobId`, `JOBID` all fill `jobId`), because Go
//!   matches them case-insensitively. When a value carries both the exact name and another
//!   spelling, the exact name wins (Go would take whichever came last in the text; only a
//!   hand-made value can tell the difference). Go also folds two non-ASCII letters (the Kelvin
//!   sign and the long s) that no real field name needs; they are not folded here;
//! - missing fields (the Java SDK omits null fields), which take their zero value;
//! - `null` for any field, which Go treats as absent;
//! - unknown fields, which are ignored.
//!
//! Plain `serde_json::from_slice` on these types also works, but matches names exactly and
//! rejects `null` for a string: use it only for values Forest itself wrote.
//!
//! **Writing** ([`WireJson::to_json`]) gives the same bytes as Go for the same value: fields
//! in the original struct order, no indentation, and Go's escaping: `<`, `>`, `&`, U+2028 and
//! U+2029 as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`, backspace and form feed as
//! `\u0008`, `\u000c` (Go before 1.22; the original was built with Go 1.12). serde_json
//! writes those characters raw (or `\b`, `\f`), which every reader (Go, fastjson, serde)
//! accepts alike, so wire compatibility would not need the escaping. Forest escapes anyway:
//! it costs nothing, and a value Forest stores is then byte-identical to the one the original
//! would have stored, which keeps compare-and-swap on whole values (the original's
//! `Update(key, new, old)`, forest-compat §1.3) and byte comparisons by outside tools working.
//! The fields Forest added are written only when they differ from their default, so a value
//! that uses none of them is exactly the original's.

use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};
use serde_json::{Map, Value};

/// A value of the original's JSON vocabulary: Go-compatible decoding and encoding.
pub trait WireJson: Serialize + DeserializeOwned {
    /// Every JSON field name of the type, as written; reading folds other spellings onto these.
    const FIELDS: &'static [&'static str];

    /// Decodes a value as Go's `json.Unmarshal` would (see the module documentation).
    fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        match serde_json::from_slice(bytes)? {
            // The path names the field at fault: "route: unknown variant …", not just the
            // variant.
            Value::Object(members) => {
                serde_path_to_error::deserialize(fold_keys(members, Self::FIELDS)).map_err(|e| {
                    serde::de::Error::custom(format_args!("{}: {}", e.path(), e.inner()))
                })
            }
            // serde would read an array as the struct's fields in order; Go refuses it.
            other => Err(serde::de::Error::custom(format_args!(
                "expected a JSON object, not {}",
                kind(&other)
            ))),
        }
    }

    /// Encodes the value as Go's `json.Marshal` would (see the module documentation).
    fn to_json(&self) -> String {
        // Cannot fail: these types hold only strings, integers, unit enums, chrono times and
        // string-keyed maps, and the writer is a Vec.
        let out = encode(self).expect("the model's types always serialize");
        // Cannot fail: serde_json writes UTF-8 and the formatter only adds ASCII.
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }
}

/// Encodes any value as Go's `json.Marshal` would (see the module documentation), for
/// answers that wrap the model's values, such as the original HTTP API's envelope.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(256);
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out,
        GoFormatter,
    ))?;
    Ok(out)
}

/// Renames the members whose name matches a field name case-insensitively to that name, and
/// drops `null` members.
fn fold_keys(members: Map<String, Value>, fields: &[&'static str]) -> Value {
    let mut folded = Map::new();
    let mut exact = Vec::new();
    for (key, member) in members {
        if member.is_null() {
            continue;
        }
        if fields.contains(&key.as_str()) {
            exact.push((key, member));
        } else {
            let name = fields
                .iter()
                .find(|field| field.eq_ignore_ascii_case(&key))
                .map_or(key, |field| (*field).to_string());
            folded.insert(name, member);
        }
    }
    // Exact names last, so they win over other spellings of the same field.
    folded.extend(exact);
    Value::Object(folded)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// serde_json's compact output with Go's string escaping.
struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            if matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') {
                writer.write_all(&fragment.as_bytes()[start..at])?;
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = at + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W>(&mut self, writer: &mut W, escape: CharEscape) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        let text: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"\\/",
            CharEscape::Backspace => b"\\u0008",
            CharEscape::FormFeed => b"\\u000c",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => return write!(writer, "\\u{:04x}", byte),
        };
        writer.write_all(text)
    }
}

/// For `skip_serializing_if`: the fields Forest added are written only when set.
pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    struct Sample {
        job_id: String,
        times: i64,
    }

    impl WireJson for Sample {
        const FIELDS: &'static [&'static str] = &["jobId", "times"];
    }

    #[test]
    fn escapes_like_go() {
        let s = Sample {
            job_id: "<a href=\"x\">&</a>\u{2028}\u{2029}\u{8}\u{c}\n\r\t\\/\u{1}é交易".into(),
            times: 3,
        };
        assert_eq!(
            s.to_json(),
            r#"{"jobId":"\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e\u2028\u2029\u0008\u000c\n\r\t\\/\u0001é交易","times":3}"#
        );
        // Both spellings read back to the same value.
        assert_eq!(Sample::from_json(s.to_json().as_bytes()).ok(), Some(s));
        let raw = serde_json::to_string(&Sample {
            job_id: "<&>".into(),
            times: 0,
        })
        .ok();
        assert_eq!(raw.as_deref(), Some(r#"{"jobId":"<&>","times":0}"#));
        assert_eq!(
            Sample::from_json(br#"{"jobId":"<&>"}"#)
                .ok()
                .map(|s| s.job_id),
            Some("<&>".to_string())
        );
    }

    #[test]
    fn reads_like_go() {
        let read = |text: &str| Sample::from_json(text.as_bytes()).ok();
        let want = |id: &str, times| {
            Some(Sample {
                job_id: id.into(),
                times,
            })
        };
        assert_eq!(read(r#"{"JOBID":"a","Times":2}"#), want("a", 2));
        assert_eq!(read(r#"{"jobid":"a"}"#), want("a", 0));
        assert_eq!(read(r#"{"JobId":"b","jobId":"a"}"#), want("a", 0));
        assert_eq!(
            read(r#"{"jobId":null,"times":null,"other":1}"#),
            want("", 0)
        );
        assert_eq!(read(r#"{"jobId":"a","jobId":"b"}"#), want("b", 0));
        assert_eq!(read("{}"), want("", 0));
        assert_eq!(read(r#"{"times":"1"}"#), None);
        assert_eq!(read(r#"{"times":1.5}"#), None);
        assert_eq!(read("[]"), None);
        assert_eq!(read(r#"["a",1]"#), None);
        assert_eq!(read("null"), None);
        assert_eq!(read("not json"), None);
    }
}
