//! The rules as the texts write them (issue 14): each test quotes, verbatim, the words of the
//! seed it implements (000 Tianjin, 001 Shenzhen, 002 Zhengzhou, 003 Yicheng, 004 Jiangmen).
//! Figures are from `data/test-set.toml` (standard 1000 yuan urban, 800 rural) unless a test
//! reads a region's built-in set.

#![allow(clippy::unwrap_used, clippy::too_many_lines, reason = "tests")]

use chrono::NaiveDate;
use policy::determination::{
    determine, Group, HouseholdFacts, MemberFacts, MemberFlags, OtherSupportLine, Payee, SelfCare,
    SupportArrangement,
};
use policy::params::{ActFirstRule, ExitTrigger, Rounding};
use policy::relief::{decide, Decision, ReferralFacts};
use policy::{
    act_first, gradual_exit, redetermine, ActFirstRefusal, AidType, Department, ExitDecision, Fen,
    Month, ParameterSet, PolicyBook, PolicyError, RegionCode, ResidentId, Tier,
};

fn test_set(region: &str, version: &str, from: &str, urban: i64, rural: i64) -> String {
    include_str!("../data/test-set.toml")
        .replace("{region}", region)
        .replace("{version}", version)
        .replace("{effective_from}", from)
        .replace("{urban}", &urban.to_string())
        .replace("{rural}", &rural.to_string())
}

fn params() -> ParameterSet {
    PolicyBook::from_toml(&test_set("410000", "test-1", "2020-01-01", 100_000, 80_000))
        .unwrap()
        .sets()[0]
        .clone()
}

