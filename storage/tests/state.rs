//! The key-value state machine, driven the way openraft drives it.
//!
//! Every test feeds entries with consecutive log indexes through
//! `RaftStateMachine::apply` and reads the result back through `KvState`, pinning etcd's
//! semantics: the global revision, per-key create/mod revision and version, ranges (now and at
//! a past revision), compare-and-swap transactions, leases, compaction, the retained events and
//! the live feed, plus durability across a reopen (and a crash) and a snapshot round trip.
//!
//! Layout: the fixture (`Sm`) and the request builders first, then one section per topic.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::Path;

use forest_storage::pb::compare::{CompareResult, CompareTarget, TargetUnion};
use forest_storage::pb::{self, event::EventType, request_op, response_op};
use forest_storage::state::{prefix_end, Batches, Notice};
use forest_storage::{
    open, ApplyError, Command, Identity, Node, ReadError, Reply, Response, Store, TypeConfig,
};
use openraft::storage::{RaftLogStorage, RaftSnapshotBuilder, RaftStateMachine};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, Membership, StoredMembership, Vote};
use tempfile::TempDir;
use tokio::sync::broadcast::error::TryRecvError;

// ================================================================================================
// Fixture
// ================================================================================================

/// The `range_end` meaning "every key from `key` on".
const FROM_KEY: &str = "\0";
/// The `range_end` meaning "just `key`".
const ONE: &str = "";

fn log_id(index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(1, 0), index)
}

/// One store, fed entries with consecutive log indexes (continuing after what it has applied).
struct Sm {
    store: Store,
    next: u64,
    _dir: Option<TempDir>,
}

/// Everything a reader can observe, for comparing two stores (or one store across a reopen).
#[derive(Debug, PartialEq)]
struct State {
    applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, Node>,
    revision: i64,
    compacted: i64,
    /// Every key at every revision still readable, from `compacted` (or 1) to `revision`.
    history: Vec<(i64, Vec<pb::KeyValue>)>,
    /// Lease id → (granted TTL, attached keys).
    leases: BTreeMap<i64, (i64, Vec<Vec<u8>>)>,
    /// Every retained event.
    events: Batches,
}

impl Sm {
    async fn open(dir: &Path) -> Sm {
        let identity = Identity {
            cluster: "test".into(),
            node_id: 1,
        };
        let store = open(dir, &identity).expect("the data directory opens");
        let next = store.kv.applied().await.log_id.map_or(1, |l| l.index + 1);
        Sm {
            store,
            next,
            _dir: None,
        }
    }

    async fn fresh() -> Sm {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut sm = Sm::open(dir.path()).await;
        sm._dir = Some(dir);
        sm
    }

    // ---- writes ----

    /// Applies the payloads as one `apply` call (as openraft does with a batch of entries).
    async fn apply_entries(&mut self, payloads: Vec<EntryPayload<TypeConfig>>) -> Vec<Response> {
        let mut entries = Vec::new();
        for payload in payloads {
            entries.push(Entry {
                log_id: log_id(self.next),
                payload,
            });
            self.next += 1;
        }
        let n = entries.len();
        let out = self
            .store
            .state_machine
            .apply(entries)
            .await
            .expect("apply does not fail");
        assert_eq!(out.len(), n, "one response per entry");
        assert_eq!(self.applied().await, Some(log_id(self.next - 1)));
        out
    }

    async fn apply_all(&mut self, cmds: Vec<Command>) -> Vec<Response> {
        self.apply_entries(cmds.into_iter().map(EntryPayload::Normal).collect())
            .await
    }

    async fn apply(&mut self, cmd: Command) -> Response {
        self.apply_all(vec![cmd]).await.remove(0)
    }

    /// Applies a command that must be accepted.
    async fn ok(&mut self, cmd: Command) -> Reply {
        let r = self.apply(cmd).await;
        assert_eq!(
            r.revision,
            self.rev().await,
            "a response carries the store revision"
        );
        r.result.expect("the command is accepted")
    }

    /// Applies a command that must be rejected, and checks it changed nothing but the applied
    /// log id.
    async fn rejected(&mut self, cmd: Command) -> ApplyError {
        let before = self.state().await;
        let r = self.apply(cmd).await;
        let mut after = self.state().await;
        assert_eq!(after.applied, Some(log_id(self.next - 1)));
        after.applied = before.applied;
        assert_eq!(after, before, "a rejected command changes nothing");
        assert_eq!(r.revision, before.revision);
        r.result.expect_err("the command is rejected")
    }

    async fn put(&mut self, k: &str, v: &str) -> pb::PutResponse {
        match self.ok(put(k, v)).await {
            Reply::Put(r) => r,
            other => panic!("a put replied {other:?}"),
        }
    }

    async fn delete(&mut self, cmd: Command) -> pb::DeleteRangeResponse {
        match self.ok(cmd).await {
            Reply::Delete(r) => r,
            other => panic!("a delete replied {other:?}"),
        }
    }

    async fn txn(&mut self, cmd: Command) -> pb::TxnResponse {
        match self.ok(cmd).await {
            Reply::Txn(r) => r,
            other => panic!("a txn replied {other:?}"),
        }
    }

    // ---- reads ----

    async fn rev(&self) -> i64 {
        self.store.kv.applied().await.revision
    }

    async fn applied(&self) -> Option<LogId<u64>> {
        self.store.kv.applied().await.log_id
    }

    async fn range(&self, req: pb::RangeRequest) -> pb::RangeResponse {
        let r = self
            .store
            .kv
            .range(&req)
            .await
            .expect("the range is readable");
        assert_eq!(
            header_rev(&r.header),
            self.rev().await,
            "a range reports the current revision"
        );
        r
    }

    async fn range_err(&self, req: pb::RangeRequest) -> ApplyError {
        match self.store.kv.range(&req).await {
            Err(ReadError::Rejected(e)) => e,
            other => panic!("expected a rejected range, got {other:?}"),
        }
    }

    async fn get(&self, k: &str) -> Option<pb::KeyValue> {
        let mut r = self.range(rr(k, ONE)).await;
        assert!(r.kvs.len() <= 1);
        r.kvs.pop()
    }

    /// `key=value` of every pair in the range, now (`at == 0`) or at a past revision.
    async fn pairs_at(&self, key: &str, end: &str, at: i64) -> Vec<String> {
        let r = self
            .range(pb::RangeRequest {
                revision: at,
                ..rr(key, end)
            })
            .await;
        r.kvs.iter().map(show_kv).collect()
    }

    async fn pairs(&self, key: &str, end: &str) -> Vec<String> {
        self.pairs_at(key, end, 0).await
    }

    async fn keys(&self, key: &str, end: &str) -> Vec<String> {
        let r = self.range(rr(key, end)).await;
        r.kvs.iter().map(|kv| s(&kv.key)).collect()
    }

    /// The retained events from `from` in the range, one line each (see [`show_event`]).
    async fn events(&self, from: i64, key: &str, end: &str) -> Vec<String> {
        let (batches, to) = self
            .store
            .kv
            .events_since(from, key.as_bytes(), end.as_bytes())
            .await
            .expect("the events are retained");
        assert_eq!(to, self.rev().await);
        batches
            .iter()
            .flat_map(|(rev, evs)| evs.iter().map(|e| show_event(*rev, e)))
            .collect()
    }

    async fn events_err(&self, from: i64) -> ApplyError {
        match self.store.kv.events_since(from, b"", b"\0").await {
            Err(ReadError::Rejected(e)) => e,
            other => panic!("expected rejected events, got {other:?}"),
        }
    }

