//! Warnings (预警): the one way every rule, report and deadline sweep asks a township to look.
//!
//! A warning is raised once per `dedupe_key`, assigned to a township, due for on-site
//! verification by `verify_due`, then disposed of in one of the four ways the texts name.

use crate::app::State;
use axum::extract::{Path, Query, State as AxState};
use axum::routing::{get as http_get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use contract::{
    AssistanceChange, Circumstances, Grant, HouseholdChanged, PriorAssistance, ReferralPush,
};
use mesh::http::{ApiError, FieldError, JsonBody};
use mesh::subjects::{HOUSEHOLD_CHANGED, REFERRAL_PUSH};
use mesh::{ChainRef, Mesh};
use policy::{Department, Month, RegionCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A warning to raise. `dedupe_key` names what raised it, so a redelivery raises it once.
#[derive(Debug, Clone)]
pub struct NewWarning {
    pub dedupe_key: String,
    pub kind: String,
    pub household_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub township_code: String,
    /// Ids, amounts and reasons only: never names or ID numbers.
    pub detail: Value,
    pub verify_due: NaiveDate,
    /// When it is raised, by the service's clock.
    pub raised_at: DateTime<Utc>,
}

/// Raises the warning in the caller's transaction; returns its id, and `false` when a warning
/// with the same `dedupe_key` already existed (its id is returned unchanged).
pub async fn raise(tx: &mut PgConnection, w: &NewWarning) -> sqlx::Result<(Uuid, bool)> {
    let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, w.dedupe_key.as_bytes());
    let inserted = sqlx::query(
        "INSERT INTO warnings (warning_id, dedupe_key, kind, household_id, member_id, township_code, detail, verify_due, raised_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(id)
    .bind(&w.dedupe_key)
    .bind(&w.kind)
    .bind(w.household_id)
    .bind(w.member_id)
    .bind(&w.township_code)
    .bind(&w.detail)
    .bind(w.verify_due)
    .bind(w.raised_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok((id, inserted == 1))
}

// ---------------------------------------------------------------------------------------------
// The lifecycle: open → verified (on site, by a named township officer) → disposed (one of the
// four ways); open past `verify_due` → escalated to the county by the sweep.

/// The kind of a warning raised for a referral with no feedback past its `feedback_due`.
pub const KIND_REFERRAL_OVERDUE: &str = "referral_overdue";

/// The four ways a verified warning is disposed of (分类处置).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// A policy not applied → apply it.
    ApplyPolicy,
    /// Not covered but likely eligible → push to the department by hardship type.
    PushToDepartment,
    /// Complex → county joint meeting, decided case by case (一事一议).
    CaseConference,
    /// Likely no longer eligible → re-verify and terminate.
    ReverifyTerminate,
}

impl Disposition {
    pub const ALL: [Disposition; 4] = [
        Disposition::ApplyPolicy,
        Disposition::PushToDepartment,
        Disposition::CaseConference,
        Disposition::ReverifyTerminate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::ApplyPolicy => "apply_policy",
            Disposition::PushToDepartment => "push_to_department",
            Disposition::CaseConference => "case_conference",
            Disposition::ReverifyTerminate => "reverify_terminate",
        }
    }

    pub fn parse(s: &str) -> Option<Disposition> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// A warning as staff see it: who verified and disposed of it, and when.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct WarningView {
    pub warning_id: Uuid,
    pub kind: String,
    pub household_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub township_code: String,
    pub detail: Value,
    pub status: String,
    pub verify_due: NaiveDate,
    /// Open past `verify_due` (as of today).
    #[sqlx(skip)]
    pub overdue: bool,
    pub raised_at: DateTime<Utc>,
    pub escalated_at: Option<DateTime<Utc>>,
    /// The county (6-digit code) it was escalated to.
    pub escalated_to: Option<String>,
    pub verified_by: Option<String>,
    pub verified_at: Option<DateTime<Utc>>,
    pub finding: Option<String>,
    pub disposition: Option<String>,
    pub disposed_by: Option<String>,
    pub disposed_at: Option<DateTime<Utc>>,
    pub disposal_detail: Option<Value>,
}

const COLUMNS: &str = "warning_id, kind, household_id, member_id, township_code, detail, status, verify_due, raised_at, escalated_at, escalated_to, verified_by, verified_at, finding, disposition, disposed_by, disposed_at, disposal_detail";

fn with_overdue(mut w: WarningView, today: NaiveDate) -> WarningView {
    w.overdue = w.status == "open" && w.verify_due < today;
    w
}

/// What `GET /v1/warnings` selects; every field optional.
#[derive(Debug, Default)]
pub struct Filter {
    /// Region code prefix: a township's own, or every township of a county.
    pub township: Option<String>,
    pub status: Option<String>,
    pub overdue: Option<bool>,
    pub escalated: Option<bool>,
    pub kind: Option<String>,
    pub household_id: Option<Uuid>,
    /// "Today" for `overdue`.
    pub as_of: NaiveDate,
    pub limit: i64,
}

pub async fn list(db: &PgPool, f: &Filter) -> sqlx::Result<Vec<WarningView>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM warnings
         WHERE ($1::text IS NULL OR township_code LIKE $1 || '%')
           AND ($2::text IS NULL OR status = $2)
           AND ($3::bool IS NULL OR $3 = (status = 'open' AND verify_due < $4))
           AND ($5::bool IS NULL OR $5 = (escalated_at IS NOT NULL))
           AND ($6::text IS NULL OR kind = $6)
           AND ($7::uuid IS NULL OR household_id = $7)
         ORDER BY raised_at, warning_id LIMIT $8"
    );
    let rows: Vec<WarningView> = sqlx::query_as(&sql)
        .bind(&f.township)
        .bind(&f.status)
        .bind(f.overdue)
        .bind(f.as_of)
        .bind(f.escalated)
        .bind(&f.kind)
        .bind(f.household_id)
        .bind(f.limit)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|w| with_overdue(w, f.as_of)).collect())
}

