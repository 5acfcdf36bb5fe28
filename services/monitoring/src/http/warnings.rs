//! Warnings over HTTP: the township's and the county's lists, on-site verification, the four
//! dispositions, and a sweep run now.

use crate::domain::{Disposition, WarningKind, WarningStatus};
use crate::ops::warnings::{self as ops, Disposal, SweepReport};
use crate::state::State;
use crate::store::warnings::{self as store, Filter, WarningView};
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use mesh::audit::{self, Entry};
use mesh::auth::allow;
use mesh::http::{ApiError, FieldError, JsonBody};
use mesh::http::{Path, Query};
use mesh::{Acting, Mesh, Role};
use policy::Department;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// The regional roles that read warnings (`listWarnings`, `getWarning`).
const READ: &[Role] = &[
    Role::TownshipOfficer,
    Role::CountyOfficer,
    Role::CountyApprover,
    Role::CitySupervisor,
    Role::Auditor,
];

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route("/v1/warnings", get(list_warnings).layer(allow(READ)))
        .route(
            "/v1/warnings/{warning_id}",
            get(one_warning).layer(allow(READ)),
        )
        .route(
            "/v1/warnings/{warning_id}/verification",
            post(verification).layer(allow(&[Role::TownshipOfficer])),
        )
        .route(
            "/v1/warnings/{warning_id}/disposition",
            post(disposition).layer(allow(&[Role::TownshipOfficer, Role::CountyOfficer])),
        )
        .route(
            "/v1/warnings/{warning_id}/decision",
            post(conference_decision).layer(allow(&[Role::CountyApprover])),
        )
        .route(
            "/v1/sweeps",
            post(run_sweep).layer(allow(&[Role::PlatformOperator])),
        )
        .with_state(state)
}

/// The on-site verification of a warning by the township officer the access token names (a
/// body that names an officer is refused: 422).
#[derive(Debug, Deserialize)]
pub struct VerificationRequest {
    /// What the officer found on site.
    #[serde(default)]
    pub finding: Option<String>,
}

/// The disposition of a verified warning, with what each way needs, by the officer the access
/// token names.
#[derive(Debug, Deserialize)]
pub struct DispositionRequest {
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
}

/// A county approver's decision on a proposed case conference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConferenceDecision {
    pub approve: bool,
    pub reason: String,
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

/// Free text recorded on a warning or a complaint must not carry a resident ID number (names
/// cannot be told from other words; staff are asked to write ids, not names).
pub(crate) fn no_id_number(field: &str, value: &Option<String>, errors: &mut Vec<FieldError>) {
    let Some(text) = value.as_deref() else {
        return;
    };
    let carries_id = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| word.len() == 18 && policy::ResidentId::parse(word).is_ok());
    if carries_id {
        errors.push(FieldError::new(
            field,
            "must not contain an ID number: name a person or household by its id",
        ));
    }
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

pub(crate) fn boolean(
    value: &Option<String>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<bool> {
    match value.as_deref()? {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            errors.push(FieldError::new(field, "true or false"));
            None
        }
    }
}

/// A list's `limit`: 1 to 5000, 500 when absent.
pub(crate) fn limit(value: &Option<String>, errors: &mut Vec<FieldError>) -> i64 {
    match value.as_deref() {
        None => 500,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=5000).contains(&n) => n,
            _ => {
                errors.push(FieldError::new("limit", "a number from 1 to 5000"));
                0
            }
        },
    }
}

