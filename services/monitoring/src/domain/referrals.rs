//! One referral push, whatever raised it: a determination's relief line, a feed rule, or a
//! warning disposed of by a push to the department. One id scheme and one builder, so every
//! push carries what monitoring knows of the person.

use chrono::NaiveDate;
use contract::{Circumstances, FeedSource, PriorAssistance, ReferralPush};
use policy::determination::{Group, SchoolStage, SelfCare, SupportArrangement};
use policy::{Department, RegionCode, Tier};
use uuid::Uuid;

/// The need a relief line answers, in words, for the push.
pub fn need_of(dept: Department) -> &'static str {
    match dept {
        Department::Medical => "serious illness",
        Department::Education => "a student in a low-income household",
        Department::Housing => "housing hardship",
        Department::Employment => "registered unemployed",
        Department::Disaster => "disaster victim",
    }
}

/// What raised a referral: the key of its id.
#[derive(Debug, Clone, Copy)]
pub enum Cause<'a> {
    /// A relief line of a member at determination.
    Determination {
        application_id: Uuid,
        member_id: Uuid,
    },
    /// A departmental feed record's rule.
    Feed {
        source: FeedSource,
        record_id: &'a str,
    },
    /// A warning disposed of by a push to the department (once: a warning is disposed of once).
    Warning { warning_id: Uuid },
}

impl Cause<'_> {
    fn key(&self, department: Department) -> String {
        match self {
            Cause::Determination {
                application_id,
                member_id,
            } => format!("{application_id}/{member_id}/{department}"),
            Cause::Feed { source, record_id } => format!("feed:{source}:{record_id}/{department}"),
            Cause::Warning { warning_id } => format!("warning:{warning_id}/{department}"),
        }
    }

    /// The warning a push answers, recorded on the referral.
    pub fn warning_id(&self) -> Option<Uuid> {
        match self {
            Cause::Warning { warning_id } => Some(*warning_id),
            Cause::Determination { .. } | Cause::Feed { .. } => None,
        }
    }
}

/// The referral id: UUID v5 in the household's namespace over the cause and the department, so
/// a redelivered determination, feed record or disposition makes the same id.
pub fn referral_id(household_id: Uuid, cause: &Cause<'_>, department: Department) -> Uuid {
    Uuid::new_v5(&household_id, cause.key(department).as_bytes())
}

/// The person pushed, as monitoring knows them (from the determination, or the `persons` and
/// `households` rows it stored at enrolment).
#[derive(Debug, Clone)]
pub struct Recipient {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub member_id: Uuid,
    pub id_number: String,
    pub name: String,
    /// The household's region code.
    pub region_code: RegionCode,
    pub urban: bool,
    /// The member's own tier (a member may be single-person dibao in a marginal household).
    pub tier: Tier,
    pub school_stage: Option<SchoolStage>,
    pub self_care: Option<SelfCare>,
    /// A destitute person's support arrangement, as determined; not stored at enrolment.
    pub support: Option<SupportArrangement>,
    pub zero_employment_household: bool,
    /// The recognised group the member is in (002 一(一)), if any.
    pub group: Option<Group>,
}

/// A referral to push: to whom, why, to which department.
#[derive(Debug, Clone)]
pub struct Referral<'a> {
    pub cause: Cause<'a>,
    pub department: Department,
    pub need: String,
    /// Facts behind the need (a feed's or a warning's); none at determination.
    pub circumstances: Option<Circumstances>,
}

/// The push: the school stage goes to the education department only.
pub fn build(
    to: &Recipient,
    r: &Referral<'_>,
    feedback_due: NaiveDate,
    prior_assistance: Vec<PriorAssistance>,
) -> ReferralPush {
    ReferralPush {
        referral_id: referral_id(to.household_id, &r.cause, r.department),
        department: r.department,
        member_id: to.member_id,
        id_number: to.id_number.clone(),
        name: to.name.clone(),
        region_code: to.region_code.clone(),
        urban: to.urban,
        tier: to.tier,
        need: r.need.clone(),
        feedback_due,
        school_stage: match r.department {
            Department::Education => to.school_stage,
            Department::Medical
            | Department::Housing
            | Department::Employment
            | Department::Disaster => None,
        },
        zero_employment_household: to.zero_employment_household,
        prior_assistance,
        circumstances: r.circumstances.clone(),
        self_care: to.self_care,
        support: to.support,
        group: to.group,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipient() -> Recipient {
        Recipient {
            household_id: Uuid::from_u128(1),
            chain_id: Uuid::from_u128(2),
            member_id: Uuid::from_u128(3),
            id_number: "410102198001010011".into(),
            name: "Wang".into(),
            region_code: RegionCode::parse("410102001001").unwrap(),
            urban: true,
            tier: Tier::SinglePersonDibao,
            school_stage: Some(SchoolStage::SeniorSecondary),
            self_care: Some(SelfCare::Partial),
            support: None,
            zero_employment_household: true,
            group: None,
        }
    }

    #[test]
    fn ids_are_stable_per_cause_and_department() {
        let h = Uuid::from_u128(1);
        let feed = Cause::Feed {
            source: FeedSource::SeriousIllness,
            record_id: "SI-77",
        };
        // The scheme feeds and determinations have always used.
        assert_eq!(
            referral_id(h, &feed, Department::Medical),
            Uuid::new_v5(&h, b"feed:serious_illness:SI-77/medical")
        );
        let det = Cause::Determination {
            application_id: Uuid::from_u128(7),
            member_id: Uuid::from_u128(8),
        };
        assert_eq!(
            referral_id(h, &det, Department::Education),
            Uuid::new_v5(
                &h,
                format!("{}/{}/education", Uuid::from_u128(7), Uuid::from_u128(8)).as_bytes()
            )
        );
        let w = Cause::Warning {
            warning_id: Uuid::from_u128(9),
        };
        assert_eq!(
            referral_id(h, &w, Department::Medical),
            referral_id(h, &w, Department::Medical)
        );
        assert_ne!(
            referral_id(h, &w, Department::Medical),
            referral_id(h, &w, Department::Housing)
        );
        assert_eq!(w.warning_id(), Some(Uuid::from_u128(9)));
        assert_eq!(feed.warning_id(), None);
    }

    #[test]
    fn every_push_carries_what_is_known_of_the_person_and_the_stage_goes_to_education() {
        let to = recipient();
        let due: NaiveDate = "2026-12-01".parse().unwrap();
        for dept in Department::ALL {
            let p = build(
                &to,
                &Referral {
                    cause: Cause::Warning {
                        warning_id: Uuid::nil(),
                    },
                    department: dept,
                    need: need_of(dept).into(),
                    circumstances: None,
                },
                due,
                Vec::new(),
            );
            assert_eq!(p.tier, Tier::SinglePersonDibao);
            assert_eq!(p.self_care, Some(SelfCare::Partial));
            assert!(p.zero_employment_household);
            assert_eq!(
                p.school_stage,
                (dept == Department::Education).then_some(SchoolStage::SeniorSecondary)
            );
            assert_eq!(p.feedback_due, due);
        }
    }
}
