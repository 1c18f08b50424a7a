//! Ids: the original's serial numbers (job ids) and Forest's deterministic snapshot ids.
//!
//! **Serial numbers.** The original's `GenerateSerialNo()` is the local wall clock as
//! `yyyyMMddHHmmss` plus a random number in 0..999999 written with 6 digits: 20 characters,
//! e.g. `20190707191011593096`. Job ids are still made that way ([`job_id`]); two jobs created
//! in the same second can draw the same number (§7.2 item 19), which the create-if-absent write
//! of a new job catches (the API then retries with a new id).
//!
//! **Snapshot ids.** The original's were `GenerateSerialNo() + jobId` at dispatch time: random,
//! so nothing stopped two leaders (or a retried write) from dispatching one tick twice. Forest
//! derives the id from (scheduled time, job id) and keeps the original's shape, 20 digits then
//! the job id (40 characters for the original's 20-character job ids):
//!
//! ```text
//! yyyyMMddHHmmss  K  AA  SSS  <jobId>
//! └ scheduled     │  │   └ slot: shard index (sharded) or the worker's place (broadcast), 0..=999
//!   second, UTC   │  └ attempt: 0 = the run itself, n = its n-th retry, 0..=99
//!                 └ kind: 0 = a scheduled tick, 1..=9 = the n-th manual run asked that second
//! ```
//!
//! - The time is **UTC**, not the job's or the server's zone: local wall-clock times repeat in a
//!   daylight-saving fall-back hour (where jobs with a wildcard fire by real time, DESIGN §4),
//!   and the server's zone can differ between the node that fired a tick and the next leader,
//!   which would then compute another id for the same tick and fire it again. UTC makes the id
//!   a function of the instant alone. Ids still sort by scheduled time.
//! - A job fires at most once per second (cron resolution is one second; `@every` rounds down
//!   to whole seconds), so the second alone tells one job's ticks apart and the 6 digits are
//!   free to tell apart the runs that one tick causes: retries, shards and broadcast copies
//!   each get their own id (and so their own key and history row), and a manual run never takes
//!   a tick's id. A sub-second part of the scheduled time is dropped.
//! - Same inputs, same id; different inputs, different ids (the encoding is one-to-one), so a
//!   dispatch written create-if-absent happens once per (tick, kind, attempt, slot).
//! - The ids the original wrote have the same shape and parse too, but their digits are
//!   random and their time is local: a parsed id describes the run only for ids Forest made.
//!
//! The limits follow from the digits: at most [`MAX_ATTEMPT`] retries, [`MAX_SLOTS`] shards or
//! broadcast copies per tick, and [`MAX_MANUAL`] manual runs of one job per second.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Local, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use rand::Rng;

use super::keys;
use super::ModelError;

/// A snapshot id's job id, without parsing the rest: every snapshot id (Forest's and the
/// original's) is a serial number followed by the job id.
pub fn job_of(snapshot_id: &str) -> &str {
    snapshot_id.get(SERIAL_LEN..).unwrap_or("")
}

/// Length of a serial number: `yyyyMMddHHmmss` + 6 digits.
pub const SERIAL_LEN: usize = 20;
/// The highest attempt number a snapshot id can carry (attempt 0 is the run itself).
pub const MAX_ATTEMPT: u32 = 99;
/// How many slots (shards, broadcast copies) one tick can fan out to.
pub const MAX_SLOTS: u32 = 1000;
/// How many manual runs of one job a snapshot id can tell apart within one second.
pub const MAX_MANUAL: u32 = 9;

/// The original's `GenerateSerialNo()`: `now_local` (the local wall clock, as the original)
/// as `yyyyMMddHHmmss` plus 6 random digits.
pub fn serial_no(now_local: &NaiveDateTime) -> String {
    let random: u32 = rand::rng().random_range(0..1_000_000);
    format!("{}{random:06}", now_local.format("%Y%m%d%H%M%S"))
}

/// A new job id: a serial number of the local time now, as the original's `/job/add`.
pub fn job_id() -> String {
    serial_no(&Local::now().naive_local())
}

