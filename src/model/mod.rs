//! The vocabulary every layer above kv shares: the original forest's key layout.
//!
//! Kept free of any other Forest module so any layer may use it.

pub mod keys;
