//! What a worker may send. Every bound is checked before the node writes anything on the
//! worker's behalf; a message over a bound closes the stream with a reason.

use std::time::{Duration, Instant};

use tonic::Status;

use crate::model::{keys, ExecuteStatus};
use crate::pb::forest::{worker_message, Hello, WorkerMessage};

/// The largest message a worker may send (a result with its output and text fits).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Output kept per run (the tail, when there is more) and text per message.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;
const MAX_NAME_BYTES: usize = 128;
const MAX_CAPACITY: u32 = 1024;
const MAX_TARGETS: usize = 64;
const MAX_LABELS: usize = 32;
const MAX_LABEL_BYTES: usize = 256;
const MAX_SESSION_BYTES: usize = 64;
/// Messages per second a worker may send, far above what `MAX_CAPACITY` runs need.
const MAX_RATE: u32 = 5_000;

fn bad(msg: impl Into<String>) -> Status {
    Status::invalid_argument(msg.into())
}

fn short(what: &str, s: &str, max: usize) -> Result<(), Status> {
    if s.len() > max {
        return Err(bad(format!("{what} is {} bytes; at most {max}", s.len())));
    }
    Ok(())
}

/// A worker name goes into keys and logs: a small safe alphabet.
fn check_name(name: &str) -> Result<(), Status> {
    short("name", name, MAX_NAME_BYTES)?;
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !ok {
        return Err(bad(format!(
            "worker name {name:?} must be 1 to {MAX_NAME_BYTES} letters, digits, '.', '-', '_' or ':'"
        )));
    }
    Ok(())
}

fn check_hello(h: &Hello) -> Result<(), Status> {
    short("group", &h.group, MAX_NAME_BYTES)?;
    if !keys::is_valid_segment(&h.group) || keys::is_reserved_group(&h.group) {
        return Err(bad(format!("{:?} is not a valid group name", h.group)));
    }
    check_name(&h.name)?;
    if !(1..=MAX_CAPACITY).contains(&h.capacity) {
        return Err(bad(format!(
            "capacity {} is out of range 1..={MAX_CAPACITY}",
            h.capacity
        )));
    }
    if h.targets.len() > MAX_TARGETS {
        return Err(bad(format!("at most {MAX_TARGETS} targets")));
    }
    for t in &h.targets {
        short("a target", t, MAX_NAME_BYTES)?;
    }
    if h.labels.len() > MAX_LABELS {
        return Err(bad(format!("at most {MAX_LABELS} labels")));
    }
    for (k, v) in &h.labels {
        short("a label", k, MAX_LABEL_BYTES)?;
        short("a label value", v, MAX_LABEL_BYTES)?;
    }
    short("version", &h.version, MAX_NAME_BYTES)?;
    if h.session.is_empty() {
        return Err(bad(
            "session must be set (a random id picked once per process)",
        ));
    }
    short("session", &h.session, MAX_SESSION_BYTES)?;
    if h.running.len() > MAX_CAPACITY as usize {
        return Err(bad(format!("at most {MAX_CAPACITY} running ids")));
    }
    for id in &h.running {
        check_id(id)?;
    }
    Ok(())
}

/// Checks a message before the node acts on it: its place in the stream (a hello first, and
/// only first: `hello_said` is whether it came) and the bounds of every field. Pure, so the
/// fuzz target `worker_message` runs exactly what a node runs.
pub fn check_message(msg: &WorkerMessage, hello_said: bool) -> Result<(), Status> {
    use worker_message::Kind;
    match (&msg.kind, hello_said) {
        (None, _) => Err(bad("an empty message")),
        (Some(Kind::Hello(h)), false) => check_hello(h),
        (Some(Kind::Hello(_)), true) => Err(Status::failed_precondition("hello was already said")),
        (Some(_), false) => Err(Status::failed_precondition(
            "the first message must be a hello",
        )),
        (Some(Kind::Heartbeat(_)), true) => Ok(()),
        (Some(Kind::Claim(c)), true) => check_id(&c.snapshot_id),
        (Some(Kind::Progress(p)), true) => {
            check_id(&p.snapshot_id)?;
            check_text("progress output", &p.output)
        }
        (Some(Kind::Result(r)), true) => {
            check_id(&r.snapshot_id)?;
            result_status(r.status)?;
            check_text("result", &r.result)?;
            check_text("output", &r.output)
        }
        (Some(Kind::CancelAck(a)), true) => check_id(&a.snapshot_id),
    }
}

/// The status a result ends its run with: only those a worker may give; the others (timeout,
/// lost, missed) are the scheduler's.
pub fn result_status(code: i32) -> Result<ExecuteStatus, Status> {
    let s = ExecuteStatus::from_code(code.into());
    [
        ExecuteStatus::SUCCESS,
        ExecuteStatus::UNKNOWN_TARGET,
        ExecuteStatus::ERROR,
        ExecuteStatus::CANCELLED,
    ]
    .contains(&s)
    .then_some(s)
    .ok_or_else(|| {
        bad(format!(
            "status {code} is not one a worker reports (2, 3, -1 or -5)"
        ))
    })
}