pub async fn get(db: &PgPool, id: Uuid, today: NaiveDate) -> sqlx::Result<Option<WarningView>> {
    let row: Option<WarningView> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM warnings WHERE warning_id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|w| with_overdue(w, today)))
}

async fn locked(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<WarningView>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM warnings WHERE warning_id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
}

/// The on-site verification of a warning by a named township officer.
#[derive(Debug, Deserialize)]
pub struct VerificationRequest {
    #[serde(default)]
    pub officer: Option<String>,
    /// What the officer found on site.
    #[serde(default)]
    pub finding: Option<String>,
}

/// The disposition of a verified warning, with what each way needs.
#[derive(Debug, Deserialize)]
pub struct DispositionRequest {
    #[serde(default)]
    pub officer: Option<String>,
    #[serde(default)]
    pub disposition: Option<String>,
    /// `apply_policy`: the policy applied (e.g. `classified_addon`, `medical_premium_subsidy`).
    #[serde(default)]
    pub policy: Option<String>,
    /// `push_to_department`: the department; defaults to the one the warning names.
    #[serde(default)]
    pub department: Option<String>,
    /// `case_conference`: the joint meeting's decision.
    #[serde(default)]
    pub decision: Option<String>,
    /// `case_conference`: the named county officer who approved the decision.
    #[serde(default)]
    pub county_approver: Option<String>,
}

fn required(
    value: &Option<String>,
    field: &str,
    reason: &str,
    errors: &mut Vec<FieldError>,
) -> String {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => {
            errors.push(FieldError::new(field, reason));
            String::new()
        }
    }
}

/// Free text recorded on a warning must not carry a resident ID number (names cannot be told
/// from other words; staff are asked to write ids, not names).
fn no_id_number(field: &str, value: &Option<String>, errors: &mut Vec<FieldError>) {
    let Some(text) = value.as_deref() else {
        return;
    };
    let carries_id = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| word.len() == 18 && policy::ResidentId::parse(word).is_ok());
    if carries_id {
        errors.push(FieldError::new(
            field,
            "must not contain an ID number: name the person by member id",
        ));
    }
}

