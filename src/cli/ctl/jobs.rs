//! `forest ctl group` and `forest ctl job`: jobs and groups through the REST API.
//!
//! Jobs travel as the original's JobConf JSON, so a job printed with `--output json` is the
//! very object `job add --file` and `job edit --file` read back. The server validates every
//! change; what it refuses (an unknown group, a bad cron expression or time zone, an edit at a
//! stale version) comes back as the command's one-line reason.

use std::io::Read;

use anyhow::{bail, Context};
use clap::{ArgGroup, Subcommand, ValueEnum};
use serde_json::{json, Value};

use super::api::{escape, query, Answer, Api};
use crate::cli::render::{plain, table};
use crate::cli::Output;
use crate::model::job::{CronSyntax, JOB_RUNNING, JOB_STOPPED};
use crate::model::{GroupConf, JobConf, WireJson};

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group: its workers register under it and its jobs name it.
    Add {
        name: String,
        #[arg(long, default_value = "")]
        remark: String,
    },
    /// Every group: name and remark.
    List,
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Create a job from a JSON file or from flags; prints the stored job.
    Add(AddArgs),
    /// Change a job at the version it was read at (compare-and-swap); prints the stored job.
    Edit(EditArgs),
    /// Print one job.
    Get { id: String },
    /// Every job, or those matching: id, name, group, cron, status and version.
    List {
        /// Only this group's jobs.
        #[arg(long)]
        group: Option<String>,
        /// Only jobs whose id, name, target or remark contains this (any case).
        #[arg(long)]
        search: Option<String>,
        /// Only running (1) or paused (2) jobs.
        #[arg(long)]
        status: Option<i64>,
    },
    /// Delete a job.
    Delete { id: String },
    /// Stop a job from firing (status 2).
    Pause { id: String },
    /// Let a paused job fire again (status 1), from now on.
    Resume { id: String },
    /// Queue one run now, whatever the job's status; prints the run's snapshot id.
    Run { id: String },
    /// The job's next fire times, in its time zone.
    Next {
        id: String,
        /// How many (1..=100).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
        count: u32,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The job as a JobConf JSON object (JSON only: YAML is not read), or - for standard
    /// input; instead of the flags below.
    #[arg(long, value_name = "PATH")]
    file: Option<String>,
    /// The job's name, for people.
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    name: Option<String>,
    /// The group whose workers run the job; it must exist (`forest ctl group add`).
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    group: Option<String>,
    /// The schedule, in --cron-syntax.
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    cron: Option<String>,
    /// What the workers run.
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    target: Option<String>,
    /// Passed to the target unchanged.
    #[arg(long, conflicts_with = "file")]
    params: Option<String>,
    /// IANA time zone the schedule is read in (default: the server's).
    #[arg(long, conflicts_with = "file")]
    timezone: Option<String>,
    /// The dialect of --cron (default: robfig).
    #[arg(long, value_enum, conflicts_with = "file")]
    cron_syntax: Option<SyntaxArg>,
    /// A note kept with the job.
    #[arg(long, conflicts_with = "file")]
    remark: Option<String>,
    /// Kept with the job and copied into its runs.
    #[arg(long, conflicts_with = "file")]
    mobile: Option<String>,
    /// Create the job paused (status 2).
    #[arg(long, conflicts_with = "file")]
    stopped: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SyntaxArg {
    /// The original's robfig/cron v1: a leading seconds field, 5 or 6 fields, descriptors.
    Robfig,
    /// Standard 5-field crontab.
    Crontab,
}

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("base").required(true).args(["id", "file"])))]
pub struct EditArgs {
    /// The job to change with the flags below: it is read, changed and sent back at the
    /// version read.
    id: Option<String>,
    /// The whole job as a JobConf JSON object (JSON only: YAML is not read), or - for standard
    /// input. It must carry the job's "id" and the "version" it was read at (as printed by
    /// `forest ctl job get ID --output json`); the flags below override its fields.
    #[arg(long, value_name = "PATH")]
    file: Option<String>,
    /// A new name.
    #[arg(long)]
    name: Option<String>,
    /// A new schedule (in the job's cron syntax).
    #[arg(long)]
    cron: Option<String>,
    /// A new target.
    #[arg(long)]
    target: Option<String>,
    /// New parameters.
    #[arg(long)]
    params: Option<String>,
}

