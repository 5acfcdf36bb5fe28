//! Monitoring's HTTP API: every route and its request and response types. Here: the staff
//! page, the household, its chain and a referral; `warnings` (verification, disposition,
//! sweeps), `feeds` (CSV comparisons), `discovery` (active-discovery reports) and `reports`
//! (supervision) each have their module.

pub mod complaints;
pub mod discovery;
pub mod feeds;
pub mod members;
pub mod reports;
pub mod warnings;

use crate::state::State;
use crate::store::refused::Scope;
use crate::store::warnings::{Filter, WarningView};
use crate::store::{self, ReferralView, StepView};
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use mesh::audit::{self, Entry};
use mesh::auth::allow;
use mesh::auth::REGIONAL_READ;
use mesh::http::{ApiError, FieldError};
use mesh::http::{Path, Query};
use mesh::{Acting, Mesh, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// Every route that takes an access token, each with the roles of its operation
/// (`x-roles` of docs/openapi.yaml).
pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route(
            "/v1/referrals/{referral_id}",
            get(referral).layer(allow(&[
                Role::TownshipOfficer,
                Role::CountyOfficer,
                Role::CountyApprover,
                Role::CitySupervisor,
                Role::Auditor,
                Role::DepartmentOfficer,
                Role::DepartmentSystem,
            ])),
        )
        .route(
            "/v1/refused-feedback",
            get(refused_feedback).layer(allow(&[
                Role::DepartmentOfficer,
                Role::DepartmentSystem,
                Role::CitySupervisor,
                Role::Auditor,
            ])),
        )
        .route(
            "/v1/households/{household_id}",
            get(household).layer(allow(REGIONAL_READ)),
        )
        .route(
            "/v1/households/{household_id}/chain",
            get(chain).layer(allow(REGIONAL_READ)),
        )
        .route(
            "/v1/households/{household_id}/file",
            get(household_file).layer(allow(REGIONAL_READ)),
        )
        .with_state(state.clone())
        .merge(warnings::routes(state.clone()))
        .merge(reports::routes(state.clone()))
        .merge(feeds::routes(state.clone()))
        .merge(members::routes(state.clone()))
        .merge(complaints::routes(state.clone()))
        .merge(discovery::routes(state))
}

/// The routes open without a token: the staff page (its data calls send the token the page
/// holds).
pub fn public_routes() -> Router<Mesh> {
    Router::new().route("/staff", get(staff_page))
}

