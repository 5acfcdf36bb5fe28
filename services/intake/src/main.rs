use intake::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mesh::service::main_with(
        intake::config::DEFAULTS,
        &intake::MIGRATOR,
        |s: &Settings| &s.mesh,
        intake::build,
    )
    .await
}
