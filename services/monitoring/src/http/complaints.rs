//! Consultations, complaints and reports over HTTP: received by an officer (the hotline desk,
//! a window, the web form's operator), listed by area, read in full (audited), investigated and
//! answered.

use super::warnings::{as_of, boolean, limit, no_id_number, uuid};
use crate::domain::complaints::ComplaintStatus;
use crate::ops::complaints::{self as ops, Intake};
use crate::state::State;
use crate::store::complaints::{self as store, ComplaintView, Filer, Filter, NewComplaint};
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use contract::{ComplaintCategory, ComplaintVia, Finding};
use mesh::audit::{self, Entry};
use mesh::auth::allow;
use mesh::http::{ApiError, FieldError, JsonBody};
use mesh::http::{Path, Query};
use mesh::{Acting, Mesh, Role};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// Who handles complaints: the township and county officers of their area, and the city's
/// supervisors (the hotline desk, and complaints escalated to the city).
const HANDLE: &[Role] = &[
    Role::TownshipOfficer,
    Role::CountyOfficer,
    Role::CitySupervisor,
];

/// Who reads them: those who handle them, and auditors.
const READ: &[Role] = &[
    Role::TownshipOfficer,
    Role::CountyOfficer,
    Role::CitySupervisor,
    Role::Auditor,
];

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route(
            "/v1/complaints",
            post(receive)
                .layer(allow(HANDLE))
                .merge(get(list).layer(allow(READ))),
        )
        .route("/v1/complaints/{complaint_id}", get(one).layer(allow(READ)))
        .route(
            "/v1/complaints/{complaint_id}/investigation",
            post(investigation).layer(allow(HANDLE)),
        )
        .route(
            "/v1/complaints/{complaint_id}/answer",
            post(answer).layer(allow(HANDLE)),
        )
        .route(
            "/v1/complaints/{complaint_id}/dishonesty-lift",
            post(lift).layer(allow(&[Role::CountyOfficer])),
        )
        .with_state(state)
}

/// What the receiving officer enters. The officer is the one the access token names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintRequest {
    /// The channel's own reference (hotline ticket, web form id); the same again files nothing new.
    pub reference: Option<String>,
    pub received_via: Option<String>,
    pub category: Option<String>,
    /// The township (9 digits) or county (6 digits) that must handle it; when absent, the
    /// township of the household it concerns.
    pub region_code: Option<String>,
    pub household_id: Option<Uuid>,
    pub application_id: Option<Uuid>,
    /// The account id of the officer it is about.
    pub officer_concerned: Option<String>,
    pub summary: Option<String>,
    #[serde(default)]
    pub anonymous: bool,
    pub filer: Option<FilerRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilerRequest {
    pub name: Option<String>,
    pub phone: Option<String>,
}

const MAX_SUMMARY: usize = 2000;
const MAX_REFERENCE: usize = 100;

fn text(
    value: &Option<String>,
    field: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match value.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new(field, "required"));
            None
        }
        Some(v) if v.chars().count() > max => {
            errors.push(FieldError::new(field, format!("at most {max} characters")));
            None
        }
        Some(v) => Some(v.to_owned()),
    }
}

fn word<T>(
    value: &Option<String>,
    field: &str,
    parse: fn(&str) -> Option<T>,
    choices: String,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    match value.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new(
                field,
                format!("required: one of {choices}"),
            ));
            None
        }
        Some(v) => {
            let parsed = parse(v);
            if parsed.is_none() {
                errors.push(FieldError::new(field, format!("one of {choices}")));
            }
            parsed
        }
    }
}

/// The filer: absent for an anonymous complaint, else a name and an optional phone of 7 to 15
/// digits.
fn filer(req: &ComplaintRequest, errors: &mut Vec<FieldError>) -> Option<Filer> {
    match (&req.filer, req.anonymous) {
        (Some(_), true) => {
            errors.push(FieldError::new(
                "filer",
                "must be absent when the filer stays anonymous",
            ));
            None
        }
        (None, true) => None,
        (None, false) => {
            errors.push(FieldError::new(
                "filer",
                "required unless anonymous is true: the name (and phone) of the person to answer",
            ));
            None
        }
        (Some(f), false) => {
            let name = text(&f.name, "filer.name", 50, errors);
            no_id_number("filer.name", &f.name, errors);
            let phone = f.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
            if let Some(p) = phone {
                let digits = p
                    .chars()
                    .filter(|c| !matches!(c, '-' | ' ' | '+'))
                    .collect::<String>();
                if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    errors.push(FieldError::new(
                        "filer.phone",
                        "a phone number of 7 to 15 digits",
                    ));
                }
            }
            name.map(|name| Filer {
                name,
                phone: phone.map(str::to_owned),
            })
        }
    }
}

