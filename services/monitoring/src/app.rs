//! Wiring: monitoring's consumers, tasks and routes.

use crate::state::State;
use crate::{handlers, http, ops, Settings, MIGRATOR};
use mesh::subjects::{
    DISCOVERY_REPORTED, FEED_RECORD, HOUSEHOLD_CHANGED, HOUSEHOLD_DETERMINED, HOUSEHOLD_REVERIFIED,
    REFERRAL_FEEDBACK,
};
use mesh::{Application, Mesh, ServiceBuilder};
use std::sync::Arc;

/// The streams whose events make up a household's chain, and the filter of each.
pub const CHAIN_SOURCES: &[(&str, &str)] = &[
    ("INTAKE", "intake.>"),
    ("VERIFY", "verify.household.>"),
    ("ELIGIBILITY", "eligibility.>"),
    ("MONITOR", "monitor.household.>"),
    ("REFERRAL", "referral.>"),
    ("PAYMENT", "payment.>"),
];

pub async fn build(settings: Settings, clock: mesh::Clock) -> anyhow::Result<Application> {
    let policy = Arc::new(mesh::settings::policy_book(
        settings.monitoring.policy_file.as_deref(),
    )?);
    anyhow::ensure!(
        settings.monitoring.sweep_interval_ms >= 1,
        "monitoring.sweep_interval_ms must be at least 1"
    );
    let sweep_every = std::time::Duration::from_millis(settings.monitoring.sweep_interval_ms);
    let mesh = Mesh::connect(settings.mesh, &MIGRATOR, clock).await?;
    let state = State {
        mesh: mesh.clone(),
        policy,
    };
    let (s1, s2) = (state.clone(), state.clone());
    let mut builder = ServiceBuilder::new(mesh.clone())
        .consume(
            "determinations",
            "ELIGIBILITY",
            mesh.subjects.of(HOUSEHOLD_DETERMINED),
            move |d| handlers::on_determined(s1.clone(), d),
        )
        .consume(
            "feedback",
            "REFERRAL",
            mesh.subjects.fill(REFERRAL_FEEDBACK, "*"),
            move |d| handlers::on_feedback(s2.clone(), d),
        );
    let (s3, s4, s5, s6) = (state.clone(), state.clone(), state.clone(), state.clone());
    builder = builder
        .consume(
            "feed-records",
            "MONITOR",
            mesh.subjects.fill(FEED_RECORD, "*"),
            move |d| handlers::on_feed_record(s3.clone(), d),
        )
        .consume(
            "discoveries",
            "MONITOR",
            mesh.subjects.of(DISCOVERY_REPORTED),
            move |d| handlers::on_reported(s4.clone(), d),
        )
        .consume(
            "population-changes",
            "MONITOR",
            mesh.subjects.of(HOUSEHOLD_CHANGED),
            move |d| handlers::on_changed(s5.clone(), d),
        )
        .consume(
            "reverifications",
            "VERIFY",
            mesh.subjects.of(HOUSEHOLD_REVERIFIED),
            move |d| handlers::on_reverified(s6.clone(), d),
        )
        .task(
            "reverification-overdue",
            ops::population::sweep_overdue(state.clone(), sweep_every),
        );
    for (stream, filter) in CHAIN_SOURCES {
        let s = state.clone();
        let purpose = format!("chain-{}", stream.to_ascii_lowercase());
        builder = builder.consume(&purpose, stream, mesh.subjects.of(filter), move |d| {
            handlers::record_chain(s.clone(), d)
        });
    }
    builder
        .task(
            "warning-sweep",
            ops::warnings::run(state.clone(), sweep_every),
        )
        .routes(http::routes(state))
        .build()
        .await
}
