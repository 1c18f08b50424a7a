//! Group commit of client writes. openraft appends (and the log flushes) once per
//! `client_write`, so one write per Raft entry caps throughput at the disk's flush rate. The
//! batcher queues the writes that arrive while earlier entries are in flight and proposes
//! them together as one [`Command::Batch`] entry; each caller still gets its own response.

use std::sync::Arc;

use forest_storage::{Command, Reply, Response};
use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{ClusterError, Raft};

/// Most commands in one entry.
const MAX_BATCH: usize = 512;
/// Entries proposed concurrently: batches form while these are in flight.
const IN_FLIGHT: usize = 4;

type Waiter = oneshot::Sender<Result<Response, ClusterError>>;

/// Which queue a write waits in. The leader's own duties (firing ticks, expiring leases)
/// go first: a tick must not wait behind a backlog of client writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Leader,
    Clients,
}

type Queue = mpsc::UnboundedSender<(Command, Waiter)>;

#[derive(Clone)]
pub struct Batcher {
    leader: Queue,
    clients: Queue,
}

impl Batcher {
    pub fn start(raft: Raft) -> Batcher {
        let (leader, first) = mpsc::unbounded_channel();
        let (clients, rest) = mpsc::unbounded_channel();
        tokio::spawn(run(raft, first, rest));
        Batcher { leader, clients }
    }

    /// Proposes `cmd` if this node leads; `NotLeader` otherwise.
    pub async fn write(&self, cmd: Command, lane: Lane) -> Result<Response, ClusterError> {
        let (tx, rx) = oneshot::channel();
        let queue = match lane {
            Lane::Leader => &self.leader,
            Lane::Clients => &self.clients,
        };
        queue
            .send((cmd, tx))
            .map_err(|_| ClusterError::Raft("the proposer has stopped".into()))?;
        rx.await
            .map_err(|_| ClusterError::Raft("the proposer has stopped".into()))?
    }
}

async fn run(
    raft: Raft,
    mut leader: mpsc::UnboundedReceiver<(Command, Waiter)>,
    mut clients: mpsc::UnboundedReceiver<(Command, Waiter)>,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // A slot first, then the batch: what arrives while entries are in flight joins it.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let first = tokio::select! {
            biased;
            Some(w) = leader.recv() => w,
            Some(w) = clients.recv() => w,
            else => return,
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match leader.try_recv().or_else(|_| clients.try_recv()) {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            propose(&raft, batch).await;
            drop(slot);
        });
    }
}

async fn propose(raft: &Raft, mut batch: Vec<(Command, Waiter)>) {
    let (cmd, single) = if batch.len() == 1 {
        (batch[0].0.clone(), true)
    } else {
        (
            Command::Batch(batch.iter().map(|(c, _)| c.clone()).collect()),
            false,
        )
    };
    let outcome = match raft.client_write(cmd).await {
        Ok(r) => Ok(r.data),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
            Err(ClusterError::NotLeader)
        }
        Err(e) => Err(ClusterError::Raft(e.to_string())),
    };
    match outcome {
        Ok(resp) if single => {
            let (_, waiter) = batch.remove(0);
            let _ = waiter.send(Ok(resp));
        }
        Ok(Response {
            result: Ok(Reply::Batch(each)),
            ..
        }) if each.len() == batch.len() => {
            for ((_, waiter), resp) in batch.into_iter().zip(each) {
                let _ = waiter.send(Ok(resp));
            }
        }
        Ok(other) => {
            let e = format!(
                "a batch of {} writes was answered with {other:?}",
                batch.len()
            );
            for (_, waiter) in batch {
                let _ = waiter.send(Err(ClusterError::Raft(e.clone())));
            }
        }
        Err(e) => {
            let msg = e.to_string();
            for (_, waiter) in batch {
                let _ = waiter.send(Err(match &e {
                    ClusterError::NotLeader => ClusterError::NotLeader,
                    _ => ClusterError::Raft(msg.clone()),
                }));
            }
        }
    }
}
