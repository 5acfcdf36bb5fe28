//! Wiring: monitoring's consumers, tasks and routes.

use crate::state::State;
use crate::{handlers, http, ops, Settings, MIGRATOR};
use contract::channels::{
    DISCLOSURE_OBJECTED, DISCOVERY_REPORTED, FEED_RECORD, HOUSEHOLD_CHANGED, HOUSEHOLD_DETERMINED,
    HOUSEHOLD_REVERIFIED, INTAKE_RISK_DETECTED, PAYMENT_RISK_DETECTED, REFERRAL_FEEDBACK,
};
use mesh::{Application, Mesh, ServiceBuilder, Stream};
use std::sync::Arc;

pub async fn build(settings: Settings, clock: mesh::Clock) -> anyhow::Result<Application> {
    let policy = Arc::new(mesh::settings::policy_book(
        settings.monitoring.policy_file.as_deref(),
    )?);
    anyhow::ensure!(
        settings.monitoring.sweep_interval_ms >= 1,
        "monitoring.sweep_interval_ms must be at least 1"
    );
    let sweep_every = std::time::Duration::from_millis(settings.monitoring.sweep_interval_ms);
    let mesh = Mesh::connect(settings.mesh, &MIGRATOR, clock, contract::channels::CATALOG).await?;
    let state = State {
        mesh: mesh.clone(),
        policy,
    };
    let mut builder = ServiceBuilder::new(mesh.clone())
        .on("determinations", HOUSEHOLD_DETERMINED, {
            let s = state.clone();
            move |e, d| handlers::on_determined(s.clone(), e, d)
        })
        .on("feed-records", FEED_RECORD, {
            let s = state.clone();
            move |e, d| handlers::on_feed_record(s.clone(), e, d)
        })
        .on("discoveries", DISCOVERY_REPORTED, {
            let s = state.clone();
            move |e, d| handlers::on_reported(s.clone(), e, d)
        })
        .on("population-changes", HOUSEHOLD_CHANGED, {
            let s = state.clone();
            move |e, d| handlers::on_changed(s.clone(), e, d)
        })
        .on("disclosure-objections", DISCLOSURE_OBJECTED, {
            let s = state.clone();
            move |e, d| handlers::on_objected(s.clone(), e, d)
        })
        .on("reverifications", HOUSEHOLD_REVERIFIED, {
            let s = state.clone();
            move |e, d| handlers::on_reverified(s.clone(), e, d)
        })
        .on("intake-risks", INTAKE_RISK_DETECTED, {
            let s = state.clone();
            move |e, d| handlers::on_intake_risk(s.clone(), e, d)
        })
        .on("payment-risks", PAYMENT_RISK_DETECTED, {
            let s = state.clone();
            move |e, d| handlers::on_payment_risk(s.clone(), e, d)
        })
        .task(
            "reverification-overdue",
            ops::population::sweep_overdue(state.clone(), sweep_every),
        );
    // Every feedback is answered for, whatever it holds: read as it comes, not decoded first.
    let feedback = REFERRAL_FEEDBACK.filter(&mesh.subjects);
    builder = builder.consume_stream("feedback", Stream::Referral, feedback, {
        let s = state.clone();
        move |d| handlers::on_feedback(s.clone(), d)
    });
    // The chain records every event of every channel the catalogue marks as a household's,
    // whatever its payload: one consumer per stream, its steps committed a batch at a time.
    for chain in contract::channels::CHAIN_FILTERS {
        let s = state.clone();
        builder = builder.consume_stream_batched(
            chain.purpose,
            chain.stream,
            mesh.subjects.of(chain.filter),
            move |batch| handlers::record_chain(s.clone(), batch),
        );
    }
    builder
        .task(
            "warning-sweep",
            ops::warnings::run(state.clone(), sweep_every),
        )
        .routes(http::routes(state))
        .public_routes(http::public_routes())
        .build()
        .await
}
