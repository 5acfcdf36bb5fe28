//! Payment's HTTP API, by area: a household's instructions, the monthly runs, the recovery
//! cases, beneficiaries' accounts, pain.001 files, pain.002 status reports, corrections, and the
//! fund accounts' ledger and reconciliation.

mod accounts;
mod batches;
mod corrections;
mod instructions;
mod ledger;
mod prices;
mod recoveries;
mod runs;
mod status_reports;

pub use accounts::{
    AccountInput, AccountProposed, AccountSet, AccountVersion, AccountView, ConfirmInput,
    PendingChange,
};
pub use batches::BatchRequest;

use crate::state::State;
use axum::routing::{get, post, put};
use axum::Router;
use mesh::auth::REGIONAL_READ;
use mesh::auth::{allow, Role};
use mesh::http::{ApiError, FieldError};
use mesh::Mesh;
use policy::Month;

use Role::{
    Auditor as AU, CitySupervisor as CS, CountyApprover as CA, CountyOfficer as CO,
    PlatformOperator as PO, TownshipOfficer as T,
};

/// The routes, each for the roles of its operation's `x-roles` in `docs/openapi.yaml`. Area
/// officers see their areas' records only (in the queries); the platform operator makes, sends
/// and follows runs, files and status reports, and sees no personal data.
pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route(
            "/v1/households/{household_id}/instructions",
            get(instructions::of_household).layer(allow(REGIONAL_READ)),
        )
        .route("/v1/runs", post(runs::start).layer(allow(&[PO])))
        .route(
            "/v1/runs/{month}",
            get(runs::show).layer(allow(&[PO, CS, AU])),
        )
        .route("/v1/price-rises", post(prices::record).layer(allow(&[CS])))
        .route(
            "/v1/price-rises",
            get(prices::list).layer(allow(&[CS, CO, CA, PO, AU])),
        )
        .route(
            "/v1/recoveries",
            get(recoveries::list).layer(allow(&[CO, CA, CS, AU])),
        )
        .route(
            "/v1/recoveries/plans",
            get(recoveries::plans).layer(allow(&[CO, CA, CS, AU])),
        )
        .route(
            "/v1/recoveries/plans/{plan_id}/repayments",
            post(recoveries::repay).layer(allow(&[CO])),
        )
        .route(
            "/v1/accounts/{member_id}",
            put(accounts::put).layer(allow(&[T])),
        )
        .route(
            "/v1/accounts/{member_id}",
            get(accounts::show).layer(allow(&[T, CO, AU])),
        )
        .route(
            "/v1/accounts/{member_id}/confirm",
            post(accounts::confirm).layer(allow(&[T, CO])),
        )
        .route("/v1/batches", post(batches::make).layer(allow(&[PO])))
        .route(
            "/v1/batches/{batch_id}",
            get(batches::show).layer(allow(&[PO, CO, AU])),
        )
        .route(
            "/v1/batches/{batch_id}/file",
            get(batches::file).layer(allow(&[CO, AU])),
        )
        .route(
            "/v1/batches/{batch_id}/transmit",
            post(batches::transmit).layer(allow(&[PO])),
        )
        .route(
            "/v1/bank/status-reports",
            post(status_reports::take_in).layer(allow(&[PO])),
        )
        .route(
            "/v1/corrections",
            get(corrections::list).layer(allow(&[T, CO])),
        )
        .route(
            "/v1/reconciliation",
            get(ledger::reconciliation).layer(allow(&[CO, CA, CS, AU])),
        )
        .route(
            "/v1/ledger/recoveries",
            post(ledger::recovery).layer(allow(&[CO])),
        )
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
