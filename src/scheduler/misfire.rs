//! Which ticks of a job to fire now, and which to record as missed.
//!
//! The leader handles every tick after the job's cursor up to now. A tick no older than the
//! job's starting deadline is on time and fires. Older ticks were missed (no leader, no quorum)
//! and follow the job's misfire policy:
//! - `skip`: none of them fires; each is recorded missed;
//! - `once`: if nothing fires on time, the most recent missed tick fires once; the others are
//!   recorded missed (the default: a daily report still runs once after an outage);
//! - `all`: the most recent `limit` missed ticks fire (oldest first), the rest are missed.
//!
//! Pure: the clock is an argument, so the policy is tested without waiting.

use chrono::{DateTime, Utc};

use crate::cron::Schedule;
use crate::model::job::Misfire;

/// At most this many ticks are looked at in one pass; a job whose cursor is further behind
/// (a cluster down for days, a job every second) catches up over several passes.
pub const MAX_TICKS_PER_PASS: usize = 2_000;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decision {
    pub fire: Vec<DateTime<Utc>>,
    pub missed: Vec<DateTime<Utc>>,
    /// The new cursor: the last tick handled (fired or recorded).
    pub cursor: Option<DateTime<Utc>>,
}

/// Decides the ticks in `(last, now]`.
pub fn decide(
    schedule: &Schedule,
    last: DateTime<Utc>,
    now: DateTime<Utc>,
    deadline: chrono::Duration,
    policy: Misfire,
    limit: u32,
) -> Decision {
    let mut on_time = Vec::new();
    let mut late = Vec::new();
    let mut t = last;
    while on_time.len() + late.len() < MAX_TICKS_PER_PASS {
        match schedule.next_after(t) {
            Some(next) if next <= now => {
                if now - next <= deadline {
                    on_time.push(next);
                } else {
                    late.push(next);
                }
                t = next;
            }
            _ => break,
        }
    }
    let cursor = on_time.last().or(late.last()).copied();
    let (fire_late, missed) = match policy {
        Misfire::Skip => (Vec::new(), late),
        Misfire::Once if on_time.is_empty() => match late.pop() {
            Some(last_late) => (vec![last_late], late),
            None => (Vec::new(), Vec::new()),
        },
        Misfire::Once => (Vec::new(), late),
        Misfire::All => {
            let keep = late.len().saturating_sub(limit as usize);
            let fire = late.split_off(keep);
            (fire, late)
        }
    };
    let mut fire = fire_late;
    fire.extend(on_time);
    Decision {
        fire,
        missed,
        cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::Syntax;
    use chrono::TimeZone;

    fn at(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap() + chrono::Duration::seconds(s as i64)
    }

    fn every_10s() -> Schedule {
        Schedule::parse("*/10 * * * * *", Syntax::Robfig, chrono_tz::UTC).unwrap()
    }

    fn run(last: u32, now: u32, policy: Misfire, limit: u32) -> Decision {
        decide(
            &every_10s(),
            at(last),
            at(now),
            chrono::Duration::seconds(15),
            policy,
            limit,
        )
    }

    #[test]
    fn an_on_time_tick_fires() {
        let d = run(0, 12, Misfire::Once, 0);
        assert_eq!(
            d,
            Decision {
                fire: vec![at(10)],
                missed: vec![],
                cursor: Some(at(10))
            }
        );
    }

    #[test]
    fn nothing_due_leaves_the_cursor() {
        assert_eq!(run(10, 19, Misfire::Once, 0), Decision::default());
    }

    #[test]
    fn skip_records_every_late_tick_missed() {
        // Down from 0 to 65: ticks 10..=40 are late, 50 and 60 on time (deadline 15 s).
        let d = run(0, 65, Misfire::Skip, 0);
        assert_eq!(d.fire, vec![at(50), at(60)]);
        assert_eq!(d.missed, vec![at(10), at(20), at(30), at(40)]);
        assert_eq!(d.cursor, Some(at(60)));
    }

    #[test]
    fn once_fires_the_latest_late_tick_only_when_nothing_is_on_time() {
        let d = run(0, 65, Misfire::Once, 0);
        assert_eq!(d.fire, vec![at(50), at(60)]);
        assert_eq!(d.missed.len(), 4);

        // With a 3 s deadline every tick up to 44 s is late: only the latest one fires.
        let d = decide(
            &every_10s(),
            at(0),
            at(44),
            chrono::Duration::seconds(3),
            Misfire::Once,
            0,
        );
        assert_eq!(d.fire, vec![at(40)]);
        assert_eq!(d.missed, vec![at(10), at(20), at(30)]);
        assert_eq!(d.cursor, Some(at(40)));
    }

    #[test]
    fn all_catches_up_the_most_recent_within_the_limit() {
        let d = run(0, 65, Misfire::All, 3);
        assert_eq!(d.fire, vec![at(20), at(30), at(40), at(50), at(60)]);
        assert_eq!(d.missed, vec![at(10)]);
    }

    #[test]
    fn a_long_outage_is_handled_in_bounded_passes() {
        let every_second = Schedule::parse("* * * * * *", Syntax::Robfig, chrono_tz::UTC).unwrap();
        let d = decide(
            &every_second,
            at(0),
            at(0) + chrono::Duration::days(2),
            chrono::Duration::seconds(15),
            Misfire::Skip,
            0,
        );
        assert_eq!(d.missed.len() + d.fire.len(), MAX_TICKS_PER_PASS);
        assert_eq!(d.cursor, Some(at(MAX_TICKS_PER_PASS as u32)));
    }
}
