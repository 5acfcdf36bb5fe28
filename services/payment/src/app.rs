//! Wiring: payment's consumers, routes and the monthly run's tasks.

use crate::state::State;
use crate::{handlers, http, runs, Settings, MIGRATOR};
use mesh::subjects::{
    EMERGENCY_GRANTED, HOUSEHOLD_CHANGED, HOUSEHOLD_DETERMINED, PAYMENT_BANK_STATUS,
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
    let mesh = Mesh::connect(settings.mesh, &MIGRATOR, clock).await?;
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
        .consume(
            "determinations",
            "ELIGIBILITY",
            mesh.subjects.of(HOUSEHOLD_DETERMINED),
            {
                let s = state.clone();
                move |d| handlers::on_determined(s.clone(), d)
            },
        )
        .consume(
            "emergencies",
            "ELIGIBILITY",
            mesh.subjects.of(EMERGENCY_GRANTED),
            {
                let s = state.clone();
                move |d| handlers::on_emergency(s.clone(), d)
            },
        )
        .consume(
            "bank-status",
            "PAYMENT",
            mesh.subjects.of(PAYMENT_BANK_STATUS),
            {
                let s = state.clone();
                move |d| handlers::on_status_report(s.clone(), d)
            },
        )
        .consume("changes", "MONITOR", mesh.subjects.of(HOUSEHOLD_CHANGED), {
            let s = state.clone();
            move |d| handlers::on_changed(s.clone(), d)
        })
        .task("monthly-runs", runs::work(state.clone()))
        .task("monthly-run-scheduler", runs::schedule(state.clone()))
        .routes(http::routes(state))
        .build()
        .await
}
