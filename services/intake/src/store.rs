//! Intake's SQL.

use chrono::{DateTime, Utc};
use contract::{ApplicationSubmitted, HouseholdDetermined};
use mesh::db::Text;
use mesh::{Actor, Envelope};
use policy::determination::MemberFlags;
use policy::Tier;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use std::fmt;
use uuid::Uuid;

/// Where an application stands (`applications.status`, `application_history.status`):
/// verifying → determined | manual_verification | awaiting_county_decision; a county officer
/// turns awaiting_county_decision into determined or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum AppStatus {
    Verifying,
    ManualVerification,
    AwaitingCountyDecision,
    Determined,
    Rejected,
}

impl AppStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AppStatus::Verifying => "verifying",
            AppStatus::ManualVerification => "manual_verification",
            AppStatus::AwaitingCountyDecision => "awaiting_county_decision",
            AppStatus::Determined => "determined",
            AppStatus::Rejected => "rejected",
        }
    }
}

impl fmt::Display for AppStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A county officer's decision on a proposal (`proposals.decision`, CHECK approved | rejected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ProposalDecision {
    Approved,
    Rejected,
}

/// Where an emergency stands (`emergencies.status`): granted at once (act first), or
/// awaiting_case_conference until a county approver grants or refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum EmergencyStatus {
    Granted,
    AwaitingCaseConference,
    Refused,
}

impl EmergencyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EmergencyStatus::Granted => "granted",
            EmergencyStatus::AwaitingCaseConference => "awaiting_case_conference",
            EmergencyStatus::Refused => "refused",
        }
    }
}

impl fmt::Display for EmergencyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct ApplicationRow {
    pub application_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub region_code: String,
    pub urban: bool,
    pub status: AppStatus,
    pub submitted_at: DateTime<Utc>,
    pub integrity_flags: Json<Vec<String>>,
    pub manual_review_event_id: Option<String>,
    /// The township officer who submitted it; none for applications from before sign-in.
    pub submitted_by: Option<Json<Actor>>,
}

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub member_id: Uuid,
    pub id_number: String,
    pub name: String,
    pub relation: String,
    pub declared_monthly_income_fen: i64,
    pub pension_base_fen: i64,
    pub employment_costs_fen: i64,
    pub rigid_expenditure_fen: i64,
    pub declared_assets_fen: i64,
    pub flags: Json<MemberFlags>,
}

pub async fn insert_application(
    tx: &mut PgConnection,
    e: &Envelope<ApplicationSubmitted>,
    address: Option<&str>,
    idempotency_key: Option<&str>,
    integrity_flags: &[String],
    by: &Actor,
) -> sqlx::Result<()> {
    let a = &e.data;
    sqlx::query!(
        "INSERT INTO applications (application_id, household_id, chain_id, region_code, urban, address, status, idempotency_key, integrity_flags, submitted_by, commitment)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        a.application_id,
        e.household_id,
        e.chain_id,
        a.region_code.as_str(),
        a.urban,
        address,
        AppStatus::Verifying as AppStatus,
        idempotency_key,
        Json(integrity_flags) as _,
        Json(by) as _,
        a.commitment.as_ref().map(Json) as _,
    )
    .execute(&mut *tx)
    .await?;
    for (i, m) in a.members.iter().enumerate() {
        sqlx::query!(
            "INSERT INTO application_members (member_id, application_id, position, id_number, name, relation, declared_monthly_income_fen,
                 pension_base_fen, employment_costs_fen, rigid_expenditure_fen, declared_assets_fen, flags)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            m.member_id,
            a.application_id,
            i as i32,
            m.id_number,
            m.name,
            m.relation,
            m.declared_monthly_income_fen,
            m.pension_base_fen,
            m.employment_costs_fen,
            m.rigid_expenditure_fen,
            m.declared_assets_fen,
            Json(m.flags) as _,
        )
        .execute(&mut *tx)
        .await?;
    }
    history(
        tx,
        a.application_id,
        AppStatus::Verifying,
        &format!("officer:{}", by.name),
        "application submitted; household economic verification requested",
        Some(by),
    )
    .await?;
    for flag in integrity_flags {
        history(
            tx,
            a.application_id,
            AppStatus::Verifying,
            "intake",
            &format!("flagged: {flag}"),
            None,
        )
        .await?;
    }
    Ok(())
}

