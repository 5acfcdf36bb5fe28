//! Specialist relief departments and what each grants for a referral.

use crate::determination::{Group, SchoolStage, SupportArrangement};
use crate::params::MedicalAssistance;
use crate::{Fen, MoneyOverflow, ParameterSet, Tier};
use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Department {
    Medical,
    Education,
    Housing,
    Employment,
    Disaster,
}

impl Department {
    pub const ALL: [Department; 5] = [
        Department::Medical,
        Department::Education,
        Department::Housing,
        Department::Employment,
        Department::Disaster,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Department::Medical => "medical",
            Department::Education => "education",
            Department::Housing => "housing",
            Department::Employment => "employment",
            Department::Disaster => "disaster",
        }
    }

    pub fn parse(s: &str) -> Option<Department> {
        Department::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for Department {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A department's decision on one referral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    Granted {
        /// What is given, e.g. `medical_premium_subsidy`.
        kind: String,
        amount: Fen,
        /// How many months the grant covers; 0 for a one-off payment.
        months: u32,
        rule: String,
    },
    Rejected {
        reason: String,
    },
    /// The rules cannot settle it: a named officer of the department decides.
    Review {
        reason: String,
    },
}

/// Facts about the referred person that the department rules read.
#[derive(Debug, Clone, Copy)]
pub struct ReferralFacts {
    pub tier: Tier,
    pub urban: bool,
    /// For education: the student's stage, when known.
    pub school_stage: Option<SchoolStage>,
    /// For employment: nobody of working age in the household is in work.
    pub zero_employment_household: bool,
    /// For disaster: what the disaster did, when the referral says it.
    pub disaster: Option<DisasterFacts>,
    /// The day of the decision: grants start on it; the winter-spring season is judged by it.
    pub on: NaiveDate,
    /// A destitute person's support arrangement, when the push carries it: housing relief is for
    /// those in dispersed support (002: "城市分散供养特困人员").
    pub support: Option<SupportArrangement>,
    /// A recognised group the person belongs to (return-to-poverty monitoring, other hardship),
    /// for a person referred by their group rather than a tier.
    pub group: Option<Group>,
}

/// The state of a disaster victim's home.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HouseDamage {
    None,
    Damaged,
    SeverelyDamaged,
    Collapsed,
}

/// What a disaster did to the referred person's household.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisasterFacts {
    pub house_damage: HouseDamage,
    /// The household had to leave its home.
    pub displaced: bool,
}

/// Every grant the department makes for one referral: one decision for most departments;
/// for a disaster victim, one grant per kind of disaster aid that applies (emergency relief,
/// transitional living aid, winter-spring hardship aid, rebuilding aid).
pub fn decide_all(dept: Department, r: ReferralFacts, p: &ParameterSet) -> Vec<Decision> {
    match (dept, r.disaster) {
        (Department::Disaster, Some(facts)) => disaster_aid(r, facts, p),
        _ => vec![decide(dept, r, p)],
    }
}

/// Disaster aid from the circumstances. Every victim gets the general aid; low-income households
/// get the higher rebuilding aid (priority for low-income people).
fn disaster_aid(r: ReferralFacts, facts: DisasterFacts, p: &ParameterSet) -> Vec<Decision> {
    let d = &p.disaster_aid;
    let grant = |kind: &str, amount: Fen, months: u32, rule: String| Decision::Granted {
        kind: kind.to_owned(),
        amount,
        months,
        rule: format!("{rule} (parameter set {})", p.version),
    };
    let mut out = vec![grant(
        "disaster_emergency_relief",
        p.relief.disaster_emergency_per_person,
        0,
        "disaster: emergency relief per person".into(),
    )];
    let lost_home = matches!(
        facts.house_damage,
        HouseDamage::Collapsed | HouseDamage::SeverelyDamaged
    );
    let transitional = d
        .transitional_monthly_per_person
        .checked_mul(i64::from(d.transitional_months));
    if let (true, Ok(total)) = (lost_home && facts.displaced, transitional) {
        // The parameter sets are checked on loading so that the product fits (params.rs).
        out.push(grant(
            TRANSITIONAL_AID,
            total,
            d.transitional_months,
            format!(
                "disaster: transitional living aid, {} a month for {} months, for a displaced person whose home collapsed or was severely damaged",
                d.transitional_monthly_per_person, d.transitional_months
            ),
        ));
    }
    if let Some(last_day) = winter_spring_season_end(r.on, p) {
        out.push(grant(
            WINTER_SPRING_AID,
            d.winter_spring_per_person,
            months_until(r.on, last_day),
            "disaster: winter-spring hardship aid per person, in the winter-spring season".into(),
        ));
    }
    if lost_home {
        let low = r.tier.is_low_income();
        let amount = match (facts.house_damage, low) {
            (HouseDamage::Collapsed, true) => d.rebuild_low_income_collapsed,
            (HouseDamage::Collapsed, false) => d.rebuild_collapsed,
            (_, true) => d.rebuild_low_income_severely_damaged,
            (_, false) => d.rebuild_severely_damaged,
        };
        let home = if facts.house_damage == HouseDamage::Collapsed {
            "collapsed"
        } else {
            "severely damaged"
        };
        let whose = if low {
            format!(
                "a low-income ({}) household, with priority",
                r.tier.as_str()
            )
        } else {
            "a household".to_owned()
        };
        out.push(grant(
            REBUILDING_AID,
            amount,
            0,
            format!("disaster: rebuilding aid for {whose} whose home {home}, once per household"),
        ));
    }
    if !r.tier.is_low_income() {
        // Emergency relief is for every victim; the rest only where the disaster calls for it.
        out.retain(|g| !matches!(g, Decision::Granted { kind, .. } if kind == WINTER_SPRING_AID));
    }
    out
}

