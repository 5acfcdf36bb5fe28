//! `GET /v1/reconciliation` (JSON or CSV) and `POST /v1/ledger/recoveries`.

use crate::domain::is_district;
use crate::ledger;
use crate::state::State;
use axum::extract::State as AxState;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mesh::audit::{self, Entry};
use mesh::auth::Acting;
use mesh::http::Query;
use mesh::http::{ApiError, FieldError, JsonBody};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
pub(super) struct ReconciliationQuery {
    district: String,
    month: String,
    #[serde(default)]
    format: Option<String>,
}

/// A district's reconciliation, for staff of that district (or of the city holding it): a
/// district outside the token's areas is 403. Audited before it is answered.
pub(super) async fn reconciliation(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Query(q): Query<ReconciliationQuery>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    if !is_district(&q.district) {
        errors.push(FieldError::new("district", "a 6-digit district code"));
    }
    if let Err(e) = policy::Month::parse(&q.month) {
        errors.push(FieldError::new("month", e.to_string()));
    }
    let csv = match q.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(_) => {
            errors.push(FieldError::new("format", "must be json or csv"));
            false
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    acting.require_area("district", &q.district)?;
    let rec = ledger::reconcile(&state.mesh.db, &q.district, &q.month).await?;
    let format = if csv { "csv" } else { "json" };
    audit::record(
        &state.mesh,
        &acting.actor(),
        Entry::new(
            "reconciliation.read",
            "reconciliation",
            format!("{}/{}", q.district, q.month),
        )
        .purpose_from(&headers)
        .detail(serde_json::json!({ "format": format })),
    )
    .await?;
    Ok(if csv {
        ([(header::CONTENT_TYPE, "text/csv")], ledger::to_csv(&rec)).into_response()
    } else {
        Json(rec).into_response()
    })
}

/// Money recovered; the county officer who posts it is the token's (a body naming an officer
/// is refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RecoveryInput {
    instruction_id: Uuid,
    amount_fen: i64,
    reference: String,
}

pub(super) async fn recovery(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    JsonBody(r): JsonBody<RecoveryInput>,
) -> Result<Response, ApiError> {
    if let Err(rule) = state.mesh.settings.bounds.positive_amount(r.amount_fen) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "amount_fen",
            rule,
        )]));
    }
    if let Some(e) = mesh::http::check_text("reference", &r.reference, 128) {
        return Err(ApiError::Validation(vec![e]));
    }
    let posted = ledger::post_recovery(
        &state,
        &acting,
        r.instruction_id,
        r.amount_fen,
        &r.reference,
        &headers,
    )
    .await?;
    // The officer who posted it is named on the entry; a repeat names no one (the first stands).
    Ok(if posted {
        (
            StatusCode::CREATED,
            Json(serde_json::json!({"posted": true, "actor": acting.actor()})),
        )
            .into_response()
    } else {
        (StatusCode::OK, Json(serde_json::json!({"posted": false}))).into_response()
    })
}
