//! A worker with one target, `echo`, that prints its params back, a line at a time, and
//! returns them. Run a node (`forest serve`), create the group, then:
//!
//! ```text
//! FOREST_ENDPOINTS=127.0.0.1:7070 FOREST_GROUP=demo cargo run -p forest-sdk --example echo
//! ```
//!
//! and add a job of group `demo` with target `echo`. Ctrl-c drains and stops it.

use std::time::Duration;

use forest_sdk::{Context, RunError, Worker};

async fn echo(ctx: Context) -> Result<String, RunError> {
    for line in ctx.params().lines() {
        if ctx.is_cancelled() {
            return Err("cancelled".into());
        }
        ctx.output(format!("{line}\n"));
        // Pretend each line takes work, but stop at once when cancelled.
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
            () = ctx.cancelled() => return Err("cancelled".into()),
        }
    }
    Ok(format!(
        "echoed {} line(s) for job {} (run {})",
        ctx.params().lines().count(),
        ctx.job_id(),
        ctx.snapshot_id()
    ))
}

#[tokio::main]
async fn main() -> Result<(), forest_sdk::Error> {
    tracing_subscriber::fmt().init();
    let endpoints = std::env::var("FOREST_ENDPOINTS").unwrap_or_else(|_| "127.0.0.1:7070".into());
    let group = std::env::var("FOREST_GROUP").unwrap_or_else(|_| "demo".into());
    Worker::builder()
        .endpoints(endpoints.split(','))
        .group(group)
        .concurrency(4)
        .target("echo", echo)
        .build()?
        .run()
        .await;
    Ok(())
}
