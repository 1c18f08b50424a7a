//! Between Forest's KV messages and etcd's: one conversion per message type, in the direction
//! the adapter needs it (requests into Forest, answers out). Both keep etcd's field numbers and
//! enum values, so every field maps to its namesake; the few places where etcd's meaning
//! differs from Forest's checks are adjusted here and say so.

use crate::pb::etcd::{etcdserverpb as etcd, mvccpb};
use crate::pb::kv as pb;

impl From<pb::ResponseHeader> for etcd::ResponseHeader {
    fn from(h: pb::ResponseHeader) -> Self {
        etcd::ResponseHeader {
            cluster_id: h.cluster_id,
            member_id: h.member_id,
            revision: h.revision,
            raft_term: h.raft_term,
        }
    }
}

/// A header as etcd's server sends it: always present.
pub fn header(h: Option<pb::ResponseHeader>) -> Option<etcd::ResponseHeader> {
    Some(h.map(Into::into).unwrap_or_default())
}

impl From<pb::KeyValue> for mvccpb::KeyValue {
    fn from(kv: pb::KeyValue) -> Self {
        mvccpb::KeyValue {
            key: kv.key,
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            value: kv.value,
            lease: kv.lease,
        }
    }
}

impl From<pb::Event> for mvccpb::Event {
    fn from(e: pb::Event) -> Self {
        mvccpb::Event {
            r#type: e.r#type,
            kv: e.kv.map(Into::into),
            prev_kv: e.prev_kv.map(Into::into),
        }
    }
}

impl From<etcd::RangeRequest> for pb::RangeRequest {
    fn from(r: etcd::RangeRequest) -> Self {
        pb::RangeRequest {
            key: r.key,
            range_end: r.range_end,
            // etcd reads a negative limit as no limit; Forest refuses it.
            limit: r.limit.max(0),
            revision: r.revision,
            sort_order: r.sort_order,
            sort_target: r.sort_target,
            serializable: r.serializable,
            keys_only: r.keys_only,
            count_only: r.count_only,
            min_mod_revision: r.min_mod_revision,
            max_mod_revision: r.max_mod_revision,
            min_create_revision: r.min_create_revision,
            max_create_revision: r.max_create_revision,
        }
    }
}

impl From<pb::RangeResponse> for etcd::RangeResponse {
    fn from(r: pb::RangeResponse) -> Self {
        etcd::RangeResponse {
            header: header(r.header),
            kvs: r.kvs.into_iter().map(Into::into).collect(),
            more: r.more,
            count: r.count,
        }
    }
}

impl From<etcd::PutRequest> for pb::PutRequest {
    fn from(p: etcd::PutRequest) -> Self {
        pb::PutRequest {
            key: p.key,
            value: p.value,
            lease: p.lease,
            prev_kv: p.prev_kv,
            ignore_value: p.ignore_value,
            ignore_lease: p.ignore_lease,
        }
    }
}

impl From<pb::PutResponse> for etcd::PutResponse {
    fn from(p: pb::PutResponse) -> Self {
        etcd::PutResponse {
            header: header(p.header),
            prev_kv: p.prev_kv.map(Into::into),
        }
    }
}

impl From<etcd::DeleteRangeRequest> for pb::DeleteRangeRequest {
    fn from(d: etcd::DeleteRangeRequest) -> Self {
        pb::DeleteRangeRequest {
            key: d.key,
            range_end: d.range_end,
            prev_kv: d.prev_kv,
        }
    }
}

