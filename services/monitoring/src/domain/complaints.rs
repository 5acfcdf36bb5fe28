//! Consultations, complaints and reports (咨询、投诉、举报): their states, who handles them and
//! by when. The categories, channels, steps and findings are the contract's
//! ([`contract::ComplaintCategory`], …); the state is monitoring's.

use chrono::NaiveDate;
use contract::ComplaintCategory;
use serde::{Deserialize, Serialize};

/// `complaints.status`: `received` → `investigated` → `answered`; a consultation goes from
/// `received` to `answered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ComplaintStatus {
    Received,
    Investigated,
    Answered,
}

impl ComplaintStatus {
    pub const ALL: [ComplaintStatus; 3] = [
        ComplaintStatus::Received,
        ComplaintStatus::Investigated,
        ComplaintStatus::Answered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintStatus::Received => "received",
            ComplaintStatus::Investigated => "investigated",
            ComplaintStatus::Answered => "answered",
        }
    }

    pub fn parse(s: &str) -> Option<ComplaintStatus> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for ComplaintStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The day a complaint of `category` received on `received_on` must be answered by, under the
/// region's `complaint_answer_days`.
pub fn answer_due(
    category: ComplaintCategory,
    received_on: NaiveDate,
    days: &policy::params::ComplaintAnswerDays,
) -> NaiveDate {
    let n = match category {
        ComplaintCategory::Consultation => days.consultation,
        ComplaintCategory::Complaint => days.complaint,
        ComplaintCategory::Report => days.report,
    };
    policy::dates::deadline(received_on, n)
}

/// Where a complaint handled by `region_code` goes when it is not answered in time: a township
/// (9 digits or more) to its county, a county to its city (`4101` + `00`); a city's stays.
pub fn escalation_target(region_code: &str) -> String {
    match region_code.len() {
        n if n >= 9 => region_code[..6].to_owned(),
        6 if !region_code.ends_with("00") => format!("{}00", &region_code[..4]),
        _ => region_code.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_category_has_its_deadline_and_escalation_goes_one_level_up() {
        let days = policy::params::ComplaintAnswerDays {
            consultation: 5,
            complaint: 15,
            report: 30,
        };
        let on = NaiveDate::from_ymd_opt(2026, 11, 16).unwrap();
        assert_eq!(
            answer_due(ComplaintCategory::Report, on, &days),
            NaiveDate::from_ymd_opt(2026, 12, 16).unwrap()
        );
        assert_eq!(
            answer_due(ComplaintCategory::Consultation, on, &days),
            NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
        );
        assert_eq!(escalation_target("410102001"), "410102");
        assert_eq!(escalation_target("410102"), "410100");
        assert_eq!(escalation_target("410100"), "410100");
        assert_eq!(
            ComplaintStatus::parse("answered"),
            Some(ComplaintStatus::Answered)
        );
    }
}
