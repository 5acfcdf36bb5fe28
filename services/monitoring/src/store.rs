//! Monitoring's SQL.

use chrono::{DateTime, NaiveDate, Utc};
use contract::{HouseholdDetermined, ReferralFeedback, ReferralPush};
use mesh::Envelope;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Enrols the household and its members; `false` when it was already enrolled.
/// `today` is the day of the determination, its last verification.
pub async fn enrol(
    tx: &mut PgConnection,
    e: &Envelope<HouseholdDetermined>,
    today: NaiveDate,
) -> sqlx::Result<bool> {
    let d = &e.data;
    let inserted = sqlx::query(
        "INSERT INTO households (household_id, chain_id, application_id, region_code, urban, tier, status, monthly_amount_fen, policy_version, effective_month, enrolled_at, updated_at, last_verified_on)
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, $10, $11) ON CONFLICT (household_id) DO NOTHING",
    )
    .bind(e.household_id)
    .bind(e.chain_id)
    .bind(d.application_id)
    .bind(&d.region_code)
    .bind(d.urban)
    .bind(d.tier.as_str())
    .bind(d.monthly_amount_fen)
    .bind(&d.policy_version)
    .bind(&d.effective_month)
    .bind(e.time)
    .bind(today)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    for m in &d.members {
        sqlx::query("INSERT INTO persons (member_id, household_id, id_number, name, relation, addon_reason, enrolled_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(m.member_id)
            .bind(e.household_id)
            .bind(&m.id_number)
            .bind(&m.name)
            .bind(&m.relation)
            .bind(&m.addon_reason)
            .bind(e.time)
            .execute(&mut *tx)
            .await?;
    }
    Ok(true)
}

