//! Parameter sets: every policy number, per region, with the date it takes effect.
//!
//! A set applies to the region code it names and everything inside it; the most specific region
//! wins, and within a region the set with the latest `effective_from` on or before the date asked
//! about. A new standard therefore applies from its date on and never to earlier months.

use crate::{Fen, RegionCode, Tier};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The parameter sets shipped with the mesh (`data/parameter-sets.toml`).
pub const BUILTIN: &str = include_str!("../data/parameter-sets.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterSet {
    /// Region code the set applies to (province, city or county level).
    pub region: String,
    pub name: String,
    /// Recorded on every decision, so a decision can be traced to the numbers it used.
    pub version: String,
    pub effective_from: NaiveDate,
    /// True where the figures are illustrative and not confirmed from a published notice.
    #[serde(default)]
    pub example_values: bool,
    /// The policy text the set implements; the set takes effect no earlier than its issue date.
    pub document: Document,
    /// Where every parameter comes from: parameter name (or `name.field`) → `"00N <article>
    /// <quote>"` citing a text of `seeds/`, or `"local: <why>"` for a choice the texts leave to
    /// the region. A set with a parameter that has neither does not load.
    pub sources: BTreeMap<String, String>,
    /// How per-capita figures are rounded, applied once, where the household's totals are
    /// divided by its members ([`Rounding`]).
    pub per_capita_rounding: Rounding,
    /// Monthly dibao standard per person.
    pub dibao_standard: Standards,
    /// Dibao-marginal: per-capita income below this multiple of the standard (‰).
    pub marginal_multiple_permille: i64,
    /// Destitute persons' basic living standard as a multiple of the dibao standard (‰).
    pub destitute_multiple_permille: i64,
    /// The least `destitute_multiple_permille` may be (001: "不低于当地最低生活保障标准的1.6倍");
    /// a set below it does not load.
    pub destitute_floor_permille: i64,
    /// Asset test: per-capita assets may not exceed this many months of the dibao standard.
    pub asset_limit_months: i64,
    /// Destitute persons' monthly care standard by self-care ability (照料护理标准).
    pub care_standard: CareStandards,
    /// Whether destitute persons get the care standard at all in this region.
    pub care_fee_enabled: bool,
    /// Whether a destitute person supported in a public institution (公办公营) also gets the
    /// care standard; Shenzhen: no, "实行免费供养,不同时享受特困人员护理费" (001).
    pub care_fee_in_public_institution: bool,
    /// Whether the region pays the classified add-on (分类施保) at all: Zhengzhou's rule (002).
    pub classified_addon_enabled: bool,
    /// Classified add-on per qualifying dibao member per month (分类施保).
    pub classified_addon: Fen,
    /// Age from which a dibao member gets the classified add-on.
    pub addon_min_age: u32,
    /// Age below which a member is a minor.
    pub minor_age_below: u32,
    /// Age up to which (exclusive) a member able to work is of working age.
    pub working_age_until: u32,
    /// Months benefits continue after income rises above the standard (渐退期).
    pub gradual_exit_months: u32,
    /// Who a gradual exit is for (001: rural dibao recipients, "对农村低保对象…").
    pub gradual_exit_scope: Vec<ExitScope>,
    /// What starts a gradual exit (001: "家庭人均收入超过当地低保标准").
    pub gradual_exit_trigger: ExitTrigger,
    /// Single-person dibao (单人保): who may be enrolled as a one-person household.
    pub single_person_dibao: SinglePersonDibao,
    /// The residents' basic pension base amount not counted as income (001).
    pub pension_exclusion: PensionExclusion,
    /// Necessary employment costs deducted from income (001: "按规定适当扣减").
    pub employment_cost_deduction: EmploymentCostDeduction,
    /// Whether emergency aid is granted first by amount (002) or by type (001).
    pub act_first_rule: ActFirstRule,
    /// Day of the month by which the monthly benefit must be paid.
    pub payment_due_day: u32,
    /// Day of the month before on which the monthly run for a month starts (payment's
    /// scheduler), so that instructions are ready well before `payment_due_day`.
    pub payment_run_day: u32,
    /// Day of the month paid for by which its monthly run must be completed; past it, or when
    /// the run failed, payment raises an alert. Before `payment_due_day`.
    pub payment_run_deadline_day: u32,
    /// Monthly instalments of the repayment plan a recovery opens with (002: "依法依规追回非法
    /// 获取的物资、救助金"), for what was obtained by fraud and for other overpayments.
    pub repayment_instalments: RepaymentInstalments,
    /// Days a department has to answer a referral before it counts as an omission.
    pub referral_feedback_days: u32,
    /// Days a township has to verify a warning on site (上门核查) before it escalates to the county.
    pub warning_verify_days: u32,
    /// Days to answer a consultation, complaint or report (咨询、投诉、举报), by category, from
    /// the day it is received; unanswered past it, it escalates one level up.
    pub complaint_answer_days: ComplaintAnswerDays,
    /// Days the approval disclosure (审批公示) of a household determined with a tier stays on
    /// its village's or community's notice board after the decision day (004: "在镇政府(街道
    /// 办事处)、村(居)民委员会固定的政务公开栏、村(居)务公开栏等场所进行…审核公示、审批公示");
    /// objections are taken until its last day, after which the household is on the long-term
    /// list (长期公示) of current recipients.
    pub disclosure_notice_days: u32,
    /// What a dishonesty record (失信记录) of a household that obtained assistance by fraud does
    /// to its members' new applications, and for how long.
    pub dishonesty_record: DishonestyRecord,
    /// The thresholds of the risk supervision rules (风险监督预警) over the mesh's own data.
    pub risk_rules: RiskRules,
    /// Emergency aid a township may grant at once, before papers (先行救助), as a multiple of
    /// the monthly dibao standard (‰).
    pub act_first_multiple_permille: i64,
    /// Days to complete the papers of an act-first emergency grant.
    pub emergency_papers_days: u32,
    /// Days past `reverification_months` before a re-verification that has not happened raises
    /// a warning.
    pub reverification_grace_days: u32,
    /// Months between economic re-verifications of an assisted household (at least every 6).
    pub reverification_months: u32,
    /// Months between home visits to an assisted household (at least yearly).
    pub home_visit_months: u32,
    /// How the city scores a district's warning handling each quarter.
    pub supervision_score: SupervisionScore,
    pub relief: ReliefParameters,
    /// Relief, no duplicate assistance: a one-off grant counts as help for this many months from its
    /// date when a department compares a new grant with the help a person already has.
    pub one_off_cover_months: u32,
    /// Relief, medical: assistance on inpatient and chronic/serious-illness outpatient bills, by tier.
    pub medical_assistance: MedicalAssistanceByTier,
    /// Relief, disaster: transitional living aid, winter-spring hardship aid and rebuilding aid.
    pub disaster_aid: DisasterAid,
    /// Groups recognised outside civil affairs' own tiers and the departments they are referred
    /// to (002 一(一): 防止返贫监测对象, 其他困难人员).
    pub recognised_groups: RecognisedGroups,
    /// Other assistance the texts name: heating, funeral, utility subsidies (002 三(五)),
    /// disability support extended to marginal households (002), price-linked temporary
    /// subsidies (001 二(二)).
    pub other_support: OtherSupport,
    /// The raw table the set was read from: `policy explain` prints values by name from it.
    #[serde(skip)]
    pub raw: toml::Table,
}

