//! Cron expressions: parsing them and computing when a job fires next.
//!
//! A job's schedule is an expression, a [`Syntax`] and a time zone. [`Schedule::parse`]
//! validates the three together, and [`Schedule::next_after`] gives the next fire instant
//! (in UTC) strictly after a given instant. This module is pure computation: it knows
//! nothing about jobs, plans or the cluster.
//!
//! # Syntax
//!
//! [`Syntax::Robfig`] (the default) is what the original forest accepted: robfig/cron v1.2.0
//! `cron.Parse`, whose parser is `Second | Minute | Hour | Dom | Month | DowOptional |
//! Descriptor`. Our reading of it, from the v1.2.0 source:
//!
//! * **The seconds field always comes first**, and there are 5 or 6 fields:
//!   `second minute hour day-of-month month [day-of-week]`. With 5 fields the day of week
//!   is `*`. A 5-field expression is therefore *not* a crontab line: `0 0/40 * * ?` means
//!   second 0 of minutes 0 and 40 of every hour, and `*/5 * * * *` means every 5 seconds.
//! * Each field is a comma list of `*`, `?` (the same as `*`, in any field), `n`, `a-b`,
//!   `a-b/step`, `*/step` and `n/step` (meaning `n-max/step`). Empty list items are
//!   skipped (`1,,2` is `1,2`), as robfig does. Month names `jan`-`dec` and weekday names
//!   `sun`-`sat` are accepted in any case. Ranges: second and minute 0-59, hour 0-23,
//!   day of month 1-31, month 1-12, day of week **0-6 with Sunday 0** (7 is rejected).
//!   There is no `L`, `W`, `#` or year field.
//! * Descriptors: `@yearly`/`@annually`, `@monthly`, `@weekly` (Sunday), `@daily`/`@midnight`,
//!   `@hourly`, and `@every <Go duration>`: Go's `time.ParseDuration` syntax (`90s`,
//!   `1h30m`, `1.5h`), the period rounded down to whole seconds and at least 1 s, the next
//!   run at the given time truncated to its second plus the period.
//! * Day matching: when the day-of-month or the day-of-week field has an item starting with
//!   `*` or `?` (so `*/2` counts too: robfig v1 sets its "star" bit there), a day must match
//!   both fields; otherwise it fires on days matching either one.
//!
//! [`Syntax::Crontab`] is the classic 5-field crontab, `minute hour day-of-month month
//! day-of-week`, with the same item grammar, day-of-week 0-7 (0 and 7 are Sunday), and the
//! same descriptors. A job uses it only when it says so: a 5-field expression is never
//! guessed to be a crontab, because it is a valid, different, robfig expression.
//!
//! We are a little stricter than robfig where robfig accepted nonsense: a field with no
//! values (`,`) and a day of month that no listed month has (`0 0 0 30 2 *`) are errors
//! (robfig accepted them and the original then fired the job on every scheduler wake-up);
//! `*-5` is an error (robfig silently read it as `*`); `@every` needs a positive duration
//! (robfig turned `0s` and `-1s` into 1 s). We are more lenient in harmless ways: the
//! expression is trimmed and descriptors are case-insensitive.
//!
//! # Computing fire times, daylight saving
//!
//! Calendar expressions are translated into an explicit `croner` pattern (every field a
//! plain list of numbers, and croner's "day of month AND day of week" switch set by the
//! rule above), and croner walks the wall clock of the job's time zone. Outside daylight
//! saving changes this gives exactly robfig's fire times (except that robfig gave up when
//! nothing matched within 5 years, and croner keeps looking). Through the changes it follows
//! Vixie cron, not the original (see DESIGN §4, "Cron"):
//!
//! * A **fixed-time** job (a single value in each of its second, minute and hour fields)
//!   whose time falls in a spring-forward gap fires once, at the first instant after the
//!   gap (02:30 on a 02:00→03:00 day fires at 03:00). In a fall-back overlap it fires once,
//!   at the first occurrence.
//! * Any other job (a wildcard, step or list in those fields) runs by real time: wall-clock
//!   times inside a gap do not exist and are skipped, and the repeated hour of an overlap
//!   runs twice (`*/15` fires every 15 real minutes straight through it).
//! * Zones whose clocks change at midnight (America/Santiago, Asia/Beirut) still get a
//!   daily `0 0 0 * * *` run every day.
//!
//! The original instead skipped a gap-time job that day, ran an overlap-time job twice and
//! missed days in midnight-changing zones. croner already behaves as described (its
//! "fixed time" test is the same one), so nothing is wrapped around it; the table tests in
//! this module pin that behaviour. A step that yields a single value (`2/24` in the hour
//! field) counts as a single value, since we hand croner the expanded list.
//!
//! `@every` schedules are absolute durations, untouched by time zones and daylight saving.

