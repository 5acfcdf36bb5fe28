//! One application, classified determination (一次申请、分类审核认定): a household's verified
//! facts in; out, every tier the household and each member fall into at once, the monthly cash
//! benefit, each member's relief lines, the rules that fired and the parameter set they used.
//!
//! Household tiers, in precedence order (the first that applies is the one paid):
//! destitute → dibao → single-person dibao (some members only) → rigid-expenditure hardship →
//! dibao-marginal → none.

use crate::params::Rounding;
use crate::{Department, Fen, MoneyOverflow, ParameterSet, ResidentId};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// 特困人员
    Destitute,
    /// 最低生活保障对象
    Dibao,
    /// 单人保: a member enrolled in dibao as a one-person household.
    SinglePersonDibao,
    /// 刚性支出困难家庭成员
    RigidExpenditure,
    /// 低保边缘家庭成员
    Marginal,
    /// Not low-income on the verified facts.
    None,
}

impl Tier {
    pub fn is_low_income(self) -> bool {
        !matches!(self, Tier::None)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Destitute => "destitute",
            Tier::Dibao => "dibao",
            Tier::SinglePersonDibao => "single_person_dibao",
            Tier::RigidExpenditure => "rigid_expenditure",
            Tier::Marginal => "marginal",
            Tier::None => "none",
        }
    }
}

/// How far a person can look after themselves; sets a destitute person's care standard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelfCare {
    #[default]
    Full,
    Partial,
    None,
}

/// The stage of education a student member is at; the education department's support
/// depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchoolStage {
    Preschool,
    Primary,
    JuniorSecondary,
    SeniorSecondary,
    Vocational,
    College,
}

/// How a destitute person is supported (供养方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportArrangement {
    /// 分散供养: at home; paid to the person.
    Dispersed,
    /// 公办公营养老机构集中供养: in a public, publicly run institution; supported free, paid to
    /// the institution, without the care standard where the region's set says so (001).
    CentralisedPublic,
    /// 集中供养 in any other care institution: paid to the institution's account (002).
    CentralisedOther,
}

impl SupportArrangement {
    pub fn as_str(self) -> &'static str {
        match self {
            SupportArrangement::Dispersed => "dispersed",
            SupportArrangement::CentralisedPublic => "centralised_public",
            SupportArrangement::CentralisedOther => "centralised_other",
        }
    }
}

/// Groups of the low-income population recognised outside civil affairs' tests (002 一(一)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// 防止返贫监测对象: identified by the agriculture department, shared monthly.
    ReturnToPoverty,
    /// 其他困难人员: recognised by the county.
    OtherHardship,
}

/// Other assistance (其他救助帮扶) a member is entitled to apply for; the amounts are the local
/// departments' (002: "根据我市有关政策").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtherSupportLine {
    /// 冬季取暖补贴
    HeatingSubsidy,
    /// 减免基本殡葬服务费用
    FuneralFeeWaiver,
    /// 用电用水用气(管道天然气)价格补贴
    UtilitySubsidy,
    /// 困难残疾人生活补贴、重度残疾人护理补贴 and the like
    DisabilitySupport,
}

/// Circumstances of a member that the rules look at. All default to false / full self-care.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemberFlags {
    pub severe_disability: bool,
    pub serious_illness: bool,
    pub college_student: bool,
    pub in_school: bool,
    /// Registered as unemployed with human resources (a registered unemployed person is also
    /// without work).
    pub registered_unemployed: bool,
    /// Without work (无业), registered as unemployed or not: most severely disabled people
    /// cannot register (000: "成年无业重度残疾人").
    pub without_work: bool,
    pub no_work_ability: bool,
    pub no_legal_supporter: bool,
    pub housing_hardship: bool,
    pub disaster_victim: bool,
    pub self_care: SelfCare,
    /// Supported centrally in a care institution: paid to the institution's account. Kept for
    /// records written before `support`; `support` says which kind of institution.
    pub in_care_institution: bool,
    /// How a destitute person is supported; absent: in a care institution
    /// (`centralised_other`) when `in_care_institution`, else dispersed.
    pub support: Option<SupportArrangement>,
    /// A return-to-poverty monitoring object (防止返贫监测对象), as agriculture shares it.
    pub return_to_poverty_monitoring: bool,
    /// Recognised by the county as another hardship person (其他困难人员).
    pub other_hardship: bool,
    /// A student's stage of education (implies `in_school`).
    pub school_stage: Option<SchoolStage>,
}

