//! The rules of the entitlements register (pure): what payment keeps of each household it may
//! pay, and what a household is owed for any month.
//!
//! From `eligibility.household.determined` payment keeps the facts the monthly amount depends on
//! ([`Facts`]): urban or rural, the tier paid, the per-capita counted income, and per member the
//! relation, birth date (ages change month by month: the 70+ and minor add-ons), tiers, the
//! circumstance behind a classified add-on, self-care ability and care institution (destitute
//! persons) and own counted income (single-person dibao). No names, ID numbers or accounts.
//!
//! A month's amounts are never re-implemented here: [`monthly`] rebuilds the household as
//! [`policy::HouseholdFacts`] for the first day of the month and asks [`policy::determine`] with
//! the parameter set in force for that month, so a new standard, add-on or care standard changes
//! the months from its effective date on and no earlier one. Each member's income is the
//! household's per-capita counted income (the determination's per-capita income is all the rule
//! uses for a dibao household); a destitute person has none; a single-person dibao member is
//! determined alone next to a member who brings the household exactly to the standard, which is
//! the rule's own situation for a single-person enrolment (not dibao, below the marginal line).
//!
//! From `monitor.household.changed` payment keeps [`Stops`]: nothing is paid for a person, or a
//! household, from its `stop_from_month` on (for a gradual exit, the month after the last exit
//! month; the exit months themselves are paid as before). A member who stopped is left out of
//! the household: a dibao household is paid for the members still in it, to the head or, when
//! the head is gone, to the first member still in it.

use chrono::{Datelike, NaiveDate};
use contract::HouseholdDetermined;
use policy::determination::{MemberFlags, Payee, SelfCare, SupportArrangement};
use policy::{Fen, HouseholdFacts, MemberFacts, Month, ParameterSet, PolicyBook, ResidentId, Tier};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

use crate::domain::InstructionKind;

/// Namespace of instruction ids: v5 of "beneficiary/month/kind[/reference]".
const INSTRUCTION_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b1e_51b4_4c71_9a0e_3d5e_8a1f_0c42);

/// The stable id of what is paid to `beneficiary` for `month`, `kind` and `reference`: the
/// determination, every run of the month and every rerun derive the same one.
pub fn instruction_id(
    beneficiary: Uuid,
    month: &str,
    kind: InstructionKind,
    reference: &str,
) -> Uuid {
    let name = if reference.is_empty() {
        format!("{beneficiary}/{month}/{kind}")
    } else {
        format!("{beneficiary}/{month}/{kind}/{reference}")
    };
    Uuid::new_v5(&INSTRUCTION_NAMESPACE, name.as_bytes())
}

/// What a household's monthly benefit depends on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Facts {
    pub urban: bool,
    pub tier: Tier,
    pub per_capita_income_fen: i64,
    pub members: Vec<Member>,
    /// The household determined again (`eligibility.household.redetermined`): the facts from
    /// each `from_month` on, in month order. The facts above hold for the months before the
    /// first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redeterminations: Vec<FactsFrom>,
}

/// A household's facts from `from_month` on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FactsFrom {
    pub from_month: Month,
    pub facts: Facts,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Member {
    pub member_id: Uuid,
    pub relation: String,
    pub birth_date: NaiveDate,
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// The circumstances behind a classified add-on other than age.
    #[serde(default)]
    pub severe_disability: bool,
    #[serde(default)]
    pub serious_illness: bool,
    #[serde(default)]
    pub college_student: bool,
    /// Destitute persons: sets the care standard.
    #[serde(default)]
    pub self_care: SelfCare,
    /// Destitute persons supported centrally: paid to the care institution.
    #[serde(default)]
    pub in_care_institution: bool,
    /// A destitute person's support arrangement as determined (a public institution pays no
    /// care fee where the set says so); absent in facts kept before it was carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<SupportArrangement>,
    /// Single-person dibao: the member's own counted monthly income.
    #[serde(default)]
    pub own_income_fen: i64,
}

impl Facts {
    /// The facts that hold for `month`: the last re-determination from that month or before,
    /// or the determination's.
    pub fn in_month(&self, month: Month) -> &Facts {
        self.redeterminations
            .iter()
            .rev()
            .find(|r| r.from_month <= month)
            .map_or(self, |r| &r.facts)
    }

