//! Table tests pinning robfig/cron v1 semantics, the crontab syntax, the daylight-saving
//! rules of DESIGN §4 and the error messages. Every expected time is an exact UTC instant.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{
    local_timezone, parse_timezone, zone_from_tz_variable, CronError, FieldProblem, Schedule,
    Syntax,
};

const R: Syntax = Syntax::Robfig;
const C: Syntax = Syntax::Crontab;
const UTC: Tz = Tz::UTC;
const NEW_YORK: Tz = chrono_tz::America::New_York;
const SANTIAGO: Tz = chrono_tz::America::Santiago;
const BEIRUT: Tz = chrono_tz::Asia::Beirut;
const SHANGHAI: Tz = chrono_tz::Asia::Shanghai;

/// 2026-01-01 is a Thursday.
const NEW_YEAR: &str = "2026-01-01T00:00:00Z";

fn at(text: &str) -> DateTime<Utc> {
    text.parse()
        .unwrap_or_else(|err| panic!("bad test time {text}: {err}"))
}

/// (expression, syntax, zone, from, the next fire times in order)
type Row = (
    &'static str,
    Syntax,
    Tz,
    &'static str,
    &'static [&'static str],
);

#[rustfmt::skip]
const ROBFIG_ROWS: &[Row] = &[
    // The README's Quartz-like samples: a leading seconds field, `?` for "any".
    ("0/30 * * * * ?", R, UTC, NEW_YEAR, &["2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z", "2026-01-01T00:01:30Z"]),
    ("0 0 * * * ?", R, UTC, NEW_YEAR, &["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"]),
    // Five fields are `sec min hour dom month`, not a crontab line.
    ("0 0/40 * * ?", R, UTC, NEW_YEAR, &["2026-01-01T00:40:00Z", "2026-01-01T01:00:00Z", "2026-01-01T01:40:00Z"]),
    ("*/5 * * * *", R, UTC, NEW_YEAR, &["2026-01-01T00:00:05Z", "2026-01-01T00:00:10Z", "2026-01-01T00:00:15Z"]),
    // Weekday names and ranges; Thursday Jan 1, Friday Jan 2, then Monday Jan 5.
    ("30 15 10 * * MON-FRI", R, UTC, NEW_YEAR, &["2026-01-01T10:15:30Z", "2026-01-02T10:15:30Z", "2026-01-05T10:15:30Z"]),
    // Month names in any case.
    ("0 0 12 1 JAN,jul ?", R, UTC, NEW_YEAR, &["2026-01-01T12:00:00Z", "2026-07-01T12:00:00Z", "2027-01-01T12:00:00Z"]),
    // 0 is Sunday.
    ("0 0 8 * * 0", R, UTC, NEW_YEAR, &["2026-01-04T08:00:00Z", "2026-01-11T08:00:00Z", "2026-01-18T08:00:00Z"]),
    // Both day fields restricted: the 13th OR a Friday.
    ("0 0 0 13 * 5", R, UTC, NEW_YEAR, &["2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z"]),
    ("0 0 9 1 * SUN", R, UTC, NEW_YEAR, &["2026-01-01T09:00:00Z", "2026-01-04T09:00:00Z", "2026-01-11T09:00:00Z"]),
    // `?` in the day of week: the day of month alone (AND with "any").
    ("0 0 0 13 * ?", R, UTC, NEW_YEAR, &["2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z", "2026-03-13T00:00:00Z"]),
    // `*` in the day of month: Mondays of February and March only.
    ("0 0 0 * Feb,MAR mon", R, UTC, NEW_YEAR, &["2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z", "2026-02-16T00:00:00Z"]),
    // robfig v1 quirk: `*/10` keeps the "star" flag, so days 1, 11, 21, 31 AND Monday.
    ("0 0 0 */10 * MON", R, UTC, NEW_YEAR, &["2026-05-11T00:00:00Z", "2026-06-01T00:00:00Z", "2026-08-31T00:00:00Z"]),
    // Ranges with steps, and `n/step` meaning `n-max/step`.
    ("0 5-20/5 9-17/4 * * *", R, UTC, NEW_YEAR, &["2026-01-01T09:05:00Z", "2026-01-01T09:10:00Z", "2026-01-01T09:15:00Z", "2026-01-01T09:20:00Z", "2026-01-01T13:05:00Z"]),
    ("0 50/5 * * * *", R, UTC, NEW_YEAR, &["2026-01-01T00:50:00Z", "2026-01-01T00:55:00Z", "2026-01-01T01:50:00Z"]),
    ("0 0 2/24 * * *", R, UTC, NEW_YEAR, &["2026-01-01T02:00:00Z", "2026-01-02T02:00:00Z"]),
    // `?` is accepted in any field.
    ("0 ? 3 * * *", R, UTC, NEW_YEAR, &["2026-01-01T03:00:00Z", "2026-01-01T03:01:00Z", "2026-01-01T03:02:00Z"]),
    // Empty list items are skipped and `+5` is 5, as Go's parser allows.
    ("0 0 0 1,,15, * *", R, UTC, NEW_YEAR, &["2026-01-15T00:00:00Z", "2026-02-01T00:00:00Z", "2026-02-15T00:00:00Z"]),
    ("+5 * * * * *", R, UTC, NEW_YEAR, &["2026-01-01T00:00:05Z", "2026-01-01T00:01:05Z"]),
    // Month ends and leap days.
    ("0 0 0 31 * *", R, UTC, NEW_YEAR, &["2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"]),
    ("0 0 0 29 2 ?", R, UTC, NEW_YEAR, &["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
    // Strictly after `from`, starting at the next whole second.
    ("0 0 * * * *", R, UTC, "2026-01-01T01:00:00Z", &["2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"]),
    ("0 0 * * * *", R, UTC, "2026-01-01T00:59:59.999Z", &["2026-01-01T01:00:00Z"]),
    ("* * * * * *", R, UTC, "2026-01-01T00:00:00.500Z", &["2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"]),
    // The job's zone: 09:00 in Shanghai is 01:00 UTC.
    ("0 0 9 * * *", R, SHANGHAI, NEW_YEAR, &["2026-01-01T01:00:00Z", "2026-01-02T01:00:00Z"]),
    // Descriptors.
    ("@hourly", R, UTC, NEW_YEAR, &["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"]),
    ("@daily", R, UTC, NEW_YEAR, &["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]),
    ("@midnight", R, UTC, NEW_YEAR, &["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]),
    ("@weekly", R, UTC, NEW_YEAR, &["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]),
    ("@monthly", R, UTC, NEW_YEAR, &["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]),
    ("@yearly", R, UTC, NEW_YEAR, &["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"]),
    ("@annually", R, UTC, NEW_YEAR, &["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"]),
    ("@Daily", R, SHANGHAI, NEW_YEAR, &["2026-01-01T16:00:00Z", "2026-01-02T16:00:00Z"]),
    // @every: from `from` truncated to its second, whole seconds, at least one second.
    ("@every 1h30m", R, UTC, "2026-01-01T00:00:00.700Z", &["2026-01-01T01:30:00Z", "2026-01-01T03:00:00Z", "2026-01-01T04:30:00Z"]),
    ("@every 500ms", R, UTC, "2026-01-01T00:00:00.250Z", &["2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"]),
    ("@every 1.5s", R, UTC, NEW_YEAR, &["2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"]),
    ("@every 2m30.9s", R, UTC, NEW_YEAR, &["2026-01-01T00:02:30Z", "2026-01-01T00:05:00Z"]),
    ("@every .5h", R, UTC, NEW_YEAR, &["2026-01-01T00:30:00Z"]),
    ("@every 36h", R, UTC, NEW_YEAR, &["2026-01-02T12:00:00Z", "2026-01-04T00:00:00Z"]),
];

#[rustfmt::skip]
const CRONTAB_ROWS: &[Row] = &[
    // The same text as a robfig row above, read minute first.
    ("*/5 * * * *", C, UTC, NEW_YEAR, &["2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z", "2026-01-01T00:15:00Z"]),
    ("30 2 * * 1-5", C, UTC, NEW_YEAR, &["2026-01-01T02:30:00Z", "2026-01-02T02:30:00Z", "2026-01-05T02:30:00Z"]),
    // 7 is Sunday too.
    ("0 0 * * 7", C, UTC, NEW_YEAR, &["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]),
    ("0 0 * * 5-7", C, UTC, NEW_YEAR, &["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"]),
    ("0 12 1 jan *", C, UTC, NEW_YEAR, &["2026-01-01T12:00:00Z", "2027-01-01T12:00:00Z"]),
    // The 1st OR a Monday; Feb 1 is a Sunday.
    ("0 0 1 * 1", C, UTC, NEW_YEAR, &["2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z", "2026-01-26T00:00:00Z", "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z"]),
    ("@hourly", C, UTC, NEW_YEAR, &["2026-01-01T01:00:00Z"]),
    ("@every 90s", C, UTC, NEW_YEAR, &["2026-01-01T00:01:30Z", "2026-01-01T00:03:00Z"]),
];

/// DESIGN §4: Vixie-cron daylight saving, where the original skipped, doubled or missed runs.
/// New York 2026: 03-08 02:00 EST → 03:00 EDT (07:00Z); 11-01 02:00 EDT → 01:00 EST (06:00Z).
/// Santiago 2026: 04-05 00:00 → 04-04 23:00 (03:00Z); 09-06 00:00 → 01:00 (04:00Z).
/// Beirut 2026: 03-29 00:00 → 01:00 (22:00Z).
#[rustfmt::skip]
const DST_ROWS: &[Row] = &[
    // A fixed time in the gap fires once, at the first instant after it (03:00 EDT).
    ("0 30 2 * * *", R, NEW_YORK, "2026-03-07T12:00:00Z", &["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"]),
    ("30 2 * * *", C, NEW_YORK, "2026-03-07T12:00:00Z", &["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]),
    // ... and the run at 03:00 is not followed by another one that day.
    ("0 30 2 * * *", R, NEW_YORK, "2026-03-08T07:00:00Z", &["2026-03-09T06:30:00Z"]),
    // A fixed time in the overlap fires once, on its first occurrence (01:30 EDT).
    ("0 30 1 * * *", R, NEW_YORK, "2026-10-31T12:00:00Z", &["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]),
    // From inside the second 01:xx hour, the 01:30 EST repeat is not a run.
    ("0 30 1 * * *", R, NEW_YORK, "2026-11-01T06:10:00Z", &["2026-11-02T06:30:00Z"]),
    // Steps and wildcards run by real time: through the repeated hour...
    ("0 */15 * * * *", R, NEW_YORK, "2026-11-01T05:40:00Z", &["2026-11-01T05:45:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:15:00Z", "2026-11-01T06:30:00Z", "2026-11-01T06:45:00Z", "2026-11-01T07:00:00Z"]),
    ("@hourly", R, NEW_YORK, "2026-11-01T04:30:00Z", &["2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"]),
    // (a list is not a single value, so 01:00 and 01:30 run in both halves)
    ("0 0,30 1 * * *", R, NEW_YORK, "2026-11-01T04:10:00Z", &["2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z", "2026-11-02T06:00:00Z"]),
    // ... and straight over the gap (01:45 EST, then 03:00 EDT).
    ("0 */15 * * * *", R, NEW_YORK, "2026-03-08T06:40:00Z", &["2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z"]),
    // @every is real time, whatever the zone.
    ("@every 1h", R, NEW_YORK, "2026-03-08T06:30:00Z", &["2026-03-08T07:30:00Z", "2026-03-08T08:30:00Z"]),
    // Midnight does not exist on 09-06 in Santiago: the daily job runs at 01:00 -03.
    ("0 0 0 * * *", R, SANTIAGO, "2026-09-04T12:00:00Z", &["2026-09-05T04:00:00Z", "2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z"]),
    // The clock goes back from midnight on 04-05: still one run a day.
    ("0 0 0 * * *", R, SANTIAGO, "2026-04-03T12:00:00Z", &["2026-04-04T03:00:00Z", "2026-04-05T04:00:00Z", "2026-04-06T04:00:00Z"]),
    ("0 30 23 * * *", R, SANTIAGO, "2026-04-03T12:00:00Z", &["2026-04-04T02:30:00Z", "2026-04-05T02:30:00Z", "2026-04-06T03:30:00Z"]),
    ("0 0 * * * *", R, SANTIAGO, "2026-09-06T02:30:00Z", &["2026-09-06T03:00:00Z", "2026-09-06T04:00:00Z", "2026-09-06T05:00:00Z"]),
    ("@midnight", R, BEIRUT, "2026-03-27T12:00:00Z", &["2026-03-27T22:00:00Z", "2026-03-28T22:00:00Z", "2026-03-29T21:00:00Z"]),
];

fn check_rows(rows: &[Row]) {
    let mut failures = Vec::new();
    for &(expr, syntax, tz, from, expected) in rows {
        let schedule = match Schedule::parse(expr, syntax, tz) {
            Ok(schedule) => schedule,
            Err(err) => {
                failures.push(format!("{expr:?} ({syntax:?}, {tz}): parse error: {err}"));
                continue;
            }
        };
        let got = schedule.upcoming(at(from), expected.len());
        let expected: Vec<DateTime<Utc>> = expected.iter().map(|t| at(t)).collect();
        if got != expected {
            failures.push(format!(
                "{expr:?} ({syntax:?}, {tz}) from {from}:\n    expected {expected:?}\n    got      {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn robfig_semantics() {
    check_rows(ROBFIG_ROWS);
}

#[test]
fn crontab_semantics() {
    check_rows(CRONTAB_ROWS);
}

#[test]
fn daylight_saving() {
    check_rows(DST_ROWS);
}

fn error_of(expr: &str, syntax: Syntax) -> String {
    match Schedule::parse(expr, syntax, UTC) {
        Ok(_) => panic!("{expr:?} ({syntax:?}) should be rejected"),
        Err(err) => err.to_string(),
    }
}

/// (expression, syntax, the exact message)
#[rustfmt::skip]
const ERROR_CASES: &[(&str, Syntax, &str)] = &[
    ("", R, "the cron expression is empty"),
    ("  \t ", C, "the cron expression is empty"),
    ("* * * *", R, "expected 5 or 6 fields (second minute hour day-of-month month [day-of-week]), found 4"),
    ("0 0 0 * * * 2026", R, "expected 5 or 6 fields (second minute hour day-of-month month [day-of-week]), found 7; a year field is not supported"),
    ("0 0 * * * *", C, "expected 5 fields (minute hour day-of-month month day-of-week), found 6; a leading seconds field needs cronSyntax \"robfig\""),
    ("60 * * * * *", R, "second field \"60\": 60 is out of range 0-59"),
    ("0 0 0 0 * *", R, "day-of-month field \"0\": 0 is out of range 1-31"),
    ("0 0 0 * 1-13 *", R, "month field \"1-13\": 13 is out of range 1-12"),
    ("0 24 * * *", C, "hour field \"24\": 24 is out of range 0-23"),
    ("0 0 0 99999999999999999999 * *", R, "day-of-month field \"99999999999999999999\": 99999999999999999999 is out of range 1-31"),
    ("0 0 0 * * 7", R, "day-of-week field \"7\": 7 is out of range 0-6: in the robfig syntax Sunday is 0 (or SUN); 7 means Sunday only with cronSyntax \"crontab\""),
    ("0 0 * * 8", C, "day-of-week field \"8\": 8 is out of range 0-7"),
    ("0 0 0 * FOO *", R, "month field \"FOO\": \"FOO\" is not a number or a month name (jan-dec)"),
    ("0 0 0 * * MON-FUN", R, "day-of-week field \"MON-FUN\": \"FUN\" is not a number or a weekday name (sun-sat)"),
    ("0 mon * * * *", R, "minute field \"mon\": \"mon\" is not a number"),
    ("0 0 0 * * 5-1", R, "day-of-week field \"5-1\": the range 5-1 starts after it ends"),
    ("0 */0 * * * *", R, "minute field \"*/0\": a step must be at least 1"),
    ("0 */x * * * *", R, "minute field \"*/x\": step \"x\" is not a whole number"),
    ("0 1-2-3 * * *", R, "minute field \"1-2-3\": \"1-2-3\" has more than one '-'"),
    ("0 1/2/3 * * *", R, "minute field \"1/2/3\": \"1/2/3\" has more than one '/'"),
    ("0 *-5 * * *", R, "minute field \"*-5\": \"*-5\": '*' and '?' cannot start a range (use *, */step or a-b)"),
    ("0 ,, * * *", R, "minute field \",,\": the field has no values"),
    ("0 0 0 -1 * *", R, "day-of-month field \"-1\": \"-1\" is not a number"),
    ("0 0 0 30 2 *", R, "the schedule can never fire: day-of-month 30 does not occur in month 2"),
    ("0 0 31 4,6 ?", C, "the schedule can never fire: day-of-month 31 does not occur in month 4,6"),
    ("@fortnightly", R, "unknown descriptor \"@fortnightly\" (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>)"),
    ("@everyday", R, "unknown descriptor \"@everyday\" (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>)"),
    ("@every", R, "@every duration \"\": a duration is missing (for example @every 1h30m)"),
    ("@every 1d", R, "@every duration \"1d\": unknown unit \"d\" (use h, m, s, ms, us or ns)"),
    ("@every 10", R, "@every duration \"10\": a number has no unit (use h, m, s, ms, us or ns)"),
    ("@every 1h30", C, "@every duration \"1h30\": a number has no unit (use h, m, s, ms, us or ns)"),
    ("@every -1s", R, "@every duration \"-1s\": the duration must be positive"),
    ("@every 0", R, "@every duration \"0\": the duration must be positive"),
    ("@every 0.0s", R, "@every duration \"0.0s\": the duration must be positive"),
    ("@every .", R, "@every duration \".\": not a Go duration (for example 90s, 1h30m or 1.5h)"),
    ("@every h", R, "@every duration \"h\": not a Go duration (for example 90s, 1h30m or 1.5h)"),
    ("@every 3000000h", R, "@every duration \"3000000h\": the duration is too long (at most about 292 years)"),
];

#[test]
fn error_messages() {
    let mut failures = Vec::new();
    for &(expr, syntax, message) in ERROR_CASES {
        let got = error_of(expr, syntax);
        if got != message {
            failures.push(format!(
                "{expr:?} ({syntax:?}):\n    expected {message}\n    got      {got}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn errors_are_structured() {
    assert_eq!(
        Schedule::parse("0 0 0 * * 7", R, UTC).err(),
        Some(CronError::Field {
            field: "day-of-week",
            text: "7".into(),
            problem: FieldProblem::SundayIsZero,
        })
    );
}

#[test]
fn time_zones() {
    assert_eq!(parse_timezone("Asia/Shanghai"), Ok(SHANGHAI));
    assert_eq!(parse_timezone(" UTC "), Ok(UTC));
    assert_eq!(
        parse_timezone("Mars/Olympus_Mons").map_err(|err| err.to_string()),
        Err(
            "unknown time zone \"Mars/Olympus_Mons\" (expected an IANA name such as \
             \"Asia/Shanghai\", \"Europe/Paris\" or \"UTC\")"
                .to_string()
        )
    );
    assert!(parse_timezone("").is_err());

    // Go's reading of TZ: unset defers to the system, empty is UTC, ':' is dropped.
    assert_eq!(zone_from_tz_variable(None), None);
    assert_eq!(zone_from_tz_variable(Some("")), Some(UTC));
    assert_eq!(
        zone_from_tz_variable(Some(":Asia/Shanghai")),
        Some(SHANGHAI)
    );
    assert_eq!(zone_from_tz_variable(Some("CST-8")), None);
    // Whatever the machine, some zone comes back.
    let _ = local_timezone();
}

#[test]
fn syntax_serde() {
    assert_eq!(Syntax::default(), Syntax::Robfig);
    assert_eq!(
        serde_json::to_string(&Syntax::Robfig).ok().as_deref(),
        Some("\"robfig\"")
    );
    assert_eq!(
        serde_json::to_string(&Syntax::Crontab).ok().as_deref(),
        Some("\"crontab\"")
    );
    assert_eq!(
        serde_json::from_str::<Syntax>("\"crontab\"").ok(),
        Some(Syntax::Crontab)
    );
    assert!(serde_json::from_str::<Syntax>("\"quartz\"").is_err());
}

/// Junk of every shape must give an error or a working schedule, never a panic, and a
/// working schedule's fire times must move strictly forward.
#[test]
fn junk_never_panics() {
    const PIECES: &[&str] = &[
        "0",
        "1",
        "7",
        "9",
        "12",
        "31",
        "59",
        "60",
        "99999999999999999999999",
        "*",
        "?",
        "/",
        "-",
        ",",
        " ",
        "\t",
        "@",
        "@every ",
        "@daily",
        "h",
        "m",
        "s",
        "ms",
        "µs",
        ".",
        "+",
        "mon",
        "SUN",
        "jan",
        "Dec",
        "L",
        "W",
        "#",
        "x",
        "日",
        "é",
        "\u{0}",
        "\u{a0}",
    ];
    let instants = [
        at("2026-03-08T06:59:59.500Z"),
        at("2026-11-01T05:59:59Z"),
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
    ];
    let zones = [UTC, NEW_YORK, SANTIAGO, chrono_tz::Pacific::Kiritimati];
    // xorshift64: deterministic, so a failure can be replayed.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let mut accepted = 0;
    for round in 0..20_000 {
        let expr: String = (0..next(16)).map(|_| PIECES[next(PIECES.len())]).collect();
        let syntax = if round % 2 == 0 { R } else { C };
        let tz = zones[next(zones.len())];
        let Ok(schedule) = Schedule::parse(&expr, syntax, tz) else {
            continue;
        };
        accepted += 1;
        for t in instants {
            if let Some(fire) = schedule.next_after(t) {
                assert!(fire > t, "{expr:?} in {tz}: {fire} is not after {t}");
            }
        }
    }
    // Also well-formed expressions, so that the search itself is exercised.
    for round in 0..3_000 {
        let field = |next: &mut dyn FnMut(usize) -> usize, max: usize| match next(4) {
            0 => "*".to_string(),
            1 => next(max + 1).to_string(),
            2 => format!("{}/{}", next(max + 1), 1 + next(max)),
            _ => format!("{}-{}", next(max / 2 + 1), max / 2 + next(max / 2 + 1)),
        };
        let expr = format!(
            "{} {} {} {} {} {}",
            field(&mut next, 59),
            field(&mut next, 59),
            field(&mut next, 23),
            1 + next(31),
            field(&mut next, 12).replace('0', "1"),
            field(&mut next, 6)
        );
        let tz = zones[round % zones.len()];
        let Ok(schedule) = Schedule::parse(&expr, R, tz) else {
            continue;
        };
        accepted += 1;
        let times = schedule.upcoming(instants[round % 2], 3);
        assert!(
            times.windows(2).all(|pair| pair[0] < pair[1]),
            "{expr:?} in {tz}: {times:?}"
        );
    }
    assert!(
        accepted > 1_000,
        "the generators produce too few valid expressions ({accepted})"
    );
}
