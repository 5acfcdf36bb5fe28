//! `status_reports`: every pain.002 taken in, once per MsgId.

use crate::domain::ReceivedVia;
use crate::iso20022::StatusReport;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Claims the report; `false` when its MsgId was taken in before.
pub async fn claim(
    tx: &mut PgConnection,
    report: &StatusReport,
    xml: &str,
    via: ReceivedVia,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO status_reports (msg_id, original_msg_id, group_status, transactions, changes, xml, received_via, received_at)
         VALUES ($1, $2, $3, $4, 0, $5, $6, $7) ON CONFLICT (msg_id) DO NOTHING",
        report.msg_id,
        report.original_msg_id,
        report.group_status.as_deref(),
        report.transactions.len() as i32,
        xml,
        via as ReceivedVia,
        at,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn set_changes(tx: &mut PgConnection, msg_id: &str, changes: u32) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE status_reports SET changes = $2 WHERE msg_id = $1",
        msg_id,
        changes as i32,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
