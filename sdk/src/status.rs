//! The status codes a run ends with (`Result.status`): the original forest's codes, which the
//! execution history and the original clients share, and Forest's `cancelled`.

/// The target returned a result.
pub const SUCCESS: i32 = 2;
/// This worker has no target of the dispatched name (the original clients' "no such target").
pub const UNKNOWN_TARGET: i32 = 3;
/// The target failed (returned an error or panicked).
pub const ERROR: i32 = -1;
/// The run was stopped: the node cancelled it, its timeout passed, or the worker shut down.
pub const CANCELLED: i32 = -5;
