//! `bank-simulator`: the simulated bank as a process. It takes pain.001 files on
//! `POST /v1/pain001` and answers with pain.002 status reports on `payment.bank.status`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = simulator::bank::BankSettings::load()?;
    let _guard = mesh::telemetry::init(&settings.service, &settings.telemetry)?;
    let sim = simulator::bank::BankSimulator::build(settings).await?;
    tracing::info!(port = sim.port(), "Bank simulator taking pain.001 files.");
    sim.run_until_stopped(mesh::service::shutdown_signal())
        .await
}
