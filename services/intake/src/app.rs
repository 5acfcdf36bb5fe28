//! Wiring: the consumer and the routes of intake.

use crate::state::State;
use crate::{handlers, http, Settings, MIGRATOR};
use contract::channels::{
    DISHONESTY_LIFTED, DISHONESTY_RECORDED, HOUSEHOLD_CHANGED, HOUSEHOLD_VERIFIED,
};
use mesh::{Application, Mesh, ServiceBuilder};
use std::sync::Arc;

pub async fn build(settings: Settings, clock: mesh::Clock) -> anyhow::Result<Application> {
    let policy = Arc::new(mesh::settings::policy_book(
        settings.intake.policy_file.as_deref(),
    )?);
    let mesh = Mesh::connect(settings.mesh, &MIGRATOR, clock, contract::channels::CATALOG).await?;
    let state = State {
        mesh: mesh.clone(),
        policy,
    };
    let s = state.clone();
    let dishonesty = state.clone();
    let lifted = state.clone();
    let changes = state.clone();
    ServiceBuilder::new(mesh)
        .on_batched("verified", HOUSEHOLD_VERIFIED, move |conn, e, d| {
            Box::pin(handlers::on_verified(s.clone(), conn, e, d))
        })
        .on("dishonesty", DISHONESTY_RECORDED, move |e, d| {
            handlers::on_dishonesty(dishonesty.clone(), e, d)
        })
        .on("dishonesty-lifted", DISHONESTY_LIFTED, move |e, d| {
            handlers::on_dishonesty_lifted(lifted.clone(), e, d)
        })
        .on("household-changes", HOUSEHOLD_CHANGED, move |e, d| {
            handlers::on_changed(changes.clone(), e, d)
        })
        .public_routes(http::public_routes(state.clone()))
        .routes(http::routes(state))
        .build()
        .await
}
