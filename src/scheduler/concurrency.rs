//! A job's concurrency policy (DESIGN §4): what a new run does while earlier runs of the job
//! are unfinished. Pure; the leader hands in the rivals from its book of unfinished runs
//! (mirrored from replicated keys), for ticks and manual runs alike.

use super::book::Place;
use crate::model::job::Concurrency;

pub const SKIPPED: &str = "skipped: the previous run was still going (concurrency forbid)";
pub const REPLACED: &str = "cancelled: replaced by a newer run (concurrency replace)";

#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Run it, after cancelling these.
    Run { replacing: Vec<(String, Place)> },
    /// Do not run it; it is recorded as skipped.
    Skip,
}

pub fn admit(policy: Concurrency, rivals: Vec<(String, Place)>) -> Admit {
    match policy {
        Concurrency::Forbid if !rivals.is_empty() => Admit::Skip,
        Concurrency::Replace => Admit::Run { replacing: rivals },
        _ => Admit::Run { replacing: vec![] },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rival() -> Vec<(String, Place)> {
        vec![(
            "r".into(),
            Place::Dispatched {
                group: "g".into(),
                worker: "w".into(),
            },
        )]
    }

    #[test]
    fn allow_runs_alongside() {
        assert_eq!(
            admit(Concurrency::Allow, rival()),
            Admit::Run { replacing: vec![] }
        );
    }

    #[test]
    fn forbid_skips_only_while_something_is_going() {
        assert_eq!(admit(Concurrency::Forbid, rival()), Admit::Skip);
        assert_eq!(
            admit(Concurrency::Forbid, vec![]),
            Admit::Run { replacing: vec![] }
        );
    }

    #[test]
    fn replace_cancels_what_is_going() {
        assert_eq!(
            admit(Concurrency::Replace, rival()),
            Admit::Run { replacing: rival() }
        );
    }
}