impl From<pb::DeleteRangeResponse> for etcd::DeleteRangeResponse {
    fn from(d: pb::DeleteRangeResponse) -> Self {
        etcd::DeleteRangeResponse {
            header: header(d.header),
            deleted: d.deleted,
            prev_kvs: d.prev_kvs.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<etcd::Compare> for pb::Compare {
    fn from(c: etcd::Compare) -> Self {
        use etcd::compare::TargetUnion as E;
        use pb::compare::TargetUnion as F;
        pb::Compare {
            result: c.result,
            target: c.target,
            key: c.key,
            target_union: c.target_union.map(|t| match t {
                E::Version(v) => F::Version(v),
                E::CreateRevision(v) => F::CreateRevision(v),
                E::ModRevision(v) => F::ModRevision(v),
                E::Value(v) => F::Value(v),
                E::Lease(v) => F::Lease(v),
            }),
            range_end: c.range_end,
        }
    }
}

impl From<etcd::RequestOp> for pb::RequestOp {
    fn from(op: etcd::RequestOp) -> Self {
        use etcd::request_op::Request as E;
        use pb::request_op::Request as F;
        pb::RequestOp {
            request: op.request.map(|r| match r {
                E::RequestRange(r) => F::Range(r.into()),
                E::RequestPut(p) => F::Put(p.into()),
                E::RequestDeleteRange(d) => F::DeleteRange(d.into()),
                E::RequestTxn(t) => F::Txn(t.into()),
            }),
        }
    }
}

impl From<etcd::TxnRequest> for pb::TxnRequest {
    fn from(t: etcd::TxnRequest) -> Self {
        pb::TxnRequest {
            compare: t.compare.into_iter().map(Into::into).collect(),
            success: t.success.into_iter().map(Into::into).collect(),
            failure: t.failure.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<pb::ResponseOp> for etcd::ResponseOp {
    fn from(op: pb::ResponseOp) -> Self {
        use etcd::response_op::Response as E;
        use pb::response_op::Response as F;
        etcd::ResponseOp {
            response: op.response.map(|r| match r {
                F::Range(r) => E::ResponseRange(r.into()),
                F::Put(p) => E::ResponsePut(p.into()),
                F::DeleteRange(d) => E::ResponseDeleteRange(d.into()),
                F::Txn(t) => E::ResponseTxn(t.into()),
            }),
        }
    }
}

impl From<pb::TxnResponse> for etcd::TxnResponse {
    fn from(t: pb::TxnResponse) -> Self {
        etcd::TxnResponse {
            header: header(t.header),
            succeeded: t.succeeded,
            responses: t.responses.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<pb::CompactionResponse> for etcd::CompactionResponse {
    fn from(c: pb::CompactionResponse) -> Self {
        etcd::CompactionResponse {
            header: header(c.header),
        }
    }
}

impl From<pb::LeaseGrantResponse> for etcd::LeaseGrantResponse {
    fn from(l: pb::LeaseGrantResponse) -> Self {
        etcd::LeaseGrantResponse {
            header: header(l.header),
            id: l.id,
            ttl: l.ttl,
            error: String::new(),
        }
    }
}

impl From<pb::LeaseRevokeResponse> for etcd::LeaseRevokeResponse {
    fn from(l: pb::LeaseRevokeResponse) -> Self {
        etcd::LeaseRevokeResponse {
            header: header(l.header),
        }
    }
}

impl From<pb::LeaseKeepAliveResponse> for etcd::LeaseKeepAliveResponse {
    fn from(l: pb::LeaseKeepAliveResponse) -> Self {
        etcd::LeaseKeepAliveResponse {
            header: header(l.header),
            id: l.id,
            ttl: l.ttl,
        }
    }
}

impl From<etcd::LeaseTimeToLiveRequest> for pb::LeaseTimeToLiveRequest {
    fn from(l: etcd::LeaseTimeToLiveRequest) -> Self {
        pb::LeaseTimeToLiveRequest {
            id: l.id,
            keys: l.keys,
        }
    }
}

impl From<pb::LeaseTimeToLiveResponse> for etcd::LeaseTimeToLiveResponse {
    fn from(l: pb::LeaseTimeToLiveResponse) -> Self {
        etcd::LeaseTimeToLiveResponse {
            header: header(l.header),
            id: l.id,
            ttl: l.ttl,
            granted_ttl: l.granted_ttl,
            keys: l.keys,
        }
    }
}

impl From<&etcd::WatchCreateRequest> for pb::WatchRequest {
    fn from(w: &etcd::WatchCreateRequest) -> Self {
        pb::WatchRequest {
            // etcd watches from "\0" when no key is given.
            key: if w.key.is_empty() {
                vec![0]
            } else {
                w.key.clone()
            },
            range_end: w.range_end.clone(),
            start_revision: w.start_revision,
            prev_kv: w.prev_kv,
        }
    }
}