impl AddArgs {
    /// The job the flags describe (when there is no --file).
    fn conf_from_flags(self) -> JobConf {
        JobConf {
            name: self.name.unwrap_or_default(),
            group: self.group.unwrap_or_default(),
            cron: self.cron.unwrap_or_default(),
            target: self.target.unwrap_or_default(),
            params: self.params.unwrap_or_default(),
            timezone: self.timezone.unwrap_or_default(),
            cron_syntax: match self.cron_syntax {
                None | Some(SyntaxArg::Robfig) => CronSyntax::Robfig,
                Some(SyntaxArg::Crontab) => CronSyntax::Crontab,
            },
            remark: self.remark.unwrap_or_default(),
            mobile: self.mobile.unwrap_or_default(),
            status: if self.stopped {
                JOB_STOPPED
            } else {
                JOB_RUNNING
            },
            ..JobConf::default()
        }
    }
}

impl EditArgs {
    /// Sets the fields given as flags; whether any was.
    fn apply(&self, conf: &mut JobConf) -> bool {
        let mut changed = false;
        for (flag, field) in [
            (&self.name, &mut conf.name),
            (&self.cron, &mut conf.cron),
            (&self.target, &mut conf.target),
            (&self.params, &mut conf.params),
        ] {
            if let Some(value) = flag {
                field.clone_from(value);
                changed = true;
            }
        }
        changed
    }
}

/// Reads a job from `path` (`-` = standard input): a JobConf as JSON, or the same object
/// written as YAML (read into JSON first, so both follow the original's JSON rules).
fn read_job_file(path: &str) -> anyhow::Result<JobConf> {
    let mut bytes = Vec::new();
    let source = if path == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read the job from standard input")?;
        "standard input"
    } else {
        bytes = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
        path
    };
    if let Ok(job) = JobConf::from_json(&bytes) {
        return Ok(job);
    }
    let doc: Value = serde_yaml_ng::from_slice(&bytes)
        .with_context(|| format!("{source} holds neither a JSON nor a YAML job"))?;
    JobConf::from_json(doc.to_string().as_bytes())
        .with_context(|| format!("{source} does not hold a job object"))
}

fn status_word(v: &Value) -> String {
    match v.as_i64() {
        Some(JOB_RUNNING) => "running".into(),
        Some(JOB_STOPPED) => "stopped".into(),
        _ => format!("status {}", plain(v)),
    }
}

/// Renders a job: the object exactly as sent, or its non-empty fields one per line in
/// JobConf's order.
fn job_view(out: Output, job: Answer) {
    let mut fields: Vec<(&String, String)> = job
        .json
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.as_str() != Some(""))
        .map(|(k, v)| {
            let shown = if k == "status" {
                status_word(v)
            } else {
                plain(v)
            };
            (k, shown)
        })
        .collect();
    fields.sort_by_key(|(k, _)| JobConf::FIELDS.iter().position(|f| f == k));
    let width = fields.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    let text = fields
        .iter()
        .map(|(k, v)| format!("{:<width$} {v}", format!("{k}:")))
        .collect::<Vec<_>>()
        .join("\n");
    out.print(&job.text, &text);
}

pub async fn run_group(api: &Api, out: Output, cmd: GroupCommand) -> anyhow::Result<()> {
    match cmd {
        GroupCommand::Add { name, remark } => {
            let body = serde_json::to_value(GroupConf { name, remark })?;
            let added = api.post("/groups", &body).await?;
            let text = format!("group {} added", plain(&added.json["name"]));
            out.print(&added.text, &text);
        }
        GroupCommand::List => {
            let groups = api.get("/groups").await?;
            let rows: Vec<_> = items(&groups.json)
                .iter()
                .map(|g| vec![plain(&g["name"]), plain(&g["remark"])])
                .collect();
            out.print(&groups.text, &table(&["NAME", "REMARK"], &rows));
        }
    }
    Ok(())
}

/// The `items` of a list answer.
pub fn items(v: &Value) -> &[Value] {
    v["items"].as_array().map_or(&[], Vec::as_slice)
}

/// The largest page the API gives.
const PAGE: u64 = 1000;

