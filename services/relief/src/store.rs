//! Relief's SQL.

use chrono::{DateTime, NaiveDate, Utc};
use contract::{FeedbackOutcome, Grant, ReferralFeedback, ReferralPush};
use mesh::auth::Actor;
use mesh::db::Text;
use mesh::Envelope;
use policy::determination::SelfCare;
use policy::{Department, Tier};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use std::fmt;
use uuid::Uuid;

/// Where a case stands (`cases.outcome`): the outcome of the feedback sent, or in_review while
/// a named officer of the department has still to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum CaseOutcome {
    Accepted,
    Rejected,
    Granted,
    Closed,
    InReview,
}

impl CaseOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseOutcome::Accepted => "accepted",
            CaseOutcome::Rejected => "rejected",
            CaseOutcome::Granted => "granted",
            CaseOutcome::Closed => "closed",
            CaseOutcome::InReview => "in_review",
        }
    }
}

/// A case holds the department's answer in force: further help (`supplemented`) and a
/// correction leave it granted; a revocation leaves it without a grant. (Relief itself sends
/// only `accepted`, `granted`, `rejected` and `supplemented`.)
impl From<FeedbackOutcome> for CaseOutcome {
    fn from(o: FeedbackOutcome) -> Self {
        match o {
            FeedbackOutcome::Accepted => CaseOutcome::Accepted,
            FeedbackOutcome::Rejected | FeedbackOutcome::Revoked => CaseOutcome::Rejected,
            FeedbackOutcome::Granted
            | FeedbackOutcome::Supplemented
            | FeedbackOutcome::Corrected => CaseOutcome::Granted,
            FeedbackOutcome::Closed => CaseOutcome::Closed,
        }
    }
}

impl fmt::Display for CaseOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a care service order stands (`service_orders.status`): open, then matched with an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Open,
    Matched,
}

