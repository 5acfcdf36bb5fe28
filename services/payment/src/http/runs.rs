//! `POST /v1/runs`, `GET /v1/runs/{month}`: the monthly runs.

use super::{month_in_window, month_of};
use crate::domain::RunStatus;
use crate::runs::{self, RunView};
use crate::state::State;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::Json;
use mesh::auth::Acting;
use mesh::http::Path;
use mesh::http::{ApiError, JsonBody};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RunRequest {
    month: String,
}

/// Starts (or resumes) the month's run: 202 while it goes on, 200 once completed.
pub(super) async fn start(
    AxState(state): AxState<State>,
    acting: Acting,
    JsonBody(body): JsonBody<RunRequest>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    let month = month_in_window(&state, "month", &body.month)?;
    let view = runs::start(&state, month, Some(&acting.actor())).await?;
    let code = if view.status == RunStatus::Completed {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((code, Json(view)))
}

/// A run's progress and totals: no personal data, for the platform operator, the city's
/// supervisor and the auditors.
pub(super) async fn show(
    AxState(state): AxState<State>,
    _acting: Acting,
    Path(month): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let month = month_of("month", &month)?;
    runs::get(&state, month)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no run for this month".into()))
}
