//! Parameter sets: every policy number, per region, with the date it takes effect.
//!
//! A set applies to the region code it names and everything inside it; the most specific region
//! wins, and within a region the set with the latest `effective_from` on or before the date asked
//! about. A new standard therefore applies from its date on and never to earlier months.

use crate::{Fen, RegionCode};
use chrono::NaiveDate;
use serde::Deserialize;

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
    /// Monthly dibao standard per person.
    pub dibao_standard: Standards,
    /// Dibao-marginal: per-capita income below this multiple of the standard (‰).
    pub marginal_multiple_permille: i64,
    /// Destitute persons' basic living standard as a multiple of the dibao standard (‰).
    pub destitute_multiple_permille: i64,
    /// Asset test: per-capita assets may not exceed this many months of the dibao standard.
    pub asset_limit_months: i64,
    /// Destitute persons' monthly care standard by self-care ability (照料护理标准).
    pub care_standard: CareStandards,
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
    /// Day of the month by which the monthly benefit must be paid.
    pub payment_due_day: u32,
    /// Day of the month before on which the monthly run for a month starts (payment's
    /// scheduler), so that instructions are ready well before `payment_due_day`.
    pub payment_run_day: u32,
    /// Day of the month paid for by which its monthly run must be completed; past it, or when
    /// the run failed, payment raises an alert. Before `payment_due_day`.
    pub payment_run_deadline_day: u32,
    /// Days a department has to answer a referral before it counts as an omission.
    pub referral_feedback_days: u32,
    /// Days a township has to verify a warning on site (上门核查) before it escalates to the county.
    pub warning_verify_days: u32,
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
}

/// The quarterly supervision score of a district (季度预警处置考核), out of
/// `warning_points + referral_points`: each part is its points times the share of its items
/// handled on time (full points when nothing fell due), less `escalation_penalty_points` for
/// each warning escalated to the county, never below zero.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisionScore {
    /// Points for warnings verified on site by their deadline.
    pub warning_points: i64,
    /// Points for referrals answered by their feedback deadline.
    pub referral_points: i64,
    /// Points taken off per warning escalated to the county.
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
    #[error("no parameter set covers region {region} on {date}")]
    NotCovered { region: String, date: NaiveDate },
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

    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let file: File = toml::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        for s in &file.set {
            s.validate()?;
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
        Ok(Self { sets: file.set })
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

    fn validate(&self) -> Result<(), PolicyError> {
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
        let sc = &self.supervision_score;
        if sc.warning_points < 0
            || sc.referral_points < 0
            || sc.escalation_penalty_points < 0
            || sc.warning_points.saturating_add(sc.referral_points) == 0
        {
            return bad("supervision_score points must be non-negative, with some points to score");
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
}
