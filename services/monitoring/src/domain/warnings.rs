//! Warnings (预警): their kinds, states and the four dispositions, the department of a hardship,
//! the circumstances a warning's push carries, and duplicate assistance.

use chrono::NaiveDate;
use contract::{Circumstances, Grant};
use policy::Department;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// `warnings.status` (CHECK open | verified | disposed): open → verified (on site, by a named
/// township officer) → disposed (one of the four ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum WarningStatus {
    Open,
    Verified,
    /// A case conference's decision proposed, awaiting a county approver.
    AwaitingApproval,
    Disposed,
}

impl WarningStatus {
    pub const ALL: [WarningStatus; 4] = [
        WarningStatus::Open,
        WarningStatus::Verified,
        WarningStatus::AwaitingApproval,
        WarningStatus::Disposed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WarningStatus::Open => "open",
            WarningStatus::Verified => "verified",
            WarningStatus::AwaitingApproval => "awaiting_approval",
            WarningStatus::Disposed => "disposed",
        }
    }

    pub fn parse(s: &str) -> Option<WarningStatus> {
        Self::ALL.into_iter().find(|w| w.as_str() == s)
    }
}

impl std::fmt::Display for WarningStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What raised a warning (`warnings.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// A report, or a feed naming a person in hardship who is not in the database.
    ActiveDiscovery,
    /// An assisted person died (feed `death`).
    Death,
    /// A serious illness raises the household's rigid expenditure (feed `serious_illness`).
    RigidExpenditureReview,
    /// A new severe disability (feed `severe_disability`).
    SevereDisability,
    /// A referral with no feedback past its `feedback_due` (the warning sweep).
    ReferralOverdue,
    /// A household not re-verified in time (the re-verification sweep).
    ReverificationOverdue,
    /// Hardship types, each with its department (`department_for_hardship`).
    SeriousIllness,
    StudentHardship,
    HousingHardship,
    RegisteredUnemployed,
    DisasterVictim,
    /// Risk supervision (风险监督预警): an application decided by a person in unusually short
    /// time after its submission (`risk_rules.fast_approval_hours`); for the county.
    RiskFastApproval,
    /// Risk supervision: one account number confirmed for beneficiaries of several households
    /// (`risk_rules.shared_account_households`; payment's rule); for the county.
    RiskSharedAccount,
    /// Risk supervision: repeated account changes of one household just before a payment run
    /// (`risk_rules.account_changes`, `account_change_days`; payment's rule); for the county.
    RiskAccountChanges,
    /// Risk supervision: an application decided by an officer registered as the near relative
    /// of one of its members (intake's rule); for the county.
    RiskRelativeDecision,
    /// Risk supervision: a declared income far below what the sources report
    /// (`risk_rules.income_gap_permille`, `income_gap_min_fen`; intake's rule); for the county.
    RiskIncomeGap,
}

impl WarningKind {
    pub const ALL: [WarningKind; 16] = [
        WarningKind::ActiveDiscovery,
        WarningKind::Death,
        WarningKind::RigidExpenditureReview,
        WarningKind::SevereDisability,
        WarningKind::ReferralOverdue,
        WarningKind::ReverificationOverdue,
        WarningKind::SeriousIllness,
        WarningKind::StudentHardship,
        WarningKind::HousingHardship,
        WarningKind::RegisteredUnemployed,
        WarningKind::DisasterVictim,
        WarningKind::RiskFastApproval,
        WarningKind::RiskSharedAccount,
        WarningKind::RiskAccountChanges,
        WarningKind::RiskRelativeDecision,
        WarningKind::RiskIncomeGap,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::ActiveDiscovery => "active_discovery",
            WarningKind::Death => "death",
            WarningKind::RigidExpenditureReview => "rigid_expenditure_review",
            WarningKind::SevereDisability => "severe_disability",
            WarningKind::ReferralOverdue => "referral_overdue",
            WarningKind::ReverificationOverdue => "reverification_overdue",
            WarningKind::SeriousIllness => "serious_illness",
            WarningKind::StudentHardship => "student_hardship",
            WarningKind::HousingHardship => "housing_hardship",
            WarningKind::RegisteredUnemployed => "registered_unemployed",
            WarningKind::DisasterVictim => "disaster_victim",
            WarningKind::RiskFastApproval => "risk_fast_approval",
            WarningKind::RiskSharedAccount => "risk_shared_account",
            WarningKind::RiskAccountChanges => "risk_account_changes",
            WarningKind::RiskRelativeDecision => "risk_relative_decision",
            WarningKind::RiskIncomeGap => "risk_income_gap",
        }
    }

    /// The warning a risk rule of another service raises.
    pub fn of_risk(rule: contract::RiskRule) -> WarningKind {
        match rule {
            contract::RiskRule::SharedAccount => WarningKind::RiskSharedAccount,
            contract::RiskRule::AccountChanges => WarningKind::RiskAccountChanges,
            contract::RiskRule::RelativeDecision => WarningKind::RiskRelativeDecision,
            contract::RiskRule::IncomeGap => WarningKind::RiskIncomeGap,
        }
    }

    pub fn parse(s: &str) -> Option<WarningKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The department of a hardship type, for a warning that names none: serious illness →
    /// medical, a student in hardship → education, housing hardship → housing, registered
    /// unemployed → employment, a disaster → disaster. Other kinds name no department.
    pub fn department_for_hardship(self) -> Option<Department> {
        match self {
            WarningKind::SeriousIllness => Some(Department::Medical),
            WarningKind::StudentHardship => Some(Department::Education),
            WarningKind::HousingHardship => Some(Department::Housing),
            WarningKind::RegisteredUnemployed => Some(Department::Employment),
            WarningKind::DisasterVictim => Some(Department::Disaster),
            WarningKind::ActiveDiscovery
            | WarningKind::Death
            | WarningKind::RigidExpenditureReview
            | WarningKind::SevereDisability
            | WarningKind::ReferralOverdue
            | WarningKind::ReverificationOverdue
            | WarningKind::RiskFastApproval
            | WarningKind::RiskSharedAccount
            | WarningKind::RiskAccountChanges
            | WarningKind::RiskRelativeDecision
            | WarningKind::RiskIncomeGap => None,
        }
    }
}

impl std::fmt::Display for WarningKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The four ways a verified warning is disposed of (分类处置; `warnings.disposition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// A policy not applied → apply it.
    ApplyPolicy,
    /// Not covered but likely eligible → push to the department by hardship type.
    PushToDepartment,
    /// Complex → county joint meeting, decided case by case (一事一议).
    CaseConference,
    /// Likely no longer eligible → re-verify and terminate.
    ReverifyTerminate,
}

