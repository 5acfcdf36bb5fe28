//! Table-driven tests of every determination rule, with hand-computed figures, and property
//! tests. The parameter set is fixed here (standard 1000 yuan urban, 800 rural) so each
//! expected amount can be checked by hand against DOMAIN.md's rules: 1.6 × standard for
//! destitute persons, 1.5 × for the marginal line, +100 yuan classified add-on, aged 70+.

#![allow(clippy::unwrap_used, clippy::too_many_lines, reason = "tests")]

use chrono::NaiveDate;
use policy::determination::{determine, HouseholdFacts, MemberFacts, MemberFlags, Payee, SelfCare};
use policy::{Department, Fen, MoneyOverflow, ParameterSet, PolicyBook, ResidentId, Tier};
use proptest::prelude::*;

/// `data/test-set.toml` as the province of Henan, standard 1000 yuan urban and 800 rural.
fn params() -> ParameterSet {
    let text = include_str!("../data/test-set.toml")
        .replace("{region}", "410000")
        .replace("{version}", "test-1")
        .replace("{effective_from}", "2020-01-01")
        .replace("{urban}", "100000")
        .replace("{rural}", "80000");
    PolicyBook::from_toml(&text).unwrap().sets()[0].clone()
}

const ON: &str = "2026-06-01";

/// A member born in `year`, with income in yuan and flags.
fn m(year: u32, income_yuan: i64, flags: MemberFlags) -> MemberFacts {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1000;
    MemberFacts {
        member_id: format!("m{seq}"),
        id: ResidentId::from_body(&format!("410102{year:04}0315{seq:03}")).unwrap(),
        monthly_income: Fen::yuan(income_yuan).unwrap(),
        pension_base: Fen::ZERO,
        employment_costs: Fen::ZERO,
        assets: Fen::ZERO,
        rigid_expenditure: Fen::ZERO,
        flags,
    }
}

fn adult(income_yuan: i64) -> MemberFacts {
    m(1985, income_yuan, MemberFlags::default())
}

fn flags(f: impl FnOnce(&mut MemberFlags)) -> MemberFlags {
    let mut x = MemberFlags::default();
    f(&mut x);
    x
}

fn urban(members: Vec<MemberFacts>) -> HouseholdFacts {
    HouseholdFacts {
        urban: true,
        on: ON.parse::<NaiveDate>().unwrap(),
        members,
    }
}

struct Case {
    name: &'static str,
    household: HouseholdFacts,
    tier: Tier,
    classifications: &'static [Tier],
    /// Expected monthly benefit in yuan.
    amount_yuan: i64,
}

