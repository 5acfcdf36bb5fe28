//! `recoveries`: overpayment recovery cases.

use crate::domain::{InstructionKind, RecoveryStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
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

/// Opens the case; `false` when the instruction has one already.
pub async fn insert(
    tx: &mut PgConnection,
    r: &NewRecovery<'_>,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "INSERT INTO recoveries (recovery_id, instruction_id, household_id, beneficiary_member_id, month, kind,
             amount_fen, reason, change_id, opened_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
    )
    .bind(r.recovery_id)
    .bind(r.instruction_id)
    .bind(r.household_id)
    .bind(r.beneficiary_member_id)
    .bind(r.month)
    .bind(r.kind)
    .bind(r.amount_fen)
    .bind(r.reason)
    .bind(r.change_id)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RecoveryView {
    pub recovery_id: Uuid,
    pub instruction_id: Uuid,
    pub household_id: Uuid,
    pub beneficiary_member_id: Uuid,
    pub month: String,
    pub kind: InstructionKind,
    pub amount_fen: i64,
    pub reason: String,
    pub change_id: Uuid,
    pub status: RecoveryStatus,
    pub opened_at: DateTime<Utc>,
}

pub async fn list(db: &PgPool, household_id: Option<Uuid>) -> sqlx::Result<Vec<RecoveryView>> {
    sqlx::query_as(
        "SELECT recovery_id, instruction_id, household_id, beneficiary_member_id, month, kind, amount_fen,
                reason, change_id, status, opened_at
         FROM recoveries WHERE $1::uuid IS NULL OR household_id = $1
         ORDER BY opened_at, month, instruction_id LIMIT 1000",
    )
    .bind(household_id)
    .fetch_all(db)
    .await
}
