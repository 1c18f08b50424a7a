//! Reads of the applied state: ranges (now or at a past revision) and the retained events.
//!
//! A past revision is read by taking the range as it is now and undoing, newest first, the
//! events after that revision (each event keeps the value it replaced). Reads near the present,
//! the common case, cost little; anything older than the compaction point is gone.

use std::collections::BTreeMap;

use super::apply::{decode_kv, Failure};
use super::{keys, Inner};
use crate::codec::decode;
use crate::error::ApplyError;
use crate::pb;

/// Applies limit / keys_only / count_only to the matching pairs, in key order.
pub fn shape_range(
    mut kvs: Vec<pb::KeyValue>,
    req: &pb::RangeRequest,
    header: Option<pb::ResponseHeader>,
) -> pb::RangeResponse {
    let count = kvs.len() as i64;
    if req.count_only {
        kvs.clear();
    }
    let mut more = false;
    if req.limit > 0 && kvs.len() as i64 > req.limit {
        kvs.truncate(req.limit as usize);
        more = true;
    }
    if req.keys_only {
        for kv in &mut kvs {
            kv.value.clear();
        }
    }
    pb::RangeResponse {
        header,
        kvs,
        more,
        count,
    }
}

/// Revision-stamped events, oldest first.
pub type Batches = Vec<(i64, Vec<pb::Event>)>;

impl Inner {
    pub(super) fn range_locked(
        &self,
        req: &pb::RangeRequest,
        revision: i64,
        compacted: i64,
    ) -> Result<pb::RangeResponse, Failure> {
        let at = req.revision;
        if at > revision {
            return Err(ApplyError::FutureRevision {
                requested: at,
                current: revision,
            }
            .into());
        }
        if at > 0 && at < compacted {
            return Err(ApplyError::Compacted {
                requested: at,
                compacted,
            }
            .into());
        }
        let (start, end) = keys::kv_bounds(&req.key, &req.range_end);
        let header = Some(pb::ResponseHeader {
            revision,
            ..Default::default()
        });
        if at == 0 || at == revision {
            let mut kvs = Vec::new();
            for item in self.tree.range(start..end) {
                let (_, v) = item?;
                kvs.push(decode_kv(&v)?);
            }
            return Ok(shape_range(kvs, req, header));
        }
        let mut state: BTreeMap<Vec<u8>, pb::KeyValue> = BTreeMap::new();
        for item in self.tree.range(start..end) {
            let (k, v) = item?;
            state.insert(k[1..].to_vec(), decode_kv(&v)?);
        }
        for item in self
            .tree
            .range(keys::event(at + 1)..keys::event(revision + 1))
            .rev()
        {
            let (_, v) = item?;
            let events: Vec<pb::Event> = decode(&v).map_err(|e| Failure::Corrupt(e.to_string()))?;
            for ev in events.into_iter().rev() {
                let Some(kv) = ev.kv else { continue };
                if !keys::in_range(&kv.key, &req.key, &req.range_end) {
                    continue;
                }
                match ev.prev_kv {
                    Some(prev) => state.insert(kv.key, prev),
                    None => state.remove(&kv.key),
                };
            }
        }
        Ok(shape_range(state.into_values().collect(), req, header))
    }

    /// The retained events from `from` to `to` (inclusive) that touch the range.
    pub(super) fn events_locked(
        &self,
        from: i64,
        to: i64,
        key: &[u8],
        range_end: &[u8],
    ) -> Result<Batches, Failure> {
        let mut out = Vec::new();
        for item in self.tree.range(keys::event(from)..keys::event(to + 1)) {
            let (k, v) = item?;
            let rev = crate::codec::from_be(&k[1..]).unwrap_or_default() as i64;
            let events: Vec<pb::Event> = decode(&v).map_err(|e| Failure::Corrupt(e.to_string()))?;
            let events: Vec<pb::Event> = events
                .into_iter()
                .filter(|e| {
                    e.kv.as_ref()
                        .is_some_and(|kv| keys::in_range(&kv.key, key, range_end))
                })
                .collect();
            if !events.is_empty() {
                out.push((rev, events));
            }
        }
        Ok(out)
    }
}
