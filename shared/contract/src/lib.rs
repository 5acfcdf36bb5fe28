//! The payloads (`data` of the envelope) of every subject in the contract.
//!
//! Each type names its CloudEvents `type` through [`mesh::EventKind`]. Money is integer fen;
//! dates are ISO 8601. A department's system needs only these shapes, the envelope and
//! `docs/asyncapi.yaml`, which documents the same with examples.

use chrono::{DateTime, NaiveDate, Utc};
use policy::determination::{
    Group, MemberFlags, OtherSupportLine, Payee, SchoolStage, SelfCare, SupportArrangement,
};
use policy::{Department, Month, RegionCode, Tier};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod answers;
mod bounds;
pub use bounds::Bounded;
pub mod channels;
mod relief;
pub use relief::*;
mod redetermination;
pub use redetermination::*;
mod bank;
pub use bank::*;
mod payment;
mod supervision;
pub use answers::{ReferralRefused, RefusalCode};
pub use payment::*;
pub use supervision::*;

/// `intake.application.submitted`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApplicationSubmitted {
    pub application_id: Uuid,
    /// County-level (or lower) administrative division code.
    pub region_code: RegionCode,
    pub urban: bool,
    pub members: Vec<ApplicantMember>,
    /// The applicant's signed honesty commitment; absent only on applications submitted before
    /// the commitment was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<HonestyCommitment>,
}

/// The honesty commitment (守信承诺) the applicant signed with the application (003:
/// "全面推行申请社会救助事项守信承诺和失信记录制度"), witnessed by the township officer who
/// submitted it (the envelope's `actor`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HonestyCommitment {
    /// The version of the commitment's text that was signed.
    pub version: String,
    /// The day it was signed.
    pub signed_on: NaiveDate,
    /// The member who signed it (one of `members`).
    pub signer_member_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApplicantMember {
    pub member_id: Uuid,
    pub id_number: String,
    pub name: String,
    pub relation: String,
    pub declared_monthly_income_fen: i64,
    /// Residents' basic pension base included in the income (not counted).
    #[serde(default)]
    pub pension_base_fen: i64,
    /// Necessary employment costs (deducted).
    #[serde(default)]
    pub employment_costs_fen: i64,
    /// Unavoidable monthly spending (medical, education, disaster, accident).
    #[serde(default)]
    pub rigid_expenditure_fen: i64,
    #[serde(default)]
    pub declared_assets_fen: i64,
    #[serde(default)]
    pub flags: MemberFlags,
}

/// `verify.source.{source}.query`, the request to a data holder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceQuery {
    pub request_id: Uuid,
    pub members: Vec<QueryMember>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueryMember {
    pub member_id: Uuid,
    pub id_number: String,
}

/// The reply to a [`SourceQuery`], on the request's reply subject.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceAnswer {
    pub request_id: Uuid,
    pub source: String,
    /// `ok`, or `error` with `error` saying why; an error is a gap, never a zero.
    pub status: AnswerStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub records: Vec<SourceRecord>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AnswerStatus {
    Ok,
    Error,
}

/// What one source knows of one member. Absent figures are unknown to this source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceRecord {
    pub member_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_income_fen: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assets_fen: Option<i64>,
}

impl mesh::EventKind for SourceAnswer {
    const TYPE: &'static str = "verify.source.answer";

    fn check_bounds(&self, bounds: &policy::Bounds) -> Result<(), String> {
        Bounded::check(self, bounds)
    }
}

/// `verify.household.verified`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HouseholdVerified {
    pub application_id: Uuid,
    pub report_id: Uuid,
    /// True when every source answered; otherwise `gaps` names those that did not.
    pub complete: bool,
    pub gaps: Vec<String>,
    pub sources: Vec<SourceProvenance>,
    pub members: Vec<VerifiedMember>,
    /// On a complete report that replaces one with gaps (a source that had not answered
    /// answered later): the report it supersedes. Absent on an application's first report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes_report_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceProvenance {
    pub source: String,
    /// `answered`, `no_answer` (timed out after retries) or `error`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifiedMember {
    pub member_id: Uuid,
    /// Sum of the monthly incomes the sources reported.
    pub monthly_income_fen: i64,
    pub assets_fen: i64,
}

