//! The `/forest/...` keys (see the original's etcd layout).

/// Scheduler node registry prefix: `/forest/server/node/<name>` = name, under a lease.
pub const NODE_PREFIX: &str = "/forest/server/node/";
/// The leader's node name, mirroring Raft leadership for tools that read it.
pub const ELECT_LEADER: &str = "/forest/server/elect/leader";

pub fn node(name: &str) -> String {
    format!("{NODE_PREFIX}{name}")
}
