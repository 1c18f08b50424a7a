//! etcd's KV service: Range, Put, DeleteRange, Txn and Compact, each one call of [`Kv`].
//!
//! On top of Forest's own checks, a transaction passes etcd's: no key is put twice, or put and
//! deleted, on any path through it and its nested transactions (Forest's KV checks only one
//! branch at a time), so what etcd refuses is refused here too.

use std::collections::HashSet;

use tonic::{Request, Response, Status};

use super::error::{status, DUPLICATE_KEY};
use super::EtcdService;
use crate::pb::etcd::etcdserverpb::{self as etcd, kv_server};

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl kv_server::Kv for EtcdService {
    async fn range(&self, req: Request<etcd::RangeRequest>) -> Reply<etcd::RangeResponse> {
        let resp = self.kv.range(req.into_inner().into()).await;
        Ok(Response::new(resp.map_err(status)?.into()))
    }

    async fn put(&self, req: Request<etcd::PutRequest>) -> Reply<etcd::PutResponse> {
        let resp = self.kv.put(req.into_inner().into()).await;
        Ok(Response::new(resp.map_err(status)?.into()))
    }

    async fn delete_range(
        &self,
        req: Request<etcd::DeleteRangeRequest>,
    ) -> Reply<etcd::DeleteRangeResponse> {
        let resp = self.kv.delete(req.into_inner().into()).await;
        Ok(Response::new(resp.map_err(status)?.into()))
    }

    async fn txn(&self, req: Request<etcd::TxnRequest>) -> Reply<etcd::TxnResponse> {
        let txn = req.into_inner();
        for branch in [&txn.success, &txn.failure] {
            writes(branch)?;
        }
        let resp = self.kv.txn(txn.into()).await;
        Ok(Response::new(resp.map_err(status)?.into()))
    }

    async fn compact(
        &self,
        req: Request<etcd::CompactionRequest>,
    ) -> Reply<etcd::CompactionResponse> {
        let resp = self.kv.compact(req.into_inner().revision).await;
        Ok(Response::new(resp.map_err(status)?.into()))
    }
}

/// The keys a branch may put and the ranges it may delete, nested transactions included, or
/// etcd's refusal when two of them meet (etcd's `checkIntervals`, to the letter: a range end
/// of "\0" makes an empty interval there too).
fn writes(ops: &[etcd::RequestOp]) -> Result<(HashSet<&[u8]>, Vec<Deleted<'_>>), Status> {
    use etcd::request_op::Request;
    let duplicate = || Status::invalid_argument(DUPLICATE_KEY);
    let mut deletes: Vec<Deleted> = ops
        .iter()
        .filter_map(|op| match &op.request {
            Some(Request::RequestDeleteRange(d)) => Some(Deleted {
                key: &d.key,
                end: &d.range_end,
            }),
            _ => None,
        })
        .collect();
    let deleted = |deletes: &[Deleted], k: &[u8]| deletes.iter().any(|d| d.covers(k));
    let mut puts = HashSet::new();
    for op in ops {
        let Some(Request::RequestTxn(t)) = &op.request else {
            continue;
        };
        let (then_puts, then_deletes) = writes(&t.success)?;
        let (else_puts, else_deletes) = writes(&t.failure)?;
        for k in &then_puts {
            if puts.contains(k) || deleted(&deletes, k) {
                return Err(duplicate());
            }
        }
        puts.extend(&then_puts);
        for k in else_puts {
            // The two branches of one transaction exclude each other.
            if (puts.contains(k) && !then_puts.contains(k)) || deleted(&deletes, k) {
                return Err(duplicate());
            }
            puts.insert(k);
        }
        deletes.extend(then_deletes);
        deletes.extend(else_deletes);
    }
    for op in ops {
        let Some(Request::RequestPut(p)) = &op.request else {
            continue;
        };
        if !puts.insert(p.key.as_slice()) || deleted(&deletes, &p.key) {
            return Err(duplicate());
        }
    }
    Ok((puts, deletes))
}

/// A deleted key, or the range `[key, end)`.
struct Deleted<'a> {
    key: &'a [u8],
    end: &'a [u8],
}

impl Deleted<'_> {
    fn covers(&self, k: &[u8]) -> bool {
        if self.end.is_empty() {
            k == self.key
        } else {
            self.key <= k && k < self.end
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcd::request_op::Request;

    fn put(k: &str) -> etcd::RequestOp {
        etcd::RequestOp {
            request: Some(Request::RequestPut(etcd::PutRequest {
                key: k.into(),
                ..Default::default()
            })),
        }
    }

    fn del(k: &str, end: &str) -> etcd::RequestOp {
        etcd::RequestOp {
            request: Some(Request::RequestDeleteRange(etcd::DeleteRangeRequest {
                key: k.into(),
                range_end: end.into(),
                ..Default::default()
            })),
        }
    }

    fn txn(success: Vec<etcd::RequestOp>, failure: Vec<etcd::RequestOp>) -> etcd::RequestOp {
        etcd::RequestOp {
            request: Some(Request::RequestTxn(etcd::TxnRequest {
                success,
                failure,
                ..Default::default()
            })),
        }
    }

    #[test]
    fn a_key_is_written_once_on_every_path() {
        let allowed = [
            vec![put("a"), put("b"), del("c", "")],
            vec![put("a"), del("b", "c")],
            // Either branch of a nested transaction may put the same key.
            vec![txn(vec![put("a")], vec![put("a")])],
            // etcd's interval for a range end of "\0" is empty.
            vec![put("b"), del("a", "\0")],
        ];
        for ops in allowed {
            assert!(writes(&ops).is_ok(), "{ops:?}");
        }
        let refused = [
            vec![put("a"), put("a")],
            vec![put("a"), del("a", "")],
            vec![put("b"), del("a", "c")],
            vec![put("a"), txn(vec![put("a")], vec![])],
            vec![txn(vec![], vec![put("a")]), put("a")],
            vec![del("a", "z"), txn(vec![put("b")], vec![])],
            vec![txn(vec![del("a", "")], vec![]), put("a")],
        ];
        for ops in refused {
            assert_eq!(
                writes(&ops).map(drop).map_err(|s| s.message().to_string()),
                Err(DUPLICATE_KEY.to_string()),
                "{ops:?}"
            );
        }
    }
}
