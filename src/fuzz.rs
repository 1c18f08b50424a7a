//! The bodies of the fuzz targets in `fuzz/` (run with `cargo fuzz`, see the README).
//!
//! Each takes arbitrary bytes through a door where hostile input arrives and runs the same
//! code a node runs on it; it panics only on a bug (a panic in the code under test, or a
//! broken invariant asserted here). They live in the library rather than in the fuzz crate so
//! that `cargo test` replays, on the stable toolchain and without cargo-fuzz, every input that
//! once broke one of them: the files under `fuzz/regressions/<target>/`.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Timelike, Utc};
use prost::Message;

use crate::cron::{Schedule, Syntax};
use crate::history::record;
use crate::model::{JobConf, JobExecuteSnapshot, JobSnapshot, WireJson};
use crate::pb::forest::{worker_message::Kind, WorkerMessage};
use crate::workers::{limits, runs};

/// Every target: its name (the file in `fuzz/fuzz_targets/`, the directory of its
/// regressions) and its body.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("cron", cron),
    ("job_json", job_json),
    ("worker_messages", worker_messages),
];

/// Zones with the awkward cases: DST at midnight (Santiago, Beirut), a 30-minute DST
/// (Lord Howe), a 2-hour DST (Troll), odd offsets, a day skipped (Apia, 2011), +14 and -12.
const ZONES: &[chrono_tz::Tz] = &[
    chrono_tz::UTC,
    chrono_tz::Europe::Paris,
    chrono_tz::America::New_York,
    chrono_tz::America::Santiago,
    chrono_tz::Asia::Beirut,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Antarctica::Troll,
    chrono_tz::America::St_Johns,
    chrono_tz::Asia::Kathmandu,
    chrono_tz::Pacific::Chatham,
    chrono_tz::Pacific::Apia,
    chrono_tz::Pacific::Kiritimati,
    chrono_tz::Etc::GMTPlus12,
];

/// The cron parser and fire-time search. The input is a flags byte (bit 0: the crontab
/// syntax, the rest: a zone of [`ZONES`]), 8 bytes of Unix seconds and 4 of nanoseconds
/// (little-endian: the instant to search from), then the expression as UTF-8.
pub fn cron(data: &[u8]) {
    let Some((head, expr)) = data.split_first_chunk::<13>() else {
        return;
    };
    let Ok(expr) = std::str::from_utf8(expr) else {
        return;
    };
    let [flags, secs @ .., n0, n1, n2, n3] = *head;
    let syntax = if flags & 1 == 0 {
        Syntax::Robfig
    } else {
        Syntax::Crontab
    };
    let zone = ZONES[usize::from(flags >> 1) % ZONES.len()];
    let secs = i64::from_le_bytes(secs);
    let nanos = u32::from_le_bytes([n0, n1, n2, n3]) % 1_000_000_000;
    // Most i64s are past chrono's range: fold those into ±3000 years around 1970, which
    // still crosses croner's search limits (years 1-5000).
    let from = DateTime::from_timestamp(secs, nanos)
        .or_else(|| DateTime::from_timestamp(secs % 100_000_000_000, nanos))
        .unwrap_or_default();

    let schedule = match Schedule::parse(expr, syntax, zone) {
        Ok(schedule) => schedule,
        Err(e) => {
            // The message goes back to a client as it is.
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let mut last = from;
    for next in schedule.upcoming(from, 4) {
        assert!(
            next > last,
            "{expr:?} from {from}: {next} is not after {last}"
        );
        assert_eq!(
            next.nanosecond(),
            0,
            "{expr:?}: {next} is not a whole second"
        );
        last = next;
    }
}

/// The job JSON decoder and what the API does with a decoded job. The input is the request
/// body as a client sends it.
pub fn job_json(data: &[u8]) {
    let Ok(job) = JobConf::from_json(data) else {
        return;
    };
    // What Forest stores, it reads back as the same job, through either reader.
    let written = job.to_json();
    let again = JobConf::from_json(written.as_bytes());
    assert_eq!(again.ok().as_ref(), Some(&job), "{written}");
    let plain = serde_json::from_str::<JobConf>(&written);
    assert_eq!(plain.ok().as_ref(), Some(&job), "{written}");
    // The job service's checks, then the scheduler's first use of the schedule.
    if job.validate().is_ok() {
        if let Ok(schedule) = crate::jobs::schedule(&job) {
            schedule.next_after(Utc::now());
        }
    }
}

/// The worker stream: arbitrary bytes as a sequence of length-delimited `WorkerMessage`s
/// (one per gRPC frame), through the checks a node runs on each message and the pure part of
/// what it does with those that pass: output kept per run, and a result turned into the run's
/// final report and history record. The rest (registration, claims and reports written to the
/// KV) needs a live cluster and is left to the integration tests.
pub fn worker_messages(data: &[u8]) {
    let mut rest = data;
    let mut hello_said = false;
    // Runs held: snapshot id → output kept, as the node's session keeps them.
    let mut running: HashMap<String, String> = HashMap::new();
    let now = NaiveDateTime::default();
    while !rest.is_empty() {
        let Ok(msg) = WorkerMessage::decode_length_delimited(&mut rest) else {
            return;
        };
        if limits::check_message(&msg, hello_said).is_err() {
            // The node closes the stream.
            return;
        }
        hello_said = true;
        match msg.kind {
            Some(Kind::Hello(h)) => {
                running.extend(h.running.into_iter().map(|id| (id, String::new())));
            }
            Some(Kind::Claim(c)) => {
                running.insert(c.snapshot_id, String::new());
            }
            Some(Kind::Progress(p)) => {
                if let Some(out) = running.get_mut(&p.snapshot_id) {
                    limits::append_tail(out, &p.output);
                    assert!(out.len() <= limits::MAX_OUTPUT_BYTES);
                }
            }
            Some(Kind::Result(r)) => {
                let progress = running.remove(&r.snapshot_id).unwrap_or_default();
                let snapshot = JobSnapshot {
                    id: r.snapshot_id.clone(),
                    ..JobSnapshot::default()
                };
                // A node writes the node's local time: try the zones furthest east and west.
                for zone in [
                    FixedOffset::east_opt(14 * 3600),
                    FixedOffset::west_opt(12 * 3600),
                ]
                .into_iter()
                .flatten()
                {
                    let run = JobExecuteSnapshot::started(&snapshot, &now);
                    let run = runs::report(run, &r, &progress, &zone, &now);
                    let run = run.expect("a checked result makes a report");
                    assert!(run.output.len() <= limits::MAX_OUTPUT_BYTES);
                    let written = run.to_json();
                    let again = JobExecuteSnapshot::from_json(written.as_bytes());
                    assert_eq!(again.ok().as_ref(), Some(&run), "{written}");
                    record::to_json(&record::from_run(&run));
                }
            }
            Some(Kind::Heartbeat(_) | Kind::CancelAck(_)) | None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::TARGETS;

    /// Every input that once broke a target still goes through it.
    #[test]
    fn the_inputs_that_broke_a_target_pass() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
        for (name, target) in TARGETS {
            let Ok(files) = std::fs::read_dir(root.join(name)) else {
                continue;
            };
            for file in files {
                let path = file.expect("a directory entry").path();
                let data = std::fs::read(&path).expect("a regression input");
                println!("{}", path.display());
                target(&data);
            }
        }
    }
}
