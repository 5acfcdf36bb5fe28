//! Monitoring's SQL: every query of the service, by table group. The states and kinds the
//! tables hold are the enums of [`crate::domain`] (`sqlx::Type`, as text); the shared enums of
//! `policy` and `contract` (tier, department, feed source, school stage, self-care) are
//! converted here, at the boundary.

pub mod chain;
pub mod complaints;
pub mod discovery;
pub mod dishonesty;
pub mod feeds;
pub mod households;
pub mod referrals;
pub mod refused;
pub mod reports;
pub mod warnings;

pub use chain::{record_steps, steps, Step, StepView};
pub use households::{household, HouseholdView, PersonView};
pub use referrals::{referral, referrals, ReferralOf, ReferralView};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A stored value that does not read back as its type.
fn decode(what: String) -> sqlx::Error {
    sqlx::Error::Decode(what.into())
}

/// A stored tier (`households.tier`, `persons.tier`).
fn tier(s: &str) -> sqlx::Result<policy::Tier> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| decode(format!("stored tier {s:?}: {e}")))
}

/// A stored department (`referrals.department`).
fn department(s: &str) -> sqlx::Result<policy::Department> {
    policy::Department::parse(s).ok_or_else(|| decode(format!("stored department {s:?}")))
}

/// A snake_case enum of `policy` or `contract` as the text column holds it.
fn to_text<T: Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// The text column back as its enum.
fn from_text<T: DeserializeOwned>(s: Option<String>) -> sqlx::Result<Option<T>> {
    s.map(|s| {
        serde_json::from_value(serde_json::Value::String(s.clone()))
            .map_err(|e| decode(format!("stored value {s:?}: {e}")))
    })
    .transpose()
}