pub async fn run_job(api: &Api, out: Output, cmd: JobCommand) -> anyhow::Result<()> {
    // A job file is read and checked before any node is contacted.
    let file = match &cmd {
        JobCommand::Add(args) => args.file.as_deref(),
        JobCommand::Edit(args) => args.file.as_deref(),
        _ => None,
    };
    let from_file = file.map(read_job_file).transpose()?;
    if let (JobCommand::Edit(_), Some(conf)) = (&cmd, &from_file) {
        if conf.id.is_empty() || conf.version == 0 {
            bail!(
                "the job file must carry the job's \"id\" and the \"version\" it was read at \
                 (as forest ctl job get ID --output json prints them)"
            );
        }
    }
    let path = |id: &str, tail: &str| format!("/jobs/{}{tail}", escape(id));
    match cmd {
        JobCommand::Add(args) => {
            let conf = from_file.unwrap_or_else(|| args.conf_from_flags());
            job_view(out, api.post("/jobs", &serde_json::to_value(conf)?).await?);
        }
        JobCommand::Edit(args) => {
            let mut conf = match (from_file, &args.id) {
                (Some(conf), _) => conf,
                (None, Some(id)) => {
                    let got = api.get(&path(id, "")).await?;
                    JobConf::from_json(got.text.as_bytes())
                        .with_context(|| format!("the server sent job {id} in a form not read"))?
                }
                (None, None) => bail!("give the job's id, or --file"),
            };
            if !args.apply(&mut conf) && args.file.is_none() {
                bail!("nothing to change: give --name, --cron, --target or --params (or --file)");
            }
            let body = serde_json::to_value(&conf)?;
            let put = api
                .call(reqwest::Method::PUT, &path(&conf.id, ""), Some(&body))
                .await?;
            job_view(out, put);
        }
        JobCommand::Get { id } => job_view(out, api.get(&path(&id, "")).await?),
        JobCommand::List {
            group,
            search,
            status,
        } => {
            let mut jobs = Vec::new();
            for page in 1.. {
                let q = query(&[
                    ("group", group.clone()),
                    ("q", search.clone()),
                    ("status", status.map(|s| s.to_string())),
                    ("page", Some(page.to_string())),
                    ("pageSize", Some(PAGE.to_string())),
                ]);
                let answer = api.get(&format!("/jobs{q}")).await?;
                let got = items(&answer.json);
                jobs.extend_from_slice(got);
                if got.is_empty() || jobs.len() as u64 >= answer.json["total"].as_u64().unwrap_or(0)
                {
                    break;
                }
            }
            let rows: Vec<_> = jobs
                .iter()
                .map(|j| {
                    let mut row: Vec<_> = ["id", "name", "group", "cron"]
                        .iter()
                        .map(|k| plain(&j[*k]))
                        .collect();
                    row.push(status_word(&j["status"]));
                    row.push(plain(&j["version"]));
                    row
                })
                .collect();
            let header = ["ID", "NAME", "GROUP", "CRON", "STATUS", "VERSION"];
            let doc = json!({ "jobs": jobs }).to_string();
            out.print(&doc, &table(&header, &rows));
        }
        JobCommand::Delete { id } => {
            api.call(reqwest::Method::DELETE, &path(&id, ""), None)
                .await?;
            out.print(
                &json!({ "deleted": id }).to_string(),
                &format!("job {id} deleted"),
            );
        }
        JobCommand::Pause { id } => {
            job_view(out, api.post(&path(&id, "/pause"), &json!({})).await?)
        }
        JobCommand::Resume { id } => {
            job_view(out, api.post(&path(&id, "/resume"), &json!({})).await?)
        }
        JobCommand::Run { id } => {
            let queued = api.post(&path(&id, "/run"), &json!({})).await?;
            let sid = plain(&queued.json["snapshotId"]);
            out.print(&json!({ "id": id, "snapshot_id": sid }).to_string(), &sid);
        }
        JobCommand::Next { id, count } => {
            let next = api.get(&path(&id, &format!("/next?count={count}"))).await?;
            let times: Vec<String> = next.json["times"]
                .as_array()
                .into_iter()
                .flatten()
                .map(plain)
                .collect();
            out.print(
                &json!({ "id": id, "times": times }).to_string(),
                &times.join("\n"),
            );
        }
    }
    Ok(())
}