/// The policy text a parameter set implements.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// The seed's number, `000` to `004`.
    pub id: String,
    /// The document's title and number (文号) as it gives them.
    pub title: String,
    /// The date the document was issued (its signature date).
    pub issued: NaiveDate,
    /// How `issued` was read from the text (a signature date, or the bound an undated text allows).
    pub dated_by: String,
}

/// How a household's totals become per-capita figures, once, before any comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Per-capita income and assets are rounded up to the fen: a household is never paid for a
    /// fraction of a fen it does not lack, and its assets pass the limit exactly when their total
    /// is within the limit × members. A re-determination from the per-capita figure gives the
    /// same amount.
    PerCapitaUp,
    /// Totals are compared with the line × members and the benefit is standard × members less
    /// the total income: exact to the fen; the per-capita figure shown is rounded up.
    Totals,
}

/// Who a gradual exit (渐退) is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitScope {
    RuralDibao,
    UrbanDibao,
    SinglePersonDibao,
}

/// What starts a gradual exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitTrigger {
    /// Per-capita income exceeds the standard (超过).
    IncomeAboveStandard,
    /// Per-capita income reaches the standard.
    IncomeAtOrAboveStandard,
}

/// When emergency aid may be paid before the papers (先行救助).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActFirstRule {
    /// Amounts up to `act_first_multiple_permille` × the monthly standard (002).
    AmountWithinMultiple,
    /// Emergency-type aid (急难型) first; expenditure-type (支出型) by normal approval (001).
    EmergencyType,
}

/// Single-person dibao (单人保): members enrolled as one-person households, each only when their
/// own income and assets qualify as such.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SinglePersonDibao {
    /// Seriously ill or severely disabled members of low-income (marginal, rigid-expenditure)
    /// households (001: "将低收入家庭中的重病、重残等特殊困难人员,参照'单人保'按程序纳入低保").
    pub ill_or_disabled_in_low_income_household: bool,
    /// Adults severely disabled and without work, whatever their household
    /// (000: "对成年无业重度残疾人可参照'单人户'提出最低生活保障申请,符合条件的纳入保障范围").
    pub adult_severely_disabled_without_work: bool,
}

