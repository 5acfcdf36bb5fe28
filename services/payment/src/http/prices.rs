//! `POST /v1/price-rises`, `GET /v1/price-rises`: the consumer-price rises of the price-linked
//! temporary subsidy.

use crate::prices::{self, Recorded};
use crate::state::State;
use crate::store::prices::PriceRise;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::Json;
use mesh::auth::Acting;
use mesh::http::{ApiError, JsonBody};
use policy::Month;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RiseRequest {
    area_code: String,
    month: String,
    cpi_month: String,
    cpi_rise_permille: i64,
    source: String,
}

/// Records a rise for an area of the city supervisor's: 201, or 200 when the same rise was
/// recorded already.
pub(super) async fn record(
    AxState(state): AxState<State>,
    acting: Acting,
    JsonBody(body): JsonBody<RiseRequest>,
) -> Result<(StatusCode, Json<PriceRise>), ApiError> {
    let parse = |raw: &str| Month::parse(raw).map_err(|e| e.to_string());
    let rise = prices::check(
        &body.area_code,
        parse(&body.month),
        parse(&body.cpi_month),
        body.cpi_rise_permille,
        &body.source,
    )?;
    Ok(match prices::record(&state, &acting, rise).await? {
        Recorded::New(r) => (StatusCode::CREATED, Json(r)),
        Recorded::Same(r) => (StatusCode::OK, Json(r)),
    })
}

/// Every rise recorded, the latest month first.
pub(super) async fn list(
    AxState(state): AxState<State>,
    _acting: Acting,
) -> Result<Json<Vec<PriceRise>>, ApiError> {
    Ok(Json(prices::list(&state).await?))
}
