//! `POST /v1/bank/status-reports`: a pain.002 over HTTP.

use crate::domain::ReceivedVia;
use crate::iso20022;
use crate::state::State;
use crate::status_reports::{self, Ingested};
use axum::extract::State as AxState;
use axum::Json;
use mesh::http::{ApiError, FieldError};

pub(super) async fn take_in(
    AxState(state): AxState<State>,
    body: String,
) -> Result<Json<Ingested>, ApiError> {
    let report = iso20022::parse_pain002(&body).map_err(|why| {
        ApiError::Validation(vec![FieldError::new(
            "body",
            format!("not a valid pain.002: {why}"),
        )])
    })?;
    let mut tx = state.mesh.db.begin().await?;
    let done = status_reports::ingest(&state, &mut tx, &report, &body, ReceivedVia::Http).await?;
    tx.commit().await?;
    Ok(Json(done))
}
