//! `batches` (pain.001 files) and `batch_items`.

use super::Paid;
use crate::domain::{InstructionKind, InstructionStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A file to record.
#[derive(Debug)]
pub struct NewBatch<'a> {
    pub batch_id: Uuid,
    pub msg_id: &'a str,
    pub month: &'a str,
    pub district: &'a str,
    pub debtor_account: &'a str,
    pub nb_of_txs: i32,
    pub ctrl_sum_fen: i64,
    pub xml: &'a str,
}

pub async fn insert(
    tx: &mut PgConnection,
    b: &NewBatch<'_>,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO batches (batch_id, msg_id, month, district, debtor_account, nb_of_txs, ctrl_sum_fen, xml, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        b.batch_id,
        b.msg_id,
        b.month,
        b.district,
        b.debtor_account,
        b.nb_of_txs,
        b.ctrl_sum_fen,
        b.xml,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Puts a payment into a file; a unique violation when it is in another live file already.
pub async fn insert_item(
    tx: &mut PgConnection,
    batch_id: Uuid,
    instruction_id: Uuid,
    end_to_end_id: &str,
    amount_fen: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO batch_items (batch_id, instruction_id, end_to_end_id, amount_fen) VALUES ($1, $2, $3, $4)",
        batch_id,
        instruction_id,
        end_to_end_id,
        amount_fen,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[derive(Debug)]
pub struct BatchRow {
    pub msg_id: String,
    pub month: String,
    pub district: String,
    pub debtor_account: String,
    pub nb_of_txs: i32,
    pub ctrl_sum_fen: i64,
    pub transmitted_at: Option<DateTime<Utc>>,
}

/// The file, when its district matches `patterns` (every file when `None`).
pub async fn get(
    db: &PgPool,
    batch_id: Uuid,
    patterns: Option<&[String]>,
) -> sqlx::Result<Option<BatchRow>> {
    sqlx::query_as!(
        BatchRow,
        "SELECT msg_id, month, district, debtor_account, nb_of_txs, ctrl_sum_fen, transmitted_at FROM batches
         WHERE batch_id = $1 AND ($2::text[] IS NULL OR district LIKE ANY($2::text[]))",
        batch_id,
        patterns,
    )
    .fetch_optional(db)
    .await
}

#[derive(Debug, Serialize)]
pub struct BatchItemView {
    pub instruction_id: Uuid,
    pub end_to_end_id: String,
    pub amount_fen: i64,
    pub status: InstructionStatus,
}

pub async fn items(db: &PgPool, batch_id: Uuid) -> sqlx::Result<Vec<BatchItemView>> {
    sqlx::query_as!(
        BatchItemView,
        r#"SELECT b.instruction_id, b.end_to_end_id, b.amount_fen, i.status AS "status: InstructionStatus"
         FROM batch_items b JOIN instructions i USING (instruction_id)
         WHERE b.batch_id = $1 ORDER BY b.end_to_end_id"#,
        batch_id,
    )
    .fetch_all(db)
    .await
}

pub async fn xml(db: &PgPool, batch_id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("SELECT xml FROM batches WHERE batch_id = $1", batch_id)
        .fetch_optional(db)
        .await
}

/// The first time the file was sent to the bank.
pub async fn mark_transmitted(db: &PgPool, batch_id: Uuid, at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE batches SET transmitted_at = coalesce(transmitted_at, $2) WHERE batch_id = $1",
        batch_id,
        at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The file a report answers, by its MsgId.
#[derive(Debug)]
pub struct FileRow {
    pub batch_id: Uuid,
    pub district: String,
    pub debtor_account: String,
}

pub async fn by_msg_id(tx: &mut PgConnection, msg_id: &str) -> sqlx::Result<Option<FileRow>> {
    sqlx::query_as!(
        FileRow,
        "SELECT batch_id, district, debtor_account FROM batches WHERE msg_id = $1",
        msg_id,
    )
    .fetch_optional(&mut *tx)
    .await
}

/// The end-to-end ids of the file's live payments.
pub async fn live_end_to_end_ids(
    tx: &mut PgConnection,
    batch_id: Uuid,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT end_to_end_id FROM batch_items WHERE batch_id = $1 AND live ORDER BY end_to_end_id",
        batch_id,
    )
    .fetch_all(&mut *tx)
    .await
}

/// The instruction of a live payment of the file, locked.
pub async fn lock_live_item(
    tx: &mut PgConnection,
    batch_id: Uuid,
    end_to_end_id: &str,
) -> sqlx::Result<Option<Paid>> {
    sqlx::query_as!(
        Paid,
        r#"SELECT i.instruction_id, i.household_id, i.chain_id, i.beneficiary_member_id AS member_id,
                i.status AS "status: InstructionStatus", i.amount_fen, i.month, i.kind AS "kind: InstructionKind",
                i.traceparent, i.tracestate
         FROM batch_items b JOIN instructions i USING (instruction_id)
         WHERE b.batch_id = $1 AND b.end_to_end_id = $2 AND b.live FOR UPDATE OF i"#,
        batch_id,
        end_to_end_id,
    )
    .fetch_optional(&mut *tx)
    .await
}