    async fn state(&mut self) -> State {
        let (applied, membership) = self
            .store
            .state_machine
            .applied_state()
            .await
            .expect("applied state");
        let a = self.store.kv.applied().await;
        assert_eq!(a.log_id, applied);
        let mut history = Vec::new();
        for at in a.compacted.max(1)..=a.revision {
            let req = pb::RangeRequest {
                revision: at,
                ..rr("", FROM_KEY)
            };
            history.push((at, self.range(req).await.kvs));
        }
        let mut leases = BTreeMap::new();
        for (id, ttl) in self.store.kv.leases().await {
            let (granted, keys) = self
                .store
                .kv
                .lease(id)
                .await
                .expect("lease read")
                .expect("listed lease exists");
            assert_eq!(granted, ttl);
            leases.insert(id, (ttl, keys));
        }
        let events = self
            .store
            .kv
            .events_since(a.compacted + 1, b"", b"\0")
            .await
            .expect("retained events")
            .0;
        State {
            applied,
            membership,
            revision: a.revision,
            compacted: a.compacted,
            history,
            leases,
            events,
        }
    }
}

/// Runs `f` on a runtime of its own, which is dropped afterwards together with every task
/// spawned on it (the log's flusher holds a database handle): like the end of a process.
fn in_runtime<T>(f: impl Future<Output = T>) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(f)
}

// ================================================================================================
// Builders and display
// ================================================================================================

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn s(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("test keys and values are UTF-8")
}

fn prefix(p: &str) -> String {
    s(&prefix_end(p.as_bytes()).expect("a prefix with an end"))
}

fn put_req(k: &str, v: &str, lease: i64) -> pb::PutRequest {
    pb::PutRequest {
        key: b(k),
        value: b(v),
        lease,
        ..Default::default()
    }
}

fn put(k: &str, v: &str) -> Command {
    Command::Put(put_req(k, v, 0))
}

fn put_lease(k: &str, v: &str, lease: i64) -> Command {
    Command::Put(put_req(k, v, lease))
}

fn del_req(k: &str, end: &str) -> pb::DeleteRangeRequest {
    pb::DeleteRangeRequest {
        key: b(k),
        range_end: b(end),
        prev_kv: false,
    }
}

fn del(k: &str, end: &str) -> Command {
    Command::Delete(del_req(k, end))
}

fn grant(id: i64, ttl: i64) -> Command {
    Command::LeaseGrant(pb::LeaseGrantRequest { ttl, id })
}

fn revoke(id: i64) -> Command {
    Command::LeaseRevoke(pb::LeaseRevokeRequest { id })
}

fn compact(revision: i64) -> Command {
    Command::Compact(pb::CompactionRequest { revision })
}

fn txn(
    compare: Vec<pb::Compare>,
    success: Vec<pb::RequestOp>,
    failure: Vec<pb::RequestOp>,
) -> Command {
    Command::Txn(pb::TxnRequest {
        compare,
        success,
        failure,
    })
}

fn rr(k: &str, end: &str) -> pb::RangeRequest {
    pb::RangeRequest {
        key: b(k),
        range_end: b(end),
        ..Default::default()
    }
}

fn op(r: request_op::Request) -> pb::RequestOp {
    pb::RequestOp { request: Some(r) }
}

fn op_put(k: &str, v: &str) -> pb::RequestOp {
    op(request_op::Request::Put(put_req(k, v, 0)))
}

fn op_put_lease(k: &str, v: &str, lease: i64) -> pb::RequestOp {
    op(request_op::Request::Put(put_req(k, v, lease)))
}

fn op_del(k: &str, end: &str) -> pb::RequestOp {
    op(request_op::Request::DeleteRange(del_req(k, end)))
}

fn op_range(req: pb::RangeRequest) -> pb::RequestOp {
    op(request_op::Request::Range(req))
}

/// What a comparison looks at, with its operand.
#[derive(Debug, Clone, Copy)]
enum T<'a> {
    Version(i64),
    Create(i64),
    Mod(i64),
    Value(&'a str),
    Lease(i64),
}

fn cmp(key: &str, result: CompareResult, target: T) -> pb::Compare {
    let (target, union) = match target {
        T::Version(n) => (CompareTarget::Version, TargetUnion::Version(n)),
        T::Create(n) => (CompareTarget::Create, TargetUnion::CreateRevision(n)),
        T::Mod(n) => (CompareTarget::Mod, TargetUnion::ModRevision(n)),
        T::Value(v) => (CompareTarget::Value, TargetUnion::Value(b(v))),
        T::Lease(n) => (CompareTarget::Lease, TargetUnion::Lease(n)),
    };
    pb::Compare {
        result: result as i32,
        target: target as i32,
        key: b(key),
        target_union: Some(union),
        range_end: Vec::new(),
    }
}

fn kv(k: &str, v: &str, create: i64, modified: i64, version: i64, lease: i64) -> pb::KeyValue {
    pb::KeyValue {
        key: b(k),
        create_revision: create,
        mod_revision: modified,
        version,
        value: b(v),
        lease,
    }
}

/// The header a reply carries at `revision`.
fn header(revision: i64) -> Option<pb::ResponseHeader> {
    Some(pb::ResponseHeader {
        revision,
        ..Default::default()
    })
}

fn header_rev(h: &Option<pb::ResponseHeader>) -> i64 {
    h.as_ref().expect("a response header").revision
}

/// `key=value`, with ` lease=N` when the key has a lease.
fn show_kv(kv: &pb::KeyValue) -> String {
    let mut out = format!("{}={}", s(&kv.key), s(&kv.value));
    if kv.lease != 0 {
        out += &format!(" lease={}", kv.lease);
    }
    out
}

/// `REV put k=v (was k=old)` or `REV del k (was k=old)`; checks the event's own revision.
fn show_event(rev: i64, e: &pb::Event) -> String {
    let kv = e.kv.as_ref().expect("an event has a kv");
    assert_eq!(kv.mod_revision, rev, "an event's kv carries its revision");
    let was = e
        .prev_kv
        .as_ref()
        .map(|p| format!(" (was {})", show_kv(p)))
        .unwrap_or_default();
    match EventType::try_from(e.r#type) {
        Ok(EventType::Put) => format!("{rev} put {}{was}", show_kv(kv)),
        Ok(EventType::Delete) => {
            assert_eq!(
                (kv.value.len(), kv.version, kv.lease),
                (0, 0, 0),
                "a delete carries only key and revision"
            );
            format!("{rev} del {}{was}", s(&kv.key))
        }
        Err(_) => panic!("unknown event type {}", e.r#type),
    }
}

fn txn_ranges(t: &pb::TxnResponse) -> Vec<Vec<String>> {
    t.responses
        .iter()
        .filter_map(|r| match &r.response {
            Some(response_op::Response::Range(r)) => Some(r.kvs.iter().map(show_kv).collect()),
            _ => None,
        })
        .collect()
}

fn response_kinds(t: &pb::TxnResponse) -> Vec<&'static str> {
    t.responses
        .iter()
        .map(|r| match &r.response {
            Some(response_op::Response::Range(_)) => "range",
            Some(response_op::Response::Put(_)) => "put",
            Some(response_op::Response::DeleteRange(_)) => "delete",
            Some(response_op::Response::Txn(_)) => "txn",
            None => "none",
        })
        .collect()
}

fn membership() -> EntryPayload<TypeConfig> {
    let node = Node {
        name: "n1".into(),
        addr: "127.0.0.1:7001".into(),
    };
    EntryPayload::Membership(Membership::new(
        vec![BTreeSet::from([1])],
        BTreeMap::from([(1, node)]),
    ))
}

/// A history touching every kind of stored state: keys with and without leases, a txn, a
/// delete, a compaction and Raft's own entries. Ends at revision 7, compacted at 3.
async fn build_history(sm: &mut Sm) {
    sm.ok(grant(1, 30)).await;
    sm.ok(grant(2, 60)).await;
    sm.put("a", "1").await; // 2
    sm.ok(put_lease("job/1", "x", 1)).await; // 3
    sm.ok(put_lease("job/2", "y", 2)).await; // 4
    sm.txn(txn(
        vec![],
        vec![op_put("a", "2"), op_put("b", "1")],
        vec![],
    ))
    .await; // 5
    sm.delete(del("b", ONE)).await; // 6
    sm.ok(compact(3)).await;
    sm.put("c", "1").await; // 7
    sm.apply_entries(vec![membership(), EntryPayload::Blank])
        .await;
    assert_eq!(
        (sm.rev().await, sm.store.kv.applied().await.compacted),
        (7, 3)
    );
}

