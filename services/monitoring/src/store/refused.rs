//! Table `refused_feedback`: department feedback monitoring did not apply, and why.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A refusal, as recorded and as operators list it (ids, codes and reasons only).
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    pub seq: i64,
    /// The refused message's envelope id, or its `Nats-Msg-Id` when the envelope could not be
    /// read.
    pub event_id: Option<String>,
    pub msg_id: Option<String>,
    pub department: String,
    pub referral_id: Option<Uuid>,
    pub code: String,
    pub reason: String,
    /// The referral's answer in force when it was refused.
    pub answer_in_force: Option<String>,
    /// Where the message itself is, in the REFERRAL stream.
    pub stream_sequence: i64,
    pub refused_at: DateTime<Utc>,
}

pub async fn insert(tx: &mut PgConnection, r: &Refused) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO refused_feedback (event_id, msg_id, department, referral_id, code, reason, answer_in_force, stream_sequence, refused_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        r.event_id,
        r.msg_id,
        r.department,
        r.referral_id,
        r.code,
        r.reason,
        r.answer_in_force,
        r.stream_sequence,
        r.refused_at,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether a message with this event id was refused.
pub async fn was_refused(tx: &mut PgConnection, event_id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM refused_feedback WHERE event_id = $1) AS "refused!""#,
        event_id,
    )
    .fetch_one(tx)
    .await
}

/// Refusals, newest first, of one department and/or referral when given.
pub async fn list(
    db: &PgPool,
    department: Option<&str>,
    referral_id: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Refused>> {
    sqlx::query_as!(
        Refused,
        "SELECT seq, event_id, msg_id, department, referral_id, code, reason, answer_in_force, stream_sequence, refused_at
         FROM refused_feedback
         WHERE ($1::text IS NULL OR department = $1) AND ($2::uuid IS NULL OR referral_id = $2)
         ORDER BY seq DESC LIMIT $3",
        department,
        referral_id,
        limit,
    )
    .fetch_all(db)
    .await
}
