//! Table `referrals`: pushes to departments and what each answered.

use super::department;
use crate::domain::answers::{AppliedAnswer, Effect};
use crate::domain::warnings::RecordedGrant;
use crate::domain::ReferralStatus;
use chrono::{DateTime, NaiveDate, Utc};
use contract::{Grant, ReferralFeedback, ReferralPush};
use mesh::Envelope;
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Records a push; `warning_id` names the warning it answers, when a warning raised it.
pub async fn insert_referral(
    tx: &mut PgConnection,
    e: &Envelope<ReferralPush>,
    warning_id: Option<Uuid>,
) -> sqlx::Result<()> {
    let p = &e.data;
    sqlx::query!(
        "INSERT INTO referrals (referral_id, household_id, member_id, department, need, status, feedback_due, push_event_id, created_at, warning_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        p.referral_id,
        e.household_id,
        p.member_id,
        p.department.as_str(),
        p.need,
        ReferralStatus::Pushed as ReferralStatus,
        p.feedback_due,
        e.id,
        e.time,
        warning_id,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// A referral as the answer protocol reads it, locked until the transaction ends.
pub struct Locked {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub department: String,
    pub member_id: Uuid,
    pub status: ReferralStatus,
    pub answer_event_id: Option<String>,
    pub answer_time: Option<DateTime<Utc>>,
}

pub async fn lock_referral(
    tx: &mut PgConnection,
    referral_id: Uuid,
) -> sqlx::Result<Option<Locked>> {
    sqlx::query_as!(
        Locked,
        r#"SELECT r.household_id, h.chain_id, r.department, r.member_id, r.status AS "status: ReferralStatus",
                r.answer_event_id, r.answer_time
         FROM referrals r JOIN households h USING (household_id)
         WHERE r.referral_id = $1 FOR UPDATE OF r"#,
        referral_id,
    )
    .fetch_optional(tx)
    .await
}

/// The answers applied to a referral, oldest first.
pub async fn answers_of(
    tx: &mut PgConnection,
    referral_id: Uuid,
) -> sqlx::Result<Vec<AppliedAnswer>> {
    sqlx::query_as!(
        AppliedAnswer,
        "SELECT event_id, digest FROM referral_answers WHERE referral_id = $1 ORDER BY applied_at, event_id",
        referral_id,
    )
    .fetch_all(tx)
    .await
}

/// The referral and digest of the answer applied under event id `event_id`, if one was.
pub async fn answer_by_id(db: &PgPool, event_id: &str) -> sqlx::Result<Option<(Uuid, String)>> {
    let row = sqlx::query!(
        "SELECT referral_id, digest FROM referral_answers WHERE event_id = $1",
        event_id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.referral_id, r.digest)))
}

