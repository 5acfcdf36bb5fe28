//! Payment's HTTP API, by area: a household's instructions, the monthly runs, the recovery
//! cases, beneficiaries' accounts, pain.001 files, pain.002 status reports, corrections, and the
//! fund accounts' ledger and reconciliation.

mod accounts;
mod batches;
mod corrections;
mod instructions;
mod ledger;
mod recoveries;
mod runs;
mod status_reports;

pub use accounts::{AccountInput, AccountSet, AccountVersion, AccountView};
pub use batches::BatchRequest;

use crate::state::State;
use axum::routing::{get, post, put};
use axum::Router;
use mesh::http::{ApiError, FieldError};
use mesh::Mesh;
use policy::Month;

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route(
            "/v1/households/{household_id}/instructions",
            get(instructions::of_household),
        )
        .route("/v1/runs", post(runs::start))
        .route("/v1/runs/{month}", get(runs::show))
        .route("/v1/recoveries", get(recoveries::list))
        .route(
            "/v1/accounts/{member_id}",
            put(accounts::put).get(accounts::show),
        )
        .route("/v1/batches", post(batches::make))
        .route("/v1/batches/{batch_id}", get(batches::show))
        .route("/v1/batches/{batch_id}/file", get(batches::file))
        .route("/v1/batches/{batch_id}/transmit", post(batches::transmit))
        .route("/v1/bank/status-reports", post(status_reports::take_in))
        .route("/v1/corrections", get(corrections::list))
        .route("/v1/reconciliation", get(ledger::reconciliation))
        .route("/v1/ledger/recoveries", post(ledger::recovery))
        .with_state(state)
}

/// A `YYYY-MM` month of the request, or the field's error.
fn month_of(field: &str, raw: &str) -> Result<Month, ApiError> {
    Month::parse(raw).map_err(|e| ApiError::Validation(vec![FieldError::new(field, e.to_string())]))
}

/// A `YYYY-MM` month of the request within payment's window of months ([`State::window`]):
/// what payment may run, instruct or send.
fn month_in_window(state: &State, field: &str, raw: &str) -> Result<Month, ApiError> {
    let month = month_of(field, raw)?;
    let window = state.window();
    if !window.contains(month) {
        return Err(ApiError::Validation(vec![FieldError::new(
            field,
            window.rule(),
        )]));
    }
    Ok(month)
}
