//! Verification's HTTP API: a report with its provenance; where an application's verification
//! stands (held for a source, reported, verified by an officer); the re-verification and
//! home-visit due lists; recording a home visit.

use crate::state::State;
use crate::{held, schedule, store};
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use mesh::http::{ApiError, FieldError, JsonBody};
use mesh::Mesh;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route("/v1/reports/{application_id}", get(report))
        .route("/v1/verifications/{application_id}", get(verification))
        .route("/v1/reverifications/due", get(reverifications_due))
        .route("/v1/home-visits/due", get(home_visits_due))
        .route("/v1/home-visits", post(record_visit))
        .with_state(state)
}

async fn report(
    AxState(state): AxState<State>,
    Path(application_id): Path<Uuid>,
) -> Result<Json<store::ReportView>, ApiError> {
    store::report(&state.mesh.db, application_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no report for application {application_id}")))
}

async fn verification(
    AxState(state): AxState<State>,
    Path(application_id): Path<Uuid>,
) -> Result<Json<held::VerificationView>, ApiError> {
    held::view(&state.mesh.db, application_id)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::NotFound(format!("no verification of application {application_id}"))
        })
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
                ApiError::BadRequest(format!("on must be a date, YYYY-MM-DD; found {s:?}"))
            }),
        }
    }
}

async fn reverifications_due(
    AxState(state): AxState<State>,
    Query(q): Query<DueQuery>,
) -> Result<Json<Vec<store::Due>>, ApiError> {
    Ok(Json(
        store::reverifications_due(&state.mesh.db, q.on(state.mesh.today())?).await?,
    ))
}

async fn home_visits_due(
    AxState(state): AxState<State>,
    Query(q): Query<DueQuery>,
) -> Result<Json<Vec<store::Due>>, ApiError> {
    Ok(Json(
        store::home_visits_due(&state.mesh.db, q.on(state.mesh.today())?).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitRequest {
    household_id: Uuid,
    visited_on: NaiveDate,
    /// The officer who visited, by name: every record is traceable to a person.
    visitor: String,
    #[serde(default)]
    note: String,
}

#[derive(Debug, Serialize)]
struct RecordedVisit {
    #[serde(flatten)]
    visit: store::Visit,
    next_home_visit_due: NaiveDate,
}

const MAX_VISITOR: usize = 64;
const MAX_NOTE: usize = 4000;

fn validate(req: &VisitRequest, today: NaiveDate) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if req.visitor.trim().is_empty() || req.visitor.chars().count() > MAX_VISITOR {
        errors.push(FieldError::new(
            "visitor",
            format!("must name the officer who visited, 1 to {MAX_VISITOR} characters"),
        ));
    }
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

/// Records a home visit to an enrolled household; the next one is due `home_visit_months` after
/// the latest visit recorded (so a visit entered late, older than one already recorded, does not
/// bring the next one forward).
async fn record_visit(
    AxState(state): AxState<State>,
    JsonBody(req): JsonBody<VisitRequest>,
) -> Result<(StatusCode, Json<RecordedVisit>), ApiError> {
    validate(&req, state.mesh.today())?;
    let not_found = || ApiError::NotFound(format!("no enrolled household {}", req.household_id));
    let mut tx = state.mesh.db.begin().await?;
    // Locked, so two visits recorded at once agree on the next due date.
    let entry = store::register_entry_for_update(&mut tx, req.household_id)
        .await?
        .filter(|e| e.enrolled)
        .ok_or_else(not_found)?;
    let visit = store::insert_visit(
        &mut tx,
        req.household_id,
        req.visited_on,
        req.visitor.trim(),
        &req.note,
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

    fn req(visitor: &str, visited_on: &str) -> VisitRequest {
        VisitRequest {
            household_id: Uuid::nil(),
            visited_on: visited_on.parse().unwrap(),
            visitor: visitor.into(),
            note: String::new(),
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
    fn a_visit_needs_a_named_visitor_and_a_date_not_in_the_future() {
        let today: NaiveDate = "2026-11-22".parse().unwrap();
        assert!(fields(validate(&req("Officer Wang Fang", "2026-11-22"), today)).is_empty());
        assert_eq!(
            fields(validate(&req("  ", "2026-11-23"), today)),
            ["visitor", "visited_on"]
        );
    }
}
