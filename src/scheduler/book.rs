//! The leader's book of runs not yet finished: where each snapshot of every job is (waiting
//! in its group's queue, dispatched to a worker, running there) and when a running one times
//! out.
//!
//! It is a mirror of replicated keys (pending, snapshot and execute keys), rebuilt by every
//! new leader from the KV and kept by the same watch, so the concurrency policy, the
//! least-busy route and timeouts are decided from the replicated record, not from what one
//! node happened to see.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::model::ids::job_of;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Pending {
        group: String,
    },
    Dispatched {
        group: String,
        worker: String,
    },
    /// `rev` is the running report's mod revision; `deadline` the instant its timeout passes.
    Running {
        group: String,
        worker: String,
        rev: i64,
        deadline: Option<DateTime<Utc>>,
    },
}

impl Place {
    fn worker(&self) -> Option<(&str, &str)> {
        match self {
            Place::Pending { .. } => None,
            Place::Dispatched { group, worker } | Place::Running { group, worker, .. } => {
                Some((group, worker))
            }
        }
    }
}

#[derive(Default)]
pub struct Book {
    places: HashMap<String, Place>,
    by_job: HashMap<String, BTreeSet<String>>,
    /// (group, worker) → runs dispatched to or running on it.
    load: HashMap<(String, String), usize>,
}

impl Book {
    pub fn set(&mut self, id: &str, place: Place) {
        self.clear(id);
        if let Some((g, w)) = place.worker() {
            *self.load.entry((g.to_string(), w.to_string())).or_default() += 1;
        }
        self.by_job
            .entry(job_of(id).to_string())
            .or_default()
            .insert(id.to_string());
        self.places.insert(id.to_string(), place);
    }

    pub fn clear(&mut self, id: &str) {
        let Some(old) = self.places.remove(id) else {
            return;
        };
        if let Some((g, w)) = old.worker() {
            let key = (g.to_string(), w.to_string());
            if let Some(n) = self.load.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    self.load.remove(&key);
                }
            }
        }
        let job = job_of(id);
        if let Some(set) = self.by_job.get_mut(job) {
            set.remove(id);
            if set.is_empty() {
                self.by_job.remove(job);
            }
        }
    }

    /// The job's unfinished runs other than `except`.
    pub fn outstanding(&self, job_id: &str, except: &str) -> Vec<(String, Place)> {
        self.by_job
            .get(job_id)
            .into_iter()
            .flatten()
            .filter(|id| *id != except)
            .filter_map(|id| Some((id.clone(), self.places.get(id)?.clone())))
            .collect()
    }

    /// Runs dispatched to or running on each worker of `group`.
    pub fn load_of(&self, group: &str) -> HashMap<String, usize> {
        self.load
            .iter()
            .filter(|((g, _), _)| g == group)
            .map(|((_, w), n)| (w.clone(), *n))
            .collect()
    }

    /// Running runs whose timeout has passed at `now`.
    pub fn overdue(&self, now: DateTime<Utc>) -> Vec<(String, Place)> {
        self.places
            .iter()
            .filter(|(_, p)| matches!(p, Place::Running { deadline: Some(d), .. } if *d <= now))
            .map(|(id, p)| (id.clone(), p.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = "20261124000000000001";

    fn id(n: u32) -> String {
        format!("2026112400000{n}000000{JOB}")
    }

    fn running(worker: &str, deadline: Option<DateTime<Utc>>) -> Place {
        Place::Running {
            group: "g".into(),
            worker: worker.into(),
            rev: 1,
            deadline,
        }
    }

    #[test]
    fn follows_a_run_from_queue_to_worker_to_end() {
        let mut b = Book::default();
        let a = id(1);
        assert_eq!(job_of(&a), JOB);
        b.set(&a, Place::Pending { group: "g".into() });
        assert_eq!(b.outstanding(JOB, "").len(), 1);
        assert!(b.load_of("g").is_empty(), "a queued run loads nobody");
        b.set(
            &a,
            Place::Dispatched {
                group: "g".into(),
                worker: "w".into(),
            },
        );
        assert_eq!(b.load_of("g").get("w"), Some(&1));
        b.set(&a, running("w", None));
        assert_eq!(
            b.load_of("g").get("w"),
            Some(&1),
            "moving does not count twice"
        );
        assert!(
            b.outstanding(JOB, &a).is_empty(),
            "a run is not its own rival"
        );
        b.clear(&a);
        assert!(b.outstanding(JOB, "").is_empty());
        assert!(b.load_of("g").is_empty());
    }

    #[test]
    fn only_runs_past_their_timeout_are_overdue() {
        let mut b = Book::default();
        let now = Utc::now();
        b.set(
            &id(1),
            running("w", Some(now - chrono::Duration::seconds(1))),
        );
        b.set(
            &id(2),
            running("w", Some(now + chrono::Duration::seconds(60))),
        );
        b.set(&id(3), running("w", None));
        let late: Vec<String> = b.overdue(now).into_iter().map(|(i, _)| i).collect();
        assert_eq!(late, vec![id(1)]);
    }
}
