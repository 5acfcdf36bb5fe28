//! Table `referrals`: pushes to departments and what each answered.

use super::department;
use crate::domain::warnings::RecordedGrant;
use crate::domain::ReferralStatus;
use chrono::{DateTime, NaiveDate, Utc};
use contract::{Grant, ReferralFeedback, ReferralPush};
use mesh::Envelope;
use serde::Serialize;
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

pub enum Answered {
    Updated,
    NotOurs,
    Unknown,
    Mismatch(String),
}

pub async fn answer_referral(
    tx: &mut PgConnection,
    e: &Envelope<ReferralFeedback>,
    at: DateTime<Utc>,
) -> sqlx::Result<Answered> {
    let f = &e.data;
    let row = sqlx::query!(
        "SELECT household_id, department, member_id, push_event_id FROM referrals WHERE referral_id = $1 FOR UPDATE",
        f.referral_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(Answered::Unknown);
    };
    let (household_id, dept, member_id, push_event_id) = (
        row.household_id,
        row.department,
        row.member_id,
        row.push_event_id,
    );
    if dept != f.department.as_str() {
        return Ok(Answered::Unknown);
    }
    if household_id != e.household_id || member_id != f.member_id {
        return Ok(Answered::Mismatch(format!(
            "feedback for referral {} names another household or member than the referral",
            f.referral_id
        )));
    }
    if e.causation_id.as_deref() != Some(push_event_id.as_str()) {
        // An answer to a push this service did not send (a repeat, or a modified copy): the
        // chain records it, the referral keeps the answer to its own push.
        return Ok(Answered::NotOurs);
    }
    // A referral only moves forward (pushed → accepted → granted | rejected | closed): an
    // `accepted` handled after the final answer does not undo it.
    sqlx::query!(
        "UPDATE referrals SET status = $2, feedback_event_id = $3, grant_detail = $4, answered_at = $5
         WHERE referral_id = $1
           AND (CASE status WHEN 'pushed' THEN 0 WHEN 'accepted' THEN 1 ELSE 2 END)
               <= (CASE $2 WHEN 'pushed' THEN 0 WHEN 'accepted' THEN 1 ELSE 2 END)",
        f.referral_id,
        ReferralStatus::of(f.outcome) as ReferralStatus,
        e.id,
        f.grant.as_ref().map(sqlx::types::Json) as _,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(Answered::Updated)
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

pub async fn referral(db: &PgPool, referral_id: Uuid) -> sqlx::Result<Option<ReferralOf>> {
    sqlx::query_as!(
        ReferralOf,
        r#"SELECT referral_id, household_id, department, status AS "status: ReferralStatus", feedback_due, answered_at
         FROM referrals WHERE referral_id = $1"#,
        referral_id,
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
