//! Intake settings: the mesh's, plus where the policy parameter sets come from.

use mesh::MeshSettings;
use serde::Deserialize;

pub const DEFAULTS: &str = r#"
service = "intake"
[http]
port = 8081
[database]
url = "postgres://postgres@127.0.0.1:5432/relief_intake"
[intake]
"#;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub mesh: MeshSettings,
    pub intake: IntakeSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IntakeSettings {
    /// A TOML file of parameter sets; the built-in sets when absent.
    #[serde(default)]
    pub policy_file: Option<String>,
}

impl Settings {
    pub fn load() -> anyhow::Result<Self> {
        mesh::settings::load(DEFAULTS)
    }
}