/// The residents' basic pension base amount not counted as income, for a period, up to the
/// centrally set amount, for the tiers named (001 二(八)).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PensionExclusion {
    pub enabled: bool,
    /// First and last day of the period (十四五: 2021-01-01 to 2025-12-31).
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The most not counted per person per month: the centrally set base amount.
    pub cap: Fen,
    /// The tiers whose income test leaves it out (dibao, destitute).
    pub tiers: Vec<Tier>,
}

/// Necessary employment costs deducted from a member's income, up to a cap (001 二(一)).
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmploymentCostDeduction {
    pub enabled: bool,
    /// The most deducted per member per month.
    pub cap: Fen,
}

/// Groups recognised by other departments or the county, and where their members are referred.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecognisedGroups {
    /// 防止返贫监测对象, identified by agriculture (002 一(二)2).
    pub return_to_poverty: Vec<crate::Department>,
    /// 其他困难人员, recognised by the county (002 一(二)3).
    pub other_hardship: Vec<crate::Department>,
}

/// Other assistance the texts name (其他救助帮扶), by switch.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtherSupport {
    /// 冬季取暖补贴 (002 三(五)).
    pub heating_subsidy: bool,
    /// 减免基本殡葬服务费用 (002 三(五)).
    pub funeral_fee_waiver: bool,
    /// 用电用水用气价格补贴 (002 三(五)).
    pub utility_subsidy: bool,
    /// The tiers the three above are for (002: 低保对象、特困人员、低保边缘家庭成员、刚性支出困难家庭成员).
    pub subsidy_tiers: Vec<Tier>,
    /// Disability support (困难残疾人生活补贴, 重度残疾人护理补贴 …) for severely disabled members
    /// of dibao and destitute households (004 二).
    pub disability_support: bool,
    /// The same extended to marginal households (002: "延伸至低保边缘家庭成员").
    pub disability_support_to_marginal: bool,
    /// Price-linked temporary subsidies (价格临时补贴, 001 二(二)).
    pub price_subsidy: PriceSubsidy,
}

/// Price-linked temporary subsidy: paid per person per month of a price rise at or above the
/// trigger, to the tiers named.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSubsidy {
    pub enabled: bool,
    /// The monthly rise of the consumer price index (‰, year on year) that triggers it.
    pub trigger_cpi_rise_permille: i64,
    pub monthly_per_person: Fen,
    pub tiers: Vec<Tier>,
}

/// A dishonesty record's effect (003: 失信记录制度): no new application for `waiting_months`
/// after it is recorded; until `record_months` after it, a new application needs a county
/// decision (it carries an integrity flag).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DishonestyRecord {
    pub waiting_months: u32,
    pub record_months: u32,
}

/// Monthly instalments of a repayment plan, by the reason of its recovery.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepaymentInstalments {
    /// What a confirmed fraud obtained.
    pub fraud: u32,
    /// Any other overpayment (a death, a stop, a lower amount after a month was paid).
    pub overpayment: u32,
}

impl RepaymentInstalments {
    /// The instalments of a plan opened for a recovery of `reason` (`fraud` or another).
    pub const fn for_reason(&self, fraud: bool) -> u32 {
        if fraud {
            self.fraud
        } else {
            self.overpayment
        }
    }
}

/// Risk supervision (003: "建立社会救助风险监督预警机制"): what makes each rule raise a warning
/// for the county.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskRules {
    /// An application decided by a person (a manual verification, a county decision) within
    /// this many hours of its submission was approved in unusually short time.
    pub fast_approval_hours: u32,
    /// One account number confirmed for beneficiaries of at least this many households (a care
    /// institution's collective account aside) receives for several households.
    pub shared_account_households: u32,
    /// At least this many confirmed account changes of one household's beneficiaries within
    /// `account_change_days` before a month's payment run are repeated changes.
    pub account_changes: u32,
    /// The days before a payment run in which account changes are counted.
    pub account_change_days: u32,
    /// A declared monthly income is far below what the sources report when the sources' exceed
    /// it by more than this share (per mille of the declared) …
    pub income_gap_permille: u32,
    /// … and by at least this many fen a month.
    pub income_gap_min_fen: i64,
}

impl RiskRules {
    /// What is wrong with the thresholds, if anything.
    pub fn check(&self) -> Result<(), String> {
        if self.fast_approval_hours == 0 {
            return Err("risk_rules.fast_approval_hours must be at least 1".into());
        }
        if self.shared_account_households < 2 {
            return Err("risk_rules.shared_account_households must be at least 2".into());
        }
        if self.account_changes < 2 {
            return Err("risk_rules.account_changes must be at least 2".into());
        }
        if !(1..=366).contains(&self.account_change_days) {
            return Err("risk_rules.account_change_days must be 1 to 366".into());
        }
        if self.income_gap_min_fen < 1 {
            return Err("risk_rules.income_gap_min_fen must be at least 1".into());
        }
        Ok(())
    }

