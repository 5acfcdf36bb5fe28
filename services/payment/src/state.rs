//! What payment's handlers, routes and tasks share.

use crate::config::{FundAccount, PaymentSettings};
use crate::runs::Runner;
use mesh::Mesh;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone)]
pub struct State {
    pub mesh: Mesh,
    pub policy: Arc<policy::PolicyBook>,
    /// District → the dedicated fund account that pays (configuration).
    pub fund_accounts: Arc<BTreeMap<String, FundAccount>>,
    pub initiating_party: String,
    pub bank_url: Option<String>,
    pub http: reqwest::Client,
    pub settings: Arc<PaymentSettings>,
    pub runner: Arc<Runner>,
}