// ================================================================================================
// Revisions and per-key metadata
// ================================================================================================

#[tokio::test]
async fn revision_starts_at_one_and_grows_once_per_change() {
    let mut sm = Sm::fresh().await;
    let a = sm.store.kv.applied().await;
    assert_eq!((a.log_id, a.revision, a.compacted), (None, 1, 0));

    assert_eq!(header_rev(&sm.put("a", "1").await.header), 2);

    // A txn with several writes is one revision.
    let t = sm
        .txn(txn(
            vec![],
            vec![op_put("b", "1"), op_put("c", "1"), op_del("a", ONE)],
            vec![],
        ))
        .await;
    assert!(t.succeeded);
    assert_eq!((header_rev(&t.header), sm.rev().await), (3, 3));

    // None of these change a key, so none bumps the revision.
    let g = sm.ok(grant(7, 10)).await;
    assert_eq!(
        g,
        Reply::LeaseGrant(pb::LeaseGrantResponse {
            header: header(3),
            id: 7,
            ttl: 10
        })
    );
    let d = sm.delete(del("nothing", ONE)).await;
    assert_eq!((d.deleted, header_rev(&d.header)), (0, 3));
    let d = sm.delete(del("x", "y")).await;
    assert_eq!((d.deleted, header_rev(&d.header)), (0, 3));
    sm.ok(revoke(7)).await; // no keys attached
    sm.ok(compact(2)).await;
    let t = sm
        .txn(txn(vec![], vec![op_range(rr("", FROM_KEY))], vec![]))
        .await;
    assert_eq!(header_rev(&t.header), 3);
    let t = sm
        .txn(txn(
            vec![cmp("b", CompareResult::Equal, T::Value("nope"))],
            vec![op_put("x", "1")],
            vec![],
        ))
        .await;
    assert!(!t.succeeded);
    let raft_own = sm
        .apply_entries(vec![EntryPayload::Blank, membership()])
        .await;
    assert_eq!(
        raft_own,
        vec![
            Response {
                revision: 3,
                result: Ok(Reply::None)
            };
            2
        ]
    );
    assert_eq!(sm.rev().await, 3);
    assert_eq!(sm.applied().await, Some(log_id(11)));

    assert_eq!(header_rev(&sm.put("d", "1").await.header), 4);
    assert_eq!(
        sm.events(3, "", FROM_KEY).await,
        ["3 put b=1", "3 put c=1", "3 del a (was a=1)", "4 put d=1"]
    );
}

#[tokio::test]
async fn create_mod_revision_and_version_per_key() {
    let mut sm = Sm::fresh().await;
    sm.put("a", "1").await; // 2
    assert_eq!(sm.get("a").await, Some(kv("a", "1", 2, 2, 1, 0)));
    sm.put("a", "2").await; // 3
    sm.put("b", "1").await; // 4
    assert_eq!(sm.get("a").await, Some(kv("a", "2", 2, 3, 2, 0)));
    sm.put("a", "3").await; // 5
    assert_eq!(sm.get("a").await, Some(kv("a", "3", 2, 5, 3, 0)));

    sm.delete(del("a", ONE)).await; // 6
    assert_eq!(sm.get("a").await, None);
    // Recreated: a new life, version from 1 again.
    sm.put("a", "4").await; // 7
    assert_eq!(sm.get("a").await, Some(kv("a", "4", 7, 7, 1, 0)));
    assert_eq!(sm.get("b").await, Some(kv("b", "1", 4, 4, 1, 0)));
}

// ================================================================================================
// Ranges
// ================================================================================================

#[tokio::test]
async fn range_single_key_prefix_explicit_end_and_from_key() {
    let mut sm = Sm::fresh().await;
    let all = ["a", "a\0", "app/1", "app/2", "app/3", "apq", "b"];
    sm.txn(txn(
        vec![],
        all.iter().map(|k| op_put(k, "v")).collect(),
        vec![],
    ))
    .await;

    assert_eq!(
        sm.keys("a", ONE).await,
        ["a"],
        "an empty range_end is exactly the key"
    );
    assert_eq!(sm.keys("app", ONE).await, Vec::<String>::new());
    assert_eq!(
        sm.keys("app/", &prefix("app/")).await,
        ["app/1", "app/2", "app/3"]
    );
    assert_eq!(
        sm.keys("a", &prefix("a")).await,
        ["a", "a\0", "app/1", "app/2", "app/3", "apq"]
    );
    assert_eq!(
        sm.keys("app/2", "b").await,
        ["app/2", "app/3", "apq"],
        "range_end is exclusive"
    );
    assert_eq!(sm.keys("apq", FROM_KEY).await, ["apq", "b"]);
    assert_eq!(sm.keys("", FROM_KEY).await, all);

    assert_eq!(prefix_end(b"app/"), Some(b("app0")));
    assert_eq!(prefix_end(b"a\xff"), Some(b("b")));
    assert_eq!(prefix_end(b"a\xff\xff"), Some(b("b")));
    assert_eq!(prefix_end(&[0xff, 0xff]), None);
    assert_eq!(prefix_end(b""), None);

    // Deletes use the same bounds.
    assert_eq!(sm.delete(del("app/", &prefix("app/"))).await.deleted, 3);
    assert_eq!(sm.delete(del("a", ONE)).await.deleted, 1);
    assert_eq!(sm.keys("", FROM_KEY).await, ["a\0", "apq", "b"]);
    assert_eq!(sm.delete(del("apq", FROM_KEY)).await.deleted, 2);
    assert_eq!(sm.keys("", FROM_KEY).await, ["a\0"]);
}

#[tokio::test]
async fn range_limit_more_count_keys_only_count_only() {
    let mut sm = Sm::fresh().await;
    let ops = (1..=5)
        .map(|i| op_put(&format!("k{i}"), &format!("v{i}")))
        .collect();
    sm.txn(txn(vec![], ops, vec![])).await; // 2
    sm.put("other", "x").await; // 3
    let all = || rr("k", &prefix("k"));

    let r = sm.range(pb::RangeRequest { limit: 2, ..all() }).await;
    assert_eq!(
        (
            r.kvs.iter().map(show_kv).collect::<Vec<_>>(),
            r.more,
            r.count
        ),
        (vec!["k1=v1".to_string(), "k2=v2".into()], true, 5)
    );
    for limit in [0, 5, 6] {
        let r = sm.range(pb::RangeRequest { limit, ..all() }).await;
        assert_eq!(
            (r.kvs.len(), r.more, r.count),
            (5, false, 5),
            "limit {limit}"
        );
    }

    let r = sm
        .range(pb::RangeRequest {
            keys_only: true,
            ..all()
        })
        .await;
    assert_eq!(r.kvs.len(), 5);
    assert_eq!(
        r.kvs[0],
        kv("k1", "", 2, 2, 1, 0),
        "keys_only drops only the value"
    );
    assert!(r.kvs.iter().all(|kv| kv.value.is_empty()));

    let r = sm
        .range(pb::RangeRequest {
            count_only: true,
            ..all()
        })
        .await;
    assert_eq!((r.kvs.len(), r.more, r.count), (0, false, 5));

    let r = sm.range(rr("nothing", ONE)).await;
    assert_eq!(
        (r.kvs.len(), r.more, r.count, header_rev(&r.header)),
        (0, false, 0, 3)
    );
}

