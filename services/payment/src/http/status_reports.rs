//! `POST /v1/bank/status-reports`: a pain.002 over HTTP.

use crate::domain::ReceivedVia;
use crate::iso20022;
use crate::state::State;
use crate::status_reports::{self, Ingested};
use axum::extract::State as AxState;
use axum::Json;
use mesh::audit::{self, Entry};
use mesh::auth::Acting;
use mesh::http::{ApiError, FieldError};

/// Takes in a report posted by the platform operator, who is named in the status events and the
/// audit trail.
pub(super) async fn take_in(
    AxState(state): AxState<State>,
    acting: Acting,
    body: String,
) -> Result<Json<Ingested>, ApiError> {
    let report = iso20022::parse_pain002(&body).map_err(|why| {
        ApiError::Validation(vec![FieldError::new(
            "body",
            format!("not a valid pain.002: {why}"),
        )])
    })?;
    let actor = acting.actor();
    let mut tx = state.mesh.db.begin().await?;
    let done = status_reports::ingest(
        &state,
        &mut tx,
        &report,
        &body,
        ReceivedVia::Http,
        Some(&actor),
    )
    .await?;
    audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        Entry::new("status_report.ingest", "pain002", &report.msg_id).detail(serde_json::json!({
            "original_msg_id": report.original_msg_id,
            "duplicate": done.duplicate,
            "changes": done.changes,
            "unchanged": done.unchanged,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(done))
}
