//! Connecting to the service's own database, creating it when missing, and migrations.

use crate::settings::DatabaseSettings;
use anyhow::Context as _;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection, PgPool};
use std::str::FromStr;
use std::time::Duration;

/// The mesh's own tables (outbox, inbox), applied to every service database before the
/// service's migrations. Versions 1–999 belong to the mesh; services use timestamps.
pub static MESH_MIGRATOR: Migrator = sqlx::migrate!("./migrations");

pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    let mut options = PgConnectOptions::from_str(&settings.url)
        .context("database.url is not a PostgreSQL URL")?
        .application_name("relief-mesh");
    if !settings.ssl_mode.is_empty() {
        let mode = PgSslMode::from_str(&settings.ssl_mode)
            .context("database.ssl_mode is not a libpq sslmode")?;
        options = options.ssl_mode(mode);
    }
    if !settings.ssl_root_cert.is_empty() {
        options = options.ssl_root_cert(settings.ssl_root_cert.as_str());
    }
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

/// A unit-variant enum of a crate without SQL (`policy::Tier`, `contract::FeedbackOutcome`)
/// stored as text under its serde name: the same string as in the JSON. Reading a value the
/// enum does not name is a decode error, never a default. Services' own enums derive
/// `sqlx::Type` instead; this is for types the orphan rule keeps a service from deriving on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Text<T>(pub T);

impl<T> sqlx::Type<sqlx::Postgres> for Text<T> {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'r, T: serde::de::DeserializeOwned> sqlx::Decode<'r, sqlx::Postgres> for Text<T> {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let s = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map(Text)
            .map_err(|e| {
                format!("{s:?} is not a stored {}: {e}", std::any::type_name::<T>()).into()
            })
    }
}

impl<T: serde::Serialize> sqlx::Encode<'_, sqlx::Postgres> for Text<T> {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        let serde_json::Value::String(s) = serde_json::to_value(&self.0)? else {
            return Err(format!(
                "{} is stored as text, but does not serialise to a string",
                std::any::type_name::<T>()
            )
            .into());
        };
        <String as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&s, buf)
    }
}

impl<T> std::ops::Deref for Text<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Text;

    #[test]
    fn text_uses_the_serde_name() {
        let t: Text<policy::Tier> = serde_json::from_str("\"single_person_dibao\"").unwrap();
        assert_eq!(t.0, policy::Tier::SinglePersonDibao);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"single_person_dibao\""
        );
    }
}
