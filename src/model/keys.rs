//! The `/forest/...` keys: the original's etcd layout byte for byte (forest-compat §1), plus
//! Forest's own prefixes (DESIGN §3).
//!
//! | key | value |
//! |---|---|
//! | `/forest/server/node/<name>` | node name, lease |
//! | `/forest/server/elect/leader` | the leader's node name |
//! | `/forest/server/group/<group>` | [`GroupConf`](super::GroupConf) JSON |
//! | `/forest/server/conf/<jobId>` | [`JobConf`](super::JobConf) JSON |
//! | `/forest/server/plan/<jobId>` | the job's firing cursor (new in Forest) |
//! | `/forest/server/manual/<jobId>` | the id of the job's latest manual run (new) |
//! | `/forest/server/auth/token/<id>` | an API token: its role, groups and secret's hash (new) |
//! | `/forest/client/<group>/clients/<worker>` | worker name, lease |
//! | `/forest/client/snapshot/<group>/<worker>/<id>` | [`JobSnapshot`](super::JobSnapshot) JSON |
//! | `/forest/client/execute/snapshot/<group>/<worker>/<id>` | [`JobExecuteSnapshot`](super::JobExecuteSnapshot) JSON |
//! | `/forest/server/worker/<group>/<worker>` | [`WorkerInfo`](super::WorkerInfo) JSON, under the worker's lease (new) |
//! | `/forest/server/cancel/<group>/<worker>/<id>` | why the run must stop (new) |
//! | `/forest/server/history/<id>` | a finished run's JobExecuteSnapshot, until every node indexed it (new) |
//! | `/forest/server/indexed/<node>` | the KV revision up to which the node's history store has it (new) |
//!
//! The builders here only format: group, worker and id segments must already be valid
//! ([`is_valid_segment`]; `JobConf::validate` and `GroupConf::validate` check theirs). The
//! parsers take keys that come from clients and return `None` for anything malformed.
//!
//! Fixed bugs of the original (forest-compat §7.2), wire-visible but safe for every client:
//! - \[wire\] 1, 2: the original wrote failed-over snapshots and manual runs to
//!   `/forest/client/snapshot/<group>/<worker>/` with no id, where they overwrote one another.
//!   Forest always writes a snapshot under its own id ([`snapshot`]); clients poll the worker
//!   prefix either way. A key without an id does not parse ([`parse_snapshot_key`]).
//! - \[wire\] 3: the original listed and deleted `…/<worker>//<id>` (double slash) and so never
//!   found anything. There is one builder for a snapshot key, with single slashes.
//! - 21: group names went into keys unescaped. Forest refuses names with `/`, whitespace or
//!   control characters, and the group names `snapshot` and `execute`
//!   ([`RESERVED_GROUPS`]): a group called `snapshot` has its client keys
//!   (`/forest/client/snapshot/clients/<worker>`) inside the snapshot family, where a scan of
//!   all snapshots finds them and where snapshots of a group called `clients` look like its
//!   clients; `execute` is the execute-snapshot family's first segment.