mod every;
mod fields;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use fields::Fields;

/// Which grammar a job's cron expression is written in; stored per job as `cronSyntax`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Syntax {
    /// The original forest's robfig/cron v1 syntax: a leading seconds field, 5 or 6 fields
    /// (`sec min hour dom month [dow]`), descriptors and `@every`. The default, so that jobs
    /// carried over from the original keep their meaning.
    #[default]
    Robfig,
    /// The classic 5-field crontab, minute first (`min hour dom month dow`), plus the same
    /// descriptors. Only ever used when a job asks for it.
    Crontab,
}

/// Why an expression or a time zone was rejected. The messages name the field and the
/// value at fault, because they go straight back to whoever typed the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("the cron expression is empty")]
    Empty,
    #[error("expected {expected} fields ({layout}), found {found}{hint}")]
    FieldCount {
        found: usize,
        expected: &'static str,
        layout: &'static str,
        /// A pointer to the likely mix-up, or empty.
        hint: &'static str,
    },
    #[error("{field} field \"{text}\": {problem}")]
    Field {
        field: &'static str,
        text: String,
        problem: FieldProblem,
    },
    #[error(
        "unknown descriptor \"{0}\" (expected @yearly, @annually, @monthly, @weekly, \
         @daily, @midnight, @hourly or @every <duration>)"
    )]
    UnknownDescriptor(String),
    #[error("@every duration \"{text}\": {problem}")]
    Duration {
        text: String,
        problem: DurationProblem,
    },
    #[error(
        "the schedule can never fire: day-of-month {day_of_month} does not occur in month \
         {month}"
    )]
    NeverFires { day_of_month: String, month: String },
    #[error(
        "unknown time zone \"{0}\" (expected an IANA name such as \"Asia/Shanghai\", \
         \"Europe/Paris\" or \"UTC\")"
    )]
    UnknownTimeZone(String),
    /// croner refused the pattern we built; this is a bug here, reported instead of a panic.
    #[error("internal error: the normalized pattern \"{pattern}\" was rejected: {reason}")]
    Internal { pattern: String, reason: String },
}

/// What is wrong inside one field of a calendar expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    #[error("the field has no values")]
    NoValues,
    #[error("\"{text}\" is not {expected}")]
    BadValue {
        text: String,
        expected: &'static str,
    },
    #[error("{value} is out of range {min}-{max}")]
    OutOfRange { value: String, min: u32, max: u32 },
    #[error(
        "7 is out of range 0-6: in the robfig syntax Sunday is 0 (or SUN); 7 means Sunday \
         only with cronSyntax \"crontab\""
    )]
    SundayIsZero,
    #[error("the range {start}-{end} starts after it ends")]
    ReversedRange { start: u64, end: u64 },
    #[error("step \"{0}\" is not a whole number")]
    BadStep(String),
    #[error("a step must be at least 1")]
    ZeroStep,
    #[error("\"{0}\" has more than one '-'")]
    TooManyHyphens(String),
    #[error("\"{0}\" has more than one '/'")]
    TooManySlashes(String),
    #[error("\"{0}\": '*' and '?' cannot start a range (use *, */step or a-b)")]
    StarRange(String),
}

/// What is wrong with the duration of an `@every` descriptor (Go `time.ParseDuration` syntax).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationProblem {
    #[error("a duration is missing (for example @every 1h30m)")]
    Missing,
    #[error("not a Go duration (for example 90s, 1h30m or 1.5h)")]
    Invalid,
    #[error("a number has no unit (use h, m, s, ms, us or ns)")]
    MissingUnit,
    #[error("unknown unit \"{0}\" (use h, m, s, ms, us or ns)")]
    UnknownUnit(String),
    #[error("the duration is too long (at most about 292 years)")]
    TooLarge,
    #[error("the duration must be positive")]
    NotPositive,
}

/// A validated schedule: an expression bound to its time zone, ready to give fire times.
#[derive(Debug, Clone)]
pub struct Schedule {
    kind: Kind,
    tz: Tz,
}

#[derive(Debug, Clone)]
enum Kind {
    /// A calendar expression or a descriptor, already translated for croner.
    Calendar(Box<croner::Cron>),
    /// `@every`: a whole number of seconds, at least one.
    Every(TimeDelta),
}

