use verification::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mesh::service::main_with(
        verification::config::DEFAULTS,
        &verification::MIGRATOR,
        |s: &Settings| &s.mesh,
        verification::build,
    )
    .await
}
