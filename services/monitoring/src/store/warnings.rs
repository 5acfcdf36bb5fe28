//! Table `warnings`: raised once per `dedupe_key`, verified, disposed of, escalated.

use crate::domain::{Disposition, WarningKind, WarningStatus};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A warning to raise. `dedupe_key` names what raised it, so a redelivery raises it once.
#[derive(Debug, Clone)]
pub struct NewWarning {
    pub dedupe_key: String,
    pub kind: WarningKind,
    pub household_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub township_code: String,
    /// Ids, amounts and reasons only: never names or ID numbers.
    pub detail: Value,
    pub verify_due: NaiveDate,
    /// When it is raised, by the service's clock.
    pub raised_at: DateTime<Utc>,
}

/// The warning id of a `dedupe_key`.
pub fn warning_id(dedupe_key: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, dedupe_key.as_bytes())
}

/// Raises the warning in the caller's transaction; returns its id, and `false` when a warning
/// with the same `dedupe_key` already existed (its id is returned unchanged).
pub async fn raise(tx: &mut PgConnection, w: &NewWarning) -> sqlx::Result<(Uuid, bool)> {
    let id = warning_id(&w.dedupe_key);
    let inserted = sqlx::query!(
        "INSERT INTO warnings (warning_id, dedupe_key, kind, household_id, member_id, township_code, detail, verify_due, raised_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedupe_key) DO NOTHING",
        id,
        w.dedupe_key,
        w.kind as WarningKind,
        w.household_id,
        w.member_id,
        w.township_code,
        w.detail,
        w.verify_due,
        w.raised_at,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok((id, inserted == 1))
}

/// A warning as staff see it: who verified and disposed of it, and when.
#[derive(Debug, Clone, Serialize)]
pub struct WarningView {
    pub warning_id: Uuid,
    pub kind: WarningKind,
    pub household_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub township_code: String,
    pub detail: Value,
    pub status: WarningStatus,
    pub verify_due: NaiveDate,
    /// Open past `verify_due` (as of today); the queries select `false`, `with_overdue` sets it.
    pub overdue: bool,
    pub raised_at: DateTime<Utc>,
    pub escalated_at: Option<DateTime<Utc>>,
    /// The county (6-digit code) it was escalated to.
    pub escalated_to: Option<String>,
    pub verified_by: Option<String>,
    pub verified_at: Option<DateTime<Utc>>,
    pub finding: Option<String>,
    pub disposition: Option<Disposition>,
    pub disposed_by: Option<String>,
    pub disposed_at: Option<DateTime<Utc>>,
    pub disposal_detail: Option<Value>,
}

fn with_overdue(mut w: WarningView, today: NaiveDate) -> WarningView {
    w.overdue = w.status == WarningStatus::Open && w.verify_due < today;
    w
}

/// What `GET /v1/warnings` selects; every field optional.
#[derive(Debug, Default)]
pub struct Filter {
    /// Region code prefix: a township's own, or every township of a county.
    pub township: Option<String>,
    pub status: Option<WarningStatus>,
    pub overdue: Option<bool>,
    pub escalated: Option<bool>,
    pub kind: Option<WarningKind>,
    pub household_id: Option<Uuid>,
    /// "Today" for `overdue`.
    pub as_of: NaiveDate,
    pub limit: i64,
}

pub async fn list(db: &PgPool, f: &Filter) -> sqlx::Result<Vec<WarningView>> {
    let rows: Vec<WarningView> = sqlx::query_as!(
        WarningView,
        r#"SELECT warning_id, kind AS "kind: WarningKind", household_id, member_id, township_code, detail,
                status AS "status: WarningStatus", verify_due, false AS "overdue!", raised_at, escalated_at, escalated_to,
                verified_by, verified_at, finding, disposition AS "disposition: Disposition", disposed_by, disposed_at, disposal_detail
         FROM warnings
         WHERE ($1::text IS NULL OR township_code LIKE $1 || '%')
           AND ($2::text IS NULL OR status = $2)
           AND ($3::bool IS NULL OR $3 = (status = 'open' AND verify_due < $4))
           AND ($5::bool IS NULL OR $5 = (escalated_at IS NOT NULL))
           AND ($6::text IS NULL OR kind = $6)
           AND ($7::uuid IS NULL OR household_id = $7)
         ORDER BY raised_at, warning_id LIMIT $8"#,
        f.township.as_deref(),
        f.status as Option<WarningStatus>,
        f.overdue,
        f.as_of,
        f.escalated,
        f.kind as Option<WarningKind>,
        f.household_id,
        f.limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|w| with_overdue(w, f.as_of)).collect())
}

pub async fn get(db: &PgPool, id: Uuid, today: NaiveDate) -> sqlx::Result<Option<WarningView>> {
    let row: Option<WarningView> = sqlx::query_as!(
        WarningView,
        r#"SELECT warning_id, kind AS "kind: WarningKind", household_id, member_id, township_code, detail,
                status AS "status: WarningStatus", verify_due, false AS "overdue!", raised_at, escalated_at, escalated_to,
                verified_by, verified_at, finding, disposition AS "disposition: Disposition", disposed_by, disposed_at, disposal_detail
         FROM warnings WHERE warning_id = $1"#,
        id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|w| with_overdue(w, today)))
}

pub async fn locked(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<WarningView>> {
    sqlx::query_as!(
        WarningView,
        r#"SELECT warning_id, kind AS "kind: WarningKind", household_id, member_id, township_code, detail,
                status AS "status: WarningStatus", verify_due, false AS "overdue!", raised_at, escalated_at, escalated_to,
                verified_by, verified_at, finding, disposition AS "disposition: Disposition", disposed_by, disposed_at, disposal_detail
         FROM warnings WHERE warning_id = $1 FOR UPDATE"#,
        id,
    )
    .fetch_optional(&mut *tx)
    .await
}

/// Verified on site by `officer`, who found `finding`.
pub async fn set_verified(
    tx: &mut PgConnection,
    id: Uuid,
    officer: &str,
    finding: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE warnings SET status = $5, verified_by = $2, verified_at = $4, finding = $3 WHERE warning_id = $1",
        id,
        officer,
        finding,
        at,
        WarningStatus::Verified as WarningStatus,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Disposed of by `officer`, one of the four ways, with what came of it.
pub async fn set_disposed(
    tx: &mut PgConnection,
    id: Uuid,
    disposition: Disposition,
    officer: &str,
    detail: Value,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE warnings SET status = $6, disposition = $2, disposed_by = $3, disposed_at = $5, disposal_detail = $4
         WHERE warning_id = $1",
        id,
        disposition as Disposition,
        officer,
        detail,
        at,
        WarningStatus::Disposed as WarningStatus,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Every warning still open past its `verify_due` before `as_of`, not escalated yet, goes to its
/// county; returns how many.
pub async fn escalate_overdue(
    tx: &mut PgConnection,
    as_of: NaiveDate,
    at: DateTime<Utc>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "UPDATE warnings SET escalated_at = $2, escalated_to = left(township_code, 6)
         WHERE status = 'open' AND escalated_at IS NULL AND verify_due < $1",
        as_of,
        at,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected())
}