#[test]
fn every_rule_gives_the_hand_computed_tier_and_amount() {
    let p = params();
    let cases = vec![
        Case {
            name: "dibao: gap x members (pc 400, gap 600 x 3)",
            household: urban(vec![adult(1200), adult(0), adult(0)]),
            tier: Tier::Dibao,
            classifications: &[Tier::Dibao],
            amount_yuan: 1800,
        },
        Case {
            name: "dibao: +100 for each of severe disability, serious illness, 70+, college student, minor",
            household: urban(vec![
                m(1980, 0, flags(|f| f.severe_disability = true)),
                m(1980, 0, flags(|f| f.serious_illness = true)),
                m(1950, 0, MemberFlags::default()),
                m(2005, 0, flags(|f| f.college_student = true)),
                m(2015, 0, MemberFlags::default()),
                m(1985, 0, MemberFlags::default()),
            ]),
            tier: Tier::Dibao,
            classifications: &[Tier::Dibao],
            amount_yuan: 1000 * 6 + 100 * 5,
        },
        Case {
            name: "dibao at the rural standard (pc 300, gap 500 x 2)",
            household: HouseholdFacts { urban: false, ..urban(vec![adult(600), adult(0)]) },
            tier: Tier::Dibao,
            classifications: &[Tier::Dibao],
            amount_yuan: 1000,
        },
        Case {
            name: "income exactly at the standard is not dibao but marginal",
            household: urban(vec![adult(1000)]),
            tier: Tier::Marginal,
            classifications: &[Tier::Marginal],
            amount_yuan: 0,
        },
        Case {
            name: "marginal: pc 1200 is under 1.5 x 1000",
            household: urban(vec![adult(2400), adult(0)]),
            tier: Tier::Marginal,
            classifications: &[Tier::Marginal],
            amount_yuan: 0,
        },
        Case {
            name: "income exactly at 1.5 x the standard is not marginal",
            household: urban(vec![adult(1500)]),
            tier: Tier::None,
            classifications: &[],
            amount_yuan: 0,
        },
        Case {
            name: "rigid expenditure: pc 1600, after 1300 of medical spending pc 950 < 1000",
            household: urban(vec![
                adult(3200),
                MemberFacts { rigid_expenditure: Fen::yuan(1300).unwrap(), ..adult(0) },
            ]),
            tier: Tier::RigidExpenditure,
            classifications: &[Tier::RigidExpenditure],
            amount_yuan: 0,
        },
        Case {
            name: "rigid spending that leaves pc 1150 is not hardship",
            household: urban(vec![adult(3200), MemberFacts { rigid_expenditure: Fen::yuan(900).unwrap(), ..adult(0) }]),
            tier: Tier::None,
            classifications: &[],
            amount_yuan: 0,
        },
        Case {
            name: "marginal and rigid expenditure at once",
            household: urban(vec![adult(2400), MemberFacts { rigid_expenditure: Fen::yuan(800).unwrap(), ..adult(0) }]),
            tier: Tier::RigidExpenditure,
            classifications: &[Tier::RigidExpenditure, Tier::Marginal],
            amount_yuan: 0,
        },
        Case {
            name: "single-person dibao: seriously ill member of a marginal household (1000 + 100)",
            household: urban(vec![adult(2400), m(1980, 0, flags(|f| f.serious_illness = true))]),
            tier: Tier::SinglePersonDibao,
            classifications: &[Tier::SinglePersonDibao, Tier::Marginal],
            amount_yuan: 1100,
        },
        Case {
            name: "single-person dibao: unemployed severely disabled adult of a household above the lines",
            household: urban(vec![
                adult(5000),
                m(1990, 200, flags(|f| {
                    f.severe_disability = true;
                    f.registered_unemployed = true;
                })),
            ]),
            tier: Tier::SinglePersonDibao,
            classifications: &[Tier::SinglePersonDibao],
            amount_yuan: 800 + 100,
        },
        Case {
            name: "destitute, dispersed, fully self-caring: 1.6 x 1000 + 50",
            household: urban(vec![m(1950, 0, flags(|f| {
                f.no_work_ability = true;
                f.no_legal_supporter = true;
            }))]),
            tier: Tier::Destitute,
            classifications: &[Tier::Destitute],
            amount_yuan: 1650,
        },
        Case {
            name: "destitute, partly self-caring: 1600 + 300",
            household: urban(vec![m(1950, 0, flags(|f| {
                f.no_work_ability = true;
                f.no_legal_supporter = true;
                f.self_care = SelfCare::Partial;
            }))]),
            tier: Tier::Destitute,
            classifications: &[Tier::Destitute],
            amount_yuan: 1900,
        },
        Case {
            name: "a person with income is not destitute but dibao",
            household: urban(vec![m(1950, 300, flags(|f| {
                f.no_work_ability = true;
                f.no_legal_supporter = true;
            }))]),
            tier: Tier::Dibao,
            classifications: &[Tier::Dibao],
            amount_yuan: 700 + 100,
        },
        Case {
            name: "assets above 24 months of the standard exclude every tier",
            household: urban(vec![MemberFacts { assets: Fen::yuan(24_001).unwrap(), ..adult(0) }]),
            tier: Tier::None,
            classifications: &[],
            amount_yuan: 0,
        },
        Case {
            name: "assets of exactly 24 months of the standard are within the limit",
            household: urban(vec![MemberFacts { assets: Fen::yuan(24_000).unwrap(), ..adult(0) }]),
            tier: Tier::Dibao,
            classifications: &[Tier::Dibao],
            amount_yuan: 1000,
        },
    ];
    for c in cases {
        let d = determine(&c.household, &p).unwrap();
        assert_eq!(d.tier, c.tier, "{}: {}", c.name, d.rule);
        assert_eq!(d.classifications, c.classifications, "{}", c.name);
        assert_eq!(
            d.monthly_amount,
            Fen::yuan(c.amount_yuan).unwrap(),
            "{}: {}",
            c.name,
            d.rule
        );
        assert_eq!(d.policy_version, "test-1");
        assert!(!d.rule.is_empty());
    }
}

