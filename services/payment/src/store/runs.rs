//! `payment_runs` and `run_alerts`: the monthly runs.

use crate::domain::{AlertReason, RunStatus, Totals};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Taken shared by a determination, exclusively when a run is created: a household determined
/// concurrently is either seen by the run or sees the run.
const RUN_LOCK: i64 = 0x7061_796d_656e_7431;

pub async fn lock_runs(tx: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", RUN_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub async fn lock_runs_shared(tx: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_advisory_xact_lock_shared($1)", RUN_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The latest month that has a run.
pub async fn latest_month(tx: &mut PgConnection) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("SELECT max(month) FROM payment_runs")
        .fetch_one(&mut *tx)
        .await
}

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub month: String,
    pub status: RunStatus,
    pub cursor: Option<Uuid>,
    pub chunks: i64,
    pub households: i64,
    pub households_skipped: i64,
    pub instructions_created: i64,
    pub instructions_existing: i64,
    pub total_fen: i64,
    pub created_fen: i64,
    pub error: Option<String>,
    pub attempts: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

pub async fn get(db: &PgPool, month: &str) -> sqlx::Result<Option<RunView>> {
    sqlx::query_as!(
        RunView,
        r#"SELECT month, status AS "status: RunStatus", cursor, chunks, households, households_skipped,
             instructions_created, instructions_existing, total_fen, created_fen, error, attempts, started_at, finished_at
         FROM payment_runs WHERE month = $1"#,
        month,
    )
    .fetch_optional(db)
    .await
}

/// Whether the month has a run (of any status), in `tx`.
pub async fn get_in(tx: &mut PgConnection, month: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("SELECT month FROM payment_runs WHERE month = $1", month)
        .fetch_optional(&mut *tx)
        .await
}

/// Plans the month's run unless it has one.
pub async fn plan(tx: &mut PgConnection, month: &str, at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO payment_runs (month, status, started_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        month,
        RunStatus::Planned as RunStatus,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The run (not completed) is running, one more attempt.
pub async fn mark_running(db: &PgPool, month: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE payment_runs SET status = $2, error = NULL, attempts = attempts + 1
         WHERE month = $1 AND status <> $3",
        month,
        RunStatus::Running as RunStatus,
        RunStatus::Completed as RunStatus,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The run (not completed) failed with `error`.
pub async fn mark_failed(db: &PgPool, month: &str, error: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE payment_runs SET status = $3, error = $2 WHERE month = $1 AND status <> $4",
        month,
        error,
        RunStatus::Failed as RunStatus,
        RunStatus::Completed as RunStatus,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The run's status and cursor, its row locked for the chunk.
pub async fn lock(
    tx: &mut PgConnection,
    month: &str,
) -> sqlx::Result<Option<(RunStatus, Option<Uuid>)>> {
    Ok(sqlx::query!(
        r#"SELECT status AS "status: RunStatus", cursor FROM payment_runs WHERE month = $1 FOR UPDATE"#,
        month,
    )
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| (r.status, r.cursor)))
}

pub async fn complete(
    tx: &mut PgConnection,
    month: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<RunView> {
    sqlx::query_as!(
        RunView,
        r#"UPDATE payment_runs SET status = $2, finished_at = $3 WHERE month = $1
         RETURNING month, status AS "status: RunStatus", cursor, chunks, households, households_skipped,
             instructions_created, instructions_existing, total_fen, created_fen, error, attempts, started_at, finished_at"#,
        month,
        RunStatus::Completed as RunStatus,
        at,
    )
    .fetch_one(&mut *tx)
    .await
}

/// A chunk is done: the cursor moves to `last` and the chunk's totals are added.
pub async fn advance(
    tx: &mut PgConnection,
    month: &str,
    last: Uuid,
    t: &Totals,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE payment_runs SET cursor = $2, chunks = chunks + 1, households = households + $3,
             households_skipped = households_skipped + $4, instructions_created = instructions_created + $5,
             instructions_existing = instructions_existing + $6, total_fen = total_fen + $7,
             created_fen = created_fen + $8
         WHERE month = $1",
        month,
        last,
        t.households,
        t.skipped,
        t.created,
        t.existing,
        t.total_fen,
        t.created_fen,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The failed runs: (month, error).
pub async fn failed(db: &PgPool) -> sqlx::Result<Vec<(String, Option<String>)>> {
    Ok(sqlx::query!(
        "SELECT month, error FROM payment_runs WHERE status = $1",
        RunStatus::Failed as RunStatus,
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.month, r.error))
    .collect())
}

/// Records the alert; `false` when it was raised before for the month and reason.
pub async fn insert_alert(
    tx: &mut PgConnection,
    month: &str,
    reason: AlertReason,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO run_alerts (month, reason, raised_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        month,
        reason as AlertReason,
        at,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}
