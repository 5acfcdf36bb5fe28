//! Payment's SQL.

use chrono::{DateTime, NaiveDate, Utc};
use contract::InstructionCreated;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Records the instruction; `false` when one for the same beneficiary, month and kind exists.
pub async fn insert_instruction(
    tx: &mut PgConnection,
    household_id: &Uuid,
    chain_id: &Uuid,
    source_event_id: &str,
    i: &InstructionCreated,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "INSERT INTO instructions (instruction_id, household_id, chain_id, beneficiary_member_id, month, kind, amount_fen, due_date,
             policy_version, status, source_event_id, payee, reference)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'instructed', $10, $11, $12) ON CONFLICT DO NOTHING",
    )
    .bind(i.instruction_id)
    .bind(household_id)
    .bind(chain_id)
    .bind(i.beneficiary_member_id)
    .bind(&i.month)
    .bind(&i.kind)
    .bind(i.amount_fen)
    .bind(i.due_date)
    .bind(&i.policy_version)
    .bind(source_event_id)
    .bind(match i.payee {
        policy::determination::Payee::Person => "person",
        policy::determination::Payee::CareInstitution => "care_institution",
    })
    .bind(&i.reference)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct InstructionView {
    pub instruction_id: Uuid,
    pub beneficiary_member_id: Uuid,
    pub month: String,
    pub kind: String,
    pub amount_fen: i64,
    pub due_date: NaiveDate,
    pub policy_version: String,
    pub payee: String,
    pub reference: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

pub async fn by_household(db: &PgPool, household_id: Uuid) -> sqlx::Result<Vec<InstructionView>> {
    sqlx::query_as(
        "SELECT instruction_id, beneficiary_member_id, month, kind, amount_fen, due_date, policy_version, payee, reference, status, created_at
         FROM instructions WHERE household_id = $1 ORDER BY month, kind, instruction_id",
    )
    .bind(household_id)
    .fetch_all(db)
    .await
}