/// Transitional living aid (过渡期生活救助): the amount is the total for the period.
pub const TRANSITIONAL_AID: &str = "disaster_transitional_living_aid";
/// Winter-spring hardship aid (冬春临时生活困难救助).
pub const WINTER_SPRING_AID: &str = "disaster_winter_spring_aid";
/// Rebuilding aid (因灾倒损民房恢复重建), once per household.
pub const REBUILDING_AID: &str = "disaster_rebuilding_aid";

/// Grants given once per household, whichever member's referral comes first.
pub fn once_per_household(kind: &str) -> bool {
    kind == REBUILDING_AID
}

/// The last day of the winter-spring season `on` falls in, or `None` out of season.
pub fn winter_spring_season_end(on: NaiveDate, p: &ParameterSet) -> Option<NaiveDate> {
    let d = &p.disaster_aid;
    let (from, to, m) = (
        d.winter_spring_from_month,
        d.winter_spring_to_month,
        on.month(),
    );
    let in_season = if from <= to {
        (from..=to).contains(&m)
    } else {
        m >= from || m <= to
    };
    if !in_season {
        return None;
    }
    // The season ends this year, or next year when it spans the new year and `on` is before it.
    let year = if from > to && m >= from {
        on.year() + 1
    } else {
        on.year()
    };
    let first_after = if to == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, to + 1, 1)
    }?;
    first_after.pred_opt()
}

/// Whole or part months from `from` to `last_day`, at least 1.
fn months_until(from: NaiveDate, last_day: NaiveDate) -> u32 {
    let months =
        (last_day.year() - from.year()) * 12 + last_day.month() as i32 - from.month() as i32 + 1;
    months.max(1) as u32
}

/// The last day a grant covers, for comparing it with other help: its own last day, or for a
/// one-off grant `one_off_cover_months` from its date.
pub fn last_day_covered(from: NaiveDate, to: Option<NaiveDate>, p: &ParameterSet) -> NaiveDate {
    to.unwrap_or_else(|| {
        from.checked_add_months(Months::new(p.one_off_cover_months))
            .and_then(|d| d.pred_opt())
            .unwrap_or(NaiveDate::MAX)
    })
}

/// The kind of help a grant is, for finding duplicates: a full premium and a premium subsidy
/// are the same help, so are every stage's education support, rent subsidy and public rental
/// housing. Any other kind is its own.
pub fn help_of(kind: &str) -> &str {
    match kind {
        "medical_premium_full" | "medical_premium_subsidy" => "medical_premium",
        k if k.starts_with("education_") => "education_support",
        "housing_rent_subsidy" | "public_rental_housing" => "housing_rent",
        "employment_public_welfare_post" | "employment_training_subsidy" => "employment_help",
        k => k,
    }
}

/// A grant, as far as duplicates go: what it is and the days it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Help<'a> {
    pub kind: &'a str,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

/// True when `new` would give the same kind of help as `prior` for an overlapping period:
/// duplicate assistance, which the chain must never show.
pub fn duplicates(new: Help<'_>, prior: Help<'_>, p: &ParameterSet) -> bool {
    help_of(new.kind) == help_of(prior.kind)
        && new.from <= last_day_covered(prior.from, prior.to, p)
        && prior.from <= last_day_covered(new.from, new.to, p)
}

/// The days a decided grant covers: from the decision day, `months` months or one-off.
pub fn period(on: NaiveDate, months: u32) -> Option<NaiveDate> {
    (months > 0)
        .then(|| on.checked_add_months(Months::new(months)))
        .flatten()
        .and_then(|d| d.pred_opt())
}

/// Which figures of medical assistance apply to a tier; `None` for a household that is not
/// low-income.
pub fn medical_assistance_for(tier: Tier, p: &ParameterSet) -> Option<MedicalAssistance> {
    let m = &p.medical_assistance;
    match tier {
        Tier::Destitute => Some(m.destitute),
        Tier::Dibao | Tier::SinglePersonDibao => Some(m.dibao),
        Tier::Marginal => Some(m.marginal),
        Tier::RigidExpenditure => Some(m.rigid_expenditure),
        Tier::None => None,
    }
}

