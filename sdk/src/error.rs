//! What can be wrong with a worker's configuration. Once built, a worker does not fail: a node
//! that is down or refuses it is retried (another node, with backoff), and a run that fails is
//! reported as that run's result.

use crate::worker::MAX_NAME_BYTES;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no endpoints: give the address of at least one node")]
    NoEndpoints,
    #[error("invalid endpoint {endpoint:?}")]
    Endpoint {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("no group: a worker serves one job group")]
    NoGroup,
    #[error(
        "invalid worker name {0:?}: 1 to {MAX_NAME_BYTES} letters, digits, '.', '-', '_' or ':'"
    )]
    Name(String),
    #[error("no worker name given and the host name cannot be read")]
    NoHostname,
    #[error("concurrency must be 1..=1024, not {0}")]
    Concurrency(u32),
    #[error("invalid labels: {0}")]
    Labels(String),
    #[error("no targets: register at least one (a worker with none would look like it runs any)")]
    NoTargets,
    #[error("invalid target name {0:?}: it must not be empty")]
    TargetName(String),
}
