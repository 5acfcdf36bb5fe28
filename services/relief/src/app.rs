//! Wiring: the department's consumer and routes.

use crate::state::State;
use crate::{handlers, http, Settings, MIGRATOR};
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use contract::answers::{department_durable, DEPARTMENT_DURABLE};
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
    let mesh = Mesh::connect(settings.mesh, &MIGRATOR, clock, contract::channels::CATALOG).await?;
    let state = State {
        mesh: mesh.clone(),
        department,
        policy,
    };
    let s = state.clone();
    // The department's durable of the contract, shared with the department's own system: the
    // one that runs continues from the other's cursor, so nothing is answered twice.
    ServiceBuilder::new(mesh.clone())
        .on_durable(
            &department_durable(department),
            durable_config(&mesh.settings.nats),
            REFERRAL_PUSH,
            department.as_str(),
            move |e, d| handlers::on_push(s.clone(), e, d),
        )
        .routes(http::routes(state))
        .build()
        .await
}

/// The department's durable as the contract sets it up (the platform's bootstrap job creates it
/// so in production), used only when it does not exist yet; its acknowledgement wait is this
/// service's own when shorter (a test deployment redelivers sooner).
fn durable_config(nats: &mesh::settings::NatsSettings) -> pull::Config {
    let ack_wait = std::time::Duration::from_millis(nats.ack_wait_ms).min(
        std::time::Duration::from_secs(DEPARTMENT_DURABLE.ack_wait_seconds),
    );
    pull::Config {
        ack_policy: AckPolicy::Explicit,
        deliver_policy: DeliverPolicy::All,
        ack_wait,
        max_deliver: DEPARTMENT_DURABLE.max_deliver,
        max_ack_pending: DEPARTMENT_DURABLE.max_ack_pending,
        ..Default::default()
    }
}