/// A person referred by a recognised group (002 一(一)), not by a tier: the departments the
/// set's group rule names decide as for a low-income person (medical case by case); others
/// reject it.
fn decide_for_group(dept: Department, r: ReferralFacts, p: &ParameterSet) -> Decision {
    let Some(group) = r.group else {
        return Decision::Rejected {
            reason: "the household is not low-income".into(),
        };
    };
    let (allowed, what) = match group {
        Group::ReturnToPoverty => (
            &p.recognised_groups.return_to_poverty,
            "a return-to-poverty monitoring object",
        ),
        Group::OtherHardship => (
            &p.recognised_groups.other_hardship,
            "an other hardship person",
        ),
    };
    if !allowed.contains(&dept) {
        return Decision::Rejected {
            reason: format!("{dept} help is not among the referrals for {what}"),
        };
    }
    match dept {
        Department::Medical => Decision::Review {
            reason: format!("medical assistance for {what} is decided case by case"),
        },
        // As for a marginal household: the rules that follow read the tier.
        Department::Education
        | Department::Housing
        | Department::Employment
        | Department::Disaster => decide(
            dept,
            ReferralFacts {
                tier: Tier::Marginal,
                group: None,
                ..r
            },
            p,
        ),
    }
}

/// A bill settled at the hospital (one-stop settlement), in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bill {
    pub total: Fen,
    /// Paid by basic medical insurance.
    pub insurance_paid: Fen,
    /// Paid by critical-illness insurance.
    pub critical_illness_paid: Fen,
    /// Spent outside the policy scope (not assisted).
    pub out_of_scope: Fen,
}

/// What a person already had this calendar year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct YearSoFar {
    /// Out-of-pocket amount already counted against the yearly deductible.
    pub deductible_used: Fen,
    /// Assistance already granted this year.
    pub assisted: Fen,
}

/// The assistance on one bill and the person's year after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assisted {
    /// Out-of-pocket amount within the policy scope.
    pub eligible: Fen,
    /// Of it, what went to the deductible.
    pub to_deductible: Fen,
    /// Assistance before the yearly cap.
    pub before_cap: Fen,
    /// Assistance granted.
    pub amount: Fen,
    pub year: YearSoFar,
}

/// Medical assistance on a bill: the out-of-pocket amount within the policy scope (total less
/// basic insurance, critical-illness insurance and what is out of scope) first fills what is
/// left of the yearly deductible; the rest is assisted at the tier's ratio (rounded half up to
/// the fen), up to what is left of the yearly cap.
/// Every amount is checked: figures that overflow 64-bit fen are [`MoneyOverflow`].
pub fn assist_bill(
    bill: Bill,
    m: MedicalAssistance,
    year: YearSoFar,
) -> Result<Assisted, MoneyOverflow> {
    let eligible = bill
        .total
        .checked_sub(bill.insurance_paid)?
        .checked_sub(bill.critical_illness_paid)?
        .checked_sub(bill.out_of_scope)?
        .clamp_non_negative();
    let deductible_left = m
        .deductible
        .checked_sub(year.deductible_used)?
        .clamp_non_negative();
    let to_deductible = eligible.min(deductible_left);
    let before_cap = eligible
        .checked_sub(to_deductible)?
        .times_permille(m.ratio_permille)?;
    let cap_left = m
        .annual_cap
        .checked_sub(year.assisted)?
        .clamp_non_negative();
    let amount = before_cap.min(cap_left);
    Ok(Assisted {
        eligible,
        to_deductible,
        before_cap,
        amount,
        year: YearSoFar {
            deductible_used: year.deductible_used.checked_add(to_deductible)?,
            assisted: year.assisted.checked_add(amount)?,
        },
    })
}

/// Whether a charity offer for `area` (a region-code prefix: a province, city, county or
/// township) reaches a person in `region_code`.
pub fn in_area(region_code: &str, area: &str) -> bool {
    !area.is_empty() && region_code.starts_with(area)
}

/// Charity matching (慈善帮扶衔接): open care needs, oldest first, each go to the first offer
/// (oldest first) whose area covers the need and that has capacity left. Returns (need, offer)
/// index pairs; deterministic for the same ordered input.
pub fn match_needs(needs: &[&str], offers: &[(&str, u32)]) -> Vec<(usize, usize)> {
    let mut left: Vec<u32> = offers.iter().map(|(_, c)| *c).collect();
    let mut out = Vec::new();
    for (n, region) in needs.iter().enumerate() {
        if let Some(o) = offers
            .iter()
            .enumerate()
            .position(|(i, (area, _))| left[i] > 0 && in_area(region, area))
        {
            left[o] -= 1;
            out.push((n, o));
        }
    }
    out
}

