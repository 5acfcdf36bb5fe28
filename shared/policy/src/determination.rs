//! One application, classified determination (一次申请、分类审核认定): a household's verified
//! facts in, its tier, monthly amount and each member's relief lines out, with the rule that
//! fired and the parameter set it used.

use crate::{Department, Fen, ParameterSet, ResidentId};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// 特困人员
    Destitute,
    /// 最低生活保障对象
    Dibao,
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
            Tier::Marginal => "marginal",
            Tier::None => "none",
        }
    }
}

/// Circumstances of a member that the rules look at. All default to false.
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
    pub flags: MemberFlags,
}

#[derive(Debug, Clone)]
pub struct HouseholdFacts {
    pub urban: bool,
    /// The date the determination is made for; selects the parameter set and members' ages.
    pub on: NaiveDate,
    pub members: Vec<MemberFacts>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberDecision {
    pub member_id: String,
    /// Why the member gets the classified add-on, if they do.
    pub addon_reason: Option<String>,
    pub relief_lines: Vec<Department>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Determination {
    pub tier: Tier,
    pub monthly_amount: Fen,
    pub per_capita_income: Fen,
    pub standard: Fen,
    pub policy_version: String,
    /// The rule that fired, in words a caseworker can read.
    pub rule: String,
    pub members: Vec<MemberDecision>,
}

/// Counted monthly income of one member: pension base not counted, employment costs deducted.
pub fn counted_income(m: &MemberFacts) -> Fen {
    (m.monthly_income - m.pension_base - m.employment_costs).clamp_non_negative()
}

pub fn determine(h: &HouseholdFacts, p: &ParameterSet) -> Determination {
    let n = h.members.len().max(1) as u32;
    let total: Fen = h.members.iter().map(counted_income).sum();
    let per_capita = total.per(n);
    let standard = p.standard(h.urban);
    let marginal_line = standard.times_permille(p.marginal_multiple_permille);

    let destitute = h.members.len() == 1
        && h.members.iter().all(|m| {
            m.flags.no_work_ability && m.flags.no_legal_supporter && counted_income(m) == Fen::ZERO
        });

    let (tier, base, rule) = if destitute {
        let amount = standard.times_permille(p.destitute_multiple_permille);
        (
            Tier::Destitute,
            amount,
            format!(
                "destitute: no work ability, no income, no legal supporter; basic living standard {amount} = {}‰ of dibao standard {standard}",
                p.destitute_multiple_permille
            ),
        )
    } else if per_capita < standard {
        let gap = standard - per_capita;
        (
            Tier::Dibao,
            gap * i64::from(n),
            format!(
                "dibao: per-capita income {per_capita} below standard {standard}; gap {gap} x {n} members"
            ),
        )
    } else if per_capita < marginal_line {
        (
            Tier::Marginal,
            Fen::ZERO,
            format!(
                "marginal: per-capita income {per_capita} at or above standard {standard} and below {}‰ of it ({marginal_line})",
                p.marginal_multiple_permille
            ),
        )
    } else {
        (
            Tier::None,
            Fen::ZERO,
            format!("none: per-capita income {per_capita} at or above {marginal_line}"),
        )
    };

    let members: Vec<MemberDecision> = h
        .members
        .iter()
        .map(|m| MemberDecision {
            member_id: m.member_id.clone(),
            addon_reason: (tier == Tier::Dibao)
                .then(|| addon_reason(m, h.on, p))
                .flatten(),
            relief_lines: if tier.is_low_income() {
                relief_lines(m)
            } else {
                Vec::new()
            },
        })
        .collect();
    let addons = members.iter().filter(|m| m.addon_reason.is_some()).count() as i64;
    let monthly_amount = base + p.classified_addon * addons;
    let rule = if addons > 0 {
        format!(
            "{rule}; classified add-on {} x {addons}",
            p.classified_addon
        )
    } else {
        rule
    };
    Determination {
        tier,
        monthly_amount,
        per_capita_income: per_capita,
        standard,
        policy_version: p.version.clone(),
        rule,
        members,
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
    if f.in_school || f.college_student {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PolicyBook, RegionCode};

    fn params() -> ParameterSet {
        let book = PolicyBook::builtin();
        let region = RegionCode::parse("410102").unwrap();
        book.in_force(&region, "2025-01-01".parse().unwrap())
            .unwrap()
            .clone()
    }

    fn member(body: &str, income: i64, flags: MemberFlags) -> MemberFacts {
        MemberFacts {
            member_id: body.to_owned(),
            id: ResidentId::from_body(body).unwrap(),
            monthly_income: Fen(income),
            pension_base: Fen::ZERO,
            employment_costs: Fen::ZERO,
            flags,
        }
    }

    fn household(members: Vec<MemberFacts>) -> HouseholdFacts {
        HouseholdFacts {
            urban: true,
            on: "2025-01-01".parse().unwrap(),
            members,
        }
    }

    #[test]
    fn dibao_pays_the_gap_times_members_plus_addons() {
        let p = params();
        let std = p.dibao_standard.urban;
        // Two adults aged 40-ish, per-capita income 300 yuan below the standard.
        let h = household(vec![
            member(
                "41010219850101001",
                (std - Fen::yuan(300)).0 * 2,
                MemberFlags::default(),
            ),
            member(
                "41010219850101002",
                0,
                MemberFlags {
                    serious_illness: true,
                    ..Default::default()
                },
            ),
        ]);
        let d = determine(&h, &p);
        assert_eq!(d.tier, Tier::Dibao);
        assert_eq!(d.per_capita_income, std - Fen::yuan(300));
        assert_eq!(d.monthly_amount, Fen::yuan(300) * 2 + p.classified_addon);
        assert_eq!(d.members[1].relief_lines, vec![Department::Medical]);
        assert_eq!(
            d.members[1].addon_reason.as_deref(),
            Some("serious illness")
        );
        assert_eq!(d.policy_version, p.version);
    }

    #[test]
    fn pension_base_is_not_counted_and_employment_costs_are_deducted() {
        let p = params();
        let std = p.dibao_standard.urban;
        let mut m = member("41010219850101001", std.0 + 20_000, MemberFlags::default());
        m.pension_base = Fen(15_000);
        m.employment_costs = Fen(10_000);
        let d = determine(&household(vec![m]), &p);
        assert_eq!(d.per_capita_income, std - Fen(5_000));
        assert_eq!(d.tier, Tier::Dibao);
    }

    #[test]
    fn income_between_the_standard_and_the_multiple_is_marginal() {
        let p = params();
        let std = p.dibao_standard.urban;
        let d = determine(
            &household(vec![member(
                "41010219850101001",
                std.0,
                MemberFlags::default(),
            )]),
            &p,
        );
        assert_eq!(d.tier, Tier::Marginal);
        assert_eq!(d.monthly_amount, Fen::ZERO);
        let line = std.times_permille(p.marginal_multiple_permille);
        let d = determine(
            &household(vec![member(
                "41010219850101001",
                line.0,
                MemberFlags::default(),
            )]),
            &p,
        );
        assert_eq!(d.tier, Tier::None);
        assert!(d.members[0].relief_lines.is_empty());
    }

    #[test]
    fn a_lone_person_without_work_ability_income_or_supporter_is_destitute() {
        let p = params();
        let flags = MemberFlags {
            no_work_ability: true,
            no_legal_supporter: true,
            ..Default::default()
        };
        let d = determine(&household(vec![member("41010219500101001", 0, flags)]), &p);
        assert_eq!(d.tier, Tier::Destitute);
        assert_eq!(
            d.monthly_amount,
            p.dibao_standard
                .urban
                .times_permille(p.destitute_multiple_permille)
        );
    }

    #[test]
    fn more_income_never_raises_the_benefit() {
        let p = params();
        let mut last = i64::MAX;
        for income in (0..300_000).step_by(7_919) {
            let d = determine(
                &household(vec![member(
                    "41010219850101001",
                    income,
                    MemberFlags::default(),
                )]),
                &p,
            );
            assert!(d.monthly_amount.0 >= 0);
            assert!(d.monthly_amount.0 <= last, "income {income}");
            last = d.monthly_amount.0;
        }
    }
}
