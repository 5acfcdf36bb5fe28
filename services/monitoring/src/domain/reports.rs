//! Supervision reports (数字监督): quarters, the report rows, and the district's score.
//!
//! - Monthly, per district (6-digit region code): the month's active-discovery comparison runs
//!   as they show in the warnings they raised (kind `active_discovery`, and feed comparisons,
//!   whose warnings' `dedupe_key` starts with `feed:`), and what came of the district's
//!   warnings and referrals in the month: raised, verified, disposed of by disposition,
//!   escalated; referrals pushed and answered.
//! - Quarterly, per district: warnings due for verification in the quarter, handled on time or
//!   overdue; referrals due for feedback in the quarter, answered on time, late or never; and
//!   the district's score by the `supervision_score` parameters in force for the district on
//!   the quarter's last day (README, "Warnings and supervision").
//!
//! Months and quarters are periods of the bureau's calendar (`clock.timezone`): a month begins
//! at the bureau's midnight of its first day.

use chrono::{DateTime, NaiveDate, Utc};
use policy::Month;
use serde::Serialize;
use std::collections::BTreeMap;

/// A calendar quarter, `YYYY-Qn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quarter {
    pub year: i32,
    pub q: u32,
}

impl Quarter {
    pub fn parse(s: &str) -> Option<Quarter> {
        let (y, q) = s.trim().split_once("-Q")?;
        let year: i32 = y.parse().ok()?;
        let q: u32 = q.parse().ok()?;
        (y.len() == 4 && (1..=4).contains(&q)).then_some(Quarter { year, q })
    }

    pub fn of(date: NaiveDate) -> Quarter {
        let m = Month::of(date).first_day();
        use chrono::Datelike;
        Quarter {
            year: m.year(),
            q: (m.month() - 1) / 3 + 1,
        }
    }

    #[allow(
        clippy::expect_used,
        reason = "a quarter 1-4 of a four-digit year starts on a date"
    )]
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, (self.q - 1) * 3 + 1, 1).expect("valid quarter")
    }

    #[allow(
        clippy::expect_used,
        reason = "a quarter 1-4 of a four-digit year ends on a date"
    )]
    pub fn last_day(self) -> NaiveDate {
        let next = if self.q == 4 {
            NaiveDate::from_ymd_opt(self.year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(self.year, self.q * 3 + 1, 1)
        };
        next.and_then(|d| d.pred_opt()).expect("valid quarter")
    }
}

impl std::fmt::Display for Quarter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-Q{}", self.year, self.q)
    }
}

/// One row of a CSV: its header names and values.
pub trait CsvRow {
    const HEADER: &'static [&'static str];
    fn values(&self) -> Vec<String>;
}

/// The instant the bureau's day `d` begins: a month or a quarter is one of the bureau's calendar.
pub fn midnight(d: NaiveDate, clock: &mesh::Clock) -> DateTime<Utc> {
    use chrono::TimeZone as _;
    let naive = d.and_time(chrono::NaiveTime::MIN);
    clock
        .timezone()
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| naive.and_utc())
}

// ---------------------------------------------------------------------------------------------
// Monthly.

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MonthlyRow {
    pub district: String,
    pub month: String,
    /// Warnings raised by active-discovery reports (kind `active_discovery`).
    pub active_discovery_warnings: i64,
    /// Warnings raised by departmental feed comparisons (`dedupe_key` `feed:…`).
    pub feed_warnings: i64,
    /// Every warning raised in the month, whatever raised it.
    pub warnings_raised: i64,
    pub warnings_verified: i64,
    pub disposed_apply_policy: i64,
    pub disposed_push_to_department: i64,
    pub disposed_case_conference: i64,
    pub disposed_reverify_terminate: i64,
    pub warnings_escalated: i64,
    pub referrals_pushed: i64,
    pub referrals_answered: i64,
}

impl CsvRow for MonthlyRow {
    const HEADER: &'static [&'static str] = &[
        "district",
        "month",
        "active_discovery_warnings",
        "feed_warnings",
        "warnings_raised",
        "warnings_verified",
        "disposed_apply_policy",
        "disposed_push_to_department",
        "disposed_case_conference",
        "disposed_reverify_terminate",
        "warnings_escalated",
        "referrals_pushed",
        "referrals_answered",
    ];

    fn values(&self) -> Vec<String> {
        let mut v = vec![self.district.clone(), self.month.clone()];
        v.extend(
            [
                self.active_discovery_warnings,
                self.feed_warnings,
                self.warnings_raised,
                self.warnings_verified,
                self.disposed_apply_policy,
                self.disposed_push_to_department,
                self.disposed_case_conference,
                self.disposed_reverify_terminate,
                self.warnings_escalated,
                self.referrals_pushed,
                self.referrals_answered,
            ]
            .map(|n| n.to_string()),
        );
        v
    }
}

/// A district's warnings of a month: (district, active discovery, feed, raised, verified,
/// disposed by each of the four dispositions, escalated).
pub type WarningCounts = (String, i64, i64, i64, i64, i64, i64, i64, i64, i64);