/// Housing relief for a destitute person is for dispersed support only (002: "城市分散供养特困
/// 人员"): refused for centralised support, left to an officer when the push does not say.
fn destitute_housing(dept: Department, r: ReferralFacts) -> Option<Decision> {
    if dept != Department::Housing || r.tier != Tier::Destitute {
        return None;
    }
    match r.support {
        Some(SupportArrangement::Dispersed) => None,
        Some(s) => Some(Decision::Rejected {
            reason: format!(
                "housing relief for destitute persons is for those in dispersed support (城市分散供养特困人员); this person is supported {}",
                s.as_str()
            ),
        }),
        None => Some(Decision::Review {
            reason: "housing relief for a destitute person: the referral does not say whether they are in dispersed support".into(),
        }),
    }
}

pub fn decide(dept: Department, r: ReferralFacts, p: &ParameterSet) -> Decision {
    if !r.tier.is_low_income() {
        return decide_for_group(dept, r, p);
    }
    if let Some(refused) = destitute_housing(dept, r) {
        return refused;
    }
    let rp = &p.relief;
    let grant = |kind: &str, amount: Fen, months: u32, rule: String| Decision::Granted {
        kind: kind.to_owned(),
        amount,
        months,
        rule: format!("{rule} (parameter set {})", p.version),
    };
    match dept {
        Department::Medical if r.tier == Tier::Destitute => grant(
            "medical_premium_full",
            rp.medical_premium,
            12,
            "medical: premium paid in full for a destitute person".into(),
        ),
        // The texts give marginal and rigid-expenditure households medical help case by case.
        Department::Medical if matches!(r.tier, Tier::Marginal | Tier::RigidExpenditure) => {
            Decision::Review {
                reason: format!(
                    "medical assistance for a {} member is decided case by case",
                    r.tier.as_str()
                ),
            }
        }
        Department::Medical => grant(
            "medical_premium_subsidy",
            rp.medical_premium_subsidy,
            12,
            format!(
                "medical: fixed premium subsidy for a {} member",
                r.tier.as_str()
            ),
        ),
        Department::Education => {
            let e = &rp.education_stage_support;
            let (kind, amount, what) = match r.school_stage {
                Some(SchoolStage::Preschool) => {
                    ("education_preschool_aid", e.preschool, "preschool aid")
                }
                Some(SchoolStage::Primary) => (
                    "education_compulsory_living_subsidy",
                    e.primary,
                    "primary-school living subsidy",
                ),
                Some(SchoolStage::JuniorSecondary) => (
                    "education_compulsory_living_subsidy",
                    e.junior_secondary,
                    "junior-secondary living subsidy",
                ),
                Some(SchoolStage::SeniorSecondary) => (
                    "education_grant_and_fee_waiver",
                    e.senior_secondary,
                    "senior-secondary grant and fee waiver",
                ),
                Some(SchoolStage::Vocational) => (
                    "education_grant_and_fee_waiver",
                    e.vocational,
                    "vocational grant and fee waiver",
                ),
                Some(SchoolStage::College) => {
                    ("education_college_grant", e.college, "college grant")
                }
                None => (
                    "education_living_subsidy",
                    rp.education_living_subsidy,
                    "living subsidy (stage not given)",
                ),
            };
            grant(
                kind,
                amount,
                12,
                format!("education: {what} for a student of a low-income household"),
            )
        }
        Department::Housing if r.urban => grant(
            "housing_rent_subsidy",
            rp.housing_rent_subsidy,
            12,
            "housing: rent subsidy for an urban low-income household".into(),
        ),
        // Rural renovation for households that are not dibao or destitute is decided case by case.
        Department::Housing if matches!(r.tier, Tier::Marginal | Tier::RigidExpenditure) => {
            Decision::Review {
                reason: format!(
                    "dilapidated-house renovation for a rural {} household is decided case by case",
                    r.tier.as_str()
                ),
            }
        }
        Department::Housing => grant(
            "housing_renovation_grant",
            rp.housing_renovation_grant,
            0,
            "housing: dilapidated-house renovation for a rural low-income household".into(),
        ),
        // Public-welfare posts go first to zero-employment households; others get training.
        Department::Employment if r.zero_employment_household => grant(
            "employment_public_welfare_post",
            rp.employment_post_monthly,
            12,
            "employment: public-welfare post, first for a zero-employment household".into(),
        ),
        Department::Employment => grant(
            "employment_training_subsidy",
            rp.employment_training_subsidy,
            0,
            "employment: training subsidy for a member of a low-income household".into(),
        ),
        Department::Disaster => grant(
            "disaster_emergency_relief",
            rp.disaster_emergency_per_person,
            0,
            "disaster: emergency relief per person".into(),
        ),
    }
}

