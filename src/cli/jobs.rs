//! `forest group` and `forest job`: the job service (`forest.v1.Jobs`) from the command line.
//!
//! Jobs travel as the original's JobConf JSON, so a job printed with `--output json` is the
//! very object `job add --file` and `job edit --file` read back. The server validates every
//! change; what it refuses (an unknown group, a bad cron expression or time zone, an edit at a
//! stale version) comes back as the command's one-line reason.

use std::io::Read;

use anyhow::{bail, Context};
use clap::{ArgGroup, Subcommand, ValueEnum};
use serde_json::{json, Value};

use super::client::{connect, status};
use super::render::{list_doc, parse, plain, show, table};
use super::ClientOptions;
use crate::model::job::{CronSyntax, JOB_RUNNING, JOB_STOPPED};
use crate::model::{GroupConf, JobConf, WireJson};
use crate::pb::forest as pb;

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
    /// Every job, or one group's: id, name, group, cron, status and version.
    List {
        /// Only this group's jobs.
        #[arg(long)]
        group: Option<String>,
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
    /// The group whose workers run the job; it must exist (`forest group add`).
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
    /// `forest job get ID --output json`); the flags below override its fields.
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

/// Renders a job reply: the job object exactly as sent, or its non-empty fields one per line
/// in JobConf's order.
fn job_view(reply: pb::JobJson) -> anyhow::Result<(String, String)> {
    let doc = parse(&reply.json)?;
    let mut fields: Vec<(&String, String)> = doc
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
    Ok((reply.json, text))
}

pub async fn run_group(opts: &ClientOptions, cmd: GroupCommand) -> anyhow::Result<()> {
    let mut c = connect(&opts.endpoints).await?;
    match cmd {
        GroupCommand::Add { name, remark } => {
            let json = GroupConf { name, remark }.to_json();
            show(opts.output, c.jobs.add_group(pb::GroupJson { json }), |r| {
                let text = format!("group {} added", plain(&parse(&r.json)?["name"]));
                Ok((r.json, text))
            })
            .await
        }
        GroupCommand::List => {
            show(
                opts.output,
                c.jobs.list_groups(pb::ListGroupsRequest {}),
                |r| {
                    let (doc, groups) = list_doc("groups", &r.groups)?;
                    let rows: Vec<_> = groups
                        .iter()
                        .map(|g| vec![plain(&g["name"]), plain(&g["remark"])])
                        .collect();
                    let text = table(&["NAME", "REMARK"], &rows);
                    Ok((doc, text))
                },
            )
            .await
        }
    }
}

pub async fn run_job(opts: &ClientOptions, cmd: JobCommand) -> anyhow::Result<()> {
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
                 (as forest job get ID --output json prints them)"
            );
        }
    }
    let mut c = connect(&opts.endpoints).await?;
    let out = opts.output;
    let job_id = |id: &str| pb::JobId { id: id.to_string() };
    match cmd {
        JobCommand::Add(args) => {
            let json = from_file
                .unwrap_or_else(|| args.conf_from_flags())
                .to_json();
            show(out, c.jobs.add_job(pb::JobJson { json }), job_view).await
        }
        JobCommand::Edit(args) => {
            let mut conf = match (from_file, &args.id) {
                (Some(conf), _) => conf,
                (None, Some(id)) => {
                    let reply = c.jobs.get_job(job_id(id)).await.map_err(status)?;
                    JobConf::from_json(reply.get_ref().json.as_bytes())
                        .with_context(|| format!("the server sent job {id} in a form not read"))?
                }
                (None, None) => bail!("give the job's id, or --file"),
            };
            if !args.apply(&mut conf) && args.file.is_none() {
                bail!("nothing to change: give --name, --cron, --target or --params (or --file)");
            }
            show(
                out,
                c.jobs.edit_job(pb::JobJson {
                    json: conf.to_json(),
                }),
                job_view,
            )
            .await
        }
        JobCommand::Get { id } => show(out, c.jobs.get_job(job_id(&id)), job_view).await,
        JobCommand::List { group } => {
            let req = pb::ListJobsRequest {
                group: group.unwrap_or_default(),
            };
            show(out, c.jobs.list_jobs(req), |r| {
                let (doc, jobs) = list_doc("jobs", &r.jobs)?;
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
                Ok((doc, table(&header, &rows)))
            })
            .await
        }
        JobCommand::Delete { id } => {
            show(out, c.jobs.delete_job(job_id(&id)), |r| {
                let text = format!("job {} deleted", r.id);
                Ok((json!({ "deleted": r.id }).to_string(), text))
            })
            .await
        }
        JobCommand::Pause { id } => show(out, c.jobs.pause_job(job_id(&id)), job_view).await,
        JobCommand::Resume { id } => show(out, c.jobs.resume_job(job_id(&id)), job_view).await,
        JobCommand::Run { id } => {
            show(out, c.jobs.run_job(job_id(&id)), |r| {
                let doc = json!({ "id": id, "snapshot_id": r.snapshot_id });
                Ok((doc.to_string(), r.snapshot_id))
            })
            .await
        }
        JobCommand::Next { id, count } => {
            let req = pb::FireTimesRequest {
                id: id.clone(),
                count,
            };
            show(out, c.jobs.next_fire_times(req), |r| {
                let text = r.times.join("\n");
                Ok((json!({ "id": id, "times": r.times }).to_string(), text))
            })
            .await
        }
    }
}
