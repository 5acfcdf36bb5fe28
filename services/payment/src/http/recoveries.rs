//! `GET /v1/recoveries`: the overpayment recovery cases; `GET /v1/recoveries/plans` and
//! `POST /v1/recoveries/plans/{plan_id}/repayments`: their repayment plans and the money
//! received for them.

use crate::recoveries;
use crate::repayments::{self, PlanView, Received};
use crate::state::State;
use crate::store::recoveries::RecoveryView;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::NaiveDate;
use mesh::audit::{self, Entry};
use mesh::auth::Acting;
use mesh::http::{ApiError, FieldError, JsonBody};
use mesh::http::{Path, Query};
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

/// The repayment plans of the households in the caller's areas (of one household, when given),
/// with what each owes, its schedule and its repayments; audited before it is answered.
pub(super) async fn plans(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Query(q): Query<RecoveryQuery>,
) -> Result<Json<Vec<PlanView>>, ApiError> {
    let found = repayments::list(&state, &acting, q.household_id).await?;
    let mut entry = Entry::new(
        "recoveries.plans.list",
        "repayment_plan",
        q.household_id.map(|h| h.to_string()).unwrap_or_default(),
    )
    .purpose_from(&headers)
    .detail(serde_json::json!({"plans": found.len()}));
    if let Some(h) = q.household_id {
        entry = entry.household(h);
    }
    audit::record(&state.mesh, &acting.actor(), entry).await?;
    Ok(Json(found))
}

/// Money received for a plan; the county officer who books it is the token's (a body naming an
/// officer is refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RepaymentInput {
    amount_fen: i64,
    reference: String,
    received_on: NaiveDate,
}

pub(super) async fn repay(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(plan_id): Path<Uuid>,
    JsonBody(r): JsonBody<RepaymentInput>,
) -> Result<(StatusCode, Json<PlanView>), ApiError> {
    let mut errors = Vec::new();
    if let Err(rule) = state.mesh.settings.bounds.positive_amount(r.amount_fen) {
        errors.push(FieldError::new("amount_fen", rule));
    }
    if let Some(e) = mesh::http::check_text("reference", &r.reference, 128) {
        errors.push(e);
    }
    if r.received_on > state.mesh.today() {
        errors.push(FieldError::new(
            "received_on",
            "the day the money was received: not after today",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let received = Received {
        amount_fen: r.amount_fen,
        reference: r.reference.trim(),
        received_on: r.received_on,
    };
    let (fresh, plan) = repayments::repay(&state, &acting, plan_id, &received, &headers).await?;
    let status = if fresh {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(plan)))
}
