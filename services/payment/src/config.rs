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
[payment.run]
chunk_size = 500
schedule_interval_ms = 60000
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
    pub run: RunSettings,
}

/// The monthly run and its scheduler.
#[derive(Debug, Clone, Deserialize)]
pub struct RunSettings {
    /// Households per chunk: one transaction each, with their instructions and outbox rows.
    pub chunk_size: i64,
    /// How often the scheduler looks at the calendar; 0 turns the scheduler off (the run is
    /// then started over HTTP only).
    pub schedule_interval_ms: u64,
    /// The date the scheduler takes for today, for drills and tests; the clock when absent.
    #[serde(default)]
    pub today: Option<chrono::NaiveDate>,
    /// Fault injection, for tests only: the run fails once, in this process, after this many
    /// chunks were committed.
    #[serde(default)]
    pub fail_after_chunks: Option<u32>,
}

impl Settings {
    pub fn load() -> anyhow::Result<Self> {
        mesh::settings::load(DEFAULTS)
    }
}
