//! Wiring: the consumer and the routes of verification.

use crate::config::VerificationSettings;
use crate::{handlers, http, Settings, MIGRATOR};
use mesh::subjects::APPLICATION_SUBMITTED;
use mesh::{Application, Mesh, ServiceBuilder};
use std::sync::Arc;

#[derive(Clone)]
pub struct State {
    pub mesh: Mesh,
    pub settings: Arc<VerificationSettings>,
}

pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    anyhow::ensure!(
        !settings.verification.sources.is_empty(),
        "verification.sources must name at least one source"
    );
    anyhow::ensure!(
        settings.verification.attempts >= 1,
        "verification.attempts must be at least 1"
    );
    let mesh = Mesh::connect(settings.mesh, &MIGRATOR).await?;
    let state = State {
        mesh: mesh.clone(),
        settings: Arc::new(settings.verification),
    };
    let filter = mesh.subjects.of(APPLICATION_SUBMITTED);
    let s = state.clone();
    ServiceBuilder::new(mesh)
        .consume("applications", "INTAKE", filter, move |d| {
            handlers::on_submitted(s.clone(), d)
        })
        .routes(http::routes(state))
        .build()
        .await
}
