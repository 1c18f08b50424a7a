//! See `forest::fuzz::cron`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| forest::fuzz::cron(data));
