//! Payment's HTTP API: a household's instructions.

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
        .route(
            "/v1/households/{household_id}/instructions",
            get(instructions),
        )
        .with_state(state)
}

async fn instructions(
    AxState(state): AxState<State>,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<store::InstructionView>>, ApiError> {
    Ok(Json(store::by_household(&state.mesh.db, id).await?))
}
