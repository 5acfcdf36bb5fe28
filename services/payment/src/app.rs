//! Wiring: payment's consumer and routes.

use crate::{handlers, http, Settings, MIGRATOR};
use mesh::subjects::{EMERGENCY_GRANTED, HOUSEHOLD_DETERMINED};
use mesh::{Application, Mesh, ServiceBuilder};
use std::sync::Arc;

#[derive(Clone)]
pub struct State {
    pub mesh: Mesh,
    pub policy: Arc<policy::PolicyBook>,
}

pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let policy = Arc::new(mesh::settings::policy_book(
        settings.payment.policy_file.as_deref(),
    )?);
    let mesh = Mesh::connect(settings.mesh, &MIGRATOR).await?;
    let state = State {
        mesh: mesh.clone(),
        policy,
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
        .routes(http::routes(state))
        .build()
        .await
}
