//! Social supervision (社会监督): consultations, complaints and reports (咨询、投诉、举报) taken
//! by the supervision hotline, 12345, the web or in person (004: "设置和公开监督咨询电话,接受
//! 社会公众关于困难群众基本生活保障工作的咨询、投诉和举报"), investigated and answered within
//! the deadline of their category (004: "建立健全举报核查制度,及时调查核实处理投诉和举报").
//!
//! Each step is `monitor.complaint.{step}`; when the complaint concerns a household, the
//! envelope carries the household's chain and the step is one of its chain. The person who
//! filed it is never in the event (they may stay anonymous; their name and phone stay in
//! monitoring's database).

use chrono::NaiveDate;
use policy::RegionCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An enum of snake_case words, each its wire text.
macro_rules! text_enum {
    ($(#[doc = $doc:literal])* $name:ident { $($(#[doc = $vdoc:literal])* $variant:ident = $text:literal,)* }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[doc = $vdoc])* #[serde(rename = $text)] $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// Every value, comma-separated: for an error that says what is allowed.
            pub fn choices() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// What the person came with; each category has its answer deadline
    /// (`complaint_answer_days`).
    ComplaintCategory {
        /// 咨询: a question about the policy or a case; answered, not investigated.
        Consultation = "consultation",
        /// 投诉: a complaint about how a case or a person was handled.
        Complaint = "complaint",
        /// 举报: a report of fraud, undeclared income or assets, or misconduct.
        Report = "report",
    }
}

impl ComplaintCategory {
    /// Complaints and reports are investigated (举报核查) before they are answered.
    pub fn needs_investigation(self) -> bool {
        !matches!(self, ComplaintCategory::Consultation)
    }
}

text_enum! {
    /// How it came in.
    ComplaintVia {
        /// The bureau's published supervision hotline (监督咨询电话).
        SupervisionHotline = "supervision_hotline",
        /// The 12345 government service hotline.
        Hotline12345 = "hotline_12345",
        /// The bureau's website or app.
        Web = "web",
        /// At a service window, in person.
        InPerson = "in_person",
        /// An objection (异议) to an approval disclosure (审批公示) during its notice period,
        /// taken by intake's public route and passed on as `intake.disclosure.objected`; its
        /// reference is the objection's id.
        DisclosureObjection = "disclosure_objection",
    }
}

text_enum! {
    /// A step of a complaint, the last token of `monitor.complaint.{step}`.
    ComplaintStep {
        /// Taken in and routed to the township or county of its area.
        Received = "received",
        /// Investigated by a named officer, with a finding.
        Investigated = "investigated",
        /// Answered to the person who filed it.
        Answered = "answered",
        /// Not answered by its deadline: passed one level up.
        Escalated = "escalated",
    }
}

text_enum! {
    /// What an investigation found.
    Finding {
        /// 属实.
        Substantiated = "substantiated",
        /// 部分属实.
        PartlySubstantiated = "partly_substantiated",
        /// 不属实.
        Unsubstantiated = "unsubstantiated",
    }
}

/// `monitor.complaint.{step}`: a consultation, complaint or report took a step. Ids, dates and
/// outcomes only: never the filer, the summary or the findings' text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ComplaintProgress {
    pub complaint_id: Uuid,
    pub step: ComplaintStep,
    pub category: ComplaintCategory,
    pub received_via: ComplaintVia,
    /// The township (9 digits) or county (6 digits) that handles it now.
    pub region_code: RegionCode,
    /// The day by which it must be answered.
    pub answer_due: NaiveDate,
    /// `investigated`: what was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<Finding>,
    /// `answered`: answered on or before `answer_due`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_time: Option<bool>,
    /// The officer it is about (their account id), when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer_concerned: Option<String>,
}

/// A member of a household that obtained assistance by fraud.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DishonestMember {
    pub member_id: Uuid,
    /// The 18-character resident ID number, by which intake finds the person in a new
    /// application.
    pub id_number: String,
}

/// `monitor.household.dishonesty_recorded`: a dishonesty record (失信记录, 003: "全面推行申请
/// 社会救助事项守信承诺和失信记录制度") of a household whose report was confirmed as fraud.
/// Until `waiting_until` none of its members may apply again; until `expires_on` a new
/// application of theirs is flagged for a county decision (the region's `dishonesty_record`
/// parameters).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DishonestyRecorded {
    pub record_id: Uuid,
    /// The region of the household (its enrolled region code).
    pub region_code: RegionCode,
    pub members: Vec<DishonestMember>,
    /// `fraud`: assistance obtained by a false declaration.
    pub reason: String,
    /// The report that confirmed it.
    pub complaint_id: Uuid,
    /// The first month of assistance obtained by it.
    pub fraud_from_month: policy::Month,
    pub recorded_on: NaiveDate,
    pub waiting_until: NaiveDate,
    pub expires_on: NaiveDate,
    /// The parameter set whose `dishonesty_record` gave the dates.
    pub policy_version: String,
}

/// `monitor.household.dishonesty_lifted`: a county officer lifted a household's dishonesty
/// record before it expired (a fraud finding overturned on review, 复核撤销); from `lifted_on`
/// intake holds no new application of its members to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DishonestyLifted {
    pub record_id: Uuid,
    /// The report whose confirmation recorded it.
    pub complaint_id: Uuid,
    pub lifted_on: NaiveDate,
    /// Why, in the officer's words (never an ID number).
    pub reason: String,
}