/// `verify.household.reverified`: the periodic re-verification of an assisted household.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HouseholdReverified {
    pub report_id: Uuid,
    /// The application whose household this is.
    pub application_id: Uuid,
    /// The re-verification was due on this date.
    pub due_on: NaiveDate,
    pub complete: bool,
    pub gaps: Vec<String>,
    pub sources: Vec<SourceProvenance>,
    pub members: Vec<VerifiedMember>,
    /// When the next one is due.
    pub next_due_on: NaiveDate,
}

/// `intake.application.manual_review`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManualReview {
    pub application_id: Uuid,
    pub reason: String,
    pub gaps: Vec<String>,
}

/// `intake.application.manually_verified`: a named officer completed the verification of an
/// application in manual verification; verification stops asking the sources for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManuallyVerified {
    pub application_id: Uuid,
    /// `officer:<name>`.
    pub verified_by: String,
}

/// `intake.application.rejected`: a county officer's decision against the rule's proposal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApplicationRejected {
    pub application_id: Uuid,
    /// `county:<officer>`.
    pub decided_by: String,
    pub reason: String,
}

/// `eligibility.household.determined`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HouseholdDetermined {
    pub application_id: Uuid,
    pub region_code: RegionCode,
    pub urban: bool,
    /// The tier paid: the first of `classifications`.
    pub tier: Tier,
    /// Every household-level tier that applies (one application, classified determination).
    #[serde(default)]
    pub classifications: Vec<Tier>,
    pub monthly_amount_fen: i64,
    pub per_capita_income_fen: i64,
    #[serde(default)]
    pub per_capita_assets_fen: i64,
    pub standard_fen: i64,
    pub policy_version: String,
    pub rule: String,
    /// First month the benefit is paid for, `YYYY-MM`.
    pub effective_month: Month,
    /// Who decided: `rule:<parameter set version>`, `officer:<name>` after a township
    /// officer's manual verification, or `county:<name>` for a county decision.
    #[serde(default)]
    pub decided_by: String,
    /// Integrity flags raised at intake, e.g. `near_relative_of_staff`.
    #[serde(default)]
    pub integrity_flags: Vec<String>,
    /// Every working-age member able to work is registered unemployed (零就业家庭).
    #[serde(default)]
    pub zero_employment_household: bool,
    pub members: Vec<DeterminedMember>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeterminedMember {
    pub member_id: Uuid,
    pub id_number: String,
    pub name: String,
    pub relation: String,
    /// Every tier this member falls into, in precedence order.
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// A benefit paid to this member alone (destitute, single-person dibao); 0 otherwise.
    #[serde(default)]
    pub individual_benefit_fen: i64,
    #[serde(default = "person")]
    pub payee: Payee,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addon_reason: Option<String>,
    pub relief_lines: Vec<Department>,
    /// A student's stage of education, for the education department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school_stage: Option<SchoolStage>,
    /// A member who cannot fully look after themselves (`partial` or `none`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_care: Option<SelfCare>,
    /// A destitute person's support arrangement, as determined; absent for everybody else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<SupportArrangement>,
    /// What the determination rested on for this member (verified income, exclusions, assets,
    /// circumstances), so that the household can be determined again when it changes; absent
    /// in determinations made before it was carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<MemberBasis>,
    /// Groups recognised outside the tiers the member belongs to (return-to-poverty monitoring
    /// object, other hardship person, 002 一(一)): a household with such a member is followed
    /// and referred even when it falls in no tier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// Other assistance the member may be given (heating, funeral, utility subsidies,
    /// disability support, 002 三(五)), for the local departments that grant it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_support: Vec<OtherSupportLine>,
}

impl DeterminedMember {
    /// Followed by monitoring: in a tier, or in a recognised group.
    pub fn is_followed(&self) -> bool {
        self.tiers.iter().any(|t| t.is_low_income()) || !self.groups.is_empty()
    }
}

fn person() -> Payee {
    Payee::Person
}

/// `eligibility.emergency.granted`: emergency temporary assistance (急难社会救助), wherever
/// the person's household is registered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmergencyGranted {
    pub emergency_id: Uuid,
    /// The person helped; paid as `beneficiary_member_id`.
    pub member_id: Uuid,
    pub id_number: String,
    pub name: String,
    /// Where the emergency happened (not necessarily where the person is registered).
    pub region_code: RegionCode,
    pub hardship: String,
    pub total_amount_fen: i64,
    /// One approval, staged assistance: each stage is paid on its date.
    pub stages: Vec<EmergencyStage>,
    /// `true` when granted by the township before papers (act first).
    pub act_first: bool,
    /// `township:<officer>` (act first) or `county:<approver>` (case conference).
    pub decided_by: String,
    pub rule: String,
    pub policy_version: String,
    /// Act first: the papers are due by this date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub papers_due: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmergencyStage {
    pub stage: u32,
    pub amount_fen: i64,
    pub pay_on: NaiveDate,
}

