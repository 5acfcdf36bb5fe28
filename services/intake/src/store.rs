//! Intake's SQL.

use chrono::{DateTime, Utc};
use contract::{ApplicationSubmitted, HouseholdDetermined};
use mesh::db::Text;
use mesh::Envelope;
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
) -> sqlx::Result<()> {
    let a = &e.data;
    sqlx::query!(
        "INSERT INTO applications (application_id, household_id, chain_id, region_code, urban, address, status, idempotency_key, integrity_flags)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        a.application_id,
        e.household_id,
        e.chain_id,
        a.region_code.as_str(),
        a.urban,
        address,
        AppStatus::Verifying as AppStatus,
        idempotency_key,
        Json(integrity_flags) as _,
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
        "applicant",
        "application submitted; household economic verification requested",
    )
    .await?;
    for flag in integrity_flags {
        history(
            tx,
            a.application_id,
            AppStatus::Verifying,
            "intake",
            &format!("flagged: {flag}"),
        )
        .await?;
    }
    Ok(())
}

pub async fn history(
    tx: &mut PgConnection,
    application_id: Uuid,
    status: AppStatus,
    actor: &str,
    note: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO application_history (application_id, status, actor, note) VALUES ($1, $2, $3, $4)",
        application_id,
        status as AppStatus,
        actor,
        note,
    )
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn by_idempotency_key(db: &PgPool, key: &str) -> sqlx::Result<Option<ApplicationRow>> {
    sqlx::query_as!(
        ApplicationRow,
        r#"SELECT application_id, household_id, chain_id, region_code, urban, status AS "status: AppStatus", submitted_at,
                integrity_flags AS "integrity_flags: Json<Vec<String>>", manual_review_event_id
         FROM applications WHERE idempotency_key = $1"#,
        key,
    )
    .fetch_optional(db)
    .await
}

