//! `@every <duration>`: robfig/cron v1's constant-delay schedule.
//!
//! The duration uses Go's `time.ParseDuration` syntax: an optional sign, then one or more
//! decimal numbers (fractions allowed) each followed by a unit `h`, `m`, `s`, `ms`, `us`
//! (or `µs`, `μs`) or `ns`, as in `1h30m`, `90s` or `1.5h`. As robfig's `Every` does, a
//! period under one second becomes one second and any other period drops its fraction
//! of a second; the next run is `t` truncated to its whole second, plus the period.
//! Unlike robfig, zero and negative durations are refused instead of becoming 1 s.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

use super::{CronError, DurationProblem};

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Fraction digits beyond these are below a nanosecond even in hours, and are ignored.
const MAX_FRACTION_DIGITS: usize = 18;

/// Parses the duration of an `@every` descriptor into robfig's whole-second period.
pub(super) fn parse(text: &str) -> Result<TimeDelta, CronError> {
    let error = |problem| CronError::Duration {
        text: text.to_string(),
        problem,
    };
    if text.is_empty() {
        return Err(error(DurationProblem::Missing));
    }
    let (negative, nanos) = go_duration(text).map_err(error)?;
    if negative || nanos == 0 {
        return Err(error(DurationProblem::NotPositive));
    }
    let seconds = (nanos / NANOS_PER_SECOND).max(1);
    i64::try_from(seconds)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .ok_or_else(|| error(DurationProblem::TooLarge))
}

/// The next run after `t`: `t` truncated to its second, plus the period (robfig's
/// `ConstantDelaySchedule.Next`). Always after `t`, since the period is at least 1 s.
pub(super) fn next_after(period: TimeDelta, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    t.trunc_subsecs(0).checked_add_signed(period)
}

/// Go's `time.ParseDuration`: returns the sign and the magnitude in nanoseconds, which
/// is at most `i64::MAX` as in Go.
fn go_duration(text: &str) -> Result<(bool, u128), DurationProblem> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    // Go accepts a bare zero, and only that, without a unit.
    if rest == "0" {
        return Ok((negative, 0));
    }
    if rest.is_empty() {
        return Err(DurationProblem::Invalid);
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (whole, after) = split_digits(rest);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => split_digits(after),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(DurationProblem::Invalid);
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(DurationProblem::MissingUnit);
        }
        let scale = unit_nanos(unit).ok_or_else(|| DurationProblem::UnknownUnit(unit.into()))?;
        total = whole
            .parse::<u128>()
            .ok()
            .or(whole.is_empty().then_some(0))
            .and_then(|whole| whole.checked_mul(scale))
            .and_then(|nanos| nanos.checked_add(fraction_nanos(fraction, scale)))
            .and_then(|nanos| total.checked_add(nanos))
            .filter(|total| *total <= i64::MAX as u128)
            .ok_or(DurationProblem::TooLarge)?;
        rest = after;
    }
    Ok((negative, total))
}

/// Splits off the leading ASCII digits.
fn split_digits(text: &str) -> (&str, &str) {
    text.split_at(text.bytes().take_while(u8::is_ascii_digit).count())
}

/// `0.<fraction>` units in nanoseconds, rounded down.
fn fraction_nanos(fraction: &str, scale: u128) -> u128 {
    let kept = &fraction[..fraction.len().min(MAX_FRACTION_DIGITS)];
    // At most 18 digits: below 10^18, so neither the parse nor the product can overflow.
    let numerator = kept.parse::<u128>().unwrap_or(0);
    numerator * scale / 10u128.pow(kept.len() as u32)
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SECOND,
        "m" => 60 * NANOS_PER_SECOND,
        "h" => 3_600 * NANOS_PER_SECOND,
        _ => return None,
    })
}
