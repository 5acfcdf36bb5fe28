//! Warnings (预警): the one way every rule, report and deadline sweep asks a township to look.
//!
//! A warning is raised once per `dedupe_key`, assigned to a township, due for on-site
//! verification by `verify_due`, then disposed of in one of the four ways the texts name.

use chrono::NaiveDate;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// A warning to raise. `dedupe_key` names what raised it, so a redelivery raises it once.
#[derive(Debug, Clone)]
pub struct NewWarning {
    pub dedupe_key: String,
    pub kind: String,
    pub household_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub township_code: String,
    /// Ids, amounts and reasons only: never names or ID numbers.
    pub detail: Value,
    pub verify_due: NaiveDate,
}

/// Raises the warning in the caller's transaction; returns its id, and `false` when a warning
/// with the same `dedupe_key` already existed (its id is returned unchanged).
pub async fn raise(tx: &mut PgConnection, w: &NewWarning) -> sqlx::Result<(Uuid, bool)> {
    let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, w.dedupe_key.as_bytes());
    let inserted = sqlx::query(
        "INSERT INTO warnings (warning_id, dedupe_key, kind, household_id, member_id, township_code, detail, verify_due)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(id)
    .bind(&w.dedupe_key)
    .bind(&w.kind)
    .bind(w.household_id)
    .bind(w.member_id)
    .bind(&w.township_code)
    .bind(&w.detail)
    .bind(w.verify_due)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok((id, inserted == 1))
}
