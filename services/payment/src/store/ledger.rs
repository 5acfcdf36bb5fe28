//! `journal` and `postings`: the fund accounts' double-entry ledger.

use crate::domain::{InstructionStatus, LedgerEvent};
use chrono::{DateTime, Utc};
use mesh::auth::Actor;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// One entry to post.
pub struct Entry<'a> {
    pub fund_account: &'a str,
    pub district: &'a str,
    pub month: &'a str,
    pub instruction_id: Option<Uuid>,
    pub event: LedgerEvent,
    pub amount_fen: i64,
    pub reference: &'a str,
    /// The person who posted the entry by hand (a recovery); `None` for the service's own.
    pub actor: Option<&'a Actor>,
}

/// Records the journal entry; `None` when this instruction already has one for the event.
pub async fn insert_journal(
    tx: &mut PgConnection,
    e: &Entry<'_>,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "INSERT INTO journal (fund_account, district, month, instruction_id, event, amount_fen, reference, at,
             actor_sub, actor_name, actor_role)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (instruction_id, event) WHERE event <> 'recovered' DO NOTHING RETURNING journal_id",
        e.fund_account,
        e.district,
        e.month,
        e.instruction_id,
        e.event as LedgerEvent,
        e.amount_fen,
        e.reference,
        at,
        e.actor.map(|a| a.sub.as_str()),
        e.actor.map(|a| a.name.as_str()),
        e.actor.map(|a| a.role.as_str()),
    )
    .fetch_optional(&mut *tx)
    .await
}

/// The entry's two postings: `amount_fen` debited to `debit`, credited to `credit`.
pub async fn insert_postings(
    tx: &mut PgConnection,
    journal_id: i64,
    debit: &str,
    credit: &str,
    amount_fen: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO postings (journal_id, account, debit_fen, credit_fen)
         VALUES ($1, $2, $4, 0), ($1, $3, 0, $4)",
        journal_id,
        debit,
        credit,
        amount_fen,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Where an instruction was paid from, when its household's region matches `patterns`.
#[derive(Debug)]
pub struct PaidFrom {
    pub fund_account: String,
    pub district: String,
    pub month: String,
    pub household_id: Uuid,
    pub member_id: Uuid,
}

/// (fund account, district, month) of the instruction's `instructed` entry, and its household
/// and beneficiary.
pub async fn paid_from(
    tx: &mut PgConnection,
    instruction_id: Uuid,
    patterns: &[String],
) -> sqlx::Result<Option<PaidFrom>> {
    sqlx::query_as!(
        PaidFrom,
        "SELECT j.fund_account, j.district, j.month, i.household_id, i.beneficiary_member_id AS member_id
         FROM journal j JOIN instructions i ON i.instruction_id = j.instruction_id
              JOIN entitlements e ON e.household_id = i.household_id
         WHERE j.instruction_id = $1 AND j.event = $2 AND e.region_code LIKE ANY($3::text[])",
        instruction_id,
        LedgerEvent::Instructed as LedgerEvent,
        patterns,
    )
    .fetch_optional(&mut *tx)
    .await
}

/// Whether a recovery with this reference was posted for the instruction.
pub async fn recovery_posted(
    tx: &mut PgConnection,
    instruction_id: Uuid,
    reference: &str,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM journal WHERE instruction_id = $1 AND event = $3 AND reference = $2) AS "posted!""#,
        instruction_id,
        reference,
        LedgerEvent::Recovered as LedgerEvent,
    )
    .fetch_one(&mut *tx)
    .await
}

/// The district's entries for the month, in order.
pub async fn entries(
    db: &PgPool,
    district: &str,
    month: &str,
) -> sqlx::Result<Vec<(Option<Uuid>, LedgerEvent, i64)>> {
    Ok(sqlx::query!(
        r#"SELECT instruction_id, event AS "event: LedgerEvent", amount_fen FROM journal
         WHERE district = $1 AND month = $2 ORDER BY journal_id"#,
        district,
        month,
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.instruction_id, r.event, r.amount_fen))
    .collect())
}

/// (debits, credits) over every posting of the district and month.
pub async fn totals(db: &PgPool, district: &str, month: &str) -> sqlx::Result<(i64, i64)> {
    let r = sqlx::query!(
        r#"SELECT coalesce(sum(p.debit_fen), 0)::bigint AS "debits!", coalesce(sum(p.credit_fen), 0)::bigint AS "credits!"
         FROM postings p JOIN journal j USING (journal_id) WHERE j.district = $1 AND j.month = $2"#,
        district,
        month,
    )
    .fetch_one(db)
    .await?;
    Ok((r.debits, r.credits))
}

/// (debits, credits) of the `in_transit` accounts of the district and month.
pub async fn in_transit(db: &PgPool, district: &str, month: &str) -> sqlx::Result<(i64, i64)> {
    let r = sqlx::query!(
        r#"SELECT coalesce(sum(p.debit_fen), 0)::bigint AS "debits!", coalesce(sum(p.credit_fen), 0)::bigint AS "credits!"
         FROM postings p JOIN journal j USING (journal_id)
         WHERE j.district = $1 AND j.month = $2 AND p.account LIKE '%:in_transit'"#,
        district,
        month,
    )
    .fetch_one(db)
    .await?;
    Ok((r.debits, r.credits))
}

/// The payments of the district's live files for the month: (instruction, status, amount).
pub async fn in_files(
    db: &PgPool,
    district: &str,
    month: &str,
) -> sqlx::Result<Vec<(Uuid, InstructionStatus, i64)>> {
    Ok(sqlx::query!(
        r#"SELECT i.instruction_id, i.status AS "status: InstructionStatus", b.amount_fen
         FROM batch_items b JOIN batches f USING (batch_id) JOIN instructions i USING (instruction_id)
         WHERE f.district = $1 AND f.month = $2 AND b.live ORDER BY i.instruction_id"#,
        district,
        month,
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.instruction_id, r.status, r.amount_fen))
    .collect())
}

/// (count, amount) of the district's instructed payments of the month that no file can carry
/// for want of an account: in no live file, and their beneficiary has none. The district is
/// the household's (payment's register), as no account names one.
pub async fn blocked_for_account(
    db: &PgPool,
    district: &str,
    month: &str,
) -> sqlx::Result<(i64, i64)> {
    let r = sqlx::query!(
        r#"SELECT count(*) AS "count!", coalesce(sum(i.amount_fen), 0)::bigint AS "amount_fen!"
         FROM instructions i JOIN entitlements e USING (household_id)
         WHERE i.month = $2 AND i.status = $3 AND left(e.region_code, 6) = $1
           AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.member_id = i.beneficiary_member_id)
           AND NOT EXISTS (SELECT 1 FROM batch_items b WHERE b.instruction_id = i.instruction_id AND b.live)"#,
        district,
        month,
        InstructionStatus::Instructed as InstructionStatus,
    )
    .fetch_one(db)
    .await?;
    Ok((r.count, r.amount_fen))
}
