//! Builders for transaction parts, shared by every layer that writes through [`super::Kv::txn`].

use crate::pb::kv::{
    compare, request_op, Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp,
    WatchRequest,
};

pub fn put(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> RequestOp {
    put_leased(key, value, 0)
}

/// A put whose key goes when `lease` (0: none) ends.
pub fn put_leased(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, lease: i64) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::Put(PutRequest {
            key: key.as_ref().to_vec(),
            value: value.as_ref().to_vec(),
            lease,
            ..Default::default()
        })),
    }
}

pub fn delete(key: impl AsRef<[u8]>) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::DeleteRange(DeleteRangeRequest {
            key: key.as_ref().to_vec(),
            ..Default::default()
        })),
    }
}

/// Holds when `key` was last changed at `rev`; `rev` 0 means the key does not exist.
pub fn mod_revision_is(key: impl AsRef<[u8]>, rev: i64) -> Compare {
    Compare {
        result: compare::CompareResult::Equal as i32,
        target: compare::CompareTarget::Mod as i32,
        key: key.as_ref().to_vec(),
        target_union: Some(compare::TargetUnion::ModRevision(rev)),
        range_end: Vec::new(),
    }
}

/// Holds when `key` exists.
pub fn exists(key: impl AsRef<[u8]>) -> Compare {
    Compare {
        result: compare::CompareResult::Greater as i32,
        target: compare::CompareTarget::Version as i32,
        key: key.as_ref().to_vec(),
        target_union: Some(compare::TargetUnion::Version(0)),
        range_end: Vec::new(),
    }
}

/// A range over every key that starts with `prefix`.
pub fn prefix_range(prefix: &str) -> RangeRequest {
    RangeRequest {
        key: prefix.as_bytes().to_vec(),
        range_end: super::prefix_end(prefix.as_bytes()).unwrap_or_default(),
        ..Default::default()
    }
}

/// A watch of every key that starts with `prefix`, from `start_revision` (0: from now on).
pub fn prefix_watch(prefix: &str, start_revision: i64, prev_kv: bool) -> WatchRequest {
    WatchRequest {
        key: prefix.as_bytes().to_vec(),
        range_end: super::prefix_end(prefix.as_bytes()).unwrap_or_default(),
        start_revision,
        prev_kv,
    }
}
