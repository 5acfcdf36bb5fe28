//! Verification's HTTP API: a report with its provenance; where an application's verification
//! stands (held for a source, reported, verified by an officer); the re-verification and
//! home-visit due lists; recording a home visit.
//!
//! Every route takes an access token (mesh::auth) and names its roles (the `x-roles` of
//! docs/openapi.yaml). What a caller reads is limited in the queries to the token's areas: a
//! report or verification of a household outside them is "not found", and the due lists hold
//! only the caller's households. Every read is in the audit trail before the data leaves.

use crate::state::State;
use crate::{held, schedule, store};
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use mesh::audit::{self, Entry};
use mesh::auth::allow;
use mesh::auth::REGIONAL_READ;
use mesh::http::{ApiError, FieldError, JsonBody};
use mesh::http::{Path, Query};
use mesh::{Acting, Mesh, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who reads the due lists.
const DUE_LISTS: &[Role] = &[
    Role::TownshipOfficer,
    Role::CountyOfficer,
    Role::CitySupervisor,
    Role::Auditor,
];

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route(
            "/v1/reports/{application_id}",
            get(report).layer(allow(REGIONAL_READ)),
        )
        .route(
            "/v1/verifications/{application_id}",
            get(verification).layer(allow(REGIONAL_READ)),
        )
        .route(
            "/v1/reverifications/due",
            get(reverifications_due).layer(allow(DUE_LISTS)),
        )
        .route(
            "/v1/home-visits/due",
            get(home_visits_due).layer(allow(DUE_LISTS)),
        )
        .route(
            "/v1/home-visits",
            post(record_visit).layer(allow(&[Role::TownshipOfficer])),
        )
        .with_state(state)
}

async fn report(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(application_id): Path<Uuid>,
) -> Result<Json<store::ReportView>, ApiError> {
    let report = store::report(&state.mesh.db, application_id, &acting.region_patterns())
        .await?
        .ok_or_else(|| ApiError::NotFound("no report for application with this id".into()))?;
    audit::record(
        &state.mesh,
        &acting.actor(),
        Entry::new("report.read", "report", report.report_id)
            .household(report.household_id)
            .purpose_from(&headers)
            .detail(serde_json::json!({"application_id": application_id})),
    )
    .await?;
    Ok(Json(report))
}

async fn verification(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(application_id): Path<Uuid>,
) -> Result<Json<held::VerificationView>, ApiError> {
    let view = held::view(&state.mesh.db, application_id, &acting.region_patterns())
        .await?
        .ok_or_else(|| ApiError::NotFound("no verification of application with this id".into()))?;
    audit::record(
        &state.mesh,
        &acting.actor(),
        Entry::new("verification.read", "verification", application_id)
            .household(view.household_id)
            .purpose_from(&headers),
    )
    .await?;
    Ok(Json(view))
}

#[derive(Debug, Deserialize)]
struct DueQuery {
    on: Option<String>,
}

impl DueQuery {
    /// `on`, or today (the bureau's calendar day, by the service's clock) when absent.
    fn on(&self, today: NaiveDate) -> Result<NaiveDate, ApiError> {
        match self.on.as_deref() {
            None => Ok(today),
            Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                ApiError::BadParameter(vec![FieldError::new("on", "must be a date, YYYY-MM-DD")])
            }),
        }
    }
}

/// A list of households read, in the audit trail before it leaves.
async fn audit_list(
    state: &State,
    acting: &Acting,
    headers: &HeaderMap,
    action: &str,
    on: NaiveDate,
    count: usize,
) -> Result<(), ApiError> {
    audit::record(
        &state.mesh,
        &acting.actor(),
        Entry::new(action, "household_list", on)
            .purpose_from(headers)
            .detail(serde_json::json!({"on": on, "count": count})),
    )
    .await?;
    Ok(())
}

async fn reverifications_due(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Query(q): Query<DueQuery>,
) -> Result<Json<Vec<store::Due>>, ApiError> {
    let on = q.on(state.mesh.today())?;
    let list = store::reverifications_due(&state.mesh.db, on, &acting.region_patterns()).await?;
    audit_list(
        &state,
        &acting,
        &headers,
        "reverification.list_due",
        on,
        list.len(),
    )
    .await?;
    Ok(Json(list))
}

