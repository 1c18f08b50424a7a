//! The job service: groups and jobs as the original stored them (`/forest/server/group/…`,
//! `/forest/server/conf/…`), changed only through checks that keep the schedule sound.
//!
//! Every change is validated before anything is written (the model's own checks, the cron
//! expression and time zone, the group's existence), and written in one transaction that
//! compares what it read: a job is created only if absent, edited only at the version the
//! caller saw (which then grows by one), and a new or resumed job's firing cursor starts at
//! now, so it is never owed ticks from before it existed or while it was paused. A manual run
//! is queued as a pending snapshot; the leader's scheduler hands it to a worker like any tick.
//! Used by the gRPC service here and, later, by the HTTP API.

pub mod grpc;
pub mod snapshots;

use chrono::{DateTime, Local, SubsecRound, Utc};
use chrono_tz::Tz;

use crate::cron::{self, Schedule, Syntax};
use crate::kv::ops::{delete, exists, mod_revision_is, put};
use crate::kv::{Kv, KvError};
use crate::model::job::{CronSyntax, JOB_RUNNING, JOB_STOPPED};
use crate::model::plan::Cursor;
use crate::model::{ids, keys, GroupConf, JobConf, JobSnapshot, SnapshotId, WireJson};
use crate::pb::kv::{RequestOp, TxnRequest};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Invalid(String),
    #[error("job {0} not found")]
    NotFound(String),
    #[error(
        "snapshot {id} of group {group:?} is not waiting: no such snapshot, or a worker took it"
    )]
    SnapshotNotFound { group: String, id: String },
    #[error("group {0:?} does not exist (add it first)")]
    UnknownGroup(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("job {id} is at version {current}, not {given}: read it again and reapply the change")]
    Conflict {
        id: String,
        current: i64,
        given: i64,
    },
    #[error(transparent)]
    Kv(#[from] KvError),
}

/// The job's zone: its own, or the server's local zone as in the original.
pub fn timezone(conf: &JobConf) -> Result<Tz, JobError> {
    if conf.timezone.is_empty() {
        return Ok(cron::local_timezone());
    }
    cron::parse_timezone(&conf.timezone).map_err(|e| JobError::Invalid(format!("timezone: {e}")))
}

/// The job's parsed schedule (the scheduler fires by it; the API previews it).
pub fn schedule(conf: &JobConf) -> Result<Schedule, JobError> {
    let syntax = match conf.cron_syntax {
        CronSyntax::Robfig => Syntax::Robfig,
        CronSyntax::Crontab => Syntax::Crontab,
    };
    Schedule::parse(&conf.cron, syntax, timezone(conf)?)
        .map_err(|e| JobError::Invalid(format!("cron: {e}")))
}

fn cursor_now(job_id: &str) -> RequestOp {
    put(keys::plan(job_id), Cursor { last: Utc::now() }.to_json())
}

#[derive(Clone)]
pub struct Jobs {
    kv: Kv,
}

/// How many ids `add` draws before it gives up (a collision is rare; many in a row are not).
const ID_DRAWS: usize = 8;

impl Jobs {
    pub fn new(kv: Kv) -> Jobs {
        Jobs { kv }
    }

    async fn get_raw(&self, key: &str) -> Result<Option<crate::pb::kv::KeyValue>, JobError> {
        Ok(self.kv.get(key, false).await?)
    }

    async fn list_raw(&self, prefix: &str) -> Result<Vec<crate::pb::kv::KeyValue>, JobError> {
        let r = self.kv.range(crate::kv::ops::prefix_range(prefix)).await?;
        Ok(r.kvs)
    }

    pub async fn add_group(&self, group: GroupConf) -> Result<GroupConf, JobError> {
        group
            .validate()
            .map_err(|e| JobError::Invalid(e.to_string()))?;
        let key = keys::group(&group.name);
        let txn = TxnRequest {
            compare: vec![mod_revision_is(&key, 0)],
            success: vec![put(key, group.to_json())],
            failure: vec![],
        };
        if !self.kv.txn(txn).await?.succeeded {
            return Err(JobError::Exists(format!("group {:?}", group.name)));
        }
        Ok(group)
    }