#[cfg(test)]
#[allow(
    clippy::wildcard_enum_match_arm,
    reason = "a test fails on whatever other variant it meets"
)]
mod tests {
    use super::*;
    use crate::{PolicyBook, RegionCode};

    fn day() -> NaiveDate {
        "2025-03-10".parse().unwrap()
    }

    #[test]
    fn medical_pays_destitute_premiums_in_full_and_subsidises_dibao() {
        let book = PolicyBook::builtin();
        let p = book
            .in_force(
                &RegionCode::parse("440305").unwrap(),
                "2025-01-01".parse().unwrap(),
            )
            .unwrap();
        let full = decide(
            Department::Medical,
            ReferralFacts {
                tier: Tier::Destitute,
                urban: true,
                school_stage: None,
                zero_employment_household: false,
                disaster: None,
                on: day(),
                support: None,
                group: None,
            },
            p,
        );
        let part = decide(
            Department::Medical,
            ReferralFacts {
                tier: Tier::Dibao,
                urban: true,
                school_stage: None,
                zero_employment_household: false,
                disaster: None,
                on: day(),
                support: None,
                group: None,
            },
            p,
        );
        assert!(
            matches!(full, Decision::Granted { amount, .. } if amount == p.relief.medical_premium)
        );
        assert!(
            matches!(part, Decision::Granted { amount, .. } if amount == p.relief.medical_premium_subsidy)
        );
        let none = decide(
            Department::Medical,
            ReferralFacts {
                tier: Tier::None,
                urban: true,
                school_stage: None,
                zero_employment_household: false,
                disaster: None,
                on: day(),
                support: None,
                group: None,
            },
            p,
        );
        assert!(matches!(none, Decision::Rejected { .. }));
    }

    #[test]
    fn housing_depends_on_urban_or_rural() {
        let book = PolicyBook::builtin();
        let p = book
            .in_force(
                &RegionCode::parse("440305").unwrap(),
                "2025-01-01".parse().unwrap(),
            )
            .unwrap();
        let urban = decide(
            Department::Housing,
            ReferralFacts {
                tier: Tier::Dibao,
                urban: true,
                school_stage: None,
                zero_employment_household: false,
                disaster: None,
                on: day(),
                support: None,
                group: None,
            },
            p,
        );
        let rural = decide(
            Department::Housing,
            ReferralFacts {
                tier: Tier::Dibao,
                urban: false,
                school_stage: None,
                zero_employment_household: false,
                disaster: None,
                on: day(),
                support: None,
                group: None,
            },
            p,
        );
        assert!(
            matches!(urban, Decision::Granted { ref kind, .. } if kind == "housing_rent_subsidy")
        );
        assert!(
            matches!(rural, Decision::Granted { ref kind, .. } if kind == "housing_renovation_grant")
        );
    }

    #[test]
    fn medical_help_for_marginal_and_rigid_expenditure_members_goes_to_review() {
        let book = PolicyBook::builtin();
        let p = book
            .in_force(
                &RegionCode::parse("440305").unwrap(),
                "2025-01-01".parse().unwrap(),
            )
            .unwrap();
        for tier in [Tier::Marginal, Tier::RigidExpenditure] {
            let d = decide(
                Department::Medical,
                ReferralFacts {
                    tier,
                    urban: true,
                    school_stage: None,
                    zero_employment_household: false,
                    disaster: None,
                    on: day(),
                    support: None,
                    group: None,
                },
                p,
            );
            assert!(matches!(d, Decision::Review { .. }), "{tier:?}");
        }
        let d = decide(
            Department::Education,
            ReferralFacts {
                tier: Tier::Marginal,
                urban: true,
                school_stage: None,
                zero_employment_household: false,
                disaster: None,
                on: day(),
                support: None,
                group: None,
            },
            p,
        );
        assert!(matches!(d, Decision::Granted { .. }));
    }

