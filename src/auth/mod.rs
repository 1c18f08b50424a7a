//! Who may do what: API tokens with roles, checked by every listener through one door.
//!
//! A token is `fst_<id>_<secret>`. Only the secret's SHA-256 is stored, in the replicated KV
//! (`/forest/server/auth/token/<id>`, [`tokens`]), so a copy of the data directory or a KV dump
//! gives no usable token, and a token shown once at creation is never shown again.
//!
//! Roles nest: a viewer reads; an operator also runs, pauses and resumes jobs and withdraws
//! pending snapshots; an admin also edits jobs, groups, tokens and membership. A worker token
//! only lets a worker serve its groups. Any token may be scoped to groups: it then sees and
//! acts on those groups only.
//!
//! Without `--auth` a node trusts whoever reaches it, which the server allows only on loopback
//! (or with `--insecure`): every request then acts as the local administrator.

pub mod bootstrap;
pub mod grpc;
pub mod tokens;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What a token may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Serve its groups' runs over the worker stream; nothing else.
    Worker,
    /// Read everything (in its groups).
    Viewer,
    /// Also run, pause and resume jobs, and withdraw pending snapshots.
    Operator,
    /// Also change jobs, groups, tokens and membership.
    Admin,
}

/// How much a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Operate,
    Admin,
}

impl Role {
    pub fn allows(self, need: Need) -> bool {
        let least = match need {
            Need::Read => Role::Viewer,
            Need::Operate => Role::Operator,
            Need::Admin => Role::Admin,
        };
        self != Role::Worker && self >= least
    }
}

/// Who is asking: a checked token, or the local administrator when auth is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's id (`local` when auth is off): what the audit names, never the secret.
    pub id: String,
    pub role: Role,
    /// The groups it may see and act on; empty: all.
    pub groups: Vec<String>,
}

impl Principal {
    /// Whoever reaches a node that runs without `--auth`.
    pub fn local() -> Self {
        Principal {
            id: "local".into(),
            role: Role::Admin,
            groups: vec![],
        }
    }

    pub fn sees_group(&self, group: &str) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|g| g == group)
    }

    /// Whether it is limited to some groups (lists are then filtered).
    pub fn is_scoped(&self) -> bool {
        !self.groups.is_empty()
    }
}

/// A secret that prints as `***`, so no `{:?}` of a config ever logs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(s: &str) -> Self {
        Secret(Arc::from(s))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads a secret from a file (its first line), refusing an empty one.
    pub fn from_file(path: &std::path::Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let line = text.lines().next().unwrap_or("").trim();
        if line.len() < 16 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the secret must be at least 16 characters",
            ));
        }
        Ok(Secret::new(line))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Why a request was not let in.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required: send Authorization: Bearer <token>")]
    Missing,
    #[error("the token is not valid (unknown, revoked, expired or mistyped)")]
    Invalid,
    #[error("a {role:?} token may not do this (it needs {need:?})")]
    Forbidden { role: Role, need: Need },
    #[error("this token may not act on group {0:?}")]
    OtherGroup(String),
    #[error(transparent)]
    Kv(#[from] crate::kv::KvError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest_and_a_worker_token_reaches_no_api() {
        assert!(Role::Viewer.allows(Need::Read));
        assert!(!Role::Viewer.allows(Need::Operate));
        assert!(Role::Operator.allows(Need::Operate));
        assert!(!Role::Operator.allows(Need::Admin));
        assert!(Role::Admin.allows(Need::Admin));
        assert!(!Role::Worker.allows(Need::Read));
    }

    #[test]
    fn a_scoped_principal_sees_only_its_groups() {
        let p = Principal {
            id: "t".into(),
            role: Role::Viewer,
            groups: vec!["a".into()],
        };
        assert!(p.sees_group("a") && !p.sees_group("b") && p.is_scoped());
        assert!(Principal::local().sees_group("anything"));
    }
}
