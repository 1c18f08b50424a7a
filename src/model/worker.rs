//! A streamed worker's details: what the original registry key (`/forest/client/<group>/
//! clients/<name>` = name) cannot say. Stored beside it under the same lease, so both vanish
//! together, and read by whoever shows workers (the API) or takes over a reconnecting one.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkerInfo {
    pub group: String,
    pub name: String,
    /// The worker process's session: a reconnect with the same one takes the registration over.
    pub session: String,
    /// The lease both keys live under.
    pub lease: i64,
    /// The node the worker's stream is on.
    pub node: String,
    pub capacity: u32,
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub version: String,
    /// RFC 3339, when this session registered.
    pub connected_at: String,
}

impl super::WireJson for WorkerInfo {
    const FIELDS: &'static [&'static str] = &[
        "group",
        "name",
        "session",
        "lease",
        "node",
        "capacity",
        "targets",
        "labels",
        "version",
        "connectedAt",
    ];
}