/// A deterministic snapshot id (see the module documentation for the layout).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnapshotId {
    scheduled: DateTime<Utc>,
    manual: u32,
    attempt: u32,
    slot: u32,
    job_id: String,
}

impl SnapshotId {
    /// The id of a scheduled tick's run: attempt 0, slot 0. `scheduled` may be in any zone.
    pub fn tick<Tz: TimeZone>(scheduled: &DateTime<Tz>, job_id: &str) -> Result<Self, ModelError> {
        Self::build(scheduled.with_timezone(&Utc), 0, job_id)
    }

    /// The id of the `nth` (1..=[`MAX_MANUAL`]) manual run of a job asked for in the second of
    /// `requested`. The caller finds a free `nth` by writing create-if-absent.
    pub fn manual<Tz: TimeZone>(
        requested: &DateTime<Tz>,
        nth: u32,
        job_id: &str,
    ) -> Result<Self, ModelError> {
        if !(1..=MAX_MANUAL).contains(&nth) {
            return Err(ModelError::invalid(
                "manual",
                format!("run number {nth} is outside 1..={MAX_MANUAL}"),
            ));
        }
        Self::build(requested.with_timezone(&Utc), nth, job_id)
    }

    fn build(scheduled: DateTime<Utc>, manual: u32, job_id: &str) -> Result<Self, ModelError> {
        if !(0..=9999).contains(&scheduled.year()) {
            return Err(ModelError::invalid(
                "scheduledAt",
                format!("{scheduled} is outside the years 0..=9999"),
            ));
        }
        if !keys::is_valid_segment(job_id) {
            return Err(ModelError::invalid(
                "jobId",
                format!("{job_id:?} cannot be part of a key"),
            ));
        }
        Ok(SnapshotId {
            scheduled: scheduled.with_nanosecond(0).unwrap_or(scheduled),
            manual,
            attempt: 0,
            slot: 0,
            job_id: job_id.to_string(),
        })
    }

    /// The same run's `attempt`-th retry (0 = the run itself).
    pub fn with_attempt(mut self, attempt: u32) -> Result<Self, ModelError> {
        if attempt > MAX_ATTEMPT {
            return Err(ModelError::invalid(
                "attempt",
                format!("{attempt} is above {MAX_ATTEMPT}"),
            ));
        }
        self.attempt = attempt;
        Ok(self)
    }

    /// The same run's copy for `slot` (a shard index, or a worker's place in a broadcast).
    pub fn with_slot(mut self, slot: u32) -> Result<Self, ModelError> {
        if slot >= MAX_SLOTS {
            return Err(ModelError::invalid(
                "shardIndex",
                format!("{slot} is not below {MAX_SLOTS}"),
            ));
        }
        self.slot = slot;
        Ok(self)
    }

    /// The scheduled (or, for a manual run, requested) second.
    pub fn scheduled(&self) -> DateTime<Utc> {
        self.scheduled
    }

    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// `Some(n)` for the n-th manual run of its second, `None` for a scheduled tick.
    pub fn manual_run(&self) -> Option<u32> {
        (self.manual != 0).then_some(self.manual)
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// The run this one retries, or itself when `attempt` is 0: the first attempt of the same
    /// tick (or manual run) and slot.
    pub fn first_attempt(&self) -> SnapshotId {
        SnapshotId {
            attempt: 0,
            ..self.clone()
        }
    }
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.scheduled;
        write!(
            f,
            "{:04}{:02}{:02}{:02}{:02}{:02}{}{:02}{:03}{}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            self.manual,
            self.attempt,
            self.slot,
            self.job_id
        )
    }
}

impl FromStr for SnapshotId {
    type Err = ModelError;