#[tokio::test]
async fn range_sorts_and_filters_before_the_limit_as_etcd_does() {
    let mut sm = Sm::fresh().await;
    sm.put("k1", "c").await; // 2
    sm.put("k2", "a").await; // 3
    sm.put("k3", "b").await; // 4
    sm.put("k1", "c2").await; // 5: k1 now has version 2, mod 5
    let all = || rr("k", &prefix("k"));
    let keys = |r: pb::RangeResponse| r.kvs.iter().map(|kv| s(&kv.key)).collect::<Vec<_>>();
    use pb::range_request::{SortOrder, SortTarget};
    let sorted = |order: SortOrder, target: SortTarget| pb::RangeRequest {
        sort_order: order as i32,
        sort_target: target as i32,
        ..all()
    };

    let cases = [
        (SortOrder::None, SortTarget::Key, ["k1", "k2", "k3"]),
        (SortOrder::Descend, SortTarget::Key, ["k3", "k2", "k1"]),
        (SortOrder::Ascend, SortTarget::Value, ["k2", "k3", "k1"]),
        // No order with a target other than the key sorts ascending.
        (SortOrder::None, SortTarget::Mod, ["k2", "k3", "k1"]),
        (SortOrder::Descend, SortTarget::Create, ["k3", "k2", "k1"]),
        (SortOrder::Descend, SortTarget::Version, ["k1", "k3", "k2"]),
    ];
    for (order, target, want) in cases {
        assert_eq!(
            keys(sm.range(sorted(order, target)).await),
            want,
            "{order:?} {target:?}"
        );
    }

    // The limit applies after the sort: the last two by mod revision.
    let r = sm
        .range(pb::RangeRequest {
            limit: 2,
            ..sorted(SortOrder::Descend, SortTarget::Mod)
        })
        .await;
    assert_eq!(
        (keys(r.clone()), r.more, r.count),
        (vec!["k1".to_string(), "k3".into()], true, 3)
    );

    // Filters drop pairs from kvs but not from count.
    let r = sm
        .range(pb::RangeRequest {
            min_mod_revision: 3,
            max_mod_revision: 4,
            ..all()
        })
        .await;
    assert_eq!(
        (keys(r.clone()), r.count),
        (vec!["k2".to_string(), "k3".into()], 3)
    );
    let r = sm
        .range(pb::RangeRequest {
            max_create_revision: 2,
            ..all()
        })
        .await;
    assert_eq!(keys(r), ["k1"]);
    let r = sm
        .range(pb::RangeRequest {
            min_create_revision: 3,
            limit: 1,
            ..all()
        })
        .await;
    assert_eq!((keys(r.clone()), r.more), (vec!["k2".to_string()], true));
}

#[tokio::test]
async fn range_at_a_past_revision_sees_the_old_store() {
    let mut sm = Sm::fresh().await;
    sm.put("a", "1").await; // 2
    sm.put("b", "1").await; // 3
    sm.put("a", "2").await; // 4
    sm.delete(del("b", ONE)).await; // 5
    sm.put("c", "1").await; // 6
    sm.txn(txn(
        vec![],
        vec![op_put("t", "1"), op_del("t", ONE)],
        vec![],
    ))
    .await; // 7
    sm.delete(del("a", ONE)).await; // 8
    sm.put("a", "3").await; // 9

    let expected: [(i64, &[&str]); 9] = [
        (1, &[]),
        (2, &["a=1"]),
        (3, &["a=1", "b=1"]),
        (4, &["a=2", "b=1"]),
        (5, &["a=2"]),
        (6, &["a=2", "c=1"]),
        (7, &["a=2", "c=1"]),
        (8, &["c=1"]),
        (9, &["a=3", "c=1"]),
    ];
    for (at, want) in expected {
        assert_eq!(
            sm.pairs_at("", FROM_KEY, at).await,
            want,
            "at revision {at}"
        );
    }
    assert_eq!(sm.pairs("", FROM_KEY).await, ["a=3", "c=1"]);

    // The old metadata comes back too, and the shaping options still apply.
    let at = |rev, req: pb::RangeRequest| pb::RangeRequest {
        revision: rev,
        ..req
    };
    assert_eq!(
        sm.range(at(4, rr("a", ONE))).await.kvs,
        [kv("a", "2", 2, 4, 2, 0)]
    );
    assert_eq!(
        sm.range(at(3, rr("b", ONE))).await.kvs,
        [kv("b", "1", 3, 3, 1, 0)]
    );
    assert_eq!(
        sm.range(at(8, rr("a", ONE))).await.kvs,
        Vec::<pb::KeyValue>::new()
    );
    let r = sm
        .range(at(
            4,
            pb::RangeRequest {
                limit: 1,
                ..rr("", FROM_KEY)
            },
        ))
        .await;
    assert_eq!(
        (
            r.kvs.iter().map(show_kv).collect::<Vec<_>>(),
            r.more,
            r.count
        ),
        (vec!["a=2".to_string()], true, 2)
    );
    let r = sm
        .range(at(
            3,
            pb::RangeRequest {
                count_only: true,
                ..rr("", FROM_KEY)
            },
        ))
        .await;
    assert_eq!((r.kvs.len(), r.count), (0, 2));

    assert_eq!(
        sm.range_err(at(10, rr("a", ONE))).await,
        ApplyError::FutureRevision {
            requested: 10,
            current: 9
        }
    );
}

// ================================================================================================
// Put and delete
// ================================================================================================

#[tokio::test]
async fn put_and_delete_return_prev_kv_only_when_asked() {
    let mut sm = Sm::fresh().await;
    let put_prev = |k: &str, v: &str| {
        Command::Put(pb::PutRequest {
            prev_kv: true,
            ..put_req(k, v, 0)
        })
    };

    assert_eq!(
        sm.ok(put_prev("a", "1")).await,
        Reply::Put(pb::PutResponse {
            header: header(2),
            prev_kv: None
        })
    );
    let Reply::Put(r) = sm.ok(put_prev("a", "2")).await else {
        panic!("not a put reply")
    };
    assert_eq!(r.prev_kv, Some(kv("a", "1", 2, 2, 1, 0)));
    assert_eq!(sm.put("a", "3").await.prev_kv, None); // 4
    sm.put("b", "1").await; // 5

    let r = sm
        .delete(Command::Delete(pb::DeleteRangeRequest {
            prev_kv: true,
            ..del_req("", FROM_KEY)
        }))
        .await;
    assert_eq!(r.deleted, 2);
    assert_eq!(
        r.prev_kvs,
        [kv("a", "3", 2, 4, 3, 0), kv("b", "1", 5, 5, 1, 0)]
    );
    assert_eq!(header_rev(&r.header), 6);

    sm.put("c", "1").await; // 7
    let r = sm.delete(del("c", ONE)).await;
    assert_eq!(
        (r.deleted, r.prev_kvs.len(), header_rev(&r.header)),
        (1, 0, 8)
    );
}

#[tokio::test]
async fn a_put_may_keep_the_keys_value_or_lease_if_the_key_exists() {
    let mut sm = Sm::fresh().await;
    sm.ok(grant(7, 60)).await;
    sm.ok(grant(8, 60)).await;
    sm.ok(put_lease("k", "v", 7)).await; // 2
    let keep = |value: &str, lease, ignore_value, ignore_lease| {
        Command::Put(pb::PutRequest {
            ignore_value,
            ignore_lease,
            ..put_req("k", value, lease)
        })
    };
    sm.ok(keep("", 8, true, false)).await; // 3
    assert_eq!(sm.get("k").await, Some(kv("k", "v", 2, 3, 2, 8)));
    sm.ok(keep("w", 0, false, true)).await; // 4
    assert_eq!(sm.get("k").await, Some(kv("k", "w", 2, 4, 3, 8)));
    assert_eq!(sm.state().await.leases[&8].1, [b("k")]);
    assert!(sm.state().await.leases[&7].1.is_empty());

    for (ignore_value, ignore_lease) in [(true, false), (false, true)] {
        let err = sm
            .rejected(Command::Put(pb::PutRequest {
                ignore_value,
                ignore_lease,
                ..put_req("missing", "", 0)
            }))
            .await;
        assert_eq!(err, ApplyError::KeyNotFound);
    }
    assert_eq!(sm.rev().await, 4);
}

// ================================================================================================
// Transactions
// ================================================================================================