/// Scheduler node registry prefix: `/forest/server/node/<name>` = name, under a lease.
pub const NODE_PREFIX: &str = "/forest/server/node/";
/// The leader's node name, mirroring Raft leadership for tools that read it.
pub const ELECT_LEADER: &str = "/forest/server/elect/leader";
/// Job groups: `/forest/server/group/<group>` = GroupConf JSON (the original's `GroupConfPath`).
pub const GROUP_PREFIX: &str = "/forest/server/group/";
/// Job definitions: `/forest/server/conf/<jobId>` = JobConf JSON (the original's `JobConfPath`).
pub const CONF_PREFIX: &str = "/forest/server/conf/";
/// Firing cursors, new in Forest: `/forest/server/plan/<jobId>`, written with each dispatch.
pub const PLAN_PREFIX: &str = "/forest/server/plan/";
/// The latest manual run of each job: `/forest/server/manual/<jobId>` = its snapshot id. The
/// next manual run takes the id after it, so two runs asked for in one second never share an
/// id, even when the first has already left the queue.
pub const MANUAL_PREFIX: &str = "/forest/server/manual/";
/// API tokens: `/forest/server/auth/token/<id>` = the token's record, its secret only hashed.
pub const TOKEN_PREFIX: &str = "/forest/server/auth/token/";
/// Everything clients (workers) read or write lives under this.
/// Ticks that found no worker online, waiting (until their starting deadline) for one:
/// `/forest/server/pending/<group>/<snapshotId>` = JobSnapshot JSON.
pub const PENDING_PREFIX: &str = "/forest/server/pending/";
/// Finished runs kept until the execution history takes them over:
/// `/forest/server/history/<snapshotId>` = JobExecuteSnapshot JSON.
pub const HISTORY_PREFIX: &str = "/forest/server/history/";
/// How far each node's history store has materialized `/forest/server/history/`:
/// `/forest/server/indexed/<node>` = a KV revision. The leader deletes history keys every node
/// has indexed.
pub const INDEXED_PREFIX: &str = "/forest/server/indexed/";
/// Streamed workers' details, beside their original registry key and under the same lease:
/// `/forest/server/worker/<group>/<worker>` = WorkerInfo JSON.
pub const WORKER_PREFIX: &str = "/forest/server/worker/";
/// Runs the scheduler wants stopped (timeout, a replacing run): `/forest/server/cancel/<group>/
/// <worker>/<snapshotId>` = the reason. The worker's node pushes it to the worker and deletes it
/// on the worker's acknowledgement. Under `server/` so no original client mistakes it for work.
pub const CANCEL_PREFIX: &str = "/forest/server/cancel/";
pub const CLIENT_ROOT: &str = "/forest/client/";
/// Pending snapshots of every group (the original's `JobSnapshotPath`).
pub const SNAPSHOT_PREFIX: &str = "/forest/client/snapshot/";
/// Execution reports of every group (the original's `JobExecuteStatusCollectionPath`).
pub const EXECUTE_PREFIX: &str = "/forest/client/execute/snapshot/";
/// Group names that would put a group's keys inside another family (see the module doc).
pub const RESERVED_GROUPS: &[&str] = &["snapshot", "execute"];

/// The middle segment of a client registry key.
const CLIENTS: &str = "clients";

pub fn node(name: &str) -> String {
    format!("{NODE_PREFIX}{name}")
}

pub fn group(name: &str) -> String {
    format!("{GROUP_PREFIX}{name}")
}

pub fn job_conf(job_id: &str) -> String {
    format!("{CONF_PREFIX}{job_id}")
}

pub fn plan(job_id: &str) -> String {
    format!("{PLAN_PREFIX}{job_id}")
}

pub fn token(id: &str) -> String {
    format!("{TOKEN_PREFIX}{id}")
}

pub fn manual(job_id: &str) -> String {
    format!("{MANUAL_PREFIX}{job_id}")
}

/// `/forest/client/<group>/clients/`: the group's worker registry.
pub fn pending(group: &str, id: &str) -> String {
    format!("{PENDING_PREFIX}{group}/{id}")
}

pub fn pending_group_prefix(group: &str) -> String {
    format!("{PENDING_PREFIX}{group}/")
}

pub fn history(id: &str) -> String {
    format!("{HISTORY_PREFIX}{id}")
}

pub fn clients_prefix(group: &str) -> String {
    format!("{CLIENT_ROOT}{group}/{CLIENTS}/")
}

/// `/forest/client/<group>/clients/<worker>`. Its value is the worker's name too, and the
/// original (and its clients) take the **value** as the name: readers should as well.
pub fn client(group: &str, worker: &str) -> String {
    format!("{CLIENT_ROOT}{group}/{CLIENTS}/{worker}")
}

pub fn indexed(node: &str) -> String {
    format!("{INDEXED_PREFIX}{node}")
}

pub fn worker_info(group: &str, worker: &str) -> String {
    format!("{WORKER_PREFIX}{group}/{worker}")
}

pub fn cancel(group: &str, worker: &str, id: &str) -> String {
    format!("{CANCEL_PREFIX}{group}/{worker}/{id}")
}

pub fn cancel_worker_prefix(group: &str, worker: &str) -> String {
    format!("{CANCEL_PREFIX}{group}/{worker}/")
}

/// `/forest/server/cancel/<group>/<worker>/<id>` → its parts, as [`parse_snapshot_key`].
pub fn parse_cancel_key(key: &str) -> Option<WorkKey<'_>> {
    parse_work_key(key, CANCEL_PREFIX)
}

pub fn snapshot_group_prefix(group: &str) -> String {
    format!("{SNAPSHOT_PREFIX}{group}/")
}

/// `/forest/client/snapshot/<group>/<worker>/`: what a worker polls (the SDKs) or is pushed.
pub fn snapshot_worker_prefix(group: &str, worker: &str) -> String {
    format!("{SNAPSHOT_PREFIX}{group}/{worker}/")
}

pub fn snapshot(group: &str, worker: &str, id: &str) -> String {
    format!("{SNAPSHOT_PREFIX}{group}/{worker}/{id}")
}