/// The person who objected and did not stay anonymous: whom to answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ObjectorContact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// `intake.disclosure.objected`: someone objected (异议) to the approval disclosure (审批公示)
/// of a household during its notice period (004: "村(居)民委员会…公示监督"). Monitoring takes it
/// in as a report (举报) concerning the household, routed to its township; the objection's id is
/// the complaint's reference, so a redelivery files it once. The envelope carries the household's
/// chain. The summary holds no ID number (refused at entry); the contact is absent when the
/// person stays anonymous.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DisclosureObjected {
    pub objection_id: Uuid,
    pub application_id: Uuid,
    /// The village or community (12 digits) or township (9 digits) whose notice it objects to.
    pub region_code: RegionCode,
    /// The last day of the notice period; the objection came on or before it.
    pub notice_until: NaiveDate,
    /// The day it came in (Beijing time).
    pub objected_on: NaiveDate,
    /// What the person says, in words.
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ObjectorContact>,
}

text_enum! {
    /// A risk supervision rule (风险监督预警, 003: "建立社会救助风险监督预警机制") a service holds its
    /// own data to; each rule's thresholds are the region's `risk_rules`.
    RiskRule {
        /// Payment: one account number confirmed for beneficiaries of several households (a care
        /// institution's collective account aside).
        SharedAccount = "shared_account",
        /// Payment: repeated confirmed account changes of one household just before a payment run.
        AccountChanges = "account_changes",
        /// Intake: an application decided by a person registered as the near relative of one of
        /// its members.
        RelativeDecision = "relative_decision",
        /// Intake: a declared income far below what the sources report.
        IncomeGap = "income_gap",
    }
}

impl RiskRule {
    /// The service whose data the rule reads, the one that may publish it.
    pub fn service(self) -> &'static str {
        match self {
            RiskRule::SharedAccount | RiskRule::AccountChanges => "payment",
            RiskRule::RelativeDecision | RiskRule::IncomeGap => "intake",
        }
    }
}

/// A risk rule tripped by a change of the publishing service's data (evaluated in the
/// transaction of that change). Monitoring raises one warning per `dedupe_key` for the county.
/// `detail` holds ids, counts, amounts and dates only: never a name, an ID number or an account
/// number (an account is named by its masked form, last four digits).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RiskDetected {
    pub rule: RiskRule,
    /// The household the warning is about (for a shared account, the household whose
    /// confirmation tripped the rule; the others are in `detail`).
    pub household_id: Uuid,
    /// The household's region (its township, or the county).
    pub region_code: RegionCode,
    /// What makes two detections one warning: `risk:<rule>:<ids>`.
    pub dedupe_key: String,
    /// The parameter set whose `risk_rules` tripped.
    pub policy_version: String,
    pub detail: serde_json::Map<String, serde_json::Value>,
}

impl RiskDetected {
    /// `dedupe_key` names the rule and is of a sane length; `detail` is small.
    pub fn check(&self) -> Result<(), String> {
        let prefix = format!("risk:{}:", self.rule);
        if !self.dedupe_key.starts_with(&prefix)
            || self.dedupe_key.len() > 200
            || self.dedupe_key.len() == prefix.len()
        {
            return Err(format!("dedupe_key: {prefix}<ids>, at most 200 characters"));
        }
        if serde_json::to_string(&self.detail).map_or(usize::MAX, |t| t.len()) > 4000 {
            return Err("detail: at most 4000 characters".into());
        }
        Ok(())
    }
}

/// `payment.risk.detected`: a risk rule over payment's accounts tripped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct PaymentRiskDetected(pub RiskDetected);

/// `intake.risk.detected`: a risk rule over intake's applications and decisions tripped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct IntakeRiskDetected(pub RiskDetected);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_parse_back_and_only_consultations_skip_investigation() {
        for c in ComplaintCategory::ALL {
            assert_eq!(ComplaintCategory::parse(c.as_str()), Some(*c));
        }
        assert_eq!(
            ComplaintVia::parse("hotline_12345"),
            Some(ComplaintVia::Hotline12345)
        );
        assert_eq!(ComplaintStep::parse("escalate"), None);
        assert_eq!(
            Finding::choices(),
            "substantiated, partly_substantiated, unsubstantiated"
        );
        assert!(!ComplaintCategory::Consultation.needs_investigation());
        assert!(ComplaintCategory::Report.needs_investigation());
        let p: ComplaintProgress = serde_json::from_value(serde_json::json!({
            "complaint_id": "00000000-0000-0000-0000-000000000001",
            "step": "investigated",
            "category": "report",
            "received_via": "hotline_12345",
            "region_code": "410102001",
            "answer_due": "2026-12-16",
            "finding": "substantiated"
        }))
        .unwrap();
        assert_eq!(p.finding, Some(Finding::Substantiated));
        assert!(
            serde_json::from_value::<ComplaintProgress>(serde_json::json!({
                "complaint_id": "00000000-0000-0000-0000-000000000001",
                "step": "answered",
                "category": "report",
                "received_via": "web",
                "region_code": "410102001",
                "answer_due": "2026-12-16",
                "filer_name": "someone"
            }))
            .is_err()
        );
    }

    #[test]
    fn a_risk_detection_names_its_rule_in_its_key() {
        let mut r: RiskDetected = serde_json::from_value(serde_json::json!({
            "rule": "shared_account",
            "household_id": "00000000-0000-0000-0000-000000000001",
            "region_code": "410102001",
            "dedupe_key": "risk:shared_account:00000000-0000-0000-0000-000000000002",
            "policy_version": "zz-2024-1",
            "detail": {"households": 2, "account_masked": "****1234"}
        }))
        .unwrap();
        assert!(r.check().is_ok());
        assert_eq!(r.rule.service(), "payment");
        assert_eq!(RiskRule::IncomeGap.service(), "intake");
        r.dedupe_key = "risk:income_gap:x".into();
        assert!(r.check().is_err());
        r.dedupe_key = "risk:shared_account:".into();
        assert!(r.check().is_err());
    }
}