    #[test]
    fn education_support_follows_the_school_stage() {
        let book = PolicyBook::builtin();
        let p = book
            .in_force(
                &RegionCode::parse("410102").unwrap(),
                "2025-01-01".parse().unwrap(),
            )
            .unwrap();
        let e = p.relief.education_stage_support;
        let cases = [
            (
                Some(SchoolStage::Preschool),
                "education_preschool_aid",
                e.preschool,
            ),
            (
                Some(SchoolStage::Primary),
                "education_compulsory_living_subsidy",
                e.primary,
            ),
            (
                Some(SchoolStage::JuniorSecondary),
                "education_compulsory_living_subsidy",
                e.junior_secondary,
            ),
            (
                Some(SchoolStage::SeniorSecondary),
                "education_grant_and_fee_waiver",
                e.senior_secondary,
            ),
            (
                Some(SchoolStage::Vocational),
                "education_grant_and_fee_waiver",
                e.vocational,
            ),
            (
                Some(SchoolStage::College),
                "education_college_grant",
                e.college,
            ),
            (
                None,
                "education_living_subsidy",
                p.relief.education_living_subsidy,
            ),
        ];
        for (stage, want_kind, want_amount) in cases {
            let d = decide(
                Department::Education,
                ReferralFacts {
                    tier: Tier::Dibao,
                    urban: true,
                    school_stage: stage,
                    zero_employment_household: false,
                    disaster: None,
                    on: day(),
                    support: None,
                    group: None,
                },
                p,
            );
            match d {
                Decision::Granted {
                    kind,
                    amount,
                    months,
                    ..
                } => {
                    assert_eq!(
                        (kind.as_str(), amount, months),
                        (want_kind, want_amount, 12),
                        "{stage:?}"
                    );
                }
                other => panic!("{stage:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn public_welfare_posts_go_first_to_zero_employment_households() {
        let book = PolicyBook::builtin();
        let p = book
            .in_force(
                &RegionCode::parse("410102").unwrap(),
                "2025-01-01".parse().unwrap(),
            )
            .unwrap();
        let facts = |zero| ReferralFacts {
            tier: Tier::Dibao,
            urban: true,
            school_stage: None,
            zero_employment_household: zero,
            disaster: None,
            on: day(),
            support: None,
            group: None,
        };
        let post = decide(Department::Employment, facts(true), p);
        assert!(
            matches!(post, Decision::Granted { ref kind, amount, .. } if kind == "employment_public_welfare_post" && amount == p.relief.employment_post_monthly)
        );
        let training = decide(Department::Employment, facts(false), p);
        assert!(
            matches!(training, Decision::Granted { ref kind, amount, .. } if kind == "employment_training_subsidy" && amount == p.relief.employment_training_subsidy)
        );
    }

    fn zhengzhou() -> ParameterSet {
        PolicyBook::builtin()
            .in_force(&RegionCode::parse("410102").unwrap(), day())
            .unwrap()
            .clone()
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_same_help_for_an_overlapping_period_is_a_duplicate() {
        let mut p = zhengzhou();
        p.one_off_cover_months = 12;
        let help = |kind, from, to: Option<&str>| Help {
            kind,
            from: d(from),
            to: to.map(d),
        };
        #[rustfmt::skip]
        let cases = [
            // new, prior, duplicate?
            (help("medical_premium_subsidy", "2025-03-10", Some("2026-03-09")), help("medical_premium_subsidy", "2025-01-01", Some("2025-12-31")), true),
            // A full premium and a subsidy are the same help.
            (help("medical_premium_full", "2025-03-10", Some("2026-03-09")), help("medical_premium_subsidy", "2025-01-01", Some("2025-12-31")), true),
            // The earlier one ended the day before: no overlap.
            (help("medical_premium_subsidy", "2026-01-01", Some("2026-12-31")), help("medical_premium_subsidy", "2025-01-01", Some("2025-12-31")), false),
            // Touching on one day is an overlap.
            (help("medical_premium_subsidy", "2025-12-31", Some("2026-12-30")), help("medical_premium_subsidy", "2025-01-01", Some("2025-12-31")), true),
            // Another kind of help for the same period is no duplicate.
            (help("housing_rent_subsidy", "2025-03-10", Some("2026-03-09")), help("medical_premium_subsidy", "2025-01-01", Some("2025-12-31")), false),
            // Education by stage: one kind of help.
            (help("education_college_grant", "2025-09-01", Some("2026-08-31")), help("education_living_subsidy", "2025-03-01", Some("2026-02-28")), true),
            // A one-off grant covers 12 months from its date: 2025-03-10 ..= 2026-03-09.
            (help("housing_renovation_grant", "2026-03-09", None), help("housing_renovation_grant", "2025-03-10", None), true),
            (help("housing_renovation_grant", "2026-03-10", None), help("housing_renovation_grant", "2025-03-10", None), false),
            // A grant from the future overlapping the new period.
            (help("housing_rent_subsidy", "2025-03-10", Some("2026-03-09")), help("public_rental_housing", "2026-03-09", None), true),
        ];
        for (i, (new, prior, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                duplicates(new, prior, &p),
                want,
                "case {i}: {new:?} vs {prior:?}"
            );
        }
    }

    #[test]
    fn medical_assistance_on_a_bill_follows_deductible_ratio_and_yearly_cap() {
        let m = |deductible, ratio_permille, cap| MedicalAssistance {
            deductible: Fen(deductible),
            ratio_permille,
            annual_cap: Fen(cap),
        };
        let bill = |total, ins, ci, out| Bill {
            total: Fen(total),
            insurance_paid: Fen(ins),
            critical_illness_paid: Fen(ci),
            out_of_scope: Fen(out),
        };
        let year = |used, assisted| YearSoFar {
            deductible_used: Fen(used),
            assisted: Fen(assisted),
        };
        #[rustfmt::skip]
        let cases = [
            // 10 000 yuan bill, 6 000 insurance, 1 000 critical illness, 500 out of scope:
            // eligible 2 500 yuan; no deductible; 70% = 1 750 yuan.
            (bill(1_000_000, 600_000, 100_000, 50_000), m(0, 700, 6_000_000), year(0, 0), 250_000, 0, 175_000, year(0, 175_000)),
            // Deductible 3 000 yuan, 1 000 used: 2 000 of the 2 500 go to it; 500 × 60% = 300.
            (bill(1_000_000, 600_000, 100_000, 50_000), m(300_000, 600, 5_000_000), year(100_000, 0), 250_000, 200_000, 30_000, year(300_000, 30_000)),
            // Deductible already met: all of it assisted at 50%.
            (bill(1_000_000, 600_000, 100_000, 50_000), m(800_000, 500, 5_000_000), year(800_000, 0), 250_000, 0, 125_000, year(800_000, 125_000)),
            // The yearly cap: 59 000 yuan of 60 000 already assisted, 1 000 left of 1 750.
            (bill(1_000_000, 600_000, 100_000, 50_000), m(0, 700, 6_000_000), year(0, 5_900_000), 250_000, 0, 100_000, year(0, 6_000_000)),
            // Cap reached: nothing.
            (bill(1_000_000, 600_000, 100_000, 50_000), m(0, 700, 6_000_000), year(0, 6_000_000), 250_000, 0, 0, year(0, 6_000_000)),
            // Within the deductible: nothing, the deductible fills.
            (bill(200_000, 100_000, 0, 0), m(300_000, 600, 5_000_000), year(0, 0), 100_000, 100_000, 0, year(100_000, 0)),
            // Insurance paid everything: nothing to assist.
            (bill(200_000, 200_000, 0, 0), m(0, 900, 8_000_000), year(0, 0), 0, 0, 0, year(0, 0)),
            // Rounding half up to the fen: 333 × 90% = 299.7 → 300 fen.
            (bill(333, 0, 0, 0), m(0, 900, 8_000_000), year(0, 0), 333, 0, 300, year(0, 300)),
        ];
        for (i, (b, m, y, eligible, to_deductible, amount, after)) in cases.into_iter().enumerate()
        {
            let a = assist_bill(b, m, y).unwrap();
            assert_eq!(
                (a.eligible.0, a.to_deductible.0, a.amount.0, a.year),
                (eligible, to_deductible, amount, after),
                "case {i}"
            );
        }
    }

    #[test]
    fn medical_assistance_figures_follow_the_tier() {
        let p = zhengzhou();
        let m = p.medical_assistance;
        assert_eq!(
            medical_assistance_for(Tier::Destitute, &p)
                .unwrap()
                .ratio_permille,
            m.destitute.ratio_permille
        );
        assert_eq!(
            medical_assistance_for(Tier::SinglePersonDibao, &p)
                .unwrap()
                .ratio_permille,
            m.dibao.ratio_permille
        );
        assert_eq!(
            medical_assistance_for(Tier::Marginal, &p)
                .unwrap()
                .deductible,
            m.marginal.deductible
        );
        assert_eq!(
            medical_assistance_for(Tier::RigidExpenditure, &p)
                .unwrap()
                .annual_cap,
            m.rigid_expenditure.annual_cap
        );
        assert!(medical_assistance_for(Tier::None, &p).is_none());
    }

    #[test]
    fn the_winter_spring_season_may_span_the_new_year() {
        let mut p = zhengzhou();
        p.disaster_aid.winter_spring_from_month = 12;
        p.disaster_aid.winter_spring_to_month = 5;
        #[rustfmt::skip]
        let cases = [
            ("2025-12-01", Some("2026-05-31")),
            ("2025-12-31", Some("2026-05-31")),
            ("2026-01-15", Some("2026-05-31")),
            ("2026-05-31", Some("2026-05-31")),
            ("2026-06-01", None),
            ("2025-11-30", None),
        ];
        for (on, want) in cases {
            assert_eq!(winter_spring_season_end(d(on), &p), want.map(d), "{on}");
        }
        p.disaster_aid.winter_spring_from_month = 10;
        p.disaster_aid.winter_spring_to_month = 12;
        assert_eq!(
            winter_spring_season_end(d("2025-11-02"), &p),
            Some(d("2025-12-31"))
        );
        assert_eq!(winter_spring_season_end(d("2025-09-30"), &p), None);
    }

    #[test]
    fn disaster_aid_follows_the_home_the_season_and_the_tier() {
        let mut p = zhengzhou();
        let a = &mut p.disaster_aid;
        a.transitional_monthly_per_person = Fen(60_000);
        a.transitional_months = 3;
        a.winter_spring_per_person = Fen(50_000);
        a.winter_spring_from_month = 12;
        a.winter_spring_to_month = 5;
        a.rebuild_collapsed = Fen(2_000_000);
        a.rebuild_severely_damaged = Fen(1_000_000);
        a.rebuild_low_income_collapsed = Fen(3_000_000);
        a.rebuild_low_income_severely_damaged = Fen(1_500_000);
        p.relief.disaster_emergency_per_person = Fen(50_000);
        let facts = |tier, damage, displaced, on: &str| ReferralFacts {
            tier,
            urban: true,
            school_stage: None,
            zero_employment_household: false,
            disaster: Some(DisasterFacts {
                house_damage: damage,
                displaced,
            }),
            on: d(on),
            support: None,
            group: None,
        };
        let grants = |f| -> Vec<(String, i64, u32)> {
            decide_all(Department::Disaster, f, &p)
                .into_iter()
                .map(|g| match g {
                    Decision::Granted {
                        kind,
                        amount,
                        months,
                        ..
                    } => (kind, amount.0, months),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let g = |k: &str, a: i64, m: u32| (k.to_owned(), a, m);
        #[rustfmt::skip]
        let cases = [
            // Collapsed, displaced, in July (out of season), dibao: emergency, 3 × 600 yuan, 30 000 yuan rebuilding.
            (facts(Tier::Dibao, HouseDamage::Collapsed, true, "2025-07-20"),
             vec![g("disaster_emergency_relief", 50_000, 0), g(TRANSITIONAL_AID, 180_000, 3), g(REBUILDING_AID, 3_000_000, 0)]),
            // Severely damaged, not displaced, in January: no transitional aid; winter-spring aid to the end of May (5 months).
            (facts(Tier::Marginal, HouseDamage::SeverelyDamaged, false, "2026-01-10"),
             vec![g("disaster_emergency_relief", 50_000, 0), g(WINTER_SPRING_AID, 50_000, 5), g(REBUILDING_AID, 1_500_000, 0)]),
            // Damaged only, in December: emergency relief and winter-spring aid (Dec..May = 6 months).
            (facts(Tier::Destitute, HouseDamage::Damaged, true, "2025-12-01"),
             vec![g("disaster_emergency_relief", 50_000, 0), g(WINTER_SPRING_AID, 50_000, 6)]),
            // Not low-income: general aid only, the lower rebuilding figure, no winter-spring hardship aid.
            (facts(Tier::None, HouseDamage::Collapsed, true, "2026-02-01"),
             vec![g("disaster_emergency_relief", 50_000, 0), g(TRANSITIONAL_AID, 180_000, 3), g(REBUILDING_AID, 2_000_000, 0)]),
            (facts(Tier::None, HouseDamage::SeverelyDamaged, false, "2025-08-01"),
             vec![g("disaster_emergency_relief", 50_000, 0), g(REBUILDING_AID, 1_000_000, 0)]),
        ];
        for (i, (f, want)) in cases.into_iter().enumerate() {
            assert_eq!(grants(f), want, "case {i}");
        }
        // Without circumstances: the emergency relief alone, for low-income people only.
        let mut plain = facts(Tier::Dibao, HouseDamage::None, false, "2025-07-20");
        plain.disaster = None;
        assert_eq!(
            grants(plain),
            vec![g("disaster_emergency_relief", 50_000, 0)]
        );
        plain.tier = Tier::None;
        assert!(matches!(
            decide_all(Department::Disaster, plain, &p)[..],
            [Decision::Rejected { .. }]
        ));
    }

    #[test]
    fn charity_offers_meet_the_oldest_needs_in_their_area_within_capacity() {
        /// Needs' regions, offers' (area, capacity), the (need, offer) pairs expected.
        type Case = (
            &'static [&'static str],
            &'static [(&'static str, u32)],
            &'static [(usize, usize)],
        );
        #[rustfmt::skip]
        let cases: [Case; 6] = [
            // One offer for the county, capacity 2: the two oldest needs inside it.
            (&["410102001", "410102002", "410102003"], &[("410102", 2)], &[(0, 0), (1, 0)]),
            // A need outside the area is left for another offer.
            (&["410103001", "410102002"], &[("410102", 5)], &[(1, 0)]),
            // The city-wide offer takes what the county offer cannot; the oldest offer first.
            (&["410102001", "410105001", "410102002"], &[("410102", 1), ("4101", 5)], &[(0, 0), (1, 1), (2, 1)]),
            // No capacity, nothing matched.
            (&["410102001"], &[("410102", 0)], &[]),
            // An empty area covers nothing.
            (&["410102001"], &[("", 3)], &[]),
            // No offers.
            (&["410102001"], &[], &[]),
        ];
        for (i, (needs, offers, want)) in cases.into_iter().enumerate() {
            assert_eq!(match_needs(needs, offers), want, "case {i}");
        }
    }
}
