//! `forest ctl run`: runs, running and finished, through the REST API (any node answers from
//! its own history copy); one run with its output; a job's statistics.

use anyhow::Context;
use clap::Subcommand;

use super::api::{escape, query, Api};
use super::jobs::items;
use crate::cli::render::{plain, table};
use crate::cli::Output;

#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Runs, running ones first, then newest first, filtered; prints the page and the total.
    List {
        #[arg(long)]
        job: Option<String>,
        /// A part of the job's name.
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        worker: Option<String>,
        /// 1 running, 2 success, 3 unknown target, -1 error, -2 timeout, -3 lost, -4 missed,
        /// -5 cancelled.
        #[arg(long, allow_hyphen_values = true)]
        status: Option<i32>,
        /// Runs finished at or after this time (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Runs finished before this time (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// Which page (from 1).
        #[arg(long, default_value_t = 1)]
        page: u64,
        /// Runs per page (at most 1000).
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// One run, with its output.
    Get { id: String },
    /// A job's statistics: runs, successes, failures, durations, last success and failure.
    Stats { job: String },
}

fn checked_time(flag: &str, t: Option<String>) -> anyhow::Result<Option<String>> {
    if let Some(t) = &t {
        chrono::DateTime::parse_from_rfc3339(t)
            .with_context(|| format!("--{flag} {t:?} is not an RFC 3339 time"))?;
    }
    Ok(t)
}

/// `name: value` lines of an object's members, but `skip`.
fn fields(v: &serde_json::Value, skip: &str) -> Vec<String> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| *k != skip)
        .map(|(k, v)| format!("{k}: {}", plain(v)))
        .collect()
}

pub async fn run(api: &Api, out: Output, cmd: RunCommand) -> anyhow::Result<()> {
    match cmd {
        RunCommand::List {
            job,
            name,
            group,
            worker,
            status,
            from,
            to,
            page,
            limit,
        } => {
            let q = query(&[
                ("jobId", job),
                ("name", name),
                ("group", group),
                ("worker", worker),
                ("status", status.map(|s| s.to_string())),
                ("from", checked_time("from", from)?),
                ("to", checked_time("to", to)?),
                ("page", Some(page.to_string())),
                ("pageSize", Some(limit.to_string())),
            ]);
            let answer = api.get(&format!("/executions{q}")).await?;
            let runs = items(&answer.json);
            let columns = [
                "id",
                "name",
                "group",
                "worker",
                "statusName",
                "startTime",
                "finishTime",
                "result",
            ];
            let rows: Vec<Vec<String>> = runs
                .iter()
                .map(|r| columns.iter().map(|k| plain(&r[*k])).collect())
                .collect();
            let header = [
                "ID", "NAME", "GROUP", "WORKER", "STATUS", "STARTED", "FINISHED", "RESULT",
            ];
            let mut text = table(&header, &rows);
            let more = if answer.json["totalCapped"] == serde_json::json!(true) {
                "+"
            } else {
                ""
            };
            text.push_str(&format!(
                "\n{} of {}{more} runs",
                rows.len(),
                plain(&answer.json["total"])
            ));
            out.print(&answer.text, &text);
        }
        RunCommand::Get { id } => {
            let run = api.get(&format!("/executions/{}", escape(&id))).await?;
            let mut lines = fields(&run.json, "output");
            if let Some(o) = run.json["output"].as_str() {
                lines.push(format!("output:\n{o}"));
            }
            out.print(&run.text, &lines.join("\n"));
        }
        RunCommand::Stats { job } => {
            let stats = api.get(&format!("/jobs/{}/stats", escape(&job))).await?;
            out.print(&stats.text, &fields(&stats.json, "").join("\n"));
        }
    }
    Ok(())
}