impl OrderStatus {
    pub fn parse(s: &str) -> Option<OrderStatus> {
        match s {
            "open" => Some(OrderStatus::Open),
            "matched" => Some(OrderStatus::Matched),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub struct CaseRow {
    pub push_digest: String,
    pub feedback: Json<ReferralFeedback>,
}

pub async fn case(tx: &mut PgConnection, referral_id: Uuid) -> sqlx::Result<Option<CaseRow>> {
    sqlx::query_as!(
        CaseRow,
        r#"SELECT push_digest, feedback AS "feedback: Json<ReferralFeedback>" FROM cases WHERE referral_id = $1 FOR UPDATE"#,
        referral_id,
    )
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
        CaseOutcome::InReview
    } else {
        CaseOutcome::from(f.outcome)
    };
    sqlx::query!(
        "INSERT INTO cases (referral_id, department, household_id, chain_id, member_id, tier, push_event_id, push_digest, outcome, feedback, decided_by, review_reason, region_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        p.referral_id,
        Text(p.department) as Text<Department>,
        e.household_id,
        e.chain_id,
        p.member_id,
        Text(p.tier) as Text<Tier>,
        e.id,
        digest,
        outcome as CaseOutcome,
        Json(f) as _,
        f.decided_by,
        review_reason,
        p.region_code.as_str(),
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// A grant on record, as far as duplicates go.
#[derive(Debug, Clone)]
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
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 7))",
        household_id,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// The grants this department made to a person.
pub async fn member_grants(tx: &mut PgConnection, member_id: Uuid) -> sqlx::Result<Vec<GrantRow>> {
    sqlx::query_as!(
        GrantRow,
        "SELECT referral_id, kind, amount_fen, from_date, to_date FROM grants WHERE member_id = $1 ORDER BY created_at",
        member_id,
    )
    .fetch_all(tx)
    .await
}

/// The grants of one kind this department made to anyone of a household.
pub async fn household_grants(
    tx: &mut PgConnection,
    household_id: Uuid,
    kind: &str,
) -> sqlx::Result<Vec<GrantRow>> {
    sqlx::query_as!(
        GrantRow,
        "SELECT referral_id, kind, amount_fen, from_date, to_date FROM grants WHERE household_id = $1 AND kind = $2 ORDER BY created_at",
        household_id,
        kind,
    )
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
    sqlx::query!(
        "INSERT INTO grants (feedback_event_id, referral_id, household_id, member_id, kind, amount_fen, from_date, to_date, decided_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        event_id,
        f.referral_id,
        household_id,
        f.member_id,
        g.kind,
        g.amount_fen,
        g.from,
        g.to,
        f.decided_by,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// A case waiting for an officer.
#[derive(Debug, Serialize)]
pub struct PendingReview {
    pub referral_id: Uuid,
    pub household_id: Uuid,
    pub member_id: Uuid,
    pub tier: Text<Tier>,
    pub review_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The cases in review (of the regions matching `patterns`, when given).
pub async fn pending_reviews(
    db: &PgPool,
    patterns: Option<&[String]>,
) -> sqlx::Result<Vec<PendingReview>> {
    sqlx::query_as!(
        PendingReview,
        r#"SELECT referral_id, household_id, member_id, tier AS "tier: Text<Tier>", review_reason, created_at FROM cases
         WHERE outcome = 'in_review' AND reviewed_at IS NULL
           AND ($1::text[] IS NULL OR region_code LIKE ANY($1::text[]))
         ORDER BY created_at LIMIT 500"#,
        patterns,
    )
    .fetch_all(db)
    .await
}

/// The case in review, locked: its chain and the push it answers.
#[derive(Debug)]
pub struct ReviewCase {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub member_id: Uuid,
    pub push_event_id: String,
    pub outcome: CaseOutcome,
}

pub async fn lock_case(
    tx: &mut PgConnection,
    referral_id: Uuid,
) -> sqlx::Result<Option<ReviewCase>> {
    sqlx::query_as!(
        ReviewCase,
        r#"SELECT household_id, chain_id, member_id, push_event_id, outcome AS "outcome: CaseOutcome"
         FROM cases WHERE referral_id = $1 FOR UPDATE"#,
        referral_id,
    )
    .fetch_optional(tx)
    .await
}

/// Records the officer's decision; a repeated push is answered with it from now on.
pub async fn record_review(
    tx: &mut PgConnection,
    referral_id: Uuid,
    f: &ReferralFeedback,
    by: &Actor,
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE cases SET outcome = $2, feedback = $3, decided_by = $4, reviewed_by = $4, reviewed_at = $5,
             reviewed_by_sub = $6, reviewed_by_name = $7, reviewed_by_role = $8
         WHERE referral_id = $1",
        referral_id,
        CaseOutcome::from(f.outcome) as CaseOutcome,
        Json(f) as _,
        f.decided_by,
        at,
        by.sub,
        by.name,
        by.role,
    )
    .execute(tx)
    .await?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct CaseView {
    pub referral_id: Uuid,
    pub department: Text<Department>,
    pub household_id: Uuid,
    pub member_id: Uuid,
    pub tier: Text<Tier>,
    pub outcome: CaseOutcome,
    pub feedback: Json<ReferralFeedback>,
    pub decided_by: String,
    /// The department officer who decided the case in review, from the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed_by: Option<Actor>,
    pub created_at: DateTime<Utc>,
}

struct CaseRowView {
    referral_id: Uuid,
    department: Text<Department>,
    household_id: Uuid,
    member_id: Uuid,
    tier: Text<Tier>,
    outcome: CaseOutcome,
    feedback: Json<ReferralFeedback>,
    decided_by: String,
    reviewed_by_sub: Option<String>,
    reviewed_by_name: Option<String>,
    reviewed_by_role: Option<String>,
    created_at: DateTime<Utc>,
}

/// The case, when its referral's region matches `patterns` (any case when `None`).
pub async fn view(
    db: &PgPool,
    referral_id: Uuid,
    patterns: Option<&[String]>,
) -> sqlx::Result<Option<CaseView>> {
    let row = sqlx::query_as!(
        CaseRowView,
        r#"SELECT referral_id, department AS "department: Text<Department>", household_id, member_id, tier AS "tier: Text<Tier>",
                outcome AS "outcome: CaseOutcome", feedback AS "feedback: Json<ReferralFeedback>", decided_by,
                reviewed_by_sub, reviewed_by_name, reviewed_by_role, created_at
         FROM cases WHERE referral_id = $1 AND ($2::text[] IS NULL OR region_code LIKE ANY($2::text[]))"#,
        referral_id,
        patterns,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| CaseView {
        referral_id: r.referral_id,
        department: r.department,
        household_id: r.household_id,
        member_id: r.member_id,
        tier: r.tier,
        outcome: r.outcome,
        feedback: r.feedback,
        decided_by: r.decided_by,
        reviewed_by: actor_of(r.reviewed_by_sub, r.reviewed_by_name, r.reviewed_by_role),
        created_at: r.created_at,
    }))
}

/// An actor from three stored columns, when the row names one.
pub fn actor_of(sub: Option<String>, name: Option<String>, role: Option<String>) -> Option<Actor> {
    Some(Actor {
        sub: sub?,
        name: name.unwrap_or_default(),
        role: role.unwrap_or_default(),
    })
}

/// Serialises work on one key (a claim id) until the transaction ends.
pub async fn lock_key(tx: &mut PgConnection, key: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 11))",
        key
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// A claim settled before: its request digest and the answer given.
pub async fn claim(
    tx: &mut PgConnection,
    claim_id: Uuid,
) -> sqlx::Result<Option<(String, Json<crate::claims::ClaimAnswer>)>> {
    let row = sqlx::query!(
        r#"SELECT request_digest, answer AS "answer: Json<crate::claims::ClaimAnswer>" FROM medical_claims WHERE claim_id = $1"#,
        claim_id,
    )
    .fetch_optional(tx)
    .await?;
    Ok(row.map(|r| (r.request_digest, r.answer)))
}

/// A medical case, as a bill needs it.
#[derive(Debug)]
pub struct MedicalCase {
    pub referral_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub member_id: Uuid,
    pub tier: Text<Tier>,
    pub region_code: Option<String>,
    pub outcome: CaseOutcome,
}

/// The medical case a bill belongs to: the referral's, or the person's latest granted one (the
/// latest of any outcome when none is granted).
pub async fn medical_case(
    tx: &mut PgConnection,
    referral_id: Option<Uuid>,
    member_id: Option<Uuid>,
) -> sqlx::Result<Option<MedicalCase>> {
    sqlx::query_as!(
        MedicalCase,
        r#"SELECT referral_id, household_id, chain_id, member_id, tier AS "tier: Text<Tier>", region_code, outcome AS "outcome: CaseOutcome" FROM cases
         WHERE department = 'medical' AND ($1::uuid IS NULL OR referral_id = $1) AND ($2::uuid IS NULL OR member_id = $2 OR $1::uuid IS NOT NULL)
         ORDER BY (outcome = 'granted') DESC, created_at DESC LIMIT 1"#,
        referral_id,
        member_id,
    )
    .fetch_optional(tx)
    .await
}

/// The person's medical-assistance year, locked: (deductible used, assisted) in fen.
pub async fn lock_medical_year(
    tx: &mut PgConnection,
    member_id: Uuid,
    year: i32,
) -> sqlx::Result<(i64, i64)> {
    sqlx::query!(
        "INSERT INTO medical_years (member_id, year) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        member_id,
        year,
    )
    .execute(&mut *tx)
    .await?;
    let r = sqlx::query!(
        "SELECT deductible_used_fen, assisted_fen FROM medical_years WHERE member_id = $1 AND year = $2 FOR UPDATE",
        member_id,
        year,
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok((r.deductible_used_fen, r.assisted_fen))
}

pub async fn record_medical_year(
    tx: &mut PgConnection,
    member_id: Uuid,
    year: i32,
    after: policy::relief::YearSoFar,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE medical_years SET deductible_used_fen = $3, assisted_fen = $4 WHERE member_id = $1 AND year = $2",
        member_id,
        year,
        after.deductible_used.0,
        after.assisted.0,
    )
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn insert_claim(
    tx: &mut PgConnection,
    digest: &str,
    req: &crate::claims::ClaimRequest,
    a: &crate::claims::ClaimAnswer,
    by: &Actor,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO medical_claims (claim_id, request_digest, referral_id, member_id, kind, bill_date, total_fen, insurance_paid_fen, critical_illness_paid_fen, out_of_scope_fen, eligible_fen, to_deductible_fen, assisted_fen, policy_version, answer, actor_sub, actor_name, actor_role)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        a.claim_id,
        digest,
        a.referral_id,
        a.member_id,
        a.kind,
        a.date,
        req.total_fen.unwrap_or(0),
        req.insurance_paid_fen.unwrap_or(0),
        req.critical_illness_paid_fen.unwrap_or(0),
        req.out_of_scope_fen.unwrap_or(0),
        a.eligible_fen,
        a.to_deductible_fen,
        a.assisted_fen,
        a.policy_version,
        Json(a) as _,
        by.sub,
        by.name,
        by.role,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Opens a care service order for a person; `false` when the person has one already.
pub async fn insert_service_order(
    tx: &mut PgConnection,
    order_id: Uuid,
    e: &Envelope<ReferralPush>,
    self_care: SelfCare,
) -> sqlx::Result<bool> {
    let p = &e.data;
    let n = sqlx::query!(
        "INSERT INTO service_orders (order_id, referral_id, household_id, chain_id, member_id, region_code, self_care)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (member_id) DO NOTHING",
        order_id,
        p.referral_id,
        e.household_id,
        e.chain_id,
        p.member_id,
        p.region_code.as_str(),
        Text(self_care) as Text<SelfCare>,
    )
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[derive(Debug, Clone)]
pub struct OpenOrder {
    pub order_id: Uuid,
    pub referral_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub member_id: Uuid,
    pub region_code: String,
}

#[derive(Debug, Clone)]
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
    let orders = sqlx::query_as!(
        OpenOrder,
        "SELECT order_id, referral_id, household_id, chain_id, member_id, region_code FROM service_orders
         WHERE status = 'open' ORDER BY created_at, order_id LIMIT 10000 FOR UPDATE",
    )
    .fetch_all(&mut *tx)
    .await?;
    let offers = sqlx::query_as!(
        OfferLeft,
        r#"SELECT offer_id, organisation, kind, area, capacity - matched AS "left!" FROM charity_offers
         WHERE matched < capacity ORDER BY created_at, offer_id FOR UPDATE"#,
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
    sqlx::query!(
        "UPDATE service_orders SET status = $4, offer_id = $2, matched_at = $3 WHERE order_id = $1",
        order_id,
        offer_id,
        at,
        OrderStatus::Matched as OrderStatus,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE charity_offers SET matched = matched + 1 WHERE offer_id = $1",
        offer_id,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A service order as `GET /v1/service-orders` shows it.
#[derive(Debug, Serialize)]
pub struct ServiceOrderView {
    pub order_id: Uuid,
    pub referral_id: Uuid,
    pub household_id: Uuid,
    pub member_id: Uuid,
    pub region_code: String,
    pub self_care: Text<SelfCare>,
    pub status: OrderStatus,
    pub offer_id: Option<Uuid>,
    pub organisation: Option<String>,
    pub matched_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Care service orders (of the regions matching `patterns`, when given).
pub async fn service_orders(
    db: &PgPool,
    status: Option<OrderStatus>,
    patterns: Option<&[String]>,
) -> sqlx::Result<Vec<ServiceOrderView>> {
    sqlx::query_as!(
        ServiceOrderView,
        r#"SELECT o.order_id, o.referral_id, o.household_id, o.member_id, o.region_code,
                o.self_care AS "self_care: Text<SelfCare>", o.status AS "status: OrderStatus",
                o.offer_id, c.organisation AS "organisation?", o.matched_at, o.created_at
         FROM service_orders o LEFT JOIN charity_offers c ON c.offer_id = o.offer_id
         WHERE ($1::text IS NULL OR o.status = $1)
           AND ($2::text[] IS NULL OR o.region_code LIKE ANY($2::text[]))
         ORDER BY o.created_at, o.order_id LIMIT 500"#,
        status as Option<OrderStatus>,
        patterns,
    )
    .fetch_all(db)
    .await
}

/// An offer registered before: its request digest and the answer given.
pub async fn offer(tx: &mut PgConnection, offer_id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "SELECT request_digest FROM charity_offers WHERE offer_id = $1",
        offer_id,
    )
    .fetch_optional(tx)
    .await
}

/// An offer to register.
pub struct NewOffer<'a> {
    pub offer_id: Uuid,
    pub digest: &'a str,
    pub organisation: &'a str,
    pub kind: &'a str,
    pub area: &'a str,
    pub capacity: i32,
    pub registered_by: &'a Actor,
}

pub async fn insert_offer(tx: &mut PgConnection, o: &NewOffer<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO charity_offers (offer_id, request_digest, organisation, kind, area, capacity,
             registered_by_sub, registered_by_name, registered_by_role)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        o.offer_id,
        o.digest,
        o.organisation,
        o.kind,
        o.area,
        o.capacity,
        o.registered_by.sub,
        o.registered_by.name,
        o.registered_by.role,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// The orders an offer was matched with.
pub async fn offer_orders(tx: &mut PgConnection, offer_id: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "SELECT order_id FROM service_orders WHERE offer_id = $1 ORDER BY matched_at, order_id",
        offer_id,
    )
    .fetch_all(tx)
    .await
}

/// An offer as answered: its figures and capacity used.
#[derive(Debug, Serialize, Deserialize)]
pub struct OfferView {
    pub offer_id: Uuid,
    pub organisation: String,
    pub kind: String,
    pub area: String,
    pub capacity: i32,
    pub matched: i32,
    /// The department officer who registered it, from the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_by: Option<Actor>,
    pub created_at: DateTime<Utc>,
}

pub async fn offer_view(tx: &mut PgConnection, offer_id: Uuid) -> sqlx::Result<OfferView> {
    let r = sqlx::query!(
        "SELECT offer_id, organisation, kind, area, capacity, matched, registered_by_sub, registered_by_name,
                registered_by_role, created_at
         FROM charity_offers WHERE offer_id = $1",
        offer_id,
    )
    .fetch_one(tx)
    .await?;
    Ok(OfferView {
        offer_id: r.offer_id,
        organisation: r.organisation,
        kind: r.kind,
        area: r.area,
        capacity: r.capacity,
        matched: r.matched,
        registered_by: actor_of(
            r.registered_by_sub,
            r.registered_by_name,
            r.registered_by_role,
        ),
        created_at: r.created_at,
    })
}
