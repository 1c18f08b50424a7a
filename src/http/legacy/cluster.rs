//! duck's views of the scheduler (监控中心): `/node/list`, `/plan/list`, `/client/list`, read
//! from the original's keys and the jobs' schedules.

use std::collections::HashMap;

use axum::extract::State;
use axum::routing::Router;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::bind::Bound;
use super::envelope::{done, nil_if_empty, refuse, Reply, LISTED};
use super::post_only;
use crate::http::AppState;
use crate::kv::ops::prefix_range;
use crate::model::plan::Cursor;
use crate::model::{keys, JobConf, WireJson};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/node/list", post_only(list_nodes))
        .route("/plan/list", post_only(list_plans))
        .route("/client/list", post_only(list_clients))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The original's `Node`: a scheduler node, `state` 1 for the leader and 0 for the others.
#[derive(Serialize)]
struct Node {
    name: String,
    state: i32,
}

/// The nodes under `/forest/server/node/`; the leader is the one named by
/// `/forest/server/elect/leader`.
async fn list_nodes(State(s): State<AppState>) -> Reply<Option<Vec<Node>>> {
    let nodes = s.kv.range(prefix_range(keys::NODE_PREFIX)).await?;
    let leader =
        s.kv.get(keys::ELECT_LEADER, false)
            .await?
            .map(|kv| kv.value);
    let nodes = nodes
        .kvs
        .iter()
        .map(|kv| Node {
            name: text(&kv.value),
            state: i32::from(leader.as_ref() == Some(&kv.value)),
        })
        .collect();
    done(nil_if_empty(nodes), LISTED)
}

/// The original's `SchedulePlan`: a running job with its next and previous fire times, in
/// the job's zone as Go wrote a `time.Time` (RFC 3339).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Plan {
    id: String,
    name: String,
    group: String,
    cron: String,
    status: i64,
    target: String,
    params: String,
    mobile: String,
    remark: String,
    next_time: String,
    before_time: String,
    version: i64,
}

/// Go's zero `time.Time`: what the original showed for a time it did not have.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The jobs that fire (the original planned only those), `nextTime` from the schedule and
/// `beforeTime` from the job's firing cursor: the last tick handled, or when the job was
/// created or resumed. The original left `status` 0; here it is the job's. The message is
/// empty, as the original's.
async fn list_plans(State(s): State<AppState>) -> Reply<Option<Vec<Plan>>> {
    let jobs = s.jobs.list(None).await?;
    let cursors: HashMap<String, Cursor> =
        s.kv.range(prefix_range(keys::PLAN_PREFIX))
            .await?
            .kvs
            .iter()
            .filter_map(|kv| {
                let id = keys::parse_plan_key(std::str::from_utf8(&kv.key).ok()?)?;
                Some((id.to_string(), Cursor::from_json(&kv.value)?))
            })
            .collect();
    let now = Utc::now();
    let plans = jobs
        .into_iter()
        .filter(JobConf::is_running)
        .filter_map(|job| {
            let schedule = crate::jobs::schedule(&job).ok()?;
            let tz = crate::jobs::timezone(&job).ok()?;
            let time = |t: Option<DateTime<Utc>>| {
                t.map_or_else(
                    || ZERO_TIME.to_string(),
                    |t| {
                        t.with_timezone(&tz)
                            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
                    },
                )
            };
            Some(Plan {
                next_time: time(schedule.next_after(now)),
                before_time: time(cursors.get(&job.id).map(|c| c.last)),
                id: job.id,
                name: job.name,
                group: job.group,
                cron: job.cron,
                status: job.status,
                target: job.target,
                params: job.params,
                mobile: job.mobile,
                remark: job.remark,
                version: job.version,
            })
        })
        .collect();
    done(nil_if_empty(plans), "")
}

/// The original's `QueryClientParam`.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
struct ClientQuery {
    group: String,
}

impl WireJson for ClientQuery {
    const FIELDS: &'static [&'static str] = &["group"];
}

/// The original's `JobClient`: a worker of the group; `path` is its registry key.
#[derive(Serialize)]
struct Client {
    name: String,
    path: String,
    group: String,
}

/// The group's workers under `/forest/client/<group>/clients/`, named by the keys' values
/// as the original named them; `[]` when none is online.
async fn list_clients(State(s): State<AppState>, body: Bound<ClientQuery>) -> Reply<Vec<Client>> {
    const CHOOSE_GROUP: &str = "请选择任务集群";
    let group = body.or_refuse(CHOOSE_GROUP)?.group;
    if group.trim().is_empty() {
        return refuse(CHOOSE_GROUP);
    }
    if s.kv.get(&keys::group(&group), false).await?.is_none() {
        return refuse("此任务集群不存在");
    }
    let clients =
        s.kv.range(prefix_range(&keys::clients_prefix(&group)))
            .await?
            .kvs
            .iter()
            .map(|kv| Client {
                name: text(&kv.value),
                path: text(&kv.key),
                group: group.clone(),
            })
            .collect();
    done(clients, LISTED)
}
