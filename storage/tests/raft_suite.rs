//! openraft's own conformance suite, run against our sled log store and state machine.

use forest_storage::log::LogStore;
use forest_storage::state::StateMachine;
use forest_storage::{open, Identity, TypeConfig};
use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<u64>> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = open(
            dir.path(),
            &Identity {
                cluster: "test".into(),
                node_id: 0,
            },
        )
        .expect("a fresh data directory opens");
        Ok((dir, store.log, store.state_machine))
    }
}

#[test]
fn openraft_storage_suite() -> Result<(), StorageError<u64>> {
    Suite::test_all(Builder)
}