/// The application, locked for the rest of the transaction.
pub async fn lock(
    tx: &mut PgConnection,
    application_id: Uuid,
) -> sqlx::Result<Option<ApplicationRow>> {
    sqlx::query_as!(
        ApplicationRow,
        r#"SELECT application_id, household_id, chain_id, region_code, urban, status AS "status: AppStatus", submitted_at,
                integrity_flags AS "integrity_flags: Json<Vec<String>>", manual_review_event_id
         FROM applications WHERE application_id = $1 FOR UPDATE"#,
        application_id,
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
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO determinations (application_id, tier, monthly_amount_fen, per_capita_income_fen, standard_fen, policy_version, rule, effective_month, decided_by, detail, classifications)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
    pub decided_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct HistoryView {
    pub at: DateTime<Utc>,
    pub status: AppStatus,
    pub actor: String,
    pub note: String,
}

/// A name with all but its first character hidden, as public disclosure shows it.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

pub async fn view(db: &PgPool, application_id: Uuid) -> sqlx::Result<Option<ApplicationView>> {
    let mut conn = db.acquire().await?;
    let Some(a) = sqlx::query_as!(
        ApplicationRow,
        r#"SELECT application_id, household_id, chain_id, region_code, urban, status AS "status: AppStatus", submitted_at,
                integrity_flags AS "integrity_flags: Json<Vec<String>>", manual_review_event_id
         FROM applications WHERE application_id = $1"#,
        application_id,
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
                monthly_amount_fen, per_capita_income_fen, standard_fen, policy_version, rule, effective_month, decided_by, decided_at
         FROM determinations WHERE application_id = $1"#,
        application_id,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let history = sqlx::query_as!(
        HistoryView,
        r#"SELECT at, status AS "status: AppStatus", actor, note FROM application_history WHERE application_id = $1 ORDER BY id"#,
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
                OR (a.status = 'determined' AND d.tier <> 'none'))
         ORDER BY a.submitted_at"#,
        id_numbers,
    )
    .fetch_all(tx)
    .await
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

pub async fn register_relative(
    db: &PgPool,
    id_number: &str,
    staff_name: &str,
    relation: &str,
    by: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO staff_relatives (id_number, staff_name, relation, registered_by, registered_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id_number) DO UPDATE SET staff_name = $2, relation = $3, registered_by = $4, registered_at = $5",
        id_number,
        staff_name.trim(),
        relation.trim(),
        by.trim(),
        at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// One line of the public disclosure list: no full names or ID numbers.
#[derive(Debug, Serialize)]
pub struct Disclosure {
    pub application_id: Uuid,
    pub region_code: String,
    pub head_name_masked: String,
    pub head_id_number_masked: String,
    pub members: i64,
    pub tier: Text<Tier>,
    pub monthly_amount_fen: i64,
    pub decided_at: DateTime<Utc>,
}

pub async fn disclosures(db: &PgPool, region_code: Option<&str>) -> sqlx::Result<Vec<Disclosure>> {
    let rows = sqlx::query!(
        r#"SELECT a.application_id, a.region_code, h.name, h.id_number,
                (SELECT count(*) FROM application_members c WHERE c.application_id = a.application_id) AS "members!",
                d.tier AS "tier: Text<Tier>", d.monthly_amount_fen, d.decided_at
         FROM applications a
         JOIN determinations d ON d.application_id = a.application_id
         JOIN application_members h ON h.application_id = a.application_id AND h.position = 0
         WHERE d.tier <> 'none' AND ($1::text IS NULL OR a.region_code LIKE $1 || '%')
         ORDER BY d.decided_at DESC LIMIT 1000"#,
        region_code,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Disclosure {
            application_id: r.application_id,
            region_code: r.region_code,
            head_name_masked: mask_name(&r.name),
            head_id_number_masked: policy::id::mask(&r.id_number),
            members: r.members,
            tier: r.tier,
            monthly_amount_fen: r.monthly_amount_fen,
            decided_at: r.decided_at,
        })
        .collect())
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

pub async fn insert_proposal(
    tx: &mut PgConnection,
    d: &HouseholdDetermined,
    cause_event_id: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO proposals (application_id, determination, cause_event_id) VALUES ($1, $2, $3)",
        d.application_id,
        Json(d) as _,
        cause_event_id,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// The undecided proposal of an application, with the event it answers.
pub async fn proposal(
    tx: &mut PgConnection,
    application_id: Uuid,
) -> sqlx::Result<Option<(HouseholdDetermined, Option<String>)>> {
    let row = sqlx::query!(
        r#"SELECT determination AS "determination: Json<HouseholdDetermined>", cause_event_id
         FROM proposals WHERE application_id = $1 AND decision IS NULL FOR UPDATE"#,
        application_id,
    )
    .fetch_optional(tx)
    .await?;
    Ok(row.map(|r| (r.determination.0, r.cause_event_id)))
}

pub async fn decide_proposal(
    tx: &mut PgConnection,
    application_id: Uuid,
    by: &str,
    decision: ProposalDecision,
    reason: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE proposals SET decided_by = $2, decision = $3, reason = $4, decided_at = $5 WHERE application_id = $1",
        application_id,
        by,
        decision as ProposalDecision,
        reason,
        at,
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
    pub reported_by: String,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    pub papers_due: Option<chrono::NaiveDate>,
    pub papers_completed_by: Option<String>,
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
             papers_due, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                 CASE WHEN $16::text IS NULL THEN NULL ELSE $19::timestamptz END)",
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
                act_first, limit_fen, policy_version, reported_by, decided_by, decision_reason,
                papers_due, papers_completed_by, created_at
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

pub async fn lock_emergency(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Emergency>> {
    sqlx::query_as!(
        Emergency,
        r#"SELECT emergency_id, household_id, chain_id, member_id, id_number, name, region_code, hardship,
                total_amount_fen, stages AS "stages: Json<Vec<StageRequest>>", status AS "status: EmergencyStatus",
                act_first, limit_fen, policy_version, reported_by, decided_by, decision_reason,
                papers_due, papers_completed_by, created_at
         FROM emergencies WHERE emergency_id = $1 FOR UPDATE"#,
        id,
    )
    .fetch_optional(tx)
    .await
}

pub async fn decide_emergency(
    tx: &mut PgConnection,
    id: Uuid,
    status: EmergencyStatus,
    by: &str,
    reason: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE emergencies SET status = $2, decided_by = $3, decision_reason = $4, decided_at = $5 WHERE emergency_id = $1",
        id,
        status as EmergencyStatus,
        by,
        reason,
        at,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Marks an act-first grant's papers complete; `false` when there were none open.
pub async fn complete_papers(
    db: &PgPool,
    id: Uuid,
    officer: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "UPDATE emergencies SET papers_completed_by = $2, papers_completed_at = $3
         WHERE emergency_id = $1 AND act_first AND papers_completed_at IS NULL",
        id,
        officer,
        at,
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Act-first grants whose papers are still open after their due date: the reminder list.
pub async fn papers_overdue(db: &PgPool, on: chrono::NaiveDate) -> sqlx::Result<Vec<Emergency>> {
    sqlx::query_as!(
        Emergency,
        r#"SELECT emergency_id, household_id, chain_id, member_id, id_number, name, region_code, hardship,
                total_amount_fen, stages AS "stages: Json<Vec<StageRequest>>", status AS "status: EmergencyStatus",
                act_first, limit_fen, policy_version, reported_by, decided_by, decision_reason,
                papers_due, papers_completed_by, created_at
         FROM emergencies
         WHERE act_first AND papers_completed_at IS NULL AND papers_due < $1 ORDER BY papers_due LIMIT 1000"#,
        on,
    )
    .fetch_all(db)
    .await
}
