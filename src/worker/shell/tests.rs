//! The shell target with real processes.

use std::path::Path;

use forest_sdk::{pb, MAX_OUTPUT_BYTES};

use super::*;
use crate::worker::allow::CommandPattern;

fn ctx(command: &str) -> Context {
    Context::new(pb::Dispatch {
        snapshot_id: "20231114221320000000010000000000job-1".into(),
        job_id: "job-1".into(),
        target: TARGET.into(),
        params: command.into(),
        scheduled_at_ms: 1_700_000_000_000,
        attempt: 2,
        shard_index: 1,
        shard_total: 3,
        ..Default::default()
    })
}

/// Waits for something only the OS can tell (a file written, a process reaped), up to 10 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

/// A live process, not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .map(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

fn pid_in(file: &Path) -> Option<i32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

#[tokio::test]
async fn success_with_stdout_and_stderr_as_output() {
    let c = ctx("echo out; echo err >&2");
    assert_eq!(run(c.clone()).await.unwrap(), "exit code 0");
    let output = c.captured_output();
    assert!(
        output.contains("out\n") && output.contains("err\n"),
        "{output:?}"
    );
}

#[tokio::test]
async fn a_non_zero_exit_is_an_error_with_the_code() {
    let e = run(ctx("echo failing; exit 3")).await.unwrap_err();
    assert_eq!(e.to_string(), "exit code 3");
}

#[tokio::test]
async fn the_run_is_described_in_the_environment() {
    let c = ctx("echo \"$FOREST_SNAPSHOT_ID|$FOREST_JOB_ID|$FOREST_SCHEDULED_AT|$FOREST_ATTEMPT|$FOREST_SHARD_INDEX|$FOREST_SHARD_TOTAL\"");
    run(c.clone()).await.unwrap();
    assert_eq!(
        c.captured_output(),
        "20231114221320000000010000000000job-1|job-1|2023-11-14T22:13:20Z|2|1|3\n"
    );
}

/// Runs `shell` (which puts a child in the background, records its pid and waits), cancels
/// the run once the child is up, and checks the child did not survive. The run's error.
async fn cancel_with_a_child(shell: &str) -> RunError {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let c = ctx(&format!(
        "{shell}; sleep 100 & echo $! > {}; wait",
        pidfile.display()
    ));
    let running = tokio::spawn(run(c.clone()));
    eventually("the child wrote its pid", || pid_in(&pidfile).is_some()).await;
    let pid = pid_in(&pidfile).unwrap();
    assert!(alive(pid));
    c.cancellation().cancel();
    let e = running.await.unwrap().unwrap_err();
    eventually("the child is gone", || !alive(pid)).await;
    e
}

#[tokio::test]
async fn cancelling_kills_the_whole_process_group() {
    let e = cancel_with_a_child("true").await;
    assert!(e.to_string().contains("killed"), "{e}");
}

#[tokio::test]
async fn a_group_that_ignores_sigterm_gets_sigkill() {
    cancel_with_a_child("trap '' TERM").await;
}

#[tokio::test]
async fn a_child_left_behind_is_killed_when_the_shell_exits() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    // The child keeps stdout open: the run must still end, and take the child with it.
    let c = ctx(&format!("sleep 100 & echo $! > {}", pidfile.display()));
    assert_eq!(run(c).await.unwrap(), "exit code 0");
    let pid = pid_in(&pidfile).unwrap();
    eventually("the child is gone", || !alive(pid)).await;
}

#[tokio::test]
async fn output_keeps_only_the_tail() {
    let c = ctx("head -c 200000 /dev/zero | tr '\\0' a; echo END");
    run(c.clone()).await.unwrap();
    let output = c.captured_output();
    assert_eq!(output.len(), MAX_OUTPUT_BYTES);
    assert!(output.ends_with("aaaEND\n"));
}

#[test]
fn a_character_split_between_reads_waits_for_its_rest() {
    let mut bytes = "hé".as_bytes()[..2].to_vec();
    assert_eq!(take_text(&mut bytes), "h");
    bytes.extend_from_slice(&"é".as_bytes()[1..]);
    assert_eq!(take_text(&mut bytes), "é");
    assert!(bytes.is_empty());
}

/// The target as the worker holds it: a command its policy refuses never starts.
#[tokio::test]
async fn a_refused_command_is_not_started() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let command = format!("touch {}", marker.display());
    let closed = Shell::new(ShellPolicy::new(false, Vec::new()));
    let e = closed.run(ctx(&command)).await.unwrap_err();
    assert!(e.to_string().contains("--allow-shell"), "{e}");
    let narrow = Shell::new(ShellPolicy::new(
        true,
        vec![CommandPattern::parse("echo [a-z ]*").unwrap()],
    ));
    let e = narrow.run(ctx(&command)).await.unwrap_err();
    assert!(e.to_string().contains("--shell-allow"), "{e}");
    assert!(!marker.exists(), "a refused command ran");
    let c = ctx("echo hi");
    assert_eq!(narrow.run(c.clone()).await.unwrap(), "exit code 0");
    assert_eq!(c.captured_output(), "hi\n");
}
