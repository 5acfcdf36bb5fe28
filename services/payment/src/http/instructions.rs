//! `GET /v1/households/{household_id}/instructions`.

use crate::state::State;
use crate::store::{self, InstructionView};
use axum::extract::{Path, State as AxState};
use axum::Json;
use mesh::http::ApiError;
use uuid::Uuid;

pub(super) async fn of_household(
    AxState(state): AxState<State>,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<InstructionView>>, ApiError> {
    Ok(Json(store::by_household(&state.mesh.db, id).await?))
}
