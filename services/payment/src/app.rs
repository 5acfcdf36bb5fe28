//! Wiring: payment's consumer and routes.

use crate::{bank, handlers, http, Settings, MIGRATOR};
use mesh::subjects::{EMERGENCY_GRANTED, HOUSEHOLD_DETERMINED, PAYMENT_BANK_STATUS};
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
}

pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let policy = Arc::new(mesh::settings::policy_book(
        settings.payment.policy_file.as_deref(),
    )?);
    let fund_accounts = Arc::new(settings.payment.fund_accounts()?);
    let mesh = Mesh::connect(settings.mesh, &MIGRATOR).await?;
    let state = State {
        mesh: mesh.clone(),
        policy,
        fund_accounts,
        initiating_party: settings.payment.initiating_party.clone(),
        bank_url: settings.payment.bank_url.clone(),
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?,
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
        .routes(http::routes(state.clone()).merge(bank::routes(state)))
        .build()
        .await
}
