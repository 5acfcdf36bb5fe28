//! `relief --department <medical|education|housing|employment|disaster>`

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let settings = relief::Settings::load(&args)?;
    let _guard = mesh::telemetry::init(&settings.mesh.service, &settings.mesh.telemetry)?;
    let app = relief::build(settings).await?;
    tracing::info!(port = app.port(), "Listening.");
    app.run_until_stopped(mesh::service::shutdown_signal())
        .await
}
