use payment::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mesh::service::main_with(
        payment::config::DEFAULTS,
        &payment::MIGRATOR,
        |s: &Settings| &s.mesh,
        payment::build,
    )
    .await
}
