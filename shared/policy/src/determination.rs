//! One application, classified determination (一次申请、分类审核认定): a household's verified
//! facts in; out, every tier the household and each member fall into at once, the monthly cash
//! benefit, each member's relief lines, the rules that fired and the parameter set they used.
//!
//! Household tiers, in precedence order (the first that applies is the one paid):
//! destitute → dibao → single-person dibao (some members only) → rigid-expenditure hardship →
//! dibao-marginal → none.

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

/// Circumstances of a member that the rules look at. All default to false / full self-care.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemberFlags {
    pub severe_disability: bool,
    pub serious_illness: bool,
    pub college_student: bool,
    pub in_school: bool,
    pub registered_unemployed: bool,
    pub no_work_ability: bool,
    pub no_legal_supporter: bool,
    pub housing_hardship: bool,
    pub disaster_victim: bool,
    pub self_care: SelfCare,
    /// Supported centrally in a care institution: paid to the institution's account.
    pub in_care_institution: bool,
    /// A student's stage of education (implies `in_school`).
    pub school_stage: Option<SchoolStage>,
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Determination {
    /// The tier paid: the first of `classifications`, or `None`.
    pub tier: Tier,
    /// Every household-level tier that applies, in precedence order.
    pub classifications: Vec<Tier>,
    /// The household's total monthly cash benefit.
    pub monthly_amount: Fen,
    pub per_capita_income: Fen,
    pub per_capita_assets: Fen,
    pub standard: Fen,
    pub policy_version: String,
    /// The rules that fired, in words a caseworker can read.
    pub rule: String,
    pub members: Vec<MemberDecision>,
    /// Every working-age member able to work is registered unemployed (零就业家庭): employment
    /// help goes to this household first.
    pub zero_employment_household: bool,
}

/// Counted monthly income of one member: pension base not counted, employment costs deducted.
pub fn counted_income(m: &MemberFacts) -> Result<Fen, MoneyOverflow> {
    Ok(m.monthly_income
        .checked_sub(m.pension_base)?
        .checked_sub(m.employment_costs)?
        .clamp_non_negative())
}

