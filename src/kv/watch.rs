//! Watches: a live feed of changes, resumable from any retained revision.
//!
//! The feed subscribes to the applied-change broadcast first, then reads the retained history
//! from the start revision, then follows the broadcast, skipping what the history already gave:
//! every event arrives exactly once, in revision order. When the feed falls behind (or a
//! snapshot replaced the state) it goes back to the history for what it missed. The first
//! message, with no events, says the watch is in place and the revision it starts after.

use std::pin::Pin;

use forest_storage::state::{in_range, Notice};
use forest_storage::{ApplyError, ReadError};
use futures::Stream;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::{Kv, KvError};
use crate::pb::kv as pb;

pub type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchResponse, KvError>> + Send>>;

pub fn start(kv: Kv, req: pb::WatchRequest) -> WatchStream {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        if let Err(e) = feed(&kv, &req, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

type Tx = mpsc::Sender<Result<pb::WatchResponse, KvError>>;

/// Runs until the client goes away (Ok) or the watch cannot go on (Err).
async fn feed(kv: &Kv, req: &pb::WatchRequest, tx: &Tx) -> Result<(), KvError> {
    let state = kv.cluster().state();
    let mut live = state.subscribe();
    let current = state.applied().await.revision;
    let mut next = if req.start_revision > 0 {
        req.start_revision
    } else {
        current + 1
    };
    if !send(kv, tx, current, Vec::new()).await {
        return Ok(());
    }
    loop {
        match state.events_since(next, &req.key, &req.range_end).await {
            Ok((batches, upto)) => {
                for (rev, events) in batches {
                    if !send(kv, tx, rev, shape(events, req.prev_kv)).await {
                        return Ok(());
                    }
                }
                next = next.max(upto + 1);
            }
            Err(ReadError::Rejected(ApplyError::Compacted { compacted, .. })) => {
                let resp = pb::WatchResponse {
                    header: kv.header(compacted),
                    events: Vec::new(),
                    compact_revision: compacted,
                };
                let _ = tx.send(Ok(resp)).await;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        loop {
            match live.recv().await {
                Ok(Notice::Events(rev, events)) if rev >= next => {
                    next = rev + 1;
                    let events: Vec<pb::Event> = events
                        .iter()
                        .filter(|e| {
                            e.kv.as_ref()
                                .is_some_and(|kv| in_range(&kv.key, &req.key, &req.range_end))
                        })
                        .cloned()
                        .collect();
                    if !events.is_empty() && !send(kv, tx, rev, shape(events, req.prev_kv)).await {
                        return Ok(());
                    }
                }
                Ok(Notice::Events(..)) => {}
                Ok(Notice::Reset) | Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }
}

fn shape(mut events: Vec<pb::Event>, prev_kv: bool) -> Vec<pb::Event> {
    if !prev_kv {
        for e in &mut events {
            e.prev_kv = None;
        }
    }
    events
}

async fn send(kv: &Kv, tx: &Tx, revision: i64, events: Vec<pb::Event>) -> bool {
    let resp = pb::WatchResponse {
        header: kv.header(revision),
        events,
        compact_revision: 0,
    };
    tx.send(Ok(resp)).await.is_ok()
}
