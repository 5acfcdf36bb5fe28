//! Re-determination (动态调整): when a household changes — a member dies or leaves — it is
//! determined again from the facts its determination rested on ([`MemberBasis`] on each
//! [`DeterminedMember`]), under the parameter set in force, from the month the policy says
//! (`policy::redetermine`); `eligibility.household.redetermined` carries the before, the after
//! and the cause, and payment pays the new amount from `from_month`.

use crate::{DeterminedMember, HouseholdDetermined};
use chrono::NaiveDate;
use policy::determination::{Determination, HouseholdFacts, MemberFacts, MemberFlags};
use policy::redetermination::ExitDecision;
use policy::{Fen, Month, ResidentId, Tier};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a member's determination rested on: the verified figures and the circumstances.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberBasis {
    /// Verified monthly income, before the exclusions.
    pub monthly_income_fen: i64,
    #[serde(default)]
    pub pension_base_fen: i64,
    #[serde(default)]
    pub employment_costs_fen: i64,
    pub assets_fen: i64,
    #[serde(default)]
    pub rigid_expenditure_fen: i64,
    #[serde(default)]
    pub flags: MemberFlags,
}

impl MemberBasis {
    pub fn of(m: &MemberFacts) -> MemberBasis {
        MemberBasis {
            monthly_income_fen: m.monthly_income.0,
            pension_base_fen: m.pension_base.0,
            employment_costs_fen: m.employment_costs.0,
            assets_fen: m.assets.0,
            rigid_expenditure_fen: m.rigid_expenditure.0,
            flags: m.flags,
        }
    }
}

