//! `source-simulator`: the data-holder simulator as a process, for `make run` and the benchmark.
//! `source-simulator generate --households N --seed S --out DIR` writes a data set instead.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("generate") {
        return simulator::generate::run_cli(&args[2..]);
    }
    let settings = simulator::Settings::load()?;
    let _guard = mesh::telemetry::init(&settings.service, &settings.telemetry)?;
    let sim = simulator::Simulator::build(settings, None).await?;
    tracing::info!(port = sim.port(), "Data-holder simulator answering.");
    sim.run_until_stopped(mesh::service::shutdown_signal())
        .await
}
