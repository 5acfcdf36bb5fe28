//! Wiring: the department's consumer and routes.

use crate::state::State;
use crate::{handlers, http, Settings, MIGRATOR};
use contract::channels::REFERRAL_PUSH;
use mesh::{Application, Mesh, ServiceBuilder};
use policy::Department;
use std::sync::Arc;

pub async fn build(settings: Settings, clock: mesh::Clock) -> anyhow::Result<Application> {
    let settings = settings.resolved();
    let department = Department::parse(&settings.relief.department).ok_or_else(|| {
        let known: Vec<&str> = Department::ALL.iter().map(|d| d.as_str()).collect();
        anyhow::anyhow!(
            "relief.department must be one of {}; found {}",
            known.join(", "),
            settings.relief.department
        )
    })?;
    let policy = Arc::new(mesh::settings::policy_book(
        settings.relief.policy_file.as_deref(),
    )?);
    let mesh = Mesh::connect(settings.mesh, &MIGRATOR, clock).await?;
    let state = State {
        mesh: mesh.clone(),
        department,
        policy,
    };
    let s = state.clone();
    ServiceBuilder::new(mesh.clone())
        .on_token("push", REFERRAL_PUSH, department.as_str(), move |e, d| {
            handlers::on_push(s.clone(), e, d)
        })
        .routes(http::routes(state))
        .build()
        .await
}