/// Records the verification; 409 when the warning is not open.
pub async fn verify(
    db: &PgPool,
    clock: &mesh::Clock,
    id: Uuid,
    req: &VerificationRequest,
) -> Result<WarningView, ApiError> {
    let mut errors = Vec::new();
    let officer = required(
        &req.officer,
        "officer",
        "the township officer who verified on site is required",
        &mut errors,
    );
    let finding = required(
        &req.finding,
        "finding",
        "what was found on site is required",
        &mut errors,
    );
    no_id_number("finding", &req.finding, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut tx = db.begin().await?;
    let w = locked(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no warning {id}")))?;
    if w.status != "open" {
        return Err(ApiError::Conflict(format!(
            "warning {id} is already {} (by {})",
            w.status,
            w.verified_by.as_deref().unwrap_or("?")
        )));
    }
    sqlx::query(
        "UPDATE warnings SET status = 'verified', verified_by = $2, verified_at = $4, finding = $3 WHERE warning_id = $1",
    )
    .bind(id)
    .bind(&officer)
    .bind(&finding)
    .bind(clock.now())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(warning_id = %id, kind = %w.kind, "Warning verified on site.");
    get(db, id, clock.today())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no warning {id}")))
}

/// Disposes of a verified warning in one of the four ways, with its effects in the same
/// transaction (a referral pushed, a change emitted, through the outbox).
pub async fn dispose(
    state: &State,
    id: Uuid,
    req: &DispositionRequest,
) -> Result<WarningView, ApiError> {
    let mut errors = Vec::new();
    let officer = required(
        &req.officer,
        "officer",
        "the township officer disposing of the warning is required",
        &mut errors,
    );
    let names = Disposition::ALL.map(Disposition::as_str).join(", ");
    let disposition = match req.disposition.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new(
                "disposition",
                format!("required: one of {names}"),
            ));
            None
        }
        Some(d) => {
            let parsed = Disposition::parse(d);
            if parsed.is_none() {
                errors.push(FieldError::new(
                    "disposition",
                    format!("unknown disposition {d:?}: one of {names}"),
                ));
            }
            parsed
        }
    };
    let mut detail = serde_json::Map::new();
    match disposition {
        Some(Disposition::ApplyPolicy) => {
            let policy = required(
                &req.policy,
                "policy",
                "the policy applied is required",
                &mut errors,
            );
            detail.insert("policy".into(), json!(policy));
        }
        Some(Disposition::CaseConference) => {
            let decision = required(
                &req.decision,
                "decision",
                "the joint meeting's decision is required",
                &mut errors,
            );
            let approver = required(
                &req.county_approver,
                "county_approver",
                "the county officer who approved the decision is required",
                &mut errors,
            );
            detail.insert("decision".into(), json!(decision));
            detail.insert("county_approver".into(), json!(approver));
        }
        Some(Disposition::PushToDepartment) => {
            if let Some(d) = req.department.as_deref() {
                if Department::parse(d).is_none() {
                    let all = Department::ALL.map(Department::as_str).join(", ");
                    errors.push(FieldError::new(
                        "department",
                        format!("unknown department {d:?}: one of {all}"),
                    ));
                }
            }
        }
        Some(Disposition::ReverifyTerminate) | None => {}
    }
    for (field, text) in [
        ("policy", &req.policy),
        ("decision", &req.decision),
        ("county_approver", &req.county_approver),
    ] {
        no_id_number(field, text, &mut errors);
    }
    let Some(disposition) = disposition.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };

    let mut tx = state.mesh.db.begin().await?;
    let w = locked(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no warning {id}")))?;
    match w.status.as_str() {
        "open" => {
            let why = format!("warning {id} has not been verified on site");
            return Err(ApiError::Conflict(format!(
                "{why}: POST /v1/warnings/{id}/verification first"
            )));
        }
        "disposed" => {
            return Err(ApiError::Conflict(format!(
                "warning {id} was already disposed of ({})",
                w.disposition.as_deref().unwrap_or("?")
            )))
        }
        _ => {}
    }
    let today = state.mesh.today();
    match disposition {
        Disposition::ApplyPolicy | Disposition::CaseConference => {}
        Disposition::PushToDepartment => {
            let dept = req
                .department
                .as_deref()
                .or_else(|| w.detail.get("department").and_then(Value::as_str))
                .and_then(Department::parse)
                .or_else(|| department_for_hardship(&w.kind))
                .ok_or_else(|| {
                    ApiError::Validation(vec![FieldError::new(
                        "department",
                        format!(
                            "a {} warning names no department by itself: give one",
                            w.kind
                        ),
                    )])
                })?;
            let referral_id = push_to_department(state, &mut tx, &w, dept, today).await?;
            detail.insert("department".into(), json!(dept.as_str()));
            detail.insert("referral_id".into(), json!(referral_id));
        }
        Disposition::ReverifyTerminate => {
            let change = reverify_terminate(state, &mut tx, &w, &officer, today).await?;
            detail.insert("change_id".into(), json!(change.change_id));
            detail.insert("reason".into(), json!(change.reason));
            detail.insert("stop_from_month".into(), json!(change.stop_from_month));
        }
    }
    sqlx::query(
        "UPDATE warnings SET status = 'disposed', disposition = $2, disposed_by = $3, disposed_at = $5, disposal_detail = $4
         WHERE warning_id = $1",
    )
    .bind(id)
    .bind(disposition.as_str())
    .bind(&officer)
    .bind(Value::Object(detail))
    .bind(state.mesh.clock.now())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(warning_id = %id, kind = %w.kind, disposition = disposition.as_str(), "Warning disposed of.");
    get(&state.mesh.db, id, state.mesh.today())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no warning {id}")))
}

/// The department of a hardship type, for a warning that names none: the kinds the
/// departmental feeds raise (serious illness → medical, a student in hardship → education,
/// housing hardship → housing, registered unemployed → employment, a disaster → disaster).
pub fn department_for_hardship(kind: &str) -> Option<Department> {
    match kind {
        "serious_illness" => Some(Department::Medical),
        "student_hardship" | "student" => Some(Department::Education),
        "housing_hardship" | "dilapidated_house" => Some(Department::Housing),
        "registered_unemployed" | "unemployed" => Some(Department::Employment),
        "disaster_victim" | "disaster" => Some(Department::Disaster),
        _ => None,
    }
}