/// A step of the application's history: `actor` as the history shows it (`officer:<name>`,
/// `rule:<version>`, `verification` …), `by` the person who acted, from the access token
/// (none for a rule or another service).
pub async fn history(
    tx: &mut PgConnection,
    application_id: Uuid,
    status: AppStatus,
    actor: &str,
    note: &str,
    by: Option<&Actor>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO application_history (application_id, status, actor, note, by_actor) VALUES ($1, $2, $3, $4, $5)",
        application_id,
        status as AppStatus,
        actor,
        note,
        by.map(Json) as _,
    )
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn by_idempotency_key(db: &PgPool, key: &str) -> sqlx::Result<Option<ApplicationRow>> {
    sqlx::query_as!(
        ApplicationRow,
        r#"SELECT application_id, household_id, chain_id, region_code, urban, status AS "status: AppStatus", submitted_at,
                integrity_flags AS "integrity_flags: Json<Vec<String>>", manual_review_event_id,
                submitted_by AS "submitted_by: Json<Actor>"
         FROM applications WHERE idempotency_key = $1"#,
        key,
    )
    .fetch_optional(db)
    .await
}

/// The application, locked for the rest of the transaction: for the consumers, which act for
/// the mesh and see every region.
pub async fn lock(
    tx: &mut PgConnection,
    application_id: Uuid,
) -> sqlx::Result<Option<ApplicationRow>> {
    sqlx::query_as!(
        ApplicationRow,
        r#"SELECT application_id, household_id, chain_id, region_code, urban, status AS "status: AppStatus", submitted_at,
                integrity_flags AS "integrity_flags: Json<Vec<String>>", manual_review_event_id,
                submitted_by AS "submitted_by: Json<Actor>"
         FROM applications WHERE application_id = $1 FOR UPDATE"#,
        application_id,
    )
    .fetch_optional(tx)
    .await
}

/// The application if it lies in the caller's areas (`region_code LIKE ANY(areas)`, the
/// patterns of `mesh::Acting::region_patterns`), locked for the rest of the transaction; `None`
/// when it does not exist or lies outside them, alike.
pub async fn lock_in_area(
    tx: &mut PgConnection,
    application_id: Uuid,
    areas: &[String],
) -> sqlx::Result<Option<ApplicationRow>> {
    sqlx::query_as!(
        ApplicationRow,
        r#"SELECT application_id, household_id, chain_id, region_code, urban, status AS "status: AppStatus", submitted_at,
                integrity_flags AS "integrity_flags: Json<Vec<String>>", manual_review_event_id,
                submitted_by AS "submitted_by: Json<Actor>"
         FROM applications WHERE application_id = $1 AND region_code LIKE ANY($2) FOR UPDATE"#,
        application_id,
        areas,
    )
    .fetch_optional(tx)
    .await
}

pub async fn members(tx: &mut PgConnection, application_id: Uuid) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as!(
        MemberRow,
        r#"SELECT member_id, id_number, name, relation, declared_monthly_income_fen, pension_base_fen, employment_costs_fen,
                rigid_expenditure_fen, declared_assets_fen, flags AS "flags: Json<MemberFlags>"
         FROM application_members WHERE application_id = $1 ORDER BY position"#,
        application_id,
    )
    .fetch_all(tx)
    .await
}

pub async fn set_status(
    tx: &mut PgConnection,
    application_id: Uuid,
    status: AppStatus,
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE applications SET status = $2, updated_at = $3 WHERE application_id = $1",
        application_id,
        status as AppStatus,
        at,
    )
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn insert_determination(
    tx: &mut PgConnection,
    d: &HouseholdDetermined,
    decided_by: &str,
    actor: &Actor,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO determinations (application_id, tier, monthly_amount_fen, per_capita_income_fen, standard_fen, policy_version, rule, effective_month, decided_by, detail, classifications, decided_by_actor)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        d.application_id,
        Text(d.tier) as Text<Tier>,
        d.monthly_amount_fen,
        d.per_capita_income_fen,
        d.standard_fen,
        d.policy_version,
        d.rule,
        d.effective_month.to_string(),
        decided_by,
        Json(&d.members) as _,
        Json(&d.classifications) as _,
        Json(actor) as _,
    )
    .execute(tx)
    .await?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct ApplicationView {
    pub application_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub region_code: String,
    pub urban: bool,
    pub status: AppStatus,
    pub submitted_at: DateTime<Utc>,
    /// The township officer who submitted it, from the access token; null before sign-in.
    pub submitted_by: Option<Json<Actor>>,
    pub integrity_flags: Vec<String>,
    pub members: Vec<MemberView>,
    pub determination: Option<DeterminationView>,
    pub history: Vec<HistoryView>,
}

