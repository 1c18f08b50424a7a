//! See `forest::fuzz::worker_messages`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| forest::fuzz::worker_messages(data));
