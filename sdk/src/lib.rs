//! The Forest worker SDK: run Forest jobs inside your own service.
//!
//! A Forest cluster fires jobs; workers run them. A worker holds one gRPC stream
//! (`forest.v1.WorkerService/Connect`) to any node of the cluster, says who it is, and then
//! receives the runs dispatched to it. For each run it claims the run (only a claimed run may
//! run: the claim is what makes "exactly one worker runs this tick" true), runs your code,
//! streams its output and reports the result, all on that stream. When a node goes away the
//! worker moves to another one without stopping the runs it has under way.
//!
//! You write a [`Target`] per kind of job (the job's `target` field names it) and hand them to
//! a [`Builder`]:
//!
//! ```no_run
//! use forest_sdk::{Context, RunError, Worker};
//!
//! # async fn demo() -> Result<(), forest_sdk::Error> {
//! Worker::builder()
//!     .endpoints(["10.0.0.1:7070", "10.0.0.2:7070"])
//!     .group("billing")
//!     .target("invoice", |ctx: Context| async move {
//!         ctx.output(format!("invoicing for {}\n", ctx.params()));
//!         Ok::<_, RunError>("done".to_string())
//!     })
//!     .build()?
//!     .run() // until SIGTERM or ctrl-c, then drains
//!     .await;
//! # Ok(())
//! # }
//! ```
//!
//! The source, for readers: `worker.rs` is the builder and the entry points, `session.rs` the
//! protocol state that outlives any one stream, `connection.rs` one stream's handshake, `run.rs`
//! how one run is executed and turned into a result, `context.rs` what a run sees, `output.rs`
//! the size bounds.

mod backoff;
mod connection;
mod context;
mod error;
mod output;
mod recent;
mod run;
mod session;
pub mod status;
mod target;
mod worker;

pub use context::Context;
pub use error::Error;
pub use output::MAX_OUTPUT_BYTES;
pub use target::{BoxFuture, RunError, Target};
pub use tokio_util::sync::CancellationToken;
pub use worker::{Builder, Worker};

/// The generated `forest.v1` protocol: the worker stream and the job service.
pub mod pb {
    tonic::include_proto!("forest.v1");
}
