//! The ranges of every payload of the contract ([`Bounded`]): a consumer dead-letters a message
//! out of range, with `field: rule` as the reason, before its handler sees it (the channels'
//! [`mesh::EventKind::check_bounds`] is this). `docs/asyncapi.yaml` states the same ranges on
//! the schemas; the numbers are the mesh's `bounds.*` settings ([`policy::bounds`]).
//!
//! Every payload implements it, so a new payload must say its ranges to be a channel's: one
//! without amounts or lists says so with an empty check.

use crate::*;
use policy::bounds::at;
use policy::Bounds;

pub trait Bounded {
    /// `Ok` when every amount, count and list is within `b`; otherwise `field: rule` of the first
    /// that is not.
    fn check(&self, b: &Bounds) -> Result<(), String>;
}

fn each<T>(
    list: &[T],
    name: &str,
    mut check: impl FnMut(&str, &T) -> Result<(), String>,
) -> Result<(), String> {
    for (i, item) in list.iter().enumerate() {
        check(&format!("{name}[{i}]"), item)?;
    }
    Ok(())
}

fn members(b: &Bounds, n: usize) -> Result<(), String> {
    at("members", b.members(n))
}

impl Bounded for ApplicationSubmitted {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        members(b, self.members.len())?;
        each(&self.members, "members", |m, x| {
            for (field, fen) in [
                ("declared_monthly_income_fen", x.declared_monthly_income_fen),
                ("pension_base_fen", x.pension_base_fen),
                ("employment_costs_fen", x.employment_costs_fen),
                ("rigid_expenditure_fen", x.rigid_expenditure_fen),
                ("declared_assets_fen", x.declared_assets_fen),
            ] {
                at(format!("{m}.{field}"), b.amount(fen))?;
            }
            Ok(())
        })
    }
}

impl Bounded for DishonestyRecorded {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        members(b, self.members.len())
    }
}

impl Bounded for SourceQuery {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        members(b, self.members.len())
    }
}

impl Bounded for SourceAnswer {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        if self.records.len() > b.max_members {
            return at("records", Err(format!("at most {} records", b.max_members)));
        }
        each(&self.records, "records", |r, x| {
            if let Some(fen) = x.monthly_income_fen {
                at(format!("{r}.monthly_income_fen"), b.amount(fen))?;
            }
            if let Some(fen) = x.assets_fen {
                at(format!("{r}.assets_fen"), b.amount(fen))?;
            }
            Ok(())
        })
    }
}

fn verified(b: &Bounds, list: &[VerifiedMember]) -> Result<(), String> {
    members(b, list.len())?;
    each(list, "members", |m, x| {
        at(
            format!("{m}.monthly_income_fen"),
            b.amount(x.monthly_income_fen),
        )?;
        at(format!("{m}.assets_fen"), b.amount(x.assets_fen))
    })
}

impl Bounded for HouseholdVerified {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        verified(b, &self.members)
    }
}

impl Bounded for HouseholdReverified {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        verified(b, &self.members)
    }
}

impl Bounded for HouseholdDetermined {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        for (field, fen) in [
            ("monthly_amount_fen", self.monthly_amount_fen),
            ("per_capita_income_fen", self.per_capita_income_fen),
            ("per_capita_assets_fen", self.per_capita_assets_fen),
            ("standard_fen", self.standard_fen),
        ] {
            at(field, b.amount(fen))?;
        }
        members(b, self.members.len())?;
        each(&self.members, "members", |m, x| {
            at(
                format!("{m}.individual_benefit_fen"),
                b.amount(x.individual_benefit_fen),
            )?;
            let Some(basis) = &x.basis else {
                return Ok(());
            };
            for (field, fen) in [
                ("monthly_income_fen", basis.monthly_income_fen),
                ("pension_base_fen", basis.pension_base_fen),
                ("employment_costs_fen", basis.employment_costs_fen),
                ("assets_fen", basis.assets_fen),
                ("rigid_expenditure_fen", basis.rigid_expenditure_fen),
            ] {
                at(format!("{m}.basis.{field}"), b.amount(fen))?;
            }
            Ok(())
        })
    }
}

impl Bounded for HouseholdRedetermined {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        at(
            "before.monthly_amount_fen",
            b.amount(self.before.monthly_amount_fen),
        )?;
        at(
            "before.per_capita_income_fen",
            b.amount(self.before.per_capita_income_fen),
        )?;
        members(b, self.before.member_ids.len())?;
        self.after.check(b).map_err(|e| format!("after.{e}"))
    }
}

