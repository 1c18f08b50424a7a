//! The first administrator token: without one nobody could make any token once `--auth` is on.
//!
//! On the cluster's first start with `--auth` each node tries to create the token with the
//! fixed id [`BOOTSTRAP_ID`]; the one whose create-if-absent write wins keeps the token in
//! `admin.token` in its data directory (mode 0600) and logs only the file's path. The file is
//! written before the token is stored, so a crash in between leaves a file that does not yet
//! work rather than a stored token nobody holds; the next start makes it good. With
//! `--admin-token-file` the operator's own token is stored instead.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::tokens::{NewToken, Tokens, BOOTSTRAP_ID};
use super::{AuthError, Role};

/// The file the generated token is written to, in the data directory.
pub const FILE: &str = "admin.token";

#[derive(Debug, thiserror::Error)]
enum BootstrapError {
    #[error("cannot read or write {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the token in {0} is not a Forest token (fst_<id>_<secret>)")]
    Malformed(PathBuf),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Kv(#[from] crate::kv::KvError),
}

fn admin() -> NewToken {
    NewToken {
        name: "first administrator".into(),
        role: Role::Admin,
        groups: vec![],
        expires_at: None,
    }
}

/// Retries until the cluster has its administrator token.
pub async fn run(tokens: Tokens, data_dir: PathBuf, from_file: Option<PathBuf>) {
    loop {
        let done = match &from_file {
            Some(path) => adopt(&tokens, path).await,
            None => generate(&tokens, &data_dir).await,
        };
        match done {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "administrator token not set up yet");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn read(path: &Path) -> Result<String, BootstrapError> {
    std::fs::read_to_string(path)
        .map(|t| t.trim().to_string())
        .map_err(|source| BootstrapError::File {
            path: path.to_path_buf(),
            source,
        })
}

async fn adopt(tokens: &Tokens, path: &Path) -> Result<(), BootstrapError> {
    let token = read(path)?;
    match tokens.adopt(admin(), &token).await {
        Ok(Some(_)) => tracing::info!(file = %path.display(), "administrator token stored"),
        Ok(None) if tokens.verify(&token).await.is_ok() => {}
        Ok(None) => tracing::warn!(
            file = %path.display(),
            "a token with that file's id exists with another secret: the file's token does not work"
        ),
        Err(AuthError::Invalid) => return Err(BootstrapError::Malformed(path.to_path_buf())),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

async fn generate(tokens: &Tokens, data_dir: &Path) -> Result<(), BootstrapError> {
    let path = data_dir.join(FILE);
    if path.exists() && tokens.verify(&read(&path)?).await.is_ok() {
        return Ok(());
    }
    if tokens.exists(BOOTSTRAP_ID).await? {
        return Ok(()); // another node made it
    }
    let (secret, token) = super::tokens::generated(BOOTSTRAP_ID);
    write_private(&path, &token)?;
    match tokens.store(admin(), BOOTSTRAP_ID, &secret).await? {
        Some(_) => tracing::info!(
            file = %path.display(),
            "administrator token written to this file (it is not logged: keep the file safe)"
        ),
        None => {
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(())
}

/// Writes `text` to a file only its owner can read.
fn write_private(path: &Path, text: &str) -> Result<(), BootstrapError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| BootstrapError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path).map_err(err)?;
    f.write_all(format!("{text}\n").as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)
}
