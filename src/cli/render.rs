//! How client commands print what a node answered: one JSON document with `--output json`
//! (the server's JSON exactly as sent), else text (a table or one field per line).

use std::future::Future;

use anyhow::Context;
use serde_json::{json, Value};
use tonic::{Response, Status};

use super::client::status;
use super::Output;

/// Awaits one call and prints what `render` makes of its reply, a JSON
/// document and a text: the document with `--output json`, else the text.
pub async fn show<T>(
    output: Output,
    call: impl Future<Output = Result<Response<T>, Status>>,
    render: impl FnOnce(T) -> anyhow::Result<(String, String)>,
) -> anyhow::Result<()> {
    let reply = call.await.map_err(status)?.into_inner();
    let (doc, text) = render(reply)?;
    match output {
        Output::Json => println!("{doc}"),
        Output::Text => println!("{text}"),
    }
    Ok(())
}

/// A JSON value the server sent.
pub fn parse(json: &str) -> anyhow::Result<Value> {
    serde_json::from_str(json).context("the server sent a reply that is not JSON")
}

/// A list the server sent as JSON texts: the document `{"<name>": [...]}` (each item exactly
/// as sent, so its members keep their order) and the items parsed.
pub fn list_doc(name: &str, items: &[String]) -> anyhow::Result<(String, Vec<Value>)> {
    let values = items.iter().map(|i| parse(i)).collect::<Result<_, _>>()?;
    Ok((format!("{{{}:[{}]}}", json!(name), items.join(",")), values))
}

/// A member as text: a string as it is, anything else as JSON.
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Columns padded to their widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        cells
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(&mut header.iter().copied())];
    out.extend(rows.iter().map(|r| line(&mut r.iter().map(String::as_str))));
    out.join("\n")
}