impl Bounded for EmergencyGranted {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        at("total_amount_fen", b.positive_amount(self.total_amount_fen))?;
        at("stages", b.stages(self.stages.len()))?;
        each(&self.stages, "stages", |s, x| {
            at(format!("{s}.amount_fen"), b.positive_amount(x.amount_fen))
        })
    }
}

impl Bounded for HouseholdEnrolled {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        members(b, self.members)?;
        let most = b.max_members.saturating_mul(policy::Department::ALL.len());
        if self.referrals.len() > most {
            return at("referrals", Err(format!("at most {most} referrals")));
        }
        Ok(())
    }
}

fn prior(b: &Bounds, list: &[PriorAssistance]) -> Result<(), String> {
    each(list, "prior_assistance", |p, x| {
        at(format!("{p}.amount_fen"), b.amount(x.amount_fen))
    })
}

impl Bounded for ReferralPush {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        prior(b, &self.prior_assistance)
    }
}

impl Bounded for ReferralFeedback {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        match &self.grant {
            Some(g) => at("grant.amount_fen", b.amount(g.amount_fen)),
            None => Ok(()),
        }
    }
}

impl Bounded for InstructionCreated {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        at("amount_fen", b.positive_amount(self.amount_fen))
    }
}

impl Bounded for InstructionStatusChanged {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        at("amount_fen", b.positive_amount(self.amount_fen))
    }
}

impl Bounded for RecoveryOpened {
    fn check(&self, b: &Bounds) -> Result<(), String> {
        at("amount_fen", b.positive_amount(self.amount_fen))
    }
}

impl Bounded for RunCompleted {
    /// Totals over every household of a month: not one amount, so only not negative.
    fn check(&self, _: &Bounds) -> Result<(), String> {
        for (field, n) in [
            ("households", self.households),
            ("instructions_created", self.instructions_created),
            ("instructions_existing", self.instructions_existing),
            ("total_fen", self.total_fen),
            ("created_fen", self.created_fen),
        ] {
            if n < 0 {
                return at(field, Err("must not be negative".into()));
            }
        }
        Ok(())
    }
}

impl Bounded for PaymentRiskDetected {
    fn check(&self, _: &Bounds) -> Result<(), String> {
        self.0.check()
    }
}

impl Bounded for IntakeRiskDetected {
    fn check(&self, _: &Bounds) -> Result<(), String> {
        self.0.check()
    }
}

/// Payloads without amounts, counts or lists to bound (their texts and dates are checked where
/// they are decoded or used).
macro_rules! unbounded {
    ($($t:ty),* $(,)?) => {
        $(impl Bounded for $t {
            fn check(&self, _: &Bounds) -> Result<(), String> {
                Ok(())
            }
        })*
    };
}

unbounded!(
    ManualReview,
    ManuallyVerified,
    ApplicationRejected,
    HouseholdChanged,
    FeedRecord,
    DiscoveryReport,
    BankStatusReport,
    RunAlert,
    answers::ReferralRefused,
    ComplaintProgress,
    DishonestyLifted,
    DisclosureObjected,
);

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> Bounds {
        Bounds {
            max_amount_fen: 100_000_000_000,
            max_members: 30,
            max_stages: 12,
            max_stage_days: 366,
        }
    }

    fn verified_report(incomes: &[i64]) -> HouseholdVerified {
        HouseholdVerified {
            application_id: uuid::Uuid::nil(),
            report_id: uuid::Uuid::nil(),
            complete: true,
            gaps: vec![],
            sources: vec![],
            supersedes_report_id: None,
            members: incomes
                .iter()
                .map(|&fen| VerifiedMember {
                    member_id: uuid::Uuid::nil(),
                    monthly_income_fen: fen,
                    assets_fen: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn a_payload_out_of_range_names_the_field_and_the_rule() {
        let b = bounds();
        assert!(verified_report(&[0, 100_000_000_000]).check(&b).is_ok());
        assert_eq!(
            verified_report(&[1, 4_611_686_018_427_387_904]).check(&b),
            Err("members[1].monthly_income_fen: must be 0 to 100000000000 fen".into())
        );
        assert_eq!(
            verified_report(&[]).check(&b),
            Err("members: at least 1 and at most 30 members".into())
        );
        assert!(verified_report(&[0; 31]).check(&b).is_err());
        assert_eq!(
            mesh::EventKind::check_bounds(&verified_report(&[-1]), &b),
            Err("members[0].monthly_income_fen: must be 0 to 100000000000 fen".into()),
            "the channel's decoding checks the same"
        );
    }
}