    /// Adds the facts of a re-determination from `from_month` on; one from the same month
    /// replaces the one kept (it was determined from the latest facts).
    pub fn redetermined(&mut self, from_month: Month, mut facts: Facts) {
        facts.redeterminations.clear();
        self.redeterminations.retain(|r| r.from_month != from_month);
        self.redeterminations.push(FactsFrom { from_month, facts });
        self.redeterminations.sort_by_key(|r| r.from_month);
    }

    /// The facts of a determination. `book` gives the parameter set the determination used
    /// (by its version), from which a destitute person's self-care ability and a single-person
    /// member's own income are read back out of their benefit.
    pub fn of(det: &HouseholdDetermined, book: &PolicyBook) -> Result<Facts, String> {
        let month = det.effective_month;
        let region = det.region_code.clone();
        let used = match book.by_version(&det.policy_version) {
            Some(p) => p,
            None => book
                .in_force(&region, month.first_day())
                .map_err(|e| e.to_string())?,
        };
        let standard = Fen(det.standard_fen);
        let mut members = Vec::with_capacity(det.members.len());
        for m in &det.members {
            let birth_date = ResidentId::parse(&m.id_number)
                .map_err(|e| format!("member {}: {e}", m.member_id))?
                .birth_date();
            let reason = m.addon_reason.as_deref().unwrap_or_default();
            let mut member = Member {
                member_id: m.member_id,
                relation: m.relation.clone(),
                birth_date,
                tiers: m.tiers.clone(),
                severe_disability: reason == "severe disability",
                serious_illness: reason == "serious illness",
                college_student: reason == "college student",
                self_care: SelfCare::Full,
                in_care_institution: m.payee == Payee::CareInstitution,
                support: m.support,
                own_income_fen: 0,
            };
            if m.tiers.contains(&Tier::Destitute) && m.support.is_some() {
                // Carried with the arrangement: the self-care ability as determined.
                member.self_care = m.self_care.unwrap_or(SelfCare::Full);
            } else if m.tiers.contains(&Tier::Destitute) {
                // Older determinations: read back out of the benefit (basic standard + care).
                let basic = standard
                    .times_permille(used.destitute_multiple_permille)
                    .map_err(|e| e.to_string())?;
                let care = Fen(m.individual_benefit_fen)
                    .checked_sub(basic)
                    .map_err(|e| e.to_string())?;
                let c = &used.care_standard;
                member.self_care = [
                    (SelfCare::Full, c.full_self_care),
                    (SelfCare::Partial, c.partial_self_care),
                    (SelfCare::None, c.no_self_care),
                ]
                .into_iter()
                .find(|(_, fen)| *fen == care)
                .map(|(s, _)| s)
                .ok_or_else(|| {
                    format!(
                        "member {}: a destitute benefit of {} is no basic standard {basic} plus a care standard of {}",
                        m.member_id, m.individual_benefit_fen, used.version
                    )
                })?;
            }
            if m.tiers.contains(&Tier::SinglePersonDibao) {
                let addon = if m.addon_reason.is_some() {
                    used.classified_addon
                } else {
                    Fen::ZERO
                };
                let gap = Fen(m.individual_benefit_fen)
                    .checked_sub(addon)
                    .and_then(|gap| standard.checked_sub(gap))
                    .map_err(|e| e.to_string())?;
                member.own_income_fen = gap.clamp_non_negative().0;
            }
            members.push(member);
        }
        Ok(Facts {
            urban: det.urban,
            tier: det.tier,
            per_capita_income_fen: det.per_capita_income_fen,
            members,
            redeterminations: Vec::new(),
        })
    }
}

/// Where assistance stops: per household and per person, the first month not paid.
#[derive(Debug, Clone, Default)]
pub struct Stops {
    pub household: Option<Month>,
    pub members: HashMap<Uuid, Month>,
}

impl Stops {
    /// Adds a stop; the earliest month wins.
    pub fn add(&mut self, member_id: Option<Uuid>, from: Month) {
        let slot = match member_id {
            Some(id) => self.members.entry(id).or_insert(from),
            None => self.household.get_or_insert(from),
        };
        if from < *slot {
            *slot = from;
        }
    }