/// What happened, for the push, from the warning: its detail's `circumstances` when it has
/// them, else the facts its detail names (`occurred_on`, `illness`, `house_damage`,
/// `displaced`), with the warning's kind as the source.
fn circumstances_of(w: &WarningView) -> Circumstances {
    if let Some(c) = w
        .detail
        .get("circumstances")
        .and_then(|c| serde_json::from_value::<Circumstances>(c.clone()).ok())
    {
        return c;
    }
    let field = |k: &str| w.detail.get(k).cloned().unwrap_or(Value::Null);
    Circumstances {
        source: w.kind.clone(),
        occurred_on: serde_json::from_value(field("occurred_on")).ok().flatten(),
        house_damage: serde_json::from_value(field("house_damage")).ok().flatten(),
        displaced: field("displaced").as_bool().unwrap_or(false),
        illness: field("illness").as_str().map(str::to_owned),
    }
}

/// The enrolled person and household a warning is about, for a push or a change.
#[derive(sqlx::FromRow)]
struct Subject {
    chain_id: Uuid,
    region_code: String,
    urban: bool,
    tier: String,
    id_number: String,
    name: String,
}

/// `push_to_department`: a `referral.<dept>.push` through the same path and `referrals` table
/// as determination referrals; the referral id is stable from the warning id.
async fn push_to_department(
    state: &State,
    tx: &mut PgConnection,
    w: &WarningView,
    dept: Department,
    today: NaiveDate,
) -> Result<Uuid, ApiError> {
    let (Some(household_id), Some(member_id)) = (w.household_id, w.member_id) else {
        return Err(ApiError::Conflict(format!(
            "warning {} names no enrolled person to push to a department",
            w.warning_id
        )));
    };
    let s: Subject = sqlx::query_as(
        "SELECT h.chain_id, h.region_code, h.urban, h.tier, p.id_number, p.name
         FROM persons p JOIN households h USING (household_id)
         WHERE p.member_id = $1 AND p.household_id = $2",
    )
    .bind(member_id)
    .bind(household_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        ApiError::Conflict(format!(
            "the person of warning {} is not enrolled in the population database",
            w.warning_id
        ))
    })?;
    let params = params_for(state, &s.region_code, today)?;
    let tier = serde_json::from_value(json!(s.tier))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored tier: {e}")))?;
    let referral_id = Uuid::new_v5(&w.warning_id, b"push_to_department");
    let prior = prior_assistance(&mut *tx, &s.id_number, today).await?;
    let push = ReferralPush {
        referral_id,
        department: dept,
        member_id,
        id_number: s.id_number,
        name: s.name,
        region_code: s.region_code,
        urban: s.urban,
        tier,
        need: crate::handlers::need_of(dept).to_owned(),
        feedback_due: today + chrono::Days::new(u64::from(params.referral_feedback_days)),
        school_stage: None,
        zero_employment_household: false,
        prior_assistance: prior,
        // A warning on an unanswered referral repeats the determination's need: no new facts.
        circumstances: (w.kind != KIND_REFERRAL_OVERDUE).then(|| circumstances_of(w)),
        self_care: None,
    };
    let chain = ChainRef {
        household_id,
        chain_id: s.chain_id,
        causation_id: None,
    };
    let out = state
        .mesh
        .envelope(&chain, Some(referral_id.to_string()), push);
    crate::store::insert_referral(&mut *tx, &out).await?;
    sqlx::query("UPDATE referrals SET warning_id = $2 WHERE referral_id = $1")
        .bind(referral_id)
        .bind(w.warning_id)
        .execute(&mut *tx)
        .await?;
    mesh::outbox::enqueue(
        &mut *tx,
        &state.mesh.subjects.fill(REFERRAL_PUSH, dept.as_str()),
        &out,
    )
    .await?;
    tracing::info!(warning_id = %w.warning_id, department = %dept, "Warning pushed to a department.");
    Ok(referral_id)
}

