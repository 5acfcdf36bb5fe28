//! `recoveries`: overpayment recovery cases.

use crate::domain::{InstructionKind, RecoveryStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use uuid::Uuid;

/// A case to open.
#[derive(Debug)]
pub struct NewRecovery<'a> {
    pub recovery_id: Uuid,
    pub instruction_id: Uuid,
    pub household_id: Uuid,
    pub beneficiary_member_id: Uuid,
    pub month: &'a str,
    pub kind: InstructionKind,
    pub amount_fen: i64,
    pub reason: &'a str,
    pub change_id: Uuid,
}

/// Opens the case; `false` when the instruction has one for the change already.
pub async fn insert(
    tx: &mut PgConnection,
    r: &NewRecovery<'_>,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO recoveries (recovery_id, instruction_id, household_id, beneficiary_member_id, month, kind,
             amount_fen, reason, change_id, opened_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        r.recovery_id,
        r.instruction_id,
        r.household_id,
        r.beneficiary_member_id,
        r.month,
        r.kind as InstructionKind,
        r.amount_fen,
        r.reason,
        r.change_id,
        at,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// What is being recovered (open or recovered, not waived) of each of the household's
/// instructions for `from` and later months, by instruction id.
pub async fn recovering(
    tx: &mut PgConnection,
    household_id: Uuid,
    from: &str,
) -> sqlx::Result<HashMap<Uuid, i64>> {
    let rows = sqlx::query!(
        r#"SELECT instruction_id, SUM(amount_fen)::bigint AS "amount_fen!" FROM recoveries
         WHERE household_id = $1 AND month >= $2 AND status <> 'waived'
         GROUP BY instruction_id"#,
        household_id,
        from,
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.instruction_id, r.amount_fen))
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryView {
    pub recovery_id: Uuid,
    pub instruction_id: Uuid,
    pub household_id: Uuid,
    pub beneficiary_member_id: Uuid,
    pub month: String,
    pub kind: InstructionKind,
    pub amount_fen: i64,
    /// What repayments booked through the case's plan have recovered of it.
    pub recovered_fen: i64,
    pub reason: String,
    pub change_id: Uuid,
    pub status: RecoveryStatus,
    pub opened_at: DateTime<Utc>,
}

/// The cases (of one household, when given) of the households whose region matches `patterns`.
pub async fn list(
    db: &PgPool,
    household_id: Option<Uuid>,
    patterns: &[String],
) -> sqlx::Result<Vec<RecoveryView>> {
    sqlx::query_as!(
        RecoveryView,
        r#"SELECT r.recovery_id, r.instruction_id, r.household_id, r.beneficiary_member_id, r.month,
                r.kind AS "kind: InstructionKind", r.amount_fen, r.recovered_fen, r.reason, r.change_id,
                r.status AS "status: RecoveryStatus", r.opened_at
         FROM recoveries r JOIN entitlements e USING (household_id)
         WHERE ($1::uuid IS NULL OR r.household_id = $1) AND e.region_code LIKE ANY($2::text[])
         ORDER BY r.opened_at, r.month, r.instruction_id LIMIT 1000"#,
        household_id,
        patterns,
    )
    .fetch_all(db)
    .await
}
