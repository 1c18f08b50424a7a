//! No-op workers for the benchmarks: each holds one worker stream, claims every dispatch at
//! once and reports success, and notes how late each run started (its arrival minus its
//! scheduled time).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::histogram;
use crate::cli::client::channel;
use crate::pb::forest::{
    node_message, worker_message, worker_service_client::WorkerServiceClient, Claim, Heartbeat,
    Hello, Result as RunResult, WorkerMessage,
};

/// What the no-op workers saw, together.
pub struct Tally {
    /// Scheduled time to arrival at a worker, µs.
    pub start_delay: Mutex<Histogram<u64>>,
    pub recorded: AtomicU64,
}

impl Tally {
    pub fn new() -> Arc<Tally> {
        Arc::new(Tally {
            start_delay: Mutex::new(histogram()),
            recorded: AtomicU64::new(0),
        })
    }

    pub fn reset(&self) {
        if let Ok(mut h) = self.start_delay.lock() {
            h.reset();
        }
        self.recorded.store(0, Ordering::Relaxed);
    }
}

fn send(tx: &mpsc::Sender<WorkerMessage>, kind: worker_message::Kind) -> bool {
    tx.try_send(WorkerMessage { kind: Some(kind) }).is_ok()
}

/// Starts `n` workers of `group`, spread over `endpoints`; they run until the process ends.
pub async fn spawn(
    endpoints: &[String],
    group: &str,
    n: usize,
    tally: Arc<Tally>,
) -> anyhow::Result<()> {
    for i in 0..n {
        let ch = channel(&endpoints[i % endpoints.len()]).await?;
        let (tx, rx) = mpsc::channel(4096);
        send(
            &tx,
            worker_message::Kind::Hello(Hello {
                group: group.to_string(),
                name: format!("noop-{i}"),
                capacity: 1024,
                session: format!("bench-{}-{i}", std::process::id()),
                version: "forest-bench".into(),
                ..Default::default()
            }),
        );
        let mut inbound = WorkerServiceClient::new(ch)
            .connect(ReceiverStream::new(rx))
            .await?
            .into_inner();
        let tally = tally.clone();
        tokio::spawn(async move {
            let beat = tx.clone();
            tokio::spawn(async move {
                while !beat.is_closed() {
                    send(&beat, worker_message::Kind::Heartbeat(Heartbeat {}));
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            });
            while let Ok(Some(m)) = inbound.message().await {
                match m.kind {
                    Some(node_message::Kind::Dispatch(d)) => {
                        let late_ms = chrono::Utc::now().timestamp_millis() - d.scheduled_at_ms;
                        if let Ok(mut h) = tally.start_delay.lock() {
                            let _ = h.record((late_ms.max(0) as u64 * 1000).max(1));
                        }
                        send(
                            &tx,
                            worker_message::Kind::Claim(Claim {
                                snapshot_id: d.snapshot_id,
                            }),
                        );
                    }
                    Some(node_message::Kind::Claimed(c)) if c.ok => {
                        let now = chrono::Utc::now().timestamp_millis();
                        send(
                            &tx,
                            worker_message::Kind::Result(RunResult {
                                snapshot_id: c.snapshot_id,
                                status: 2,
                                result: "ok".into(),
                                started_at_ms: now,
                                finished_at_ms: now,
                                ..Default::default()
                            }),
                        );
                    }
                    Some(node_message::Kind::Recorded(r)) if r.ok => {
                        tally.recorded.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        });
    }
    Ok(())
}
