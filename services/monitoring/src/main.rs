use monitoring::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mesh::service::main_with(
        monitoring::config::DEFAULTS,
        &monitoring::MIGRATOR,
        |s: &Settings| &s.mesh,
        monitoring::build,
    )
    .await
}