/// Members as shown over HTTP: names and ID numbers masked.
#[derive(Debug, Serialize)]
pub struct MemberView {
    pub member_id: Uuid,
    pub name_masked: String,
    pub id_number_masked: String,
    pub relation: String,
}

#[derive(Debug, Serialize)]
pub struct DeterminationView {
    pub tier: Text<Tier>,
    pub classifications: Json<Vec<String>>,
    pub monthly_amount_fen: i64,
    pub per_capita_income_fen: i64,
    pub standard_fen: i64,
    pub policy_version: String,
    pub rule: String,
    pub effective_month: String,
    pub decided_by: String,
    /// Who decided: the officer or approver from the access token, or the intake service
    /// (`role` `system`) for a decision by rule; null before sign-in.
    pub decided_by_actor: Option<Json<Actor>>,
    pub decided_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct HistoryView {
    pub at: DateTime<Utc>,
    pub status: AppStatus,
    pub actor: String,
    pub note: String,
    /// The person who acted, from the access token; null for a rule or another service.
    pub by: Option<Json<Actor>>,
}

/// A name as public disclosure shows it: the surname kept, the given name masked (`张**`,
/// `欧阳**`, `Zhang **`; `vault::mask`, which never tells the given name's length).
pub fn mask_name(name: &str) -> String {
    vault::mask::name(name, vault::mask::Style::Public)
}

/// The application as shown over HTTP, if it lies in `areas` (`None` when it does not exist or
/// lies outside them, alike).
pub async fn view(
    db: &PgPool,
    application_id: Uuid,
    areas: &[String],
) -> sqlx::Result<Option<ApplicationView>> {
    let mut conn = db.acquire().await?;
    let Some(a) = sqlx::query_as!(
        ApplicationRow,
        r#"SELECT application_id, household_id, chain_id, region_code, urban, status AS "status: AppStatus", submitted_at,
                integrity_flags AS "integrity_flags: Json<Vec<String>>", manual_review_event_id,
                submitted_by AS "submitted_by: Json<Actor>"
         FROM applications WHERE application_id = $1 AND region_code LIKE ANY($2)"#,
        application_id,
        areas,
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let members = members(&mut conn, application_id)
        .await?
        .into_iter()
        .map(|m| MemberView {
            member_id: m.member_id,
            name_masked: mask_name(&m.name),
            id_number_masked: policy::id::mask(&m.id_number),
            relation: m.relation,
        })
        .collect();
    let determination = sqlx::query_as!(
        DeterminationView,
        r#"SELECT tier AS "tier: Text<Tier>", classifications AS "classifications: Json<Vec<String>>",
                monthly_amount_fen, per_capita_income_fen, standard_fen, policy_version, rule, effective_month, decided_by,
                decided_by_actor AS "decided_by_actor: Json<Actor>", decided_at
         FROM determinations WHERE application_id = $1"#,
        application_id,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let history = sqlx::query_as!(
        HistoryView,
        r#"SELECT at, status AS "status: AppStatus", actor, note, by_actor AS "by: Json<Actor>"
         FROM application_history WHERE application_id = $1 ORDER BY id"#,
        application_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(ApplicationView {
        application_id: a.application_id,
        household_id: a.household_id,
        chain_id: a.chain_id,
        region_code: a.region_code,
        urban: a.urban,
        status: a.status,
        submitted_at: a.submitted_at,
        submitted_by: a.submitted_by,
        integrity_flags: a.integrity_flags.0,
        members,
        determination,
        history,
    }))
}

/// Serialises concurrent applications naming the same people, for the rest of the transaction.
pub async fn lock_people(tx: &mut PgConnection, id_numbers: &[String]) -> sqlx::Result<()> {
    let mut sorted = id_numbers.to_vec();
    sorted.sort();
    for n in sorted {
        sqlx::query!(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 11643))",
            n
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// A person already in an open application, or enrolled through a determined one.
#[derive(Debug)]
pub struct OpenCase {
    pub id_number: String,
    pub application_id: Uuid,
    pub state: PersonCase,
}

/// Why a person cannot be named in a new application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PersonCase {
    /// In an application not yet decided.
    Open,
    /// Enrolled through a determined application.
    Enrolled,
}

impl fmt::Display for PersonCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PersonCase::Open => "open",
            PersonCase::Enrolled => "enrolled",
        })
    }
}

