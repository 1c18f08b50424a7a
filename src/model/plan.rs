//! A job's firing cursor at `/forest/server/plan/<jobId>`: the last tick that was handled
//! (fired, or recorded missed). The scheduler moves it in the same transaction as the tick's
//! dispatch; the job service sets it to now when a job is created or resumed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub last: DateTime<Utc>,
}

impl Cursor {
    pub fn to_json(&self) -> String {
        serde_json::json!({ "last": self.last }).to_string()
    }

    pub fn from_json(bytes: &[u8]) -> Option<Cursor> {
        serde_json::from_slice(bytes).ok()
    }
}
