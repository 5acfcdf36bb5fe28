//! `corrections`: rejected or returned payments waiting for a corrected account.

use crate::domain::{CorrectionStatus, InstructionKind, PayeeKind};
use chrono::{DateTime, NaiveDate, Utc};
use mesh::auth::Actor;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Opens (or updates) the correction of a rejected or returned instruction.
pub async fn open(
    tx: &mut PgConnection,
    instruction_id: Uuid,
    member_id: Uuid,
    status: CorrectionStatus,
    reason: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO corrections (instruction_id, member_id, status, reason, opened_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (instruction_id) DO UPDATE
         SET status = EXCLUDED.status, reason = EXCLUDED.reason",
        instruction_id,
        member_id,
        status as CorrectionStatus,
        reason,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// An open correction's original instruction, as a new instruction repeats it.
#[derive(Debug)]
pub struct OpenCorrection {
    pub instruction_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub beneficiary_member_id: Uuid,
    pub month: String,
    pub kind: InstructionKind,
    pub amount_fen: i64,
    pub due_date: NaiveDate,
    pub policy_version: String,
    pub payee: PayeeKind,
}

/// The member's open corrections, oldest first, locked.
pub async fn lock_open_of(
    tx: &mut PgConnection,
    member_id: Uuid,
) -> sqlx::Result<Vec<OpenCorrection>> {
    sqlx::query_as!(
        OpenCorrection,
        r#"SELECT i.instruction_id, i.household_id, i.chain_id, i.beneficiary_member_id, i.month,
                i.kind AS "kind: InstructionKind", i.amount_fen, i.due_date, i.policy_version,
                i.payee AS "payee: PayeeKind"
         FROM corrections c JOIN instructions i USING (instruction_id)
         WHERE c.member_id = $1 AND c.resolved_at IS NULL
         ORDER BY c.opened_at FOR UPDATE OF c"#,
        member_id,
    )
    .fetch_all(&mut *tx)
    .await
}

pub async fn resolve(
    tx: &mut PgConnection,
    instruction_id: Uuid,
    by: &Actor,
    new_instruction_id: Uuid,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE corrections SET resolved_at = $4, resolved_by = $2, resolved_by_sub = $5, new_instruction_id = $3
         WHERE instruction_id = $1",
        instruction_id,
        by.name,
        new_instruction_id,
        at,
        by.sub,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Correction {
    pub instruction_id: Uuid,
    pub member_id: Uuid,
    pub household_id: Uuid,
    pub month: String,
    pub kind: InstructionKind,
    pub amount_fen: i64,
    /// `rejected` or `returned`.
    pub status: CorrectionStatus,
    /// The bank's reason code (AC01 incorrect account number, AC04 closed account, …).
    pub reason: String,
    pub opened_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The name of the officer whose confirmed account change resolved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    /// That officer's token subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by_sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_instruction_id: Option<Uuid>,
}

/// The open corrections (or all of them) of the households whose region matches `patterns`.
pub async fn list(db: &PgPool, all: bool, patterns: &[String]) -> sqlx::Result<Vec<Correction>> {
    sqlx::query_as!(
        Correction,
        r#"SELECT c.instruction_id, c.member_id, i.household_id, i.month, i.kind AS "kind: InstructionKind",
                i.amount_fen, c.status AS "status: CorrectionStatus", c.reason,
                c.opened_at, c.resolved_at, c.resolved_by, c.resolved_by_sub, c.new_instruction_id
         FROM corrections c JOIN instructions i USING (instruction_id)
              JOIN entitlements e ON e.household_id = i.household_id
         WHERE ($1 OR c.resolved_at IS NULL) AND e.region_code LIKE ANY($2::text[])
         ORDER BY c.opened_at, c.instruction_id LIMIT 1000"#,
        all,
        patterns,
    )
    .fetch_all(db)
    .await
}