#[tokio::test]
async fn txn_compares_every_target_with_every_result() {
    use CompareResult::{Equal, Greater, Less, NotEqual};
    let mut sm = Sm::fresh().await;
    sm.ok(grant(7, 10)).await;
    sm.put("k", "m").await; // 2
    sm.ok(put_lease("k", "m", 7)).await; // 3: create 2, mod 3, version 2, lease 7
    let mismatched = pb::Compare {
        target_union: Some(TargetUnion::Value(b("2"))),
        ..cmp("k", Equal, T::Version(2))
    };

    let cases: Vec<(Vec<pb::Compare>, bool)> = [
        ("k", Equal, T::Version(2), true),
        ("k", Equal, T::Version(1), false),
        ("k", NotEqual, T::Version(1), true),
        ("k", NotEqual, T::Version(2), false),
        ("k", Greater, T::Version(1), true),
        ("k", Greater, T::Version(2), false),
        ("k", Less, T::Version(3), true),
        ("k", Less, T::Version(2), false),
        ("k", Equal, T::Create(2), true),
        ("k", NotEqual, T::Create(3), true),
        ("k", Greater, T::Create(1), true),
        ("k", Less, T::Create(2), false),
        ("k", Equal, T::Mod(3), true),
        ("k", Equal, T::Mod(2), false),
        ("k", Less, T::Mod(4), true),
        ("k", Greater, T::Mod(3), false),
        ("k", Equal, T::Value("m"), true),
        ("k", Equal, T::Value("n"), false),
        ("k", NotEqual, T::Value("n"), true),
        ("k", NotEqual, T::Value("m"), false),
        ("k", Greater, T::Value("l"), true),
        ("k", Greater, T::Value("m"), false),
        ("k", Less, T::Value("ma"), true),
        ("k", Less, T::Value("l"), false),
        ("k", Equal, T::Lease(7), true),
        ("k", Equal, T::Lease(0), false),
        ("k", NotEqual, T::Lease(0), true),
        ("k", Greater, T::Lease(6), true),
        // A missing key has version, revisions and lease 0, and no value at all.
        ("none", Equal, T::Version(0), true),
        ("none", Greater, T::Version(0), false),
        ("none", Equal, T::Create(0), true),
        ("none", Equal, T::Mod(0), true),
        ("none", Equal, T::Lease(0), true),
        ("none", Equal, T::Value(""), false),
        ("none", NotEqual, T::Value("x"), false),
    ]
    .into_iter()
    .map(|(key, result, target, holds)| (vec![cmp(key, result, target)], holds))
    .chain([
        (vec![], true),
        (
            vec![
                cmp("k", Equal, T::Version(2)),
                cmp("k", Equal, T::Value("m")),
            ],
            true,
        ),
        (
            vec![
                cmp("k", Equal, T::Version(2)),
                cmp("k", Equal, T::Value("x")),
            ],
            false,
        ),
        (
            vec![
                cmp("k", Equal, T::Value("x")),
                cmp("k", Equal, T::Version(2)),
            ],
            false,
        ),
        (vec![mismatched], false),
    ])
    .collect();

    let mut wrong = Vec::new();
    for (compare, holds) in cases {
        let t = sm.txn(txn(compare.clone(), vec![], vec![])).await;
        if t.succeeded != holds {
            wrong.push(compare);
        }
    }
    assert!(
        wrong.is_empty(),
        "these comparisons came out wrong: {wrong:#?}"
    );
    assert_eq!(sm.rev().await, 3, "comparing changes nothing");
}

#[tokio::test]
async fn txn_runs_the_success_or_the_failure_branch() {
    let mut sm = Sm::fresh().await;
    sm.put("k", "1").await; // 2
    let guarded = || {
        txn(
            vec![cmp("k", CompareResult::Equal, T::Value("1"))],
            vec![op_put("k", "2"), op_put("s", "1"), op_range(rr("k", ONE))],
            vec![op_put("f", "1"), op_range(rr("k", ONE))],
        )
    };

    let t = sm.txn(guarded()).await;
    assert!(t.succeeded);
    assert_eq!(header_rev(&t.header), 3);
    assert_eq!(response_kinds(&t), ["put", "put", "range"]);
    assert_eq!(txn_ranges(&t), [["k=2"]]);
    assert_eq!(sm.pairs("", FROM_KEY).await, ["k=2", "s=1"]);

    let t = sm.txn(guarded()).await;
    assert!(!t.succeeded);
    assert_eq!(header_rev(&t.header), 4);
    assert_eq!(response_kinds(&t), ["put", "range"]);
    assert_eq!(txn_ranges(&t), [["k=2"]]);
    assert_eq!(sm.pairs("", FROM_KEY).await, ["f=1", "k=2", "s=1"]);
    assert_eq!(
        sm.get("s").await,
        Some(kv("s", "1", 3, 3, 1, 0)),
        "the success branch did not run again"
    );
}

#[tokio::test]
async fn txn_range_sees_the_txns_earlier_writes() {
    let mut sm = Sm::fresh().await;
    sm.put("a", "0").await; // 2
    let t = sm
        .txn(txn(
            vec![],
            vec![
                op_put("a", "1"),
                op_put("b", "2"),
                op_range(rr("", FROM_KEY)),
                op_del("a", ONE),
                op_range(rr("", FROM_KEY)),
            ],
            vec![],
        ))
        .await;
    assert_eq!(txn_ranges(&t), [vec!["a=1", "b=2"], vec!["b=2"]]);
    let Some(response_op::Response::Range(first)) = &t.responses[2].response else {
        panic!("not a range")
    };
    assert_eq!(
        first.kvs,
        [kv("a", "1", 2, 3, 2, 0), kv("b", "2", 3, 3, 1, 0)]
    );
    assert_eq!(sm.rev().await, 3);
    assert_eq!(
        sm.events(3, "", FROM_KEY).await,
        ["3 put a=1 (was a=0)", "3 put b=2", "3 del a (was a=1)"]
    );
}

#[tokio::test]
async fn a_nested_txn_decides_on_the_store_before_the_outer_writes() {
    let mut sm = Sm::fresh().await;
    sm.put("a", "0").await; // 2
    let nested = |compare| pb::TxnRequest {
        compare: vec![compare],
        success: vec![op_put("then", "x")],
        failure: vec![op_put("else", "y")],
    };
    let t = sm
        .txn(txn(
            vec![],
            vec![
                op_put("a", "1"),
                // Evaluated before the put above: a is still "0".
                op(request_op::Request::Txn(nested(cmp(
                    "a",
                    CompareResult::Equal,
                    T::Value("0"),
                )))),
                op_range(rr("", FROM_KEY)),
            ],
            vec![],
        ))
        .await;
    assert_eq!(response_kinds(&t), ["put", "txn", "range"]);
    let Some(response_op::Response::Txn(inner)) = &t.responses[1].response else {
        panic!("not a txn")
    };
    assert!(inner.succeeded);
    assert_eq!(response_kinds(inner), ["put"]);
    assert_eq!(txn_ranges(&t), [vec!["a=1", "then=x"]]);
    assert_eq!(
        sm.rev().await,
        3,
        "the outer and the nested writes share a revision"
    );

    // A put the nested branch takes is checked before anything is written.
    let err = sm
        .rejected(txn(
            vec![],
            vec![
                op_put("b", "1"),
                op(request_op::Request::Txn(pb::TxnRequest {
                    success: vec![op_put_lease("c", "1", 99)],
                    ..Default::default()
                })),
            ],
            vec![],
        ))
        .await;
    assert_eq!(err, ApplyError::LeaseNotFound(99));
    assert_eq!(sm.get("b").await, None);
}

#[tokio::test]
async fn a_compare_with_a_range_end_must_hold_for_every_key() {
    let mut sm = Sm::fresh().await;
    sm.put("p/1", "x").await; // 2
    sm.put("p/2", "x").await; // 3
    let over = |key: &str, result, target| pb::Compare {
        range_end: b(&prefix(key)),
        ..cmp(key, result, target)
    };
    let holds = |c: pb::Compare| txn(vec![c], vec![], vec![]);
    let cases = [
        (over("p/", CompareResult::Equal, T::Value("x")), true),
        (over("p/", CompareResult::Less, T::Mod(3)), false),
        (over("p/", CompareResult::Less, T::Mod(4)), true),
        (over("p/", CompareResult::Greater, T::Version(0)), true),
        // An empty range compares as one missing key: version 0, no value.
        (over("q/", CompareResult::Equal, T::Version(0)), true),
        (over("q/", CompareResult::NotEqual, T::Value("x")), false),
    ];
    for (i, (c, want)) in cases.into_iter().enumerate() {
        assert_eq!(sm.txn(holds(c)).await.succeeded, want, "case {i}");
    }
}