    /// Reads an id back. Ids the original made parse too (see the module documentation).
    fn from_str(s: &str) -> Result<Self, ModelError> {
        let bad = |reason: &str| ModelError::invalid("id", format!("{s:?}: {reason}"));
        let bytes = s.as_bytes();
        if bytes.len() <= SERIAL_LEN || !bytes[..SERIAL_LEN].iter().all(u8::is_ascii_digit) {
            return Err(bad("not 20 digits followed by a job id"));
        }
        let number = |from: usize, to: usize| {
            bytes[from..to]
                .iter()
                .fold(0u32, |n, digit| n * 10 + u32::from(digit - b'0'))
        };
        let scheduled = NaiveDate::from_ymd_opt(number(0, 4) as i32, number(4, 6), number(6, 8))
            .and_then(|day| day.and_hms_opt(number(8, 10), number(10, 12), number(12, 14)))
            .ok_or_else(|| bad("no such date and time"))?;
        // The first 20 bytes are ASCII, so byte 20 is a character boundary.
        let id = Self::build(scheduled.and_utc(), number(14, 15), &s[SERIAL_LEN..])?;
        id.with_attempt(number(15, 17))?.with_slot(number(17, 20))
    }
}

/// The id of a scheduled tick's run (attempt 0, slot 0), as text.
pub fn snapshot_id<Tz: TimeZone>(
    scheduled: &DateTime<Tz>,
    job_id: &str,
) -> Result<String, ModelError> {
    SnapshotId::tick(scheduled, job_id).map(|id| id.to_string())
}

