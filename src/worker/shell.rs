//! The `shell` target: the job's params are a command for `/bin/sh -c`, run only if the
//! worker's [`ShellPolicy`] allows it (see [`super::allow`]).
//!
//! The command runs in a process group of its own, so that the run owns every process it
//! starts: when the run is cancelled (the node's cancel, the job's timeout, the worker's
//! shutdown) the whole group gets SIGTERM, then SIGKILL after a short grace, and no child
//! survives. The same happens to whatever is left in the group when the shell exits: a job
//! that wants a daemon to outlive it must detach it from the group (`setsid`).
//!
//! stdout and stderr are read as they come and become the run's output (streamed as progress;
//! the SDK keeps the tail). Exit code 0 is success; anything else is an error naming the code
//! or the signal.
//!
//! The run's identity is passed in the environment: `FOREST_SNAPSHOT_ID` (the idempotency key),
//! `FOREST_JOB_ID`, `FOREST_SCHEDULED_AT` (RFC 3339, UTC; empty for a manual run),
//! `FOREST_ATTEMPT`, `FOREST_SHARD_INDEX`, `FOREST_SHARD_TOTAL`.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use forest_sdk::{BoxFuture, Context, RunError, Target};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tracing::debug;

use super::allow::ShellPolicy;

pub const TARGET: &str = "shell";

/// How long a process group has between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(2);
/// How long output is still read after the group is gone (a process that left the group may
/// hold the pipes open).
const OUTPUT_LINGER: Duration = Duration::from_secs(1);

/// The `shell` target.
pub struct Shell {
    policy: ShellPolicy,
}

impl Shell {
    pub fn new(policy: ShellPolicy) -> Shell {
        Shell { policy }
    }
}

impl Target for Shell {
    fn run(&self, ctx: Context) -> BoxFuture<Result<String, RunError>> {
        match self.policy.check(ctx.params()) {
            Ok(()) => Box::pin(run(ctx)),
            Err(refused) => Box::pin(std::future::ready(Err(refused.into()))),
        }
    }
}

async fn run(ctx: Context) -> Result<String, RunError> {
    let mut child = command(&ctx).spawn()?;
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .ok_or("the shell exited before it could be watched")?;
    debug!(pgid, "shell started");
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let output = async {
        tokio::join!(pump(stdout, &ctx), pump(stderr, &ctx));
    };
    tokio::pin!(output);
    // Output is read while the shell runs: a full pipe would stop it.
    let mut output_open = true;
    let exited = loop {
        tokio::select! {
            status = child.wait() => break Some(status?),
            () = &mut output, if output_open => output_open = false,
            () = ctx.cancelled() => break None,
        }
    };
    // Whatever the shell left behind, or everything when cancelled.
    end_group(pgid, &mut child).await;
    if output_open
        && tokio::time::timeout(OUTPUT_LINGER, &mut output)
            .await
            .is_err()
    {
        debug!("output still open after the group ended; stopped reading");
    }
    match exited {
        None => Err("cancelled: the process group was killed".into()),
        Some(status) if status.success() => Ok("exit code 0".to_string()),
        Some(status) => Err(describe(status).into()),
    }
}

fn command(ctx: &Context) -> Command {
    let scheduled_at = ctx
        .scheduled_at()
        .map(|t| DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default();
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(ctx.params())
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .env("FOREST_SNAPSHOT_ID", ctx.snapshot_id())
        .env("FOREST_JOB_ID", ctx.job_id())
        .env("FOREST_SCHEDULED_AT", scheduled_at)
        .env("FOREST_ATTEMPT", ctx.attempt().to_string())
        .env("FOREST_SHARD_INDEX", ctx.shard_index().to_string())
        .env("FOREST_SHARD_TOTAL", ctx.shard_total().to_string());
    cmd
}

/// Copies a pipe into the run's output until it closes. Bytes of a character split between
/// two reads wait for the rest, so multi-byte text is not mangled.
async fn pump(pipe: Option<impl AsyncRead + Unpin>, ctx: &Context) {
    let Some(mut pipe) = pipe else { return };
    let mut buf = vec![0u8; 8 * 1024];
    let mut pending = Vec::new();
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                ctx.output(take_text(&mut pending));
            }
        }
    }
    ctx.output(String::from_utf8_lossy(&pending));
}

/// The text in `bytes`, leaving there an incomplete character at the end.
fn take_text(bytes: &mut Vec<u8>) -> String {
    let complete = match std::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        _ => bytes.len(),
    };
    let rest = bytes.split_off(complete);
    let text = String::from_utf8_lossy(bytes).into_owned();
    *bytes = rest;
    text
}

/// SIGTERM to the group, then, after the shell is gone or the grace is over, SIGKILL to
/// whatever is left of it.
async fn end_group(pgid: i32, child: &mut Child) {
    if !signal_group(pgid, libc::SIGTERM) {
        return; // nothing left
    }
    let _ = tokio::time::timeout(GRACE, child.wait()).await;
    signal_group(pgid, libc::SIGKILL);
    let _ = child.wait().await;
}

/// Sends `signal` to every process of group `pgid`; false if there is none left.
fn signal_group(pgid: i32, signal: libc::c_int) -> bool {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    unsafe { libc::kill(-pgid, signal) == 0 }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => format!("ended: {status}"),
    }
}

#[cfg(test)]
mod tests;
