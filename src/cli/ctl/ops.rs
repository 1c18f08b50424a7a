//! `forest ctl workers | snapshot | stats | cluster`: what runs where, through the REST API.

use clap::Subcommand;
use serde_json::{json, Value};

use super::api::{escape, query, Api};
use super::jobs::items;
use crate::cli::render::{plain, table};
use crate::cli::Output;

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Ticks waiting for a worker, then ticks dispatched and not yet claimed.
    List {
        #[arg(long)]
        group: Option<String>,
        /// Only those dispatched to this worker (with --group).
        #[arg(long)]
        worker: Option<String>,
    },
    /// Withdraw one before a worker takes it; it is recorded as a cancelled run.
    Delete { group: String, id: String },
}

/// Prints a list answer as a table of `columns` (JSON member names) under `header`.
fn list(out: Output, answer: &super::api::Answer, columns: &[&str], header: &[&str]) {
    let rows: Vec<Vec<String>> = items(&answer.json)
        .iter()
        .map(|item| columns.iter().map(|c| cell(&item[*c])).collect())
        .collect();
    out.print(&answer.text, &table(header, &rows));
}

/// A table cell: arrays joined by commas.
fn cell(v: &Value) -> String {
    match v {
        Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => plain(other),
    }
}

pub async fn workers(api: &Api, out: Output, group: Option<String>) -> anyhow::Result<()> {
    let answer = api
        .get(&format!("/workers{}", query(&[("group", group)])))
        .await?;
    list(
        out,
        &answer,
        &["group", "name", "node", "capacity", "targets", "running"],
        &["GROUP", "NAME", "NODE", "CAPACITY", "TARGETS", "RUNNING"],
    );
    Ok(())
}

pub async fn snapshots(api: &Api, out: Output, cmd: SnapshotCommand) -> anyhow::Result<()> {
    match cmd {
        SnapshotCommand::List { group, worker } => {
            let q = query(&[("group", group), ("worker", worker)]);
            let answer = api.get(&format!("/snapshots{q}")).await?;
            list(
                out,
                &answer,
                &["state", "group", "ip", "id", "name", "createTime"],
                &["STATE", "GROUP", "WORKER", "ID", "NAME", "CREATED"],
            );
        }
        SnapshotCommand::Delete { group, id } => {
            let path = format!("/snapshots/{}/{}", escape(&group), escape(&id));
            api.call(reqwest::Method::DELETE, &path, None).await?;
            out.print(
                &json!({ "withdrawn": id, "group": group }).to_string(),
                &format!("snapshot {id} withdrawn"),
            );
        }
    }
    Ok(())
}

pub async fn stats(api: &Api, out: Output) -> anyhow::Result<()> {
    let s = api.get("/stats").await?;
    let j = &s.json;
    let mut text = vec![
        format!(
            "jobs: {} ({} paused)",
            plain(&j["jobs"]),
            plain(&j["jobsPaused"])
        ),
        format!("groups: {}", plain(&j["groups"])),
        format!("workers online: {}", plain(&j["workersOnline"])),
        format!(
            "last hour: {} runs, {} succeeded, {} failed",
            plain(&j["lastHour"]["runs"]),
            plain(&j["lastHour"]["successes"]),
            plain(&j["lastHour"]["failures"])
        ),
    ];
    let failures: Vec<&Value> = j["recentFailures"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    if !failures.is_empty() {
        text.push("recent failures:".into());
        text.extend(failures.iter().map(|r| {
            format!(
                "  {} {} {} {}",
                plain(&r["finishTime"]),
                plain(&r["name"]),
                plain(&r["statusName"]),
                plain(&r["result"])
            )
        }));
    }
    out.print(&s.text, &text.join("\n"));
    Ok(())
}

pub async fn cluster(api: &Api, out: Output) -> anyhow::Result<()> {
    let c = api.get("/cluster").await?;
    let rows: Vec<Vec<String>> = c.json["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            [
                "id",
                "name",
                "addr",
                "role",
                "term",
                "lastLogIndex",
                "appliedIndex",
                "error",
            ]
            .iter()
            .map(|k| plain(&m[*k]))
            .collect()
        })
        .collect();
    let header = [
        "ID", "NAME", "ADDR", "ROLE", "TERM", "LAST LOG", "APPLIED", "ERROR",
    ];
    out.print(&c.text, &table(&header, &rows));
    Ok(())
}
