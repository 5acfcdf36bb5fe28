//! `relief --department <medical|education|housing|employment|disaster> [migrate|declare-streams]`

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let settings = relief::Settings::load(&args)?;
    let _guard = mesh::telemetry::init(&settings.mesh.service, &settings.mesh.telemetry)?;
    if mesh::service::wants_migrate(&args) {
        return mesh::service::migrate_only(&settings.mesh, &relief::MIGRATOR).await;
    }
    if mesh::service::wants_declare_streams(&args) {
        return mesh::service::declare_streams_only(&settings.mesh).await;
    }
    let clock = mesh::Clock::from_settings(&settings.mesh.clock)?;
    let app = relief::build(settings, clock).await?;
    tracing::info!(port = app.port(), "Listening.");
    app.run_until_stopped(mesh::service::shutdown_signal())
        .await
}
