//! Active discovery over HTTP: `POST /v1/discoveries`.

use crate::domain::discovery::validate;
use crate::domain::Via;
use crate::ops::discovery::{open_case, Opened};
use crate::state::State;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use contract::DiscoveryReport;
use mesh::auth::allow;
use mesh::http::{ApiError, JsonBody};
use mesh::{Acting, Mesh, Role};

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route(
            "/v1/discoveries",
            post(post_discovery).layer(allow(&[Role::TownshipOfficer, Role::CountyOfficer])),
        )
        .with_state(state)
}

/// A report entered by a township or county officer, for a person in the officer's areas
/// (403 for a `region_code` outside them, once the fields are valid); the officer is recorded
/// and audited with the case.
async fn post_discovery(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    JsonBody(report): JsonBody<DiscoveryReport>,
) -> Result<(StatusCode, Json<Opened>), ApiError> {
    let today = state.mesh.today();
    let errors = validate(&report, &state.policy, today);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    acting.require_area("region_code", report.region_code.trim())?;
    let officer = acting.actor();
    let mut tx = state.mesh.db.begin().await?;
    let opened = open_case(
        &state,
        &mut tx,
        &report,
        Via::Http,
        Some((&officer, &headers)),
        today,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        reporter = report.reporter.kind.as_str(),
        hardship = report.hardship.as_str(),
        new = opened.new,
        "Active-discovery report received."
    );
    let status = if opened.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(opened)))
}
