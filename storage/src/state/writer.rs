//! The pending writes of one Raft entry: reads see them, and they reach sled as one batch.

use std::collections::BTreeMap;

use sled::IVec;

pub struct Writer<'a> {
    tree: &'a sled::Tree,
    overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> Writer<'a> {
    pub fn new(tree: &'a sled::Tree) -> Self {
        Writer {
            tree,
            overlay: BTreeMap::new(),
        }
    }

    pub fn get(&self, k: &[u8]) -> sled::Result<Option<Vec<u8>>> {
        match self.overlay.get(k) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.tree.get(k)?.map(|v| v.to_vec())),
        }
    }

    pub fn put(&mut self, k: Vec<u8>, v: Vec<u8>) {
        self.overlay.insert(k, Some(v));
    }

    pub fn remove(&mut self, k: Vec<u8>) {
        self.overlay.insert(k, None);
    }

    /// Every pair in `[start, end)` as this entry sees it so far, in key order.
    pub fn scan(&self, start: &[u8], end: &[u8]) -> sled::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for item in self.tree.range(start..end) {
            let (k, v): (IVec, IVec) = item?;
            merged.insert(k.to_vec(), v.to_vec());
        }
        for (k, v) in self.overlay.range(start.to_vec()..end.to_vec()) {
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        Ok(merged.into_iter().collect())
    }

    pub fn into_batch(self) -> sled::Batch {
        let mut batch = sled::Batch::default();
        for (k, v) in self.overlay {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        batch
    }
}
