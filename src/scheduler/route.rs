//! Which online worker(s) of a group run a tick (DESIGN §4, the job's `route`).
//!
//! Pure: the leader hands in the group's online workers (sorted), how busy each is and the
//! group's round-robin turn; a test hands in whatever it likes. One tick gives one
//! [`Placement`] per snapshot to write: one for the single-worker routes, one per worker for
//! broadcast, one per shard for sharded.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use rand::Rng;

use crate::model::job::Route;

/// One snapshot of a tick: its slot (shard index or broadcast place; 0 when not split), how
/// many slots the tick has (0 = not split), and the worker (None: nobody online, it waits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub slot: u32,
    pub total: u32,
    pub worker: Option<String>,
}

/// What the leader knows of a group's workers when it places a tick.
pub struct Group<'a> {
    /// Online workers, sorted by name.
    pub online: &'a [String],
    /// Runs each worker has dispatched or going.
    pub load: &'a HashMap<String, usize>,
    /// The group's round-robin counter, advanced by every pick that uses it.
    pub turn: &'a mut usize,
}

/// Places one tick of `job_id`. `avoid` is a worker to pass over when another is online (a
/// retry goes elsewhere than the run that failed).
pub fn place(
    route: Route,
    shards: u32,
    job_id: &str,
    group: Group<'_>,
    avoid: Option<&str>,
) -> Vec<Placement> {
    let preferred: Vec<&String> = group
        .online
        .iter()
        .filter(|w| Some(w.as_str()) != avoid)
        .collect();
    let pool: Vec<&String> = if preferred.is_empty() {
        group.online.iter().collect()
    } else {
        preferred
    };
    let single = |worker: Option<&String>| {
        vec![Placement {
            slot: 0,
            total: 0,
            worker: worker.cloned(),
        }]
    };
    if pool.is_empty() {
        return match route {
            Route::Sharded => (0..shards.max(1))
                .map(|slot| Placement {
                    slot,
                    total: shards.max(1),
                    worker: None,
                })
                .collect(),
            _ => single(None),
        };
    }
    match route {
        Route::Random => single(Some(pool[rand::rng().random_range(0..pool.len())])),
        Route::RoundRobin => {
            *group.turn = group.turn.wrapping_add(1);
            single(Some(pool[*group.turn % pool.len()]))
        }
        Route::LeastBusy => {
            let load = |w: &&String| group.load.get(*w).copied().unwrap_or(0);
            // Ties go round robin, so equally idle workers share the work.
            *group.turn = group.turn.wrapping_add(1);
            let start = *group.turn % pool.len();
            let best = (0..pool.len())
                .map(|i| pool[(start + i) % pool.len()])
                .min_by_key(load);
            single(best)
        }
        Route::ConsistentHash => single(pool.iter().copied().max_by_key(|w| score(job_id, w))),
        Route::Broadcast => {
            let total = pool.len() as u32;
            pool.iter()
                .enumerate()
                .map(|(slot, w)| Placement {
                    slot: slot as u32,
                    total,
                    worker: Some((*w).clone()),
                })
                .collect()
        }
        Route::Sharded => {
            let total = shards.max(1);
            *group.turn = group.turn.wrapping_add(1);
            let start = *group.turn;
            (0..total)
                .map(|slot| Placement {
                    slot,
                    total,
                    worker: Some(pool[(start + slot as usize) % pool.len()].clone()),
                })
                .collect()
        }
    }
}

