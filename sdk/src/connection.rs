//! One stream to one node: connect, say Hello, wait for the Welcome. After that the stream
//! belongs to the [`Session`](crate::session::Session), which outlives it.
//!
//! The Hello is queued before the call is made, because a node may read it before it answers
//! the call at all.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Endpoint;
use tonic::Streaming;

use crate::pb;
use crate::pb::node_message::Kind as NodeKind;
use crate::pb::worker_message::Kind;
use crate::pb::worker_service_client::WorkerServiceClient;

/// How long a node has to answer a Hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Messages waiting to be written to the stream; Progress is dropped beyond this.
const OUTBOUND_BUFFER: usize = 256;

/// Why a stream could not be opened or ended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnError {
    #[error("cannot connect: {}", with_causes(.0))]
    Connect(#[from] tonic::transport::Error),
    #[error("the node ended the stream: {}: {}", .0.code(), .0.message())]
    Status(#[from] tonic::Status),
    #[error("the node closed the stream")]
    Closed,
    #[error("no Welcome within {HANDSHAKE_TIMEOUT:?}")]
    HandshakeTimeout,
    #[error("the node answered the Hello with something other than a Welcome")]
    NoWelcome,
    #[error("the token holds characters no header may carry")]
    BadToken,
}

/// An open stream, welcomed.
pub(crate) struct Conn {
    pub(crate) tx: mpsc::Sender<pb::WorkerMessage>,
    pub(crate) inbound: Streaming<pb::NodeMessage>,
    pub(crate) welcome: pb::Welcome,
}

pub(crate) async fn open(
    endpoint: &Endpoint,
    hello: pb::Hello,
    token: Option<&str>,
) -> Result<Conn, ConnError> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(endpoint, hello, token))
        .await
        .map_err(|_| ConnError::HandshakeTimeout)?
}

async fn handshake(
    endpoint: &Endpoint,
    hello: pb::Hello,
    token: Option<&str>,
) -> Result<Conn, ConnError> {
    let channel = endpoint.connect().await?;
    let (tx, rx) = mpsc::channel(OUTBOUND_BUFFER);
    send(&tx, Kind::Hello(hello)).await?;
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    if let Some(token) = token {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| ConnError::BadToken)?;
        request.metadata_mut().insert("authorization", value);
    }
    let mut inbound = WorkerServiceClient::new(channel)
        .connect(request)
        .await?
        .into_inner();
    match inbound.message().await? {
        Some(pb::NodeMessage {
            kind: Some(NodeKind::Welcome(welcome)),
        }) => Ok(Conn {
            tx,
            inbound,
            welcome,
        }),
        Some(_) => Err(ConnError::NoWelcome),
        None => Err(ConnError::Closed),
    }
}

/// An error and its causes on one line (a transport error alone says only "transport error").
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        line = format!("{line}: {c}");
        cause = c.source();
    }
    line
}

/// Queues `kind` on the stream; fails once the stream is gone.
pub(crate) async fn send(
    tx: &mpsc::Sender<pb::WorkerMessage>,
    kind: Kind,
) -> Result<(), ConnError> {
    tx.send(pb::WorkerMessage { kind: Some(kind) })
        .await
        .map_err(|_| ConnError::Closed)
}
