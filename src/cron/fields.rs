//! The six calendar fields of an expression, parsed with robfig/cron v1's item grammar.
//!
//! Both syntaxes share the grammar; they differ in which fields are written (the
//! crontab has no seconds field) and in whether 7 is a weekday.

use super::{CronError, FieldProblem, Syntax};

/// One field's name (for messages), bounds and accepted names.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for `min`, `min + 1`, ...; empty when the field takes numbers only.
    names: &'static [&'static str],
    /// What a value must be, for messages.
    expected: &'static str,
}

const MONTH_NAMES: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAY_NAMES: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const SECOND: Field = numeric("second", 0, 59);
const MINUTE: Field = numeric("minute", 0, 59);
const HOUR: Field = numeric("hour", 0, 23);
const DAY_OF_MONTH: Field = numeric("day-of-month", 1, 31);
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: MONTH_NAMES,
    expected: "a number or a month name (jan-dec)",
};
/// robfig: Sunday is 0 only.
const DAY_OF_WEEK: Field = weekday(6);
/// crontab: Sunday is 0 or 7.
const DAY_OF_WEEK_CRONTAB: Field = weekday(7);

const fn numeric(name: &'static str, min: u32, max: u32) -> Field {
    Field {
        name,
        min,
        max,
        names: &[],
        expected: "a number",
    }
}

const fn weekday(max: u32) -> Field {
    Field {
        name: "day-of-week",
        min: 0,
        max,
        names: WEEKDAY_NAMES,
        expected: "a number or a weekday name (sun-sat)",
    }
}

/// The longest each month can be (February in a leap year).
const MONTH_MAX_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// Bit `v` set for every value `v` a field matches.
#[derive(Debug)]
pub(super) struct Fields {
    second: u64,
    minute: u64,
    hour: u64,
    day_of_month: u64,
    month: u64,
    day_of_week: u64,
    /// The day-of-month field has an item starting with `*` or `?`.
    day_of_month_star: bool,
    /// The day-of-week field has an item starting with `*` or `?`.
    day_of_week_star: bool,
}

impl Fields {
    /// Splits a (trimmed, non-descriptor) expression into its fields and parses each.
    pub(super) fn parse(expr: &str, syntax: Syntax) -> Result<Fields, CronError> {
        let parts: Vec<&str> = expr.split_whitespace().collect();
        let (texts, day_of_week) = match (syntax, parts.as_slice()) {
            (Syntax::Robfig, &[s, m, h, dom, mon]) => ([s, m, h, dom, mon, "*"], &DAY_OF_WEEK),
            (Syntax::Robfig, &[s, m, h, dom, mon, dow]) => ([s, m, h, dom, mon, dow], &DAY_OF_WEEK),
            (Syntax::Crontab, &[m, h, dom, mon, dow]) => {
                (["0", m, h, dom, mon, dow], &DAY_OF_WEEK_CRONTAB)
            }
            (Syntax::Robfig, _) => {
                return Err(CronError::FieldCount {
                    found: parts.len(),
                    expected: "5 or 6",
                    layout: "second minute hour day-of-month month [day-of-week]",
                    hint: if parts.len() == 7 {
                        "; a year field is not supported"
                    } else {
                        ""
                    },
                })
            }
            (Syntax::Crontab, _) => {
                return Err(CronError::FieldCount {
                    found: parts.len(),
                    expected: "5",
                    layout: "minute hour day-of-month month day-of-week",
                    hint: if parts.len() == 6 {
                        "; a leading seconds field needs cronSyntax \"robfig\""
                    } else {
                        ""
                    },
                })
            }
        };
        let [s, m, h, dom, mon, dow] = texts;
        let (second, _) = parse_field(s, &SECOND)?;
        let (minute, _) = parse_field(m, &MINUTE)?;
        let (hour, _) = parse_field(h, &HOUR)?;
        let (day_of_month, day_of_month_star) = parse_field(dom, &DAY_OF_MONTH)?;
        let (month, _) = parse_field(mon, &MONTH)?;
        let (mut day_of_week, day_of_week_star) = parse_field(dow, day_of_week)?;
        // Crontab's Sunday 7 is Sunday 0.
        if day_of_week & (1 << 7) != 0 {
            day_of_week = (day_of_week & !(1 << 7)) | 1;
        }
        Ok(Fields {
            second,
            minute,
            hour,
            day_of_month,
            month,
            day_of_week,
            day_of_month_star,
            day_of_week_star,
        })
    }

    /// robfig's day rule: with a `*` or `?` item in either day field, a day must match both
    /// fields; with both fields restricted, matching either is enough.
    pub(super) fn days_must_match_both(&self) -> bool {
        self.day_of_month_star || self.day_of_week_star
    }

    /// Refuses a schedule whose days never exist, such as February 30. Only possible when
    /// both day fields must match: a restricted day of week alone matches every month.
    pub(super) fn check_can_fire(&self) -> Result<(), CronError> {
        let possible = (1..=12u32).any(|month| {
            self.month & (1 << month) != 0
                && (1..=MONTH_MAX_DAYS[month as usize - 1])
                    .any(|day| self.day_of_month & (1 << day) != 0)
        });
        if possible || !self.days_must_match_both() {
            Ok(())
        } else {
            Err(CronError::NeverFires {
                day_of_month: list(self.day_of_month),
                month: list(self.month),
            })
        }
    }