/// Checks a complaint's fields; the complaint to receive.
fn valid(req: &ComplaintRequest) -> Result<Intake, ApiError> {
    let mut errors = Vec::new();
    let reference = text(&req.reference, "reference", MAX_REFERENCE, &mut errors);
    let via = word(
        &req.received_via,
        "received_via",
        ComplaintVia::parse,
        ComplaintVia::choices(),
        &mut errors,
    );
    if via == Some(ComplaintVia::DisclosureObjection) {
        errors.push(FieldError::new(
            "received_via",
            "disclosure_objection comes from the disclosure's objection route, not from staff",
        ));
    }
    let category = word(
        &req.category,
        "category",
        ComplaintCategory::parse,
        ComplaintCategory::choices(),
        &mut errors,
    );
    let summary = text(&req.summary, "summary", MAX_SUMMARY, &mut errors);
    no_id_number("summary", &req.summary, &mut errors);
    let region = req
        .region_code
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if let Some(r) = region {
        if !matches!(r.len(), 6 | 9) || policy::RegionCode::parse(r).is_err() {
            errors.push(FieldError::new(
                "region_code",
                "a township (9 digits) or county (6 digits) code",
            ));
        }
    } else if req.household_id.is_none() {
        errors.push(FieldError::new(
            "region_code",
            "required unless household_id names the household it concerns",
        ));
    }
    let officer = req
        .officer_concerned
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty());
    if officer.is_some_and(|o| o.chars().count() > 100) {
        errors.push(FieldError::new(
            "officer_concerned",
            "at most 100 characters",
        ));
    }
    let filer = filer(req, &mut errors);
    match (reference, via, category, summary) {
        (Some(reference), Some(received_via), Some(category), Some(summary))
            if errors.is_empty() =>
        {
            Ok(Intake {
                complaint: NewComplaint {
                    complaint_id: Uuid::nil(),
                    reference,
                    received_via,
                    category,
                    region_code: region.unwrap_or_default().to_owned(),
                    household_id: req.household_id,
                    application_id: req.application_id,
                    officer_concerned: officer.map(str::to_owned),
                    summary,
                    filer,
                    received_on: NaiveDate::MIN,
                    received_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
                    answer_due: NaiveDate::MIN,
                },
                region_given: region.is_some(),
            })
        }
        _ => Err(ApiError::Validation(errors)),
    }
}

/// 201 with the complaint (filer masked) when new; 200 with the one recorded when the channel's
/// reference was filed before.
async fn receive(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ComplaintRequest>,
) -> Result<(StatusCode, Json<ComplaintView>), ApiError> {
    let intake = valid(&req)?;
    let (view, new) = ops::receive(&state, &acting, &headers, intake).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view.masked())))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
    pub category: Option<String>,
    pub overdue: Option<String>,
    pub household_id: Option<String>,
    pub as_of: Option<String>,
    pub limit: Option<String>,
}

