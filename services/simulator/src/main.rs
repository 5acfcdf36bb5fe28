//! `source-simulator`: the data-holder simulator as a process, for `make run` and the benchmark.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = simulator::Settings::load()?;
    let _guard = mesh::telemetry::init(&settings.service, &settings.telemetry)?;
    let sim = simulator::Simulator::build(settings, None).await?;
    tracing::info!(port = sim.port(), "Data-holder simulator answering.");
    sim.run_until_stopped(mesh::service::shutdown_signal())
        .await
}