pub async fn open_cases_of(
    tx: &mut PgConnection,
    id_numbers: &[String],
) -> sqlx::Result<Vec<OpenCase>> {
    sqlx::query_as!(
        OpenCase,
        r#"SELECT m.id_number, a.application_id,
                CASE WHEN a.status = 'determined' THEN 'enrolled' ELSE 'open' END AS "state!: PersonCase"
         FROM application_members m
         JOIN applications a ON a.application_id = m.application_id
         LEFT JOIN determinations d ON d.application_id = a.application_id
         WHERE m.id_number = ANY($1)
           AND (a.status IN ('verifying', 'manual_verification', 'awaiting_county_decision')
                OR (a.status = 'determined' AND d.tier <> 'none'
                    -- A household stopped for fraud has no open case any more: its dishonesty
                    -- record decides what a new application goes through.
                    AND NOT EXISTS (SELECT 1 FROM dishonesty_records r
                                     WHERE r.household_id = a.household_id)))
         ORDER BY a.submitted_at"#,
        id_numbers,
    )
    .fetch_all(tx)
    .await
}

/// A dishonesty record of a person named in an application, in force on the day asked.
#[derive(Debug, Clone)]
pub struct Dishonesty {
    /// The person's position in the application's members.
    pub position: i64,
    pub waiting_until: chrono::NaiveDate,
    pub expires_on: chrono::NaiveDate,
}

/// The dishonesty records in force on `today` (not expired, not lifted) of the people
/// `id_numbers` names (the latest expiring one per person), in application order.
pub async fn dishonesty_of(
    tx: &mut PgConnection,
    id_numbers: &[String],
    today: chrono::NaiveDate,
) -> sqlx::Result<Vec<Dishonesty>> {
    sqlx::query_as!(
        Dishonesty,
        r#"SELECT DISTINCT ON (t.i) (t.i - 1)::bigint AS "position!", r.waiting_until, r.expires_on
         FROM unnest($1::text[]) WITH ORDINALITY AS t(n, i)
         JOIN dishonesty_records r ON r.id_number = t.n
         WHERE r.expires_on >= $2 AND (r.lifted_on IS NULL OR r.lifted_on > $2)
         ORDER BY t.i, r.expires_on DESC"#,
        id_numbers,
        today,
    )
    .fetch_all(tx)
    .await
}