/// `monitor.household.enrolled`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HouseholdEnrolled {
    pub application_id: Uuid,
    pub tier: Tier,
    pub effective_month: Month,
    pub members: usize,
    pub referrals: Vec<Uuid>,
}

/// `referral.{dept}.push`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReferralPush {
    pub referral_id: Uuid,
    pub department: Department,
    pub member_id: Uuid,
    pub id_number: String,
    pub name: String,
    pub region_code: RegionCode,
    pub urban: bool,
    pub tier: Tier,
    /// Why the person is referred, in words.
    pub need: String,
    /// Feedback is expected by this date; past it the referral is an omission.
    pub feedback_due: NaiveDate,
    /// For education referrals: the student's stage of education, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school_stage: Option<SchoolStage>,
    /// Nobody of working age in the household is in work: employment help comes first.
    #[serde(default)]
    pub zero_employment_household: bool,
    /// Help the person already has, from any department, that is still running or was granted
    /// for a period overlapping this need: a department must not grant the same kind of help
    /// for the same period again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prior_assistance: Vec<PriorAssistance>,
    /// Facts behind the need, when the referral comes from a departmental feed or a report
    /// (a disaster, an illness); absent for referrals made at determination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circumstances: Option<Circumstances>,
    /// The person cannot fully look after themselves (`partial` or `none`), as determined:
    /// care needs become service orders (service-type assistance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_care: Option<SelfCare>,
    /// A destitute person's support arrangement (`dispersed`, `centralised_public`,
    /// `centralised_other`), when known: housing relief is for dispersed support only
    /// (002: "城市分散供养特困人员"). Absent in older messages and for everybody else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<SupportArrangement>,
    /// The recognised group the person is referred by (`return_to_poverty`, `other_hardship`;
    /// 002 一(一)), when they are in one: with `tier` `none`, the department decides by the
    /// group's rule. Absent for everybody else and in older messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
}

/// A grant already recorded in the person's chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PriorAssistance {
    pub referral_id: Uuid,
    pub department: Department,
    pub kind: String,
    pub amount_fen: i64,
    pub from: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
    /// What `amount_fen` counts (as the grant's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<GrantPeriod>,
}

/// What happened to the person, as the feed or report that raised the referral said it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Circumstances {
    /// The source that reported it (`serious_illness`, `disaster_victim`, `grid_worker`, …).
    pub source: String,
    /// When it happened (date of diagnosis, of the disaster, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_on: Option<NaiveDate>,
    /// Disaster victims: the state of the home.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub house_damage: Option<HouseDamage>,
    /// Disaster victims: the household had to leave its home.
    #[serde(default)]
    pub displaced: bool,
    /// Serious illness: the diagnosis group as the health system names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub illness: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HouseDamage {
    None,
    Damaged,
    SeverelyDamaged,
    Collapsed,
}

/// `referral.{dept}.feedback`: one message of the department answer protocol
/// ([`answers`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReferralFeedback {
    pub referral_id: Uuid,
    pub department: Department,
    pub member_id: Uuid,
    pub outcome: FeedbackOutcome,
    /// Why; required with `rejected`, `closed`, `corrected` and `revoked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What is given: with `granted`, `supplemented`, and `corrected` to `granted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<Grant>,
    /// Who decided: `rule:<version>`, `officer:<name>` or `system:<name>`.
    pub decided_by: String,
    /// `corrected` and `revoked`: the envelope `id` of the answer in force that this one
    /// replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// `corrected`: the final outcome that stands from now on, `granted` (with `grant`) or
    /// `rejected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_to: Option<FeedbackOutcome>,
}

