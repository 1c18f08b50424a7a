//! `/metrics`: what an operator watches, in Prometheus text.
//!
//! Counters and histograms are recorded where things happen, through the `metrics` facade
//! (runs by status where the history records them, fire delay where the leader commits a
//! tick, leader changes where the node notices them). Gauges of state (Raft term and indexes,
//! workers online, this node's role) are read when scraped, so they are never stale.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::AppState;
use crate::kv::ops;
use crate::model::keys;

/// Runs recorded in this node's history, by `status` name.
pub const RUNS: &str = "forest_runs_total";
/// How late the leader committed each tick after its scheduled time.
pub const FIRE_DELAY: &str = "forest_fire_delay_seconds";
/// Times this node saw the cluster's leader change.
pub const LEADER_CHANGES: &str = "forest_leader_changes_total";

const DELAY_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same handle). `None` when
/// another recorder was installed first, as in a test process that embeds nodes.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(FIRE_DELAY.into()), DELAY_BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            metrics::describe_counter!(RUNS, "Runs recorded in this node's history, by status");
            metrics::describe_histogram!(
                FIRE_DELAY,
                metrics::Unit::Seconds,
                "How late the leader committed each tick after its scheduled time"
            );
            metrics::describe_counter!(LEADER_CHANGES, "Leader changes this node saw");
            Some(handle)
        })
        .as_ref()
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(s): State<AppState>) -> impl IntoResponse {
    let cluster = s.kv.cluster();
    let m = cluster.metrics();
    let applied = m.last_applied.map_or(0, |l| l.index);
    let last = m.last_log_index.unwrap_or(0);
    metrics::gauge!("forest_raft_term").set(m.current_term as f64);
    metrics::gauge!("forest_raft_last_log_index").set(last as f64);
    metrics::gauge!("forest_raft_applied_index").set(applied as f64);
    metrics::gauge!("forest_raft_commit_index").set(commit_index(&m).unwrap_or(applied) as f64);
    metrics::gauge!("forest_raft_is_leader").set(if cluster.is_leader() { 1.0 } else { 0.0 });
    metrics::gauge!("forest_raft_leader_known").set(if m.current_leader.is_some() {
        1.0
    } else {
        0.0
    });
    if let Ok(workers) = workers_online(&s).await {
        metrics::gauge!("forest_workers_online").set(workers as f64);
    }
    let body = install().map(|h| {
        h.run_upkeep();
        h.render()
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body.unwrap_or_default(),
    )
}

/// On the leader, the highest index a quorum of voters holds; elsewhere unknown.
fn commit_index(m: &openraft::RaftMetrics<u64, forest_storage::Node>) -> Option<u64> {
    let replication = m.replication.as_ref()?;
    let mut matched: Vec<u64> = m
        .membership_config
        .membership()
        .voter_ids()
        .map(|id| {
            if id == m.id {
                m.last_log_index.unwrap_or(0)
            } else {
                replication
                    .get(&id)
                    .and_then(|l| l.map(|l| l.index))
                    .unwrap_or(0)
            }
        })
        .collect();
    matched.sort_unstable_by(|a, b| b.cmp(a));
    matched.get(matched.len() / 2).copied()
}

/// Registered workers, original clients included: their registry keys, group by group.
async fn workers_online(s: &AppState) -> Result<usize, crate::jobs::JobError> {
    let mut n = 0;
    for g in s.jobs.groups().await? {
        let range = ops::prefix_range(&keys::clients_prefix(&g.name));
        n +=
            s.kv.range(crate::pb::kv::RangeRequest {
                count_only: true,
                ..range
            })
            .await?
            .count as usize;
    }
    Ok(n)
}