/// `reverify_terminate`: `monitor.household.changed` {stopped, no_longer_eligible} for the
/// person (or the household, when the warning names no person), from next month.
async fn reverify_terminate(
    state: &State,
    tx: &mut PgConnection,
    w: &WarningView,
    officer: &str,
    today: NaiveDate,
) -> Result<HouseholdChanged, ApiError> {
    let Some(household_id) = w.household_id else {
        return Err(ApiError::Conflict(format!(
            "warning {} names no enrolled household to terminate",
            w.warning_id
        )));
    };
    let chain_id: Uuid =
        sqlx::query_scalar("SELECT chain_id FROM households WHERE household_id = $1")
            .bind(household_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                ApiError::Conflict(format!(
                    "the household of warning {} is not enrolled",
                    w.warning_id
                ))
            })?;
    let change = HouseholdChanged {
        change_id: Uuid::new_v5(&w.warning_id, b"reverify_terminate"),
        member_id: w.member_id,
        change: AssistanceChange::Stopped,
        reason: "no_longer_eligible".into(),
        occurred_on: today,
        stop_from_month: Month::of(today).next().to_string(),
        exit_months: None,
        decided_by: format!("officer:{officer}"),
    };
    let chain = ChainRef {
        household_id,
        chain_id,
        causation_id: None,
    };
    let subject = w.member_id.unwrap_or(household_id).to_string();
    let out = state.mesh.envelope(&chain, Some(subject), change.clone());
    mesh::outbox::enqueue(&mut *tx, &state.mesh.subjects.of(HOUSEHOLD_CHANGED), &out).await?;
    if w.member_id.is_none() {
        sqlx::query(
            "UPDATE households SET status = 'stopped', updated_at = now() WHERE household_id = $1",
        )
        .bind(household_id)
        .execute(&mut *tx)
        .await?;
    }
    Ok(change)
}

fn params_for<'a>(
    state: &'a State,
    region_code: &str,
    on: NaiveDate,
) -> Result<&'a policy::ParameterSet, ApiError> {
    let region = RegionCode::parse(region_code)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored region code: {e}")))?;
    state
        .policy
        .in_force(&region, on)
        .map_err(|e| ApiError::Conflict(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// One chain per household: what the person already has, and duplicate assistance.

/// A grant recorded on a referral (`grant_detail`), with whose it is.
#[derive(Debug, Clone)]
pub struct RecordedGrant {
    pub referral_id: Uuid,
    pub member_id: Uuid,
    pub department: String,
    pub grant: Grant,
}

/// Every grant recorded for the person with this ID number, in any household.
async fn grants_of_person(
    tx: &mut PgConnection,
    id_number: &str,
) -> sqlx::Result<Vec<RecordedGrant>> {
    let rows: Vec<(Uuid, Uuid, String, Value)> = sqlx::query_as(
        "SELECT r.referral_id, r.member_id, r.department, r.grant_detail
         FROM referrals r JOIN persons p ON p.member_id = r.member_id
         WHERE p.id_number = $1 AND r.status = 'granted' AND r.grant_detail IS NOT NULL
         ORDER BY r.answered_at, r.referral_id",
    )
    .bind(id_number)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(referral_id, member_id, department, g)| {
            let grant: Grant = serde_json::from_value(g).ok()?;
            Some(RecordedGrant {
                referral_id,
                member_id,
                department,
                grant,
            })
        })
        .collect())
}

/// The person's grants still running on `today` (a one-off grant, with no `to`, counts as
/// running: the department decides whether the new need is the same), for a push's
/// `prior_assistance`.
pub async fn prior_assistance(
    tx: &mut PgConnection,
    id_number: &str,
    today: NaiveDate,
) -> sqlx::Result<Vec<PriorAssistance>> {
    Ok(grants_of_person(tx, id_number)
        .await?
        .into_iter()
        .filter(|g| g.grant.to.is_none_or(|to| to >= today))
        .filter_map(|g| {
            Some(PriorAssistance {
                referral_id: g.referral_id,
                department: Department::parse(&g.department)?,
                kind: g.grant.kind,
                amount_fen: g.grant.amount_fen,
                from: g.grant.from,
                to: g.grant.to,
            })
        })
        .collect())
}

