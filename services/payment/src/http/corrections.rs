//! `GET /v1/corrections`: rejected or returned payments waiting for a corrected account.

use crate::corrections;
use crate::state::State;
use crate::store::corrections::Correction;
use axum::extract::{Query, State as AxState};
use axum::Json;
use mesh::http::ApiError;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(super) struct CorrectionsQuery {
    #[serde(default)]
    all: bool,
}

pub(super) async fn list(
    AxState(state): AxState<State>,
    Query(q): Query<CorrectionsQuery>,
) -> Result<Json<Vec<Correction>>, ApiError> {
    Ok(Json(corrections::list(&state, q.all).await?))
}
