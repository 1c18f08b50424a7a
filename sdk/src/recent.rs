//! Dispatches come at least once (a node resends after a reconnect, a new leader re-pushes), so
//! the worker remembers the snapshot ids it has taken and ignores repeats. The memory is
//! bounded: the oldest ids are forgotten first, long after any resend of them could come.

use std::collections::{HashSet, VecDeque};

#[derive(Debug)]
pub(crate) struct RecentIds {
    capacity: usize,
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentIds {
    pub(crate) fn new(capacity: usize) -> Self {
        RecentIds {
            capacity,
            order: VecDeque::with_capacity(capacity),
            set: HashSet::with_capacity(capacity),
        }
    }

    /// Remembers `id`; false if it was already remembered.
    pub(crate) fn insert(&mut self, id: &str) -> bool {
        if !self.set.insert(id.to_string()) {
            return false;
        }
        self.order.push_back(id.to_string());
        if self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    /// Forgets `id`, so that a later dispatch of it is taken again.
    pub(crate) fn remove(&mut self, id: &str) {
        if self.set.remove(id) {
            self.order.retain(|x| x != id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_bounded_number_of_ids() {
        let mut r = RecentIds::new(2);
        assert!(r.insert("a"));
        assert!(!r.insert("a"));
        assert!(r.insert("b"));
        assert!(r.insert("c"));
        assert!(r.insert("a"), "the oldest id is forgotten");
        r.remove("c");
        assert!(r.insert("c"));
    }
}
