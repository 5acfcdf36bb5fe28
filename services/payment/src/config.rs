//! Payment settings: the mesh's, plus the policy parameter sets.

use mesh::MeshSettings;
use serde::Deserialize;

pub const DEFAULTS: &str = r#"
service = "payment"
[http]
port = 8084
[database]
url = "postgres://postgres@127.0.0.1:5432/relief_payment"
[payment]
"#;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub mesh: MeshSettings,
    pub payment: PaymentSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentSettings {
    /// A TOML file of parameter sets; the built-in sets when absent.
    #[serde(default)]
    pub policy_file: Option<String>,
}

impl Settings {
    pub fn load() -> anyhow::Result<Self> {
        mesh::settings::load(DEFAULTS)
    }
}