/// Records a dishonesty record for each of its members; a redelivery changes nothing.
pub async fn record_dishonesty(
    tx: &mut PgConnection,
    household_id: Uuid,
    r: &contract::DishonestyRecorded,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let numbers: Vec<String> = r.members.iter().map(|m| m.id_number.clone()).collect();
    sqlx::query!(
        "INSERT INTO dishonesty_records (record_id, id_number, household_id, reason, complaint_id,
                recorded_on, waiting_until, expires_on, policy_version, received_at)
         SELECT $1, n, $3, $4, $5, $6, $7, $8, $9, $10 FROM unnest($2::text[]) AS n
         ON CONFLICT (record_id, id_number) DO NOTHING",
        r.record_id,
        &numbers,
        household_id,
        r.reason,
        r.complaint_id,
        r.recorded_on,
        r.waiting_until,
        r.expires_on,
        r.policy_version,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Lifts the record `record_id` from `on` for each of its people (the first lift stands); how
/// many people's records it lifted.
pub async fn lift_dishonesty(
    tx: &mut PgConnection,
    record_id: Uuid,
    on: chrono::NaiveDate,
) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "UPDATE dishonesty_records SET lifted_on = $2 WHERE record_id = $1 AND lifted_on IS NULL",
        record_id,
        on,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

/// Integrity flags for an application naming these people (in application order).
pub async fn integrity_flags(
    tx: &mut PgConnection,
    id_numbers: &[String],
) -> sqlx::Result<Vec<String>> {
    let positions = sqlx::query_scalar!(
        r#"SELECT (i - 1)::bigint AS "position!" FROM unnest($1::text[]) WITH ORDINALITY AS t(n, i)
         WHERE EXISTS (SELECT 1 FROM staff_relatives r WHERE r.id_number = t.n) ORDER BY i"#,
        id_numbers,
    )
    .fetch_all(tx)
    .await?;
    Ok(positions
        .into_iter()
        .map(|i| {
            format!("near_relative_of_staff: members[{i}] is a registered near relative of staff")
        })
        .collect())
}

/// Registers `id_number` as a near relative of the staff member whose token subject is
/// `staff_sub`; registering the same person for the same staff member again replaces it.
pub async fn register_relative(
    tx: &mut PgConnection,
    id_number: &str,
    staff_sub: &str,
    relation: &str,
    by: &Actor,
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO staff_relatives (id_number, staff_sub, relation, registered_by, registered_by_actor, registered_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id_number, staff_sub) DO UPDATE SET relation = $3, registered_by = $4, registered_by_actor = $5,
             registered_at = $6",
        id_number,
        staff_sub.trim(),
        relation.trim(),
        by.name,
        Json(by) as _,
        at,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether the staff member whose token subject is `staff_sub` is registered as a near
/// relative of any of these people.
pub async fn is_near_relative(
    tx: &mut PgConnection,
    staff_sub: &str,
    id_numbers: &[String],
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM staff_relatives WHERE staff_sub = $1 AND id_number = ANY($2)) AS "near!""#,
        staff_sub,
        id_numbers,
    )
    .fetch_one(tx)
    .await
}