async fn home_visits_due(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Query(q): Query<DueQuery>,
) -> Result<Json<Vec<store::Due>>, ApiError> {
    let on = q.on(state.mesh.today())?;
    let list = store::home_visits_due(&state.mesh.db, on, &acting.region_patterns()).await?;
    audit_list(
        &state,
        &acting,
        &headers,
        "home_visit.list_due",
        on,
        list.len(),
    )
    .await?;
    Ok(Json(list))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitRequest {
    household_id: Uuid,
    visited_on: NaiveDate,
    #[serde(default)]
    note: String,
}

#[derive(Debug, Serialize)]
struct RecordedVisit {
    #[serde(flatten)]
    visit: store::Visit,
    next_home_visit_due: NaiveDate,
}

const MAX_NOTE: usize = 4000;

fn validate(req: &VisitRequest, today: NaiveDate) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if req.visited_on > today {
        errors.push(FieldError::new(
            "visited_on",
            format!("must not be in the future (today is {today})"),
        ));
    }
    if req.note.chars().count() > MAX_NOTE {
        errors.push(FieldError::new(
            "note",
            format!("at most {MAX_NOTE} characters"),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Records a home visit by the township officer of the token to an enrolled household of their
/// townships; the next one is due `home_visit_months` after the latest visit recorded (so a
/// visit entered late, older than one already recorded, does not bring the next one forward).
async fn record_visit(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    JsonBody(req): JsonBody<VisitRequest>,
) -> Result<(StatusCode, Json<RecordedVisit>), ApiError> {
    validate(&req, state.mesh.today())?;
    let not_found = || ApiError::NotFound("no enrolled household with this id".into());
    let visitor = acting.actor();
    let mut tx = state.mesh.db.begin().await?;
    // Locked, so two visits recorded at once agree on the next due date; a household outside the
    // officer's townships is not found.
    let entry = store::register_entry_in_area_for_update(
        &mut tx,
        req.household_id,
        &acting.region_patterns(),
    )
    .await?
    .filter(|e| e.enrolled)
    .ok_or_else(not_found)?;
    let visit = store::insert_visit(
        &mut tx,
        req.household_id,
        req.visited_on,
        &visitor,
        &req.note,
    )
    .await?;
    audit::append(
        &mut tx,
        &state.mesh,
        &visitor,
        Entry::new("home_visit.record", "home_visit", visit.visit_id)
            .household(req.household_id)
            .purpose_from(&headers)
            .detail(serde_json::json!({"visited_on": req.visited_on})),
    )
    .await?;
    let latest = store::latest_visit(&mut tx, req.household_id)
        .await?
        .unwrap_or(req.visited_on);
    let params = schedule::params(&state.policy, &entry.region_code, latest)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
    let next = schedule::months_after(latest, params.home_visit_months)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
    store::set_next_home_visit(&mut tx, req.household_id, next).await?;
    tx.commit().await?;
    tracing::info!(household_id = %req.household_id, next_home_visit_due = %next, "Home visit recorded.");
    Ok((
        StatusCode::CREATED,
        Json(RecordedVisit {
            visit,
            next_home_visit_due: next,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(visited_on: &str, note: &str) -> VisitRequest {
        VisitRequest {
            household_id: Uuid::nil(),
            visited_on: visited_on.parse().unwrap(),
            note: note.into(),
        }
    }

    fn fields(r: Result<(), ApiError>) -> Vec<String> {
        match r {
            Err(ApiError::Validation(f)) => f.into_iter().map(|f| f.field).collect(),
            Err(other) => panic!("{other}"),
            Ok(()) => Vec::new(),
        }
    }

    #[test]
    fn a_visit_needs_a_date_not_in_the_future_and_a_bounded_note() {
        let today: NaiveDate = "2026-11-22".parse().unwrap();
        assert!(fields(validate(&req("2026-11-22", "at home"), today)).is_empty());
        assert_eq!(
            fields(validate(
                &req("2026-11-23", &"x".repeat(MAX_NOTE + 1)),
                today
            )),
            ["visited_on", "note"]
        );
    }
}
