//! Verification settings: the mesh's, plus the data sources and how patiently to ask them.

use mesh::MeshSettings;
use serde::Deserialize;

pub const DEFAULTS: &str = r#"
service = "verification"
[http]
port = 8082
[database]
url = "postgres://postgres@127.0.0.1:5432/relief_verification"
[verification]
sources = ["bank", "tax", "property", "vehicle", "business", "social-insurance", "provident-fund", "civil-registry"]
timeout_ms = 2000
attempts = 3
retry_delay_ms = 200
"#;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub mesh: MeshSettings,
    pub verification: VerificationSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VerificationSettings {
    /// Every source asked for every household.
    pub sources: Vec<String>,
    /// Time one attempt waits for an answer.
    pub timeout_ms: u64,
    /// Attempts per source before it is reported as a gap.
    pub attempts: u32,
    /// Delay before the second attempt; doubles each time.
    pub retry_delay_ms: u64,
}

impl Settings {
    pub fn load() -> anyhow::Result<Self> {
        mesh::settings::load(DEFAULTS)
    }
}
