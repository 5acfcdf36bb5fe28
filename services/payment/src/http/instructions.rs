//! `GET /v1/households/{household_id}/instructions`.

use crate::state::State;
use crate::store::{self, InstructionView};
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::Json;
use mesh::audit::{self, Entry};
use mesh::auth::Acting;
use mesh::http::ApiError;
use mesh::http::Path;
use uuid::Uuid;

/// The household's instructions, for a caller whose areas hold it: a household outside them is
/// not found, as one payment has never heard of. The read is audited before it is answered.
pub(super) async fn of_household(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<InstructionView>>, ApiError> {
    let patterns = acting.region_patterns();
    if !store::instructions::household_in_area(&state.mesh.db, id, &patterns).await? {
        return Err(ApiError::NotFound(
            "no household in payment's register".into(),
        ));
    }
    let found = store::by_household(&state.mesh.db, id, &patterns).await?;
    audit::record(
        &state.mesh,
        &acting.actor(),
        Entry::new("instructions.read", "household", id)
            .household(id)
            .purpose_from(&headers)
            .detail(serde_json::json!({"instructions": found.len()})),
    )
    .await?;
    Ok(Json(found))
}
