//! Monitoring settings: the mesh's, plus the policy parameter sets.

use mesh::MeshSettings;
use serde::Deserialize;

pub const DEFAULTS: &str = r#"
service = "monitoring"
[http]
port = 8083
[database]
url = "postgres://postgres@127.0.0.1:5432/relief_monitoring"
[monitoring]
sweep_interval_ms = 3600000
"#;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub mesh: MeshSettings,
    pub monitoring: MonitoringSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MonitoringSettings {
    /// A TOML file of parameter sets; the built-in sets when absent.
    #[serde(default)]
    pub policy_file: Option<String>,
    /// How often the warning sweep runs (overdue referrals raise warnings, warnings open past
    /// their deadline escalate to the county).
    #[serde(default = "hourly")]
    pub sweep_interval_ms: u64,
}

fn hourly() -> u64 {
    3_600_000
}

impl Settings {
    pub fn load() -> anyhow::Result<Self> {
        mesh::settings::load(DEFAULTS)
    }
}
