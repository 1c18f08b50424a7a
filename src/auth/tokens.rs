//! API tokens in the replicated KV: created with a random secret shown once, stored as the
//! secret's SHA-256, listed without it, revoked by deleting the record, checked in constant
//! time.

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AuthError, Principal, Role};
use crate::kv::ops::{delete, exists, mod_revision_is, prefix_range, put};
use crate::kv::{Kv, KvError};
use crate::model::keys;
use crate::pb::kv::TxnRequest;

/// What every token starts with, so a leaked one is recognisable (and greppable).
const PREFIX: &str = "fst_";

/// The id of the administrator token a cluster makes for itself on its first start.
pub const BOOTSTRAP_ID: &str = "admin";

/// A token as stored and as listed (the hash is never sent out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub id: String,
    /// For people: what the token is for.
    #[serde(default)]
    pub name: String,
    pub role: Role,
    /// Empty: every group.
    #[serde(default)]
    pub groups: Vec<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Hex SHA-256 of the secret.
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub hash: String,
}

/// A stored record: the same fields, the hash included (what goes into the KV).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stored<'a> {
    #[serde(flatten)]
    record: &'a TokenRecord,
    hash: &'a str,
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh secret for `id`, and the token text that carries both.
pub fn generated(id: &str) -> (String, String) {
    let secret = random_hex(32);
    let token = format!("{PREFIX}{id}_{secret}");
    (secret, token)
}

/// `fst_<id>_<secret>` → (id, secret).
fn split(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.rsplit_once('_')?;
    (!id.is_empty() && !secret.is_empty() && keys::is_valid_segment(id)).then_some((id, secret))
}

/// What to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewToken {
    #[serde(default)]
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct Tokens {
    kv: Kv,
}

impl Tokens {
    pub fn new(kv: Kv) -> Self {
        Tokens { kv }
    }

    /// Stores a new token under a fresh id, returning its record and the token text, which
    /// exists nowhere else from then on. `Ok(None)` in the unlikely case the id was taken.
    pub async fn create(&self, new: NewToken) -> Result<Option<(TokenRecord, String)>, KvError> {
        let id = random_hex(8);
        let (secret, token) = generated(&id);
        self.store(new, &id, &secret)
            .await
            .map(|r| r.map(|r| (r, token)))
    }

    /// Stores `token` (made elsewhere, e.g. read from `--admin-token-file`) as given; `Ok(None)`
    /// when its id is taken.
    pub async fn adopt(
        &self,
        new: NewToken,
        token: &str,
    ) -> Result<Option<TokenRecord>, AuthError> {
        let (id, secret) = split(token).ok_or(AuthError::Invalid)?;
        Ok(self.store(new, id, secret).await?)
    }

    /// Stores a token with `id` and `secret`; `Ok(None)` when the id is taken.
    pub async fn store(
        &self,
        new: NewToken,
        id: &str,
        secret: &str,
    ) -> Result<Option<TokenRecord>, KvError> {
        let record = TokenRecord {
            id: id.to_string(),
            name: new.name,
            role: new.role,
            groups: new.groups,
            created_at: Utc::now(),
            expires_at: new.expires_at,
            hash: hash(secret),
        };
        let key = keys::token(id);
        let value = serde_json::to_string(&Stored {
            record: &record,
            hash: &record.hash,
        })
        .map_err(|e| KvError::Internal(e.to_string()))?;
        let txn = TxnRequest {
            compare: vec![mod_revision_is(&key, 0)],
            success: vec![put(key, value)],
            failure: vec![],
        };
        Ok(self.kv.txn(txn).await?.succeeded.then_some(record))
    }

    /// Every token, without secrets or hashes.
    pub async fn list(&self) -> Result<Vec<TokenRecord>, KvError> {
        let kvs = self.kv.range(prefix_range(keys::TOKEN_PREFIX)).await?.kvs;
        Ok(kvs
            .iter()
            .filter_map(|kv| serde_json::from_slice::<TokenRecord>(&kv.value).ok())
            .map(|r| TokenRecord {
                hash: String::new(),
                ..r
            })
            .collect())
    }

    /// Deletes a token; whether it existed.
    pub async fn revoke(&self, id: &str) -> Result<bool, KvError> {
        let key = keys::token(id);
        let txn = TxnRequest {
            compare: vec![exists(&key)],
            success: vec![delete(key)],
            failure: vec![],
        };
        Ok(self.kv.txn(txn).await?.succeeded)
    }

    /// Whether a token with `id` exists.
    pub async fn exists(&self, id: &str) -> Result<bool, KvError> {
        Ok(self.kv.get(&keys::token(id), true).await?.is_some())
    }

    /// Who `token` is: read from this node's applied state (a revoked token stops working
    /// once the revocation reaches the node, within a heartbeat or so).
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let (id, secret) = split(token).ok_or(AuthError::Invalid)?;
        let kv = self
            .kv
            .get(&keys::token(id), true)
            .await?
            .ok_or(AuthError::Invalid)?;
        let record: TokenRecord =
            serde_json::from_slice(&kv.value).map_err(|_| AuthError::Invalid)?;
        let matches: bool = hash(secret).as_bytes().ct_eq(record.hash.as_bytes()).into();
        let live = record.expires_at.is_none_or(|t| t > Utc::now());
        if !matches || !live {
            return Err(AuthError::Invalid);
        }
        Ok(Principal {
            id: record.id,
            role: record.role,
            groups: record.groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_splits_into_id_and_secret_and_junk_does_not() {
        assert_eq!(split("fst_abc_def"), Some(("abc", "def")));
        for junk in [
            "",
            "fst_",
            "fst_abc",
            "fst__def",
            "xyz_abc_def",
            "fst_a/b_c",
        ] {
            assert_eq!(split(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_listed_record_never_carries_the_hash() {
        let r = TokenRecord {
            id: "i".into(),
            name: String::new(),
            role: Role::Viewer,
            groups: vec![],
            created_at: Utc::now(),
            expires_at: None,
            hash: "secret-hash".into(),
        };
        assert!(!serde_json::to_string(&r)
            .unwrap_or_default()
            .contains("secret-hash"));
    }
}
