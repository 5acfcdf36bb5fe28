//! Wiring: payment's consumers, routes and the monthly run's tasks.

use crate::state::State;
use crate::{handlers, http, runs, Settings, MIGRATOR};
use contract::channels::{
    EMERGENCY_GRANTED, HOUSEHOLD_CHANGED, HOUSEHOLD_DETERMINED, HOUSEHOLD_REDETERMINED,
    PAYMENT_BANK_STATUS,
};
use mesh::{Application, Mesh, ServiceBuilder};
use std::sync::Arc;

pub async fn build(settings: Settings, clock: mesh::Clock) -> anyhow::Result<Application> {
    let policy = Arc::new(mesh::settings::policy_book(
        settings.payment.policy_file.as_deref(),
    )?);
    let fund_accounts = Arc::new(settings.payment.fund_accounts()?);
    anyhow::ensure!(
        settings.payment.run.chunk_size > 0,
        "payment.run.chunk_size must be at least 1"
    );
    let mesh = Mesh::connect(settings.mesh, &MIGRATOR, clock, contract::channels::CATALOG).await?;
    let state = State {
        mesh: mesh.clone(),
        policy,
        fund_accounts,
        initiating_party: settings.payment.initiating_party.clone(),
        bank_url: settings.payment.bank_url.clone(),
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?,
        runner: Arc::new(runs::Runner::new(
            settings.payment.run.fail_after_chunks,
            mesh.metrics.registry(),
        )),
        settings: Arc::new(settings.payment),
    };
    ServiceBuilder::new(mesh.clone())
        .on_batched("determinations", HOUSEHOLD_DETERMINED, {
            let st = state.clone();
            move |conn, e, d| Box::pin(handlers::on_determined(st.clone(), conn, e, d))
        })
        .on("emergencies", EMERGENCY_GRANTED, {
            let st = state.clone();
            move |e, d| handlers::on_emergency(st.clone(), e, d)
        })
        .on("bank-status", PAYMENT_BANK_STATUS, {
            let st = state.clone();
            move |e, d| handlers::on_status_report(st.clone(), e, d)
        })
        .on("changes", HOUSEHOLD_CHANGED, {
            let st = state.clone();
            move |e, d| handlers::on_changed(st.clone(), e, d)
        })
        .on("redeterminations", HOUSEHOLD_REDETERMINED, {
            let st = state.clone();
            move |e, d| handlers::on_redetermined(st.clone(), e, d)
        })
        .task("monthly-runs", runs::work(state.clone()))
        .task("monthly-run-scheduler", runs::schedule(state.clone()))
        .routes(http::routes(state))
        .build()
        .await
}
