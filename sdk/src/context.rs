//! What a run sees: the dispatched snapshot's fields, a cancellation token, and a sink for its
//! output.
//!
//! Output written with [`Context::output`] goes two ways: it is streamed to the node as
//! Progress while the run goes on (best effort: dropped while the stream is down or
//! congested), and its tail is kept and sent with the Result, so the history always has the
//! end of it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::output::{head, Tail, MAX_OUTPUT_BYTES};
use crate::pb;
use crate::pb::worker_message::Kind;

/// The stream the worker currently holds (None between streams): where Progress goes.
pub(crate) type Link = watch::Receiver<Option<mpsc::Sender<pb::WorkerMessage>>>;

/// One run of a job. Cheap to clone; clones share the token and the output.
///
/// **Idempotency**: [`Context::snapshot_id`] names the run. Forest dispatches a run at least
/// once and the worker runs it at most once per process, but a run can still be retried
/// (attempt n+1 has its own snapshot id) or, after a crash, be run again by another worker.
/// Side effects that must happen once should be keyed by the snapshot id.
#[derive(Clone, Debug)]
pub struct Context {
    inner: Arc<Inner>,
    cancel: CancellationToken,
}

#[derive(Debug)]
struct Inner {
    dispatch: pb::Dispatch,
    output: Mutex<Tail>,
    cancel_reason: Mutex<Option<String>>,
    link: Link,
}

impl Context {
    /// A context for `dispatch` attached to no stream: output is only kept (see
    /// [`Context::captured_output`]). For testing targets without a cluster.
    pub fn new(dispatch: pb::Dispatch) -> Self {
        Self::attached(dispatch, watch::channel(None).1)
    }

    pub(crate) fn attached(dispatch: pb::Dispatch, link: Link) -> Self {
        Context {
            inner: Arc::new(Inner {
                dispatch,
                output: Mutex::default(),
                cancel_reason: Mutex::default(),
                link,
            }),
            cancel: CancellationToken::new(),
        }
    }

    /// The run's id (40 characters), unique per scheduled tick and attempt: the idempotency
    /// key of the run (see the type's documentation).
    pub fn snapshot_id(&self) -> &str {
        &self.inner.dispatch.snapshot_id
    }

    pub fn job_id(&self) -> &str {
        &self.inner.dispatch.job_id
    }

    pub fn job_name(&self) -> &str {
        &self.inner.dispatch.job_name
    }

    pub fn group(&self) -> &str {
        &self.inner.dispatch.group
    }

    /// The target name the job asked for.
    pub fn target(&self) -> &str {
        &self.inner.dispatch.target
    }

    /// The job's parameters, as the job stores them (free text: a command, JSON, ...).
    pub fn params(&self) -> &str {
        &self.inner.dispatch.params
    }

    /// The tick this run is for; None for a manual run.
    pub fn scheduled_at(&self) -> Option<SystemTime> {
        let ms = u64::try_from(self.inner.dispatch.scheduled_at_ms).ok()?;
        (ms > 0).then(|| UNIX_EPOCH + Duration::from_millis(ms))
    }

    /// 0 for the run itself, n for its n-th retry.
    pub fn attempt(&self) -> u32 {
        self.inner.dispatch.attempt
    }

    /// This run's shard, 0-based; 0 when not sharded.
    pub fn shard_index(&self) -> u32 {
        self.inner.dispatch.shard_index
    }

    /// How many shards the job runs as; 0 when not sharded.
    pub fn shard_total(&self) -> u32 {
        self.inner.dispatch.shard_total
    }

    /// The job's timeout. When it passes the worker cancels the run itself (and the node sends
    /// a cancel too); None: no timeout.
    pub fn timeout(&self) -> Option<Duration> {
        let ms = self.inner.dispatch.timeout_ms;
        (ms > 0).then(|| Duration::from_millis(ms))
    }

    /// The snapshot as the original forest clients see it (JobSnapshot JSON).
    pub fn snapshot_json(&self) -> &str {
        &self.inner.dispatch.snapshot_json
    }

    /// The run's cancellation token, for code that takes one.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Resolves once the run is cancelled: stop, then return.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Why the run was cancelled, once it is.
    pub fn cancel_reason(&self) -> Option<String> {
        lock(&self.inner.cancel_reason).clone()
    }

    /// Cancels the run, keeping the first reason given.
    pub(crate) fn cancel(&self, reason: &str) {
        lock(&self.inner.cancel_reason).get_or_insert_with(|| reason.to_string());
        self.cancel.cancel();
    }

    /// Appends `text` to the run's output as is (end lines with `\n`) and streams it to the
    /// node as progress (at most [`MAX_OUTPUT_BYTES`] of it per call).
    pub fn output(&self, text: impl AsRef<str>) {
        let text = text.as_ref();
        if text.is_empty() {
            return;
        }
        lock(&self.inner.output).push(text);
        if let Some(tx) = self.inner.link.borrow().as_ref() {
            let progress = pb::Progress {
                snapshot_id: self.snapshot_id().to_string(),
                output: head(text, MAX_OUTPUT_BYTES).to_string(),
            };
            // Progress is best effort: the Result carries the output's tail anyway.
            let _ = tx.try_send(pb::WorkerMessage {
                kind: Some(Kind::Progress(progress)),
            });
        }
    }

    /// The last [`MAX_OUTPUT_BYTES`] of the run's output so far.
    pub fn captured_output(&self) -> String {
        lock(&self.inner.output).text().to_string()
    }
}

/// The data behind these locks stays valid whatever panicked while holding them.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
