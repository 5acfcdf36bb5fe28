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
# The window of months payment runs, instructs and sends files for, around the bureau's today:
# next month at most (its run starts on the parameter sets' payment_run_day of this month, and it
# is paid by their payment_due_day, "by the 10th"), and twelve months back for late runs.
months_ahead = 1
months_back = 12
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
    /// A TOML file of the dedicated fund accounts that pay, by district (see
    /// `deploy/config/fund-accounts.toml`); merged with `fund_accounts` given inline.
    #[serde(default)]
    pub fund_accounts_file: Option<String>,
    /// District code (6 digits) → the dedicated fund account that pays its beneficiaries.
    #[serde(default)]
    pub fund_accounts: std::collections::BTreeMap<String, FundAccount>,
    /// The initiating party named in pain.001 files.
    #[serde(default = "initiating_party")]
    pub initiating_party: String,
    /// Where pain.001 files are sent (`POST {bank_url}/v1/pain001`); none: files are fetched.
    #[serde(default)]
    pub bank_url: Option<String>,
    pub run: RunSettings,
}

fn initiating_party() -> String {
    "Civil Affairs Bureau".into()
}

/// A dedicated fund account: used only for assistance payments.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FundAccount {
    pub name: String,
    pub account: String,
    /// The 12-digit CNAPS code of the account's bank branch.
    pub bank_code: String,
}

#[derive(Debug, Deserialize)]
struct FundAccountsFile {
    fund_accounts: std::collections::BTreeMap<String, FundAccount>,
}

impl PaymentSettings {
    /// The fund accounts by district: those of the file, then those given inline.
    pub fn fund_accounts(&self) -> anyhow::Result<std::collections::BTreeMap<String, FundAccount>> {
        let mut all = std::collections::BTreeMap::new();
        if let Some(path) = &self.fund_accounts_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("fund accounts file {path}: {e}"))?;
            let f: FundAccountsFile = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("fund accounts file {path}: {e}"))?;
            all.extend(f.fund_accounts);
        }
        all.extend(self.fund_accounts.clone());
        for (district, a) in &all {
            anyhow::ensure!(
                district.len() == 6 && district.bytes().all(|b| b.is_ascii_digit()),
                "fund account district {district:?} is not a 6-digit code"
            );
            anyhow::ensure!(
                a.bank_code.len() == 12 && a.bank_code.bytes().all(|b| b.is_ascii_digit()),
                "fund account of {district}: bank code is not 12 digits"
            );
            anyhow::ensure!(
                !a.account.is_empty() && a.account.bytes().all(|b| b.is_ascii_digit()),
                "fund account of {district}: account number is not digits"
            );
        }
        Ok(all)
    }
}

/// The monthly run and its scheduler.
#[derive(Debug, Clone, Deserialize)]
pub struct RunSettings {
    /// Households per chunk: one transaction each, with their instructions and outbox rows.
    pub chunk_size: i64,
    /// How often the scheduler looks at the calendar; 0 turns the scheduler off (the run is
    /// then started over HTTP only).
    pub schedule_interval_ms: u64,
    /// Fault injection, for tests only: the run fails once, in this process, after this many
    /// chunks were committed.
    #[serde(default)]
    pub fail_after_chunks: Option<u32>,
    /// The last month payment runs, instructs or sends, in months after today's month.
    pub months_ahead: u32,
    /// The first month payment runs, instructs or sends, in months before today's month.
    pub months_back: u32,
}

impl Settings {
    pub fn load() -> anyhow::Result<Self> {
        mesh::settings::load(DEFAULTS)
    }
}