/// Applies an answer the protocol accepted (`f` as checked, its grant's period filled in):
/// the referral's status and answer in force, and the answer itself.
pub async fn apply_answer(
    tx: &mut PgConnection,
    e: &Envelope<ReferralFeedback>,
    f: &ReferralFeedback,
    effect: Effect,
    digest: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let grant = f.grant.as_ref().map(Json);
    match effect {
        Effect::History => {}
        Effect::Accept => {
            sqlx::query!(
                "UPDATE referrals SET status = $2, feedback_event_id = $3, answered_at = COALESCE(answered_at, $4)
                 WHERE referral_id = $1",
                f.referral_id,
                ReferralStatus::Accepted as ReferralStatus,
                e.id,
                at,
            )
            .execute(&mut *tx)
            .await?;
        }
        Effect::Final(status) => {
            sqlx::query!(
                "UPDATE referrals SET status = $2, feedback_event_id = $3, answer_event_id = $3, answer_time = $4,
                        grant_detail = $5, answered_at = COALESCE(answered_at, $6)
                 WHERE referral_id = $1",
                f.referral_id,
                status as ReferralStatus,
                e.id,
                e.time,
                grant as _,
                at,
            )
            .execute(&mut *tx)
            .await?;
        }
        Effect::Supplement | Effect::Close => {
            let status = if effect == Effect::Close {
                ReferralStatus::Closed
            } else {
                ReferralStatus::Granted
            };
            sqlx::query!(
                "UPDATE referrals SET status = $2, feedback_event_id = $3 WHERE referral_id = $1",
                f.referral_id,
                status as ReferralStatus,
                e.id,
            )
            .execute(&mut *tx)
            .await?;
        }
        Effect::Revoke => {
            sqlx::query!(
                "UPDATE referrals SET status = $2, feedback_event_id = $3, answer_event_id = NULL, answer_time = NULL,
                        grant_detail = NULL, answered_at = NULL
                 WHERE referral_id = $1",
                f.referral_id,
                ReferralStatus::Revoked as ReferralStatus,
                e.id,
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    sqlx::query!(
        "INSERT INTO referral_answers (event_id, referral_id, outcome, digest, replaces, data, time, applied_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        e.id,
        f.referral_id,
        f.outcome.as_str(),
        digest,
        f.replaces.as_deref(),
        Json(f) as _,
        e.time,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Whether monitoring's own push of `referral_id` is the event `event_id`.
pub async fn is_own_push(db: &PgPool, referral_id: Uuid, event_id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM referrals WHERE referral_id = $1 AND push_event_id = $2) AS "own!""#,
        referral_id,
        event_id,
    )
    .fetch_one(db)
    .await
}

#[derive(Debug, Clone, Serialize)]
pub struct ReferralView {
    pub referral_id: Uuid,
    pub member_id: Uuid,
    pub department: String,
    pub need: String,
    pub status: ReferralStatus,
    pub feedback_due: NaiveDate,
    pub answered_at: Option<DateTime<Utc>>,
    /// Selected as `false`; the caller sets it.
    pub overdue: bool,
}

pub async fn referrals(db: &PgPool, household_id: Uuid) -> sqlx::Result<Vec<ReferralView>> {
    sqlx::query_as!(
        ReferralView,
        r#"SELECT referral_id, member_id, department, need, status AS "status: ReferralStatus", feedback_due, answered_at,
                false AS "overdue!"
         FROM referrals WHERE household_id = $1 ORDER BY created_at, referral_id"#,
        household_id,
    )
    .fetch_all(db)
    .await
}

#[derive(Debug, Serialize)]
pub struct ReferralOf {
    pub referral_id: Uuid,
    pub household_id: Uuid,
    pub department: String,
    pub status: ReferralStatus,
    pub feedback_due: NaiveDate,
    pub answered_at: Option<DateTime<Utc>>,
}

/// A referral whose household lies in `areas` (`LIKE` patterns of a regional caller's areas)
/// or that was pushed to `department` (a department's own officer or system).
pub async fn referral(
    db: &PgPool,
    referral_id: Uuid,
    areas: &[String],
    department: Option<&str>,
) -> sqlx::Result<Option<ReferralOf>> {
    sqlx::query_as!(
        ReferralOf,
        r#"SELECT r.referral_id, r.household_id, r.department, r.status AS "status: ReferralStatus", r.feedback_due,
                r.answered_at
         FROM referrals r JOIN households h USING (household_id)
         WHERE r.referral_id = $1 AND (h.region_code LIKE ANY($2::text[]) OR r.department = $3)"#,
        referral_id,
        areas,
        department,
    )
    .fetch_optional(db)
    .await
}

/// Every grant recorded for the person with this ID number, in any household.
pub async fn grants_of_person(
    tx: &mut PgConnection,
    id_number: &str,
) -> sqlx::Result<Vec<RecordedGrant>> {
    let rows = sqlx::query!(
        r#"SELECT r.referral_id, r.member_id, r.department, r.grant_detail AS "grant_detail!"
         FROM referrals r JOIN persons p ON p.member_id = r.member_id
         WHERE p.id_number = $1 AND r.status = $2 AND r.grant_detail IS NOT NULL
         ORDER BY r.answered_at, r.referral_id"#,
        id_number,
        ReferralStatus::Granted as ReferralStatus,
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let grant: Grant = serde_json::from_value(r.grant_detail).ok()?;
            Some(RecordedGrant {
                referral_id: r.referral_id,
                member_id: r.member_id,
                department: department(&r.department).ok()?,
                grant,
            })
        })
        .collect())
}

/// A referral unanswered past its deadline, with no warning raised for it yet.
pub struct Overdue {
    pub referral_id: Uuid,
    pub household_id: Uuid,
    pub member_id: Uuid,
    pub department: String,
    pub feedback_due: NaiveDate,
    pub region_code: String,
}

/// Referrals with no feedback past `feedback_due` before `as_of` and no `referral-overdue`
/// warning yet.
pub async fn overdue_unwarned(
    tx: &mut PgConnection,
    as_of: NaiveDate,
) -> sqlx::Result<Vec<Overdue>> {
    sqlx::query_as!(
        Overdue,
        "SELECT r.referral_id, r.household_id, r.member_id, r.department, r.feedback_due, h.region_code
         FROM referrals r JOIN households h USING (household_id)
         WHERE r.answered_at IS NULL AND r.feedback_due < $1
           AND NOT EXISTS (SELECT 1 FROM warnings w WHERE w.dedupe_key = 'referral-overdue:' || r.referral_id::text)
         ORDER BY r.feedback_due, r.referral_id",
        as_of,
    )
    .fetch_all(&mut *tx)
    .await
}
