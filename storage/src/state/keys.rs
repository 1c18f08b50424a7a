//! Layout of the state tree. One sled tree holds everything the state machine owns, under
//! one-byte prefixes, so that an entry's whole effect is one atomic batch:
//!
//! | prefix | key                      | value                                   |
//! |--------|--------------------------|-----------------------------------------|
//! | `K`    | user key                 | `KeyValue` (protobuf)                   |
//! | `E`    | revision (u64 BE)        | the events of that revision (bincode)   |
//! | `L`    | lease id (u64 BE)        | granted TTL in seconds (bincode)        |
//! | `A`    | lease id (u64 BE) + key  | empty: the key is attached to the lease |
//! | `M`    | name                     | applied log id, membership, revision, … |

use crate::codec::be;

pub const KV: u8 = b'K';
pub const EVENT: u8 = b'E';
pub const LEASE: u8 = b'L';
pub const ATTACH: u8 = b'A';

pub const META_APPLIED: &[u8] = b"Mapplied";
pub const META_MEMBERSHIP: &[u8] = b"Mmembership";
pub const META_REVISION: &[u8] = b"Mrevision";
pub const META_COMPACTED: &[u8] = b"Mcompacted";

pub fn kv(key: &[u8]) -> Vec<u8> {
    prefixed(KV, key)
}

pub fn event(rev: i64) -> Vec<u8> {
    prefixed(EVENT, &be(rev as u64))
}

pub fn lease(id: i64) -> Vec<u8> {
    prefixed(LEASE, &be(id as u64))
}

pub fn attach_prefix(id: i64) -> Vec<u8> {
    prefixed(ATTACH, &be(id as u64))
}

pub fn attach(id: i64, key: &[u8]) -> Vec<u8> {
    let mut k = attach_prefix(id);
    k.extend_from_slice(key);
    k
}

fn prefixed(p: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(rest.len() + 1);
    k.push(p);
    k.extend_from_slice(rest);
    k
}

/// The smallest key greater than every key that starts with `prefix`, or None if there is none
/// (all 0xff).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The tree bounds of a user range: `range_end` empty = the single key, `[0]` = every key from
/// `key` on, otherwise `[key, range_end)` (empty when `range_end` is not after `key`).
pub fn kv_bounds(key: &[u8], range_end: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let start = kv(key);
    let end = match range_end {
        [] => {
            let mut e = start.clone();
            e.push(0);
            e
        }
        [0] => vec![KV + 1],
        end => kv(end).max(start.clone()),
    };
    (start, end)
}

/// Whether a user key lies in the user range (same rules as [`kv_bounds`]).
pub fn in_range(k: &[u8], key: &[u8], range_end: &[u8]) -> bool {
    match range_end {
        [] => k == key,
        [0] => k >= key,
        end => k >= key && k < end,
    }
}