impl ReferralFeedback {
    /// A feedback of `outcome` with no reason, grant or replaced answer yet.
    pub fn new(
        referral_id: Uuid,
        department: Department,
        member_id: Uuid,
        outcome: FeedbackOutcome,
        decided_by: impl Into<String>,
    ) -> Self {
        Self {
            referral_id,
            department,
            member_id,
            outcome,
            reason: None,
            grant: None,
            decided_by: decided_by.into(),
            replaces: None,
            corrected_to: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackOutcome {
    /// Received and being decided (at most once, before the final answer).
    Accepted,
    /// The final answer: nothing is granted (with a reason).
    Rejected,
    /// The final answer: `grant` is given.
    Granted,
    /// After `granted`: all help under the referral has ended (the last day covered has passed
    /// or the department stopped it); nothing more is given under it.
    Closed,
    /// Further help under a granted referral (a bill assisted, a service order, a match).
    Supplemented,
    /// Replaces the final answer in force (`replaces`) with `corrected_to` (and `grant`).
    Corrected,
    /// Withdraws the final answer in force (`replaces`): the referral waits for a final answer
    /// again.
    Revoked,
}

impl FeedbackOutcome {
    pub const ALL: [FeedbackOutcome; 7] = [
        FeedbackOutcome::Accepted,
        FeedbackOutcome::Rejected,
        FeedbackOutcome::Granted,
        FeedbackOutcome::Closed,
        FeedbackOutcome::Supplemented,
        FeedbackOutcome::Corrected,
        FeedbackOutcome::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackOutcome::Accepted => "accepted",
            FeedbackOutcome::Rejected => "rejected",
            FeedbackOutcome::Granted => "granted",
            FeedbackOutcome::Closed => "closed",
            FeedbackOutcome::Supplemented => "supplemented",
            FeedbackOutcome::Corrected => "corrected",
            FeedbackOutcome::Revoked => "revoked",
        }
    }

    /// `granted` or `rejected`: the one final answer of a referral.
    pub fn is_final(self) -> bool {
        matches!(self, FeedbackOutcome::Granted | FeedbackOutcome::Rejected)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Grant {
    /// One of the kinds the department may grant ([`answers::grant_kinds`]).
    pub kind: String,
    /// Integer fen, 0 or more (0: help in kind). `period` says what it counts.
    pub amount_fen: i64,
    /// First day covered.
    pub from: NaiveDate,
    /// Last day covered; absent for a one-off grant, or a monthly one that runs until `closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
    /// `monthly`: `amount_fen` is paid for each calendar month from `from` to `to`; `once`: it
    /// is the whole grant. Fixed per kind; when left out it is the kind's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<GrantPeriod>,
}

/// What a grant's `amount_fen` counts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum GrantPeriod {
    /// An amount for each calendar month the grant covers.
    Monthly,
    /// The amount of the whole grant, whatever its period.
    Once,
}

impl GrantPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantPeriod::Monthly => "monthly",
            GrantPeriod::Once => "once",
        }
    }
}

/// The `reason` of a [`HouseholdChanged`] stop for a confirmed fraud (a substantiated report):
/// payment opens the recovery of what the household obtained with a plan of the region's
/// `repayment_instalments.fraud`.
pub const STOP_REASON_FRAUD: &str = "fraud";

/// `monitor.household.changed`: a person's or a household's assistance stops, or winds down
/// through a gradual exit. Payment pays nothing for the person (or household) from
/// `stop_from_month` on, and opens a recovery case for anything already paid for those months.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HouseholdChanged {
    pub change_id: Uuid,
    /// The person concerned; absent when the whole household's assistance changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<Uuid>,
    pub change: AssistanceChange,
    /// `death`, `income_above_standard`, `no_longer_eligible`, `moved_away`, …
    pub reason: String,
    /// When the fact happened (date of death, of the re-verification, …).
    pub occurred_on: NaiveDate,
    /// The first month (`YYYY-MM`) with no payment. For a gradual exit, the month after the
    /// last month of the exit period.
    pub stop_from_month: Month,
    /// A gradual exit: the months still paid at the current amount before the stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_months: Option<u32>,
    /// A rule (`rule:<version>`) or a named officer.
    pub decided_by: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AssistanceChange {
    /// Assistance ends (death, termination).
    Stopped,
    /// Income rose above the standard: benefits continue for `exit_months`, then end.
    GradualExit,
}

/// `payment.instruction.created`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InstructionCreated {
    /// Stable: the same (beneficiary, month, kind) always has the same id.
    pub instruction_id: Uuid,
    pub beneficiary_member_id: Uuid,
    pub month: Month,
    pub kind: String,
    pub amount_fen: i64,
    pub due_date: NaiveDate,
    pub policy_version: String,
    /// The person, or their care institution's collective account (centralised support).
    #[serde(default = "person")]
    pub payee: Payee,
    /// What within the month and kind is paid, e.g. `<emergency id>/stage-2`; empty for the
    /// monthly benefit.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
}

mod monitoring;
pub use monitoring::*;
