//! The records the scheduler commits besides cursors: dispatches, pending ticks and finished
//! runs, as transaction operations (callers put the compare and the effects together).

use crate::kv::ops::put;
use crate::model::plan::Cursor;
use crate::model::{keys, JobExecuteSnapshot, JobSnapshot, WireJson};
use crate::pb::kv::RequestOp;

pub fn cursor(job_id: &str, last: chrono::DateTime<chrono::Utc>) -> RequestOp {
    put(keys::plan(job_id), Cursor { last }.to_json())
}

pub fn dispatch(snapshot: &JobSnapshot) -> RequestOp {
    put(
        keys::snapshot(&snapshot.group, &snapshot.ip, &snapshot.id),
        snapshot.to_json(),
    )
}

pub fn pending(snapshot: &JobSnapshot) -> RequestOp {
    put(
        keys::pending(&snapshot.group, &snapshot.id),
        snapshot.to_json(),
    )
}

pub fn finished(run: &JobExecuteSnapshot) -> RequestOp {
    put(keys::history(&run.id), run.to_json())
}