/// The manual-review event a later manual verification answers (its `causation_id`).
pub async fn set_manual_review_event(
    tx: &mut PgConnection,
    application_id: Uuid,
    event_id: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE applications SET manual_review_event_id = $2 WHERE application_id = $1",
        application_id,
        event_id,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Keeps the rule's determination as a proposal for a county decision; `proposed_by` is the
/// officer whose manual verification it rests on, if any.
pub async fn insert_proposal(
    tx: &mut PgConnection,
    d: &HouseholdDetermined,
    cause_event_id: Option<&str>,
    proposed_by: Option<&Actor>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO proposals (application_id, determination, cause_event_id, proposed_by) VALUES ($1, $2, $3, $4)",
        d.application_id,
        Json(d) as _,
        cause_event_id,
        proposed_by.map(Json) as _,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// An undecided proposal: the rule's determination, the event it answers, and the officer whose
/// manual verification it rests on.
pub struct Proposal {
    pub determination: HouseholdDetermined,
    pub cause_event_id: Option<String>,
    pub proposed_by: Option<Actor>,
}

/// The undecided proposal of an application.
pub async fn proposal(
    tx: &mut PgConnection,
    application_id: Uuid,
) -> sqlx::Result<Option<Proposal>> {
    let row = sqlx::query!(
        r#"SELECT determination AS "determination: Json<HouseholdDetermined>", cause_event_id,
                proposed_by AS "proposed_by: Json<Actor>"
         FROM proposals WHERE application_id = $1 AND decision IS NULL FOR UPDATE"#,
        application_id,
    )
    .fetch_optional(tx)
    .await?;
    Ok(row.map(|r| Proposal {
        determination: r.determination.0,
        cause_event_id: r.cause_event_id,
        proposed_by: r.proposed_by.map(|a| a.0),
    }))
}

pub async fn decide_proposal(
    tx: &mut PgConnection,
    application_id: Uuid,
    by: &str,
    actor: &Actor,
    decision: ProposalDecision,
    reason: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE proposals SET decided_by = $2, decision = $3, reason = $4, decided_at = $5, decided_by_actor = $6 WHERE application_id = $1",
        application_id,
        by,
        decision as ProposalDecision,
        reason,
        at,
        Json(actor) as _,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// An emergency case as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Emergency {
    pub emergency_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    #[serde(skip)]
    pub member_id: Uuid,
    #[serde(skip)]
    pub id_number: String,
    #[serde(skip)]
    pub name: String,
    pub region_code: String,
    pub hardship: String,
    pub total_amount_fen: i64,
    pub stages: Json<Vec<StageRequest>>,
    pub status: EmergencyStatus,
    pub act_first: bool,
    pub limit_fen: i64,
    pub policy_version: String,
    /// The reporting officer's name (from the token).
    pub reported_by: String,
    /// The reporting officer, from the access token; null before sign-in.
    pub reported_by_actor: Option<Json<Actor>>,
    pub decided_by: Option<String>,
    /// The township officer (act first) or county approver who decided, from the token.
    pub decided_by_actor: Option<Json<Actor>>,
    pub decision_reason: Option<String>,
    pub papers_due: Option<chrono::NaiveDate>,
    pub papers_completed_by: Option<String>,
    pub papers_completed_by_actor: Option<Json<Actor>>,
    pub created_at: DateTime<Utc>,
}

/// One stage of a staged grant, as reported: paid this many days after the grant.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRequest {
    pub amount_fen: i64,
    #[serde(default)]
    pub pay_after_days: u32,
}

pub async fn insert_emergency(tx: &mut PgConnection, e: &Emergency) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO emergencies (emergency_id, household_id, chain_id, member_id, id_number, name, region_code, hardship,
             total_amount_fen, stages, status, act_first, limit_fen, policy_version, reported_by, decided_by, decision_reason,
             papers_due, decided_at, reported_by_actor, decided_by_actor)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                 CASE WHEN $16::text IS NULL THEN NULL ELSE $19::timestamptz END, $20, $21)",
        e.emergency_id,
        e.household_id,
        e.chain_id,
        e.member_id,
        e.id_number,
        e.name,
        e.region_code,
        e.hardship,
        e.total_amount_fen,
        &e.stages as _,
        e.status as EmergencyStatus,
        e.act_first,
        e.limit_fen,
        e.policy_version,
        e.reported_by,
        e.decided_by,
        e.decision_reason,
        e.papers_due,
        e.created_at,
        &e.reported_by_actor as _,
        &e.decided_by_actor as _,
    )
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn emergency_by_key(db: &PgPool, key: &str) -> sqlx::Result<Option<Emergency>> {
    sqlx::query_as!(
        Emergency,
        r#"SELECT emergency_id, household_id, chain_id, member_id, id_number, name, region_code, hardship,
                total_amount_fen, stages AS "stages: Json<Vec<StageRequest>>", status AS "status: EmergencyStatus",
                act_first, limit_fen, policy_version, reported_by, reported_by_actor AS "reported_by_actor: Json<Actor>",
                decided_by, decided_by_actor AS "decided_by_actor: Json<Actor>", decision_reason,
                papers_due, papers_completed_by, papers_completed_by_actor AS "papers_completed_by_actor: Json<Actor>",
                created_at
         FROM emergencies WHERE idempotency_key = $1"#,
        key,
    )
    .fetch_optional(db)
    .await
}

