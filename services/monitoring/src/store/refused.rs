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

/// Whose refusals a caller sees.
#[derive(Debug, Clone)]
pub enum Scope {
    /// A department's own officer or system: its department's only.
    Department(String),
    /// A regional caller: refusals of referrals whose household lies in these areas (`LIKE`
    /// patterns), and those that name no referral monitoring holds (they concern no household).
    Areas(Vec<String>),
}

/// Refusals the caller's `scope` sees, newest first, of one department and/or referral when
/// given.
pub async fn list(
    db: &PgPool,
    scope: &Scope,
    department: Option<&str>,
    referral_id: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Refused>> {
    let (own, areas) = match scope {
        Scope::Department(d) => (Some(d.as_str()), Vec::new()),
        Scope::Areas(a) => (None, a.clone()),
    };
    sqlx::query_as!(
        Refused,
        "SELECT f.seq, f.event_id, f.msg_id, f.department, f.referral_id, f.code, f.reason, f.answer_in_force,
                f.stream_sequence, f.refused_at
         FROM refused_feedback f
         LEFT JOIN referrals r ON r.referral_id = f.referral_id
         LEFT JOIN households h ON h.household_id = r.household_id
         WHERE ($1::text IS NULL OR f.department = $1) AND ($2::uuid IS NULL OR f.referral_id = $2)
           AND CASE WHEN $4::text IS NOT NULL THEN f.department = $4
                    ELSE h.region_code IS NULL OR h.region_code LIKE ANY($5::text[]) END
         ORDER BY f.seq DESC LIMIT $3",
        department,
        referral_id,
        limit,
        own,
        &areas,
    )
    .fetch_all(db)
    .await
}