/// As in etcd, a Range inside a txn honours its `revision` like a plain range does.
#[tokio::test]
async fn of_several_create_if_absent_txns_exactly_one_wins() {
    let mut sm = Sm::fresh().await;
    let claim = |i: usize| {
        txn(
            vec![cmp("lock", CompareResult::Equal, T::Version(0))],
            vec![op_put("lock", &format!("node-{i}"))],
            vec![op_range(rr("lock", ONE))],
        )
    };
    // Five proposals committed together, then two more later.
    let mut out = sm.apply_all((0..5).map(claim).collect()).await;
    out.push(sm.apply(claim(5)).await);
    out.push(sm.apply(claim(6)).await);

    let mut winners = Vec::new();
    for (i, r) in out.iter().enumerate() {
        assert_eq!(r.revision, 2);
        let Ok(Reply::Txn(t)) = &r.result else {
            panic!("claim {i} replied {r:?}")
        };
        if t.succeeded {
            winners.push(i);
        } else {
            assert_eq!(txn_ranges(t), [["lock=node-0"]], "a loser sees the winner");
        }
    }
    assert_eq!(winners, [0]);
    assert_eq!(sm.get("lock").await, Some(kv("lock", "node-0", 2, 2, 1, 0)));
}

// ================================================================================================
// Leases
// ================================================================================================

#[tokio::test]
async fn put_with_an_unknown_lease_is_rejected_and_changes_nothing() {
    let mut sm = Sm::fresh().await;
    sm.put("a", "1").await; // 2
    assert_eq!(
        sm.rejected(put_lease("b", "1", 99)).await,
        ApplyError::LeaseNotFound(99)
    );
    assert_eq!(
        sm.rejected(put_lease("a", "2", 99)).await,
        ApplyError::LeaseNotFound(99)
    );
    assert_eq!(sm.get("a").await, Some(kv("a", "1", 2, 2, 1, 0)));

    // Within one batch of entries, the rejected one leaves its neighbours alone.
    let out = sm
        .apply_all(vec![put("c", "1"), put_lease("d", "1", 99), put("e", "1")])
        .await;
    assert_eq!(
        out.iter().map(|r| r.revision).collect::<Vec<_>>(),
        [3, 3, 4]
    );
    assert_eq!(out[1].result, Err(ApplyError::LeaseNotFound(99)));
    assert_eq!(sm.keys("", FROM_KEY).await, ["a", "c", "e"]);
}

#[tokio::test]
async fn txn_whose_chosen_branch_names_an_unknown_lease_changes_nothing() {
    let mut sm = Sm::fresh().await;
    sm.put("a", "1").await; // 2
    let bad = || {
        vec![
            op_put("x", "1"),
            op_del("a", ONE),
            op_put_lease("y", "1", 99),
        ]
    };

    assert_eq!(
        sm.rejected(txn(vec![], bad(), vec![])).await,
        ApplyError::LeaseNotFound(99)
    );
    let fails = vec![cmp("a", CompareResult::Equal, T::Value("nope"))];
    assert_eq!(
        sm.rejected(txn(fails, vec![], bad())).await,
        ApplyError::LeaseNotFound(99)
    );

    // The branch not taken may name any lease.
    let t = sm.txn(txn(vec![], vec![op_put("x", "1")], bad())).await;
    assert!(t.succeeded);
    assert_eq!(sm.pairs("", FROM_KEY).await, ["a=1", "x=1"]);
    assert_eq!(sm.rev().await, 3);
}

#[tokio::test]
async fn revoking_a_lease_deletes_its_keys_in_one_revision() {
    let mut sm = Sm::fresh().await;
    sm.ok(grant(10, 30)).await;
    sm.ok(grant(11, 60)).await;
    assert_eq!(sm.rev().await, 1, "granting changes no key");
    assert_eq!(
        sm.store.kv.leases().await,
        BTreeMap::from([(10, 30), (11, 60)])
    );

    sm.ok(put_lease("a", "1", 10)).await; // 2
    sm.ok(put_lease("b", "1", 10)).await; // 3
    sm.ok(put_lease("c", "1", 10)).await; // 4
    sm.put("c", "2").await; // 5: re-put without a lease detaches c
    sm.ok(put_lease("d", "1", 10)).await; // 6
    sm.ok(put_lease("d", "2", 11)).await; // 7: moved to lease 11
    sm.put("e", "1").await; // 8
    assert_eq!(sm.get("c").await, Some(kv("c", "2", 4, 5, 2, 0)));
    assert_eq!(sm.get("d").await, Some(kv("d", "2", 6, 7, 2, 11)));
    assert_eq!(
        sm.store.kv.lease(10).await.unwrap(),
        Some((30, vec![b("a"), b("b")]))
    );
    assert_eq!(
        sm.store.kv.lease(11).await.unwrap(),
        Some((60, vec![b("d")]))
    );

    let r = sm.ok(revoke(10)).await;
    assert_eq!(
        r,
        Reply::LeaseRevoke(pb::LeaseRevokeResponse { header: header(9) })
    );
    assert_eq!(sm.rev().await, 9);
    assert_eq!(sm.pairs("", FROM_KEY).await, ["c=2", "d=2 lease=11", "e=1"]);
    assert_eq!(
        sm.events(9, "", FROM_KEY).await,
        ["9 del a (was a=1 lease=10)", "9 del b (was b=1 lease=10)"]
    );
    assert_eq!(sm.store.kv.leases().await, BTreeMap::from([(11, 60)]));
    assert_eq!(sm.store.kv.lease(10).await.unwrap(), None);

    // A key deleted by hand is no longer attached.
    sm.delete(del("d", ONE)).await; // 10
    assert_eq!(sm.store.kv.lease(11).await.unwrap(), Some((60, vec![])));
    sm.ok(revoke(11)).await;
    assert_eq!(
        sm.rev().await,
        10,
        "revoking a lease without keys changes no key"
    );
    assert_eq!(sm.rejected(revoke(10)).await, ApplyError::LeaseNotFound(10));
}

#[tokio::test]
async fn granting_an_existing_lease_or_revoking_an_unknown_one_is_rejected() {
    let mut sm = Sm::fresh().await;
    sm.ok(grant(5, 10)).await;
    sm.ok(put_lease("a", "1", 5)).await;
    assert_eq!(sm.rejected(grant(5, 99)).await, ApplyError::LeaseExists(5));
    assert_eq!(
        sm.store.kv.lease(5).await.unwrap(),
        Some((10, vec![b("a")]))
    );
    assert_eq!(sm.rejected(revoke(6)).await, ApplyError::LeaseNotFound(6));
    assert_eq!(sm.store.kv.lease(6).await.unwrap(), None);
}

// ================================================================================================
// Compaction
// ================================================================================================

