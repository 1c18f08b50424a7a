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

/// Shapes the matching pairs (given in key order) as etcd does: the revision filters, then the
/// sort, then the limit, then keys_only. `count` is every match, filtered out or not.
pub fn shape_range(
    mut kvs: Vec<pb::KeyValue>,
    req: &pb::RangeRequest,
    header: Option<pb::ResponseHeader>,
) -> pb::RangeResponse {
    let count = kvs.len() as i64;
    if req.count_only {
        kvs.clear();
    }
    kvs.retain(|kv| passes_filters(kv, req));
    sort(&mut kvs, req);
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

fn passes_filters(kv: &pb::KeyValue, req: &pb::RangeRequest) -> bool {
    let within = |v: i64, min: i64, max: i64| (min == 0 || v >= min) && (max == 0 || v <= max);
    within(kv.mod_revision, req.min_mod_revision, req.max_mod_revision)
        && within(
            kv.create_revision,
            req.min_create_revision,
            req.max_create_revision,
        )
}

/// Sorts by the requested target; ties keep key order. No order and the key target leave the
/// pairs as they are (key order); no order and another target sort ascending.
fn sort(kvs: &mut [pb::KeyValue], req: &pb::RangeRequest) {
    use pb::range_request::{SortOrder, SortTarget};
    let target = SortTarget::try_from(req.sort_target).unwrap_or(SortTarget::Key);
    let order = match SortOrder::try_from(req.sort_order) {
        Ok(SortOrder::None) if target == SortTarget::Key => return,
        Ok(SortOrder::None) | Ok(SortOrder::Ascend) => SortOrder::Ascend,
        Ok(SortOrder::Descend) => SortOrder::Descend,
        Err(_) => return,
    };
    kvs.sort_by(|a, b| {
        let by_target = match target {
            SortTarget::Key => a.key.cmp(&b.key),
            SortTarget::Version => a.version.cmp(&b.version),
            SortTarget::Create => a.create_revision.cmp(&b.create_revision),
            SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
            SortTarget::Value => a.value.cmp(&b.value),
        };
        let ordering = by_target.then_with(|| a.key.cmp(&b.key));
        match order {
            SortOrder::Descend => ordering.reverse(),
            _ => ordering,
        }
    });
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