impl MemberFlags {
    /// The member's support arrangement, reading the older `in_care_institution` when
    /// `support` is absent.
    pub fn support_arrangement(&self) -> SupportArrangement {
        self.support.unwrap_or(if self.in_care_institution {
            SupportArrangement::CentralisedOther
        } else {
            SupportArrangement::Dispersed
        })
    }

    /// Without work (无业): registered unemployed or stated to have no work.
    pub fn is_without_work(&self) -> bool {
        self.without_work || self.registered_unemployed
    }

    /// The groups recognised outside civil affairs' tests that the member belongs to.
    pub fn groups(&self) -> Vec<Group> {
        let mut g = Vec::new();
        if self.return_to_poverty_monitoring {
            g.push(Group::ReturnToPoverty);
        }
        if self.other_hardship {
            g.push(Group::OtherHardship);
        }
        g
    }
}

#[derive(Debug, Clone)]
pub struct MemberFacts {
    pub member_id: String,
    pub id: ResidentId,
    /// Verified monthly income, before the exclusions below.
    pub monthly_income: Fen,
    /// Residents' basic pension base amount included in the income; not counted.
    pub pension_base: Fen,
    /// Necessary employment costs; deducted.
    pub employment_costs: Fen,
    /// Verified assets (deposits, securities, vehicles, property beyond the home).
    pub assets: Fen,
    /// Unavoidable monthly spending: medical, education, disaster, accident.
    pub rigid_expenditure: Fen,
    pub flags: MemberFlags,
}

#[derive(Debug, Clone)]
pub struct HouseholdFacts {
    pub urban: bool,
    /// The date the determination is made for; selects the parameter set and members' ages.
    pub on: NaiveDate,
    pub members: Vec<MemberFacts>,
}

/// Who receives a person's benefit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payee {
    Person,
    /// Centralised destitute support: the care institution's collective account.
    CareInstitution,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberDecision {
    pub member_id: String,
    /// Every tier the member falls into, in precedence order; empty when none.
    pub tiers: Vec<Tier>,
    /// A benefit paid to this member alone (destitute, single-person dibao); zero otherwise.
    pub individual_benefit: Fen,
    pub payee: Payee,
    /// Why the member gets the classified add-on, if they do.
    pub addon_reason: Option<String>,
    pub relief_lines: Vec<Department>,
    /// A destitute person's support arrangement; absent for everybody else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<SupportArrangement>,
    /// Groups recognised outside the tiers (return-to-poverty monitoring, other hardship).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// Other assistance the member may be given (heating, funeral, utility, disability).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_support: Vec<OtherSupportLine>,
}

/// One rule that fired: what it found, and the parameters it read (by name, as in
/// `parameter-sets.toml`; their values and sources are in the set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fired {
    /// A short stable name: `dibao`, `single_person_dibao`, `destitute`, …
    pub rule: String,
    pub text: String,
    pub parameters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Determination {
    /// The tier paid: the first of `classifications`, or `None`.
    pub tier: Tier,
    /// Every household-level tier that applies, in precedence order.
    pub classifications: Vec<Tier>,
    /// The household's total monthly cash benefit.
    pub monthly_amount: Fen,
    /// Per-capita counted income as the dibao test counts it, rounded by the set's rule.
    pub per_capita_income: Fen,
    pub per_capita_assets: Fen,
    pub standard: Fen,
    pub policy_version: String,
    /// The rules that fired, in words a caseworker can read (the texts of `fired`).
    pub rule: String,
    /// The rules that fired, each with the parameters it used.
    #[serde(default)]
    pub fired: Vec<Fired>,
    pub members: Vec<MemberDecision>,
    /// Every working-age member able to work is registered unemployed (零就业家庭): employment
    /// help goes to this household first.
    pub zero_employment_household: bool,
}