    pub async fn groups(&self) -> Result<Vec<GroupConf>, JobError> {
        Ok(self
            .list_raw(keys::GROUP_PREFIX)
            .await?
            .iter()
            .filter_map(|kv| GroupConf::from_json(&kv.value).ok())
            .collect())
    }

    fn check(conf: &JobConf) -> Result<(), JobError> {
        conf.validate()
            .map_err(|e| JobError::Invalid(e.to_string()))?;
        schedule(conf)?;
        Ok(())
    }

    /// Creates a job (an id is assigned when none is given); its group must exist.
    pub async fn add(&self, mut conf: JobConf) -> Result<JobConf, JobError> {
        // A generated id is a serial number: two jobs created in one second may draw the same
        // one, which the create-if-absent write catches; then another is drawn.
        let generated = conf.id.is_empty();
        if conf.status == 0 {
            conf.status = JOB_RUNNING;
        }
        conf.version = 1;
        for _ in 0..ID_DRAWS {
            if generated {
                conf.id = ids::job_id();
            }
            Self::check(&conf)?;
            let key = keys::job_conf(&conf.id);
            let group = keys::group(&conf.group);
            let txn = TxnRequest {
                compare: vec![mod_revision_is(&key, 0), exists(&group)],
                success: vec![put(key.clone(), conf.to_json()), cursor_now(&conf.id)],
                failure: vec![],
            };
            if self.kv.txn(txn).await?.succeeded {
                return Ok(conf);
            }
            if self.get_raw(&key).await?.is_none() {
                return Err(JobError::UnknownGroup(conf.group));
            }
            if !generated {
                break;
            }
        }
        Err(JobError::Exists(format!("job {}", conf.id)))
    }

    pub async fn get(&self, id: &str) -> Result<JobConf, JobError> {
        Ok(self.read(id).await?.0)
    }

    async fn read(&self, id: &str) -> Result<(JobConf, i64), JobError> {
        let kv = self
            .get_raw(&keys::job_conf(id))
            .await?
            .ok_or_else(|| JobError::NotFound(id.to_string()))?;
        let conf = JobConf::from_json(&kv.value)
            .map_err(|e| JobError::Invalid(format!("stored job {id} does not parse: {e}")))?;
        Ok((conf, kv.mod_revision))
    }

    pub async fn list(&self, group: Option<&str>) -> Result<Vec<JobConf>, JobError> {
        Ok(self
            .list_raw(keys::CONF_PREFIX)
            .await?
            .iter()
            .filter_map(|kv| JobConf::from_json(&kv.value).ok())
            .filter(|j| group.is_none_or(|g| j.group == g))
            .collect())
    }

    /// Replaces a job, if `conf.version` is the stored version.
    pub async fn edit(&self, conf: JobConf) -> Result<JobConf, JobError> {
        Self::check(&conf)?;
        let (current, rev) = self.read(&conf.id).await?;
        if current.version != conf.version {
            return Err(JobError::Conflict {
                id: conf.id,
                current: current.version,
                given: conf.version,
            });
        }
        self.replace(current, rev, conf).await
    }

    /// Writes `next` over `current` (read at `rev`), bumping the version; a job that starts
    /// running again starts its cursor at now.
    async fn replace(
        &self,
        current: JobConf,
        rev: i64,
        mut next: JobConf,
    ) -> Result<JobConf, JobError> {
        let key = keys::job_conf(&next.id);
        if next.group != current.group && self.get_raw(&keys::group(&next.group)).await?.is_none() {
            return Err(JobError::UnknownGroup(next.group));
        }
        next.version = current.version + 1;
        let mut success = vec![put(key.clone(), next.to_json())];
        if next.is_running() && !current.is_running() {
            success.push(cursor_now(&next.id));
        }
        let txn = TxnRequest {
            compare: vec![mod_revision_is(&key, rev)],
            success,
            failure: vec![],
        };
        if !self.kv.txn(txn).await?.succeeded {
            let (now, _) = self.read(&next.id).await?;
            return Err(JobError::Conflict {
                id: next.id,
                current: now.version,
                given: current.version,
            });
        }
        Ok(next)
    }

