//! Relief's SQL.

use chrono::{DateTime, Utc};
use contract::{ReferralFeedback, ReferralPush};
use mesh::Envelope;
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, sqlx::FromRow)]
pub struct CaseRow {
    pub push_digest: String,
    pub feedback: Json<ReferralFeedback>,
}

pub async fn case(tx: &mut PgConnection, referral_id: Uuid) -> sqlx::Result<Option<CaseRow>> {
    sqlx::query_as("SELECT push_digest, feedback FROM cases WHERE referral_id = $1 FOR UPDATE")
        .bind(referral_id)
        .fetch_optional(tx)
        .await
}

pub async fn insert_case(
    tx: &mut PgConnection,
    e: &Envelope<ReferralPush>,
    digest: &str,
    f: &ReferralFeedback,
) -> sqlx::Result<()> {
    let p = &e.data;
    let outcome = serde_json::to_value(f.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    sqlx::query(
        "INSERT INTO cases (referral_id, department, household_id, chain_id, member_id, tier, push_event_id, push_digest, outcome, feedback, decided_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(p.referral_id)
    .bind(p.department.as_str())
    .bind(e.household_id)
    .bind(e.chain_id)
    .bind(p.member_id)
    .bind(p.tier.as_str())
    .bind(&e.id)
    .bind(digest)
    .bind(outcome)
    .bind(Json(f))
    .bind(&f.decided_by)
    .execute(tx)
    .await?;
    Ok(())
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct CaseView {
    pub referral_id: Uuid,
    pub department: String,
    pub household_id: Uuid,
    pub member_id: Uuid,
    pub tier: String,
    pub outcome: String,
    pub feedback: Json<ReferralFeedback>,
    pub decided_by: String,
    pub created_at: DateTime<Utc>,
}

pub async fn view(db: &PgPool, referral_id: Uuid) -> sqlx::Result<Option<CaseView>> {
    sqlx::query_as(
        "SELECT referral_id, department, household_id, member_id, tier, outcome, feedback, decided_by, created_at FROM cases WHERE referral_id = $1",
    )
    .bind(referral_id)
    .fetch_optional(db)
    .await
}