    /// Whether sources reporting `sources_fen` a month show `declared_fen` as far below them:
    /// more than `income_gap_permille` of the declared above it, and `income_gap_min_fen` at
    /// least.
    pub fn income_gap(&self, declared_fen: i64, sources_fen: i64) -> bool {
        let gap = i128::from(sources_fen) - i128::from(declared_fen);
        gap >= i128::from(self.income_gap_min_fen)
            && gap * 1000 > i128::from(declared_fen.max(0)) * i128::from(self.income_gap_permille)
    }
}

/// Days to answer each category of what the public files with the supervision hotline (004:
/// "及时调查核实处理投诉和举报").
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintAnswerDays {
    pub consultation: u32,
    pub complaint: u32,
    pub report: u32,
}

/// The quarterly supervision score of a district (季度预警处置考核), out of
/// `warning_points + referral_points + complaint_points`: each part is its points times the
/// share of its items handled on time (full points when nothing fell due), less
/// `escalation_penalty_points` for each warning or complaint escalated, never below zero.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisionScore {
    /// Points for warnings verified on site by their deadline.
    pub warning_points: i64,
    /// Points for referrals answered by their feedback deadline.
    pub referral_points: i64,
    /// Points for consultations, complaints and reports answered by their deadline.
    pub complaint_points: i64,
    /// Points taken off per warning or complaint escalated.
    pub escalation_penalty_points: i64,
}

/// Monthly care standard of a destitute person, by ability to look after themselves.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CareStandards {
    pub full_self_care: Fen,
    pub partial_self_care: Fen,
    pub no_self_care: Fen,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Standards {
    pub urban: Fen,
    pub rural: Fen,
}

/// What each department grants per referral, by the tier of the household referred.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReliefParameters {
    /// Medical: yearly residents' medical insurance premium, paid in full for destitute persons.
    pub medical_premium: Fen,
    /// Medical: fixed premium subsidy for dibao and other low-income members.
    pub medical_premium_subsidy: Fen,
    /// Education: yearly living subsidy for a student of a low-income household.
    pub education_living_subsidy: Fen,
    /// Education: yearly support by stage (preschool aid, compulsory-education living subsidy,
    /// senior-secondary and vocational grants with fee waivers, college grants).
    pub education_stage_support: EducationStageSupport,
    /// Housing: monthly rent subsidy for an urban low-income household.
    pub housing_rent_subsidy: Fen,
    /// Housing: one-off dilapidated-house renovation grant for a rural household.
    pub housing_renovation_grant: Fen,
    /// Employment: monthly pay of a public-welfare post.
    pub employment_post_monthly: Fen,
    /// Employment: training subsidy for a member of a household that has someone in work.
    pub employment_training_subsidy: Fen,
    /// Disaster: one-off emergency relief per person.
    pub disaster_emergency_per_person: Fen,
}

/// Medical assistance (医疗救助) for one tier: of the out-of-pocket amount within the policy
/// scope left after basic medical insurance and critical-illness insurance, what lies above the
/// yearly deductible (起付标准) is assisted at `ratio_permille`, up to `annual_cap` per person
/// per calendar year, inpatient and outpatient together.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedicalAssistance {
    pub deductible: Fen,
    pub ratio_permille: i64,
    pub annual_cap: Fen,
}

/// Medical assistance by tier; a single-person dibao member has the dibao figures.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedicalAssistanceByTier {
    pub destitute: MedicalAssistance,
    pub dibao: MedicalAssistance,
    pub marginal: MedicalAssistance,
    pub rigid_expenditure: MedicalAssistance,
}

/// Disaster victims' aid beyond the emergency relief (自然灾害救助).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisasterAid {
    /// Transitional living aid (过渡期生活救助) per displaced person per month, for a home
    /// collapsed or severely damaged.
    pub transitional_monthly_per_person: Fen,
    /// Months of transitional living aid.
    pub transitional_months: u32,
    /// Winter-spring hardship aid (冬春临时生活困难救助) per person.
    pub winter_spring_per_person: Fen,
    /// The winter-spring season: first and last month (1–12); it may span the new year.
    pub winter_spring_from_month: u32,
    pub winter_spring_to_month: u32,
    /// Rebuilding aid (因灾倒损民房恢复重建) per household, for a collapsed or a severely
    /// damaged home.
    pub rebuild_collapsed: Fen,
    pub rebuild_severely_damaged: Fen,
    /// The same for low-income households (priority for low-income people): higher.
    pub rebuild_low_income_collapsed: Fen,
    pub rebuild_low_income_severely_damaged: Fen,
}