#[tokio::test]
async fn compaction_drops_the_history_before_its_revision() {
    let mut sm = Sm::fresh().await;
    sm.put("a", "1").await; // 2
    sm.put("b", "1").await; // 3
    sm.put("a", "2").await; // 4
    sm.delete(del("b", ONE)).await; // 5
    sm.put("c", "1").await; // 6

    let r = sm.ok(compact(4)).await;
    assert_eq!(
        r,
        Reply::Compact(pb::CompactionResponse { header: header(6) })
    );
    assert_eq!(
        (sm.rev().await, sm.store.kv.applied().await.compacted),
        (6, 4)
    );

    let at = |rev| pb::RangeRequest {
        revision: rev,
        ..rr("", FROM_KEY)
    };
    assert_eq!(
        sm.range_err(at(3)).await,
        ApplyError::Compacted {
            requested: 3,
            compacted: 4
        }
    );
    assert_eq!(
        sm.range_err(at(1)).await,
        ApplyError::Compacted {
            requested: 1,
            compacted: 4
        }
    );
    assert_eq!(sm.pairs_at("", FROM_KEY, 4).await, ["a=2", "b=1"]);
    assert_eq!(sm.pairs_at("", FROM_KEY, 5).await, ["a=2"]);
    assert_eq!(sm.pairs("", FROM_KEY).await, ["a=2", "c=1"]);

    assert_eq!(
        sm.events_err(4).await,
        ApplyError::Compacted {
            requested: 4,
            compacted: 4
        }
    );
    assert_eq!(
        sm.events_err(2).await,
        ApplyError::Compacted {
            requested: 2,
            compacted: 4
        }
    );
    assert_eq!(
        sm.events(5, "", FROM_KEY).await,
        ["5 del b (was b=1)", "6 put c=1"]
    );

    assert_eq!(
        sm.rejected(compact(4)).await,
        ApplyError::Compacted {
            requested: 4,
            compacted: 4
        }
    );
    assert_eq!(
        sm.rejected(compact(3)).await,
        ApplyError::Compacted {
            requested: 3,
            compacted: 4
        }
    );

    // Compacting up to the current revision is allowed and keeps the present readable.
    sm.ok(compact(6)).await;
    assert_eq!(
        sm.events_err(6).await,
        ApplyError::Compacted {
            requested: 6,
            compacted: 6
        }
    );
    assert_eq!(sm.events(7, "", FROM_KEY).await, Vec::<String>::new());
    assert_eq!(sm.pairs_at("", FROM_KEY, 6).await, ["a=2", "c=1"]);
    sm.put("d", "1").await; // 7
    assert_eq!(sm.events(7, "", FROM_KEY).await, ["7 put d=1"]);
    assert_eq!(sm.pairs_at("", FROM_KEY, 6).await, ["a=2", "c=1"]);
}

#[tokio::test]
async fn compacting_a_future_revision_is_rejected() {
    let mut sm = Sm::fresh().await;
    sm.put("a", "1").await; // 2
    assert_eq!(
        sm.rejected(compact(3)).await,
        ApplyError::FutureRevision {
            requested: 3,
            current: 2
        }
    );
    assert_eq!(sm.store.kv.applied().await.compacted, 0);
    assert_eq!(sm.events(2, "", FROM_KEY).await, ["2 put a=1"]);
}

// ================================================================================================
// Events and the live feed
// ================================================================================================

#[tokio::test]
async fn events_since_returns_each_change_once_in_order() {
    let mut sm = Sm::fresh().await;
    sm.put("a", "1").await; // 2
    sm.txn(txn(
        vec![],
        vec![op_put("b", "1"), op_put("a", "2")],
        vec![],
    ))
    .await; // 3
    sm.ok(grant(1, 10)).await;
    sm.delete(del("a", ONE)).await; // 4
    sm.ok(put_lease("c/x", "1", 1)).await; // 5
    sm.delete(del("", FROM_KEY)).await; // 6
    let all = [
        "2 put a=1",
        "3 put b=1",
        "3 put a=2 (was a=1)",
        "4 del a (was a=2)",
        "5 put c/x=1 lease=1",
        "6 del b (was b=1)",
        "6 del c/x (was c/x=1 lease=1)",
    ];

    assert_eq!(sm.events(1, "", FROM_KEY).await, all);
    assert_eq!(sm.events(3, "", FROM_KEY).await, all[1..]);
    assert_eq!(sm.events(6, "", FROM_KEY).await, all[5..]);
    assert_eq!(sm.events(7, "", FROM_KEY).await, Vec::<String>::new());
    assert_eq!(sm.events(1, "a", ONE).await, [all[0], all[2], all[3]]);
    assert_eq!(sm.events(1, "c/", &prefix("c/")).await, [all[4], all[6]]);
    assert_eq!(
        sm.events(1, "b", FROM_KEY).await,
        [all[1], all[4], all[5], all[6]]
    );

    let (batches, to) = sm.store.kv.events_since(1, b"", b"\0").await.unwrap();
    assert_eq!(to, 6);
    assert_eq!(
        batches
            .iter()
            .map(|(rev, evs)| (*rev, evs.len()))
            .collect::<Vec<_>>(),
        [(2, 1), (3, 2), (4, 1), (5, 1), (6, 2)]
    );
}

#[tokio::test]
async fn subscribers_hear_each_change_after_it_is_applied() {
    let mut sm = Sm::fresh().await;
    let mut rx = sm.store.kv.subscribe();
    sm.put("a", "1").await; // 2
    sm.ok(grant(1, 10)).await;
    sm.rejected(put_lease("x", "1", 99)).await;
    sm.txn(txn(
        vec![],
        vec![op_put("b", "1"), op_put("c", "1")],
        vec![],
    ))
    .await; // 3
    sm.delete(del("nothing", ONE)).await;
    sm.apply_entries(vec![EntryPayload::Blank]).await;

    let (history, _) = sm.store.kv.events_since(2, b"", b"\0").await.unwrap();
    for (rev, want) in history {
        match rx.try_recv() {
            Ok(Notice::Events(got_rev, got)) => {
                assert_eq!(got_rev, rev);
                assert_eq!(*got, want, "the live feed matches the retained events");
            }
            other => panic!("expected the events of revision {rev}, got {other:?}"),
        }
    }
    assert!(
        matches!(rx.try_recv(), Err(TryRecvError::Empty)),
        "nothing else was announced"
    );
}

// ================================================================================================
// Durability
// ================================================================================================

#[test]
fn reopening_keeps_keys_revision_leases_and_applied_log_id() {
    let dir = tempfile::tempdir().unwrap();
    let before = in_runtime(async {
        let mut sm = Sm::open(dir.path()).await;
        build_history(&mut sm).await;
        sm.state().await
    });
    // That runtime is gone, and with it the log's flusher task: no handle on the database is left.
    in_runtime(async {
        let mut sm = Sm::open(dir.path()).await;
        assert_eq!(sm.state().await, before);
        // And it carries on where it stopped.
        assert_eq!(sm.next, before.applied.unwrap().index + 1);
        assert_eq!(
            header_rev(&sm.put("z", "1").await.header),
            before.revision + 1
        );
        assert_eq!(sm.get("job/1").await, Some(kv("job/1", "x", 3, 3, 1, 1)));
    });
}

/// Names the data directory for [`crash_child`].
const CRASH_DIR: &str = "FOREST_STATE_TEST_CRASH_DIR";
/// The exit code of [`crash_child`] once it got to the end.
const CRASH_EXIT: i32 = 42;

/// Applies twenty puts, making the first ten durable, then exits at once: no destructor runs,
/// so nothing is flushed on the way out, as in a crash.
#[test]
#[ignore = "run as a child process by a_crash_leaves_a_consistent_prefix_of_the_applied_entries"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR) else {
        return;
    };
    in_runtime(async {
        let mut sm = Sm::open(Path::new(&dir)).await;
        for i in 0..10 {
            sm.put(&format!("k{i:02}"), "1").await;
        }
        // Saving the vote flushes the whole database, the state tree with it.
        sm.store.log.save_vote(&Vote::new(1, 1)).await.unwrap();
        for i in 10..20 {
            sm.put(&format!("k{i:02}"), "1").await;
        }
        std::process::exit(CRASH_EXIT);
    });
}

#[test]
fn a_crash_leaves_a_consistent_prefix_of_the_applied_entries() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_DIR, dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(CRASH_EXIT),
        "the child got to its end: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    in_runtime(async {
        let sm = Sm::open(dir.path()).await;
        let applied = sm
            .applied()
            .await
            .expect("the flushed entries survive")
            .index;
        assert!((10..=20).contains(&applied), "applied index {applied}");
        // Entry i put k{i-1} at revision i + 1: what survived is exactly the first `applied`.
        assert_eq!(sm.rev().await, applied as i64 + 1);
        let want: Vec<String> = (0..applied).map(|i| format!("k{i:02}")).collect();
        assert_eq!(sm.keys("", FROM_KEY).await, want);
    });
}

