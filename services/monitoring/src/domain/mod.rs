//! Monitoring's pure types and rules: no SQL, no HTTP, no NATS. The states and kinds the
//! tables hold are enums here, mapped to the strings of the migrations' columns and CHECK
//! constraints (and serialised as the same strings on HTTP and NATS).

pub mod answers;
pub mod complaints;
pub mod discovery;
pub mod feeds;
pub mod file;
pub mod referrals;
pub mod reports;
pub mod rules;
pub mod warnings;

use serde::{Deserialize, Serialize};

/// A household's or a person's status in the population database (`households.status`,
/// `persons.status`): `active` → `exiting` (gradual exit, paid until `stop_from_month`) →
/// `stopped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Exiting,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Exiting => "exiting",
            Status::Stopped => "stopped",
        }
    }

    /// Still paid (active, or exiting gradually).
    pub fn assisted(self) -> bool {
        match self {
            Status::Active | Status::Exiting => true,
            Status::Stopped => false,
        }
    }
}

/// Where a referral stands (`referrals.status`), under the department answer protocol
/// ([`answers`]): pushed → accepted → granted | rejected; granted → closed; revoked when the
/// final answer was withdrawn (a final answer is expected again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    Pushed,
    Accepted,
    Granted,
    Rejected,
    Closed,
    Revoked,
}

impl ReferralStatus {
    /// The status a final outcome (`granted`, `rejected`) puts the referral in.
    pub fn after(outcome: contract::FeedbackOutcome) -> Option<ReferralStatus> {
        use contract::FeedbackOutcome as O;
        match outcome {
            O::Granted => Some(ReferralStatus::Granted),
            O::Rejected => Some(ReferralStatus::Rejected),
            O::Accepted | O::Closed | O::Supplemented | O::Corrected | O::Revoked => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReferralStatus::Pushed => "pushed",
            ReferralStatus::Accepted => "accepted",
            ReferralStatus::Granted => "granted",
            ReferralStatus::Rejected => "rejected",
            ReferralStatus::Closed => "closed",
            ReferralStatus::Revoked => "revoked",
        }
    }
}

/// How a feed record or a discovery report arrived (`feed_records.via`: subject | csv;
/// `discovery_reports.via`: http | subject).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Subject,
    Csv,
    Http,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Subject => "subject",
            Via::Csv => "csv",
            Via::Http => "http",
        }
    }
}

pub use warnings::{Disposition, WarningKind, WarningStatus};

/// The township that must verify: the first 9 digits of a township or village code; a
/// county-level code is its own (the county assigns the township).
pub fn township_of(region_code: &str) -> String {
    region_code.get(..9).unwrap_or(region_code).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn townships_are_the_first_nine_digits() {
        assert_eq!(township_of("410102001001"), "410102001");
        assert_eq!(township_of("410102001"), "410102001");
        assert_eq!(township_of("410102"), "410102");
    }

    #[test]
    fn names_are_the_strings_of_the_tables_and_the_wire() {
        for s in [Status::Active, Status::Exiting, Status::Stopped] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for r in [
            ReferralStatus::Pushed,
            ReferralStatus::Accepted,
            ReferralStatus::Granted,
            ReferralStatus::Rejected,
            ReferralStatus::Closed,
            ReferralStatus::Revoked,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for o in contract::FeedbackOutcome::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
            if let Some(s) = ReferralStatus::after(o) {
                assert_eq!(s.as_str(), o.as_str());
            }
        }
        for v in [Via::Subject, Via::Csv, Via::Http] {
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
    }
}
