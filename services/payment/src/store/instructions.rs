//! `instructions` and `instruction_status_history`.

use crate::domain::{InstructionKind, InstructionStatus, PayeeKind};
use chrono::{DateTime, NaiveDate, Utc};
use contract::InstructionCreated;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use std::collections::HashSet;
use uuid::Uuid;

/// The W3C trace context an instruction is made in, kept with it: its status events continue it.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

impl Trace {
    /// The current span's.
    pub fn current() -> Self {
        let (traceparent, tracestate) = mesh::telemetry::current_trace_headers();
        Self {
            traceparent,
            tracestate,
        }
    }
}

/// Records the instruction, made in the current trace; `false` when one for the same
/// beneficiary, month and kind exists.
pub async fn insert_instruction(
    tx: &mut PgConnection,
    household_id: &Uuid,
    chain_id: &Uuid,
    source_event_id: &str,
    i: &InstructionCreated,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let trace = Trace::current();
    let n = sqlx::query!(
        "INSERT INTO instructions (instruction_id, household_id, chain_id, beneficiary_member_id, month, kind, amount_fen, due_date,
             policy_version, status, source_event_id, payee, reference, created_at, traceparent, tracestate)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING",
        i.instruction_id,
        household_id,
        chain_id,
        i.beneficiary_member_id,
        i.month.to_string(),
        i.kind,
        i.amount_fen,
        i.due_date,
        i.policy_version,
        InstructionStatus::Instructed as InstructionStatus,
        source_event_id,
        PayeeKind::from(i.payee) as PayeeKind,
        i.reference,
        at,
        trace.traceparent,
        trace.tracestate,
    )
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Many instructions of one month, column by column (one statement for a run's chunk).
#[derive(Debug, Default)]
pub struct NewInstructions {
    pub instruction_id: Vec<Uuid>,
    pub household_id: Vec<Uuid>,
    pub chain_id: Vec<Uuid>,
    pub beneficiary: Vec<Uuid>,
    pub kind: Vec<String>,
    pub amount_fen: Vec<i64>,
    pub due_date: Vec<NaiveDate>,
    pub policy_version: Vec<String>,
    pub source_event_id: Vec<String>,
    pub payee: Vec<String>,
    pub reference: Vec<String>,
}

impl NewInstructions {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            instruction_id: Vec::with_capacity(n),
            household_id: Vec::with_capacity(n),
            chain_id: Vec::with_capacity(n),
            beneficiary: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            amount_fen: Vec::with_capacity(n),
            due_date: Vec::with_capacity(n),
            policy_version: Vec::with_capacity(n),
            source_event_id: Vec::with_capacity(n),
            payee: Vec::with_capacity(n),
            reference: Vec::with_capacity(n),
        }
    }
}

/// Records the month's instructions, made in the current trace; returns the ids of those that
/// were new.
pub async fn insert_instructions(
    tx: &mut PgConnection,
    month: &str,
    rows: &NewInstructions,
    at: DateTime<Utc>,
) -> sqlx::Result<HashSet<Uuid>> {
    let trace = Trace::current();
    Ok(sqlx::query_scalar!(
        "INSERT INTO instructions (instruction_id, household_id, chain_id, beneficiary_member_id, month, kind,
             amount_fen, due_date, policy_version, status, source_event_id, payee, reference, created_at,
             traceparent, tracestate)
         SELECT i, h, c, b, $5, k, a, d, v, $13, s, p, r, $14, $15, $16
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $6::text[], $7::bigint[],
                     $8::date[], $9::text[], $10::text[], $11::text[], $12::text[])
              AS t(i, h, c, b, k, a, d, v, s, p, r)
         ON CONFLICT DO NOTHING
         RETURNING instruction_id",
        &rows.instruction_id[..],
        &rows.household_id[..],
        &rows.chain_id[..],
        &rows.beneficiary[..],
        month,
        &rows.kind[..],
        &rows.amount_fen[..],
        &rows.due_date[..],
        &rows.policy_version[..],
        &rows.source_event_id[..],
        &rows.payee[..],
        &rows.reference[..],
        InstructionStatus::Instructed as InstructionStatus,
        at,
        trace.traceparent,
        trace.tracestate,
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect())
}

#[derive(Debug, Serialize)]
pub struct InstructionView {
    pub instruction_id: Uuid,
    pub beneficiary_member_id: Uuid,
    pub month: String,
    pub kind: InstructionKind,
    pub amount_fen: i64,
    pub due_date: NaiveDate,
    pub policy_version: String,
    pub payee: PayeeKind,
    pub reference: String,
    pub status: InstructionStatus,
    pub created_at: DateTime<Utc>,
}

/// Whether the register holds the household in a region matching `patterns`.
pub async fn household_in_area(
    db: &PgPool,
    household_id: Uuid,
    patterns: &[String],
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM entitlements WHERE household_id = $1 AND region_code LIKE ANY($2::text[])) AS "found!""#,
        household_id,
        patterns,
    )
    .fetch_one(db)
    .await
}