    pub fn household_stopped(&self, month: Month) -> bool {
        self.household.is_some_and(|m| m <= month)
    }

    /// Nothing is paid to or for `member` in `month`.
    pub fn stopped(&self, member: Uuid, month: Month) -> bool {
        self.household_stopped(month) || self.members.get(&member).is_some_and(|m| *m <= month)
    }
}

/// One payment owed for a month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub beneficiary: Uuid,
    pub kind: InstructionKind,
    pub amount: Fen,
    pub payee: Payee,
    pub reference: String,
    pub policy_version: String,
}

impl Payment {
    pub fn instruction_id(&self, month: Month) -> Uuid {
        instruction_id(
            self.beneficiary,
            &month.to_string(),
            self.kind,
            &self.reference,
        )
    }
}

/// A stage of an emergency grant, paid on its date.
#[derive(Debug, Clone)]
pub struct Stage {
    pub emergency_id: Uuid,
    pub stage: i32,
    pub member_id: Uuid,
    pub amount_fen: i64,
    pub pay_on: NaiveDate,
    pub policy_version: String,
}

impl Stage {
    pub fn reference(&self) -> String {
        format!("{}/stage-{}", self.emergency_id, self.stage)
    }
}

/// The monthly benefits owed for `month`: `p` is the set in force for the household's region on
/// the month's first day. Empty before the effective month, after a household stop, and for a
/// tier without a cash benefit.
pub fn monthly(
    facts: &Facts,
    region_code: &str,
    effective: Month,
    month: Month,
    stops: &Stops,
    p: &ParameterSet,
) -> Result<Vec<Payment>, String> {
    if month < effective || stops.household_stopped(month) {
        return Ok(Vec::new());
    }
    let facts = facts.in_month(month);
    let on = month.first_day();
    let active: Vec<&Member> = facts
        .members
        .iter()
        .filter(|m| !stops.stopped(m.member_id, month))
        .collect();
    let mut out = Vec::new();
    match facts.tier {
        Tier::Dibao => {
            let income = Fen(facts.per_capita_income_fen);
            let people = active
                .iter()
                .enumerate()
                .map(|(i, m)| member_facts(m, region_code, i, income, flags(m)))
                .collect::<Result<Vec<_>, _>>()?;
            if people.is_empty() {
                return Ok(out);
            }
            let d = policy::determine(
                &HouseholdFacts {
                    urban: facts.urban,
                    on,
                    members: people,
                },
                p,
            )
            .map_err(|e| e.to_string())?;
            pay(&d, &active, &mut out);
        }
        Tier::Destitute => {
            for m in active.iter().filter(|m| m.tiers.contains(&Tier::Destitute)) {
                let f = MemberFlags {
                    no_work_ability: true,
                    no_legal_supporter: true,
                    self_care: m.self_care,
                    in_care_institution: m.in_care_institution,
                    support: m.support,
                    ..flags(m)
                };
                let d = policy::determine(
                    &HouseholdFacts {
                        urban: facts.urban,
                        on,
                        members: vec![member_facts(m, region_code, 0, Fen::ZERO, f)?],
                    },
                    p,
                )
                .map_err(|e| e.to_string())?;
                pay(&d, &[*m], &mut out);
            }
        }
        Tier::SinglePersonDibao => {
            for m in active
                .iter()
                .filter(|m| m.tiers.contains(&Tier::SinglePersonDibao))
            {
                let own = Fen(m.own_income_fen);
                // The other member brings the household's per-capita income to the standard:
                // not dibao, below the marginal line, as for any single-person enrolment.
                let other = Member {
                    member_id: Uuid::nil(),
                    relation: "other".into(),
                    birth_date: on
                        .with_year(on.year() - p.minor_age_below as i32 - 1)
                        .unwrap_or(on),
                    tiers: Vec::new(),
                    severe_disability: false,
                    serious_illness: false,
                    college_student: false,
                    self_care: SelfCare::Full,
                    in_care_institution: false,
                    support: None,
                    own_income_fen: 0,
                };
                let rest = p
                    .standard(facts.urban)
                    .checked_mul(2)
                    .and_then(|two| two.checked_sub(own))
                    .map_err(|e| e.to_string())?
                    .clamp_non_negative();
                let d = policy::determine(
                    &HouseholdFacts {
                        urban: facts.urban,
                        on,
                        members: vec![
                            member_facts(m, region_code, 0, own, flags(m))?,
                            member_facts(&other, region_code, 1, rest, flags(&other))?,
                        ],
                    },
                    p,
                )
                .map_err(|e| e.to_string())?;
                pay(&d, &[*m, &other], &mut out);
            }
        }
        Tier::RigidExpenditure | Tier::Marginal | Tier::None => {}
    }
    Ok(out)
}

