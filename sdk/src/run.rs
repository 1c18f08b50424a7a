//! Executing one claimed run: the target runs in a task of its own (so a panic in it ends that
//! run as an error, not the worker), under the job's timeout, and whatever happens becomes one
//! Result: status, result text, the output's tail, and the start and end times.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{info, warn, Instrument, Span};

use crate::output::{head, MAX_OUTPUT_BYTES};
use crate::{pb, status, Context, Target};

/// Runs `target` for `ctx` to its end.
pub(crate) async fn execute(target: Arc<dyn Target>, ctx: Context) -> pb::Result {
    let started_at_ms = now_ms();
    // The target's own logs carry the run's span (snapshot id, job id).
    let mut task = tokio::spawn(target.run(ctx.clone()).instrument(Span::current()));
    let joined = match ctx.timeout() {
        Some(timeout) => tokio::select! {
            joined = &mut task => joined,
            () = tokio::time::sleep(timeout) => {
                ctx.cancel(&format!("timed out after {timeout:?}"));
                task.await
            }
        },
        None => task.await,
    };
    let (status, text) = match (ctx.cancel_reason(), joined) {
        (Some(reason), _) => (status::CANCELLED, cancelled(&reason)),
        (None, Ok(Ok(text))) => (status::SUCCESS, text),
        (None, Ok(Err(e))) => (status::ERROR, e.to_string()),
        (None, Err(e)) => (status::ERROR, format!("the target failed: {e}")),
    };
    if status == status::SUCCESS {
        info!(status, "run finished");
    } else {
        warn!(status, result = %head(&text, 200), "run did not succeed");
    }
    result(
        ctx.snapshot_id(),
        status,
        &text,
        ctx.captured_output(),
        started_at_ms,
    )
}

/// The Result for a dispatch whose target this worker does not have.
pub(crate) fn unknown_target(dispatch: &pb::Dispatch) -> pb::Result {
    let text = format!("no such target: {:?}", head(&dispatch.target, 256));
    result(
        &dispatch.snapshot_id,
        status::UNKNOWN_TARGET,
        &text,
        String::new(),
        now_ms(),
    )
}

/// The Result for a claimed run that was cancelled before it started.
pub(crate) fn cancelled_before_start(snapshot_id: &str, reason: &str) -> pb::Result {
    result(
        snapshot_id,
        status::CANCELLED,
        &cancelled(reason),
        String::new(),
        now_ms(),
    )
}

fn cancelled(reason: &str) -> String {
    format!("cancelled: {reason}")
}

fn result(snapshot_id: &str, status: i32, text: &str, output: String, started: i64) -> pb::Result {
    pb::Result {
        snapshot_id: snapshot_id.to_string(),
        status,
        result: head(text, MAX_OUTPUT_BYTES).to_string(),
        output,
        started_at_ms: started,
        finished_at_ms: now_ms(),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