/// A snapshot id as a worker echoes it back.
fn check_id(id: &str) -> Result<(), Status> {
    short("a snapshot id", id, MAX_NAME_BYTES)?;
    if !keys::is_valid_segment(id) {
        return Err(bad(format!("{id:?} is not a snapshot id")));
    }
    Ok(())
}

fn check_text(what: &str, s: &str) -> Result<(), Status> {
    short(what, s, MAX_OUTPUT_BYTES)
}

/// Appends `more` to `out`, keeping at most [`MAX_OUTPUT_BYTES`]: the tail, cut on a
/// character boundary.
pub fn append_tail(out: &mut String, more: &str) {
    out.push_str(more);
    if out.len() > MAX_OUTPUT_BYTES {
        let mut cut = out.len() - MAX_OUTPUT_BYTES;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out.drain(..cut);
    }
}

/// Counts a stream's messages per second.
pub struct Rate {
    window: Instant,
    count: u32,
}

impl Rate {
    pub fn new() -> Self {
        Rate {
            window: Instant::now(),
            count: 0,
        }
    }

    pub fn admit(&mut self) -> Result<(), Status> {
        if self.window.elapsed() >= Duration::from_secs(1) {
            self.window = Instant::now();
            self.count = 0;
        }
        self.count += 1;
        if self.count > MAX_RATE {
            return Err(Status::resource_exhausted(format!(
                "more than {MAX_RATE} messages in a second"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> Hello {
        Hello {
            group: "trade".into(),
            name: "w-1".into(),
            capacity: 8,
            session: "s".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_plain_hello_passes() {
        assert!(check_hello(&hello()).is_ok());
    }

    #[test]
    fn bad_hellos_say_what_is_wrong() {
        let cases: Vec<(Hello, &str)> = vec![
            (
                Hello {
                    name: "a/b".into(),
                    ..hello()
                },
                "worker name",
            ),
            (
                Hello {
                    name: String::new(),
                    ..hello()
                },
                "worker name",
            ),
            (
                Hello {
                    group: "snapshot".into(),
                    ..hello()
                },
                "group name",
            ),
            (
                Hello {
                    capacity: 0,
                    ..hello()
                },
                "capacity",
            ),
            (
                Hello {
                    capacity: 5000,
                    ..hello()
                },
                "capacity",
            ),
            (
                Hello {
                    session: String::new(),
                    ..hello()
                },
                "session",
            ),
            (
                Hello {
                    version: "v".repeat(200),
                    ..hello()
                },
                "version",
            ),
            (
                Hello {
                    running: vec!["a b".into()],
                    ..hello()
                },
                "snapshot id",
            ),
        ];
        for (h, want) in cases {
            let e = check_hello(&h).expect_err(want);
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            assert!(e.message().contains(want), "{} lacks {want}", e.message());
        }
    }

    #[test]
    fn a_hello_comes_first_and_only_first() {
        use worker_message::Kind;
        let msg = |kind| WorkerMessage { kind: Some(kind) };
        let hello = msg(Kind::Hello(hello()));
        let heartbeat = msg(Kind::Heartbeat(Default::default()));
        assert!(check_message(&hello, false).is_ok());
        assert!(check_message(&heartbeat, true).is_ok());
        for (m, hello_said, want) in [
            (&heartbeat, false, "must be a hello"),
            (&hello, true, "already said"),
            (&WorkerMessage { kind: None }, true, "empty"),
        ] {
            let e = check_message(m, hello_said).expect_err(want);
            assert!(e.message().contains(want), "{} lacks {want}", e.message());
        }
    }

    #[test]
    fn a_result_gives_a_workers_status() {
        use crate::pb::forest::Result as RunResult;
        let result = |status| WorkerMessage {
            kind: Some(worker_message::Kind::Result(RunResult {
                snapshot_id: "s".into(),
                status,
                ..Default::default()
            })),
        };
        for ok in [2, 3, -1, -5] {
            assert!(check_message(&result(ok), true).is_ok(), "{ok}");
        }
        for not_a_workers in [0, 1, -2, -3, -4, i32::MIN] {
            let e = check_message(&result(not_a_workers), true).expect_err("not a worker's");
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
        }
    }

    #[test]
    fn output_keeps_its_tail() {
        let mut out = String::new();
        append_tail(&mut out, &"a".repeat(MAX_OUTPUT_BYTES));
        append_tail(&mut out, "é-end");
        assert_eq!(out.len(), MAX_OUTPUT_BYTES);
        assert!(out.ends_with("é-end"));
    }

    #[test]
    fn a_flood_is_refused() {
        let mut r = Rate::new();
        for _ in 0..MAX_RATE {
            r.admit().expect("within the rate");
        }
        assert_eq!(
            r.admit().expect_err("over").code(),
            tonic::Code::ResourceExhausted
        );
    }
}