pub fn execute_group_prefix(group: &str) -> String {
    format!("{EXECUTE_PREFIX}{group}/")
}

pub fn execute_worker_prefix(group: &str, worker: &str) -> String {
    format!("{EXECUTE_PREFIX}{group}/{worker}/")
}

/// Where a worker reports a run. The SDKs use their **own** configured group and name here,
/// while the JSON inside carries the snapshot's (forest-compat §1.2).
pub fn execute_snapshot(group: &str, worker: &str, id: &str) -> String {
    format!("{EXECUTE_PREFIX}{group}/{worker}/{id}")
}

/// The parts of a snapshot or execute-snapshot key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkKey<'a> {
    pub group: &'a str,
    pub worker: &'a str,
    pub id: &'a str,
}

/// `/forest/client/snapshot/<group>/<worker>/<id>` → its parts; `None` unless the key has
/// exactly those three non-empty segments (so the original's id-less `…/<worker>/` and
/// double-slash `…/<worker>//<id>` keys are `None`).
pub fn parse_snapshot_key(key: &str) -> Option<WorkKey<'_>> {
    parse_work_key(key, SNAPSHOT_PREFIX)
}

/// `/forest/client/execute/snapshot/<group>/<worker>/<id>` → its parts, as
/// [`parse_snapshot_key`].
pub fn parse_execute_snapshot_key(key: &str) -> Option<WorkKey<'_>> {
    parse_work_key(key, EXECUTE_PREFIX)
}

fn parse_work_key<'a>(key: &'a str, prefix: &str) -> Option<WorkKey<'a>> {
    let [group, worker, id] = segments(key.strip_prefix(prefix)?)?;
    Some(WorkKey { group, worker, id })
}

/// `/forest/client/<group>/clients/<worker>` → `(group, worker)` as the key spells them;
/// `None` for anything else, including the reserved groups' would-be registries.
pub fn parse_client_key(key: &str) -> Option<(&str, &str)> {
    let [group, middle, worker] = segments(key.strip_prefix(CLIENT_ROOT)?)?;
    (middle == CLIENTS && !is_reserved_group(group)).then_some((group, worker))
}

/// `/forest/server/group/<group>` → the group name.
pub fn parse_group_key(key: &str) -> Option<&str> {
    let [name] = segments(key.strip_prefix(GROUP_PREFIX)?)?;
    Some(name)
}

/// `/forest/server/conf/<jobId>` → the job id.
pub fn parse_job_conf_key(key: &str) -> Option<&str> {
    let [id] = segments(key.strip_prefix(CONF_PREFIX)?)?;
    Some(id)
}

/// `/forest/server/plan/<jobId>` → the job id.
pub fn parse_plan_key(key: &str) -> Option<&str> {
    let [id] = segments(key.strip_prefix(PLAN_PREFIX)?)?;
    Some(id)
}

/// Exactly `N` non-empty `/`-separated segments.
fn segments<const N: usize>(rest: &str) -> Option<[&str; N]> {
    let mut parts = rest.split('/');
    let mut out = [""; N];
    for slot in &mut out {
        *slot = parts.next().filter(|part| !part.is_empty())?;
    }
    parts.next().is_none().then_some(out)
}

/// Whether `s` may be one segment of a key: non-empty, without `/`, whitespace or control
/// characters. Names and ids Forest accepts (groups, workers, job ids) are checked with it.
pub fn is_valid_segment(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control())
}

