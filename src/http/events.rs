//! `GET /api/v1/events`: server-sent events for the UI's live updates.
//!
//! One set of KV watches per node (not per browser) turns replicated changes into events, and
//! a broadcast channel fans them out to every open stream; Raft metrics give leader changes.
//! A browser that falls behind the channel is told `lagged` (and refreshes) instead of
//! slowing the node. Events are hints to refresh, not a log: the API is the source of truth.
//!
//! | event | data | from |
//! |---|---|---|
//! | `run` | `{id, jobId, group, worker, status}`: 1 started, else finished | execute reports, collected runs |
//! | `job` | `{id, group, change: put\|delete}` | job definitions |
//! | `worker` | `{group, name, change: joined\|left}` | worker registry keys |
//! | `snapshot` | `{group, id, change: put\|delete}` | waiting and dispatched snapshots |
//! | `leader` | `{leaderId, term}` | Raft |

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::AppState;
use crate::auth::Principal;
use crate::kv::{ops, Kv};
use crate::model::{keys, ExecuteStatus, JobConf, JobExecuteSnapshot, WireJson};
use crate::pb::kv::{event::EventType, KeyValue};

/// Events buffered for a slow browser before it is told it lagged.
const BUFFER: usize = 1024;

/// One change worth telling a browser about.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: &'static str,
    pub data: Value,
}

/// The node's event fan-out.
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Events {
    /// Starts the watches that feed the events; they live as long as the node.
    pub fn start(kv: Kv) -> Events {
        let (tx, _) = broadcast::channel(BUFFER);
        for prefix in [
            keys::CLIENT_ROOT,
            keys::CONF_PREFIX,
            keys::PENDING_PREFIX,
            keys::HISTORY_PREFIX,
        ] {
            tokio::spawn(follow(kv.clone(), prefix, tx.clone()));
        }
        tokio::spawn(leaders(kv, tx.clone()));
        Events { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

/// Watches `prefix` for the life of the node, resuming after the revision it reached when
/// the watch breaks (from now on, if that was compacted).
async fn follow(kv: Kv, prefix: &'static str, tx: broadcast::Sender<Event>) {
    let mut next = 0;
    loop {
        match kv.watch(ops::prefix_watch(prefix, next, true)) {
            Ok(mut watch) => {
                while let Some(Ok(resp)) = watch.next().await {
                    if resp.compact_revision > 0 {
                        next = 0;
                        break;
                    }
                    for ev in resp.events {
                        let deleted = ev.r#type == EventType::Delete as i32;
                        let Some(kv) = ev.kv else { continue };
                        next = kv.mod_revision + 1;
                        if let Some(e) = classify(deleted, &kv, ev.prev_kv.as_ref()) {
                            // No receiver is not an error: nobody is looking.
                            let _ = tx.send(e);
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(prefix, error = %e, "events: cannot watch"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn change(deleted: bool) -> &'static str {
    if deleted {
        "delete"
    } else {
        "put"
    }
}

fn run_event(run: &JobExecuteSnapshot) -> Event {
    Event {
        kind: "run",
        data: json!({"id": run.id, "jobId": run.job_id, "group": run.group, "worker": run.ip, "status": run.status}),
    }
}

/// The event a changed key means, if any.
fn classify(deleted: bool, kv: &KeyValue, prev: Option<&KeyValue>) -> Option<Event> {
    let key = std::str::from_utf8(&kv.key).ok()?;
    if keys::parse_execute_snapshot_key(key).is_some() {
        // A run starts with its first running report; its end is told from the history.
        let run = JobExecuteSnapshot::from_json(&kv.value).ok()?;
        let was_running = prev
            .and_then(|p| JobExecuteSnapshot::from_json(&p.value).ok())
            .is_some_and(|p| p.status == ExecuteStatus::RUNNING);
        return (!deleted && run.status == ExecuteStatus::RUNNING && !was_running)
            .then(|| run_event(&run));
    }
    if key.starts_with(keys::HISTORY_PREFIX) {
        let run = JobExecuteSnapshot::from_json(&kv.value).ok()?;
        return (!deleted).then(|| run_event(&run));
    }
    if let Some(work) = keys::parse_snapshot_key(key) {
        return Some(Event {
            kind: "snapshot",
            data: json!({"group": work.group, "id": work.id, "change": change(deleted)}),
        });
    }
    if let Some((group, id)) = key
        .strip_prefix(keys::PENDING_PREFIX)
        .and_then(|r| r.split_once('/'))
    {
        return Some(Event {
            kind: "snapshot",
            data: json!({"group": group, "id": id, "change": change(deleted)}),
        });
    }
    if let Some(id) = keys::parse_job_conf_key(key) {
        // The group (from the old value, for a delete) keeps the event to the group's viewers.
        let conf = if deleted {
            prev.map(|p| &p.value)
        } else {
            Some(&kv.value)
        };
        let group = conf
            .and_then(|v| JobConf::from_json(v).ok())
            .map(|j| j.group)
            .unwrap_or_default();
        return Some(Event {
            kind: "job",
            data: json!({"id": id, "group": group, "change": change(deleted)}),
        });
    }
    if let Some((group, name)) = keys::parse_client_key(key) {
        let joined = !deleted && prev.is_none();
        return (deleted || joined).then(|| Event {
            kind: "worker",
            data: json!({"group": group, "name": name, "change": if deleted { "left" } else { "joined" }}),
        });
    }
    None
}

fn leader_event((leader, term): (Option<u64>, u64)) -> Event {
    Event {
        kind: "leader",
        data: json!({"leaderId": leader.unwrap_or(0), "term": term}),
    }
}

/// A `leader` event whenever the known leader or the term changes.
async fn leaders(kv: Kv, tx: broadcast::Sender<Event>) {
    let mut metrics = kv.cluster().raft().metrics();
    let mut last = None;
    loop {
        let now = {
            let m = metrics.borrow_and_update();
            (m.current_leader, m.current_term)
        };
        if last != Some(now) {
            let _ = tx.send(leader_event(now));
            last = Some(now);
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    responses((status = 200, description = "Server-sent events: run, job, worker, snapshot, leader (and lagged when the browser fell behind)", content_type = "text/event-stream", body = String)))]
pub async fn stream(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    // A browser learns the leader at once, not at the next change.
    let m = s.kv.cluster().metrics();
    let now =
        futures::stream::once(async move { Ok(leader_event((m.current_leader, m.current_term))) });
    // A group-scoped caller hears only of its groups.
    let visible = move |r: &Result<Event, BroadcastStreamRecvError>| match r {
        Ok(e) => e.data["group"].as_str().is_none_or(|g| who.sees_group(g)),
        Err(_) => true,
    };
    let updates = BroadcastStream::new(s.events.subscribe())
        .filter(move |r| futures::future::ready(visible(r)));
    let events = now.chain(updates).map(|r| {
        Ok(match r {
            Ok(e) => SseEvent::default().event(e.kind).data(e.data.to_string()),
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                SseEvent::default().event("lagged").data(n.to_string())
            }
        })
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