/// An optional UUID of a query.
pub(crate) fn uuid(
    value: &Option<String>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Uuid> {
    let parsed = value.as_deref().map(str::parse::<Uuid>)?;
    if parsed.is_err() {
        errors.push(FieldError::new(field, "a UUID"));
    }
    parsed.ok()
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

/// The warnings of the caller's areas that the filters select; the list is audited
/// (`warning.list`) before it leaves.
async fn list_warnings(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<WarningView>>, ApiError> {
    let mut errors = Vec::new();
    let township = region_prefix(&q.township, "township", &[6, 9, 12], &mut errors);
    let county = region_prefix(&q.county, "county", &[6], &mut errors);
    let status = q.status.as_deref().and_then(|s| {
        let parsed = WarningStatus::parse(s);
        if parsed.is_none() {
            errors.push(FieldError::new("status", "open, verified or disposed"));
        }
        parsed
    });
    // A kind no warning has selects nothing.
    let kind = q.kind.as_deref().map(WarningKind::parse);
    let household_id = uuid(&q.household_id, "household_id", &mut errors);
    let limit = limit(&q.limit, &mut errors);
    let filter = Filter {
        areas: acting.region_patterns(),
        township: township.or(county),
        status,
        overdue: boolean(&q.overdue, "overdue", &mut errors),
        escalated: boolean(&q.escalated, "escalated", &mut errors),
        kind: kind.flatten(),
        household_id,
        as_of: as_of(&q.as_of, state.mesh.today(), &mut errors),
        limit,
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let list = if kind == Some(None) {
        Vec::new()
    } else {
        store::list(&state.mesh.db, &filter).await?
    };
    let households: std::collections::BTreeSet<Uuid> =
        list.iter().filter_map(|w| w.household_id).collect();
    let entry = Entry::new("warning.list", "warning", "list")
        .purpose_from(&headers)
        .detail(json!({
            "count": list.len(),
            "households": households.len(),
            "township": filter.township,
            "status": filter.status,
            "kind": filter.kind,
            "household_id": filter.household_id,
        }));
    let entry = match filter.household_id {
        Some(h) => entry.household(h),
        None => entry,
    };
    audit::record(&state.mesh, &acting.actor(), entry).await?;
    Ok(Json(list))
}

/// One warning of the caller's areas (404 for one outside them, as for one that does not
/// exist), audited (`warning.read`) before it leaves.
async fn one_warning(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<WarningView>, ApiError> {
    let w = store::get(
        &state.mesh.db,
        id,
        &acting.region_patterns(),
        state.mesh.today(),
    )
    .await?
    .ok_or_else(|| ApiError::NotFound("no warning with this id".into()))?;
    let mut entry = Entry::new("warning.read", "warning", id)
        .purpose_from(&headers)
        .detail(json!({"kind": w.kind, "township_code": w.township_code}));
    entry.household_id = w.household_id;
    entry.person_id = w.member_id;
    audit::record(&state.mesh, &acting.actor(), entry).await?;
    Ok(Json(w))
}

async fn verification(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    JsonBody(req): JsonBody<VerificationRequest>,
) -> Result<Json<WarningView>, ApiError> {
    let finding = valid_verification(&req)?;
    ops::verify(&state, &acting, &headers, id, &finding)
        .await
        .map(Json)
}

async fn disposition(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    JsonBody(req): JsonBody<DispositionRequest>,
) -> Result<Json<WarningView>, ApiError> {
    let disposal = valid_disposition(&req)?;
    ops::dispose(&state, &acting, &headers, id, &disposal)
        .await
        .map(Json)
}

/// A proposed case conference approved or refused by the county approver of the token.
async fn conference_decision(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    JsonBody(req): JsonBody<ConferenceDecision>,
) -> Result<Json<WarningView>, ApiError> {
    let mut errors = Vec::new();
    let reason = required(
        &Some(req.reason),
        "reason",
        "a decision says why",
        &mut errors,
    );
    no_id_number("reason", &Some(reason.clone()), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    ops::decide_conference(&state, &acting, &headers, id, req.approve, &reason)
        .await
        .map(Json)
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
    acting: Acting,
    JsonBody(req): JsonBody<SweepRequest>,
) -> Result<Json<SweepReport>, ApiError> {
    let mut errors = Vec::new();
    let on = as_of(&req.as_of, state.mesh.today(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(Json(ops::sweep(&state, on, Some(&acting.actor())).await?))
}

/// Checks the verification; the finding, trimmed.
fn valid_verification(req: &VerificationRequest) -> Result<String, ApiError> {
    let mut errors = Vec::new();
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
    Ok(finding)
}

/// Checks the disposition and what its way needs.
fn valid_disposition(req: &DispositionRequest) -> Result<Disposal, ApiError> {
    let mut errors = Vec::new();
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
                    format!("unknown disposition: one of {names}"),
                ));
            }
            parsed
        }
    };
    let disposal = match disposition {
        Some(Disposition::ApplyPolicy) => Some(Disposal::ApplyPolicy {
            policy: required(
                &req.policy,
                "policy",
                "the policy applied is required",
                &mut errors,
            ),
        }),
        Some(Disposition::CaseConference) => Some(Disposal::CaseConference {
            decision: required(
                &req.decision,
                "decision",
                "the joint meeting's decision is required",
                &mut errors,
            ),
        }),
        Some(Disposition::PushToDepartment) => {
            let department = req.department.as_deref().and_then(|d| {
                let parsed = Department::parse(d);
                if parsed.is_none() {
                    let all = Department::ALL.map(Department::as_str).join(", ");
                    errors.push(FieldError::new(
                        "department",
                        format!("unknown department: one of {all}"),
                    ));
                }
                parsed
            });
            Some(Disposal::PushToDepartment { department })
        }
        Some(Disposition::ReverifyTerminate) => Some(Disposal::ReverifyTerminate),
        None => None,
    };
    for (field, text) in [("policy", &req.policy), ("decision", &req.decision)] {
        no_id_number(field, text, &mut errors);
    }
    match disposal.filter(|_| errors.is_empty()) {
        Some(d) => Ok(d),
        None => Err(ApiError::Validation(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
