//! `GET /v1/corrections`: rejected or returned payments waiting for a corrected account.

use crate::corrections;
use crate::state::State;
use crate::store::corrections::Correction;
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::Json;
use mesh::audit::{self, Entry};
use mesh::auth::Acting;
use mesh::http::ApiError;
use mesh::http::Query;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(super) struct CorrectionsQuery {
    #[serde(default)]
    all: bool,
}

/// The corrections of the households in the caller's areas; the list is audited before it is
/// answered.
pub(super) async fn list(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Query(q): Query<CorrectionsQuery>,
) -> Result<Json<Vec<Correction>>, ApiError> {
    let found = corrections::list(&state, &acting, q.all).await?;
    audit::record(
        &state.mesh,
        &acting.actor(),
        Entry::new("corrections.list", "correction", "")
            .purpose_from(&headers)
            .detail(serde_json::json!({"all": q.all, "corrections": found.len()})),
    )
    .await?;
    Ok(Json(found))
}