pub async fn set_emergency_key(tx: &mut PgConnection, id: Uuid, key: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE emergencies SET idempotency_key = $2 WHERE emergency_id = $1",
        id,
        key,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// The emergency if it happened in `areas`, locked for the rest of the transaction; `None` when
/// it does not exist or lies outside them, alike.
pub async fn lock_emergency(
    tx: &mut PgConnection,
    id: Uuid,
    areas: &[String],
) -> sqlx::Result<Option<Emergency>> {
    sqlx::query_as!(
        Emergency,
        r#"SELECT emergency_id, household_id, chain_id, member_id, id_number, name, region_code, hardship,
                total_amount_fen, stages AS "stages: Json<Vec<StageRequest>>", status AS "status: EmergencyStatus",
                act_first, limit_fen, policy_version, reported_by, reported_by_actor AS "reported_by_actor: Json<Actor>",
                decided_by, decided_by_actor AS "decided_by_actor: Json<Actor>", decision_reason,
                papers_due, papers_completed_by, papers_completed_by_actor AS "papers_completed_by_actor: Json<Actor>",
                created_at
         FROM emergencies WHERE emergency_id = $1 AND region_code LIKE ANY($2) FOR UPDATE"#,
        id,
        areas,
    )
    .fetch_optional(tx)
    .await
}

pub async fn decide_emergency(
    tx: &mut PgConnection,
    id: Uuid,
    status: EmergencyStatus,
    by: &str,
    actor: &Actor,
    reason: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE emergencies SET status = $2, decided_by = $3, decision_reason = $4, decided_at = $5, decided_by_actor = $6 WHERE emergency_id = $1",
        id,
        status as EmergencyStatus,
        by,
        reason,
        at,
        Json(actor) as _,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Marks the papers of an act-first grant in `areas` complete; `None` when there were none open
/// (no such emergency, none in the areas, not act first, or done already).
pub async fn complete_papers(
    tx: &mut PgConnection,
    id: Uuid,
    actor: &Actor,
    areas: &[String],
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "UPDATE emergencies SET papers_completed_by = $2, papers_completed_at = $3, papers_completed_by_actor = $4
         WHERE emergency_id = $1 AND act_first AND papers_completed_at IS NULL AND region_code LIKE ANY($5)
         RETURNING household_id",
        id,
        actor.name,
        at,
        Json(actor) as _,
        areas,
    )
    .fetch_optional(tx)
    .await
}

/// Act-first grants whose papers are still open after their due date: the reminder list.
/// Only the emergencies that happened in `areas`.
pub async fn papers_overdue(
    db: &PgPool,
    on: chrono::NaiveDate,
    areas: &[String],
) -> sqlx::Result<Vec<Emergency>> {
    sqlx::query_as!(
        Emergency,
        r#"SELECT emergency_id, household_id, chain_id, member_id, id_number, name, region_code, hardship,
                total_amount_fen, stages AS "stages: Json<Vec<StageRequest>>", status AS "status: EmergencyStatus",
                act_first, limit_fen, policy_version, reported_by, reported_by_actor AS "reported_by_actor: Json<Actor>",
                decided_by, decided_by_actor AS "decided_by_actor: Json<Actor>", decision_reason,
                papers_due, papers_completed_by, papers_completed_by_actor AS "papers_completed_by_actor: Json<Actor>",
                created_at
         FROM emergencies
         WHERE act_first AND papers_completed_at IS NULL AND papers_due < $1 AND region_code LIKE ANY($2)
         ORDER BY papers_due LIMIT 1000"#,
        on,
        areas,
    )
    .fetch_all(db)
    .await
}

/// Puts the approval disclosure (审批公示) of a determination with a tier on its village's
/// notice from `decided_on` through `notice_until`; a second time changes nothing.
pub async fn insert_notice(
    tx: &mut PgConnection,
    d: &HouseholdDetermined,
    decided_on: chrono::NaiveDate,
    notice_until: chrono::NaiveDate,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO disclosure_notices (application_id, region_code, decided_on, notice_until, policy_version)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (application_id) DO NOTHING",
        d.application_id,
        d.region_code.as_str(),
        decided_on,
        notice_until,
        d.policy_version,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// One household on a public disclosure list: no full names or ID numbers.
#[derive(Debug, Serialize)]
pub struct Disclosed {
    pub application_id: Uuid,
    /// The village or community (12 digits), or the township (9 digits) it applied in.
    pub region_code: String,
    pub head_name_masked: String,
    pub head_id_number_masked: String,
    pub members: i64,
    pub tier: Text<Tier>,
    pub monthly_amount_fen: i64,
    /// The first month paid (`YYYY-MM`).
    pub effective_month: String,
    /// The decision day (Beijing time).
    pub decided_on: chrono::NaiveDate,
    /// The last day of the approval disclosure's notice period.
    pub notice_until: chrono::NaiveDate,
}

/// Which list of a notice board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Board {
    /// The approval disclosures whose notice period runs on the day asked.
    Notices,
    /// The current recipients (长期公示): notice period over, and no stop of the whole household
    /// from the month asked or before (nor a dishonesty record: assistance obtained by fraud).
    Recipients,
}

/// The households on `board` of `area` (a village or community, 12 digits, or a township, 9
/// digits, with its villages) on `today`, whose month is `month` (`YYYY-MM`); newest decision
/// first, at most 1000.
pub async fn board(
    db: &PgPool,
    board: Board,
    area: &str,
    today: chrono::NaiveDate,
    month: &str,
) -> sqlx::Result<Vec<Disclosed>> {
    let rows = sqlx::query!(
        r#"SELECT a.application_id, a.region_code, h.name, h.id_number,
                (SELECT count(*) FROM application_members c WHERE c.application_id = a.application_id) AS "members!",
                d.tier AS "tier: Text<Tier>", d.monthly_amount_fen, d.effective_month, n.decided_on, n.notice_until
         FROM disclosure_notices n
         JOIN applications a ON a.application_id = n.application_id
         JOIN determinations d ON d.application_id = n.application_id
         JOIN application_members h ON h.application_id = a.application_id AND h.position = 0
         WHERE d.tier <> 'none' AND n.region_code LIKE $1 || '%'
           AND CASE WHEN $2 THEN n.decided_on <= $3 AND n.notice_until >= $3
                    ELSE n.notice_until < $3
                         AND NOT EXISTS (SELECT 1 FROM household_stops s
                                          WHERE s.household_id = a.household_id AND s.stop_from_month <= $4)
                         AND NOT EXISTS (SELECT 1 FROM dishonesty_records r WHERE r.household_id = a.household_id)
               END
         ORDER BY n.decided_on DESC, a.application_id LIMIT 1000"#,
        area,
        board == Board::Notices,
        today,
        month,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Disclosed {
            application_id: r.application_id,
            region_code: r.region_code,
            head_name_masked: mask_name(&r.name),
            head_id_number_masked: policy::id::mask(&r.id_number),
            members: r.members,
            tier: r.tier,
            monthly_amount_fen: r.monthly_amount_fen,
            effective_month: r.effective_month,
            decided_on: r.decided_on,
            notice_until: r.notice_until,
        })
        .collect())
}