/// The consumer-price rises recorded for a month (`price_rises`): (area code, rise in ‰ year on
/// year). A household's is the one of the longest code its region code starts with.
#[derive(Debug, Clone, Default)]
pub struct PriceRises(pub Vec<(String, i64)>);

impl PriceRises {
    pub fn for_region(&self, region_code: &str) -> Option<i64> {
        self.0
            .iter()
            .filter(|(area, _)| region_code.starts_with(area.as_str()))
            .max_by_key(|(area, _)| area.len())
            .map(|(_, rise)| *rise)
    }
}

/// The price-linked temporary subsidy (价格临时补贴) owed for `month` when prices rose by
/// `rise_permille` in the household's area (001: "落实好社会救助保障标准与物价上涨挂钩的联动机制,
/// 确保及时足额向困难群众发放价格临时补贴"): `policy::determination::price_subsidy` for the
/// household's tier and the members it pays for (every member of a dibao household, each
/// destitute or single-person dibao member), not stopped, as one payment to whoever receives
/// the household's benefit (the head, or the first such member). None when the set does not
/// enable it, the rise is below its trigger, the tier is not one of its tiers, or every member
/// it would pay for has stopped.
pub fn price_subsidy_due(
    facts: &Facts,
    effective: Month,
    month: Month,
    stops: &Stops,
    p: &ParameterSet,
    rise_permille: Option<i64>,
) -> Result<Option<Payment>, String> {
    let Some(rise) = rise_permille else {
        return Ok(None);
    };
    if month < effective || stops.household_stopped(month) {
        return Ok(None);
    }
    let facts = facts.in_month(month);
    let counted: Vec<&Member> = facts
        .members
        .iter()
        .filter(|m| !stops.stopped(m.member_id, month))
        .filter(|m| match facts.tier {
            Tier::Dibao => true,
            Tier::Destitute | Tier::SinglePersonDibao => m.tiers.contains(&facts.tier),
            Tier::RigidExpenditure | Tier::Marginal | Tier::None => false,
        })
        .collect();
    let Some(first) = counted.first() else {
        return Ok(None);
    };
    let beneficiary = counted
        .iter()
        .find(|m| m.relation == "head")
        .unwrap_or(first)
        .member_id;
    let people = u32::try_from(counted.len()).map_err(|e| e.to_string())?;
    let amount = policy::determination::price_subsidy(p, facts.tier, people, rise)
        .map_err(|e| e.to_string())?;
    if amount <= Fen::ZERO {
        return Ok(None);
    }
    Ok(Some(Payment {
        beneficiary,
        kind: InstructionKind::PriceSubsidy,
        amount,
        payee: Payee::Person,
        reference: String::new(),
        policy_version: p.version.clone(),
    }))
}

/// The emergency stages due in `month` for people whose assistance has not stopped.
pub fn stages_due(stages: &[Stage], month: Month, stops: &Stops) -> Vec<Payment> {
    stages
        .iter()
        .filter(|s| Month::of(s.pay_on) == month && !stops.stopped(s.member_id, month))
        .map(|s| Payment {
            beneficiary: s.member_id,
            kind: InstructionKind::EmergencyGrant,
            amount: Fen(s.amount_fen),
            payee: Payee::Person,
            reference: s.reference(),
            policy_version: s.policy_version.clone(),
        })
        .collect()
}