fn builtin(region: &str, on: &str) -> ParameterSet {
    PolicyBook::builtin()
        .in_force(&RegionCode::parse(region).unwrap(), day(on))
        .unwrap()
        .clone()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const ON: &str = "2026-06-01";

fn m(year: u32, income_fen: i64, flags: MemberFlags) -> MemberFacts {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1000;
    MemberFacts {
        member_id: format!("m{seq}"),
        id: ResidentId::from_body(&format!("410102{year:04}0315{seq:03}")).unwrap(),
        monthly_income: Fen(income_fen),
        pension_base: Fen::ZERO,
        employment_costs: Fen::ZERO,
        assets: Fen::ZERO,
        rigid_expenditure: Fen::ZERO,
        flags,
    }
}

fn adult(income_fen: i64) -> MemberFacts {
    m(1985, income_fen, MemberFlags::default())
}

fn flags(f: impl FnOnce(&mut MemberFlags)) -> MemberFlags {
    let mut x = MemberFlags::default();
    f(&mut x);
    x
}

fn household(urban: bool, on: &str, members: Vec<MemberFacts>) -> HouseholdFacts {
    HouseholdFacts {
        urban,
        on: day(on),
        members,
    }
}

fn destitute(f: impl FnOnce(&mut MemberFlags)) -> MemberFacts {
    m(
        1940,
        0,
        flags(|x| {
            x.no_work_ability = true;
            x.no_legal_supporter = true;
            f(x);
        }),
    )
}

// 1. 单人保 ----------------------------------------------------------------------------------

/// 000: "对成年无业重度残疾人可参照“单人户”提出最低生活保障申请,符合条件的纳入保障范围";
/// 001: "将低收入家庭中的重病、重残等特殊困难人员,参照“单人保”按程序纳入低保". Enrolled only
/// when they qualify as a one-person household: their own income below the standard.
#[test]
fn single_person_dibao_enrols_only_a_member_whose_own_income_qualifies_符合条件的纳入保障范围() {
    let p = params();
    // A seriously ill member of a marginal household (pc 1200 < 1500) with 1200 yuan of their own.
    let ill = |own| m(1980, own, flags(|f| f.serious_illness = true));
    let d = determine(&household(true, ON, vec![adult(120_000), ill(120_000)]), &p).unwrap();
    assert_eq!(d.tier, Tier::Marginal, "{}", d.rule);
    assert!(!d.members[1].tiers.contains(&Tier::SinglePersonDibao));
    assert_eq!(
        d.members[1].addon_reason, None,
        "no add-on without enrolment"
    );
    assert_eq!(d.monthly_amount, Fen::ZERO);
    assert!(d.rule.contains("not below standard"), "{}", d.rule);
    assert!(
        !d.rule.contains("below standard 1000.00 yuan; gap"),
        "{}",
        d.rule
    );
    // With 300 yuan of their own: enrolled, the gap 700 + the add-on 100.
    let d = determine(&household(true, ON, vec![adult(210_000), ill(30_000)]), &p).unwrap();
    assert_eq!(d.tier, Tier::SinglePersonDibao, "{}", d.rule);
    assert_eq!(d.members[1].individual_benefit, Fen(80_000));
    // Own income exactly at the standard: not below it, not enrolled.
    let d = determine(&household(true, ON, vec![adult(100_000), ill(100_000)]), &p).unwrap();
    assert!(
        !d.members[1].tiers.contains(&Tier::SinglePersonDibao),
        "{}",
        d.rule
    );
}

// 2. 成年无业重度残疾人 ----------------------------------------------------------------------

/// 000: "成年无业重度残疾人" — an adult severely disabled person without work, registered as
/// unemployed or not (most cannot register).
#[test]
fn an_adult_severely_disabled_person_without_work_need_not_be_registered_unemployed_成年无业重度残疾人(
) {
    let p = params();
    let disabled = |f: fn(&mut MemberFlags)| {
        m(
            1990,
            20_000,
            flags(|x| {
                x.severe_disability = true;
                f(x);
            }),
        )
    };
    // Household far above the lines; the member has no work and is not registered.
    let d = determine(
        &household(
            true,
            ON,
            vec![adult(500_000), disabled(|x| x.without_work = true)],
        ),
        &p,
    )
    .unwrap();
    assert_eq!(d.tier, Tier::SinglePersonDibao, "{}", d.rule);
    assert_eq!(d.monthly_amount, Fen(80_000 + 10_000));
    assert!(d.rule.contains("without work"), "{}", d.rule);
    // In work: not enrolled.
    let d = determine(
        &household(true, ON, vec![adult(500_000), disabled(|_| {})]),
        &p,
    )
    .unwrap();
    assert_eq!(d.tier, Tier::None, "{}", d.rule);
    // A minor is not an adult (成年).
    let child = m(
        2015,
        0,
        flags(|x| {
            x.severe_disability = true;
            x.without_work = true;
        }),
    );
    let d = determine(&household(true, ON, vec![adult(500_000), child]), &p).unwrap();
    assert_eq!(d.tier, Tier::None);
    // The region may not have this enrolment.
    let mut q = p.clone();
    q.single_person_dibao.adult_severely_disabled_without_work = false;
    let d = determine(
        &household(
            true,
            ON,
            vec![adult(500_000), disabled(|x| x.without_work = true)],
        ),
        &q,
    )
    .unwrap();
    assert_eq!(d.tier, Tier::None);
}

// 3. 公办公营养老机构集中供养 ------------------------------------------------------------------

/// 001: "公办公营养老机构集中供养的特困人员…实行免费供养,不同时享受特困人员护理费".
#[test]
fn a_destitute_person_in_a_public_institution_gets_no_care_fee_in_shenzhen_不同时享受特困人员护理费(
) {
    let sz = builtin("440304", "2025-01-01");
    assert!(!sz.care_fee_in_public_institution);
    let standard = sz.dibao_standard.urban;
    let basic = standard
        .times_permille(sz.destitute_multiple_permille)
        .unwrap();
    let public = destitute(|f| {
        f.self_care = SelfCare::None;
        f.support = Some(SupportArrangement::CentralisedPublic);
    });
    let d = determine(&household(true, "2025-01-01", vec![public]), &sz).unwrap();
    assert_eq!(d.tier, Tier::Destitute);
    assert_eq!(d.monthly_amount, basic, "{}", d.rule);
    assert_eq!(d.members[0].payee, Payee::CareInstitution);
    assert_eq!(
        d.members[0].support,
        Some(SupportArrangement::CentralisedPublic)
    );
    assert!(
        d.rule.contains("free support in a public institution"),
        "{}",
        d.rule
    );
    // Dispersed support: the care standard is added, paid to the person.
    let home = destitute(|f| f.self_care = SelfCare::None);
    let d = determine(&household(true, "2025-01-01", vec![home]), &sz).unwrap();
    assert_eq!(
        d.monthly_amount,
        basic.checked_add(sz.care_standard.no_self_care).unwrap()
    );
    assert_eq!(d.members[0].payee, Payee::Person);
    assert_eq!(d.members[0].support, Some(SupportArrangement::Dispersed));
    // Another institution (or the old `in_care_institution` flag): paid to the institution,
    // with the care standard.
    let other = destitute(|f| {
        f.self_care = SelfCare::None;
        f.in_care_institution = true;
    });
    let d = determine(&household(true, "2025-01-01", vec![other]), &sz).unwrap();
    assert_eq!(
        d.members[0].support,
        Some(SupportArrangement::CentralisedOther)
    );
    assert_eq!(d.members[0].payee, Payee::CareInstitution);
    assert_eq!(
        d.monthly_amount,
        basic.checked_add(sz.care_standard.no_self_care).unwrap()
    );
    // The care fee is a switch of its own.
    let mut q = sz.clone();
    q.care_fee_enabled = false;
    let d = determine(&household(true, "2025-01-01", vec![destitute(|_| {})]), &q).unwrap();
    assert_eq!(d.monthly_amount, basic);
}

// 4. 城市分散供养特困人员 ---------------------------------------------------------------------

/// 002: "对符合当地住房保障条件的城市低保家庭、城市分散供养特困人员、城市低保边缘家庭和刚性支出
/// 困难家庭…给予住房救助": housing relief for destitute persons in dispersed support only.
#[test]
fn housing_relief_for_destitute_persons_is_for_dispersed_support_only_城市分散供养特困人员() {
    let p = params();
    let with = |support| {
        destitute(|f| {
            f.housing_hardship = true;
            f.support = Some(support);
        })
    };
    let lines = |support| {
        determine(&household(true, ON, vec![with(support)]), &p)
            .unwrap()
            .members[0]
            .relief_lines
            .clone()
    };
    assert_eq!(
        lines(SupportArrangement::Dispersed),
        vec![Department::Housing]
    );
    assert!(lines(SupportArrangement::CentralisedPublic).is_empty());
    assert!(lines(SupportArrangement::CentralisedOther).is_empty());
    // The department's rule reads the arrangement the push carries.
    let facts = |support| ReferralFacts {
        tier: Tier::Destitute,
        urban: true,
        school_stage: None,
        zero_employment_household: false,
        disaster: None,
        on: day(ON),
        support,
        group: None,
    };
    assert!(matches!(
        decide(
            Department::Housing,
            facts(Some(SupportArrangement::Dispersed)),
            &p
        ),
        Decision::Granted { .. }
    ));
    assert!(matches!(
        decide(
            Department::Housing,
            facts(Some(SupportArrangement::CentralisedOther)),
            &p
        ),
        Decision::Rejected { .. }
    ));
    // A push without the arrangement (older messages): decided by an officer, not granted.
    assert!(matches!(
        decide(Department::Housing, facts(None), &p),
        Decision::Review { .. }
    ));
}

// 5. Guards ----------------------------------------------------------------------------------

/// 001: "特困人员基本生活标准按不低于当地最低生活保障标准的1.6倍确定".
#[test]
fn a_set_whose_destitute_standard_is_below_the_floor_does_not_load_不低于当地最低生活保障标准的1点6倍(
) {
    let text = test_set("410000", "low", "2020-01-01", 100_000, 80_000).replacen(
        "destitute_multiple_permille = 1600",
        "destitute_multiple_permille = 1500",
        1,
    );
    let err = PolicyBook::from_toml(&text).unwrap_err();
    let PolicyError::Guard {
        version,
        rule,
        detail,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(version, "low");
    assert!(rule.contains("不低于当地最低生活保障标准的1.6倍"), "{rule}");
    assert!(
        detail.contains("1500‰") && detail.contains("1600‰"),
        "{detail}"
    );
    assert!(
        detail.contains("1500.00 yuan") && detail.contains("1600.00 yuan"),
        "{detail}"
    );
}

/// 004: "执行不低于江门市政府确定公布的保障标准": a county's standard is not below its city's for
/// the same days.
#[test]
fn a_county_set_below_its_citys_standard_does_not_load_执行不低于江门市政府确定公布的保障标准() {
    let city = test_set("440700", "city-1", "2024-01-01", 90_000, 80_000);
    let city2 = test_set("440700", "city-2", "2025-01-01", 95_000, 85_000);
    // The county at 92 000 is above the city's first standard but below its second.
    let county = test_set("440703", "county-1", "2024-06-01", 92_000, 85_000);
    let err = PolicyBook::from_toml(&format!("{city}\n{city2}\n{county}")).unwrap_err();
    let PolicyError::Guard {
        version,
        rule,
        detail,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(version, "county-1");
    assert!(
        rule.contains("执行不低于江门市政府确定公布的保障标准"),
        "{rule}"
    );
    assert!(
        detail.contains("920.00 yuan")
            && detail.contains("950.00 yuan")
            && detail.contains("city-2"),
        "{detail}"
    );
    assert!(err.to_string().contains("county-1"));
    // Replaced before the city raised its standard: fine.
    let county2 = test_set("440703", "county-2", "2025-01-01", 95_000, 85_000);
    PolicyBook::from_toml(&format!("{city}\n{city2}\n{county}\n{county2}")).unwrap();
    // A county set ending before the city's set begins is not held to it.
    let early = test_set("440703", "county-0", "2023-01-01", 10_000, 10_000);
    let county3 = test_set("440703", "county-3", "2024-01-01", 95_000, 85_000);
    PolicyBook::from_toml(&format!("{city}\n{city2}\n{early}\n{county3}")).unwrap();
}

// 6. Provenance ------------------------------------------------------------------------------

#[test]
fn every_builtin_parameter_has_a_source_or_is_marked_local() {
    let book = PolicyBook::builtin();
    for s in book.sets() {
        for key in s.raw.keys() {
            if [
                "region",
                "name",
                "version",
                "effective_from",
                "example_values",
                "document",
                "sources",
            ]
            .contains(&key.as_str())
            {
                continue;
            }
            let src = s.source(key).unwrap();
            assert!(
                src.starts_with("local") || src.starts_with("00"),
                "{} {key}: {src}",
                s.version
            );
        }
        // None of the five texts gives the marginal multiple or an asset limit.
        assert!(s
            .source("marginal_multiple_permille")
            .unwrap()
            .starts_with("local"));
        assert!(s.source("asset_limit_months").unwrap().starts_with("local"));
    }
}

#[test]
fn a_set_with_a_parameter_without_a_source_does_not_load() {
    let text = test_set("410000", "t", "2020-01-01", 100_000, 80_000);
    let unsourced = text.replacen(
        "marginal_multiple_permille = \"local",
        "# removed = \"local",
        1,
    );
    assert_eq!(
        PolicyBook::from_toml(&unsourced).unwrap_err(),
        PolicyError::Unsourced {
            version: "t".into(),
            parameter: "marginal_multiple_permille".into()
        }
    );
    let vague = text.replacen(
        "marginal_multiple_permille = \"local: none",
        "marginal_multiple_permille = \"somewhere: none",
        1,
    );
    assert!(matches!(
        PolicyBook::from_toml(&vague),
        Err(PolicyError::Invalid { problem, .. }) if problem.contains("marginal_multiple_permille")
    ));
    let misnamed = text.replacen(
        "[set.sources]",
        "[set.sources]\nmarginal_multiple = \"local\"",
        1,
    );
    assert!(matches!(
        PolicyBook::from_toml(&misnamed),
        Err(PolicyError::Invalid { problem, .. }) if problem.contains("not a parameter")
    ));
}

/// 002: "落实分类施保,继续执行对低保对象中的重度残疾人、重病患者以及70周岁以上老年人、在校大学生、
/// 未成年人等困难群体,每人每月增发100元低保金的救助政策" — Zhengzhou's alone.
#[test]
fn the_classified_add_on_is_zhengzhous_and_off_elsewhere_每人每月增发100元低保金() {
    let zz = builtin("410102", "2025-01-01");
    assert!(zz.classified_addon_enabled);
    assert!(zz
        .source("classified_addon")
        .unwrap()
        .contains("每人每月增发100元低保金"));
    let old = m(1950, 0, MemberFlags::default());
    let d = determine(&household(true, "2025-01-01", vec![old.clone()]), &zz).unwrap();
    assert_eq!(
        d.monthly_amount,
        zz.dibao_standard
            .urban
            .checked_add(zz.classified_addon)
            .unwrap()
    );
    for region in ["120101", "440304", "370404", "440703"] {
        let p = builtin(region, "2025-01-01");
        assert!(!p.classified_addon_enabled, "{region}");
        let d = determine(&household(true, "2025-01-01", vec![old.clone()]), &p).unwrap();
        assert_eq!(
            d.monthly_amount, p.dibao_standard.urban,
            "{region}: {}",
            d.rule
        );
        assert_eq!(d.members[0].addon_reason, None);
    }
}

// 7. Income exclusions -----------------------------------------------------------------------

/// 001: "“十四五”时期中央确定的城乡居民基本养老保险基础养老金不计入低保家庭、特困人员收入".
#[test]
fn the_pension_base_is_left_out_only_in_the_period_up_to_the_cap_and_for_the_tiers_named_十四五时期(
) {
    let mut p = params();
    p.pension_exclusion.from = day("2021-01-01");
    p.pension_exclusion.to = day("2025-12-31");
    p.pension_exclusion.cap = Fen(10_300);
    let pensioner = |base| MemberFacts {
        pension_base: Fen(base),
        ..m(1950, 105_000, MemberFlags::default())
    };
    // In the period: 103 yuan not counted (of 150 claimed), 1050 − 103 = 947 < 1000: dibao.
    let d = determine(&household(true, "2025-06-01", vec![pensioner(15_000)]), &p).unwrap();
    assert_eq!(d.tier, Tier::Dibao, "{}", d.rule);
    assert_eq!(d.per_capita_income, Fen(94_700));
    assert!(d.fired.iter().any(|f| f.rule == "pension_exclusion"));
    // After the 14th Five-Year Plan: counted in full, 1050 ≥ 1000: not dibao.
    let d = determine(&household(true, "2026-01-01", vec![pensioner(15_000)]), &p).unwrap();
    assert_ne!(d.tier, Tier::Dibao, "{}", d.rule);
    // The marginal test is not one of the tiers named: the pension is counted there.
    let mut q = p.clone();
    q.marginal_multiple_permille = 1052;
    let d = determine(
        &household(
            true,
            "2025-06-01",
            vec![m(1950, 105_100, MemberFlags::default())],
        ),
        &q,
    )
    .unwrap();
    assert_eq!(d.tier, Tier::Marginal, "{}", d.rule);
    let with_base = MemberFacts {
        pension_base: Fen(200),
        ..m(1950, 105_300, MemberFlags::default())
    };
    // 1053 counted for marginal (line 1052): not marginal, though 1051 for dibao... still ≥ 1000.
    let d = determine(&household(true, "2025-06-01", vec![with_base]), &q).unwrap();
    assert_eq!(d.tier, Tier::None, "{}", d.rule);
    // Switched off for a region: counted in full.
    p.pension_exclusion.enabled = false;
    let d = determine(&household(true, "2025-06-01", vec![pensioner(15_000)]), &p).unwrap();
    assert_eq!(d.per_capita_income, Fen(105_000));
}

/// 001: "对于必要的就业成本等,在核算家庭收入时按规定适当扣减" — deducted up to a cap.
#[test]
fn employment_costs_are_deducted_up_to_the_cap_按规定适当扣减() {
    let mut p = params();
    p.employment_cost_deduction.cap = Fen(20_000);
    let worker = MemberFacts {
        employment_costs: Fen(50_000),
        ..adult(110_000)
    };
    let d = determine(&household(true, ON, vec![worker.clone()]), &p).unwrap();
    assert_eq!(
        d.per_capita_income,
        Fen(90_000),
        "only 200 of the 500 yuan claimed"
    );
    p.employment_cost_deduction.enabled = false;
    let d = determine(&household(true, ON, vec![worker]), &p).unwrap();
    assert_eq!(d.per_capita_income, Fen(110_000));
}

// 8. Gradual exit ----------------------------------------------------------------------------

/// 001: "对农村低保对象加强监测预警和动态管理,对家庭人均收入超过当地低保标准的,给予6个月的救助
/// 渐退期,不再符合条件的按程序退出".
#[test]
fn gradual_exit_is_for_rural_dibao_households_whose_income_exceeds_the_standard_in_shenzhen_给予6个月的救助渐退期(
) {
    let sz = builtin("440304", "2025-01-01");
    assert_eq!(sz.gradual_exit_trigger, ExitTrigger::IncomeAboveStandard);
    let s = sz.dibao_standard.rural.0;
    let on = day("2025-03-15");
    let rural = policy::redetermination::Exiting {
        tier: Tier::Dibao,
        urban: false,
    };
    // Above the standard: 6 more months (April to September), nothing from October.
    assert_eq!(
        gradual_exit(&sz, rural, Fen(2 * s + 2), 2, on).unwrap(),
        ExitDecision::Gradual {
            months: 6,
            stop_from_month: Month::parse("2025-10").unwrap()
        }
    );
    // Exactly at the standard: not below it (no longer eligible), not above it (超过): exits by
    // the procedure.
    assert_eq!(
        gradual_exit(&sz, rural, Fen(2 * s), 2, on).unwrap(),
        ExitDecision::Exits {
            stop_from_month: Month::parse("2025-04").unwrap()
        }
    );
    // Still below: stays.
    assert_eq!(
        gradual_exit(&sz, rural, Fen(2 * s - 2), 2, on).unwrap(),
        ExitDecision::Stays
    );
    // Urban dibao and single-person dibao are outside Shenzhen's scope.
    let urban = policy::redetermination::Exiting {
        tier: Tier::Dibao,
        urban: true,
    };
    assert!(matches!(
        gradual_exit(&sz, urban, Fen(3 * s), 2, on).unwrap(),
        ExitDecision::Exits { .. }
    ));
    let single = policy::redetermination::Exiting {
        tier: Tier::SinglePersonDibao,
        urban: false,
    };
    assert!(matches!(
        gradual_exit(&sz, single, Fen(2 * s), 1, on).unwrap(),
        ExitDecision::Exits { .. }
    ));
    // Zhengzhou's set extends it to single-person dibao members (a local choice).
    let zz = builtin("410102", "2025-01-01");
    let single_zz = policy::redetermination::Exiting {
        tier: Tier::SinglePersonDibao,
        urban: true,
    };
    assert!(matches!(
        gradual_exit(
            &zz,
            single_zz,
            zz.dibao_standard.urban.checked_add(Fen(1)).unwrap(),
            1,
            on
        )
        .unwrap(),
        ExitDecision::Gradual { months: 6, .. }
    ));
}

// 9. Emergency aid ---------------------------------------------------------------------------

/// 002: "对于救助金额不高于当地3倍月低保标准的临时救助事项,由乡镇(街道)实行“先行救助”";
/// 001: "对急难型临时救助实行“先行救助”,事后补充说明情况;对支出型临时救助,按照审核审批程序办理".
#[test]
fn act_first_follows_each_regions_rule_先行救助() {
    let zz = builtin("410102", "2025-01-01");
    assert_eq!(zz.act_first_rule, ActFirstRule::AmountWithinMultiple);
    let limit = zz.dibao_standard.urban.checked_mul(3).unwrap();
    let at = act_first(&zz, Some(true), None, limit).unwrap();
    assert!(at.act_first && at.limit == Some(limit));
    let above = act_first(&zz, Some(true), None, limit.checked_add(Fen(1)).unwrap()).unwrap();
    assert!(!above.act_first && above.reason.contains("case by case"));
    // Rural: three times the rural standard.
    let rural = act_first(&zz, Some(false), None, limit).unwrap();
    assert_eq!(
        rural.limit,
        Some(zz.dibao_standard.rural.checked_mul(3).unwrap())
    );

    let sz = builtin("440304", "2025-01-01");
    assert_eq!(sz.act_first_rule, ActFirstRule::EmergencyType);
    let big = Fen(100_000_000);
    assert!(
        act_first(&sz, Some(true), Some(AidType::Emergency), big)
            .unwrap()
            .act_first
    );
    assert!(
        !act_first(&sz, Some(true), Some(AidType::Expenditure), Fen(100))
            .unwrap()
            .act_first
    );
    assert_eq!(
        act_first(&sz, Some(true), None, Fen(100)),
        Err(ActFirstRefusal::AidTypeMissing)
    );
    // A report that does not say urban or rural is refused, never taken for urban.
    assert_eq!(
        act_first(&zz, None, None, Fen(100)),
        Err(ActFirstRefusal::UrbanRuralMissing)
    );
    assert_eq!(
        act_first(&sz, None, Some(AidType::Emergency), Fen(100)),
        Err(ActFirstRefusal::UrbanRuralMissing)
    );
}

// 10. Lines the texts name -------------------------------------------------------------------

/// 002: "低收入人口包括…防止返贫监测对象…以及其他困难人员"; "防止返贫监测对象(脱贫不稳定户、边缘
/// 易致贫户、突发严重困难户)认定由农业农村部门按照省、市现行政策规定执行".
#[test]
fn return_to_poverty_objects_and_other_hardship_persons_are_referred_by_their_groups_rule_防止返贫监测对象(
) {
    let zz = builtin("410102", "2025-01-01");
    let object = m(
        1980,
        0,
        flags(|f| {
            f.return_to_poverty_monitoring = true;
            f.serious_illness = true;
            f.housing_hardship = true;
        }),
    );
    // A household above every line: no tier, but the group is recognised and referred.
    let d = determine(
        &household(true, "2025-01-01", vec![adult(900_000), object]),
        &zz,
    )
    .unwrap();
    assert_eq!(d.tier, Tier::None);
    assert_eq!(d.members[1].groups, vec![Group::ReturnToPoverty]);
    assert_eq!(
        d.members[1].relief_lines,
        vec![Department::Medical],
        "housing is not named for the group"
    );
    assert!(d.members[0].relief_lines.is_empty());
    let other = m(
        2010,
        0,
        flags(|f| {
            f.other_hardship = true;
            f.in_school = true;
        }),
    );
    let d = determine(
        &household(true, "2025-01-01", vec![adult(900_000), other]),
        &zz,
    )
    .unwrap();
    assert_eq!(d.members[1].groups, vec![Group::OtherHardship]);
    assert_eq!(d.members[1].relief_lines, vec![Department::Education]);
    // The department decides a group member's referral like a low-income person's.
    let facts = ReferralFacts {
        tier: Tier::None,
        urban: true,
        school_stage: None,
        zero_employment_household: false,
        disaster: None,
        on: day("2025-01-01"),
        support: None,
        group: Some(Group::OtherHardship),
    };
    assert!(matches!(
        decide(Department::Education, facts, &zz),
        Decision::Granted { .. }
    ));
    assert!(matches!(
        decide(Department::Housing, facts, &zz),
        Decision::Rejected { .. }
    ));
}

/// 002: "对符合条件的低保对象、特困人员、低保边缘家庭成员、刚性支出困难家庭成员,根据我市有关政策
/// 发放冬季取暖补贴、减免基本殡葬服务费用、给予用电用水用气(管道天然气)价格补贴等救助帮扶。鼓励有
/// 条件的开发区管委会、区县(市)人民政府将困难残疾人生活补贴、残疾儿童康复救助、困难重度残疾人家庭
/// 无障碍改造等帮扶措施延伸至低保边缘家庭成员等".
#[test]
fn heating_funeral_utility_and_disability_support_follow_zhengzhous_text_冬季取暖补贴() {
    let zz = builtin("410102", "2025-01-01");
    let s = zz.dibao_standard.urban.0;
    let disabled = m(1980, 0, flags(|f| f.severe_disability = true));
    // A marginal household (pc between the standard and 1.5 ×) with a severely disabled member
    // whose own income qualifies him alone: but first, marginal members get the subsidies.
    let d = determine(
        &household(
            true,
            "2025-01-01",
            vec![
                adult(s * 5 / 2),
                m(1985, 0, MemberFlags::default()),
                disabled,
            ],
        ),
        &zz,
    )
    .unwrap();
    let all = [
        OtherSupportLine::HeatingSubsidy,
        OtherSupportLine::FuneralFeeWaiver,
        OtherSupportLine::UtilitySubsidy,
    ];
    assert_eq!(d.members[0].other_support, all.to_vec(), "{}", d.rule);
    assert!(d.members[2]
        .other_support
        .contains(&OtherSupportLine::DisabilitySupport));
    // Elsewhere the lines are off (local choice), and no household above the lines gets them.
    let ty = builtin("370404", "2025-01-01");
    let d = determine(&household(true, "2025-01-01", vec![adult(0)]), &ty).unwrap();
    assert!(d.members[0].other_support.is_empty());
    let d = determine(&household(true, "2025-01-01", vec![adult(s * 10)]), &zz).unwrap();
    assert!(d.members[0].other_support.is_empty());
}

/// 001: "落实好社会救助保障标准与物价上涨挂钩的联动机制,确保及时足额向困难群众发放价格临时补贴".
#[test]
fn price_linked_temporary_subsidies_are_paid_when_prices_rise_价格临时补贴() {
    let sz = builtin("440304", "2025-01-01");
    let ps = &sz.other_support.price_subsidy;
    assert!(ps.enabled);
    let trigger = ps.trigger_cpi_rise_permille;
    let per = ps.monthly_per_person;
    use policy::determination::price_subsidy;
    assert_eq!(
        price_subsidy(&sz, Tier::Dibao, 3, trigger).unwrap(),
        per.checked_mul(3).unwrap()
    );
    assert_eq!(
        price_subsidy(&sz, Tier::Dibao, 3, trigger - 1).unwrap(),
        Fen::ZERO
    );
    assert_eq!(
        price_subsidy(&sz, Tier::None, 3, trigger).unwrap(),
        Fen::ZERO
    );
    let zz = builtin("410102", "2025-01-01");
    assert_eq!(
        price_subsidy(&zz, Tier::Dibao, 3, trigger).unwrap(),
        Fen::ZERO,
        "not in 002"
    );
}

// 11. Rounding -------------------------------------------------------------------------------

/// Truncating per-capita income overpaid by up to (members − 1) fen and let an asset total up
/// to (members − 1) fen over the limit pass. The set states the rule; it is applied once.
#[test]
fn per_capita_figures_are_rounded_once_by_the_sets_rule() {
    let p = params();
    assert_eq!(p.per_capita_rounding, Rounding::PerCapitaUp);
    // Three members, 1000.01 yuan in all: per capita 333.33⅔ → 333.34; gap 666.66 × 3.
    let h = household(true, ON, vec![adult(100_001), adult(0), adult(0)]);
    let d = determine(&h, &p).unwrap();
    assert_eq!(d.per_capita_income, Fen(33_334));
    assert_eq!(d.monthly_amount, Fen(66_666 * 3));
    // Exact totals: 3000.00 − 1000.01 = 1999.99.
    let mut t = p.clone();
    t.per_capita_rounding = Rounding::Totals;
    assert_eq!(determine(&h, &t).unwrap().monthly_amount, Fen(199_999));
    // Assets: limit 24 000 yuan each; three members with 72 000.01 yuan in all are over it.
    let assets = |total| {
        household(
            true,
            ON,
            vec![
                MemberFacts {
                    assets: Fen(total),
                    ..adult(0)
                },
                adult(0),
                adult(0),
            ],
        )
    };
    assert_eq!(determine(&assets(7_200_001), &p).unwrap().tier, Tier::None);
    assert_eq!(determine(&assets(7_200_000), &p).unwrap().tier, Tier::Dibao);
    assert_eq!(determine(&assets(7_200_001), &t).unwrap().tier, Tier::None);
    // Income a fraction of a fen below the standard per person: 2999.99 for 3.
    let near = household(true, ON, vec![adult(299_999), adult(0), adult(0)]);
    // Rounded up to 1000.00: not below the standard.
    assert_eq!(determine(&near, &p).unwrap().tier, Tier::Marginal);
    // Totals: below by 1 fen in all, paid 1 fen.
    let d = determine(&near, &t).unwrap();
    assert_eq!((d.tier, d.monthly_amount), (Tier::Dibao, Fen(1)));
}

// 12. Effective dates ------------------------------------------------------------------------

#[test]
fn a_set_cannot_take_effect_before_its_document_was_issued() {
    let text = test_set("410000", "early", "2020-01-01", 100_000, 80_000).replacen(
        "issued = \"2000-01-01\"",
        "issued = \"2024-09-02\"",
        1,
    );
    assert!(matches!(
        PolicyBook::from_toml(&text),
        Err(PolicyError::Guard { version, detail, .. }) if version == "early" && detail.contains("2024-09-02")
    ));
    // The built-in sets, with the dates their texts carry.
    let book = PolicyBook::builtin();
    for (version, doc, issued) in [
        ("tj-2023-01", "000", "2023-10-19"),
        ("sz-2021-07", "001", "2021-08-31"),
        ("zz-2024-01", "002", "2024-09-02"),
        ("yc-2020-07", "003", "2020-08-06"),
        ("jm-2018-07", "004", "2018-08-20"),
    ] {
        let s = book.by_version(version).unwrap();
        assert_eq!(
            (s.document.id.as_str(), s.document.issued),
            (doc, day(issued))
        );
        assert!(s.effective_from >= s.document.issued);
    }
}

// 13. Re-determination -----------------------------------------------------------------------

/// A death in a three-person dibao household: from the next month, the two-person amount.
#[test]
fn a_death_in_a_three_person_dibao_household_pays_the_two_person_amount_from_next_month() {
    let p = params();
    let head = adult(60_000);
    let before = household(true, ON, vec![head.clone(), adult(0), adult(0)]);
    let after = household(true, ON, vec![head, adult(0)]);
    let r = redetermine(&before, &after, &p, Month::parse("2026-06").unwrap()).unwrap();
    // pc 200 → gap 800 × 3; then pc 300 → gap 700 × 2.
    assert_eq!(r.before.monthly_amount, Fen(240_000));
    assert_eq!(r.after.monthly_amount, Fen(140_000));
    assert_eq!(r.from_month, Month::parse("2026-07").unwrap());
    assert!(!r.stops && !r.starts && r.gradual_exit.is_none());
    // Income rising above the standard: a gradual exit, not a stop.
    let richer = household(true, ON, vec![adult(260_000), adult(0)]);
    let r = redetermine(&before, &richer, &p, Month::parse("2026-06").unwrap()).unwrap();
    assert!(!r.stops);
    assert!(
        matches!(
            r.gradual_exit,
            Some(ExitDecision::Gradual { months: 6, .. })
        ),
        "{r:?}"
    );
}
