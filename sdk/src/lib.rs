//! The Forest worker SDK.

/// The generated `forest.v1` protocol: the worker stream and the job service.
pub mod pb {
    tonic::include_proto!("forest.v1");
}