/// Who is paid what for a determination: the head (or the first member) for a dibao household;
/// each destitute person (or their care institution); each single-person dibao member.
fn pay(d: &policy::Determination, members: &[&Member], out: &mut Vec<Payment>) {
    let of = |i: usize| members[i];
    match d.tier {
        Tier::Dibao if d.monthly_amount > Fen::ZERO => {
            let head = members
                .iter()
                .position(|m| m.relation == "head")
                .unwrap_or(0);
            out.push(Payment {
                beneficiary: of(head).member_id,
                kind: InstructionKind::DibaoMonthly,
                amount: d.monthly_amount,
                payee: Payee::Person,
                reference: String::new(),
                policy_version: d.policy_version.clone(),
            });
        }
        Tier::Destitute | Tier::SinglePersonDibao => {
            for (i, md) in d.members.iter().enumerate() {
                let kind = if md.tiers.contains(&Tier::Destitute) {
                    InstructionKind::DestituteMonthly
                } else if md.tiers.contains(&Tier::SinglePersonDibao) {
                    InstructionKind::SinglePersonDibaoMonthly
                } else {
                    continue;
                };
                if md.individual_benefit > Fen::ZERO && !of(i).member_id.is_nil() {
                    out.push(Payment {
                        beneficiary: of(i).member_id,
                        kind,
                        amount: md.individual_benefit,
                        payee: md.payee,
                        reference: String::new(),
                        policy_version: d.policy_version.clone(),
                    });
                }
            }
        }
        // A dibao household with nothing to pay; the tiers without a cash benefit.
        Tier::Dibao | Tier::RigidExpenditure | Tier::Marginal | Tier::None => {}
    }
}

fn flags(m: &Member) -> MemberFlags {
    MemberFlags {
        severe_disability: m.severe_disability,
        serious_illness: m.serious_illness,
        college_student: m.college_student,
        ..MemberFlags::default()
    }
}