/// The complaints handled in, or escalated to, the caller's areas, the filer masked; audited
/// (`complaint.list`).
async fn list(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<ComplaintView>>, ApiError> {
    let mut errors = Vec::new();
    let status = q.status.as_deref().and_then(|s| {
        let parsed = ComplaintStatus::parse(s);
        if parsed.is_none() {
            errors.push(FieldError::new(
                "status",
                "received, investigated or answered",
            ));
        }
        parsed
    });
    let category = q.category.as_deref().and_then(|s| {
        let parsed = ComplaintCategory::parse(s);
        if parsed.is_none() {
            errors.push(FieldError::new(
                "category",
                format!("one of {}", ComplaintCategory::choices()),
            ));
        }
        parsed
    });
    let overdue = boolean(&q.overdue, "overdue", &mut errors);
    let household_id = uuid(&q.household_id, "household_id", &mut errors);
    let limit = limit(&q.limit, &mut errors);
    let as_of = as_of(&q.as_of, state.mesh.today(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let filter = Filter {
        areas: acting.region_patterns(),
        status,
        category,
        overdue,
        household_id,
        as_of,
        limit,
    };
    let list: Vec<ComplaintView> = store::list(&state.mesh.db, &filter)
        .await?
        .into_iter()
        .map(ComplaintView::masked)
        .collect();
    let mut entry = Entry::new("complaint.list", "complaint", "list")
        .purpose_from(&headers)
        .detail(json!({
            "count": list.len(),
            "status": status,
            "category": category,
            "overdue": overdue,
        }));
    entry.household_id = household_id;
    audit::record(&state.mesh, &acting.actor(), entry).await?;
    Ok(Json(list))
}

/// One complaint of the caller's areas with the filer in full, to answer them; the read is
/// audited (`complaint.read`). 404 outside the areas, as for one that does not exist.
async fn one(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<ComplaintView>, ApiError> {
    let mut conn = state.mesh.db.acquire().await?;
    let c = store::get(
        &mut conn,
        id,
        &acting.region_patterns(),
        state.mesh.today(),
        false,
    )
    .await?
    .ok_or_else(|| ApiError::NotFound("no complaint with this id".into()))?;
    let mut entry = Entry::new("complaint.read", "complaint", id)
        .purpose_from(&headers)
        .detail(json!({"category": c.category, "filer_shown": c.filer.is_some()}));
    entry.household_id = c.household_id;
    audit::record(&state.mesh, &acting.actor(), entry).await?;
    Ok(Json(c))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvestigationRequest {
    pub finding: Option<String>,
    /// What the investigation established, in words.
    pub findings: Option<String>,
    /// A report confirmed as fraud: the first month (YYYY-MM) of assistance obtained by it; the
    /// household's assistance stops from then and what was paid since is recovered.
    pub fraud_from_month: Option<String>,
}

async fn investigation(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    JsonBody(req): JsonBody<InvestigationRequest>,
) -> Result<Json<ComplaintView>, ApiError> {
    let mut errors = Vec::new();
    let finding = word(
        &req.finding,
        "finding",
        Finding::parse,
        Finding::choices(),
        &mut errors,
    );
    let findings = text(&req.findings, "findings", MAX_SUMMARY, &mut errors);
    no_id_number("findings", &req.findings, &mut errors);
    let this_month = policy::Month::of(state.mesh.today());
    let fraud_from = match req.fraud_from_month.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(m) => match policy::Month::parse(m) {
            Ok(month) if month <= this_month => Some(month),
            Ok(_) => {
                errors.push(FieldError::new(
                    "fraud_from_month",
                    "a month that has begun, not a later one",
                ));
                None
            }
            Err(_) => {
                errors.push(FieldError::new("fraud_from_month", "a month, YYYY-MM"));
                None
            }
        },
    };
    match (finding, findings) {
        (Some(finding), Some(findings)) if errors.is_empty() => ops::investigate(
            &state, &acting, &headers, id, finding, &findings, fraud_from,
        )
        .await
        .map(|c| Json(c.masked())),
        _ => Err(ApiError::Validation(errors)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// What the person who filed it was told.
    pub answer: Option<String>,
}

async fn answer(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    JsonBody(req): JsonBody<AnswerRequest>,
) -> Result<Json<ComplaintView>, ApiError> {
    let mut errors = Vec::new();
    let text = text(&req.answer, "answer", MAX_SUMMARY, &mut errors);
    no_id_number("answer", &req.answer, &mut errors);
    match text {
        Some(text) if errors.is_empty() => ops::answer(&state, &acting, &headers, id, &text)
            .await
            .map(|c| Json(c.masked())),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// Why a confirmed report's dishonesty record is lifted before it expires.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiftRequest {
    pub reason: Option<String>,
}

async fn lift(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    JsonBody(req): JsonBody<LiftRequest>,
) -> Result<(StatusCode, Json<crate::store::dishonesty::Lift>), ApiError> {
    let mut errors = Vec::new();
    let reason = text(&req.reason, "reason", MAX_SUMMARY, &mut errors);
    no_id_number("reason", &req.reason, &mut errors);
    match reason {
        Some(reason) if errors.is_empty() => {
            crate::ops::dishonesty::lift(&state, &acting, &headers, id, &reason)
                .await
                .map(|l| (StatusCode::CREATED, Json(l)))
        }
        _ => Err(ApiError::Validation(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(v: serde_json::Value) -> ComplaintRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn staff_do_not_file_a_disclosure_objection_themselves() {
        // Objections come from the disclosure's own route in intake, referenced by their id.
        let Err(ApiError::Validation(errors)) = valid(&request(json!({
            "reference": "6b1f7c0e-2d4a-4e8b-9c3d-5a6b7c8d9e0f",
            "received_via": "disclosure_objection",
            "category": "report",
            "summary": "收入未申报",
            "region_code": "410102001",
            "anonymous": true
        }))) else {
            panic!("accepted")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["received_via"]);
    }

    #[test]
    fn a_complaint_names_its_faults_without_echoing_them() {
        let Err(ApiError::Validation(errors)) = valid(&request(json!({
            "reference": "",
            "received_via": "fax",
            "category": "report",
            "summary": "家中有车 410102198305120312",
            "anonymous": false
        }))) else {
            panic!("refused")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "reference",
                "received_via",
                "summary",
                "region_code",
                "filer"
            ]
        );
        let all = format!("{errors:?}");
        assert!(!all.contains("410102198305120312") && !all.contains("fax"));
    }

    #[test]
    fn an_anonymous_report_needs_no_filer_and_may_name_only_the_household() {
        let intake = valid(&request(json!({
            "reference": "12345-0042",
            "received_via": "hotline_12345",
            "category": "report",
            "household_id": "00000000-0000-0000-0000-0000000000aa",
            "summary": "举报该户有未申报的经营收入",
            "anonymous": true
        })))
        .unwrap();
        assert!(!intake.region_given);
        assert_eq!(intake.complaint.filer, None);
        assert_eq!(intake.complaint.category, ComplaintCategory::Report);
    }
}
