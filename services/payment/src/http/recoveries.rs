//! `GET /v1/recoveries`: the overpayment recovery cases.

use crate::recoveries;
use crate::state::State;
use crate::store::recoveries::RecoveryView;
use axum::extract::{Query, State as AxState};
use axum::Json;
use mesh::http::ApiError;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
pub(super) struct RecoveryQuery {
    household_id: Option<Uuid>,
}

pub(super) async fn list(
    AxState(state): AxState<State>,
    Query(q): Query<RecoveryQuery>,
) -> Result<Json<Vec<RecoveryView>>, ApiError> {
    Ok(Json(recoveries::list(&state, q.household_id).await?))
}