/// What a member's income counts for: the pension exclusion is bounded to the tiers the set
/// names (001: "不计入低保家庭、特困人员收入").
pub fn counted_income(
    m: &MemberFacts,
    tier: Tier,
    on: NaiveDate,
    p: &ParameterSet,
) -> Result<Fen, MoneyOverflow> {
    Ok(m.monthly_income
        .checked_sub(pension_not_counted(m, tier, on, p))?
        .checked_sub(employment_costs_deducted(m, p))?
        .clamp_non_negative())
}

/// The part of the pension base not counted: within the set's period, up to its cap, for the
/// tiers it names (a single-person dibao member is tested as dibao).
pub fn pension_not_counted(m: &MemberFacts, tier: Tier, on: NaiveDate, p: &ParameterSet) -> Fen {
    let x = &p.pension_exclusion;
    let tested_as = if tier == Tier::SinglePersonDibao {
        Tier::Dibao
    } else {
        tier
    };
    if x.enabled && x.from <= on && on <= x.to && x.tiers.contains(&tested_as) {
        m.pension_base.clamp_non_negative().min(x.cap)
    } else {
        Fen::ZERO
    }
}

/// Necessary employment costs deducted, up to the set's cap (001: "按规定适当扣减").
pub fn employment_costs_deducted(m: &MemberFacts, p: &ParameterSet) -> Fen {
    let d = &p.employment_cost_deduction;
    if d.enabled {
        m.employment_costs.clamp_non_negative().min(d.cap)
    } else {
        Fen::ZERO
    }
}

/// A household's totals measured against per-person lines by the set's rounding rule, the one
/// place per-capita figures are made.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    pub rounding: Rounding,
    pub members: u32,
}

impl Measure {
    pub fn new(p: &ParameterSet, members: usize) -> Result<Self, MoneyOverflow> {
        Ok(Self {
            rounding: p.per_capita_rounding,
            members: u32::try_from(members.max(1)).map_err(|_| MoneyOverflow)?,
        })
    }

    /// The per-capita figure shown (and, rounding per capita, tested): rounded up.
    pub fn per_capita(self, total: Fen) -> Fen {
        total.per_up(self.members)
    }

    /// The household's total, or per-capita figure, is below a per-person line.
    pub fn below(self, total: Fen, line: Fen) -> Result<bool, MoneyOverflow> {
        Ok(match self.rounding {
            Rounding::PerCapitaUp => self.per_capita(total) < line,
            Rounding::Totals => total < line.checked_mul(i64::from(self.members))?,
        })
    }

    /// The household's total exceeds a per-person line.
    pub fn above(self, total: Fen, line: Fen) -> Result<bool, MoneyOverflow> {
        Ok(match self.rounding {
            Rounding::PerCapitaUp => self.per_capita(total) > line,
            Rounding::Totals => total > line.checked_mul(i64::from(self.members))?,
        })
    }

    /// Within a per-person limit (assets): at most the limit.
    pub fn within(self, total: Fen, limit: Fen) -> Result<bool, MoneyOverflow> {
        self.above(total, limit).map(|a| !a)
    }

    /// The household's gap to the standard (补差), for all its members.
    pub fn gap(self, total: Fen, standard: Fen) -> Result<Fen, MoneyOverflow> {
        let n = i64::from(self.members);
        Ok(match self.rounding {
            Rounding::PerCapitaUp => standard
                .checked_sub(self.per_capita(total))?
                .checked_mul(n)?,
            Rounding::Totals => standard.checked_mul(n)?.checked_sub(total)?,
        }
        .clamp_non_negative())
    }
}