/// An enrolled household of the caller's areas (404 outside them, as for one not enrolled),
/// audited (`household.read`) before it leaves.
async fn household(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<store::HouseholdView>, ApiError> {
    let h = store::household(&state.mesh.db, id, &acting.region_patterns())
        .await?
        .ok_or_else(|| ApiError::NotFound("no enrolled household with this id".into()))?;
    let entry = Entry::new("household.read", "household", id)
        .household(id)
        .purpose_from(&headers)
        .detail(json!({"members": h.members.len()}));
    audit::record(&state.mesh, &acting.actor(), entry).await?;
    Ok(Json(h))
}

#[derive(Debug, Serialize)]
pub struct Chain {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    /// Determined, paid when there is anything to pay, and every referral answered.
    pub complete: bool,
    pub trace_ids: Vec<String>,
    pub steps: Vec<StepView>,
    pub referrals: Vec<ReferralView>,
    pub flags: Flags,
    /// The household's warnings, newest last.
    pub warnings: Vec<WarningView>,
    /// The consultations, complaints and reports about the household, the filer masked.
    pub complaints: Vec<crate::store::complaints::ComplaintView>,
}

#[derive(Debug, Serialize)]
pub struct Flags {
    /// Referrals with no feedback past their deadline.
    pub omissions: Vec<Uuid>,
    /// Referrals still waiting for feedback, within their deadline.
    pub awaiting_feedback: Vec<Uuid>,
    /// Two grants of the same kind to the same person for overlapping periods.
    pub duplicates: Vec<crate::domain::warnings::DuplicateAssistance>,
}

/// The chain of a household of the caller's areas (404 outside them, as for a chain not
/// opened), audited (`chain.read`) before it leaves.
async fn chain(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<Chain>, ApiError> {
    let areas = acting.region_patterns();
    let steps = store::steps(&state.mesh.db, id, &areas).await?;
    let Some(first) = steps.first() else {
        return Err(ApiError::NotFound(
            "no chain for household with this id".into(),
        ));
    };
    let chain_id = first.chain_id;
    let today = state.mesh.today();
    let mut referrals = store::referrals(&state.mesh.db, id).await?;
    for r in &mut referrals {
        r.overdue = r.answered_at.is_none() && r.feedback_due < today;
    }
    let unanswered = |overdue: bool| {
        referrals
            .iter()
            .filter(|r| r.answered_at.is_none() && r.overdue == overdue)
            .map(|r| r.referral_id)
            .collect::<Vec<_>>()
    };
    let flags = Flags {
        omissions: unanswered(true),
        awaiting_feedback: unanswered(false),
        duplicates: crate::ops::warnings::duplicates(&state.mesh.db, &state.policy, id, today)
            .await?,
    };
    let mut trace_ids: Vec<String> = Vec::new();
    for t in steps.iter().filter_map(|s| s.trace_id.clone()) {
        if !trace_ids.contains(&t) {
            trace_ids.push(t);
        }
    }
    let complete =
        is_complete(&steps) && flags.omissions.is_empty() && flags.awaiting_feedback.is_empty();
    let (warnings, complaints) = of_household(&state, areas, id, today).await?;
    let entry = Entry::new("chain.read", "chain", chain_id)
        .household(id)
        .purpose_from(&headers)
        .detail(json!({
            "steps": steps.len(),
            "referrals": referrals.len(),
            "warnings": warnings.len(),
            "complaints": complaints.len(),
        }));
    audit::record(&state.mesh, &acting.actor(), entry).await?;
    Ok(Json(Chain {
        household_id: id,
        chain_id,
        complete,
        trace_ids,
        steps,
        referrals,
        flags,
        warnings,
        complaints,
    }))
}

/// The warnings and the complaints (the filer masked) of household `id` in `areas`, oldest
/// first: what its chain and its file list beside the steps.
async fn of_household(
    state: &State,
    areas: Vec<String>,
    id: Uuid,
    today: chrono::NaiveDate,
) -> Result<(Vec<WarningView>, Vec<store::complaints::ComplaintView>), ApiError> {
    let complaints = store::complaints::list(
        &state.mesh.db,
        &store::complaints::Filter {
            areas: areas.clone(),
            household_id: Some(id),
            as_of: today,
            limit: 1000,
            ..Default::default()
        },
    )
    .await?
    .into_iter()
    .map(store::complaints::ComplaintView::masked)
    .collect();
    let warnings = store::warnings::list(
        &state.mesh.db,
        &Filter {
            areas,
            household_id: Some(id),
            as_of: today,
            limit: 1000,
            ..Default::default()
        },
    )
    .await?;
    Ok((warnings, complaints))
}

/// The household file (一户一档): every step of its chain, its enrolment, referrals, warnings and
/// complaints as one print-ready page in Chinese ([`crate::domain::file`]); produced on request,
/// for a household of the caller's areas (404 outside them), audited (`household.file`).
async fn household_file(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<axum::response::Html<String>, ApiError> {
    use crate::domain::file::{render, Enrolment, FileData};
    let areas = acting.region_patterns();
    let db = &state.mesh.db;
    let today = state.mesh.today();
    let steps = store::steps(db, id, &areas).await?;
    let Some(first) = steps.first() else {
        return Err(ApiError::NotFound(
            "no chain for household with this id".into(),
        ));
    };
    let household = store::household(db, id, &areas).await?;
    let region = {
        let mut conn = db.acquire().await?;
        store::chain::region_of(&mut conn, id).await?
    };
    let referrals = store::referrals(db, id).await?;
    let (warnings, complaints) = of_household(&state, areas.clone(), id, today).await?;
    let actor = acting.actor();
    let data = FileData {
        household_id: id,
        chain_id: first.chain_id,
        region_code: region.as_deref(),
        enrolment: household.as_ref().map(|h| Enrolment {
            tier: &h.tier,
            status: h.status.as_str(),
            monthly_amount_fen: h.monthly_amount_fen,
            policy_version: &h.policy_version,
            members: h
                .members
                .iter()
                .map(|m| (m.relation.as_str(), m.id_number_masked.as_str()))
                .collect(),
        }),
        steps: steps
            .iter()
            .map(|s| {
                (
                    s.time,
                    s.kind.as_str(),
                    s.service.as_str(),
                    s.actor.as_ref().map(|a| a.name.as_str()),
                    &s.summary,
                )
            })
            .collect(),
        referrals: referrals
            .iter()
            .map(|r| {
                (
                    r.department.clone(),
                    r.need.clone(),
                    if r.answered_at.is_some() {
                        "answered".to_owned()
                    } else {
                        "pending".to_owned()
                    },
                    r.feedback_due.to_string(),
                )
            })
            .collect(),
        warnings: warnings
            .iter()
            .map(|w| {
                (
                    w.kind.to_string(),
                    w.status.to_string(),
                    w.verify_due.to_string(),
                    w.disposition
                        .map(|d| d.as_str().to_owned())
                        .unwrap_or_default(),
                )
            })
            .collect(),
        complaints: complaints
            .iter()
            .map(|c| {
                (
                    c.category.to_string(),
                    c.status.to_string(),
                    c.answer_due.to_string(),
                    c.finding.map(|f| f.as_str().to_owned()).unwrap_or_default(),
                )
            })
            .collect(),
        produced_by: &actor.name,
        produced_at: state.mesh.clock.now(),
        timezone: state.mesh.clock.timezone(),
    };
    let page = render(&data);
    let entry = Entry::new("household.file", "household", id)
        .household(id)
        .purpose_from(&headers)
        .detail(json!({"steps": steps.len(), "referrals": referrals.len(), "warnings": warnings.len(), "complaints": complaints.len()}));
    audit::record(&state.mesh, &actor, entry).await?;
    Ok(axum::response::Html(page))
}

/// The assistance chain has run its course: rejected; or determined, and when there is money to pay, a
/// payment instruction; when followed (low-income, or a member in a recognised group), enrolled
/// and every referral pushed has an answer in the chain.
fn is_complete(steps: &[StepView]) -> bool {
    if steps
        .iter()
        .any(|s| s.kind == "intake.application.rejected")
    {
        return true;
    }
    // An emergency grant's chain is complete when every stage has its payment instruction.
    if let Some(g) = steps
        .iter()
        .find(|s| s.kind == "eligibility.emergency.granted")
    {
        let stages = g
            .summary
            .get("stages")
            .and_then(|v| v.as_array())
            .map(|a| a.len())
            .unwrap_or(0);
        let paid = steps
            .iter()
            .filter(|s| s.kind == "payment.instruction.created")
            .count();
        return stages > 0 && paid >= stages;
    }
    let Some(det) = steps
        .iter()
        .find(|s| s.kind == "eligibility.household.determined")
    else {
        return false;
    };
    let pays = det
        .summary
        .get("monthly_amount_fen")
        .and_then(|v| v.as_i64())
        .unwrap_or(0)
        > 0;
    // Followed: low-income, or with a member in a recognised group (enrolled and referred).
    let low_income = det
        .summary
        .get("tier")
        .and_then(|v| v.as_str())
        .is_some_and(|t| t != "none")
        || det.summary.get("groups").is_some();
    let paid = steps
        .iter()
        .any(|s| s.kind == "payment.instruction.created");
    let enrolled = steps
        .iter()
        .find(|s| s.kind == "monitor.household.enrolled");
    let referrals_answered = match enrolled {
        Some(e) => {
            let expected = e
                .summary
                .get("referrals")
                .and_then(|v| v.as_array())
                .map(|a| a.len())
                .unwrap_or(0);
            let answered: std::collections::HashSet<&str> = steps
                .iter()
                .filter(|s| s.kind == "referral.feedback")
                .filter_map(|s| s.summary.get("referral_id").and_then(|v| v.as_str()))
                .collect();
            answered.len() >= expected
        }
        None => !low_income,
    };
    (!pays || paid) && referrals_answered
}

/// The staff page: search a household or referral, see its chain as a timeline with its flags.
async fn staff_page() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("../staff.html"))
}

/// A referral and its household, so staff can find a chain from a referral id: for a regional
/// caller when the household lies in its areas, for a department's officer or system when the
/// referral was pushed to its department (the token's `department`); 404 otherwise, as for a
/// referral that does not exist. Audited (`referral.read`) before it leaves.
async fn referral(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<store::ReferralOf>, ApiError> {
    let r = store::referral(
        &state.mesh.db,
        id,
        &acting.region_patterns(),
        acting.department(),
    )
    .await?
    .ok_or_else(|| ApiError::NotFound("no referral with this id".into()))?;
    let entry = Entry::new("referral.read", "referral", id)
        .household(r.household_id)
        .purpose_from(&headers)
        .detail(json!({"department": r.department, "status": r.status}));
    audit::record(&state.mesh, &acting.actor(), entry).await?;
    Ok(Json(r))
}

#[derive(Debug, Deserialize)]
pub struct RefusedQuery {
    pub department: Option<String>,
    pub referral_id: Option<String>,
    pub limit: Option<String>,
}

/// Department feedback monitoring refused (the department answer protocol), newest first:
/// what each department was told on `referral.<dept>.refused`. Refused feedback is in no
/// household's chain. A department's officer or system sees its own department's only (a
/// `department` filter naming another selects nothing); the city's supervisor and the auditor
/// those of referrals in their areas and those that name no referral monitoring holds.
async fn refused_feedback(
    AxState(state): AxState<State>,
    acting: Acting,
    Query(q): Query<RefusedQuery>,
) -> Result<Json<Vec<store::refused::Refused>>, ApiError> {
    let mut errors = Vec::new();
    let department = q.department.as_deref().and_then(|d| {
        let parsed = policy::Department::parse(d);
        if parsed.is_none() {
            errors.push(FieldError::new(
                "department",
                "medical, education, housing, employment or disaster",
            ));
        }
        parsed
    });
    let referral_id = q.referral_id.as_deref().and_then(|r| {
        let parsed = r.parse::<Uuid>().ok();
        if parsed.is_none() {
            errors.push(FieldError::new("referral_id", "a UUID"));
        }
        parsed
    });
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                errors.push(FieldError::new("limit", "a number from 1 to 1000"));
                0
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let scope = match acting.role {
        Role::DepartmentOfficer | Role::DepartmentSystem => Scope::Department(
            acting
                .department()
                .ok_or_else(|| ApiError::Forbidden("the access token names no department".into()))?
                .to_owned(),
        ),
        Role::TownshipOfficer
        | Role::CountyOfficer
        | Role::CountyApprover
        | Role::CitySupervisor
        | Role::Auditor
        | Role::PlatformOperator => Scope::Areas(acting.region_patterns()),
    };
    let list = store::refused::list(
        &state.mesh.db,
        &scope,
        department.map(|d| d.as_str()),
        referral_id,
        limit,
    )
    .await?;
    Ok(Json(list))
}