/// [`SnapshotId::from_str`], for callers that only need to know whether it parses.
pub fn parse_snapshot_id(s: &str) -> Option<SnapshotId> {
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::{Duration, FixedOffset, NaiveDate};

    use super::*;

    const JOB: &str = "20190707191011593096";

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("a valid time")
    }

    #[test]
    fn serial_numbers_have_the_original_shape() {
        let now = NaiveDate::from_ymd_opt(2019, 7, 7)
            .and_then(|d| d.and_hms_opt(19, 10, 11))
            .expect("a valid time");
        for _ in 0..100 {
            let serial = serial_no(&now);
            assert_eq!(serial.len(), SERIAL_LEN);
            assert!(serial.starts_with("20190707191011"), "{serial}");
            assert!(serial.bytes().all(|b| b.is_ascii_digit()), "{serial}");
        }
        let id = job_id();
        assert_eq!(id.len(), SERIAL_LEN);
        assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
    }

    #[test]
    fn tick_id_layout() {
        let at = utc(2019, 12, 24, 9, 30, 5);
        assert_eq!(
            snapshot_id(&at, JOB).ok().as_deref(),
            Some("2019122409300500000020190707191011593096")
        );
        let id = SnapshotId::tick(&at, JOB)
            .and_then(|id| id.with_attempt(7))
            .and_then(|id| id.with_slot(42));
        assert_eq!(
            id.map(|id| id.to_string()).ok().as_deref(),
            Some("2019122409300500704220190707191011593096")
        );
        let manual = SnapshotId::manual(&at, 3, JOB).map(|id| id.to_string());
        assert_eq!(
            manual.ok().as_deref(),
            Some("2019122409300530000020190707191011593096")
        );
        // 40 characters for the original's 20-character job ids.
        assert_eq!(snapshot_id(&at, JOB).map(|id| id.len()).ok(), Some(40));
    }

    #[test]
    fn same_tick_same_id_in_any_zone() {
        let at = utc(2021, 3, 28, 1, 30, 0);
        let shanghai = at.with_timezone(&FixedOffset::east_opt(8 * 3600).expect("offset"));
        let west = at.with_timezone(&FixedOffset::west_opt(5 * 3600).expect("offset"));
        let base = snapshot_id(&at, JOB).ok();
        assert!(base.is_some());
        assert_eq!(snapshot_id(&shanghai, JOB).ok(), base);
        assert_eq!(snapshot_id(&west, JOB).ok(), base);
        // A sub-second part does not change the tick's id.
        let late = at + Duration::milliseconds(999);
        assert_eq!(snapshot_id(&late, JOB).ok(), base);
        assert_eq!(
            SnapshotId::tick(&late, JOB).map(|id| id.scheduled()).ok(),
            Some(at)
        );
    }

    #[test]
    fn ids_are_unique_over_ticks_attempts_slots_and_jobs() {
        let start = utc(2024, 10, 27, 0, 0, 0);
        let mut seen = HashSet::new();
        let mut count = 0;
        for job in [JOB, "20190707191011593097", "110"] {
            for tick in 0..1200 {
                let at = start + Duration::seconds(tick * 7);
                for (attempt, slot) in [(0, 0), (1, 0), (0, 1), (99, 999), (2, 5)] {
                    let id = SnapshotId::tick(&at, job)
                        .and_then(|id| id.with_attempt(attempt))
                        .and_then(|id| id.with_slot(slot));
                    let Ok(id) = id else {
                        panic!("{at} {attempt} {slot} {job}");
                    };
                    let text = id.to_string();
                    assert!(seen.insert(text.clone()), "collision: {text}");
                    assert_eq!(parse_snapshot_id(&text), Some(id));
                    count += 1;
                }
                for nth in 1..=MAX_MANUAL {
                    let manual = SnapshotId::manual(&at, nth, job).map(|id| id.to_string());
                    let Ok(text) = manual else {
                        panic!("{at} manual {nth}");
                    };
                    assert!(seen.insert(text.clone()), "collision: {text}");
                    count += 1;
                }
            }
        }
        assert_eq!(seen.len(), count);
    }

    #[test]
    fn parse_round_trip_and_parts() {
        let at = utc(2019, 12, 24, 17, 43, 4);
        let id = SnapshotId::manual(&at, 2, "110")
            .and_then(|id| id.with_attempt(3))
            .and_then(|id| id.with_slot(12));
        let Ok(id) = id else {
            panic!("valid id");
        };
        let parsed = parse_snapshot_id(&id.to_string());
        assert_eq!(parsed.as_ref(), Some(&id));
        assert_eq!(id.scheduled(), at);
        assert_eq!(id.job_id(), "110");
        assert_eq!(id.manual_run(), Some(2));
        assert_eq!(id.attempt(), 3);
        assert_eq!(id.slot(), 12);
        let first = id.first_attempt();
        assert_eq!(first.attempt(), 0);
        assert_eq!(first.slot(), 12);
        assert_eq!(first.manual_run(), Some(2));
        assert_eq!(
            SnapshotId::tick(&at, "110").map(|i| i.manual_run()).ok(),
            Some(None)
        );
        // An id the original made (serial + job id) parses, with meaningless digits.
        assert!(parse_snapshot_id("2019070719101159309620190707191011593096").is_some());
    }

    #[test]
    fn parse_rejects_junk() {
        for junk in [
            "",
            "2019122409300500000",
            "20191224093005000000",
            "2019122409300500000x20190707191011593096",
            "2019132409300500000020190707191011593096",
            "2019022909300500000020190707191011593096",
            "2019122424300500000020190707191011593096",
            "2019122409306000000020190707191011593096",
            "20191224093005000000a/b",
            "20191224093005000000a b",
            "２019122409300500000020190707191011593096",
            "-019122409300500000020190707191011593096",
        ] {
            assert_eq!(parse_snapshot_id(junk), None, "{junk:?}");
            assert!(junk.parse::<SnapshotId>().is_err());
        }
    }

    #[test]
    fn limits() {
        let at = utc(2024, 1, 1, 0, 0, 0);
        assert!(SnapshotId::tick(&at, "").is_err());
        assert!(SnapshotId::tick(&at, "a/b").is_err());
        let tick = || SnapshotId::tick(&at, JOB);
        assert!(tick().and_then(|id| id.with_attempt(MAX_ATTEMPT)).is_ok());
        assert!(tick()
            .and_then(|id| id.with_attempt(MAX_ATTEMPT + 1))
            .is_err());
        assert!(tick().and_then(|id| id.with_slot(MAX_SLOTS - 1)).is_ok());
        assert!(tick().and_then(|id| id.with_slot(MAX_SLOTS)).is_err());
        assert!(SnapshotId::manual(&at, 0, JOB).is_err());
        assert!(SnapshotId::manual(&at, MAX_MANUAL + 1, JOB).is_err());
        let far = utc(9999, 12, 31, 23, 59, 59) + Duration::seconds(1);
        assert!(SnapshotId::tick(&far, JOB).is_err());
        let message = tick().and_then(|id| id.with_attempt(100)).err();
        assert_eq!(
            message.map(|e| e.to_string()).as_deref(),
            Some("attempt: 100 is above 99")
        );
    }
}
