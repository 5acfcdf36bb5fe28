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

impl State {
    /// The months payment may run, instruct and send today (`payment.run.months_back`,
    /// `payment.run.months_ahead`).
    pub fn window(&self) -> Window {
        let (first, last) = policy::dates::payment_window(
            self.mesh.today(),
            self.settings.run.months_back,
            self.settings.run.months_ahead,
        );
        Window { first, last }
    }
}

/// The months payment runs, instructs and sends files for, from `first` to `last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub first: policy::Month,
    pub last: policy::Month,
}

impl Window {
    pub fn contains(&self, month: policy::Month) -> bool {
        self.first <= month && month <= self.last
    }

    /// The rule a month out of the window breaks.
    pub fn rule(&self) -> String {
        format!(
            "must be a month from {} to {}: payment runs, instructs and pays only the months of its window around today",
            self.first, self.last
        )
    }
}
