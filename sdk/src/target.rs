//! What you implement: a target is the code for one kind of job, found by the job's `target`
//! name. It gets the run's [`Context`] and ends with a result text or an error; both are
//! recorded in the job's history.
//!
//! The trait returns a boxed future, so it needs no macro crate, and any
//! `Fn(Context) -> impl Future` closure is a target too.

use std::future::Future;
use std::pin::Pin;

use crate::Context;

/// A boxed, sendable future: what [`Target::run`] returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A run's failure: any error (`?` converts it) or a message (`"bad input".into()`).
pub type RunError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The code for one kind of job.
///
/// A run must stop soon after [`Context::cancelled`] fires (the node cancelled it, its timeout
/// passed, or the worker is shutting down): until it returns it holds one of the worker's
/// concurrency slots.
pub trait Target: Send + Sync + 'static {
    fn run(&self, ctx: Context) -> BoxFuture<Result<String, RunError>>;
}

impl<F, Fut> Target for F
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, RunError>> + Send + 'static,
{
    fn run(&self, ctx: Context) -> BoxFuture<Result<String, RunError>> {
        Box::pin(self(ctx))
    }
}
