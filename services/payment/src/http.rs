//! Payment's HTTP API: a household's instructions, the monthly runs, the recovery cases.

use crate::app::State;
use crate::{run, store};
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use mesh::http::{ApiError, FieldError, JsonBody};
use mesh::Mesh;
use policy::Month;
use serde::Deserialize;
use uuid::Uuid;

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route(
            "/v1/households/{household_id}/instructions",
            get(instructions),
        )
        .route("/v1/runs", post(start_run))
        .route("/v1/runs/{month}", get(get_run))
        .route("/v1/recoveries", get(recoveries))
        .with_state(state)
}

async fn instructions(
    AxState(state): AxState<State>,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<store::InstructionView>>, ApiError> {
    Ok(Json(store::by_household(&state.mesh.db, id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    month: String,
}

fn month_of(field: &str, raw: &str) -> Result<Month, ApiError> {
    Month::parse(raw).map_err(|e| ApiError::Validation(vec![FieldError::new(field, e.to_string())]))
}

/// Starts (or resumes) the month's run: 202 while it goes on, 200 once completed.
async fn start_run(
    AxState(state): AxState<State>,
    JsonBody(body): JsonBody<RunRequest>,
) -> Result<(StatusCode, Json<run::RunView>), ApiError> {
    let month = month_of("month", &body.month)?;
    let view = run::start(&state, month).await?;
    let code = if view.status == "completed" {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((code, Json(view)))
}

async fn get_run(
    AxState(state): AxState<State>,
    Path(month): Path<String>,
) -> Result<Json<run::RunView>, ApiError> {
    let month = month_of("month", &month)?;
    run::get(&state, month)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no run for {month}")))
}

#[derive(Debug, Deserialize)]
struct RecoveryQuery {
    household_id: Option<Uuid>,
}

async fn recoveries(
    AxState(state): AxState<State>,
    Query(q): Query<RecoveryQuery>,
) -> Result<Json<Vec<run::RecoveryView>>, ApiError> {
    Ok(Json(run::recoveries(&state, q.household_id).await?))
}