    async fn set_status(&self, id: &str, status: i64) -> Result<JobConf, JobError> {
        let (current, rev) = self.read(id).await?;
        if current.status == status {
            return Ok(current);
        }
        let next = JobConf {
            status,
            ..current.clone()
        };
        self.replace(current, rev, next).await
    }

    pub async fn pause(&self, id: &str) -> Result<JobConf, JobError> {
        self.set_status(id, JOB_STOPPED).await
    }

    pub async fn resume(&self, id: &str) -> Result<JobConf, JobError> {
        self.set_status(id, JOB_RUNNING).await
    }

    pub async fn delete(&self, id: &str) -> Result<(), JobError> {
        let key = keys::job_conf(id);
        let txn = TxnRequest {
            compare: vec![exists(&key)],
            success: vec![
                delete(key),
                delete(keys::plan(id)),
                delete(keys::manual(id)),
            ],
            failure: vec![],
        };
        if !self.kv.txn(txn).await?.succeeded {
            return Err(JobError::NotFound(id.to_string()));
        }
        Ok(())
    }

    /// Queues one run now, whatever the job's status (as the original's manual execute).
    pub async fn run_now(&self, id: &str) -> Result<String, JobError> {
        let (conf, _) = self.read(id).await?;
        let latest = keys::manual(id);
        for _ in 0..ID_DRAWS {
            let (sid, rev) = self.next_manual(id, &latest).await?;
            let now = Utc::now();
            let mut snap = JobSnapshot::from_conf(
                &conf,
                sid.clone(),
                String::new(),
                &Local::now().naive_local(),
            );
            snap.scheduled_at = Some(now.fixed_offset());
            snap.deadline = Some((now + conf.starting_window()).fixed_offset());
            let key = keys::pending(&conf.group, &sid);
            let txn = TxnRequest {
                compare: vec![mod_revision_is(&latest, rev), mod_revision_is(&key, 0)],
                success: vec![put(key, snap.to_json()), put(&latest, &sid)],
                failure: vec![],
            };
            if self.kv.txn(txn).await?.succeeded {
                return Ok(sid);
            }
        }
        Err(JobError::Invalid(format!(
            "job {id}: too many manual runs asked for at once; try again"
        )))
    }

    /// The id after the job's latest manual run (and the revision it was read at): the next
    /// number in the same second, or the first of a later one. It never goes back, so a clock
    /// behind another node's cannot reuse an id.
    async fn next_manual(&self, id: &str, latest: &str) -> Result<(String, i64), JobError> {
        let stored = self.get_raw(latest).await?;
        let rev = stored.as_ref().map_or(0, |kv| kv.mod_revision);
        let last =
            stored.and_then(|kv| String::from_utf8(kv.value).ok()?.parse::<SnapshotId>().ok());
        let now = Utc::now().trunc_subsecs(0);
        let (second, nth) = match last.map(|l| (l.scheduled(), l.manual_run().unwrap_or(0))) {
            Some((at, n)) if at >= now && n < ids::MAX_MANUAL => (at, n + 1),
            Some((at, _)) if at >= now => (at + chrono::Duration::seconds(1), 1),
            _ => (now, 1),
        };
        let sid = SnapshotId::manual(&second, nth, id)
            .map_err(|e| JobError::Invalid(e.to_string()))?
            .to_string();
        Ok((sid, rev))
    }

    /// The next `count` fire times after now, in the job's zone.
    pub async fn next_fire_times(
        &self,
        id: &str,
        count: usize,
    ) -> Result<Vec<DateTime<Tz>>, JobError> {
        let conf = self.get(id).await?;
        let tz = timezone(&conf)?;
        Ok(schedule(&conf)?
            .upcoming(Utc::now(), count.min(100))
            .into_iter()
            .map(|t| t.with_timezone(&tz))
            .collect())
    }
}