/// The month's rows from the counts; districts with nothing to report are left out unless one
/// district was asked for.
pub fn monthly_rows(
    district: Option<&str>,
    month: Month,
    warnings: Vec<WarningCounts>,
    referrals: Vec<(String, i64, i64)>,
) -> Vec<MonthlyRow> {
    let blank = |d: &str| MonthlyRow {
        district: d.to_owned(),
        month: month.to_string(),
        ..Default::default()
    };
    let mut by_district: BTreeMap<String, MonthlyRow> = BTreeMap::new();
    for (d, ad, feed, raised, verified, ap, push, conf, term, esc) in warnings {
        let r = by_district.entry(d.clone()).or_insert_with(|| blank(&d));
        r.active_discovery_warnings = ad;
        r.feed_warnings = feed;
        r.warnings_raised = raised;
        r.warnings_verified = verified;
        r.disposed_apply_policy = ap;
        r.disposed_push_to_department = push;
        r.disposed_case_conference = conf;
        r.disposed_reverify_terminate = term;
        r.warnings_escalated = esc;
    }
    for (d, pushed, answered) in referrals {
        let r = by_district.entry(d.clone()).or_insert_with(|| blank(&d));
        r.referrals_pushed = pushed;
        r.referrals_answered = answered;
    }
    let empty = |r: &MonthlyRow| CsvRow::values(r)[2..].iter().all(|v| v == "0");
    by_district
        .into_values()
        .filter(|r| !empty(r) || district.is_some())
        .collect()
}
// ---------------------------------------------------------------------------------------------
// Quarterly.

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct QuarterlyRow {
    pub district: String,
    pub quarter: String,
    /// Warnings whose on-site verification fell due in the quarter.
    pub warnings_due: i64,
    /// Verified on or before `verify_due`.
    pub warnings_on_time: i64,
    /// Verified after `verify_due`, or not verified and `verify_due` has passed.
    pub warnings_overdue: i64,
    /// Not verified, `verify_due` still ahead.
    pub warnings_pending: i64,
    /// Of the warnings due in the quarter, those escalated to the county.
    pub warnings_escalated: i64,
    /// Referrals whose feedback fell due in the quarter.
    pub referrals_due: i64,
    pub referrals_on_time: i64,
    pub referrals_late: i64,
    /// No feedback and `feedback_due` has passed.
    pub referrals_never: i64,
    pub referrals_pending: i64,
    /// Consultations, complaints and reports whose answer fell due in the quarter.
    pub complaints_due: i64,
    /// Answered on or before `answer_due`.
    pub complaints_on_time: i64,
    /// Answered after `answer_due`, or not answered and `answer_due` has passed.
    pub complaints_overdue: i64,
    /// Not answered, `answer_due` still ahead.
    pub complaints_pending: i64,
    /// Of the complaints due in the quarter, those escalated one level up.
    pub complaints_escalated: i64,
    /// The parameter set whose `supervision_score` was used.
    pub policy_version: String,
    pub warning_points: i64,
    pub referral_points: i64,
    pub complaint_points: i64,
    pub escalation_penalty_points: i64,
    /// Out of `warning_points + referral_points + complaint_points`.
    pub score: i64,
}

impl CsvRow for QuarterlyRow {
    const HEADER: &'static [&'static str] = &[
        "district",
        "quarter",
        "warnings_due",
        "warnings_on_time",
        "warnings_overdue",
        "warnings_pending",
        "warnings_escalated",
        "referrals_due",
        "referrals_on_time",
        "referrals_late",
        "referrals_never",
        "referrals_pending",
        "complaints_due",
        "complaints_on_time",
        "complaints_overdue",
        "complaints_pending",
        "complaints_escalated",
        "policy_version",
        "warning_points",
        "referral_points",
        "complaint_points",
        "escalation_penalty_points",
        "score",
    ];

    fn values(&self) -> Vec<String> {
        let n = |v: i64| v.to_string();
        vec![
            self.district.clone(),
            self.quarter.clone(),
            n(self.warnings_due),
            n(self.warnings_on_time),
            n(self.warnings_overdue),
            n(self.warnings_pending),
            n(self.warnings_escalated),
            n(self.referrals_due),
            n(self.referrals_on_time),
            n(self.referrals_late),
            n(self.referrals_never),
            n(self.referrals_pending),
            n(self.complaints_due),
            n(self.complaints_on_time),
            n(self.complaints_overdue),
            n(self.complaints_pending),
            n(self.complaints_escalated),
            self.policy_version.clone(),
            n(self.warning_points),
            n(self.referral_points),
            n(self.complaint_points),
            n(self.escalation_penalty_points),
            n(self.score),
        ]
    }
}

/// `points × part / whole`, rounded half up; the full points when nothing fell due.
fn share(points: i64, part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        points
    } else {
        (2 * points * part + whole) / (2 * whole)
    }
}

