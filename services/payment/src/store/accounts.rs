//! `accounts` and `account_history`.

use crate::domain::PayeeKind;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// An account as set by the township (validated).
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub holder_name: &'a str,
    pub account_number: &'a str,
    pub bank_code: &'a str,
    pub region_code: &'a str,
    pub holder_kind: PayeeKind,
    pub officer: &'a str,
    pub reason: &'a str,
}

/// Sets the member's account (a new version) and keeps the version in the history; returns the
/// version.
pub async fn set(
    tx: &mut PgConnection,
    member_id: Uuid,
    a: &NewAccount<'_>,
    at: DateTime<Utc>,
) -> sqlx::Result<i32> {
    let version: i32 = sqlx::query_scalar!(
        "INSERT INTO accounts (member_id, holder_name, account_number, bank_code, region_code, holder_kind, version, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)
         ON CONFLICT (member_id) DO UPDATE SET holder_name = EXCLUDED.holder_name,
             account_number = EXCLUDED.account_number, bank_code = EXCLUDED.bank_code,
             region_code = EXCLUDED.region_code, holder_kind = EXCLUDED.holder_kind,
             version = accounts.version + 1, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at
         RETURNING version",
        member_id,
        a.holder_name,
        a.account_number,
        a.bank_code,
        a.region_code,
        a.holder_kind as PayeeKind,
        a.officer,
        at,
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO account_history (member_id, version, holder_name, account_number, bank_code, region_code, holder_kind, officer, reason, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        member_id,
        version,
        a.holder_name,
        a.account_number,
        a.bank_code,
        a.region_code,
        a.holder_kind as PayeeKind,
        a.officer,
        a.reason,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(version)
}

#[derive(Debug)]
pub struct AccountRow {
    pub holder_name: String,
    pub account_number: String,
    pub bank_code: String,
    pub region_code: String,
    pub holder_kind: PayeeKind,
    pub version: i32,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

pub async fn get(db: &PgPool, member_id: Uuid) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as!(
        AccountRow,
        r#"SELECT holder_name, account_number, bank_code, region_code, holder_kind AS "holder_kind: PayeeKind",
                version, updated_by, updated_at
         FROM accounts WHERE member_id = $1"#,
        member_id,
    )
    .fetch_optional(db)
    .await
}

#[derive(Debug)]
pub struct HistoryRow {
    pub version: i32,
    pub account_number: String,
    pub bank_code: String,
    pub officer: String,
    pub reason: String,
    pub changed_at: DateTime<Utc>,
}

pub async fn history(db: &PgPool, member_id: Uuid) -> sqlx::Result<Vec<HistoryRow>> {
    sqlx::query_as!(
        HistoryRow,
        "SELECT version, account_number, bank_code, officer, reason, changed_at
         FROM account_history WHERE member_id = $1 ORDER BY version",
        member_id,
    )
    .fetch_all(db)
    .await
}
