//! The KV operations the scheduler commits: cursors, dispatches, pending ticks and finished
//! runs. Each builder returns the ops of one transaction, so callers put the compare and the
//! effects together.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{keys, JobExecuteSnapshot, JobSnapshot, WireJson};
use crate::pb::kv::{compare, request_op, Compare, DeleteRangeRequest, PutRequest, RequestOp};

/// A job's firing cursor: the last tick that was handled (fired, or recorded missed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub last: DateTime<Utc>,
}

pub fn put(key: String, value: String) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::Put(PutRequest {
            key: key.into_bytes(),
            value: value.into_bytes(),
            ..Default::default()
        })),
    }
}

pub fn delete(key: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::DeleteRange(DeleteRangeRequest {
            key: key.as_bytes().to_vec(),
            ..Default::default()
        })),
    }
}

/// Holds when `key` was last changed at `rev` (0: the key does not exist).
pub fn unchanged_since(key: &str, rev: i64) -> Compare {
    Compare {
        result: compare::CompareResult::Equal as i32,
        target: compare::CompareTarget::Mod as i32,
        key: key.as_bytes().to_vec(),
        target_union: Some(compare::TargetUnion::ModRevision(rev)),
    }
}

pub fn cursor(job_id: &str, last: DateTime<Utc>) -> RequestOp {
    let value = serde_json::to_string(&Cursor { last }).unwrap_or_default();
    put(keys::plan(job_id), value)
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