#[allow(
    clippy::too_many_lines,
    reason = "every tier and relief line of one household in one pass, in the order the texts give them"
)]
/// Every amount is checked: a household whose figures overflow 64-bit fen (which bounded input
/// never gives) is [`MoneyOverflow`], never a panic or a wrapped sum.
pub fn determine(h: &HouseholdFacts, p: &ParameterSet) -> Result<Determination, MoneyOverflow> {
    let n = u32::try_from(h.members.len().max(1)).map_err(|_| MoneyOverflow)?;
    let counted: Vec<Fen> = h
        .members
        .iter()
        .map(counted_income)
        .collect::<Result<_, _>>()?;
    let total = Fen::checked_sum(counted.iter().copied())?;
    let per_capita = total.per(n);
    let standard = p.standard(h.urban);
    let marginal_line = standard.times_permille(p.marginal_multiple_permille)?;
    let per_capita_assets =
        Fen::checked_sum(h.members.iter().map(|m| m.assets.clamp_non_negative()))?.per(n);
    let asset_limit = standard.checked_mul(p.asset_limit_months)?;
    let rigid = Fen::checked_sum(
        h.members
            .iter()
            .map(|m| m.rigid_expenditure.clamp_non_negative()),
    )?;
    let per_capita_after_rigid = total.checked_sub(rigid)?.clamp_non_negative().per(n);
    let mut rules = Vec::new();

    if per_capita_assets > asset_limit {
        rules.push(format!(
            "assets: per-capita assets {per_capita_assets} above the limit {asset_limit} ({} months of standard {standard})",
            p.asset_limit_months
        ));
        return Ok(Determination {
            tier: Tier::None,
            classifications: Vec::new(),
            monthly_amount: Fen::ZERO,
            per_capita_income: per_capita,
            per_capita_assets,
            standard,
            policy_version: p.version.clone(),
            rule: rules.join("; "),
            members: h
                .members
                .iter()
                .map(|m| no_decision(&m.member_id))
                .collect(),
            zero_employment_household: zero_employment(h, p),
        });
    }

    let destitute = h.members.len() == 1
        && h.members.iter().zip(&counted).all(|(m, counted)| {
            m.flags.no_work_ability && m.flags.no_legal_supporter && *counted == Fen::ZERO
        });
    let dibao = !destitute && per_capita < standard;
    let rigid_hardship =
        !destitute && !dibao && rigid > Fen::ZERO && per_capita_after_rigid < standard;
    let marginal = !destitute && !dibao && per_capita < marginal_line;

    let mut household: Vec<Tier> = Vec::new();
    if destitute {
        household.push(Tier::Destitute);
    }
    if dibao {
        household.push(Tier::Dibao);
        rules.push(format!(
            "dibao: per-capita income {per_capita} below standard {standard}"
        ));
    }
    if rigid_hardship {
        household.push(Tier::RigidExpenditure);
        rules.push(format!(
            "rigid expenditure: per-capita income after rigid spending of {rigid} is {per_capita_after_rigid}, below standard {standard}"
        ));
    }
    if marginal {
        household.push(Tier::Marginal);
        rules.push(format!(
            "marginal: per-capita income {per_capita} at or above standard {standard} and below {}‰ of it ({marginal_line})",
            p.marginal_multiple_permille
        ));
    }

    let mut members = Vec::with_capacity(h.members.len());
    let mut addons = 0i64;
    for (m, own) in h.members.iter().zip(counted.iter().copied()) {
        let mut d = no_decision(&m.member_id);
        if destitute {
            let care = match m.flags.self_care {
                SelfCare::Full => p.care_standard.full_self_care,
                SelfCare::Partial => p.care_standard.partial_self_care,
                SelfCare::None => p.care_standard.no_self_care,
            };
            let basic = standard.times_permille(p.destitute_multiple_permille)?;
            d.individual_benefit = basic.checked_add(care)?;
            d.payee = if m.flags.in_care_institution {
                Payee::CareInstitution
            } else {
                Payee::Person
            };
            rules.push(format!(
                "destitute: no work ability, no income, no legal supporter; basic living standard {basic} ({}‰ of standard {standard}) + care standard {care}{}",
                p.destitute_multiple_permille,
                if m.flags.in_care_institution { ", paid to the care institution" } else { ", dispersed support" }
            ));
        }
        d.tiers
            .extend(household.iter().copied().filter(|t| *t != Tier::Destitute));
        if destitute {
            d.tiers.insert(0, Tier::Destitute);
        }
        let age = m.id.age_on(h.on);
        let single = !destitute
            && !dibao
            && (((rigid_hardship || marginal)
                && (m.flags.severe_disability || m.flags.serious_illness))
                || (m.flags.severe_disability
                    && m.flags.registered_unemployed
                    && age >= p.minor_age_below));
        if dibao || single {
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
            rules.push(format!(
                "single-person dibao for member {}: own counted income {own} below standard {standard}; gap {gap}",
                m.member_id
            ));
        }
        if d.tiers.iter().any(|t| t.is_low_income()) {
            d.relief_lines = relief_lines(m);
        }
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
            let gap = standard.checked_sub(per_capita)?;
            rules.push(format!("dibao benefit: gap {gap} x {n} members"));
            gap.checked_mul(i64::from(n))?
                .checked_add(p.classified_addon.checked_mul(addons)?)?
        }
        Tier::Destitute | Tier::SinglePersonDibao => {
            Fen::checked_sum(members.iter().map(|m| m.individual_benefit))?
        }
        Tier::RigidExpenditure | Tier::Marginal | Tier::None => Fen::ZERO,
    };
    if addons > 0 {
        rules.push(format!(
            "classified add-on {} x {addons}",
            p.classified_addon
        ));
    }
    if tier == Tier::None {
        rules.push(format!(
            "none: per-capita income {per_capita} at or above {marginal_line}"
        ));
    }
    Ok(Determination {
        tier,
        classifications: household,
        monthly_amount,
        per_capita_income: per_capita,
        per_capita_assets,
        standard,
        policy_version: p.version.clone(),
        rule: rules.join("; "),
        members,
        zero_employment_household: zero_employment(h, p),
    })
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
    }
}

fn addon_reason(m: &MemberFacts, on: NaiveDate, p: &ParameterSet) -> Option<String> {
    let age = m.id.age_on(on);
    let reason = if m.flags.severe_disability {
        "severe disability"
    } else if m.flags.serious_illness {
        "serious illness"
    } else if age >= p.addon_min_age {
        "aged 70 or over"
    } else if m.flags.college_student {
        "college student"
    } else if age < p.minor_age_below {
        "minor"
    } else {
        return None;
    };
    Some(reason.to_owned())
}

/// The specialist relief lines a member of a low-income household is referred to.
pub fn relief_lines(m: &MemberFacts) -> Vec<Department> {
    let f = &m.flags;
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