/// Yearly education support per student, by stage.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EducationStageSupport {
    pub preschool: Fen,
    pub primary: Fen,
    pub junior_secondary: Fen,
    pub senior_secondary: Fen,
    pub vocational: Fen,
    pub college: Fen,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the parameter file does not parse: {0}")]
    Parse(String),
    #[error("parameter set {version}: {problem}")]
    Invalid { version: String, problem: String },
    /// A set that breaks a rule of the texts, with the rule and the numbers.
    #[error("parameter set {version} breaks the rule \"{rule}\": {detail}")]
    Guard {
        version: String,
        rule: String,
        detail: String,
    },
    /// A parameter without a source or a local-choice mark.
    #[error("parameter set {version}: parameter {parameter} has no source (a text of seeds/ or \"local: …\")")]
    Unsourced { version: String, parameter: String },
    #[error("no parameter set covers region {region} on {date}")]
    NotCovered { region: String, date: NaiveDate },
}

impl PolicyError {
    /// The rule broken, for an answer to a request: a region not covered is not named (it is the
    /// value the request sent; an error body names the field and the rule, not the value).
    pub fn rule(&self) -> String {
        match self {
            PolicyError::NotCovered { .. } => {
                "no parameter set covers this region on this date".to_owned()
            }
            other @ (PolicyError::Parse(_)
            | PolicyError::Invalid { .. }
            | PolicyError::Guard { .. }
            | PolicyError::Unsourced { .. }) => other.to_string(),
        }
    }
}

/// The texts a source may cite: `seeds/000_…` to `seeds/004_…`.
pub const DOCUMENTS: [&str; 5] = ["000", "001", "002", "003", "004"];

/// `"00N <where and what the text says>"` or `"local"` / `"local: <why>"`.
fn is_source(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("local") {
        return rest.is_empty() || (rest.starts_with(':') && !rest[1..].trim().is_empty());
    }
    match (s.get(..3), s.get(3..)) {
        (Some(id), Some(rest)) => {
            DOCUMENTS.contains(&id) && rest.starts_with(' ') && !rest.trim().is_empty()
        }
        _ => false,
    }
}

#[derive(Debug, Clone, Deserialize)]
struct File {
    set: Vec<ParameterSet>,
}

/// All parameter sets known to a service.
#[derive(Debug, Clone)]
pub struct PolicyBook {
    sets: Vec<ParameterSet>,
}

