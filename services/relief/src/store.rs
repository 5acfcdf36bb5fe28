//! Relief's SQL.

use chrono::{DateTime, NaiveDate, Utc};
use contract::{Grant, ReferralFeedback, ReferralPush};
use mesh::Envelope;
use serde::{Deserialize, Serialize};
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
    review_reason: Option<&str>,
) -> sqlx::Result<()> {
    let p = &e.data;
    let outcome = if review_reason.is_some() {
        IN_REVIEW.to_owned()
    } else {
        outcome_of(f)
    };
    sqlx::query(
        "INSERT INTO cases (referral_id, department, household_id, chain_id, member_id, tier, push_event_id, push_digest, outcome, feedback, decided_by, review_reason, region_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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
    .bind(review_reason)
    .bind(&p.region_code)
    .execute(tx)
    .await?;
    Ok(())
}

/// A grant on record, as far as duplicates go.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantRow {
    pub referral_id: Uuid,
    pub kind: String,
    pub amount_fen: i64,
    pub from_date: NaiveDate,
    pub to_date: Option<NaiveDate>,
}

/// Serialises the decisions for one household (once-per-household grants, a person's own
/// earlier grants) until the transaction ends.
pub async fn lock_household(tx: &mut PgConnection, household_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))")
        .bind(household_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// The grants this department made to a person.
pub async fn member_grants(tx: &mut PgConnection, member_id: Uuid) -> sqlx::Result<Vec<GrantRow>> {
    sqlx::query_as(
        "SELECT referral_id, kind, amount_fen, from_date, to_date FROM grants WHERE member_id = $1 ORDER BY created_at",
    )
    .bind(member_id)
    .fetch_all(tx)
    .await
}

/// The grants of one kind this department made to anyone of a household.
pub async fn household_grants(
    tx: &mut PgConnection,
    household_id: Uuid,
    kind: &str,
) -> sqlx::Result<Vec<GrantRow>> {
    sqlx::query_as(
        "SELECT referral_id, kind, amount_fen, from_date, to_date FROM grants WHERE household_id = $1 AND kind = $2 ORDER BY created_at",
    )
    .bind(household_id)
    .bind(kind)
    .fetch_all(tx)
    .await
}

/// Records a grant sent in the feedback event `event_id`.
pub async fn insert_grant(
    tx: &mut PgConnection,
    event_id: &str,
    household_id: Uuid,
    f: &ReferralFeedback,
    g: &Grant,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO grants (feedback_event_id, referral_id, household_id, member_id, kind, amount_fen, from_date, to_date, decided_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(event_id)
    .bind(f.referral_id)
    .bind(household_id)
    .bind(f.member_id)
    .bind(&g.kind)
    .bind(g.amount_fen)
    .bind(g.from)
    .bind(g.to)
    .bind(&f.decided_by)
    .execute(tx)
    .await?;
    Ok(())
}

pub const IN_REVIEW: &str = "in_review";

fn outcome_of(f: &ReferralFeedback) -> String {
    serde_json::to_value(f.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A case waiting for an officer.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct PendingReview {
    pub referral_id: Uuid,
    pub household_id: Uuid,
    pub member_id: Uuid,
    pub tier: String,
    pub review_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn pending_reviews(db: &PgPool) -> sqlx::Result<Vec<PendingReview>> {
    sqlx::query_as(
        "SELECT referral_id, household_id, member_id, tier, review_reason, created_at FROM cases
         WHERE outcome = 'in_review' AND reviewed_at IS NULL ORDER BY created_at LIMIT 500",
    )
    .fetch_all(db)
    .await
}

/// The case in review, locked: its chain and the push it answers.
#[derive(Debug, sqlx::FromRow)]
pub struct ReviewCase {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub member_id: Uuid,
    pub push_event_id: String,
    pub outcome: String,
}

pub async fn lock_case(
    tx: &mut PgConnection,
    referral_id: Uuid,
) -> sqlx::Result<Option<ReviewCase>> {
    sqlx::query_as("SELECT household_id, chain_id, member_id, push_event_id, outcome FROM cases WHERE referral_id = $1 FOR UPDATE")
        .bind(referral_id)
        .fetch_optional(tx)
        .await
}

/// Records the officer's decision; a repeated push is answered with it from now on.
pub async fn record_review(
    tx: &mut PgConnection,
    referral_id: Uuid,
    f: &ReferralFeedback,
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE cases SET outcome = $2, feedback = $3, decided_by = $4, reviewed_by = $4, reviewed_at = $5 WHERE referral_id = $1",
    )
    .bind(referral_id)
    .bind(outcome_of(f))
    .bind(Json(f))
    .bind(&f.decided_by)
    .bind(at)
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

/// Serialises work on one key (a claim id) until the transaction ends.
pub async fn lock_key(tx: &mut PgConnection, key: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 11))")
        .bind(key)
        .execute(tx)
        .await?;
    Ok(())
}

/// A claim settled before: its request digest and the answer given.
pub async fn claim(
    tx: &mut PgConnection,
    claim_id: Uuid,
) -> sqlx::Result<Option<(String, Json<crate::claims::ClaimAnswer>)>> {
    sqlx::query_as("SELECT request_digest, answer FROM medical_claims WHERE claim_id = $1")
        .bind(claim_id)
        .fetch_optional(tx)
        .await
}

/// The medical case a bill belongs to: by referral, or the person's latest.
#[derive(Debug, sqlx::FromRow)]
pub struct MedicalCase {
    pub referral_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub member_id: Uuid,
    pub tier: String,
    pub region_code: Option<String>,
}

pub async fn medical_case(
    tx: &mut PgConnection,
    referral_id: Option<Uuid>,
    member_id: Option<Uuid>,
) -> sqlx::Result<Option<MedicalCase>> {
    sqlx::query_as(
        "SELECT referral_id, household_id, chain_id, member_id, tier, region_code FROM cases
         WHERE department = 'medical' AND ($1::uuid IS NULL OR referral_id = $1) AND ($2::uuid IS NULL OR member_id = $2 OR $1::uuid IS NOT NULL)
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(referral_id)
    .bind(member_id)
    .fetch_optional(tx)
    .await
}

/// The person's medical-assistance year, locked: (deductible used, assisted) in fen.
pub async fn lock_medical_year(
    tx: &mut PgConnection,
    member_id: Uuid,
    year: i32,
) -> sqlx::Result<(i64, i64)> {
    sqlx::query(
        "INSERT INTO medical_years (member_id, year) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(member_id)
    .bind(year)
    .execute(&mut *tx)
    .await?;
    sqlx::query_as(
        "SELECT deductible_used_fen, assisted_fen FROM medical_years WHERE member_id = $1 AND year = $2 FOR UPDATE",
    )
    .bind(member_id)
    .bind(year)
    .fetch_one(&mut *tx)
    .await
}

pub async fn record_medical_year(
    tx: &mut PgConnection,
    member_id: Uuid,
    year: i32,
    after: policy::relief::YearSoFar,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE medical_years SET deductible_used_fen = $3, assisted_fen = $4 WHERE member_id = $1 AND year = $2",
    )
    .bind(member_id)
    .bind(year)
    .bind(after.deductible_used.0)
    .bind(after.assisted.0)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn insert_claim(
    tx: &mut PgConnection,
    digest: &str,
    req: &crate::claims::ClaimRequest,
    a: &crate::claims::ClaimAnswer,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO medical_claims (claim_id, request_digest, referral_id, member_id, kind, bill_date, total_fen, insurance_paid_fen, critical_illness_paid_fen, out_of_scope_fen, eligible_fen, to_deductible_fen, assisted_fen, policy_version, answer)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(a.claim_id)
    .bind(digest)
    .bind(a.referral_id)
    .bind(a.member_id)
    .bind(&a.kind)
    .bind(a.date)
    .bind(req.total_fen.unwrap_or(0))
    .bind(req.insurance_paid_fen.unwrap_or(0))
    .bind(req.critical_illness_paid_fen.unwrap_or(0))
    .bind(req.out_of_scope_fen.unwrap_or(0))
    .bind(a.eligible_fen)
    .bind(a.to_deductible_fen)
    .bind(a.assisted_fen)
    .bind(&a.policy_version)
    .bind(Json(a))
    .execute(tx)
    .await?;
    Ok(())
}

/// Opens a care service order for a person; `false` when the person has one already.
pub async fn insert_service_order(
    tx: &mut PgConnection,
    order_id: Uuid,
    e: &Envelope<ReferralPush>,
    self_care: &str,
) -> sqlx::Result<bool> {
    let p = &e.data;
    let n = sqlx::query(
        "INSERT INTO service_orders (order_id, referral_id, household_id, chain_id, member_id, region_code, self_care)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (member_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(p.referral_id)
    .bind(e.household_id)
    .bind(e.chain_id)
    .bind(p.member_id)
    .bind(&p.region_code)
    .bind(self_care)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OpenOrder {
    pub order_id: Uuid,
    pub referral_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub member_id: Uuid,
    pub region_code: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfferLeft {
    pub offer_id: Uuid,
    pub organisation: String,
    pub kind: String,
    pub area: String,
    pub left: i32,
}

/// Open orders, oldest first, and offers with capacity left, oldest first.
pub async fn matching_inputs(
    tx: &mut PgConnection,
) -> sqlx::Result<(Vec<OpenOrder>, Vec<OfferLeft>)> {
    let orders = sqlx::query_as(
        "SELECT order_id, referral_id, household_id, chain_id, member_id, region_code FROM service_orders
         WHERE status = 'open' ORDER BY created_at, order_id LIMIT 10000 FOR UPDATE",
    )
    .fetch_all(&mut *tx)
    .await?;
    let offers = sqlx::query_as(
        "SELECT offer_id, organisation, kind, area, capacity - matched AS left FROM charity_offers
         WHERE matched < capacity ORDER BY created_at, offer_id FOR UPDATE",
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok((orders, offers))
}

pub async fn record_match(
    tx: &mut PgConnection,
    order_id: Uuid,
    offer_id: Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE service_orders SET status = 'matched', offer_id = $2, matched_at = $3 WHERE order_id = $1")
        .bind(order_id)
        .bind(offer_id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE charity_offers SET matched = matched + 1 WHERE offer_id = $1")
        .bind(offer_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A service order as `GET /v1/service-orders` shows it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ServiceOrderView {
    pub order_id: Uuid,
    pub referral_id: Uuid,
    pub household_id: Uuid,
    pub member_id: Uuid,
    pub region_code: String,
    pub self_care: String,
    pub status: String,
    pub offer_id: Option<Uuid>,
    pub organisation: Option<String>,
    pub matched_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub async fn service_orders(
    db: &PgPool,
    status: Option<&str>,
) -> sqlx::Result<Vec<ServiceOrderView>> {
    sqlx::query_as(
        "SELECT o.order_id, o.referral_id, o.household_id, o.member_id, o.region_code, o.self_care, o.status,
                o.offer_id, c.organisation, o.matched_at, o.created_at
         FROM service_orders o LEFT JOIN charity_offers c ON c.offer_id = o.offer_id
         WHERE ($1::text IS NULL OR o.status = $1) ORDER BY o.created_at, o.order_id LIMIT 500",
    )
    .bind(status)
    .fetch_all(db)
    .await
}

/// An offer registered before: its request digest and the answer given.
pub async fn offer(tx: &mut PgConnection, offer_id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT request_digest FROM charity_offers WHERE offer_id = $1")
        .bind(offer_id)
        .fetch_optional(tx)
        .await
}

pub async fn insert_offer(
    tx: &mut PgConnection,
    offer_id: Uuid,
    digest: &str,
    organisation: &str,
    kind: &str,
    area: &str,
    capacity: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO charity_offers (offer_id, request_digest, organisation, kind, area, capacity) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(offer_id)
    .bind(digest)
    .bind(organisation)
    .bind(kind)
    .bind(area)
    .bind(capacity)
    .execute(tx)
    .await?;
    Ok(())
}

/// The orders an offer was matched with.
pub async fn offer_orders(tx: &mut PgConnection, offer_id: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT order_id FROM service_orders WHERE offer_id = $1 ORDER BY matched_at, order_id",
    )
    .bind(offer_id)
    .fetch_all(tx)
    .await
}

/// An offer as answered: its figures and capacity used.
#[derive(Debug, Serialize, Deserialize, sqlx::FromRow)]
pub struct OfferView {
    pub offer_id: Uuid,
    pub organisation: String,
    pub kind: String,
    pub area: String,
    pub capacity: i32,
    pub matched: i32,
    pub created_at: DateTime<Utc>,
}

pub async fn offer_view(tx: &mut PgConnection, offer_id: Uuid) -> sqlx::Result<OfferView> {
    sqlx::query_as("SELECT offer_id, organisation, kind, area, capacity, matched, created_at FROM charity_offers WHERE offer_id = $1")
        .bind(offer_id)
        .fetch_one(tx)
        .await
}
