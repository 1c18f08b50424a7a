//! `forest kv`, `forest lease` and `forest cluster`.

use std::time::Duration;

use clap::Subcommand;
use serde_json::{json, Value};

use super::client::{connect, status};
use super::{ClientOptions, Output};
use crate::kv::prefix_end;
use crate::pb::kv as pb;

#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// Write a key.
    Put {
        key: String,
        value: String,
        /// Attach the key to this lease: it is deleted when the lease ends.
        #[arg(long, default_value_t = 0)]
        lease: i64,
    },
    /// Read a key, or every key under a prefix.
    Get {
        key: String,
        #[arg(long)]
        prefix: bool,
        /// At most this many keys (0 = all).
        #[arg(long, default_value_t = 0)]
        limit: i64,
        /// Read as of this revision (0 = now).
        #[arg(long, default_value_t = 0)]
        rev: i64,
        /// Read this node's copy without confirming it is current (may be stale).
        #[arg(long)]
        serializable: bool,
    },
    /// Delete a key, or every key under a prefix.
    Del {
        key: String,
        #[arg(long)]
        prefix: bool,
    },
    /// Print every change to a key or prefix, from a revision or from now.
    Watch {
        key: String,
        #[arg(long)]
        prefix: bool,
        /// First revision to print (0 = from now on).
        #[arg(long, default_value_t = 0)]
        rev: i64,
    },
    /// Discard change history before a revision.
    Compact { revision: i64 },
}

