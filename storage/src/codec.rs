//! Encoding of stored values and ordered keys.

use openraft::{StorageError, StorageIOError};
use serde::{de::DeserializeOwned, Serialize};

use crate::NodeId;

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Serializing our own in-memory types to a Vec cannot fail (no maps with non-string keys
    // matter to bincode, and no I/O is involved).
    bincode::serialize(v).expect("bincode serialization of an in-memory value")
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::Error> {
    bincode::deserialize(bytes)
}

/// Big-endian, so that byte order is numeric order.
pub fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub fn from_be(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

pub fn read_err(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::read(&e).into()
}

pub fn write_err(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::write(&e).into()
}
