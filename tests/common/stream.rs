//! A worker speaking `forest.v1.WorkerService.Connect` message by message, so tests check each
//! promise of the protocol on the wire.

use std::time::Duration;

use forest::pb::forest::{
    node_message, worker_message, worker_service_client::WorkerServiceClient, Claim, Dispatch,
    Heartbeat, Hello, NodeMessage, Result as RunResult, WorkerMessage,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use super::{channel, PATIENCE};

/// One raw worker stream.
pub struct Stream {
    tx: mpsc::Sender<WorkerMessage>,
    rx: Streaming<NodeMessage>,
}

pub fn hello(group: &str, name: &str, session: &str) -> Hello {
    Hello {
        group: group.into(),
        name: name.into(),
        capacity: 4,
        session: session.into(),
        version: "test".into(),
        ..Default::default()
    }
}

pub fn msg(kind: worker_message::Kind) -> WorkerMessage {
    WorkerMessage { kind: Some(kind) }
}

impl Stream {
    /// Opens a stream and sends `first`; the node's first answer (or refusal) is the caller's.
    pub async fn open(ep: &str, first: WorkerMessage) -> Result<Stream, tonic::Status> {
        let (tx, rx) = mpsc::channel(64);
        tx.send(first).await.expect("queue the first message");
        let mut client = WorkerServiceClient::new(channel(ep).await.expect("connect"));
        let rx = client.connect(ReceiverStream::new(rx)).await?.into_inner();
        Ok(Stream { tx, rx })
    }

    /// Opens a stream, expects a welcome, and keeps heartbeats going until the stream is
    /// dropped.
    pub async fn welcomed(ep: &str, h: Hello) -> Stream {
        let mut s = Stream::open(ep, msg(worker_message::Kind::Hello(h)))
            .await
            .expect("stream opens");
        let every = match s.next().await {
            Ok(node_message::Kind::Welcome(w)) => {
                assert!(w.lease_id != 0 && w.heartbeat_ms > 0);
                Duration::from_millis(w.heartbeat_ms.into())
            }
            other => panic!("expected a welcome, got {other:?}"),
        };
        let weak = s.tx.downgrade();
        tokio::spawn(async move {
            while let Some(tx) = weak.upgrade() {
                let _ = tx
                    .send(msg(worker_message::Kind::Heartbeat(Heartbeat {})))
                    .await;
                drop(tx);
                tokio::time::sleep(every / 2).await;
            }
        });
        s
    }

    /// The node's next message, or the status it closed the stream with.
    pub async fn next(&mut self) -> Result<node_message::Kind, tonic::Status> {
        loop {
            let m = tokio::time::timeout(PATIENCE, self.rx.message())
                .await
                .expect("the node answers in time")?;
            match m {
                Some(NodeMessage { kind: Some(k) }) => return Ok(k),
                Some(_) => continue,
                None => return Err(tonic::Status::cancelled("stream ended")),
            }
        }
    }

    pub async fn send(&self, kind: worker_message::Kind) {
        let _ = self.tx.send(msg(kind)).await;
    }

    /// The next dispatch (other messages are passed over).
    pub async fn next_dispatch(&mut self) -> Dispatch {
        loop {
            match self.next().await.expect("stream alive") {
                node_message::Kind::Dispatch(d) => return d,
                _ => continue,
            }
        }
    }

    /// Claims a dispatch and expects the claim to hold.
    pub async fn claim(&mut self, id: &str) {
        self.send(worker_message::Kind::Claim(Claim {
            snapshot_id: id.into(),
        }))
        .await;
        loop {
            match self.next().await.expect("claimed") {
                node_message::Kind::Claimed(c) => {
                    assert!(c.ok, "claim refused: {}", c.reason);
                    return;
                }
                _ => continue,
            }
        }
    }

    /// Reports a result; returns whether the node recorded it, and why not.
    pub async fn finish(&mut self, id: &str, status: i32, result: &str) -> (bool, String) {
        let now = chrono::Utc::now().timestamp_millis();
        self.send(worker_message::Kind::Result(RunResult {
            snapshot_id: id.into(),
            status,
            result: result.into(),
            output: String::new(),
            started_at_ms: now - 20,
            finished_at_ms: now,
        }))
        .await;
        loop {
            match self.next().await.expect("recorded") {
                node_message::Kind::Recorded(r) => return (r.ok, r.reason),
                _ => continue,
            }
        }
    }
}
