//! Making a record fit its columns, so a database in strict mode never rejects a row.
//!
//! The original table has small `varchar`s (`name` 32, `result` 255, …). The original forest
//! wrote longer values anyway; in MySQL strict mode the INSERT failed and the run was lost from
//! the history with only a log line. Forest cuts each original column to its declared length in
//! characters instead (the full `result` goes to the new `result_full` column), and on MySQL,
//! whose original table is `utf8` (three-byte), replaces four-byte characters such as emoji in
//! those columns with U+FFFD.
//!
//! `output` and `result_full` are capped at [`MAX_TEXT_BYTES`], keeping the **tail**: the end
//! of a job's output is where its error usually is.

use super::dialect::Dialect;
use super::record::Record;

/// The most bytes of `output` (and of the full result) kept per run: 64 KiB.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// What starts a text that was cut to its tail.
const CUT_MARK: &str = "[forest: earlier output truncated]\n";

/// `r` cut to fit the columns of `dialect`, and the short `result` for the original column.
pub(crate) fn fit(r: &Record, dialect: Dialect) -> (Record, String) {
    let narrow = |s: &str, chars: usize| {
        let s = head(s, chars);
        if dialect.original_columns_are_utf8mb3() {
            s.chars()
                .map(|c| if c.len_utf8() > 3 { '\u{FFFD}' } else { c })
                .collect()
        } else {
            s.to_string()
        }
    };
    let fitted = Record {
        id: narrow(&r.id, 64),
        job_id: narrow(&r.job_id, 32),
        name: narrow(&r.name, 32),
        group: narrow(&r.group, 32),
        cron: narrow(&r.cron, 32),
        target: narrow(&r.target, 255),
        params: narrow(&r.params, 255),
        ip: narrow(&r.ip, 32),
        mobile: narrow(&r.mobile, 32),
        remark: narrow(&r.remark, 255),
        create_time: narrow(&r.create_time, 32),
        start_time: narrow(&r.start_time, 255),
        finish_time: narrow(&r.finish_time, 32),
        result: tail(&r.result),
        worker: head(&r.worker, 255).to_string(),
        node: head(&r.node, 255).to_string(),
        output: tail(&r.output),
        ..r.clone()
    };
    let short = narrow(&r.result, 255);
    (fitted, short)
}

/// The first `chars` characters of `s`.
fn head(s: &str, chars: usize) -> &str {
    match s.char_indices().nth(chars) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

/// `s` if it fits [`MAX_TEXT_BYTES`], else a mark and as much of its end as fits with it.
fn tail(s: &str) -> String {
    if s.len() <= MAX_TEXT_BYTES {
        return s.to_string();
    }
    let mut start = s.len() - (MAX_TEXT_BYTES - CUT_MARK.len());
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("{CUT_MARK}{}", &s[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_tail_of_long_output() {
        let r = Record {
            output: format!("{}END", "é".repeat(MAX_TEXT_BYTES)),
            ..Record::default()
        };
        let (fitted, _) = fit(&r, Dialect::Sqlite);
        assert!(fitted.output.len() <= MAX_TEXT_BYTES);
        assert!(fitted.output.starts_with(CUT_MARK));
        assert!(fitted.output.ends_with("éEND"));
    }

    #[test]
    fn cuts_original_columns_by_characters() {
        let r = Record {
            name: "任".repeat(40),
            result: "x".repeat(300),
            ..Record::default()
        };
        let (fitted, short) = fit(&r, Dialect::Postgres);
        assert_eq!(fitted.name.chars().count(), 32);
        assert_eq!(short.len(), 255);
        assert_eq!(fitted.result.len(), 300);
    }

    #[test]
    fn mysql_original_columns_lose_four_byte_characters() {
        let r = Record {
            name: "ok 🎉".into(),
            output: "🎉".into(),
            ..Record::default()
        };
        let (fitted, _) = fit(&r, Dialect::MySql);
        assert_eq!(fitted.name, "ok \u{FFFD}");
        assert_eq!(fitted.output, "🎉");
    }
}