/// The score: warning points × on-time share of decided warnings + referral points × on-time
/// share of decided referrals + complaint points × on-time share of decided complaints − the
/// penalty per escalated warning or complaint, at least zero.
pub fn score(r: &QuarterlyRow, s: &policy::params::SupervisionScore) -> i64 {
    let warnings = share(
        s.warning_points,
        r.warnings_on_time,
        r.warnings_on_time + r.warnings_overdue,
    );
    let referrals = share(
        s.referral_points,
        r.referrals_on_time,
        r.referrals_on_time + r.referrals_late + r.referrals_never,
    );
    let complaints = share(
        s.complaint_points,
        r.complaints_on_time,
        r.complaints_on_time + r.complaints_overdue,
    );
    let escalated = r.warnings_escalated + r.complaints_escalated;
    (warnings + referrals + complaints - s.escalation_penalty_points * escalated).max(0)
}

/// A district's warnings or referrals falling due in a quarter: (district, due, on time,
/// overdue or late, pending / never, escalated / pending).
pub type DueCounts = (String, i64, i64, i64, i64, i64);

/// The quarter's rows from the counts, by district, before scoring; the district asked for is
/// always there.
pub fn quarterly_rows(
    district: Option<&str>,
    quarter: Quarter,
    warnings: Vec<DueCounts>,
    referrals: Vec<DueCounts>,
    complaints: Vec<DueCounts>,
) -> BTreeMap<String, QuarterlyRow> {
    let mut rows: BTreeMap<String, QuarterlyRow> = BTreeMap::new();
    let blank = |d: &str| QuarterlyRow {
        district: d.to_owned(),
        quarter: quarter.to_string(),
        ..Default::default()
    };
    if let Some(d) = district {
        rows.insert(d.to_owned(), blank(d));
    }
    for (d, due, on_time, overdue, pending, escalated) in warnings {
        let r = rows.entry(d.clone()).or_insert_with(|| blank(&d));
        r.warnings_due = due;
        r.warnings_on_time = on_time;
        r.warnings_overdue = overdue;
        r.warnings_pending = pending;
        r.warnings_escalated = escalated;
    }
    for (d, due, on_time, late, never, pending) in referrals {
        let r = rows.entry(d.clone()).or_insert_with(|| blank(&d));
        r.referrals_due = due;
        r.referrals_on_time = on_time;
        r.referrals_late = late;
        r.referrals_never = never;
        r.referrals_pending = pending;
    }
    for (d, due, on_time, overdue, pending, escalated) in complaints {
        let r = rows.entry(d.clone()).or_insert_with(|| blank(&d));
        r.complaints_due = due;
        r.complaints_on_time = on_time;
        r.complaints_overdue = overdue;
        r.complaints_pending = pending;
        r.complaints_escalated = escalated;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_parse_and_span_three_months() {
        let q = Quarter::parse("2026-Q3").unwrap();
        assert_eq!(q.first_day(), NaiveDate::from_ymd_opt(2026, 7, 1).unwrap());
        assert_eq!(q.last_day(), NaiveDate::from_ymd_opt(2026, 9, 30).unwrap());
        let q4 = Quarter::parse("2026-Q4").unwrap();
        assert_eq!(
            q4.last_day(),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
        );
        assert_eq!(Quarter::of(q4.last_day()), q4);
        assert_eq!(q.to_string(), "2026-Q3");
        for bad in ["2026-Q5", "2026-Q0", "26-Q1", "2026Q1", "2026-3"] {
            assert!(Quarter::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_score_weighs_on_time_shares_and_takes_off_escalations() {
        let s = policy::params::SupervisionScore {
            warning_points: 60,
            referral_points: 40,
            complaint_points: 0,
            escalation_penalty_points: 5,
        };
        let mut r = QuarterlyRow::default();
        assert_eq!(score(&r, &s), 100, "nothing due: full marks");
        r.warnings_on_time = 1;
        r.warnings_overdue = 2;
        r.warnings_escalated = 1;
        r.referrals_on_time = 3;
        r.referrals_late = 0;
        r.referrals_never = 1;
        // 60 × 1/3 = 20; 40 × 3/4 = 30; − 5 × 1.
        assert_eq!(score(&r, &s), 45);
        r.warnings_escalated = 20;
        assert_eq!(score(&r, &s), 0, "never below zero");
    }

    #[test]
    fn complaints_answered_on_time_score_and_escalated_ones_cost() {
        let s = policy::params::SupervisionScore {
            warning_points: 50,
            referral_points: 30,
            complaint_points: 20,
            escalation_penalty_points: 5,
        };
        let mut r = QuarterlyRow::default();
        assert_eq!(score(&r, &s), 100);
        // 2 of 3 answered on time: 20 × 2/3 = 13.3 → 13; one escalated: − 5.
        r.complaints_on_time = 2;
        r.complaints_overdue = 1;
        r.complaints_escalated = 1;
        r.complaints_pending = 4;
        assert_eq!(score(&r, &s), 50 + 30 + 13 - 5);
    }
}
