//! Why a history operation failed.
//!
//! The history database is outside Forest's control (a user's MySQL, a file on a full disk), so
//! every failure names what was being done and, where it matters, which database: the node logs
//! it and keeps scheduling, the API turns it into a 5xx with this text.

/// Every error the history store returns.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("unsupported history URL {0:?}: expected sqlite://PATH, mysql://… or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot open the history database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error(
        "history database schema version {found} is newer than this forest binary understands \
         ({known}); upgrade forest or point --history-url at another database"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error(
        "cannot take the history migration lock: another node has held it for an hour, or \
         the database refused it"
    )]
    MigrationLock,
    #[error("history schema migration to version {version} failed: {source}")]
    Migrate { version: i64, source: sqlx::Error },
    #[error("history database error while {doing}: {source}")]
    Db {
        doing: &'static str,
        source: sqlx::Error,
    },
}

impl HistoryError {
    /// A closure for `map_err` that names the operation.
    pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Db { doing, source }
    }
}

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, HistoryError>;