/// Two members declaring 2^62 fen each: their incomes add up past i64. The sum panicked (and
/// stalled intake's consumer); it is an error now, which the consumer turns into a dead letter.
#[test]
fn a_household_whose_figures_overflow_is_an_error_not_a_panic() {
    let p = params();
    let rich = || MemberFacts {
        monthly_income: Fen(4_611_686_018_427_387_904),
        ..adult(0)
    };
    assert_eq!(
        determine(&urban(vec![rich(), rich()]), &p).unwrap_err(),
        MoneyOverflow
    );
    let hoarder = || MemberFacts {
        assets: Fen(i64::MAX),
        ..adult(0)
    };
    assert_eq!(
        determine(&urban(vec![hoarder(), hoarder()]), &p).unwrap_err(),
        MoneyOverflow
    );
    // Employment costs are deducted only up to the set's cap (001: "按规定适当扣减"): an absurd
    // figure cannot take the income out of range any more.
    let costs = MemberFacts {
        employment_costs: Fen(i64::MAX),
        monthly_income: Fen(-2),
        ..adult(0)
    };
    assert!(determine(&urban(vec![costs]), &p).is_ok());
}

#[test]
fn the_pension_base_is_not_counted_and_employment_costs_are_deducted() {
    let p = params();
    let member = MemberFacts {
        pension_base: Fen::yuan(150).unwrap(),
        employment_costs: Fen::yuan(100).unwrap(),
        ..adult(1200)
    };
    let d = determine(&urban(vec![member]), &p).unwrap();
    assert_eq!(d.per_capita_income, Fen::yuan(950).unwrap());
    assert_eq!(d.tier, Tier::Dibao);
    assert_eq!(d.monthly_amount, Fen::yuan(50).unwrap());
}

#[test]
fn a_destitute_person_in_a_care_institution_is_paid_to_the_institution() {
    let p = params();
    let person = m(
        1940,
        0,
        flags(|f| {
            f.no_work_ability = true;
            f.no_legal_supporter = true;
            f.self_care = SelfCare::None;
            f.in_care_institution = true;
        }),
    );
    let d = determine(&urban(vec![person]), &p).unwrap();
    assert_eq!(d.tier, Tier::Destitute);
    assert_eq!(d.monthly_amount, Fen::yuan(1600 + 600).unwrap());
    assert_eq!(d.members[0].payee, Payee::CareInstitution);
    assert_eq!(d.members[0].individual_benefit, d.monthly_amount);
    assert!(d.rule.contains("care institution"));
}

#[test]
fn each_member_is_classified_with_the_household_and_gets_their_relief_lines() {
    let p = params();
    let d = determine(
        &urban(vec![
            adult(2400),
            m(1980, 0, flags(|f| f.serious_illness = true)),
            m(2012, 0, flags(|f| f.in_school = true)),
        ]),
        &p,
    )
    .unwrap();
    // pc 800: dibao for all; the ill member and the minor get the add-on.
    assert_eq!(d.tier, Tier::Dibao);
    assert!(d.members.iter().all(|x| x.tiers == vec![Tier::Dibao]));
    assert_eq!(d.members[1].relief_lines, vec![Department::Medical]);
    assert_eq!(d.members[2].relief_lines, vec![Department::Education]);
    assert_eq!(d.members[2].addon_reason.as_deref(), Some("minor"));
    assert_eq!(d.monthly_amount, Fen::yuan(200 * 3 + 200).unwrap());

    // Above every line, nobody is referred.
    let d = determine(
        &urban(vec![m(1980, 9000, flags(|f| f.serious_illness = true))]),
        &p,
    )
    .unwrap();
    assert_eq!(d.tier, Tier::None);
    assert!(d.members[0].relief_lines.is_empty());
}

#[test]
fn a_single_person_dibao_member_is_classified_apart_from_the_household() {
    let p = params();
    let d = determine(
        &urban(vec![
            adult(2400),
            m(1980, 0, flags(|f| f.severe_disability = true)),
        ]),
        &p,
    )
    .unwrap();
    assert_eq!(d.members[0].tiers, vec![Tier::Marginal]);
    assert_eq!(
        d.members[1].tiers,
        vec![Tier::SinglePersonDibao, Tier::Marginal]
    );
    assert_eq!(d.members[1].individual_benefit, Fen::yuan(1100).unwrap());
    assert_eq!(d.members[0].individual_benefit, Fen::ZERO);
}