impl HouseholdDetermined {
    /// The household's facts as determined, for a determination on `on`; `None` when a
    /// member's basis is not carried (a determination made before it was) or an ID number does
    /// not parse.
    pub fn facts(&self, on: NaiveDate) -> Option<HouseholdFacts> {
        let members = self
            .members
            .iter()
            .map(|m| {
                let b = m.basis.as_ref()?;
                Some(MemberFacts {
                    member_id: m.member_id.to_string(),
                    id: ResidentId::parse(&m.id_number).ok()?,
                    monthly_income: Fen(b.monthly_income_fen),
                    pension_base: Fen(b.pension_base_fen),
                    employment_costs: Fen(b.employment_costs_fen),
                    assets: Fen(b.assets_fen),
                    rigid_expenditure: Fen(b.rigid_expenditure_fen),
                    flags: b.flags,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(HouseholdFacts {
            urban: self.urban,
            on,
            members,
        })
    }

    /// The household `decision` determines, effective from `effective_month`, decided by
    /// `decided_by`, for `members` (each already carrying its member decision,
    /// [`DeterminedMember::with_decision`]). Intake's determination and every re-determination
    /// are this one constructor.
    #[allow(clippy::too_many_arguments)]
    pub fn decided(
        application_id: Uuid,
        region_code: policy::RegionCode,
        urban: bool,
        decision: &Determination,
        effective_month: Month,
        decided_by: String,
        integrity_flags: Vec<String>,
        members: Vec<DeterminedMember>,
    ) -> HouseholdDetermined {
        HouseholdDetermined {
            application_id,
            region_code,
            urban,
            tier: decision.tier,
            classifications: decision.classifications.clone(),
            monthly_amount_fen: decision.monthly_amount.0,
            per_capita_income_fen: decision.per_capita_income.0,
            per_capita_assets_fen: decision.per_capita_assets.0,
            standard_fen: decision.standard.0,
            policy_version: decision.policy_version.clone(),
            rule: decision.rule.clone(),
            effective_month,
            decided_by,
            integrity_flags,
            zero_employment_household: decision.zero_employment_household,
            members,
        }
    }

    /// This household as `decision` determines it again from `from_month`, with the members
    /// `decision` names (same ids, names, relations and bases), decided by `decided_by`.
    pub fn again(
        &self,
        decision: &Determination,
        from_month: Month,
        decided_by: String,
    ) -> HouseholdDetermined {
        let members = decision
            .members
            .iter()
            .filter_map(|md| {
                let m = self
                    .members
                    .iter()
                    .find(|m| m.member_id.to_string() == md.member_id)?;
                Some(m.clone().with_decision(md))
            })
            .collect();
        HouseholdDetermined::decided(
            self.application_id,
            self.region_code.clone(),
            self.urban,
            decision,
            from_month,
            decided_by,
            self.integrity_flags.clone(),
            members,
        )
    }
}

impl DeterminedMember {
    /// A member as the application (or the officer recording a newcomer) describes them, before
    /// any decision: their school stage and self-care from `flags`, and what a determination
    /// rests on (`basis`).
    pub fn undecided(
        member_id: Uuid,
        id_number: String,
        name: String,
        relation: String,
        basis: MemberBasis,
    ) -> DeterminedMember {
        let flags = basis.flags;
        DeterminedMember {
            member_id,
            id_number,
            name,
            relation,
            tiers: Vec::new(),
            individual_benefit_fen: 0,
            payee: policy::determination::Payee::Person,
            addon_reason: None,
            relief_lines: Vec::new(),
            school_stage: flags.school_stage,
            self_care: (flags.self_care != policy::determination::SelfCare::Full)
                .then_some(flags.self_care),
            support: None,
            basis: Some(basis),
            groups: Vec::new(),
            other_support: Vec::new(),
        }
    }

    /// This member with what `md` decided for them: tiers, individual benefit, payee, add-on,
    /// relief lines, support arrangement, recognised groups and other assistance.
    pub fn with_decision(self, md: &policy::determination::MemberDecision) -> DeterminedMember {
        DeterminedMember {
            tiers: md.tiers.clone(),
            individual_benefit_fen: md.individual_benefit.0,
            payee: md.payee,
            addon_reason: md.addon_reason.clone(),
            relief_lines: md.relief_lines.clone(),
            support: md.support,
            groups: md.groups.clone(),
            other_support: md.other_support.clone(),
            ..self
        }
    }
}

/// Why a household was determined again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedeterminationCause {
    /// A member died (a `death` feed record).
    Death,
    /// A complete re-verification found other incomes or assets.
    Reverification,
    /// A child was born into the household (recorded by its township officer).
    Birth,
    /// A person joined the household (marriage, moving in; recorded by its township officer).
    MemberJoined,
    /// A member left the household (moving out; recorded by its township officer).
    MemberLeft,
    /// A departmental feed found a new severe disability or serious illness of a member.
    NewCircumstance,
}

impl RedeterminationCause {
    pub fn as_str(self) -> &'static str {
        match self {
            RedeterminationCause::Death => "death",
            RedeterminationCause::Reverification => "reverification",
            RedeterminationCause::Birth => "birth",
            RedeterminationCause::MemberJoined => "member_joined",
            RedeterminationCause::MemberLeft => "member_left",
            RedeterminationCause::NewCircumstance => "new_circumstance",
        }
    }
}

/// The household before the change, as it was paid.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeterminedBefore {
    pub tier: Tier,
    pub monthly_amount_fen: i64,
    pub per_capita_income_fen: i64,
    pub policy_version: String,
    /// The members it was determined for.
    pub member_ids: Vec<Uuid>,
}

/// `eligibility.household.redetermined`: a household determined again after a change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HouseholdRedetermined {
    /// Stable from the household and the cause: a redelivered feed record gives the same id.
    pub redetermination_id: Uuid,
    pub cause: RedeterminationCause,
    /// The member the change is about (the one who died).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<Uuid>,
    /// When the change happened.
    pub occurred_on: NaiveDate,
    /// The first month paid at the new amount (`after.effective_month`).
    pub from_month: Month,
    pub before: DeterminedBefore,
    /// The household as determined again: the members still in it, their tiers and amounts,
    /// under the parameter set in force for `from_month`.
    pub after: HouseholdDetermined,
    /// No cash assistance after the change (and no gradual exit): nothing is paid from
    /// `from_month` on.
    pub stops: bool,
    /// The income now exceeds the standard and the region's gradual exit applies: paid at the
    /// amount before for its months, nothing from its `stop_from_month`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gradual_exit: Option<ExitDecision>,
}