impl PolicyBook {
    #[allow(
        clippy::expect_used,
        reason = "the built-in sets are compiled in and a unit test loads them"
    )]
    pub fn builtin() -> Self {
        Self::from_toml(BUILTIN).expect("the built-in parameter sets are valid")
    }

    /// Reads parameter sets and refuses any that breaks a rule: a malformed figure, a parameter
    /// without a source, a set in force before its document was issued, a destitute standard
    /// below its floor, a county standard below its city's for the same days.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let parse = |e: toml::de::Error| PolicyError::Parse(e.to_string());
        let mut file: File = toml::from_str(text).map_err(parse)?;
        let table: toml::Table = toml::from_str(text).map_err(parse)?;
        let raws = table
            .get("set")
            .and_then(toml::Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (s, raw) in file.set.iter_mut().zip(raws) {
            if let toml::Value::Table(t) = raw {
                s.raw = t;
            }
        }
        for s in &file.set {
            s.validate()?;
            s.check_sources()?;
        }
        let mut seen = std::collections::HashSet::new();
        for s in &file.set {
            if !seen.insert(s.version.clone()) {
                return Err(PolicyError::Invalid {
                    version: s.version.clone(),
                    problem: "version appears twice".into(),
                });
            }
        }
        let book = Self { sets: file.set };
        book.check_not_below_city()?;
        Ok(book)
    }

    /// The first day a set is no longer in force: the next set's of the same region, if any.
    fn in_force_until(&self, s: &ParameterSet) -> Option<NaiveDate> {
        self.sets
            .iter()
            .filter(|o| o.region == s.region && o.effective_from > s.effective_from)
            .map(|o| o.effective_from)
            .min()
    }

    /// 004: a county (district) executes a standard not lower than the one its city publishes
    /// ("执行不低于江门市政府确定公布的保障标准"): for every day both are in force, a county's set
    /// has urban and rural standards at least its city's.
    fn check_not_below_city(&self) -> Result<(), PolicyError> {
        for county in &self.sets {
            let Ok(code) = RegionCode::parse(&county.region) else {
                continue;
            };
            let city_code = format!("{}00", &code.as_str()[..4]);
            if city_code == county.region {
                continue;
            }
            let county_until = self.in_force_until(county);
            for city in self.sets.iter().filter(|c| c.region == city_code) {
                let city_until = self.in_force_until(city);
                let overlap = county_until.is_none_or(|u| city.effective_from < u)
                    && city_until.is_none_or(|u| county.effective_from < u);
                let (c, t) = (&county.dibao_standard, &city.dibao_standard);
                if overlap && (c.urban < t.urban || c.rural < t.rural) {
                    return Err(PolicyError::Guard {
                        version: county.version.clone(),
                        rule: "a county's standard is not below the city's published standard (004: 执行不低于江门市政府确定公布的保障标准)".into(),
                        detail: format!(
                            "county {} from {}: urban {} / rural {}, below city {} set {} from {}: urban {} / rural {}",
                            county.region,
                            county.effective_from,
                            c.urban,
                            c.rural,
                            city.region,
                            city.version,
                            city.effective_from,
                            t.urban,
                            t.rural
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The set in force for `region` on `date`.
    pub fn in_force(
        &self,
        region: &RegionCode,
        date: NaiveDate,
    ) -> Result<&ParameterSet, PolicyError> {
        region
            .lineage()
            .iter()
            .find_map(|code| {
                self.sets
                    .iter()
                    .filter(|s| &s.region == code && s.effective_from <= date)
                    .max_by_key(|s| s.effective_from)
            })
            .ok_or_else(|| PolicyError::NotCovered {
                region: region.to_string(),
                date,
            })
    }

    pub fn by_version(&self, version: &str) -> Option<&ParameterSet> {
        self.sets.iter().find(|s| s.version == version)
    }

    pub fn sets(&self) -> &[ParameterSet] {
        &self.sets
    }
}

impl ParameterSet {
    pub fn standard(&self, urban: bool) -> Fen {
        if urban {
            self.dibao_standard.urban
        } else {
            self.dibao_standard.rural
        }
    }

    /// The source recorded for a parameter (`name` or `name.field`): its own entry, or its
    /// table's.
    pub fn source(&self, name: &str) -> Option<&str> {
        self.sources
            .get(name)
            .or_else(|| {
                name.split_once('.')
                    .and_then(|(top, _)| self.sources.get(top))
            })
            .map(String::as_str)
    }

    /// A parameter's value as written in the file, by `name` or `name.field`.
    pub fn value(&self, name: &str) -> Option<&toml::Value> {
        let mut parts = name.split('.');
        let mut v = self.raw.get(parts.next()?)?;
        for part in parts {
            v = v.get(part)?;
        }
        Some(v)
    }

    /// Every parameter has a source: a text of `seeds/` (`000`–`004`, then where and what it
    /// says) or a local-choice mark (`local: why`); every source names a parameter.
    fn check_sources(&self) -> Result<(), PolicyError> {
        const NOT_PARAMETERS: [&str; 7] = [
            "region",
            "name",
            "version",
            "effective_from",
            "example_values",
            "document",
            "sources",
        ];
        let invalid = |problem: String| PolicyError::Invalid {
            version: self.version.clone(),
            problem,
        };
        for key in self.raw.keys() {
            if !NOT_PARAMETERS.contains(&key.as_str()) && !self.sources.contains_key(key) {
                return Err(PolicyError::Unsourced {
                    version: self.version.clone(),
                    parameter: key.clone(),
                });
            }
        }
        for (name, source) in &self.sources {
            if self.value(name).is_none() || NOT_PARAMETERS.contains(&name.as_str()) {
                return Err(invalid(format!(
                    "sources names {name}, which is not a parameter of the set"
                )));
            }
            if !is_source(source) {
                return Err(invalid(format!(
                    "the source of {name} (\"{source}\") neither cites a text (000 to 004, then the article and its words) nor is marked \"local: …\""
                )));
            }
        }
        Ok(())
    }

    /// The rules of the texts and the checks of the new parameters: the document, its date,
    /// the destitute floor, the bounded exclusions.
    fn check_guards(&self) -> Result<(), PolicyError> {
        let guard = |rule: &str, detail: String| {
            Err(PolicyError::Guard {
                version: self.version.clone(),
                rule: rule.into(),
                detail,
            })
        };
        if !DOCUMENTS.contains(&self.document.id.as_str()) {
            return Err(PolicyError::Invalid {
                version: self.version.clone(),
                problem: format!(
                    "document.id {} is not one of the texts (000 to 004)",
                    self.document.id
                ),
            });
        }
        if self.effective_from < self.document.issued {
            return guard(
                "a set takes effect no earlier than the document it implements is issued",
                format!(
                    "effective_from {} is before document {} ({}) issued {}",
                    self.effective_from,
                    self.document.id,
                    self.document.title,
                    self.document.issued
                ),
            );
        }
        if self.destitute_multiple_permille < self.destitute_floor_permille {
            return guard(
                "destitute basic standard not below the floor × the dibao standard (001: 特困人员基本生活标准按不低于当地最低生活保障标准的1.6倍确定)",
                format!(
                    "destitute_multiple_permille {}‰ is below destitute_floor_permille {}‰ (urban: {} against at least {})",
                    self.destitute_multiple_permille,
                    self.destitute_floor_permille,
                    self.dibao_standard
                        .urban
                        .times_permille(self.destitute_multiple_permille)
                        .unwrap_or(Fen::ZERO),
                    self.dibao_standard
                        .urban
                        .times_permille(self.destitute_floor_permille)
                        .unwrap_or(Fen::ZERO),
                ),
            );
        }
        let x = &self.pension_exclusion;
        if x.from > x.to || x.cap.0 < 0 {
            return Err(PolicyError::Invalid {
                version: self.version.clone(),
                problem: "pension_exclusion: from not after to, cap not negative".into(),
            });
        }
        let ps = &self.other_support.price_subsidy;
        if self.employment_cost_deduction.cap.0 < 0 || ps.monthly_per_person.0 < 0 {
            return Err(PolicyError::Invalid {
                version: self.version.clone(),
                problem: "employment_cost_deduction.cap and price_subsidy.monthly_per_person must not be negative".into(),
            });
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), PolicyError> {
        self.check_guards()?;
        let bad = |problem: &str| {
            Err(PolicyError::Invalid {
                version: self.version.clone(),
                problem: problem.into(),
            })
        };
        if RegionCode::parse(&self.region).is_err() {
            return bad("region is not a region code");
        }
        if self.dibao_standard.urban.0 <= 0 || self.dibao_standard.rural.0 <= 0 {
            return bad("dibao standards must be positive");
        }
        if self.marginal_multiple_permille < 1000 || self.destitute_multiple_permille < 1000 {
            return bad("multiples are in permille and at least 1000");
        }
        if self.asset_limit_months <= 0 {
            return bad("asset_limit_months must be positive");
        }
        let c = &self.care_standard;
        if c.full_self_care.0 < 0
            || c.partial_self_care.0 < c.full_self_care.0
            || c.no_self_care.0 < c.partial_self_care.0
        {
            return bad("care standards must be non-negative and rise as self-care falls");
        }
        if self.classified_addon.0 < 0 {
            return bad("the classified add-on must not be negative");
        }
        if self.reverification_months == 0 || self.home_visit_months == 0 {
            return bad("reverification_months and home_visit_months must be at least 1");
        }
        if self.warning_verify_days == 0 {
            return bad("warning_verify_days must be at least 1");
        }
        let d = &self.dishonesty_record;
        if d.record_months == 0 || d.waiting_months > d.record_months {
            return bad(
                "dishonesty_record: record_months at least 1 and no shorter than waiting_months",
            );
        }
        if let Err(why) = self.risk_rules.check() {
            return bad(&why);
        }
        let a = &self.complaint_answer_days;
        if a.consultation == 0 || a.complaint == 0 || a.report == 0 {
            return bad("complaint_answer_days must be at least 1 for each category");
        }
        if self.disclosure_notice_days == 0 {
            return bad("disclosure_notice_days must be at least 1");
        }
        let sc = &self.supervision_score;
        if sc.warning_points < 0
            || sc.referral_points < 0
            || sc.complaint_points < 0
            || sc.escalation_penalty_points < 0
            || sc
                .warning_points
                .saturating_add(sc.referral_points)
                .saturating_add(sc.complaint_points)
                == 0
        {
            return bad("supervision_score points must be non-negative, with some points to score");
        }
        let r = &self.repayment_instalments;
        if !(1..=120).contains(&r.fraud) || !(1..=120).contains(&r.overpayment) {
            return bad("repayment_instalments: 1 to 120 months for fraud and for overpayment");
        }
        if !(1..=28).contains(&self.payment_due_day) {
            return bad("payment_due_day must be 1 to 28");
        }
        if self.one_off_cover_months == 0 {
            return bad("one_off_cover_months must be at least 1");
        }
        let m = &self.medical_assistance;
        for t in [m.destitute, m.dibao, m.marginal, m.rigid_expenditure] {
            if t.deductible.0 < 0 || t.annual_cap.0 < 0 || !(0..=1000).contains(&t.ratio_permille) {
                return bad("medical_assistance: deductible and annual_cap not negative, ratio_permille 0 to 1000");
            }
        }
        let d = &self.disaster_aid;
        if d.transitional_months == 0
            || !(1..=12).contains(&d.winter_spring_from_month)
            || !(1..=12).contains(&d.winter_spring_to_month)
        {
            return bad(
                "disaster_aid: transitional_months at least 1, winter-spring months 1 to 12",
            );
        }
        if d.transitional_monthly_per_person
            .checked_mul(i64::from(d.transitional_months))
            .is_err()
        {
            return bad("disaster_aid: transitional aid a month × its months overflows 64-bit fen");
        }
        if d.rebuild_low_income_collapsed < d.rebuild_collapsed
            || d.rebuild_low_income_severely_damaged < d.rebuild_severely_damaged
        {
            return bad(
                "disaster_aid: low-income households get at least the general rebuilding aid",
            );
        }
        if !(1..=28).contains(&self.payment_run_day) {
            return bad("payment_run_day must be 1 to 28");
        }
        if !(1..self.payment_due_day).contains(&self.payment_run_deadline_day) {
            return bad("payment_run_deadline_day must be at least 1 and before payment_due_day");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// `data/test-set.toml` with the values the tests vary filled in.
    fn test_set(region: &str, version: &str, from: &str, urban: i64, rural: i64) -> String {
        include_str!("../data/test-set.toml")
            .replace("{region}", region)
            .replace("{version}", version)
            .replace("{effective_from}", from)
            .replace("{urban}", &urban.to_string())
            .replace("{rural}", &rural.to_string())
    }

    #[test]
    fn the_builtin_sets_load() {
        let book = PolicyBook::builtin();
        assert!(book.sets().len() >= 5);
    }

    #[test]
    fn the_most_specific_region_and_latest_effective_set_applies() {
        let text: String = [
            ("410000", "p-1", "2020-01-01", 70000, 50000),
            ("410100", "c-1", "2024-01-01", 87000, 65000),
            ("410100", "c-2", "2025-07-01", 90000, 70000),
        ]
        .iter()
        .map(|(region, version, from, urban, rural)| {
            test_set(region, version, from, *urban, *rural)
        })
        .collect::<Vec<_>>()
        .join("\n");
        let book = PolicyBook::from_toml(&text).unwrap();
        let county = RegionCode::parse("410102").unwrap();
        assert_eq!(
            book.in_force(&county, date("2025-06-30")).unwrap().version,
            "c-1"
        );
        assert_eq!(
            book.in_force(&county, date("2025-07-01")).unwrap().version,
            "c-2"
        );
        // Before the city had its own set, the province's applied.
        assert_eq!(
            book.in_force(&county, date("2023-05-01")).unwrap().version,
            "p-1"
        );
        let elsewhere = RegionCode::parse("120101").unwrap();
        assert!(matches!(
            book.in_force(&elsewhere, date("2025-01-01")),
            Err(PolicyError::NotCovered { .. })
        ));
    }

    #[test]
    fn an_invalid_set_is_refused_with_its_version() {
        let text = BUILTIN.replacen("payment_due_day = 10", "payment_due_day = 40", 1);
        assert!(matches!(
            PolicyBook::from_toml(&text),
            Err(PolicyError::Invalid { .. })
        ));
    }

    #[test]
    fn a_notice_period_of_no_days_does_not_load() {
        let text = test_set("410100", "t-1", "2024-01-01", 90000, 70000).replacen(
            "disclosure_notice_days = 7",
            "disclosure_notice_days = 0",
            1,
        );
        let Err(PolicyError::Invalid { problem, .. }) = PolicyBook::from_toml(&text) else {
            panic!("a notice period of 0 days loaded");
        };
        assert!(problem.contains("disclosure_notice_days"), "{problem}");
        let unsourced = test_set("410100", "t-1", "2024-01-01", 90000, 70000).replacen(
            "disclosure_notice_days = \"local:",
            "disclosure_notice_days_unused = \"local:",
            1,
        );
        assert!(PolicyBook::from_toml(&unsourced).is_err());
    }

    #[test]
    fn an_income_gap_is_both_a_share_and_an_amount() {
        let r = RiskRules {
            fast_approval_hours: 24,
            shared_account_households: 2,
            account_changes: 2,
            account_change_days: 30,
            income_gap_permille: 300,
            income_gap_min_fen: 20_000,
        };
        assert!(r.check().is_ok());
        // The demo household: 600 yuan declared, 705 reported: 17.5 %, not far below.
        assert!(!r.income_gap(60_000, 70_500));
        assert!(r.income_gap(60_000, 80_000));
        // 30 % exactly is not more than 30 %.
        assert!(!r.income_gap(100_000, 130_000));
        // A large share of a small amount is not enough.
        assert!(!r.income_gap(1_000, 20_000));
        assert!(r.income_gap(0, 20_000));
        assert!(!r.income_gap(50_000, 10_000));
        let lax = RiskRules {
            account_changes: 1,
            ..r
        };
        assert!(lax.check().is_err());
    }
}