/// The notice of an application an objection is about, and the chain it belongs to.
#[derive(Debug, Clone)]
pub struct NoticeOf {
    pub application_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub region_code: String,
    pub decided_on: chrono::NaiveDate,
    pub notice_until: chrono::NaiveDate,
}

/// The approval disclosure of `application_id`, if it was ever on a notice.
pub async fn notice_of(
    tx: &mut PgConnection,
    application_id: Uuid,
) -> sqlx::Result<Option<NoticeOf>> {
    sqlx::query_as!(
        NoticeOf,
        "SELECT n.application_id, a.household_id, a.chain_id, n.region_code, n.decided_on, n.notice_until
         FROM disclosure_notices n JOIN applications a ON a.application_id = n.application_id
         WHERE n.application_id = $1",
        application_id,
    )
    .fetch_optional(tx)
    .await
}

/// Keeps an objection as taken.
pub async fn insert_objection(
    tx: &mut PgConnection,
    o: &contract::DisclosureObjected,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO disclosure_objections (objection_id, application_id, summary, contact_name, contact_phone, objected_on, objected_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        o.objection_id,
        o.application_id,
        o.summary,
        o.contact.as_ref().map(|c| c.name.as_str()),
        o.contact.as_ref().and_then(|c| c.phone.as_deref()),
        o.objected_on,
        at,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Keeps a stop (or gradual exit) of a household's whole assistance; a redelivery changes
/// nothing.
pub async fn record_stop(
    tx: &mut PgConnection,
    household_id: Uuid,
    c: &contract::HouseholdChanged,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO household_stops (change_id, household_id, stop_from_month, reason, received_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (change_id) DO NOTHING",
        c.change_id,
        household_id,
        c.stop_from_month.to_string(),
        c.reason,
        at,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// A determination a person made for an application naming a given person.
#[derive(Debug)]
pub struct DecidedFor {
    pub application_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub region_code: String,
    pub member_id: Uuid,
    pub decided_at: DateTime<Utc>,
}

/// The determinations the person whose token subject is `staff_sub` made (not a rule's) for
/// applications naming `id_number`.
pub async fn decided_by_for(
    tx: &mut PgConnection,
    staff_sub: &str,
    id_number: &str,
) -> sqlx::Result<Vec<DecidedFor>> {
    sqlx::query_as!(
        DecidedFor,
        "SELECT a.application_id, a.household_id, a.chain_id, a.region_code, m.member_id, d.decided_at
         FROM determinations d
         JOIN applications a USING (application_id)
         JOIN application_members m ON m.application_id = a.application_id AND m.id_number = $2
         WHERE d.decided_by_actor->>'sub' = $1 AND d.decided_by NOT LIKE 'rule:%'
         ORDER BY d.decided_at, a.application_id",
        staff_sub.trim(),
        id_number,
    )
    .fetch_all(tx)
    .await
}
