//! What a command does to the store: etcd's semantics for put, delete, txn, compaction and
//! leases. Every change of one entry shares one new revision.

use prost::Message;

use super::keys;
use super::writer::Writer;
use super::Meta;
use crate::error::ApplyError;
use crate::pb::{self, compare, request_op, response_op};
use crate::{Command, Reply};

/// An entry's effect, staged in `w`; `events` are the changes at revision `meta.revision + 1`.
pub struct Applier<'a, 'w> {
    pub w: &'a mut Writer<'w>,
    pub meta: &'a mut Meta,
    pub events: Vec<pb::Event>,
}

type ApplyResult<T> = Result<T, ApplyError>;

/// Storage failures while applying are not data: they stop the apply (and the node).
#[derive(Debug)]
pub enum Failure {
    Rejected(ApplyError),
    Io(sled::Error),
    Corrupt(String),
}

impl From<sled::Error> for Failure {
    fn from(e: sled::Error) -> Self {
        Failure::Io(e)
    }
}

impl From<ApplyError> for Failure {
    fn from(e: ApplyError) -> Self {
        Failure::Rejected(e)
    }
}

impl Applier<'_, '_> {
    fn next_rev(&self) -> i64 {
        self.meta.revision + 1
    }

    fn header(&self) -> Option<pb::ResponseHeader> {
        let revision = if self.events.is_empty() {
            self.meta.revision
        } else {
            self.next_rev()
        };
        Some(pb::ResponseHeader {
            revision,
            ..Default::default()
        })
    }

    pub fn apply(&mut self, cmd: Command) -> Result<Reply, Failure> {
        Ok(match cmd {
            Command::Put(req) => {
                self.check_lease(req.lease)?;
                Reply::Put(self.put(req)?)
            }
            Command::Delete(req) => Reply::Delete(self.delete(&req)?),
            Command::Txn(req) => Reply::Txn(self.txn(req)?),
            Command::Compact(req) => Reply::Compact(self.compact(req.revision)?),
            Command::LeaseGrant(req) => Reply::LeaseGrant(self.lease_grant(req)?),
            Command::LeaseRevoke(req) => Reply::LeaseRevoke(self.lease_revoke(req.id)?),
            // Batches are unpacked by the state machine, never nested.
            Command::Batch(_) => return Err(Failure::Corrupt("a nested command batch".into())),
        })
    }

    fn check_lease(&self, lease: i64) -> ApplyResult<()> {
        if lease != 0 && !self.meta.leases.contains_key(&lease) {
            return Err(ApplyError::LeaseNotFound(lease));
        }
        Ok(())
    }

    fn get_kv(&self, key: &[u8]) -> Result<Option<pb::KeyValue>, Failure> {
        match self.w.get(&keys::kv(key))? {
            None => Ok(None),
            Some(v) => Ok(Some(decode_kv(&v)?)),
        }
    }

    fn put(&mut self, req: pb::PutRequest) -> Result<pb::PutResponse, Failure> {
        let rev = self.next_rev();
        let prev = self.get_kv(&req.key)?;
        let kv = pb::KeyValue {
            create_revision: prev.as_ref().map_or(rev, |p| p.create_revision),
            mod_revision: rev,
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            lease: req.lease,
            key: req.key,
            value: req.value,
        };
        if let Some(p) = &prev {
            if p.lease != 0 && p.lease != kv.lease {
                self.w.remove(keys::attach(p.lease, &kv.key));
            }
        }
        if kv.lease != 0 {
            self.w.put(keys::attach(kv.lease, &kv.key), Vec::new());
        }
        self.w.put(keys::kv(&kv.key), kv.encode_to_vec());
        self.events.push(pb::Event {
            r#type: pb::event::EventType::Put as i32,
            kv: Some(kv),
            prev_kv: prev.clone(),
        });
        Ok(pb::PutResponse {
            header: self.header(),
            prev_kv: if req.prev_kv { prev } else { None },
        })
    }

    fn delete(&mut self, req: &pb::DeleteRangeRequest) -> Result<pb::DeleteRangeResponse, Failure> {
        let (start, end) = keys::kv_bounds(&req.key, &req.range_end);
        let found = self.w.scan(&start, &end)?;
        let mut prev_kvs = Vec::with_capacity(found.len());
        for (_, v) in &found {
            prev_kvs.push(decode_kv(v)?);
        }
        self.delete_kvs(&prev_kvs);
        Ok(pb::DeleteRangeResponse {
            header: self.header(),
            deleted: prev_kvs.len() as i64,
            prev_kvs: if req.prev_kv { prev_kvs } else { Vec::new() },
        })
    }

    fn delete_kvs(&mut self, kvs: &[pb::KeyValue]) {
        let rev = self.next_rev();
        for prev in kvs {
            self.w.remove(keys::kv(&prev.key));
            if prev.lease != 0 {
                self.w.remove(keys::attach(prev.lease, &prev.key));
            }
            self.events.push(pb::Event {
                r#type: pb::event::EventType::Delete as i32,
                kv: Some(pb::KeyValue {
                    key: prev.key.clone(),
                    mod_revision: rev,
                    ..Default::default()
                }),
                prev_kv: Some(prev.clone()),
            });
        }
    }