// ================================================================================================
// Snapshots
// ================================================================================================

#[tokio::test]
async fn snapshot_round_trip_into_another_store() {
    let mut src = Sm::fresh().await;
    build_history(&mut src).await;
    let snap = src
        .store
        .state_machine
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    assert_eq!(snap.meta.last_log_id, src.applied().await);
    let data = snap.snapshot.get_ref().clone();

    // The receiver has state of its own, which the snapshot replaces entirely.
    let mut dst = Sm::fresh().await;
    dst.ok(grant(99, 5)).await;
    dst.ok(put_lease("stale", "1", 99)).await;
    let mut rx = dst.store.kv.subscribe();
    dst.store
        .state_machine
        .install_snapshot(&snap.meta, snap.snapshot)
        .await
        .unwrap();
    assert!(
        matches!(rx.try_recv(), Ok(Notice::Reset)),
        "watchers are told to re-read"
    );
    dst.next = src.next;

    let state = src.state().await;
    assert_eq!(dst.state().await, state);
    assert_eq!(
        state.leases,
        BTreeMap::from([(1, (30, vec![b("job/1")])), (2, (60, vec![b("job/2")]))])
    );
    assert_eq!(
        dst.events(4, "", FROM_KEY).await,
        [
            "4 put job/2=y lease=2",
            "5 put a=2 (was a=1)",
            "5 put b=1",
            "6 del b (was b=1)",
            "7 put c=1"
        ]
    );
    assert_eq!(
        dst.events_err(3).await,
        ApplyError::Compacted {
            requested: 3,
            compacted: 3
        }
    );

    let current = dst
        .store
        .state_machine
        .get_current_snapshot()
        .await
        .unwrap()
        .expect("the installed snapshot is kept");
    assert_eq!(
        (current.meta, current.snapshot.into_inner()),
        (snap.meta, data)
    );

    // Both go on alike.
    for cmd in [revoke(1), put("d", "1"), compact(8)] {
        assert_eq!(dst.apply(cmd.clone()).await, src.apply(cmd).await);
    }
    assert_eq!(dst.state().await, src.state().await);
    assert_eq!(
        dst.pairs("", FROM_KEY).await,
        ["a=2", "c=1", "d=1", "job/2=y lease=2"]
    );
}

// ================================================================================================
// Inverted ranges (range_end before key): etcd reads and deletes nothing
// ================================================================================================

#[tokio::test]
async fn range_and_delete_with_end_before_key_touch_nothing() {
    let mut sm = Sm::fresh().await;
    sm.put("a", "1").await;
    sm.put("b", "1").await; // 3
    assert_eq!(sm.keys("b", "a").await, Vec::<String>::new());
    assert_eq!(sm.pairs_at("b", "a", 2).await, Vec::<String>::new());
    let r = sm.delete(del("b", "a")).await;
    assert_eq!((r.deleted, header_rev(&r.header)), (0, 3));
    let t = sm
        .txn(txn(vec![], vec![op_range(rr("b", "a"))], vec![]))
        .await;
    assert_eq!(txn_ranges(&t), [Vec::<String>::new()]);
    assert_eq!(sm.pairs("", FROM_KEY).await, ["a=1", "b=1"]);
}

/// The same inside a txn that has already staged a write (so the entry's pending writes are
/// not empty when the inverted range is scanned).
#[tokio::test]
async fn txn_with_end_before_key_after_a_write_touches_nothing() {
    let mut sm = Sm::fresh().await;
    sm.put("a", "1").await;
    sm.put("b", "1").await; // 3
    let ops = vec![op_put("c", "1"), op_range(rr("b", "a")), op_del("b", "a")];
    let t = sm.txn(txn(vec![], ops, vec![])).await;
    assert_eq!(txn_ranges(&t), [Vec::<String>::new()]);
    let Some(response_op::Response::DeleteRange(d)) = &t.responses[2].response else {
        panic!("not a delete")
    };
    assert_eq!(d.deleted, 0);
    assert_eq!(sm.rev().await, 4);
    assert_eq!(sm.pairs("", FROM_KEY).await, ["a=1", "b=1", "c=1"]);
}

#[tokio::test]
async fn a_batch_applies_each_command_as_its_own_write_in_one_entry() {
    let mut sm = Sm::fresh().await;
    let mut live = sm.store.kv.subscribe();
    let r = sm
        .apply(Command::Batch(vec![
            put("a", "1"),
            put_lease("b", "2", 404),
            put("c", "3"),
        ]))
        .await;
    let Ok(Reply::Batch(each)) = r.result else {
        panic!("a batch answers per command: {r:?}")
    };
    assert_eq!(each.len(), 3);
    assert_eq!(each[0].revision, 2);
    assert_eq!(
        each[1].result,
        Err(ApplyError::LeaseNotFound(404)),
        "the rejected command is refused alone"
    );
    assert_eq!(each[1].revision, 2, "and changed nothing");
    assert_eq!(each[2].revision, 3);
    assert_eq!(r.revision, 3);
    assert_eq!(sm.get("a").await.map(|kv| kv.mod_revision), Some(2));
    assert_eq!(sm.get("b").await, None);
    assert_eq!(sm.get("c").await.map(|kv| kv.mod_revision), Some(3));
    for rev in [2, 3] {
        match live.try_recv() {
            Ok(Notice::Events(got, _)) => assert_eq!(got, rev),
            other => panic!("expected the events of revision {rev}, got {other:?}"),
        }
    }
}

/// What a replica serves now: every key, every lease with its keys, the retained events.
async fn served(
    sm: &mut Sm,
) -> (
    i64,
    Vec<pb::KeyValue>,
    Vec<(i64, Option<(i64, Vec<Vec<u8>>)>)>,
    Vec<String>,
) {
    let applied = sm.store.kv.applied().await;
    let kvs = sm.range(rr("", FROM_KEY)).await.kvs;
    let mut leases = Vec::new();
    for id in sm.store.kv.leases().await.keys() {
        leases.push((*id, sm.store.kv.lease(*id).await.expect("lease read")));
    }
    let events = sm.events(applied.compacted + 1, "", FROM_KEY).await;
    (applied.revision, kvs, leases, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_built_while_entries_apply_is_the_state_at_its_log_id() {
    let preload: Vec<Command> = (0..3000).map(|i| put(&format!("k{i:05}"), "v0")).collect();
    let mut later = Vec::new();
    for i in 0..600i64 {
        let key = format!("k{:05}", (i * 7) % 3000);
        later.push(match i % 6 {
            0 => grant(1000 + i, 60),
            1 => put_lease(&key, "leased", 1000 + i - 1),
            2 => del(&key, ONE),
            3 => revoke(1000 + i - 3),
            _ => put(&format!("new{i:04}"), &format!("v{i}")),
        });
    }
    let mut src = Sm::fresh().await;
    let first = src.next;
    for chunk in preload.chunks(500) {
        src.apply_all(chunk.to_vec()).await;
    }
    let mut builder = src.store.state_machine.get_snapshot_builder().await;
    let build = tokio::spawn(async move { builder.build_snapshot().await });
    for chunk in later.chunks(3) {
        src.apply_all(chunk.to_vec()).await;
        tokio::task::yield_now().await;
    }
    let snap = build.await.unwrap().expect("the snapshot builds");
    let at = snap
        .meta
        .last_log_id
        .expect("a snapshot of applied entries")
        .index;

    // A replica that applied exactly the entries up to the snapshot's log id.
    let mut reference = Sm::fresh().await;
    let all: Vec<Command> = preload.iter().chain(&later).cloned().collect();
    let upto = (at - first + 1) as usize;
    for chunk in all[..upto].chunks(500) {
        reference.apply_all(chunk.to_vec()).await;
    }
    let mut installed = Sm::fresh().await;
    installed
        .store
        .state_machine
        .install_snapshot(&snap.meta, snap.snapshot)
        .await
        .unwrap();
    assert_eq!(served(&mut installed).await, served(&mut reference).await);
}