/// A member as the rule sees one. The rule reads a person's age from the ID number; a number
/// carrying the member's birth date (and the region's code, a sequence) is built for it.
fn member_facts(
    m: &Member,
    region_code: &str,
    seq: usize,
    income: Fen,
    flags: MemberFlags,
) -> Result<MemberFacts, String> {
    let region = region_code.get(..6).unwrap_or("110000");
    let id = ResidentId::from_body(&format!(
        "{region}{}{:03}",
        m.birth_date.format("%Y%m%d"),
        seq % 1000
    ))
    .map_err(|e| format!("member {}: {e}", m.member_id))?;
    Ok(MemberFacts {
        member_id: m.member_id.to_string(),
        id,
        monthly_income: income,
        pension_base: Fen::ZERO,
        employment_costs: Fen::ZERO,
        assets: Fen::ZERO,
        rigid_expenditure: Fen::ZERO,
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::DeterminedMember;
    use policy::RegionCode;

    fn book() -> PolicyBook {
        PolicyBook::builtin()
    }

    fn id(body: &str) -> ResidentId {
        ResidentId::from_body(body).unwrap()
    }

    /// A determination as intake makes it, from real facts.
    fn determined(facts: &[MemberFacts], urban: bool, on: NaiveDate) -> HouseholdDetermined {
        determined_in("410102", facts, urban, on)
    }

    fn determined_in(
        region: &str,
        facts: &[MemberFacts],
        urban: bool,
        on: NaiveDate,
    ) -> HouseholdDetermined {
        let book = book();
        let p = book
            .in_force(&RegionCode::parse(region).unwrap(), on)
            .unwrap();
        let d = policy::determine(
            &HouseholdFacts {
                urban,
                on,
                members: facts.to_vec(),
            },
            p,
        )
        .unwrap();
        HouseholdDetermined {
            application_id: Uuid::new_v4(),
            region_code: RegionCode::parse(region).unwrap(),
            urban,
            tier: d.tier,
            classifications: d.classifications.clone(),
            monthly_amount_fen: d.monthly_amount.0,
            per_capita_income_fen: d.per_capita_income.0,
            per_capita_assets_fen: d.per_capita_assets.0,
            standard_fen: d.standard.0,
            policy_version: d.policy_version.clone(),
            rule: d.rule.clone(),
            effective_month: Month::of(on),
            decided_by: String::new(),
            integrity_flags: Vec::new(),
            zero_employment_household: false,
            members: facts
                .iter()
                .zip(&d.members)
                .enumerate()
                .map(|(i, (f, md))| DeterminedMember {
                    member_id: Uuid::from_u128(i as u128 + 1),
                    id_number: f.id.as_str().to_owned(),
                    name: "n".into(),
                    relation: if i == 0 {
                        "head".into()
                    } else {
                        "child".into()
                    },
                    tiers: md.tiers.clone(),
                    individual_benefit_fen: md.individual_benefit.0,
                    payee: md.payee,
                    addon_reason: md.addon_reason.clone(),
                    relief_lines: Vec::new(),
                    school_stage: None,
                    self_care: (f.flags.self_care != SelfCare::Full).then_some(f.flags.self_care),
                    support: md.support,
                    basis: None,
                    groups: Vec::new(),
                    other_support: Vec::new(),
                })
                .collect(),
        }
    }

    fn person(body: &str, income: i64, flags: MemberFlags) -> MemberFacts {
        MemberFacts {
            member_id: body.into(),
            id: id(body),
            monthly_income: Fen(income),
            pension_base: Fen::ZERO,
            employment_costs: Fen::ZERO,
            assets: Fen::ZERO,
            rigid_expenditure: Fen::ZERO,
            flags,
        }
    }

    /// What the register computes for the determination's own month equals what the
    /// determination said, for every tier with a cash benefit.
    fn same_as_determined(det: &HouseholdDetermined) {
        let book = book();
        let facts = Facts::of(det, &book).unwrap();
        let month = det.effective_month;
        let p = book.in_force(&det.region_code, month.first_day()).unwrap();
        let region = det.region_code.as_str();
        let pays = monthly(&facts, region, month, month, &Stops::default(), p).unwrap();
        let total: i64 = pays.iter().map(|p| p.amount.0).sum();
        assert_eq!(total, det.monthly_amount_fen, "{det:#?}\n{pays:#?}");
        assert!(total > 0);
    }

    #[test]
    fn every_paid_tier_is_recomputed_to_the_determined_amount() {
        let on: NaiveDate = "2026-11-01".parse().unwrap();
        // Dibao with a disabled member, an old member and a minor: three add-ons.
        same_as_determined(&determined(
            &[
                person(
                    "41010219800101001",
                    30000,
                    MemberFlags {
                        severe_disability: true,
                        ..Default::default()
                    },
                ),
                person("41010219500101002", 0, MemberFlags::default()),
                person("41010220150101003", 0, MemberFlags::default()),
            ],
            true,
            on,
        ));
        // Destitute, partial self-care, in a care institution.
        let det = determined(
            &[person(
                "41010219400101004",
                0,
                MemberFlags {
                    no_work_ability: true,
                    no_legal_supporter: true,
                    self_care: SelfCare::Partial,
                    in_care_institution: true,
                    ..Default::default()
                },
            )],
            false,
            on,
        );
        assert_eq!(det.tier, Tier::Destitute);
        same_as_determined(&det);
        let facts = Facts::of(&det, &book()).unwrap();
        assert_eq!(facts.members[0].self_care, SelfCare::Partial);
        // Shenzhen, a public institution (001: "实行免费供养,不同时享受特困人员护理费"): the
        // basic standard alone, paid to the institution, month after month.
        let det = determined_in(
            "440300",
            &[person(
                "44030019400101007",
                0,
                MemberFlags {
                    no_work_ability: true,
                    no_legal_supporter: true,
                    self_care: SelfCare::None,
                    support: Some(SupportArrangement::CentralisedPublic),
                    ..Default::default()
                },
            )],
            true,
            on,
        );
        assert_eq!(det.tier, Tier::Destitute);
        assert_eq!(
            det.members[0].support,
            Some(SupportArrangement::CentralisedPublic)
        );
        same_as_determined(&det);
        // Single-person dibao: a seriously ill member of a marginal household.
        let det = determined(
            &[
                person(
                    "41010219800101005",
                    20000,
                    MemberFlags {
                        serious_illness: true,
                        ..Default::default()
                    },
                ),
                person("41010219800101006", 200000, MemberFlags::default()),
            ],
            true,
            on,
        );
        assert_eq!(det.tier, Tier::SinglePersonDibao, "{det:#?}");
        same_as_determined(&det);
    }

    #[test]
    fn a_stopped_member_is_left_out_and_a_stopped_household_gets_nothing() {
        let on: NaiveDate = "2026-11-01".parse().unwrap();
        let det = determined(
            &[
                person("41010219800101001", 10000, MemberFlags::default()),
                person("41010219800101002", 10000, MemberFlags::default()),
            ],
            true,
            on,
        );
        let book = book();
        let facts = Facts::of(&det, &book).unwrap();
        let month = Month::of(on);
        let p = book
            .in_force(&RegionCode::parse("410102").unwrap(), on)
            .unwrap();
        let full = monthly(&facts, "410102", month, month, &Stops::default(), p).unwrap();
        let mut stops = Stops::default();
        stops.add(Some(det.members[0].member_id), month.next());
        let same = monthly(&facts, "410102", month, month, &stops, p).unwrap();
        assert_eq!(full, same);
        let later = monthly(&facts, "410102", month, month.next(), &stops, p).unwrap();
        assert_eq!(later.len(), 1);
        // The head is gone: the other member is paid, for one member.
        assert_eq!(later[0].beneficiary, det.members[1].member_id);
        assert_eq!(later[0].amount.0 * 2, full[0].amount.0);
        stops.add(None, month.next());
        assert!(monthly(&facts, "410102", month, month.next(), &stops, p)
            .unwrap()
            .is_empty());
        assert!(
            monthly(&facts, "410102", month.next(), month, &Stops::default(), p)
                .unwrap()
                .is_empty()
        );
    }

    // 001: "落实好社会救助保障标准与物价上涨挂钩的联动机制,确保及时足额向困难群众发放价格临时补贴":
    // Shenzhen's set enables the subsidy; a month whose recorded rise reaches the trigger pays
    // it per member to whoever receives the dibao, and nothing below it or after a stop.
    #[test]
    fn the_price_subsidy_is_owed_per_member_when_the_rise_reaches_the_trigger() {
        let on: NaiveDate = "2026-11-01".parse().unwrap();
        let det = determined_in(
            "440300",
            &[
                person("44030319800101001", 10000, MemberFlags::default()),
                person("44030319800101002", 0, MemberFlags::default()),
                person("44030320150101003", 0, MemberFlags::default()),
            ],
            true,
            on,
        );
        assert_eq!(det.tier, Tier::Dibao);
        let book = book();
        let facts = Facts::of(&det, &book).unwrap();
        let month = Month::of(on);
        let p = book
            .in_force(&RegionCode::parse("440303").unwrap(), on)
            .unwrap();
        let s = &p.other_support.price_subsidy;
        assert!(s.enabled);
        let trigger = s.trigger_cpi_rise_permille;
        let due =
            |rise, stops: &Stops| price_subsidy_due(&facts, month, month, stops, p, rise).unwrap();
        let none = Stops::default();
        let paid = due(Some(trigger), &none).expect("owed at the trigger");
        assert_eq!(paid.kind, InstructionKind::PriceSubsidy);
        assert_eq!(paid.beneficiary, det.members[0].member_id);
        assert_eq!(paid.amount.0, s.monthly_per_person.0 * 3);
        assert_eq!(due(Some(trigger - 1), &none), None);
        assert_eq!(due(None, &none), None);
        let mut stops = Stops::default();
        stops.add(Some(det.members[2].member_id), month);
        assert_eq!(
            due(Some(trigger), &stops).unwrap().amount.0,
            s.monthly_per_person.0 * 2
        );
        stops.add(None, month);
        assert_eq!(due(Some(trigger), &stops), None);
        // Zhengzhou's set does not enable it.
        let zz = book
            .in_force(&RegionCode::parse("410102").unwrap(), on)
            .unwrap();
        assert!(!zz.other_support.price_subsidy.enabled);
        assert_eq!(
            price_subsidy_due(&facts, month, month, &none, zz, Some(trigger)).unwrap(),
            None
        );
        // The rise of the longest area code the region starts with is the household's.
        let rises = PriceRises(vec![("4403".into(), 40), ("440303".into(), 10)]);
        assert_eq!(rises.for_region("440303001002"), Some(10));
        assert_eq!(rises.for_region("440304001002"), Some(40));
        assert_eq!(rises.for_region("410102001002"), None);
    }
}
