//! Connecting to the service's own database, creating it when missing, and migrations.

use crate::settings::DatabaseSettings;
use anyhow::Context as _;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use std::str::FromStr;
use std::time::Duration;

/// The mesh's own tables (outbox, inbox), applied to every service database before the
/// service's migrations. Versions 1–999 belong to the mesh; services use timestamps.
pub static MESH_MIGRATOR: Migrator = sqlx::migrate!("./migrations");

pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(&settings.url)
        .context("database.url is not a PostgreSQL URL")?
        .application_name("relief-mesh");
    if settings.create_if_missing {
        create_database_if_missing(&options).await?;
    }
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .context("the service database is not reachable")
}

async fn create_database_if_missing(options: &PgConnectOptions) -> anyhow::Result<()> {
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let mut admin = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .context("PostgreSQL is not reachable")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut admin)
            .await
        {
            Ok(_) => {}
            // Another instance created it at the same moment.
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42P04") | Some("23505")) => {}
            Err(e) => return Err(e).context("the service database could not be created"),
        }
    }
    admin.close().await.ok();
    Ok(())
}

/// Applies the mesh's migrations, then the service's. Each migrator ignores the other's versions.
pub async fn migrate(pool: &PgPool, service: &Migrator) -> anyhow::Result<()> {
    for m in [&MESH_MIGRATOR, service] {
        let mut m = Migrator {
            migrations: m.migrations.clone(),
            ..Migrator::DEFAULT
        };
        m.set_ignore_missing(true);
        m.run(pool).await.context("migrations failed")?;
    }
    Ok(())
}