#[derive(Debug, Subcommand)]
pub enum LeaseCommand {
    /// Grant a lease of TTL seconds; prints its id.
    Grant { ttl: i64 },
    /// End a lease now, deleting its keys.
    Revoke { id: i64 },
    /// Keep a lease alive (until interrupted, or once).
    Keepalive {
        id: i64,
        #[arg(long)]
        once: bool,
    },
    /// Seconds left on a lease, and its keys.
    Ttl { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Every member: id, name, address, role, term, last log index, applied index.
    Status,
}

fn range_end(key: &str, prefix: bool) -> Vec<u8> {
    if !prefix {
        return Vec::new();
    }
    prefix_end(key.as_bytes()).unwrap_or_else(|| vec![0])
}

fn kv_json(kv: &pb::KeyValue) -> Value {
    json!({
        "key": String::from_utf8_lossy(&kv.key),
        "value": String::from_utf8_lossy(&kv.value),
        "create_revision": kv.create_revision,
        "mod_revision": kv.mod_revision,
        "version": kv.version,
        "lease": kv.lease,
    })
}

fn revision(h: &Option<pb::ResponseHeader>) -> i64 {
    h.as_ref().map_or(0, |h| h.revision)
}

fn emit(output: Output, doc: Value, text: impl FnOnce() -> String) {
    match output {
        Output::Json => println!("{doc}"),
        Output::Text => println!("{}", text()),
    }
}

pub async fn run_kv(opts: &ClientOptions, cmd: KvCommand) -> anyhow::Result<()> {
    let mut c = connect(&opts.endpoints).await?;
    match cmd {
        KvCommand::Put { key, value, lease } => {
            let r =
                c.kv.put(pb::PutRequest {
                    key: key.into_bytes(),
                    value: value.into_bytes(),
                    lease,
                    ..Default::default()
                })
                .await
                .map_err(status)?
                .into_inner();
            let rev = revision(&r.header);
            emit(opts.output, json!({ "revision": rev }), || {
                format!("OK (revision {rev})")
            });
        }
        KvCommand::Get {
            key,
            prefix,
            limit,
            rev,
            serializable,
        } => {
            let r =
                c.kv.range(pb::RangeRequest {
                    range_end: range_end(&key, prefix),
                    key: key.into_bytes(),
                    limit,
                    revision: rev,
                    serializable,
                    ..Default::default()
                })
                .await
                .map_err(status)?
                .into_inner();
            let doc = json!({
                "revision": revision(&r.header),
                "count": r.count,
                "more": r.more,
                "kvs": r.kvs.iter().map(kv_json).collect::<Vec<_>>(),
            });
            emit(opts.output, doc, || {
                r.kvs
                    .iter()
                    .map(|kv| {
                        format!(
                            "{}\n{}",
                            String::from_utf8_lossy(&kv.key),
                            String::from_utf8_lossy(&kv.value)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        KvCommand::Del { key, prefix } => {
            let r =
                c.kv.delete_range(pb::DeleteRangeRequest {
                    range_end: range_end(&key, prefix),
                    key: key.into_bytes(),
                    prev_kv: false,
                })
                .await
                .map_err(status)?
                .into_inner();
            emit(
                opts.output,
                json!({ "deleted": r.deleted, "revision": revision(&r.header) }),
                || r.deleted.to_string(),
            );
        }
        KvCommand::Watch { key, prefix, rev } => {
            let mut stream = c
                .watch
                .watch(pb::WatchRequest {
                    range_end: range_end(&key, prefix),
                    key: key.into_bytes(),
                    start_revision: rev,
                    prev_kv: false,
                })
                .await
                .map_err(status)?
                .into_inner();
            let mut first = true;
            while let Some(msg) = stream.message().await.map_err(status)? {
                if msg.compact_revision > 0 {
                    anyhow::bail!(
                        "revision {rev} has been compacted (history starts after {})",
                        msg.compact_revision
                    );
                }
                if first {
                    first = false;
                    let at = revision(&msg.header);
                    emit(
                        opts.output,
                        json!({ "watching": true, "revision": at }),
                        || format!("watching (current revision {at})"),
                    );
                }
                for ev in &msg.events {
                    let Some(kv) = &ev.kv else { continue };
                    let kind = if ev.r#type == pb::event::EventType::Delete as i32 {
                        "DELETE"
                    } else {
                        "PUT"
                    };
                    let mut doc = kv_json(kv);
                    doc["type"] = json!(kind);
                    emit(opts.output, doc, || {
                        format!(
                            "{kind} {} {}",
                            String::from_utf8_lossy(&kv.key),
                            String::from_utf8_lossy(&kv.value)
                        )
                    });
                }
            }
        }
        KvCommand::Compact { revision: rev } => {
            let r =
                c.kv.compact(pb::CompactionRequest { revision: rev })
                    .await
                    .map_err(status)?
                    .into_inner();
            let at = revision(&r.header);
            emit(
                opts.output,
                json!({ "compacted": rev, "revision": at }),
                || format!("compacted up to {rev}"),
            );
        }
    }
    Ok(())
}

pub async fn run_lease(opts: &ClientOptions, cmd: LeaseCommand) -> anyhow::Result<()> {
    let mut c = connect(&opts.endpoints).await?;
    match cmd {
        LeaseCommand::Grant { ttl } => {
            let r = c
                .lease
                .lease_grant(pb::LeaseGrantRequest { ttl, id: 0 })
                .await
                .map_err(status)?
                .into_inner();
            emit(opts.output, json!({ "id": r.id, "ttl": r.ttl }), || {
                r.id.to_string()
            });
        }
        LeaseCommand::Revoke { id } => {
            c.lease
                .lease_revoke(pb::LeaseRevokeRequest { id })
                .await
                .map_err(status)?;
            emit(opts.output, json!({ "revoked": id }), || {
                format!("lease {id} revoked")
            });
        }
        LeaseCommand::Keepalive { id, once } => loop {
            let r = c
                .lease
                .lease_keep_alive(pb::LeaseKeepAliveRequest { id })
                .await
                .map_err(status)?
                .into_inner();
            emit(opts.output, json!({ "id": id, "ttl": r.ttl }), || {
                format!("lease {id} kept alive for {}s", r.ttl)
            });
            if once {
                break;
            }
            tokio::time::sleep(Duration::from_millis((r.ttl.max(1) as u64) * 1000 / 3)).await;
        },
        LeaseCommand::Ttl { id } => {
            let r = c
                .lease
                .lease_time_to_live(pb::LeaseTimeToLiveRequest { id, keys: true })
                .await
                .map_err(status)?
                .into_inner();
            let keys: Vec<_> = r
                .keys
                .iter()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect();
            emit(
                opts.output,
                json!({ "id": id, "ttl": r.ttl, "granted_ttl": r.granted_ttl, "keys": keys }),
                || {
                    format!(
                        "lease {id}: {}s left of {}s, keys {:?}",
                        r.ttl, r.granted_ttl, keys
                    )
                },
            );
        }
    }
    Ok(())
}

pub async fn run_cluster(opts: &ClientOptions, cmd: ClusterCommand) -> anyhow::Result<()> {
    let mut c = connect(&opts.endpoints).await?;
    match cmd {
        ClusterCommand::Status => {
            let r = c
                .cluster
                .status(pb::StatusRequest {})
                .await
                .map_err(status)?
                .into_inner();
            let members: Vec<Value> = r
                .members
                .iter()
                .map(|m| {
                    json!({
                        "id": m.id, "name": m.name, "addr": m.addr, "role": m.role, "term": m.term,
                        "last_log_index": m.last_log_index, "applied_index": m.applied_index,
                        "revision": m.revision, "error": m.error,
                    })
                })
                .collect();
            emit(
                opts.output,
                json!({ "leader": r.leader_id, "members": members }),
                || {
                    let mut out = format!(
                        "{:<4} {:<12} {:<22} {:<12} {:>6} {:>10} {:>10}",
                        "ID", "NAME", "ADDRESS", "ROLE", "TERM", "LAST LOG", "APPLIED"
                    );
                    for m in &r.members {
                        out.push_str(&format!(
                            "\n{:<4} {:<12} {:<22} {:<12} {:>6} {:>10} {:>10}{}",
                            m.id,
                            m.name,
                            m.addr,
                            m.role,
                            m.term,
                            m.last_log_index,
                            m.applied_index,
                            if m.error.is_empty() {
                                String::new()
                            } else {
                                format!("  ({})", m.error)
                            }
                        ));
                    }
                    out
                },
            );
        }
    }
    Ok(())
}
