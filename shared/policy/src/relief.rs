//! Specialist relief departments and what each grants for a referral.

use crate::determination::SchoolStage;
use crate::{Fen, ParameterSet, Tier};
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
}

pub fn decide(dept: Department, r: ReferralFacts, p: &ParameterSet) -> Decision {
    if !r.tier.is_low_income() {
        return Decision::Rejected {
            reason: "the household is not low-income".into(),
        };
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
mod tests {
    use super::*;
    use crate::{PolicyBook, RegionCode};

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
}
