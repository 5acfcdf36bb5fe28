//! Verification's HTTP API: a report with its provenance.

use crate::app::State;
use crate::store;
use axum::extract::{Path, State as AxState};
use axum::routing::get;
use axum::{Json, Router};
use mesh::http::ApiError;
use mesh::Mesh;
use uuid::Uuid;

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route("/v1/reports/{application_id}", get(report))
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