struct Trace(Vec<Fired>);

impl Trace {
    fn fire(&mut self, rule: &str, parameters: &[&str], text: String) {
        self.0.push(Fired {
            rule: rule.to_owned(),
            text,
            parameters: parameters.iter().map(|s| (*s).to_owned()).collect(),
        });
    }
}

fn standard_name(urban: bool) -> &'static str {
    if urban {
        "dibao_standard.urban"
    } else {
        "dibao_standard.rural"
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "every tier and relief line of one household in one pass, in the order the texts give them"
)]
/// Every amount is checked: a household whose figures overflow 64-bit fen (which bounded input
/// never gives) is [`MoneyOverflow`], never a panic or a wrapped sum.
pub fn determine(h: &HouseholdFacts, p: &ParameterSet) -> Result<Determination, MoneyOverflow> {
    let measure = Measure::new(p, h.members.len())?;
    let n = measure.members;
    let counted = |tier| -> Result<Vec<Fen>, MoneyOverflow> {
        h.members
            .iter()
            .map(|m| counted_income(m, tier, h.on, p))
            .collect()
    };
    // Income as each test counts it: the pension exclusion may hold for some tiers only.
    let for_dibao = counted(Tier::Dibao)?;
    let for_destitute = counted(Tier::Destitute)?;
    let for_others = counted(Tier::Marginal)?;
    let for_rigid = counted(Tier::RigidExpenditure)?;
    let total = Fen::checked_sum(for_dibao.iter().copied())?;
    let total_others = Fen::checked_sum(for_others.iter().copied())?;
    let total_rigid = Fen::checked_sum(for_rigid.iter().copied())?;
    let per_capita = measure.per_capita(total);
    let standard = p.standard(h.urban);
    let std_name = standard_name(h.urban);
    let marginal_line = standard.times_permille(p.marginal_multiple_permille)?;
    let assets_total = Fen::checked_sum(h.members.iter().map(|m| m.assets.clamp_non_negative()))?;
    let per_capita_assets = measure.per_capita(assets_total);
    let asset_limit = standard.checked_mul(p.asset_limit_months)?;
    let rigid = Fen::checked_sum(
        h.members
            .iter()
            .map(|m| m.rigid_expenditure.clamp_non_negative()),
    )?;
    let after_rigid = total_rigid.checked_sub(rigid)?.clamp_non_negative();
    let mut trace = Trace(Vec::new());
    let excluded = Fen::checked_sum(
        h.members
            .iter()
            .map(|m| pension_not_counted(m, Tier::Dibao, h.on, p)),
    )?;
    if excluded > Fen::ZERO {
        trace.fire(
            "pension_exclusion",
            &["pension_exclusion"],
            format!(
                "income: {excluded} of residents' basic pension base amount not counted for the dibao and destitute tests (up to {} a person, {} to {})",
                p.pension_exclusion.cap, p.pension_exclusion.from, p.pension_exclusion.to
            ),
        );
    }
    let deducted = Fen::checked_sum(h.members.iter().map(|m| employment_costs_deducted(m, p)))?;
    if deducted > Fen::ZERO {
        trace.fire(
            "employment_cost_deduction",
            &["employment_cost_deduction"],
            format!(
                "income: {deducted} of necessary employment costs deducted (up to {} a person)",
                p.employment_cost_deduction.cap
            ),
        );
    }

    if !measure.within(assets_total, asset_limit)? {
        trace.fire(
            "assets",
            &["asset_limit_months", std_name, "per_capita_rounding"],
            format!(
                "assets: per-capita assets {per_capita_assets} above the limit {asset_limit} ({} months of standard {standard})",
                p.asset_limit_months
            ),
        );
        let mut members: Vec<MemberDecision> = h
            .members
            .iter()
            .map(|m| no_decision(&m.member_id))
            .collect();
        for (d, m) in members.iter_mut().zip(&h.members) {
            group_lines(d, m, p, &mut trace);
        }
        return Ok(finish(
            h,
            p,
            Tier::None,
            Vec::new(),
            Fen::ZERO,
            per_capita,
            per_capita_assets,
            standard,
            trace,
            members,
        ));
    }

    let destitute = h.members.len() == 1
        && h.members.iter().zip(&for_destitute).all(|(m, counted)| {
            m.flags.no_work_ability && m.flags.no_legal_supporter && *counted == Fen::ZERO
        });
    let dibao = !destitute && measure.below(total, standard)?;
    let rigid_hardship =
        !destitute && !dibao && rigid > Fen::ZERO && measure.below(after_rigid, standard)?;
    let marginal = !destitute && !dibao && measure.below(total_others, marginal_line)?;

    let mut household: Vec<Tier> = Vec::new();
    if destitute {
        household.push(Tier::Destitute);
    }
    if dibao {
        household.push(Tier::Dibao);
        trace.fire(
            "dibao",
            &[std_name, "per_capita_rounding"],
            format!("dibao: per-capita income {per_capita} below standard {standard}"),
        );
    }
    if rigid_hardship {
        household.push(Tier::RigidExpenditure);
        trace.fire(
            "rigid_expenditure",
            &[std_name, "per_capita_rounding"],
            format!(
                "rigid expenditure: per-capita income after rigid spending of {rigid} is {}, below standard {standard}",
                measure.per_capita(after_rigid)
            ),
        );
    }
    if marginal {
        household.push(Tier::Marginal);
        trace.fire(
            "marginal",
            &[std_name, "marginal_multiple_permille", "per_capita_rounding"],
            format!(
                "marginal: per-capita income {} at or above standard {standard} and below {}‰ of it ({marginal_line})",
                measure.per_capita(total_others),
                p.marginal_multiple_permille
            ),
        );
    }

    let sp = p.single_person_dibao;
    let one = Measure::new(p, 1)?;
    let mut members = Vec::with_capacity(h.members.len());
    let mut addons = 0i64;
    for (m, own) in h.members.iter().zip(for_dibao.iter().copied()) {
        let mut d = no_decision(&m.member_id);
        if destitute {
            let support = m.flags.support_arrangement();
            let care_by_ability = match m.flags.self_care {
                SelfCare::Full => p.care_standard.full_self_care,
                SelfCare::Partial => p.care_standard.partial_self_care,
                SelfCare::None => p.care_standard.no_self_care,
            };
            let care_paid = p.care_fee_enabled
                && (support != SupportArrangement::CentralisedPublic
                    || p.care_fee_in_public_institution);
            let care = if care_paid {
                care_by_ability
            } else {
                Fen::ZERO
            };
            let basic = standard.times_permille(p.destitute_multiple_permille)?;
            d.individual_benefit = basic.checked_add(care)?;
            d.support = Some(support);
            d.payee = if support == SupportArrangement::Dispersed {
                Payee::Person
            } else {
                Payee::CareInstitution
            };
            let how = match support {
                SupportArrangement::Dispersed => "dispersed support, paid to the person",
                SupportArrangement::CentralisedPublic => {
                    "supported free in a public institution, paid to the institution"
                }
                SupportArrangement::CentralisedOther => "paid to the care institution",
            };
            let care_text = if care_paid {
                format!("care standard {care}")
            } else if !p.care_fee_enabled {
                "no care standard in this region".to_owned()
            } else {
                "no care standard besides free support in a public institution".to_owned()
            };
            trace.fire(
                "destitute",
                &[
                    std_name,
                    "destitute_multiple_permille",
                    "care_standard",
                    "care_fee_enabled",
                    "care_fee_in_public_institution",
                ],
                format!(
                    "destitute: no work ability, no income, no legal supporter; basic living standard {basic} ({}‰ of standard {standard}) + {care_text}; {how}",
                    p.destitute_multiple_permille
                ),
            );
        }
        d.tiers
            .extend(household.iter().copied().filter(|t| *t != Tier::Destitute));
        if destitute {
            d.tiers.insert(0, Tier::Destitute);
        }
        let age = m.id.age_on(h.on);
        let ill_or_disabled = m.flags.severe_disability || m.flags.serious_illness;
        let by_low_income = sp.ill_or_disabled_in_low_income_household
            && (rigid_hardship || marginal)
            && ill_or_disabled;
        let by_disability = sp.adult_severely_disabled_without_work
            && m.flags.severe_disability
            && m.flags.is_without_work()
            && age >= p.minor_age_below;
        let candidate = !destitute && !dibao && (by_low_income || by_disability);
        // Enrolled only when they qualify as a one-person household: their own income below
        // the standard and their own assets within the limit (000: "符合条件的纳入保障范围").
        let own_assets_ok = one.within(m.assets.clamp_non_negative(), asset_limit)?;
        let own_below = one.below(own, standard)?;
        let single = candidate && own_below && own_assets_ok;
        let sp_param = if by_low_income {
            "single_person_dibao.ill_or_disabled_in_low_income_household"
        } else {
            "single_person_dibao.adult_severely_disabled_without_work"
        };
        if candidate && !single {
            trace.fire(
                "single_person_dibao",
                &[sp_param, std_name, "asset_limit_months"],
                format!(
                    "single-person dibao considered for member {}: own counted income {own}{} — not enrolled",
                    m.member_id,
                    if own_below {
                        format!(", own assets above the limit {asset_limit}")
                    } else {
                        format!(" not below standard {standard}")
                    }
                ),
            );
        }
        if (dibao || single) && p.classified_addon_enabled {
            d.addon_reason = addon_reason(m, h.on, p);
            if d.addon_reason.is_some() {
                addons += 1;
            }
        }
        if single {
            let gap = standard.checked_sub(own)?.clamp_non_negative();
            let addon = if d.addon_reason.is_some() {
                p.classified_addon
            } else {
                Fen::ZERO
            };
            d.individual_benefit = gap.checked_add(addon)?;
            d.tiers.insert(0, Tier::SinglePersonDibao);
            trace.fire(
                "single_person_dibao",
                &[sp_param, std_name, "asset_limit_months"],
                format!(
                    "single-person dibao for member {}: {}; own counted income {own} below standard {standard}; gap {gap}",
                    m.member_id,
                    if by_low_income {
                        "seriously ill or severely disabled member of a low-income household"
                    } else {
                        "adult severely disabled person without work"
                    }
                ),
            );
        }
        if d.tiers.iter().any(|t| t.is_low_income()) {
            d.relief_lines = relief_lines(m, d.support);
            other_support(&mut d, m, p, &mut trace);
        }
        group_lines(&mut d, m, p, &mut trace);
        members.push(d);
    }

    if members
        .iter()
        .any(|m| m.tiers.contains(&Tier::SinglePersonDibao))
    {
        let at = household
            .iter()
            .position(|t| *t > Tier::SinglePersonDibao)
            .unwrap_or(household.len());
        household.insert(at, Tier::SinglePersonDibao);
    }
    let tier = household.first().copied().unwrap_or(Tier::None);
    let monthly_amount = match tier {
        Tier::Dibao => {
            let gap = measure.gap(total, standard)?;
            trace.fire(
                "dibao_benefit",
                &[std_name, "per_capita_rounding"],
                format!("dibao benefit: gap to standard {standard} for {n} members, {gap}"),
            );
            gap.checked_add(p.classified_addon.checked_mul(addons)?)?
        }
        Tier::Destitute | Tier::SinglePersonDibao => {
            Fen::checked_sum(members.iter().map(|m| m.individual_benefit))?
        }
        Tier::RigidExpenditure | Tier::Marginal | Tier::None => Fen::ZERO,
    };
    if addons > 0 {
        trace.fire(
            "classified_addon",
            &[
                "classified_addon_enabled",
                "classified_addon",
                "addon_min_age",
                "minor_age_below",
            ],
            format!("classified add-on {} x {addons}", p.classified_addon),
        );
    }
    if tier == Tier::None {
        trace.fire(
            "none",
            &[std_name, "marginal_multiple_permille"],
            format!(
                "none: per-capita income {} at or above {marginal_line}",
                measure.per_capita(total_others)
            ),
        );
    }
    Ok(finish(
        h,
        p,
        tier,
        household,
        monthly_amount,
        per_capita,
        per_capita_assets,
        standard,
        trace,
        members,
    ))
}