    fn range(&self, req: &pb::RangeRequest) -> Result<pb::RangeResponse, Failure> {
        let (start, end) = keys::kv_bounds(&req.key, &req.range_end);
        let found = self.w.scan(&start, &end)?;
        let mut kvs = Vec::new();
        for (_, v) in &found {
            kvs.push(decode_kv(v)?);
        }
        Ok(super::read::shape_range(kvs, req, self.header()))
    }

    fn txn(&mut self, req: pb::TxnRequest) -> Result<pb::TxnResponse, Failure> {
        let mut succeeded = true;
        for c in &req.compare {
            if !self.compare(c)? {
                succeeded = false;
                break;
            }
        }
        let ops = if succeeded { req.success } else { req.failure };
        // A put naming an unknown lease fails the whole txn before anything is staged.
        for op in &ops {
            if let Some(request_op::Request::Put(p)) = &op.request {
                self.check_lease(p.lease)?;
            }
        }
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            let response = match op.request {
                Some(request_op::Request::Range(r)) => {
                    response_op::Response::Range(self.range(&r)?)
                }
                Some(request_op::Request::Put(p)) => response_op::Response::Put(self.put(p)?),
                Some(request_op::Request::DeleteRange(d)) => {
                    response_op::Response::DeleteRange(self.delete(&d)?)
                }
                None => continue,
            };
            responses.push(pb::ResponseOp {
                response: Some(response),
            });
        }
        Ok(pb::TxnResponse {
            header: self.header(),
            succeeded,
            responses,
        })
    }

    fn compare(&self, c: &pb::Compare) -> Result<bool, Failure> {
        use compare::{CompareResult, CompareTarget, TargetUnion};
        let kv = self.get_kv(&c.key)?;
        let kv = kv.as_ref();
        let ordering = match (CompareTarget::try_from(c.target), &c.target_union) {
            (Ok(CompareTarget::Value), Some(TargetUnion::Value(want))) => {
                // A missing key has no value to compare: the comparison fails, as in etcd.
                match kv {
                    None => return Ok(false),
                    Some(kv) => kv.value.as_slice().cmp(want.as_slice()),
                }
            }
            (Ok(CompareTarget::Version), Some(TargetUnion::Version(n))) => {
                kv.map_or(0, |k| k.version).cmp(n)
            }
            (Ok(CompareTarget::Create), Some(TargetUnion::CreateRevision(n))) => {
                kv.map_or(0, |k| k.create_revision).cmp(n)
            }
            (Ok(CompareTarget::Mod), Some(TargetUnion::ModRevision(n))) => {
                kv.map_or(0, |k| k.mod_revision).cmp(n)
            }
            (Ok(CompareTarget::Lease), Some(TargetUnion::Lease(n))) => {
                kv.map_or(0, |k| k.lease).cmp(n)
            }
            // A target without a matching operand never holds.
            _ => return Ok(false),
        };
        use std::cmp::Ordering::*;
        Ok(match CompareResult::try_from(c.result) {
            Ok(CompareResult::Equal) => ordering == Equal,
            Ok(CompareResult::NotEqual) => ordering != Equal,
            Ok(CompareResult::Greater) => ordering == Greater,
            Ok(CompareResult::Less) => ordering == Less,
            Err(_) => false,
        })
    }

    fn compact(&mut self, revision: i64) -> Result<pb::CompactionResponse, Failure> {
        if revision <= self.meta.compacted {
            return Err(ApplyError::Compacted {
                requested: revision,
                compacted: self.meta.compacted,
            }
            .into());
        }
        if revision > self.meta.revision {
            return Err(ApplyError::FutureRevision {
                requested: revision,
                current: self.meta.revision,
            }
            .into());
        }
        for (k, _) in self.w.scan(&keys::event(0), &keys::event(revision + 1))? {
            self.w.remove(k);
        }
        self.meta.compacted = revision;
        Ok(pb::CompactionResponse {
            header: self.header(),
        })
    }

    fn lease_grant(
        &mut self,
        req: pb::LeaseGrantRequest,
    ) -> Result<pb::LeaseGrantResponse, Failure> {
        if self.meta.leases.contains_key(&req.id) {
            return Err(ApplyError::LeaseExists(req.id).into());
        }
        self.w
            .put(keys::lease(req.id), crate::codec::encode(&req.ttl));
        self.meta.leases.insert(req.id, req.ttl);
        Ok(pb::LeaseGrantResponse {
            header: self.header(),
            id: req.id,
            ttl: req.ttl,
        })
    }

    fn lease_revoke(&mut self, id: i64) -> Result<pb::LeaseRevokeResponse, Failure> {
        if !self.meta.leases.contains_key(&id) {
            return Err(ApplyError::LeaseNotFound(id).into());
        }
        let prefix = keys::attach_prefix(id);
        let end = keys::prefix_end(&prefix).unwrap_or_else(|| vec![0xff; prefix.len() + 1]);
        let mut attached = Vec::new();
        for (k, _) in self.w.scan(&prefix, &end)? {
            let key = &k[prefix.len()..];
            if let Some(kv) = self.get_kv(key)? {
                attached.push(kv);
            }
        }
        self.delete_kvs(&attached);
        self.w.remove(keys::lease(id));
        self.meta.leases.remove(&id);
        Ok(pb::LeaseRevokeResponse {
            header: self.header(),
        })
    }
}

pub fn decode_kv(bytes: &[u8]) -> Result<pb::KeyValue, Failure> {
    pb::KeyValue::decode(bytes).map_err(|e| Failure::Corrupt(format!("a stored KeyValue: {e}")))
}