impl Schedule {
    /// Parses `expr` in `syntax`, firing on the wall clock of `tz`.
    ///
    /// Never panics, whatever the input; every rejection says what is wrong.
    pub fn parse(expr: &str, syntax: Syntax, tz: Tz) -> Result<Schedule, CronError> {
        let expr = expr.trim();
        if expr.is_empty() {
            return Err(CronError::Empty);
        }
        let kind = if expr.starts_with('@') {
            parse_descriptor(expr)?
        } else {
            calendar(&Fields::parse(expr, syntax)?)?
        };
        Ok(Schedule { kind, tz })
    }

    /// The first fire instant strictly after `t`, or `None` if there is none: a calendar
    /// schedule with no fire time before the year 5000 (croner's search limit), or asked
    /// about an instant outside the years 2-4999, or an `@every` run past chrono's range.
    ///
    /// Like robfig's `Next`, the search starts at the next whole second after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            // chrono panics on a local time past its range, which the extreme instants
            // reach once shifted into a zone; croner searches years 1-5000 only anyway.
            Kind::Calendar(_) if !(2..=4999).contains(&t.year()) => None,
            Kind::Calendar(cron) => cron
                .find_next_occurrence(&t.with_timezone(&self.tz), false)
                .ok()
                .map(|next| next.with_timezone(&Utc)),
            Kind::Every(period) => every::next_after(*period, t),
        }
    }

    /// Up to `n` consecutive fire instants after `t`, for previews in the UI and the API.
    pub fn upcoming(&self, t: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut times = Vec::with_capacity(n.min(1024));
        let mut cursor = t;
        while times.len() < n {
            match self.next_after(cursor) {
                Some(next) => {
                    times.push(next);
                    cursor = next;
                }
                None => break,
            }
        }
        times
    }
}

/// Parses an expression starting with `@`. Descriptors mean the same in both syntaxes.
fn parse_descriptor(expr: &str) -> Result<Kind, CronError> {
    // `get` rather than slicing: the input may hold multi-byte characters.
    if let Some(rest) = expr
        .get(.."@every".len())
        .filter(|head| head.eq_ignore_ascii_case("@every"))
        .and_then(|_| expr.get("@every".len()..))
    {
        if rest.is_empty() || rest.starts_with(char::is_whitespace) {
            return every::parse(rest.trim()).map(Kind::Every);
        }
    }
    // robfig's descriptors, written as the robfig 6-field expressions they stand for.
    let fields = match expr.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 0 1 1 *",
        "@monthly" => "0 0 0 1 * *",
        "@weekly" => "0 0 0 * * 0",
        "@daily" | "@midnight" => "0 0 0 * * *",
        "@hourly" => "0 0 * * * *",
        _ => return Err(CronError::UnknownDescriptor(expr.to_string())),
    };
    calendar(&Fields::parse(fields, Syntax::Robfig)?)
}

/// Builds croner's schedule from parsed fields, after refusing ones that can never fire.
fn calendar(fields: &Fields) -> Result<Kind, CronError> {
    fields.check_can_fire()?;
    let pattern = fields.croner_pattern();
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .year(croner::parser::Year::Disallowed)
        .dom_and_dow(fields.days_must_match_both())
        .build()
        .parse(&pattern)
        .map(|cron| Kind::Calendar(Box::new(cron)))
        .map_err(|err| CronError::Internal {
            pattern,
            reason: err.to_string(),
        })
}

/// Parses an IANA time zone name such as `Asia/Shanghai` or `UTC` (exact spelling).
pub fn parse_timezone(name: &str) -> Result<Tz, CronError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| CronError::UnknownTimeZone(name.to_string()))
}

/// The server's own time zone: the default for jobs that name none, as the original ran
/// every job on the server's local time.
///
/// Like Go's `time.Local`, the `TZ` environment variable wins when set (empty means UTC);
/// otherwise the system setting is used, and UTC when that cannot be read.
pub fn local_timezone() -> Tz {
    zone_from_tz_variable(std::env::var("TZ").ok().as_deref())
        .or_else(|| {
            iana_time_zone::get_timezone()
                .ok()
                .and_then(|name| name.parse().ok())
        })
        .unwrap_or(Tz::UTC)
}

/// Reads a `TZ` value the way Go does: a leading `:` is dropped and an empty value is UTC.
/// POSIX rule strings (`CST-8`) and unknown names yield `None`.
fn zone_from_tz_variable(value: Option<&str>) -> Option<Tz> {
    let name = value?;
    let name = name.strip_prefix(':').unwrap_or(name);
    if name.is_empty() {
        Some(Tz::UTC)
    } else {
        name.parse().ok()
    }
}
