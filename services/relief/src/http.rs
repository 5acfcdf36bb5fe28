//! Relief's HTTP API: a case and its decision.

use crate::state::State;
use crate::store;
use axum::extract::{Path, State as AxState};
use axum::routing::get;
use axum::{Json, Router};
use mesh::http::ApiError;
use mesh::Mesh;
use uuid::Uuid;

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route("/v1/cases/{referral_id}", get(case))
        .route("/v1/reviews", get(reviews))
        .route(
            "/v1/reviews/{referral_id}",
            axum::routing::post(crate::handlers::decide_review),
        )
        .route(
            "/v1/medical/claims",
            axum::routing::post(crate::claims::post_claim),
        )
        .route("/v1/service-orders", get(crate::care::list_orders))
        .route(
            "/v1/charity/offers",
            axum::routing::post(crate::care::post_offer),
        )
        .with_state(state)
}

async fn case(
    AxState(state): AxState<State>,
    Path(id): Path<Uuid>,
) -> Result<Json<store::CaseView>, ApiError> {
    store::view(&state.mesh.db, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no case for referral {id}")))
}

/// Cases waiting for an officer of this department, oldest first.
async fn reviews(
    AxState(state): AxState<State>,
) -> Result<Json<Vec<store::PendingReview>>, ApiError> {
    Ok(Json(store::pending_reviews(&state.mesh.db).await?))
}