pub async fn insert_referral(
    tx: &mut PgConnection,
    e: &Envelope<ReferralPush>,
) -> sqlx::Result<()> {
    let p = &e.data;
    sqlx::query(
        "INSERT INTO referrals (referral_id, household_id, member_id, department, need, status, feedback_due, push_event_id, created_at)
         VALUES ($1, $2, $3, $4, $5, 'pushed', $6, $7, $8)",
    )
    .bind(p.referral_id)
    .bind(e.household_id)
    .bind(p.member_id)
    .bind(p.department.as_str())
    .bind(&p.need)
    .bind(p.feedback_due)
    .bind(&e.id)
    .bind(e.time)
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
    let row: Option<(Uuid, String, Uuid, String)> = sqlx::query_as(
        "SELECT household_id, department, member_id, push_event_id FROM referrals WHERE referral_id = $1 FOR UPDATE",
    )
    .bind(f.referral_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((household_id, department, member_id, push_event_id)) = row else {
        return Ok(Answered::Unknown);
    };
    if department != f.department.as_str() {
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
    let outcome = serde_json::to_value(f.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    sqlx::query(
        // A referral only moves forward (pushed → accepted → granted | rejected | closed): an
        // `accepted` handled after the final answer does not undo it.
        "UPDATE referrals SET status = $2, feedback_event_id = $3, grant_detail = $4, answered_at = $5
         WHERE referral_id = $1
           AND (CASE status WHEN 'pushed' THEN 0 WHEN 'accepted' THEN 1 ELSE 2 END)
               <= (CASE $2 WHEN 'pushed' THEN 0 WHEN 'accepted' THEN 1 ELSE 2 END)",
    )
    .bind(f.referral_id)
    .bind(outcome)
    .bind(&e.id)
    .bind(f.grant.as_ref().map(sqlx::types::Json))
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(Answered::Updated)
}

pub struct Step {
    pub event_id: String,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub kind: String,
    pub subject: String,
    pub service: String,
    pub time: DateTime<Utc>,
    pub trace_id: Option<String>,
    pub causation_id: Option<String>,
    pub summary: serde_json::Value,
}

/// Records a step; `false` when it was recorded before.
pub async fn record_step(db: &PgPool, s: &Step) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "INSERT INTO chain_events (event_id, household_id, chain_id, type, subject, service, time, trace_id, causation_id, summary)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(&s.event_id)
    .bind(s.household_id)
    .bind(s.chain_id)
    .bind(&s.kind)
    .bind(&s.subject)
    .bind(&s.service)
    .bind(s.time)
    .bind(&s.trace_id)
    .bind(&s.causation_id)
    .bind(&s.summary)
    .execute(db)
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StepView {
    pub event_id: String,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    pub subject: String,
    pub service: String,
    pub time: DateTime<Utc>,
    pub trace_id: Option<String>,
    pub causation_id: Option<String>,
    pub summary: serde_json::Value,
    #[serde(skip)]
    pub chain_id: Uuid,
}

pub async fn steps(db: &PgPool, household_id: Uuid) -> sqlx::Result<Vec<StepView>> {
    sqlx::query_as(
        "SELECT event_id, type, subject, service, time, trace_id, causation_id, summary, chain_id
         FROM chain_events WHERE household_id = $1 ORDER BY time, seq",
    )
    .bind(household_id)
    .fetch_all(db)
    .await
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReferralView {
    pub referral_id: Uuid,
    pub member_id: Uuid,
    pub department: String,
    pub need: String,
    pub status: String,
    pub feedback_due: NaiveDate,
    pub answered_at: Option<DateTime<Utc>>,
    #[sqlx(skip)]
    pub overdue: bool,
}

pub async fn referrals(db: &PgPool, household_id: Uuid) -> sqlx::Result<Vec<ReferralView>> {
    sqlx::query_as(
        "SELECT referral_id, member_id, department, need, status, feedback_due, answered_at
         FROM referrals WHERE household_id = $1 ORDER BY created_at, referral_id",
    )
    .bind(household_id)
    .fetch_all(db)
    .await
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct HouseholdView {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub region_code: String,
    pub urban: bool,
    pub tier: String,
    pub status: String,
    pub monthly_amount_fen: i64,
    pub policy_version: String,
    pub effective_month: String,
    pub enrolled_at: DateTime<Utc>,
    #[sqlx(skip)]
    pub members: Vec<PersonView>,
}

#[derive(Debug, Serialize)]
pub struct PersonView {
    pub member_id: Uuid,
    pub relation: String,
    pub id_number_masked: String,
    pub addon_reason: Option<String>,
}

pub async fn household(db: &PgPool, household_id: Uuid) -> sqlx::Result<Option<HouseholdView>> {
    let Some(mut h): Option<HouseholdView> = sqlx::query_as(
        "SELECT household_id, chain_id, region_code, urban, tier, status, monthly_amount_fen, policy_version, effective_month, enrolled_at
         FROM households WHERE household_id = $1",
    )
    .bind(household_id)
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    let rows: Vec<(Uuid, String, String, Option<String>)> =
        sqlx::query_as("SELECT member_id, relation, id_number, addon_reason FROM persons WHERE household_id = $1 ORDER BY enrolled_at, member_id")
            .bind(household_id)
            .fetch_all(db)
            .await?;
    h.members = rows
        .into_iter()
        .map(|(member_id, relation, id, addon_reason)| PersonView {
            member_id,
            relation,
            id_number_masked: policy::id::mask(&id),
            addon_reason,
        })
        .collect();
    Ok(Some(h))
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ReferralOf {
    pub referral_id: Uuid,
    pub household_id: Uuid,
    pub department: String,
    pub status: String,
    pub feedback_due: NaiveDate,
    pub answered_at: Option<DateTime<Utc>>,
}

pub async fn referral(db: &PgPool, referral_id: Uuid) -> sqlx::Result<Option<ReferralOf>> {
    sqlx::query_as(
        "SELECT referral_id, household_id, department, status, feedback_due, answered_at FROM referrals WHERE referral_id = $1",
    )
    .bind(referral_id)
    .fetch_optional(db)
    .await
}
