//! `POST /v1/batches`, `GET /v1/batches/{batch_id}`, `GET /v1/batches/{batch_id}/file`,
//! `POST /v1/batches/{batch_id}/transmit`: pain.001 files.

use super::month_in_window;
use crate::batches::{self, BatchSummary};
use crate::domain::is_district;
use crate::state::State;
use axum::extract::State as AxState;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mesh::auth::Acting;
use mesh::http::Path;
use mesh::http::{ApiError, FieldError, JsonBody};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
pub struct BatchRequest {
    pub month: String,
    #[serde(default)]
    pub district: Option<String>,
}

/// One pain.001 file per paying account for the month's instructed payments that are in no
/// live file and have an account: 201 with the files, 200 when there was nothing to put in one.
pub(super) async fn make(
    AxState(state): AxState<State>,
    acting: Acting,
    JsonBody(req): JsonBody<BatchRequest>,
) -> Result<Response, ApiError> {
    let month = month_in_window(&state, "month", &req.month)?;
    if let Some(d) = &req.district {
        if !is_district(d) {
            return Err(ApiError::Validation(vec![FieldError::new(
                "district",
                "a 6-digit district code",
            )]));
        }
    }
    let made = batches::make(&state, &acting.actor(), month, req.district.as_deref()).await?;
    let status = if made.batches.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(made)).into_response())
}

pub(super) async fn show(
    AxState(state): AxState<State>,
    acting: Acting,
    Path(batch_id): Path<Uuid>,
) -> Result<Json<BatchSummary>, ApiError> {
    Ok(Json(batches::get(&state, &acting, batch_id).await?))
}

/// The pain.001 (full account numbers), for a county officer or an auditor of its district;
/// the export is audited before the file is sent.
pub(super) async fn file(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(batch_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let xml = batches::file(&state, &acting, batch_id, &headers).await?;
    Ok(([(header::CONTENT_TYPE, "application/xml")], xml).into_response())
}

pub(super) async fn transmit(
    AxState(state): AxState<State>,
    acting: Acting,
    Path(batch_id): Path<Uuid>,
) -> Result<Json<BatchSummary>, ApiError> {
    Ok(Json(batches::transmit(&state, &acting, batch_id).await?))
}
