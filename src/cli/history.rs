//! `forest history`: the execution history (`forest.v1.History`) from the command line. Any
//! node answers from its own copy.

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use super::client::channel;
use super::render::{parse, plain, show, table};
use super::ClientOptions;
use crate::pb::forest::{self as pb, history_client::HistoryClient};

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Runs, newest first, filtered; prints the page and the total.
    List {
        #[arg(long)]
        job: Option<String>,
        /// A substring of the job's name.
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
        #[arg(long, default_value_t = 20)]
        limit: u64,
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
    /// One run, with its output.
    Get { id: String },
    /// A job's statistics: runs, successes, failures, durations, last success and failure.
    Stats { job: String },
}

fn ms(flag: &str, t: Option<String>) -> anyhow::Result<i64> {
    t.map_or(Ok(0), |t| {
        chrono::DateTime::parse_from_rfc3339(&t)
            .map(|t| t.timestamp_millis())
            .with_context(|| format!("--{flag} {t:?} is not an RFC 3339 time"))
    })
}

pub async fn run(opts: &ClientOptions, cmd: HistoryCommand) -> anyhow::Result<()> {
    let endpoint = opts.endpoints.first().context("no --endpoints given")?;
    let mut c = HistoryClient::new(channel(endpoint).await?);
    match cmd {
        HistoryCommand::List {
            job,
            name,
            group,
            worker,
            status,
            from,
            to,
            limit,
            offset,
        } => {
            let q = pb::RunQuery {
                job_id: job.unwrap_or_default(),
                name: name.unwrap_or_default(),
                group: group.unwrap_or_default(),
                worker: worker.unwrap_or_default(),
                has_status: status.is_some(),
                status: status.unwrap_or_default(),
                from_ms: ms("from", from)?,
                to_ms: ms("to", to)?,
                offset,
                limit,
            };
            show(opts.output, c.list_runs(q), |page| {
                let values = page
                    .runs
                    .iter()
                    .map(|r| parse(r))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let doc = json!({
                    "total": page.total,
                    "totalCapped": page.total_capped,
                    "runs": values,
                });
                let rows: Vec<Vec<String>> = values
                    .iter()
                    .map(|r| {
                        [
                            "id",
                            "name",
                            "group",
                            "ip",
                            "status",
                            "startTime",
                            "finishTime",
                            "result",
                        ]
                        .iter()
                        .map(|k| plain(&r[*k]))
                        .collect()
                    })
                    .collect();
                let mut text = table(
                    &[
                        "ID", "NAME", "GROUP", "WORKER", "STATUS", "STARTED", "FINISHED", "RESULT",
                    ],
                    &rows,
                );
                let more = if page.total_capped { "+" } else { "" };
                text.push_str(&format!("\n{} of {}{more} runs", rows.len(), page.total));
                Ok((doc.to_string(), text))
            })
            .await
        }
        HistoryCommand::Get { id } => {
            show(opts.output, c.get_run(pb::RunId { id }), |r| {
                let v = parse(&r.json)?;
                let text = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| *k != "output")
                    .map(|(k, v)| format!("{k}: {}", plain(v)))
                    .chain(v["output"].as_str().map(|o| format!("output:\n{o}")))
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok((r.json, text))
            })
            .await
        }
        HistoryCommand::Stats { job } => {
            show(
                opts.output,
                c.job_stats(pb::JobStatsRequest { job_id: job }),
                |r| {
                    let v = parse(&r.json)?;
                    let text = v
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| format!("{k}: {}", plain(v)))
                        .collect::<Vec<_>>()
                        .join("\n");
                    Ok((r.json, text))
                },
            )
            .await
        }
    }
}
