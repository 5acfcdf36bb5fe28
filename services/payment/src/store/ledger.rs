//! `journal` and `postings`: the fund accounts' double-entry ledger.

use crate::domain::{InstructionStatus, LedgerEvent};
use chrono::{DateTime, Utc};
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
}

/// Records the journal entry; `None` when this instruction already has one for the event.
pub async fn insert_journal(
    tx: &mut PgConnection,
    e: &Entry<'_>,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO journal (fund_account, district, month, instruction_id, event, amount_fen, reference, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (instruction_id, event) WHERE event <> 'recovered' DO NOTHING RETURNING journal_id",
    )
    .bind(e.fund_account)
    .bind(e.district)
    .bind(e.month)
    .bind(e.instruction_id)
    .bind(e.event)
    .bind(e.amount_fen)
    .bind(e.reference)
    .bind(at)
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
    sqlx::query(
        "INSERT INTO postings (journal_id, account, debit_fen, credit_fen)
         VALUES ($1, $2, $4, 0), ($1, $3, 0, $4)",
    )
    .bind(journal_id)
    .bind(debit)
    .bind(credit)
    .bind(amount_fen)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Where an instruction was paid from: (fund account, district, month) of its `instructed` entry.
pub async fn paid_from(
    tx: &mut PgConnection,
    instruction_id: Uuid,
) -> sqlx::Result<Option<(String, String, String)>> {
    sqlx::query_as(
        "SELECT j.fund_account, j.district, j.month FROM journal j
         WHERE j.instruction_id = $1 AND j.event = $2",
    )
    .bind(instruction_id)
    .bind(LedgerEvent::Instructed)
    .fetch_optional(&mut *tx)
    .await
}

/// Whether a recovery with this reference was posted for the instruction.
pub async fn recovery_posted(
    tx: &mut PgConnection,
    instruction_id: Uuid,
    reference: &str,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM journal WHERE instruction_id = $1 AND event = $3 AND reference = $2)",
    )
    .bind(instruction_id)
    .bind(reference)
    .bind(LedgerEvent::Recovered)
    .fetch_one(&mut *tx)
    .await
}

/// The district's entries for the month, in order.
pub async fn entries(
    db: &PgPool,
    district: &str,
    month: &str,
) -> sqlx::Result<Vec<(Option<Uuid>, LedgerEvent, i64)>> {
    sqlx::query_as(
        "SELECT instruction_id, event, amount_fen FROM journal
         WHERE district = $1 AND month = $2 ORDER BY journal_id",
    )
    .bind(district)
    .bind(month)
    .fetch_all(db)
    .await
}

/// (debits, credits) over every posting of the district and month.
pub async fn totals(db: &PgPool, district: &str, month: &str) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT coalesce(sum(p.debit_fen), 0)::bigint, coalesce(sum(p.credit_fen), 0)::bigint
         FROM postings p JOIN journal j USING (journal_id) WHERE j.district = $1 AND j.month = $2",
    )
    .bind(district)
    .bind(month)
    .fetch_one(db)
    .await
}

/// (debits, credits) of the `in_transit` accounts of the district and month.
pub async fn in_transit(db: &PgPool, district: &str, month: &str) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT coalesce(sum(p.debit_fen), 0)::bigint, coalesce(sum(p.credit_fen), 0)::bigint
         FROM postings p JOIN journal j USING (journal_id)
         WHERE j.district = $1 AND j.month = $2 AND p.account LIKE '%:in_transit'",
    )
    .bind(district)
    .bind(month)
    .fetch_one(db)
    .await
}

/// The payments of the district's live files for the month: (instruction, status, amount).
pub async fn in_files(
    db: &PgPool,
    district: &str,
    month: &str,
) -> sqlx::Result<Vec<(Uuid, InstructionStatus, i64)>> {
    sqlx::query_as(
        "SELECT i.instruction_id, i.status, b.amount_fen
         FROM batch_items b JOIN batches f USING (batch_id) JOIN instructions i USING (instruction_id)
         WHERE f.district = $1 AND f.month = $2 AND b.live ORDER BY i.instruction_id",
    )
    .bind(district)
    .bind(month)
    .fetch_all(db)
    .await
}