fn arb_member() -> impl Strategy<Value = MemberFacts> {
    (
        0i64..400_000,
        0i64..50_000,
        0i64..2_000_000,
        any::<[bool; 6]>(),
        1940u32..2020,
    )
        .prop_map(|(income, rigid, assets, b, year)| {
            MemberFacts {
                rigid_expenditure: Fen(rigid),
                assets: Fen(assets),
                ..m(
                    year,
                    0,
                    MemberFlags {
                        severe_disability: b[0],
                        serious_illness: b[1],
                        registered_unemployed: b[2],
                        no_work_ability: b[3],
                        no_legal_supporter: b[4],
                        in_school: b[5],
                        ..Default::default()
                    },
                )
            }
            .with_income(income)
        })
}

trait WithIncome {
    fn with_income(self, fen: i64) -> Self;
}

impl WithIncome for MemberFacts {
    fn with_income(mut self, fen: i64) -> Self {
        self.monthly_income = Fen(fen);
        self
    }
}

proptest! {
    #[test]
    fn a_benefit_is_never_negative(members in proptest::collection::vec(arb_member(), 1..6), is_urban: bool) {
        let p = params();
        let d = determine(&HouseholdFacts { urban: is_urban, ..urban(members) }, &p).unwrap();
        prop_assert!(d.monthly_amount >= Fen::ZERO);
        prop_assert!(d.members.iter().all(|m| m.individual_benefit >= Fen::ZERO));
        prop_assert_eq!(d.tier == Tier::None, d.classifications.is_empty());
    }

    #[test]
    fn more_income_never_raises_the_dibao_benefit(
        members in proptest::collection::vec(arb_member(), 1..6),
        who in 0usize..6,
        extra in 1i64..200_000,
    ) {
        let p = params();
        let before = urban(members);
        let mut after = before.clone();
        let i = who % after.members.len();
        after.members[i].monthly_income = after.members[i].monthly_income.checked_add(Fen(extra)).unwrap();
        let (a, b) = (determine(&before, &p).unwrap(), determine(&after, &p).unwrap());
        if a.tier == Tier::Dibao && b.tier == Tier::Dibao {
            prop_assert!(b.monthly_amount <= a.monthly_amount, "{} then {}", a.monthly_amount, b.monthly_amount);
        }
        // Without members who could be enrolled alone, no tier pays more for more income.
        let alone = before.members.iter().any(|m| m.flags.severe_disability || m.flags.serious_illness);
        if !alone {
            prop_assert!(b.monthly_amount <= a.monthly_amount, "{} then {}", a.monthly_amount, b.monthly_amount);
        }
    }

    #[test]
    fn the_dibao_benefit_never_exceeds_the_standard_plus_add_on_per_member(members in proptest::collection::vec(arb_member(), 1..6)) {
        let p = params();
        let n = members.len() as i64;
        let d = determine(&urban(members), &p).unwrap();
        if d.tier == Tier::Dibao {
            prop_assert!(d.monthly_amount <= p.dibao_standard.urban.checked_add(p.classified_addon).unwrap().checked_mul(n).unwrap());
        }
    }
}

#[test]
fn a_household_whose_working_age_members_are_all_unemployed_is_zero_employment() {
    let p = params();
    let unemployed = || m(1985, 0, flags(|f| f.registered_unemployed = true));
    // Two unemployed adults, a child and a pensioner: nobody of working age in work.
    let h = urban(vec![
        unemployed(),
        unemployed(),
        m(2015, 0, MemberFlags::default()),
        m(1950, 0, MemberFlags::default()),
    ]);
    assert!(determine(&h, &p).unwrap().zero_employment_household);
    // One adult in work breaks it; an adult unable to work does not count.
    assert!(
        !determine(&urban(vec![unemployed(), adult(3000)]), &p)
            .unwrap()
            .zero_employment_household
    );
    let unable = m(1985, 0, flags(|f| f.no_work_ability = true));
    assert!(
        determine(&urban(vec![unemployed(), unable]), &p)
            .unwrap()
            .zero_employment_household
    );
    // Nobody of working age: not a zero-employment household.
    assert!(
        !determine(&urban(vec![m(1950, 0, MemberFlags::default())]), &p)
            .unwrap()
            .zero_employment_household
    );
}
