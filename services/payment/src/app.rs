//! Wiring: payment's consumers, routes and the monthly run's scheduler.

use crate::config::PaymentSettings;
use crate::{bank, handlers, http, run, Settings, MIGRATOR};
use mesh::subjects::{
    EMERGENCY_GRANTED, HOUSEHOLD_CHANGED, HOUSEHOLD_DETERMINED, PAYMENT_BANK_STATUS,
};
use mesh::{Application, Mesh, ServiceBuilder};
use std::sync::Arc;

#[derive(Clone)]
pub struct State {
    pub mesh: Mesh,
    pub policy: Arc<policy::PolicyBook>,
    /// District → the dedicated fund account that pays (configuration).
    pub fund_accounts: Arc<std::collections::BTreeMap<String, crate::config::FundAccount>>,
    pub initiating_party: String,
    pub bank_url: Option<String>,
    pub http: reqwest::Client,
    pub settings: Arc<PaymentSettings>,
    pub runner: Arc<run::Runner>,
}

impl State {
    /// The bureau's calendar day now, by the service's clock.
    pub fn today(&self) -> chrono::NaiveDate {
        self.mesh.today()
    }
}

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
        runner: Arc::new(run::Runner::new(
            settings.payment.run.fail_after_chunks,
            mesh.metrics.registry(),
        )),
        settings: Arc::new(settings.payment),
    };
    let s = state.clone();
    ServiceBuilder::new(mesh.clone())
        .consume(
            "determinations",
            "ELIGIBILITY",
            mesh.subjects.of(HOUSEHOLD_DETERMINED),
            move |d| handlers::on_determined(s.clone(), d),
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
                move |d| bank::on_status_report(s.clone(), d)
            },
        )
        .consume("changes", "MONITOR", mesh.subjects.of(HOUSEHOLD_CHANGED), {
            let s = state.clone();
            move |d| handlers::on_changed(s.clone(), d)
        })
        .task("monthly-runs", run::work(state.clone()))
        .task("monthly-run-scheduler", run::schedule(state.clone()))
        .routes(http::routes(state.clone()).merge(bank::routes(state)))
        .build()
        .await
}