pub fn is_reserved_group(name: &str) -> bool {
    RESERVED_GROUPS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_layout() {
        assert_eq!(node("192.168.10.35"), "/forest/server/node/192.168.10.35");
        assert_eq!(group("trade"), "/forest/server/group/trade");
        assert_eq!(
            job_conf("20190707191011593096"),
            "/forest/server/conf/20190707191011593096"
        );
        assert_eq!(clients_prefix("trade"), "/forest/client/trade/clients/");
        assert_eq!(
            client("trade", "127.0.0.1"),
            "/forest/client/trade/clients/127.0.0.1"
        );
        assert_eq!(
            snapshot_group_prefix("trade"),
            "/forest/client/snapshot/trade/"
        );
        assert_eq!(
            snapshot_worker_prefix("trade", "127.0.0.1"),
            "/forest/client/snapshot/trade/127.0.0.1/"
        );
        assert_eq!(
            snapshot("trade", "127.0.0.1", "X"),
            "/forest/client/snapshot/trade/127.0.0.1/X"
        );
        assert_eq!(
            execute_group_prefix("trade"),
            "/forest/client/execute/snapshot/trade/"
        );
        assert_eq!(
            execute_worker_prefix("trade", "127.0.0.1"),
            "/forest/client/execute/snapshot/trade/127.0.0.1/"
        );
        assert_eq!(
            execute_snapshot("trade", "127.0.0.1", "X"),
            "/forest/client/execute/snapshot/trade/127.0.0.1/X"
        );
        assert_eq!(plan("J"), "/forest/server/plan/J");
        // Every per-group and per-worker key sits under its family's prefix.
        for key in [snapshot_group_prefix("g"), snapshot("g", "w", "i")] {
            assert!(key.starts_with(SNAPSHOT_PREFIX));
        }
        for key in [execute_group_prefix("g"), execute_snapshot("g", "w", "i")] {
            assert!(key.starts_with(EXECUTE_PREFIX));
        }
    }

    #[test]
    fn work_keys_round_trip() {
        let want = WorkKey {
            group: "trade",
            worker: "10.0.0.7",
            id: "2019120409300000000020190707191011593096",
        };
        assert_eq!(
            parse_snapshot_key(&snapshot(want.group, want.worker, want.id)),
            Some(want)
        );
        assert_eq!(
            parse_execute_snapshot_key(&execute_snapshot(want.group, want.worker, want.id)),
            Some(want)
        );
        // Each family parses only its own keys.
        assert_eq!(parse_snapshot_key(&execute_snapshot("g", "w", "i")), None);
        assert_eq!(parse_execute_snapshot_key(&snapshot("g", "w", "i")), None);
    }

    #[test]
    fn work_key_parsing_rejects_junk() {
        for junk in [
            "",
            "/",
            "/forest/client/snapshot/",
            "/forest/client/snapshot/g",
            "/forest/client/snapshot/g/",
            "/forest/client/snapshot/g/w",
            // The original's manual-execute and failover key (§7.2 [wire] 1, 2).
            "/forest/client/snapshot/g/w/",
            // The original's list/delete key (§7.2 [wire] 3).
            "/forest/client/snapshot/g/w//id",
            "/forest/client/snapshot//w/id",
            "/forest/client/snapshot/g//id",
            "/forest/client/snapshot/g/w/id/",
            "/forest/client/snapshot/g/w/id/more",
            "/forest/client/snapshot/clients/w",
            "forest/client/snapshot/g/w/id",
            "/forest/client/snapshotx/g/w/id",
            "/forest/client/g/clients/w",
            "/forest/client/execute/snapshot/g/w",
            "\u{0}\u{fffd}//////",
        ] {
            assert_eq!(parse_snapshot_key(junk), None, "{junk:?}");
            let execute = junk.replacen(SNAPSHOT_PREFIX, EXECUTE_PREFIX, 1);
            assert_eq!(parse_execute_snapshot_key(&execute), None, "{execute:?}");
        }
    }

    #[test]
    fn client_keys() {
        assert_eq!(
            parse_client_key(&client("trade", "10.0.0.7")),
            Some(("trade", "10.0.0.7"))
        );
        for junk in [
            "/forest/client/trade/clients/",
            "/forest/client/trade/clients",
            "/forest/client/trade/clientz/w",
            "/forest/client/trade/clients/w/x",
            "/forest/client//clients/w",
            // A snapshot of a group `clients`, not a client of a group `snapshot`.
            "/forest/client/snapshot/clients/w",
            "/forest/client/execute/clients/w",
            "/forest/client/snapshot/g/w/id",
            "/forest/server/node/x",
        ] {
            assert_eq!(parse_client_key(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn server_keys() {
        assert_eq!(parse_group_key(&group("trade")), Some("trade"));
        assert_eq!(parse_job_conf_key(&job_conf("J1")), Some("J1"));
        assert_eq!(parse_plan_key(&plan("J1")), Some("J1"));
        assert_eq!(parse_group_key(GROUP_PREFIX), None);
        assert_eq!(parse_job_conf_key("/forest/server/conf/a/b"), None);
        assert_eq!(parse_job_conf_key(&plan("J1")), None);
        assert_eq!(parse_plan_key(&job_conf("J1")), None);
    }

    #[test]
    fn segments_and_reserved_groups() {
        for good in [
            "trade",
            "10.0.0.7",
            "交易",
            "a-b_c.d",
            "20190707191011593096",
        ] {
            assert!(is_valid_segment(good), "{good:?}");
        }
        for bad in ["", "a/b", "a b", " a", "a\n", "a\u{0}", "a\u{3000}b"] {
            assert!(!is_valid_segment(bad), "{bad:?}");
        }
        assert!(is_reserved_group("snapshot"));
        assert!(is_reserved_group("execute"));
        assert!(!is_reserved_group("clients"));
    }
}