impl Disposition {
    pub const ALL: [Disposition; 4] = [
        Disposition::ApplyPolicy,
        Disposition::PushToDepartment,
        Disposition::CaseConference,
        Disposition::ReverifyTerminate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::ApplyPolicy => "apply_policy",
            Disposition::PushToDepartment => "push_to_department",
            Disposition::CaseConference => "case_conference",
            Disposition::ReverifyTerminate => "reverify_terminate",
        }
    }

    pub fn parse(s: &str) -> Option<Disposition> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// What happened, for the push, from a warning: its detail's `circumstances` when it has them,
/// else the facts its detail names (`occurred_on`, `illness`, `house_damage`, `displaced`),
/// with the warning's kind as the source.
pub fn circumstances_of(kind: WarningKind, detail: &Value) -> Circumstances {
    if let Some(c) = detail
        .get("circumstances")
        .and_then(|c| serde_json::from_value::<Circumstances>(c.clone()).ok())
    {
        return c;
    }
    let field = |k: &str| detail.get(k).cloned().unwrap_or(Value::Null);
    Circumstances {
        source: kind.as_str().to_owned(),
        occurred_on: serde_json::from_value(field("occurred_on")).ok().flatten(),
        house_damage: serde_json::from_value(field("house_damage")).ok().flatten(),
        displaced: field("displaced").as_bool().unwrap_or(false),
        illness: field("illness").as_str().map(str::to_owned),
    }
}

