//! duck's 任务快照 and 任务作业快照: runs waiting for a worker (`/snapshot/list`,
//! `/snapshot/delete`) and the execution history (`/execute/snapshot/list`).

use axum::extract::State;
use axum::routing::Router;
use forest_storage::history::{History, HistoryError, Page, Query, Record};
use serde::{Deserialize, Serialize};

use super::bind::{loose_int, Bound};
use super::envelope::{done, refuse, Reply, LISTED};
use super::post_only;
use crate::history::record;
use crate::http::api::MAX_PAGE_SIZE;
use crate::http::AppState;
use crate::jobs::JobError;
use crate::kv::ops::prefix_range;
use crate::model::{keys, JobExecuteSnapshot, JobSnapshot, WireJson};
use crate::pb::kv::RangeRequest;

const BAD_REQUEST: &str = "非法的请求参数";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/snapshot/list", post_only(list_snapshots))
        .route("/snapshot/delete", post_only(delete_snapshot))
        .route("/execute/snapshot/list", post_only(list_executions))
}

/// The original's `QuerySnapshotParam`. duck sends the whole row to `/snapshot/delete`; the
/// other fields are ignored.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
struct SnapshotQuery {
    group: String,
    id: String,
    ip: String,
}

impl WireJson for SnapshotQuery {
    const FIELDS: &'static [&'static str] = &["group", "id", "ip"];
}

/// The most snapshots one list shows (the original's limit, which duck's page announces).
const MAX_SNAPSHOTS: i64 = 500;

/// Where the snapshots `q` asks for are. Without a group: all of them (ip and id are
/// ignored, as in the original; duck's page says to choose a group). With one: the group's,
/// narrowed to a worker by `ip`, and to one key by `ip` and `id`. Ticks still waiting for a
/// worker (`/forest/server/pending/<group>/<id>`, which the original did not have) belong to
/// no worker: they show unless an ip is asked for.
fn snapshot_ranges(q: &SnapshotQuery) -> Vec<RangeRequest> {
    let first = |r: RangeRequest| RangeRequest {
        limit: MAX_SNAPSHOTS,
        ..r
    };
    let key = |key: String| RangeRequest {
        key: key.into_bytes(),
        ..RangeRequest::default()
    };
    let (group, ip, id) = (q.group.as_str(), q.ip.as_str(), q.id.as_str());
    match (group.is_empty(), ip.is_empty(), id.is_empty()) {
        (true, ..) => vec![
            first(prefix_range(keys::SNAPSHOT_PREFIX)),
            first(prefix_range(keys::PENDING_PREFIX)),
        ],
        (false, false, false) => vec![key(keys::snapshot(group, ip, id))],
        (false, false, true) => vec![first(prefix_range(&keys::snapshot_worker_prefix(
            group, ip,
        )))],
        // No key names the id without its worker: the group's are read and filtered.
        (false, true, false) => vec![
            prefix_range(&keys::snapshot_group_prefix(group)),
            key(keys::pending(group, id)),
        ],
        (false, true, true) => vec![
            first(prefix_range(&keys::snapshot_group_prefix(group))),
            first(prefix_range(&keys::pending_group_prefix(group))),
        ],
    }
}

/// At most [`MAX_SNAPSHOTS`], in key order (dispatched, then waiting); `[]` when none.
async fn list_snapshots(
    State(s): State<AppState>,
    body: Bound<SnapshotQuery>,
) -> Reply<Vec<JobSnapshot>> {
    let q = body.or_refuse(BAD_REQUEST)?;
    let mut found = Vec::new();
    for range in snapshot_ranges(&q) {
        let kvs = s.kv.range(range).await?.kvs;
        // Values that are not snapshots are skipped, as the original skipped them.
        found.extend(
            kvs.iter()
                .filter_map(|kv| JobSnapshot::from_json(&kv.value).ok()),
        );
    }
    found.retain(|snap| q.group.is_empty() || q.id.is_empty() || snap.id == q.id);
    found.truncate(MAX_SNAPSHOTS as usize);
    done(found, LISTED)
}

