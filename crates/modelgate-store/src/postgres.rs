//! The PostgreSQL backend, for several gateway replicas sharing one database.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub struct PgStore {
    pub(crate) pool: sqlx::PgPool,
}

impl PgStore {
    pub(crate) const BACKEND: &'static str = "postgres";

    /// Connects and runs migrations.
    pub async fn connect(url: &str) -> crate::StoreResult<Self> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with explicit options (tests use a private `search_path` schema).
    pub async fn connect_with(options: PgConnectOptions) -> crate::StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

crate::sql_impl::impl_store!(PgStore, sqlx::Postgres);