    /// The same schedule for croner (seconds first, no year), every field an explicit list.
    ///
    /// Lists, never `*`, so that croner's own day rule (which looks for a literal `*`) stays
    /// out of the way and [`Fields::days_must_match_both`] alone decides.
    pub(super) fn croner_pattern(&self) -> String {
        [
            self.second,
            self.minute,
            self.hour,
            self.day_of_month,
            self.month,
            self.day_of_week,
        ]
        .map(list)
        .join(" ")
    }
}

/// `bits` as a comma list of the values set, e.g. `0,15,30,45`.
fn list(bits: u64) -> String {
    (0..64u32)
        .filter(|v| bits & (1 << v) != 0)
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses a comma list; returns its values and whether an item started with `*` or `?`.
fn parse_field(text: &str, field: &Field) -> Result<(u64, bool), CronError> {
    let error = |problem| CronError::Field {
        field: field.name,
        text: text.to_string(),
        problem,
    };
    let mut bits = 0;
    let mut star = false;
    // robfig splits with `strings.FieldsFunc`, which drops empty items.
    for item in text.split(',').filter(|item| !item.is_empty()) {
        let (item_bits, item_star) = parse_item(item, field).map_err(error)?;
        bits |= item_bits;
        star |= item_star;
    }
    if bits == 0 {
        return Err(error(FieldProblem::NoValues));
    }
    Ok((bits, star))
}

/// Parses one item: `*`, `?`, `n`, `a-b`, each optionally followed by `/step`.
fn parse_item(item: &str, field: &Field) -> Result<(u64, bool), FieldProblem> {
    let (range, step) = match item.split_once('/') {
        Some((_, step)) if step.contains('/') => {
            return Err(FieldProblem::TooManySlashes(item.to_string()))
        }
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    let (start, end, star) = if range == "*" || range == "?" {
        (u64::from(field.min), u64::from(field.max), true)
    } else if range.starts_with(['*', '?']) {
        return Err(FieldProblem::StarRange(item.to_string()));
    } else {
        match range.split_once('-') {
            Some((_, end)) if end.contains('-') => {
                return Err(FieldProblem::TooManyHyphens(item.to_string()))
            }
            Some((start, end)) if start.is_empty() || end.is_empty() => {
                // `-1`, `5-`: a missing bound, or a negative number.
                return Err(FieldProblem::BadValue {
                    text: item.to_string(),
                    expected: field.expected,
                });
            }
            Some((start, end)) => (value(start, field)?, value(end, field)?, false),
            None => {
                let start = value(range, field)?;
                // robfig: `n/step` means `n-max/step`.
                let end = if step.is_some() {
                    u64::from(field.max)
                } else {
                    start
                };
                (start, end, false)
            }
        }
    };
    let step = match step {
        None => 1,
        // A step too long for a u64 selects only the start, like any step past the end.
        Some(text) => digits(text)
            .map(|digits| digits.parse::<u64>().unwrap_or(u64::MAX))
            .ok_or_else(|| FieldProblem::BadStep(text.to_string()))?,
    };
    if step == 0 {
        return Err(FieldProblem::ZeroStep);
    }
    for bound in [start, end] {
        if bound < u64::from(field.min) || bound > u64::from(field.max) {
            return Err(out_of_range(bound.to_string(), field));
        }
    }
    if start > end {
        return Err(FieldProblem::ReversedRange { start, end });
    }
    // `start..=end` lies within 0..=59, so every shift below is in range.
    let step = usize::try_from(step).unwrap_or(usize::MAX);
    Ok((
        (start..=end)
            .step_by(step)
            .fold(0, |bits, v| bits | (1 << v)),
        star,
    ))
}

/// A number or, in the month and weekday fields, a name (any case).
fn value(text: &str, field: &Field) -> Result<u64, FieldProblem> {
    if let Some(index) = field
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
    {
        return Ok(u64::from(field.min) + index as u64);
    }
    match digits(text) {
        // Too many digits for a u64 is still a number, just out of range.
        Some(digits) => digits
            .parse()
            .map_err(|_| out_of_range(text.to_string(), field)),
        None => Err(FieldProblem::BadValue {
            text: text.to_string(),
            expected: field.expected,
        }),
    }
}

fn out_of_range(value: String, field: &Field) -> FieldProblem {
    if value == "7" && field.name == "day-of-week" && field.max == 6 {
        FieldProblem::SundayIsZero
    } else {
        FieldProblem::OutOfRange {
            value,
            min: field.min,
            max: field.max,
        }
    }
}

/// The digits of a decimal number as Go's `strconv.Atoi` reads it (an optional `+`, then
/// at least one ASCII digit), or `None` when `text` is not one.
fn digits(text: &str) -> Option<&str> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}