#[allow(clippy::too_many_arguments, reason = "the parts of one determination")]
fn finish(
    h: &HouseholdFacts,
    p: &ParameterSet,
    tier: Tier,
    classifications: Vec<Tier>,
    monthly_amount: Fen,
    per_capita_income: Fen,
    per_capita_assets: Fen,
    standard: Fen,
    trace: Trace,
    members: Vec<MemberDecision>,
) -> Determination {
    Determination {
        tier,
        classifications,
        monthly_amount,
        per_capita_income,
        per_capita_assets,
        standard,
        policy_version: p.version.clone(),
        rule: trace
            .0
            .iter()
            .map(|f| f.text.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        fired: trace.0,
        members,
        zero_employment_household: zero_employment(h, p),
    }
}

/// Whether the household has working-age members able to work and none of them in work.
pub fn zero_employment(h: &HouseholdFacts, p: &ParameterSet) -> bool {
    let able: Vec<&MemberFacts> = h
        .members
        .iter()
        .filter(|m| {
            let age = m.id.age_on(h.on);
            age >= p.minor_age_below && age < p.working_age_until && !m.flags.no_work_ability
        })
        .collect();
    !able.is_empty() && able.iter().all(|m| m.flags.registered_unemployed)
}

fn no_decision(member_id: &str) -> MemberDecision {
    MemberDecision {
        member_id: member_id.to_owned(),
        tiers: Vec::new(),
        individual_benefit: Fen::ZERO,
        payee: Payee::Person,
        addon_reason: None,
        relief_lines: Vec::new(),
        support: None,
        groups: Vec::new(),
        other_support: Vec::new(),
    }
}

fn addon_reason(m: &MemberFacts, on: NaiveDate, p: &ParameterSet) -> Option<String> {
    let age = m.id.age_on(on);
    let reason = if m.flags.severe_disability {
        "severe disability".to_owned()
    } else if m.flags.serious_illness {
        "serious illness".to_owned()
    } else if age >= p.addon_min_age {
        format!("aged {} or over", p.addon_min_age)
    } else if m.flags.college_student {
        "college student".to_owned()
    } else if age < p.minor_age_below {
        "minor".to_owned()
    } else {
        return None;
    };
    Some(reason)
}

/// The departments a member's circumstances call for, whatever their tier.
fn needs(f: &MemberFlags) -> Vec<Department> {
    let mut out = Vec::new();
    if f.serious_illness {
        out.push(Department::Medical);
    }
    if f.in_school || f.college_student || f.school_stage.is_some() {
        out.push(Department::Education);
    }
    if f.housing_hardship {
        out.push(Department::Housing);
    }
    if f.registered_unemployed && !f.no_work_ability {
        out.push(Department::Employment);
    }
    if f.disaster_victim {
        out.push(Department::Disaster);
    }
    out
}

/// The specialist relief lines a member of a low-income household is referred to. A destitute
/// person (`support` given) is referred for housing only in dispersed support
/// (002: "城市分散供养特困人员").
pub fn relief_lines(m: &MemberFacts, support: Option<SupportArrangement>) -> Vec<Department> {
    let mut out = needs(&m.flags);
    if support.is_some_and(|s| s != SupportArrangement::Dispersed) {
        out.retain(|d| *d != Department::Housing);
    }
    out
}

/// Members of a recognised group are referred to the departments their group's rule names, as
/// their circumstances call for (002 一(一), 三: "对防止返贫监测对象,同时按照现行防止返贫动态监测和
/// 帮扶机制给予针对性帮扶措施").
fn group_lines(d: &mut MemberDecision, m: &MemberFacts, p: &ParameterSet, trace: &mut Trace) {
    d.groups = m.flags.groups();
    for g in d.groups.clone() {
        let (allowed, name, what) = match g {
            Group::ReturnToPoverty => (
                &p.recognised_groups.return_to_poverty,
                "recognised_groups.return_to_poverty",
                "return-to-poverty monitoring object",
            ),
            Group::OtherHardship => (
                &p.recognised_groups.other_hardship,
                "recognised_groups.other_hardship",
                "other hardship person",
            ),
        };
        let mut added = Vec::new();
        for dept in needs(&m.flags) {
            if allowed.contains(&dept) && !d.relief_lines.contains(&dept) {
                d.relief_lines.push(dept);
                added.push(dept.as_str());
            }
        }
        d.relief_lines.sort();
        trace.fire(
            "recognised_group",
            &[name],
            format!(
                "member {}: {what}{}",
                m.member_id,
                if added.is_empty() {
                    String::new()
                } else {
                    format!(", referred to {}", added.join(", "))
                }
            ),
        );
    }
}

/// Heating, funeral and utility subsidies for the tiers the set names, and disability support
/// for severely disabled members of dibao and destitute households (and marginal ones where the
/// set extends it).
fn other_support(d: &mut MemberDecision, m: &MemberFacts, p: &ParameterSet, trace: &mut Trace) {
    let o = &p.other_support;
    let in_tiers = d.tiers.iter().any(|t| o.subsidy_tiers.contains(t));
    let mut lines = Vec::new();
    if in_tiers && o.heating_subsidy {
        lines.push(OtherSupportLine::HeatingSubsidy);
    }
    if in_tiers && o.funeral_fee_waiver {
        lines.push(OtherSupportLine::FuneralFeeWaiver);
    }
    if in_tiers && o.utility_subsidy {
        lines.push(OtherSupportLine::UtilitySubsidy);
    }
    let basic = d
        .tiers
        .iter()
        .any(|t| matches!(t, Tier::Dibao | Tier::SinglePersonDibao | Tier::Destitute));
    let marginal = d.tiers.contains(&Tier::Marginal);
    if m.flags.severe_disability
        && ((o.disability_support && basic) || (o.disability_support_to_marginal && marginal))
    {
        lines.push(OtherSupportLine::DisabilitySupport);
    }
    if !lines.is_empty() {
        trace.fire(
            "other_support",
            &["other_support"],
            format!(
                "member {}: other assistance: {}",
                m.member_id,
                lines
                    .iter()
                    .map(|l| l.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    d.other_support = lines;
}

impl OtherSupportLine {
    pub fn as_str(self) -> &'static str {
        match self {
            OtherSupportLine::HeatingSubsidy => "heating_subsidy",
            OtherSupportLine::FuneralFeeWaiver => "funeral_fee_waiver",
            OtherSupportLine::UtilitySubsidy => "utility_subsidy",
            OtherSupportLine::DisabilitySupport => "disability_support",
        }
    }
}

/// The price-linked temporary subsidy (价格临时补贴) for a household of `members` in `tier`,
/// for a month whose consumer prices rose by `cpi_rise_permille` year on year: paid when the set
/// enables it and the rise reaches its trigger (001: "确保及时足额向困难群众发放价格临时补贴").
pub fn price_subsidy(
    p: &ParameterSet,
    tier: Tier,
    members: u32,
    cpi_rise_permille: i64,
) -> Result<Fen, MoneyOverflow> {
    let s = &p.other_support.price_subsidy;
    if s.enabled && s.tiers.contains(&tier) && cpi_rise_permille >= s.trigger_cpi_rise_permille {
        s.monthly_per_person.checked_mul(i64::from(members))
    } else {
        Ok(Fen::ZERO)
    }
}