/// The household's instructions, when its region matches `patterns`.
pub async fn by_household(
    db: &PgPool,
    household_id: Uuid,
    patterns: &[String],
) -> sqlx::Result<Vec<InstructionView>> {
    sqlx::query_as!(
        InstructionView,
        r#"SELECT i.instruction_id, i.beneficiary_member_id, i.month, i.kind AS "kind: InstructionKind", i.amount_fen, i.due_date,
                i.policy_version, i.payee AS "payee: PayeeKind", i.reference, i.status AS "status: InstructionStatus", i.created_at
         FROM instructions i JOIN entitlements e USING (household_id)
         WHERE i.household_id = $1 AND e.region_code LIKE ANY($2::text[])
         ORDER BY i.month, i.kind, i.instruction_id"#,
        household_id,
        patterns,
    )
    .fetch_all(db)
    .await
}

/// An instruction as the bank side needs it.
#[derive(Debug, Clone)]
pub struct Paid {
    pub instruction_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    /// `beneficiary_member_id`.
    pub member_id: Uuid,
    pub status: InstructionStatus,
    pub amount_fen: i64,
    pub month: String,
    pub kind: InstructionKind,
    /// The trace the instruction was made in ([`Trace`]).
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

/// Locks the instructions among `ids` that are still instructed (a concurrent file took the
/// others).
pub async fn lock_instructed(tx: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Paid>> {
    sqlx::query_as!(
        Paid,
        r#"SELECT instruction_id, household_id, chain_id, beneficiary_member_id AS member_id,
                status AS "status: InstructionStatus", amount_fen, month, kind AS "kind: InstructionKind",
                traceparent, tracestate
         FROM instructions WHERE instruction_id = ANY($1) AND status = $2
         ORDER BY instruction_id FOR UPDATE"#,
        ids,
        InstructionStatus::Instructed as InstructionStatus,
    )
    .fetch_all(&mut *tx)
    .await
}

/// Moves the instruction to `to`, with its history row.
pub async fn set_status(
    tx: &mut PgConnection,
    instruction_id: Uuid,
    to: InstructionStatus,
    reason: Option<&str>,
    report_msg_id: Option<&str>,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE instructions SET status = $2 WHERE instruction_id = $1",
        instruction_id,
        to as InstructionStatus,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO instruction_status_history (instruction_id, status, reason, report_msg_id, at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        instruction_id,
        to as InstructionStatus,
        reason,
        report_msg_id,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// An instructed payment of a month that is in no live file, with the beneficiary's account
/// (if any) and its district.
#[derive(Debug)]
pub struct Unbatched {
    pub instruction_id: Uuid,
    pub amount_fen: i64,
    pub kind: InstructionKind,
    pub due_date: NaiveDate,
    pub holder_name: Option<String>,
    pub account_number: Option<String>,
    pub bank_code: Option<String>,
    pub district: Option<String>,
    /// An account change of the beneficiary waits for its checker (it pays nothing until then).
    pub pending_change: bool,
    /// Recovery cases cover the whole payment: the household's assistance stopped for its
    /// month before it was paid, and it is withheld from every file.
    pub withheld: bool,
}

pub async fn unbatched(
    db: &PgPool,
    month: &str,
    district: Option<&str>,
) -> sqlx::Result<Vec<Unbatched>> {
    sqlx::query_as!(
        Unbatched,
        r#"SELECT i.instruction_id, i.amount_fen, i.kind AS "kind: InstructionKind", i.due_date, a.holder_name AS "holder_name?",
                a.account_number AS "account_number?", a.bank_code AS "bank_code?",
                left(a.region_code, 6) AS "district?",
                EXISTS (SELECT 1 FROM account_changes c WHERE c.member_id = i.beneficiary_member_id AND c.status = 'pending') AS "pending_change!",
                COALESCE((SELECT sum(r.amount_fen) FROM recoveries r
                          WHERE r.instruction_id = i.instruction_id AND r.status <> 'waived'), 0) >= i.amount_fen AS "withheld!"
         FROM instructions i LEFT JOIN accounts a ON a.member_id = i.beneficiary_member_id
         WHERE i.status = $3 AND i.month = $1
           AND NOT EXISTS (SELECT 1 FROM batch_items b WHERE b.instruction_id = i.instruction_id AND b.live)
           AND ($2::text IS NULL OR a.region_code IS NULL OR left(a.region_code, 6) = $2)
         ORDER BY i.instruction_id"#,
        month,
        district,
        InstructionStatus::Instructed as InstructionStatus,
    )
    .fetch_all(db)
    .await
}

/// An instruction made for a household, as a stop compares it with what is still owed.
#[derive(Debug, Clone)]
pub struct Made {
    pub instruction_id: Uuid,
    pub beneficiary_member_id: Uuid,
    pub month: String,
    pub kind: InstructionKind,
    pub amount_fen: i64,
}

/// The household's instructions for `from` and later months.
pub async fn made_since(
    tx: &mut PgConnection,
    household_id: Uuid,
    from: &str,
) -> sqlx::Result<Vec<Made>> {
    sqlx::query_as!(
        Made,
        r#"SELECT instruction_id, beneficiary_member_id, month, kind AS "kind: InstructionKind", amount_fen FROM instructions
         WHERE household_id = $1 AND month >= $2 ORDER BY month, instruction_id"#,
        household_id,
        from,
    )
    .fetch_all(&mut *tx)
    .await
}
