//! Wiring: the consumers, the re-verification scheduler and the routes of verification.

use crate::state::State;
use crate::{handlers, hold, http, schedule, Settings, MIGRATOR};
use contract::channels::{
    APPLICATION_MANUALLY_VERIFIED, APPLICATION_SUBMITTED, HOUSEHOLD_ENROLLED,
};
use mesh::{Application, Mesh, ServiceBuilder};
use std::sync::Arc;

pub async fn build(settings: Settings, clock: mesh::Clock) -> anyhow::Result<Application> {
    anyhow::ensure!(
        !settings.verification.sources.is_empty(),
        "verification.sources must name at least one source"
    );
    anyhow::ensure!(
        settings.verification.attempts >= 1,
        "verification.attempts must be at least 1"
    );
    anyhow::ensure!(
        settings.verification.schedule_interval_ms >= 1
            && settings.verification.schedule_batch >= 1,
        "verification.schedule_interval_ms and verification.schedule_batch must be at least 1"
    );
    let v = &settings.verification;
    anyhow::ensure!(
        v.source_retry_initial_ms >= 1 && v.source_retry_max_ms >= v.source_retry_initial_ms,
        "verification.source_retry_initial_ms must be at least 1 and source_retry_max_ms at least as long"
    );
    anyhow::ensure!(
        v.hold_poll_interval_ms >= 1 && v.hold_batch >= 1 && v.hold_lease_seconds >= 1,
        "verification.hold_poll_interval_ms, hold_batch and hold_lease_seconds must be at least 1"
    );
    anyhow::ensure!(
        i64::try_from(v.source_hold_seconds).is_ok_and(|s| s <= 400 * 24 * 3600),
        "verification.source_hold_seconds must be at most 400 days"
    );
    let policy = Arc::new(mesh::settings::policy_book(
        settings.verification.policy_file.as_deref(),
    )?);
    let mesh = Mesh::connect(settings.mesh, &MIGRATOR, clock, contract::channels::CATALOG).await?;
    let state = State {
        mesh: mesh.clone(),
        settings: Arc::new(settings.verification),
        policy,
    };
    let (s1, s2, s3) = (state.clone(), state.clone(), state.clone());
    ServiceBuilder::new(mesh.clone())
        .on("applications", APPLICATION_SUBMITTED, move |e, d| {
            handlers::on_submitted(s1.clone(), e, d)
        })
        .on("enrolments", HOUSEHOLD_ENROLLED, move |e, d| {
            handlers::on_enrolled(s2.clone(), e, d)
        })
        .on("manual", APPLICATION_MANUALLY_VERIFIED, move |e, d| {
            handlers::on_manually_verified(s3.clone(), e, d)
        })
        .task("reverification", schedule::run(state.clone()))
        .task("held", hold::run(state.clone()))
        .routes(http::routes(state))
        .build()
        .await
}