/// A grant recorded on a referral (`grant_detail`), with whose it is.
#[derive(Debug, Clone)]
pub struct RecordedGrant {
    pub referral_id: Uuid,
    pub member_id: Uuid,
    pub department: Department,
    pub grant: Grant,
}

/// Two grants of the same kind to the same person for overlapping periods (重复救助).
#[derive(Debug, Clone, Serialize)]
pub struct DuplicateAssistance {
    pub member_id: Uuid,
    pub kind: String,
    /// The two referrals whose grants overlap.
    pub referral_ids: [Uuid; 2],
    /// The days both cover.
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The person's grants still running on `today` (a one-off grant, with no `to`, counts as
/// running: the department decides whether the new need is the same), for a push's
/// `prior_assistance`.
pub fn running(grants: Vec<RecordedGrant>, today: NaiveDate) -> Vec<contract::PriorAssistance> {
    grants
        .into_iter()
        .filter(|g| g.grant.to.is_none_or(|to| to >= today))
        .map(|g| contract::PriorAssistance {
            referral_id: g.referral_id,
            department: g.department,
            kind: g.grant.kind,
            amount_fen: g.grant.amount_fen,
            from: g.grant.from,
            to: g.grant.to,
            period: g.grant.period,
        })
        .collect()
}

/// Every pair of grants giving the same help for overlapping periods, by the departments' rule
/// (`policy::relief::duplicates`: a one-off grant covers `one_off_cover_months`).
pub fn overlapping(
    member_id: Uuid,
    grants: &[RecordedGrant],
    p: &policy::ParameterSet,
) -> Vec<DuplicateAssistance> {
    use policy::relief::{duplicates, last_day_covered, Help};
    fn help(g: &Grant) -> Help<'_> {
        Help {
            kind: &g.kind,
            from: g.from,
            to: g.to,
        }
    }
    let mut out = Vec::new();
    for (i, a) in grants.iter().enumerate() {
        for b in &grants[i + 1..] {
            if duplicates(help(&a.grant), help(&b.grant), p) {
                let from = a.grant.from.max(b.grant.from);
                let to = last_day_covered(a.grant.from, a.grant.to, p).min(last_day_covered(
                    b.grant.from,
                    b.grant.to,
                    p,
                ));
                out.push(DuplicateAssistance {
                    member_id,
                    kind: a.grant.kind.clone(),
                    referral_ids: [a.referral_id, b.referral_id],
                    from,
                    to,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_risk_rule_raises_a_kind_of_its_own_named_after_it() {
        let mut kinds: Vec<WarningKind> = contract::RiskRule::ALL
            .iter()
            .map(|r| {
                let k = WarningKind::of_risk(*r);
                assert_eq!(k.as_str(), format!("risk_{r}"));
                assert_eq!(WarningKind::parse(k.as_str()), Some(k));
                assert_eq!(k.department_for_hardship(), None);
                k
            })
            .collect();
        kinds.dedup();
        assert_eq!(kinds.len(), contract::RiskRule::ALL.len());
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn grant(n: u128, kind: &str, from: &str, to: Option<&str>) -> RecordedGrant {
        RecordedGrant {
            referral_id: Uuid::from_u128(n),
            member_id: Uuid::nil(),
            department: Department::Medical,
            grant: Grant {
                kind: kind.into(),
                amount_fen: 20000,
                from: d(from),
                to: to.map(d),
                period: None,
            },
        }
    }

    #[test]
    fn grants_of_the_same_kind_for_overlapping_periods_are_duplicates() {
        let grants = [
            grant(
                1,
                "medical_premium_subsidy",
                "2026-01-01",
                Some("2026-12-31"),
            ),
            // Same kind, overlapping from June: a duplicate for June to December.
            grant(
                2,
                "medical_premium_subsidy",
                "2026-06-01",
                Some("2027-05-31"),
            ),
            // Same kind, the day after the second ends: no overlap with either.
            grant(
                3,
                "medical_premium_subsidy",
                "2027-06-01",
                Some("2028-05-31"),
            ),
            // Another kind of help for the same months: not a duplicate.
            grant(
                4,
                "medical_inpatient_assistance",
                "2026-01-01",
                Some("2026-12-31"),
            ),
        ];
        let dups = overlapping(Uuid::nil(), &grants, &params());
        assert_eq!(dups.len(), 1, "{dups:?}");
        assert_eq!(
            dups[0].referral_ids,
            [Uuid::from_u128(1), Uuid::from_u128(2)]
        );
        assert_eq!(
            (dups[0].from, dups[0].to),
            (d("2026-06-01"), d("2026-12-31"))
        );
    }

    #[test]
    fn a_one_off_grant_covers_one_off_cover_months_and_kinds_of_the_same_help_are_one() {
        let p = params();
        let months = p.one_off_cover_months;
        let start = d("2026-03-05");
        let last = start
            .checked_add_months(chrono::Months::new(months))
            .unwrap()
            .pred_opt()
            .unwrap();
        let within = [
            grant(1, "disaster_emergency", "2026-03-05", None),
            grant(2, "disaster_emergency", &last.to_string(), None),
        ];
        let dups = overlapping(Uuid::nil(), &within, &p);
        assert_eq!(dups.len(), 1);
        assert_eq!((dups[0].from, dups[0].to), (last, last));
        let apart = [
            grant(1, "disaster_emergency", "2026-03-05", None),
            grant(
                2,
                "disaster_emergency",
                &last.succ_opt().unwrap().to_string(),
                None,
            ),
        ];
        assert!(overlapping(Uuid::nil(), &apart, &p).is_empty());
        // A full premium and a premium subsidy are the same help.
        let premium = [
            grant(
                1,
                "medical_premium_subsidy",
                "2026-01-01",
                Some("2026-12-31"),
            ),
            grant(2, "medical_premium_full", "2026-07-01", Some("2027-06-30")),
        ];
        assert_eq!(overlapping(Uuid::nil(), &premium, &p).len(), 1);
    }

    #[test]
    fn running_grants_are_those_not_ended_before_today_and_one_offs() {
        let grants = vec![
            grant(1, "a", "2026-01-01", Some("2026-06-30")),
            grant(2, "b", "2026-01-01", Some("2026-07-01")),
            grant(3, "c", "2026-01-01", None),
        ];
        let ids: Vec<Uuid> = running(grants, d("2026-07-01"))
            .iter()
            .map(|p| p.referral_id)
            .collect();
        assert_eq!(ids, [Uuid::from_u128(2), Uuid::from_u128(3)]);
    }

    fn params() -> policy::ParameterSet {
        policy::PolicyBook::builtin().sets()[0].clone()
    }

    #[test]
    fn a_push_carries_the_circumstances_the_warning_names() {
        let detail =
            json!({"occurred_on": "2026-07-20", "house_damage": "collapsed", "displaced": true});
        let c = circumstances_of(WarningKind::DisasterVictim, &detail);
        assert_eq!(c.source, "disaster_victim");
        assert_eq!(c.occurred_on, Some(d("2026-07-20")));
        assert_eq!(c.house_damage, Some(contract::HouseDamage::Collapsed));
        assert!(c.displaced);
        assert_eq!(
            WarningKind::DisasterVictim.department_for_hardship(),
            Some(Department::Disaster)
        );
        let detail = json!({"circumstances": {"source": "grid_worker", "illness": "leukaemia"}});
        let c = circumstances_of(WarningKind::DisasterVictim, &detail);
        assert_eq!(
            (c.source.as_str(), c.illness.as_deref()),
            ("grid_worker", Some("leukaemia"))
        );
        assert_eq!(WarningKind::ReferralOverdue.department_for_hardship(), None);
    }

    #[test]
    fn dispositions_kinds_and_states_are_their_names() {
        for d in Disposition::ALL {
            assert_eq!(Disposition::parse(d.as_str()), Some(d));
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
        assert_eq!(Disposition::parse("ignore"), None);
        for k in WarningKind::ALL {
            assert_eq!(WarningKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for s in WarningStatus::ALL {
            assert_eq!(WarningStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