/// Two grants of the same kind to the same person for overlapping periods (重复救助).
#[derive(Debug, Clone, Serialize)]
pub struct DuplicateAssistance {
    pub member_id: Uuid,
    pub kind: String,
    /// The two referrals whose grants overlap.
    pub referral_ids: [Uuid; 2],
    /// The days both cover.
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The duplicate assistance of every member of the household, counting grants recorded for
/// the same person (by ID number) in other households too, by the same rule the departments
/// refuse duplicates with (`policy::relief::duplicates`), under the household's parameter set.
pub async fn duplicates(
    db: &PgPool,
    book: &policy::PolicyBook,
    household_id: Uuid,
    today: NaiveDate,
) -> anyhow::Result<Vec<DuplicateAssistance>> {
    let mut conn = db.acquire().await?;
    let region: Option<(String,)> =
        sqlx::query_as("SELECT region_code FROM households WHERE household_id = $1")
            .bind(household_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((region,)) = region else {
        return Ok(Vec::new());
    };
    let params = book.in_force(&RegionCode::parse(&region)?, today)?;
    let people: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT member_id, id_number FROM persons WHERE household_id = $1 ORDER BY member_id",
    )
    .bind(household_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::new();
    for (member_id, id_number) in people {
        let grants = grants_of_person(&mut conn, &id_number).await?;
        out.extend(overlapping(member_id, &grants, params));
    }
    Ok(out)
}

/// Every pair of grants giving the same help for overlapping periods, by the departments' rule
/// (`policy::relief::duplicates`: a one-off grant covers `one_off_cover_months`).
pub fn overlapping(
    member_id: Uuid,
    grants: &[RecordedGrant],
    p: &policy::ParameterSet,
) -> Vec<DuplicateAssistance> {
    use policy::relief::{duplicates, last_day_covered, Help};
    fn help(g: &Grant) -> Help<'_> {
        Help {
            kind: &g.kind,
            from: g.from,
            to: g.to,
        }
    }
    let mut out = Vec::new();
    for (i, a) in grants.iter().enumerate() {
        for b in &grants[i + 1..] {
            if duplicates(help(&a.grant), help(&b.grant), p) {
                let from = a.grant.from.max(b.grant.from);
                let to = last_day_covered(a.grant.from, a.grant.to, p).min(last_day_covered(
                    b.grant.from,
                    b.grant.to,
                    p,
                ));
                out.push(DuplicateAssistance {
                    member_id,
                    kind: a.grant.kind.clone(),
                    referral_ids: [a.referral_id, b.referral_id],
                    from,
                    to,
                });
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The sweep: referrals past `feedback_due` raise warnings; warnings open past `verify_due`
// escalate to the county.

/// What one sweep did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    pub as_of: NaiveDate,
    /// Warnings raised for referrals with no feedback past their deadline (new ones only).
    pub referral_overdue_raised: usize,
    /// Warnings newly escalated to the county.
    pub escalated: usize,
}

/// One sweep as of `as_of` ("today"): idempotent, safe with several replicas.
pub async fn sweep(state: &State, as_of: NaiveDate) -> anyhow::Result<SweepReport> {
    let mut report = SweepReport {
        as_of,
        ..Default::default()
    };
    let mut tx = state.mesh.db.begin().await?;
    let overdue: Vec<(Uuid, Uuid, Uuid, String, NaiveDate, String)> = sqlx::query_as(
        "SELECT r.referral_id, r.household_id, r.member_id, r.department, r.feedback_due, h.region_code
         FROM referrals r JOIN households h USING (household_id)
         WHERE r.answered_at IS NULL AND r.feedback_due < $1
           AND NOT EXISTS (SELECT 1 FROM warnings w WHERE w.dedupe_key = 'referral-overdue:' || r.referral_id::text)
         ORDER BY r.feedback_due, r.referral_id",
    )
    .bind(as_of)
    .fetch_all(&mut *tx)
    .await?;
    for (referral_id, household_id, member_id, department, feedback_due, region_code) in overdue {
        let region = RegionCode::parse(&region_code)?;
        let params = state.policy.in_force(&region, as_of)?;
        let (_, new) = raise(
            &mut tx,
            &NewWarning {
                dedupe_key: format!("referral-overdue:{referral_id}"),
                kind: KIND_REFERRAL_OVERDUE.into(),
                household_id: Some(household_id),
                member_id: Some(member_id),
                township_code: region_code,
                detail: json!({
                    "referral_id": referral_id,
                    "department": department,
                    "feedback_due": feedback_due,
                }),
                verify_due: policy::dates::deadline(as_of, params.warning_verify_days),
                raised_at: state.mesh.clock.now(),
            },
        )
        .await?;
        report.referral_overdue_raised += usize::from(new);
    }
    let escalated = sqlx::query(
        "UPDATE warnings SET escalated_at = $2, escalated_to = left(township_code, 6)
         WHERE status = 'open' AND escalated_at IS NULL AND verify_due < $1",
    )
    .bind(as_of)
    .bind(state.mesh.clock.now())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    report.escalated = escalated as usize;
    tx.commit().await?;
    if report.referral_overdue_raised > 0 || report.escalated > 0 {
        tracing::info!(
            %as_of,
            raised = report.referral_overdue_raised,
            escalated = report.escalated,
            "Warning sweep."
        );
    }
    Ok(report)
}

/// The periodic sweep, as of the real date, every `interval`, until the service stops. A failed
/// sweep is logged and tried again on the next tick.
pub async fn run(state: State, interval: std::time::Duration) -> anyhow::Result<()> {
    let stop = state.mesh.stopping.clone();
    let mut tick = tokio::time::interval(interval.max(std::time::Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(error) = sweep(&state, state.mesh.today()).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "Warning sweep failed; it is tried again on the next tick."
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// HTTP.

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route("/v1/warnings", http_get(list_warnings))
        .route("/v1/warnings/{warning_id}", http_get(one_warning))
        .route("/v1/warnings/{warning_id}/verification", post(verification))
        .route("/v1/warnings/{warning_id}/disposition", post(disposition))
        .route("/v1/sweeps", post(run_sweep))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub township: Option<String>,
    pub county: Option<String>,
    pub status: Option<String>,
    pub overdue: Option<String>,
    pub escalated: Option<String>,
    pub kind: Option<String>,
    pub household_id: Option<String>,
    pub as_of: Option<String>,
    pub limit: Option<String>,
}

fn region_prefix(
    value: &Option<String>,
    field: &str,
    lens: &[usize],
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = value.as_deref()?.trim();
    if v.is_empty() {
        return None;
    }
    if !lens.contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(FieldError::new(
            field,
            format!("a region code of {lens:?} digits"),
        ));
        return None;
    }
    Some(v.to_owned())
}

fn boolean(value: &Option<String>, field: &str, errors: &mut Vec<FieldError>) -> Option<bool> {
    match value.as_deref()? {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            errors.push(FieldError::new(field, "true or false"));
            None
        }
    }
}

/// `as_of` as a date, or `today`.
pub(crate) fn as_of(
    value: &Option<String>,
    today: NaiveDate,
    errors: &mut Vec<FieldError>,
) -> NaiveDate {
    match value.as_deref() {
        None => today,
        Some(s) => s.parse().unwrap_or_else(|_| {
            errors.push(FieldError::new("as_of", "a date, YYYY-MM-DD"));
            today
        }),
    }
}

async fn list_warnings(
    AxState(state): AxState<State>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<WarningView>>, ApiError> {
    let mut errors = Vec::new();
    let township = region_prefix(&q.township, "township", &[6, 9, 12], &mut errors);
    let county = region_prefix(&q.county, "county", &[6], &mut errors);
    if let Some(s) = q.status.as_deref() {
        if !["open", "verified", "disposed"].contains(&s) {
            errors.push(FieldError::new("status", "open, verified or disposed"));
        }
    }
    let household_id = match q.household_id.as_deref() {
        None => None,
        Some(s) => match s.parse::<Uuid>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new("household_id", "a UUID"));
                None
            }
        },
    };
    let limit = match q.limit.as_deref() {
        None => 500,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=5000).contains(&n) => n,
            _ => {
                errors.push(FieldError::new("limit", "a number from 1 to 5000"));
                0
            }
        },
    };
    let filter = Filter {
        township: township.or(county),
        status: q.status.clone(),
        overdue: boolean(&q.overdue, "overdue", &mut errors),
        escalated: boolean(&q.escalated, "escalated", &mut errors),
        kind: q.kind.clone(),
        household_id,
        as_of: as_of(&q.as_of, state.mesh.today(), &mut errors),
        limit,
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(Json(list(&state.mesh.db, &filter).await?))
}

async fn one_warning(
    AxState(state): AxState<State>,
    Path(id): Path<Uuid>,
) -> Result<Json<WarningView>, ApiError> {
    get(&state.mesh.db, id, state.mesh.today())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no warning {id}")))
}

async fn verification(
    AxState(state): AxState<State>,
    Path(id): Path<Uuid>,
    JsonBody(req): JsonBody<VerificationRequest>,
) -> Result<Json<WarningView>, ApiError> {
    verify(&state.mesh.db, &state.mesh.clock, id, &req)
        .await
        .map(Json)
}

async fn disposition(
    AxState(state): AxState<State>,
    Path(id): Path<Uuid>,
    JsonBody(req): JsonBody<DispositionRequest>,
) -> Result<Json<WarningView>, ApiError> {
    dispose(&state, id, &req).await.map(Json)
}

#[derive(Debug, Default, Deserialize)]
pub struct SweepRequest {
    /// "Today" for the sweep; the real date when absent.
    #[serde(default)]
    pub as_of: Option<String>,
}

/// Runs a sweep now, as of `as_of`: for operators (a sweep after an outage) and for tests
/// that move time.
async fn run_sweep(
    AxState(state): AxState<State>,
    JsonBody(req): JsonBody<SweepRequest>,
) -> Result<Json<SweepReport>, ApiError> {
    let mut errors = Vec::new();
    let on = as_of(&req.as_of, state.mesh.today(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(Json(sweep(&state, on).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn grant(n: u128, kind: &str, from: &str, to: Option<&str>) -> RecordedGrant {
        RecordedGrant {
            referral_id: Uuid::from_u128(n),
            member_id: Uuid::nil(),
            department: "medical".into(),
            grant: Grant {
                kind: kind.into(),
                amount_fen: 20000,
                from: d(from),
                to: to.map(d),
            },
        }
    }

    #[test]
    fn grants_of_the_same_kind_for_overlapping_periods_are_duplicates() {
        let grants = [
            grant(
                1,
                "medical_premium_subsidy",
                "2026-01-01",
                Some("2026-12-31"),
            ),
            // Same kind, overlapping from June: a duplicate for June to December.
            grant(
                2,
                "medical_premium_subsidy",
                "2026-06-01",
                Some("2027-05-31"),
            ),
            // Same kind, the day after the second ends: no overlap with either.
            grant(
                3,
                "medical_premium_subsidy",
                "2027-06-01",
                Some("2028-05-31"),
            ),
            // Another kind of help for the same months: not a duplicate.
            grant(
                4,
                "medical_inpatient_assistance",
                "2026-01-01",
                Some("2026-12-31"),
            ),
        ];
        let dups = overlapping(Uuid::nil(), &grants, &params());
        assert_eq!(dups.len(), 1, "{dups:?}");
        assert_eq!(
            dups[0].referral_ids,
            [Uuid::from_u128(1), Uuid::from_u128(2)]
        );
        assert_eq!(
            (dups[0].from, dups[0].to),
            (d("2026-06-01"), d("2026-12-31"))
        );
    }

    #[test]
    fn a_one_off_grant_covers_one_off_cover_months_and_kinds_of_the_same_help_are_one() {
        let p = params();
        let months = p.one_off_cover_months;
        let start = d("2026-03-05");
        let last = start
            .checked_add_months(chrono::Months::new(months))
            .unwrap()
            .pred_opt()
            .unwrap();
        let within = [
            grant(1, "disaster_emergency", "2026-03-05", None),
            grant(2, "disaster_emergency", &last.to_string(), None),
        ];
        let dups = overlapping(Uuid::nil(), &within, &p);
        assert_eq!(dups.len(), 1);
        assert_eq!((dups[0].from, dups[0].to), (last, last));
        let apart = [
            grant(1, "disaster_emergency", "2026-03-05", None),
            grant(
                2,
                "disaster_emergency",
                &last.succ_opt().unwrap().to_string(),
                None,
            ),
        ];
        assert!(overlapping(Uuid::nil(), &apart, &p).is_empty());
        // A full premium and a premium subsidy are the same help.
        let premium = [
            grant(
                1,
                "medical_premium_subsidy",
                "2026-01-01",
                Some("2026-12-31"),
            ),
            grant(2, "medical_premium_full", "2026-07-01", Some("2027-06-30")),
        ];
        assert_eq!(overlapping(Uuid::nil(), &premium, &p).len(), 1);
    }

    fn params() -> policy::ParameterSet {
        policy::PolicyBook::builtin().sets()[0].clone()
    }

    #[test]
    fn free_text_with_an_id_number_is_refused() {
        let mut errors = Vec::new();
        no_id_number(
            "finding",
            &Some("visited 410102198305120312 at home".into()),
            &mut errors,
        );
        assert_eq!(errors.len(), 1);
        no_id_number(
            "finding",
            &Some("visited member 3f0c2a8e at home, 12 m2 room".into()),
            &mut errors,
        );
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn a_push_carries_the_circumstances_the_warning_names() {
        let mut w = WarningView {
            warning_id: Uuid::nil(),
            kind: "disaster_victim".into(),
            household_id: None,
            member_id: None,
            township_code: "410102001".into(),
            detail: json!({"occurred_on": "2026-07-20", "house_damage": "collapsed", "displaced": true}),
            status: "verified".into(),
            verify_due: d("2026-07-30"),
            overdue: false,
            raised_at: Utc::now(),
            escalated_at: None,
            escalated_to: None,
            verified_by: None,
            verified_at: None,
            finding: None,
            disposition: None,
            disposed_by: None,
            disposed_at: None,
            disposal_detail: None,
        };
        let c = circumstances_of(&w);
        assert_eq!(c.source, "disaster_victim");
        assert_eq!(c.occurred_on, Some(d("2026-07-20")));
        assert_eq!(c.house_damage, Some(contract::HouseDamage::Collapsed));
        assert!(c.displaced);
        assert_eq!(department_for_hardship(&w.kind), Some(Department::Disaster));
        w.detail = json!({"circumstances": {"source": "grid_worker", "illness": "leukaemia"}});
        let c = circumstances_of(&w);
        assert_eq!(
            (c.source.as_str(), c.illness.as_deref()),
            ("grid_worker", Some("leukaemia"))
        );
        assert_eq!(department_for_hardship("referral_overdue"), None);
    }

    #[test]
    fn dispositions_are_the_four_named_ways() {
        for d in Disposition::ALL {
            assert_eq!(Disposition::parse(d.as_str()), Some(d));
        }
        assert_eq!(Disposition::parse("ignore"), None);
    }
}
