//! Opening a node's data directory, and the identity check that keeps a directory from being
//! used by another node or another cluster by mistake.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};
use crate::error::OpenError;
use crate::log::LogStore;
use crate::state::{KvState, StateMachine};
use crate::NodeId;

/// Who a data directory belongs to: recorded on first open, checked on every later one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub cluster: String,
    pub node_id: NodeId,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node {} of cluster {:?}", self.node_id, self.cluster)
    }
}

/// A node's storage, ready to hand to openraft.
pub struct Store {
    pub log: LogStore,
    pub state_machine: StateMachine,
    pub kv: KvState,
}

/// Opens (creating if needed) the data directory. Must be called inside a tokio runtime.
pub fn open(dir: &Path, identity: &Identity) -> Result<Store, OpenError> {
    let path = dir.display().to_string();
    let db_err = |source| OpenError::Db {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| db_err(e.into()))?;
    let db = sled::Config::new()
        .path(dir.join("db"))
        .cache_capacity(256 * 1024 * 1024)
        .open()
        .map_err(db_err)?;
    let ident = db.open_tree("identity").map_err(db_err)?;
    match ident.get(b"identity").map_err(db_err)? {
        Some(found) => {
            let found: Identity = decode(&found).map_err(|e| OpenError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            if &found != identity {
                return Err(OpenError::WrongIdentity {
                    path,
                    found: found.to_string(),
                    expected: identity.to_string(),
                });
            }
        }
        None => {
            ident
                .insert(b"identity", encode(identity))
                .map_err(db_err)?;
            db.flush().map_err(db_err)?;
        }
    }
    let state_machine =
        StateMachine::new(db.clone(), dir.join("snapshot.bin")).map_err(|reason| {
            OpenError::Corrupt {
                path: path.clone(),
                reason,
            }
        })?;
    let log = LogStore::new(db).map_err(db_err)?;
    let kv = state_machine.reader();
    Ok(Store {
        log,
        state_machine,
        kv,
    })
}
