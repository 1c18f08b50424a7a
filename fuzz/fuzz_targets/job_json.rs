//! See `forest::fuzz::job_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| forest::fuzz::job_json(data));
