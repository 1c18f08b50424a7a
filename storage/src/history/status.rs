//! Run status codes, as stored in the `status` column.
//!
//! The first four are the original forest's (`JobExecuteSnapshot*Status`, shared by both SDKs and
//! the duck UI) and keep their numbers and meaning, so old reports and queries still read right.
//! Forest adds the outcomes the original could not tell apart from an error or never recorded.
//! How they count in statistics is decided here, once, as SQL the queries embed.

/// Dispatched or claimed, not finished ("执行中").
pub const RUNNING: i32 = 1;
/// Finished successfully ("完成").
pub const SUCCESS: i32 = 2;
/// The worker had no such target ("未知").
pub const UNKNOWN_TARGET: i32 = 3;
/// The job failed ("执行失败").
pub const ERROR: i32 = -1;
/// The job ran past its timeout and was told to stop.
pub const TIMEOUT: i32 = -2;
/// The worker holding the run vanished before reporting.
pub const LOST: i32 = -3;
/// The tick never ran: no worker took it before its starting deadline.
pub const MISSED: i32 = -4;
/// Someone cancelled the run (replaced by a newer one, or by hand). Neither success nor failure.
pub const CANCELLED: i32 = -5;

/// SQL condition: the run succeeded.
pub(crate) const SUCCESS_SQL: &str = "status = 2";
/// SQL condition: the run failed (unknown target, error, timeout, lost, missed).
pub(crate) const FAILURE_SQL: &str = "status IN (3, -1, -2, -3, -4)";

/// The failure codes of [`FAILURE_SQL`], for listing failures one indexed status at a time.
pub const FAILURES: [i32; 5] = [UNKNOWN_TARGET, ERROR, TIMEOUT, LOST, MISSED];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_list_and_its_sql_name_the_same_codes() {
        let listed: Vec<String> = FAILURES.iter().map(i32::to_string).collect();
        assert_eq!(FAILURE_SQL, format!("status IN ({})", listed.join(", ")));
    }
}
