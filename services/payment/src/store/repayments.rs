//! `repayment_plans`, `repayments`, `repayment_allocations`: what a household repays of its
//! recovery cases, and how each repayment was allocated.

use crate::domain::{InstructionKind, InstructionStatus};
use chrono::{DateTime, NaiveDate, Utc};
use mesh::auth::Actor;
use serde::Serialize;
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

/// A plan to open.
#[derive(Debug)]
pub struct NewPlan<'a> {
    pub plan_id: Uuid,
    pub household_id: Uuid,
    pub change_id: Uuid,
    pub fraud: bool,
    pub instalments: i32,
    pub first_due_month: &'a str,
    pub policy_version: &'a str,
}

/// Opens the plan; `false` when the change opened it already.
pub async fn open(tx: &mut PgConnection, p: &NewPlan<'_>, at: DateTime<Utc>) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO repayment_plans (plan_id, household_id, change_id, fraud, instalments, first_due_month,
             policy_version, opened_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        p.plan_id,
        p.household_id,
        p.change_id,
        p.fraud,
        p.instalments,
        p.first_due_month,
        p.policy_version,
        at,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A plan as stored.
#[derive(Debug, Clone)]
pub struct PlanRow {
    pub plan_id: Uuid,
    pub household_id: Uuid,
    pub change_id: Uuid,
    pub fraud: bool,
    pub instalments: i32,
    pub first_due_month: String,
    pub policy_version: String,
    pub opened_at: DateTime<Utc>,
}

/// The plans (of one household, when given) of the households whose region matches `patterns`,
/// oldest first.
pub async fn list(
    tx: &mut PgConnection,
    household_id: Option<Uuid>,
    patterns: &[String],
) -> sqlx::Result<Vec<PlanRow>> {
    sqlx::query_as!(
        PlanRow,
        "SELECT p.plan_id, p.household_id, p.change_id, p.fraud, p.instalments, p.first_due_month,
                p.policy_version, p.opened_at
         FROM repayment_plans p JOIN entitlements e USING (household_id)
         WHERE ($1::uuid IS NULL OR p.household_id = $1) AND e.region_code LIKE ANY($2::text[])
         ORDER BY p.opened_at, p.plan_id LIMIT 1000",
        household_id,
        patterns,
    )
    .fetch_all(&mut *tx)
    .await
}

/// The plan, locked for a repayment, when its household lies in `patterns`.
pub async fn lock(
    tx: &mut PgConnection,
    plan_id: Uuid,
    patterns: &[String],
) -> sqlx::Result<Option<PlanRow>> {
    sqlx::query_as!(
        PlanRow,
        "SELECT p.plan_id, p.household_id, p.change_id, p.fraud, p.instalments, p.first_due_month,
                p.policy_version, p.opened_at
         FROM repayment_plans p JOIN entitlements e USING (household_id)
         WHERE p.plan_id = $1 AND e.region_code LIKE ANY($2::text[])
         FOR UPDATE OF p",
        plan_id,
        patterns,
    )
    .fetch_optional(&mut *tx)
    .await
}

/// One recovery case of a plan, with the status of the payment it recovers.
#[derive(Debug, Clone, Serialize)]
pub struct PlanCase {
    pub recovery_id: Uuid,
    pub instruction_id: Uuid,
    pub beneficiary_member_id: Uuid,
    pub month: String,
    pub kind: InstructionKind,
    pub amount_fen: i64,
    pub recovered_fen: i64,
    pub payment_status: InstructionStatus,
    /// The payment was never sent and never will be: recovery cases cover all of it (a file
    /// withholds it), so nothing was obtained.
    pub withheld: bool,
}

/// The cases the plan's change opened, oldest month first.
pub async fn cases(tx: &mut PgConnection, plan_id: Uuid) -> sqlx::Result<Vec<PlanCase>> {
    sqlx::query_as!(
        PlanCase,
        r#"SELECT r.recovery_id, r.instruction_id, r.beneficiary_member_id, r.month,
                r.kind AS "kind: InstructionKind", r.amount_fen, r.recovered_fen,
                i.status AS "payment_status: InstructionStatus",
                (i.status = 'instructed' AND
                 (SELECT sum(o.amount_fen) FROM recoveries o
                   WHERE o.instruction_id = i.instruction_id AND o.status <> 'waived') >= i.amount_fen) AS "withheld!"
         FROM repayment_plans p
         JOIN recoveries r ON r.household_id = p.household_id AND r.change_id = p.change_id
         JOIN instructions i ON i.instruction_id = r.instruction_id
         WHERE p.plan_id = $1 AND r.status <> 'waived'
         ORDER BY r.month, r.kind, r.instruction_id"#,
        plan_id,
    )
    .fetch_all(&mut *tx)
    .await
}

/// A repayment received.
#[derive(Debug, Clone, Serialize)]
pub struct Repayment {
    pub repayment_id: Uuid,
    pub amount_fen: i64,
    pub reference: String,
    pub received_on: NaiveDate,
    pub posted_by: Json<Actor>,
    pub posted_at: DateTime<Utc>,
}

/// The plan's repayments, in the order received.
pub async fn repayments(tx: &mut PgConnection, plan_id: Uuid) -> sqlx::Result<Vec<Repayment>> {
    sqlx::query_as!(
        Repayment,
        r#"SELECT repayment_id, amount_fen, reference, received_on,
                posted_by AS "posted_by: Json<Actor>", posted_at
         FROM repayments WHERE plan_id = $1 ORDER BY posted_at, repayment_id"#,
        plan_id,
    )
    .fetch_all(&mut *tx)
    .await
}

/// Records a repayment (its reference not yet used for the plan: the caller checked).
pub async fn insert(tx: &mut PgConnection, plan_id: Uuid, r: &Repayment) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO repayments (repayment_id, plan_id, amount_fen, reference, received_on, posted_by, posted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        r.repayment_id,
        plan_id,
        r.amount_fen,
        r.reference,
        r.received_on,
        Json(&r.posted_by.0) as _,
        r.posted_at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Allocates `amount_fen` of a repayment to a case: the case's recovered amount grows, and a case
/// recovered in full is `recovered`.
pub async fn allocate(
    tx: &mut PgConnection,
    repayment_id: Uuid,
    recovery_id: Uuid,
    amount_fen: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO repayment_allocations (repayment_id, recovery_id, amount_fen) VALUES ($1, $2, $3)",
        repayment_id,
        recovery_id,
        amount_fen,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE recoveries SET recovered_fen = recovered_fen + $2,
             status = CASE WHEN recovered_fen + $2 = amount_fen THEN 'recovered' ELSE status END
         WHERE recovery_id = $1",
        recovery_id,
        amount_fen,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
