//! Verification settings: the mesh's, plus the data sources, how patiently to ask them, how long
//! to hold an application for a source that does not answer, how often to look for households
//! due for re-verification, and the policy parameter sets.

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
schedule_interval_ms = 60000
schedule_batch = 20
source_hold_seconds = 300
source_retry_initial_ms = 2000
source_retry_max_ms = 60000
hold_poll_interval_ms = 1000
hold_batch = 50
hold_lease_seconds = 30
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
    /// How often the scheduler looks for enrolled households due for re-verification.
    pub schedule_interval_ms: u64,
    /// Households one scheduler replica takes (leases) per look.
    pub schedule_batch: i64,
    /// How long an application is held while a source does not answer before its report goes
    /// out with the gap (and intake sends it to manual verification); 0 reports the gap at once.
    /// Either way the gap is verified again when the source answers.
    pub source_hold_seconds: u64,
    /// Delay before a source that did not answer is probed again; doubles after each probe that
    /// fails, up to `source_retry_max_ms`.
    pub source_retry_initial_ms: u64,
    /// Longest delay between two probes of a source that does not answer.
    pub source_retry_max_ms: u64,
    /// How often the hold task looks for due probes and due held applications.
    pub hold_poll_interval_ms: u64,
    /// Held applications one replica takes (claims) per look.
    pub hold_batch: i64,
    /// How long a replica's claim on held applications (or a probe) lasts: after a crash, they
    /// are taken over once it runs out. Longer than one round of queries to a source.
    pub hold_lease_seconds: u64,
    /// A TOML file of parameter sets (re-verification and home-visit intervals per region);
    /// the built-in sets when absent.
    #[serde(default)]
    pub policy_file: Option<String>,
}

impl Settings {
    pub fn load() -> anyhow::Result<Self> {
        mesh::settings::load(DEFAULTS)
    }
}