/// Withdraws the snapshot of `group` with `id` (duck also sends its ip, which the id makes
/// redundant), waiting or dispatched, recording the tick cancelled ([`crate::jobs::snapshots`]).
/// Nothing found is a refusal, where the original said `删除成功` and deleted nothing.
async fn delete_snapshot(State(s): State<AppState>, body: Bound<SnapshotQuery>) -> Reply<()> {
    let q = body.or_refuse(BAD_REQUEST)?;
    if !keys::is_valid_segment(&q.group) || !keys::is_valid_segment(&q.id) {
        return refuse(BAD_REQUEST);
    }
    match s
        .jobs
        .withdraw(
            &q.group,
            &q.id,
            "deleted in the original UI before a worker took it",
        )
        .await
    {
        Ok(()) => done((), "删除成功"),
        Err(JobError::SnapshotNotFound { .. }) => refuse("此任务快照不存在"),
        Err(e) => Err(e.into()),
    }
}

/// The original's `QueryExecuteSnapshotParam`. duck sends `"status":""` when its status
/// select is cleared: no filter.
#[derive(Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ExecuteQuery {
    id: String,
    group: String,
    ip: String,
    job_id: String,
    name: String,
    #[serde(deserialize_with = "loose_int")]
    status: i64,
    #[serde(deserialize_with = "loose_int")]
    page_no: i64,
    #[serde(deserialize_with = "loose_int")]
    page_size: i64,
}

impl WireJson for ExecuteQuery {
    const FIELDS: &'static [&'static str] = &[
        "id", "group", "ip", "jobId", "name", "status", "pageNo", "pageSize",
    ];
}

/// The original's `PageResult`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageResult {
    total_page: u64,
    total_count: u64,
    list: Vec<JobExecuteSnapshot>,
}

/// `pageSize` when the request has none (or one below 1).
const DEFAULT_PAGE_SIZE: u64 = 10;

/// One page of runs, newest first. Filters are exact, but `name` matches a part of the
/// name (the history store's filter), and `jobId` filters, which the original ignored.
/// `pageSize` is capped at the REST API's largest page; a page past the end is empty.
async fn list_executions(
    State(s): State<AppState>,
    body: Bound<ExecuteQuery>,
) -> Reply<PageResult> {
    let p = body.or_refuse(BAD_REQUEST)?;
    let Ok(status) = i32::try_from(p.status) else {
        return refuse(BAD_REQUEST);
    };
    let size = match u64::try_from(p.page_size) {
        Ok(0) | Err(_) => DEFAULT_PAGE_SIZE,
        Ok(n) => n.min(MAX_PAGE_SIZE),
    };
    let page_no = u64::try_from(p.page_no).unwrap_or(0).max(1);
    // The store ignores empty text filters.
    let q = Query {
        job_id: Some(p.job_id),
        name: Some(p.name),
        group: Some(p.group),
        ip: Some(p.ip),
        status: (status != 0).then_some(status),
        offset: (page_no - 1).saturating_mul(size),
        limit: size,
        ..Query::default()
    };
    let found = if p.id.is_empty() {
        s.history.list(&q).await
    } else {
        by_id(&s.history, &p.id, &q).await
    };
    let page = match found {
        Ok(page) => page,
        Err(e) => {
            tracing::warn!(error = %e, "original API: the execution history did not answer");
            return refuse("查询失败");
        }
    };
    let Ok(list) = page
        .records
        .iter()
        .map(|r| JobExecuteSnapshot::from_json(record::to_json(r).as_bytes()))
        .collect()
    else {
        return refuse("查询失败");
    };
    let total = u64::try_from(page.total).unwrap_or(0);
    done(
        PageResult {
            total_page: total.div_ceil(size),
            total_count: total,
            list,
        },
        LISTED,
    )
}

/// A lookup by run id (the store's key) as a page of the listing: the run if it passes the
/// other filters, on the first page.
async fn by_id(history: &History, id: &str, q: &Query) -> Result<Page, HistoryError> {
    let found = history.get(id).await?.filter(|r| passes(q, r));
    Ok(Page {
        total: i64::from(found.is_some()),
        total_capped: false,
        records: found
            .filter(|_| q.offset == 0)
            // As a listing shows runs: without their output.
            .map(|r| Record {
                output: String::new(),
                ..r
            })
            .into_iter()
            .collect(),
    })
}

/// Whether `r` passes `q`'s filters as the store applies them: empty text is no filter, the
/// name matches a part.
fn passes(q: &Query, r: &Record) -> bool {
    let is = |want: &Option<String>, have: &str| {
        want.as_deref()
            .is_none_or(|want| want.is_empty() || want == have)
    };
    is(&q.job_id, &r.job_id)
        && is(&q.group, &r.group)
        && is(&q.ip, &r.ip)
        && q.name.as_deref().is_none_or(|name| r.name.contains(name))
        && q.status.is_none_or(|status| status == r.status)
}
