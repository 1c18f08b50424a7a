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
                self.check_put(&req)?;
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

    /// What must hold before a put stages anything: its lease exists, and the key exists when
    /// the put keeps the key's value or lease.
    fn check_put(&self, req: &pb::PutRequest) -> Result<(), Failure> {
        if (req.ignore_value || req.ignore_lease) && self.get_kv(&req.key)?.is_none() {
            return Err(ApplyError::KeyNotFound.into());
        }
        if req.lease != 0 && !self.meta.leases.contains_key(&req.lease) {
            return Err(ApplyError::LeaseNotFound(req.lease).into());
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
        let lease = match &prev {
            Some(p) if req.ignore_lease => p.lease,
            _ => req.lease,
        };
        let value = match &prev {
            Some(p) if req.ignore_value => p.value.clone(),
            _ => req.value,
        };
        let kv = pb::KeyValue {
            create_revision: prev.as_ref().map_or(rev, |p| p.create_revision),
            mod_revision: rev,
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            lease,
            value,
            key: req.key,
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

    /// etcd's order: every compare on the taken path (nested ones included) is evaluated, and
    /// every put on it checked, on the store as it was before the transaction; then the
    /// operations run, all sharing one revision.
    fn txn(&mut self, req: pb::TxnRequest) -> Result<pb::TxnResponse, Failure> {
        let decided = self.decide(req)?;
        self.run(decided)
    }

    fn decide(&self, req: pb::TxnRequest) -> Result<Decided, Failure> {
        let mut succeeded = true;
        for c in &req.compare {
            if !self.compare(c)? {
                succeeded = false;
                break;
            }
        }
        let ops = if succeeded { req.success } else { req.failure };
        let mut steps = Vec::with_capacity(ops.len());
        for op in ops {
            steps.push(match op.request {
                Some(request_op::Request::Range(r)) => Step::Range(r),
                Some(request_op::Request::Put(p)) => {
                    self.check_put(&p)?;
                    Step::Put(p)
                }
                Some(request_op::Request::DeleteRange(d)) => Step::Delete(d),
                Some(request_op::Request::Txn(t)) => Step::Txn(self.decide(t)?),
                None => continue,
            });
        }
        Ok(Decided { succeeded, steps })
    }

    fn run(&mut self, decided: Decided) -> Result<pb::TxnResponse, Failure> {
        let mut responses = Vec::with_capacity(decided.steps.len());
        for step in decided.steps {
            let response = match step {
                Step::Range(r) => response_op::Response::Range(self.range(&r)?),
                Step::Put(p) => response_op::Response::Put(self.put(p)?),
                Step::Delete(d) => response_op::Response::DeleteRange(self.delete(&d)?),
                Step::Txn(t) => response_op::Response::Txn(self.run(t)?),
            };
            responses.push(pb::ResponseOp {
                response: Some(response),
            });
        }
        Ok(pb::TxnResponse {
            header: self.header(),
            succeeded: decided.succeeded,
            responses,
        })
    }

    /// A compare with a range_end holds when it holds for every key in the range; an empty
    /// range compares as one missing key (etcd's rule).
    fn compare(&self, c: &pb::Compare) -> Result<bool, Failure> {
        if c.range_end.is_empty() {
            return Ok(compare_kv(c, self.get_kv(&c.key)?.as_ref()));
        }
        let (start, end) = keys::kv_bounds(&c.key, &c.range_end);
        let found = self.w.scan(&start, &end)?;
        if found.is_empty() {
            return Ok(compare_kv(c, None));
        }
        for (_, v) in &found {
            if !compare_kv(c, Some(&decode_kv(v)?)) {
                return Ok(false);
            }
        }
        Ok(true)
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

/// A transaction with every compare evaluated: the operations of the branches it takes.
struct Decided {
    succeeded: bool,
    steps: Vec<Step>,
}

enum Step {
    Range(pb::RangeRequest),
    Put(pb::PutRequest),
    Delete(pb::DeleteRangeRequest),
    Txn(Decided),
}

/// Whether one key (None: missing) satisfies a compare.
fn compare_kv(c: &pb::Compare, kv: Option<&pb::KeyValue>) -> bool {
    use compare::{CompareResult, CompareTarget, TargetUnion};
    let ordering = match (CompareTarget::try_from(c.target), &c.target_union) {
        (Ok(CompareTarget::Value), Some(TargetUnion::Value(want))) => {
            // A missing key has no value to compare: the comparison fails, as in etcd.
            match kv {
                None => return false,
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
        (Ok(CompareTarget::Lease), Some(TargetUnion::Lease(n))) => kv.map_or(0, |k| k.lease).cmp(n),
        // A target without a matching operand never holds.
        _ => return false,
    };
    use std::cmp::Ordering::*;
    match CompareResult::try_from(c.result) {
        Ok(CompareResult::Equal) => ordering == Equal,
        Ok(CompareResult::NotEqual) => ordering != Equal,
        Ok(CompareResult::Greater) => ordering == Greater,
        Ok(CompareResult::Less) => ordering == Less,
        Err(_) => false,
    }
}

pub fn decode_kv(bytes: &[u8]) -> Result<pb::KeyValue, Failure> {
    pb::KeyValue::decode(bytes).map_err(|e| Failure::Corrupt(format!("a stored KeyValue: {e}")))
}