/// Rendezvous hashing: each (job, worker) pair gets a score and the job goes to the top
/// scorer, so a worker joining or leaving moves only the jobs it wins or held.
fn score(job_id: &str, worker: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (job_id, worker).hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("w{i}")).collect()
    }

    /// Places a tick with nobody busy and the round-robin turn at 0.
    fn place_idle(route: Route, shards: u32, job: &str, online: &[String]) -> Vec<Placement> {
        let load = HashMap::new();
        place(
            route,
            shards,
            job,
            Group {
                online,
                load: &load,
                turn: &mut 0,
            },
            None,
        )
    }

    fn place_one(
        route: Route,
        online: &[String],
        load: &HashMap<String, usize>,
        turn: &mut usize,
        avoid: Option<&str>,
    ) -> Option<String> {
        let p = place(route, 0, "job", Group { online, load, turn }, avoid);
        assert_eq!(p.len(), 1);
        p[0].worker.clone()
    }

    #[test]
    fn nobody_online_means_the_tick_waits() {
        let none: Vec<String> = vec![];
        for route in [
            Route::Random,
            Route::RoundRobin,
            Route::LeastBusy,
            Route::ConsistentHash,
            Route::Broadcast,
        ] {
            let p = place_idle(route, 0, "j", &none);
            assert_eq!(
                p,
                vec![Placement {
                    slot: 0,
                    total: 0,
                    worker: None
                }],
                "{route:?}"
            );
        }
        let p = place_idle(Route::Sharded, 3, "j", &none);
        assert_eq!(p.len(), 3, "each shard waits on its own");
        assert!(p.iter().all(|p| p.worker.is_none() && p.total == 3));
    }

    #[test]
    fn round_robin_takes_turns() {
        let w = names(3);
        let load = HashMap::new();
        let mut turn = 0;
        let picks: Vec<_> = (0..6)
            .map(|_| place_one(Route::RoundRobin, &w, &load, &mut turn, None).unwrap())
            .collect();
        for name in &w {
            assert_eq!(picks.iter().filter(|p| *p == name).count(), 2, "{picks:?}");
        }
    }

    #[test]
    fn random_picks_only_online_workers_and_all_of_them() {
        let w = names(3);
        let load = HashMap::new();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.insert(place_one(Route::Random, &w, &load, &mut 0, None).unwrap());
        }
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn least_busy_goes_to_the_idlest() {
        let w = names(3);
        let load: HashMap<String, usize> = [
            ("w0".to_string(), 5),
            ("w1".to_string(), 1),
            ("w2".to_string(), 3),
        ]
        .into();
        for mut turn in 0..5 {
            assert_eq!(
                place_one(Route::LeastBusy, &w, &load, &mut turn, None).as_deref(),
                Some("w1")
            );
        }
    }

    #[test]
    fn consistent_hash_is_stable_and_moves_little() {
        let w = names(5);
        let owner = |job: &str, online: &[String]| {
            place_idle(Route::ConsistentHash, 0, job, online)[0]
                .worker
                .clone()
                .unwrap()
        };
        let jobs: Vec<String> = (0..200).map(|i| format!("job{i}")).collect();
        let before: Vec<String> = jobs.iter().map(|j| owner(j, &w)).collect();
        assert_eq!(
            before,
            jobs.iter().map(|j| owner(j, &w)).collect::<Vec<_>>(),
            "same inputs, same owner"
        );
        // w4 leaves: only its jobs move.
        let fewer: Vec<String> = w[..4].to_vec();
        for (j, was) in jobs.iter().zip(&before) {
            let now = owner(j, &fewer);
            if was != "w4" {
                assert_eq!(&now, was, "{j} moved although its worker stayed");
            }
        }
        assert!(
            before.iter().filter(|o| *o == "w4").count() > 10,
            "the load spreads"
        );
    }

    #[test]
    fn broadcast_gives_every_worker_its_own_slot() {
        let w = names(3);
        let p = place_idle(Route::Broadcast, 0, "j", &w);
        assert_eq!(p.len(), 3);
        for (i, pl) in p.iter().enumerate() {
            assert_eq!((pl.slot, pl.total), (i as u32, 3));
            assert_eq!(pl.worker.as_deref(), Some(w[i].as_str()));
        }
    }

    #[test]
    fn sharded_spreads_shards_over_workers() {
        let w = names(2);
        let p = place_idle(Route::Sharded, 4, "j", &w);
        assert_eq!(
            p.iter().map(|p| p.slot).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert!(p.iter().all(|p| p.total == 4));
        for name in &w {
            assert_eq!(
                p.iter().filter(|p| p.worker.as_ref() == Some(name)).count(),
                2
            );
        }
    }

    #[test]
    fn a_retry_avoids_the_worker_that_failed_when_it_can() {
        let w = names(2);
        let load = HashMap::new();
        for mut turn in 0..6 {
            assert_eq!(
                place_one(Route::RoundRobin, &w, &load, &mut turn, Some("w0")).as_deref(),
                Some("w1")
            );
        }
        let alone = names(1);
        assert_eq!(
            place_one(Route::RoundRobin, &alone, &load, &mut 0, Some("w0")).as_deref(),
            Some("w0"),
            "but runs there when nobody else is online"
        );
    }
}
