//! `GET /v1/recoveries`: the overpayment recovery cases.

use crate::recoveries;
use crate::state::State;
use crate::store::recoveries::RecoveryView;
use axum::extract::{Query, State as AxState};
use axum::http::HeaderMap;
use axum::Json;
use mesh::audit::{self, Entry};
use mesh::auth::Acting;
use mesh::http::ApiError;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
pub(super) struct RecoveryQuery {
    household_id: Option<Uuid>,
}

/// The cases of the households in the caller's areas (of one household, when given); the list
/// is audited before it is answered.
pub(super) async fn list(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Query(q): Query<RecoveryQuery>,
) -> Result<Json<Vec<RecoveryView>>, ApiError> {
    let found = recoveries::list(&state, &acting, q.household_id).await?;
    let mut entry = Entry::new(
        "recoveries.list",
        "recovery",
        q.household_id.map(|h| h.to_string()).unwrap_or_default(),
    )
    .purpose_from(&headers)
    .detail(serde_json::json!({"cases": found.len()}));
    if let Some(h) = q.household_id {
        entry = entry.household(h);
    }
    audit::record(&state.mesh, &acting.actor(), entry).await?;
    Ok(Json(found))
}
