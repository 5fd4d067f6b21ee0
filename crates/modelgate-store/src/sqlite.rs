//! The embedded SQLite backend: one file in the data dir, WAL journal,
//! `synchronous=NORMAL` (survives a process kill; see docs for power loss), a busy
//! timeout, foreign keys on.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;

pub struct SqliteStore {
    pub(crate) pool: sqlx::SqlitePool,
}

impl SqliteStore {
    pub(crate) const BACKEND: &'static str = "sqlite";

    /// Opens (creating if needed) the database file and runs migrations.
    pub async fn open(path: &Path) -> crate::StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

crate::sql_impl::impl_store!(SqliteStore, sqlx::Sqlite);
