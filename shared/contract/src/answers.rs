//! The department answer protocol: what a department may answer on `referral.{dept}.feedback`,
//! which grant kinds it may give, what their amounts mean, how a correction names the answer it
//! replaces, and what monitoring tells a department on `referral.{dept}.refused` when it does
//! not apply an answer. `docs/asyncapi.yaml` ("The department answer protocol") says the same
//! in words; monitoring enforces it.
//!
//! Per referral: at most one `accepted`, then exactly one final answer, `granted` or `rejected`;
//! after `granted`, any number of `supplemented` (further help under the same referral) and at
//! most one `closed` (the help has ended). A final answer is changed only by `corrected` or
//! withdrawn only by `revoked`, each naming in `replaces` the event id of the answer in force.

use crate::{FeedbackOutcome, Grant, GrantPeriod, ReferralFeedback};
use policy::Department;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The durable JetStream consumer a department's pushes are read from, on stream
/// `RELIEF_REFERRAL` with filter `referral.<dept>.push`: the mesh's own department service
/// (`relief --department <dept>`) and the department's own system read the same one, so that
/// one takes over from the other at the same cursor.
pub fn department_durable(department: Department) -> String {
    format!("department-{department}")
}

/// The settings of every department's durable (the platform's bootstrap job creates it with
/// these, the relief service when it is missing). Pull, explicit acknowledgement, every push
/// from the stream's first message when first created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurableSettings {
    /// Seconds an unacknowledged push waits before it is delivered again.
    pub ack_wait_seconds: u64,
    /// Deliveries of one push before the server stops; -1: no limit (the reader gives up and
    /// answers or parks it itself).
    pub max_deliver: i64,
    /// Pushes delivered and not yet acknowledged, at most.
    pub max_ack_pending: i64,
}

pub const DEPARTMENT_DURABLE: DurableSettings = DurableSettings {
    ack_wait_seconds: 60,
    max_deliver: -1,
    max_ack_pending: 1000,
};

/// A kind of help a department may grant, and what its `amount_fen` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantKind {
    pub kind: &'static str,
    pub period: GrantPeriod,
}

const fn once(kind: &'static str) -> GrantKind {
    GrantKind {
        kind,
        period: GrantPeriod::Once,
    }
}

const fn monthly(kind: &'static str) -> GrantKind {
    GrantKind {
        kind,
        period: GrantPeriod::Monthly,
    }
}

const MEDICAL: &[GrantKind] = &[
    once("medical_premium_full"),
    once("medical_premium_subsidy"),
    once("medical_inpatient_assistance"),
    once("medical_outpatient_assistance"),
    once("care_service_order"),
    once("charity_match"),
];
const EDUCATION: &[GrantKind] = &[
    once("education_preschool_aid"),
    once("education_compulsory_living_subsidy"),
    once("education_grant_and_fee_waiver"),
    once("education_college_grant"),
    once("education_living_subsidy"),
];
const HOUSING: &[GrantKind] = &[
    monthly("housing_rent_subsidy"),
    once("housing_renovation_grant"),
    once("public_rental_housing"),
];
const EMPLOYMENT: &[GrantKind] = &[
    monthly("employment_public_welfare_post"),
    once("employment_training_subsidy"),
];
const DISASTER: &[GrantKind] = &[
    once("disaster_emergency_relief"),
    once("disaster_transitional_living_aid"),
    once("disaster_winter_spring_aid"),
    once("disaster_rebuilding_aid"),
];

/// The kinds `department` may grant.
pub fn grant_kinds(department: Department) -> &'static [GrantKind] {
    match department {
        Department::Medical => MEDICAL,
        Department::Education => EDUCATION,
        Department::Housing => HOUSING,
        Department::Employment => EMPLOYMENT,
        Department::Disaster => DISASTER,
    }
}

/// The kind `kind` of `department`, if it may grant it.
pub fn grant_kind(department: Department, kind: &str) -> Option<GrantKind> {
    grant_kinds(department)
        .iter()
        .find(|k| k.kind == kind)
        .copied()
}

/// The largest `amount_fen` of one grant: 10 000 000 yuan.
pub const MAX_GRANT_FEN: i64 = 1_000_000_000;
/// The longest `reason`, in characters.
pub const MAX_REASON_CHARS: usize = 1000;
/// The longest name after the prefix of `decided_by`, in characters.
pub const MAX_DECIDER_CHARS: usize = 100;
/// The prefixes of `decided_by`: a rule and its version, a named officer, a department's system.
pub const DECIDER_PREFIXES: [&str; 3] = ["rule:", "officer:", "system:"];

/// `referral.{dept}.refused`: monitoring did not apply a message of `referral.{dept}.feedback`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReferralRefused {
    /// The refused message's envelope `id` (its `Nats-Msg-Id` when the envelope could not be
    /// read); absent when it had neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The referral the message named, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_id: Option<Uuid>,
    pub department: Department,
    pub code: RefusalCode,
    /// Why, in words (no personal data).
    pub reason: String,
    /// The event id of the referral's answer in force, when it has one: what a correction or a
    /// revocation names in `replaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_in_force: Option<String>,
}

/// Why a feedback was refused.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// No `Nats-Msg-Id` header (it must be the envelope `id`).
    MissingMsgId,
    /// Not a valid `referral.feedback` envelope, or a field breaks the protocol (a grant kind
    /// the department may not grant, a period that is not the kind's, a missing reason, …).
    Invalid,
    /// `data.department` is not the department of the subject.
    WrongDepartment,
    /// The mesh pushed no referral with this id to this department.
    UnknownReferral,
    /// `household_id` or `member_id` is not the referral's.
    Mismatch,
    /// The referral has its final answer: a different one is refused; change it with `corrected`.
    AlreadyAnswered,
    /// `supplemented` or `closed` for a referral whose answer in force is not `granted`.
    NoGrantInForce,
    /// The referral is closed: nothing more is applied to it.
    ReferralClosed,
    /// `replaces` does not name the referral's answer in force.
    NotInForce,
}

impl RefusalCode {
    pub const ALL: [RefusalCode; 9] = [
        RefusalCode::MissingMsgId,
        RefusalCode::Invalid,
        RefusalCode::WrongDepartment,
        RefusalCode::UnknownReferral,
        RefusalCode::Mismatch,
        RefusalCode::AlreadyAnswered,
        RefusalCode::NoGrantInForce,
        RefusalCode::ReferralClosed,
        RefusalCode::NotInForce,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::MissingMsgId => "missing_msg_id",
            RefusalCode::Invalid => "invalid",
            RefusalCode::WrongDepartment => "wrong_department",
            RefusalCode::UnknownReferral => "unknown_referral",
            RefusalCode::Mismatch => "mismatch",
            RefusalCode::AlreadyAnswered => "already_answered",
            RefusalCode::NoGrantInForce => "no_grant_in_force",
            RefusalCode::ReferralClosed => "referral_closed",
            RefusalCode::NotInForce => "not_in_force",
        }
    }
}

/// Checks a feedback's fields against the protocol, on their own (the referral's state is
/// monitoring's to judge). Returns the grant as it stands once checked: its `period` filled in
/// from its kind when the department left it out.
pub fn check_feedback(f: &ReferralFeedback) -> Result<Option<Grant>, String> {
    check_decider(&f.decided_by)?;
    if let Some(r) = &f.reason {
        if r.trim().is_empty() || r.chars().count() > MAX_REASON_CHARS {
            return Err(format!("reason must be 1 to {MAX_REASON_CHARS} characters"));
        }
        if r.chars().any(char::is_control) {
            return Err("reason must hold no control characters".into());
        }
    }
    use FeedbackOutcome as O;
    let (needs_replaces, needs_reason) = match f.outcome {
        O::Accepted | O::Granted | O::Supplemented => (false, false),
        O::Rejected | O::Closed => (false, true),
        O::Corrected | O::Revoked => (true, true),
    };
    if needs_reason && f.reason.is_none() {
        return Err(format!("a {} feedback gives a reason", f.outcome.as_str()));
    }
    match (&f.replaces, needs_replaces) {
        (None, true) => {
            return Err(format!(
                "a {} feedback names in `replaces` the event id of the answer it replaces",
                f.outcome.as_str()
            ))
        }
        (Some(_), false) => {
            return Err(format!(
                "only corrected and revoked name an answer in `replaces`, not {}",
                f.outcome.as_str()
            ))
        }
        (Some(r), true) if r.trim().is_empty() || r.len() > 128 => {
            return Err("replaces must be an event id of 1 to 128 characters".into())
        }
        _ => {}
    }
    let needs_grant = match (f.outcome, f.corrected_to) {
        (O::Corrected, Some(O::Granted)) => true,
        (O::Corrected, Some(O::Rejected)) => false,
        (O::Corrected, _) => return Err(
            "a correction says in `corrected_to` the outcome that now stands: granted or rejected"
                .into(),
        ),
        (_, Some(_)) => return Err("only a correction has `corrected_to`".into()),
        (O::Granted | O::Supplemented, None) => true,
        (_, None) => false,
    };
    match (&f.grant, needs_grant) {
        (None, true) => Err(format!(
            "a {} feedback carries the grant",
            f.corrected_to.unwrap_or(f.outcome).as_str()
        )),
        (Some(_), false) => Err(format!(
            "a {} feedback carries no grant",
            f.corrected_to.unwrap_or(f.outcome).as_str()
        )),
        (Some(g), true) => check_grant(f.department, g).map(Some),
        (None, false) => Ok(None),
    }
}

fn check_decider(decided_by: &str) -> Result<(), String> {
    let name = DECIDER_PREFIXES
        .iter()
        .find_map(|p| decided_by.strip_prefix(p));
    match name {
        Some(n)
            if !n.trim().is_empty()
                && n.chars().count() <= MAX_DECIDER_CHARS
                && !n.chars().any(char::is_control) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "decided_by must be rule:<version>, officer:<name> or system:<name>, with 1 to {MAX_DECIDER_CHARS} characters after the prefix"
        )),
    }
}

fn check_grant(department: Department, g: &Grant) -> Result<Grant, String> {
    let Some(kind) = grant_kind(department, &g.kind) else {
        let allowed: Vec<&str> = grant_kinds(department).iter().map(|k| k.kind).collect();
        return Err(format!(
            "grant.kind {:?} is not one the {department} department grants ({})",
            g.kind.chars().take(64).collect::<String>(),
            allowed.join(", ")
        ));
    };
    if !(0..=MAX_GRANT_FEN).contains(&g.amount_fen) {
        return Err(format!(
            "grant.amount_fen must be an integer from 0 to {MAX_GRANT_FEN}"
        ));
    }
    if let Some(p) = g.period {
        if p != kind.period {
            return Err(format!(
                "grant.period of {} is {}, not {}",
                kind.kind,
                kind.period.as_str(),
                p.as_str()
            ));
        }
    }
    if g.to.is_some_and(|to| to < g.from) {
        return Err("grant.to is before grant.from".into());
    }
    Ok(Grant {
        period: Some(kind.period),
        ..g.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn feedback(outcome: FeedbackOutcome) -> ReferralFeedback {
        ReferralFeedback {
            referral_id: Uuid::nil(),
            department: Department::Housing,
            member_id: Uuid::nil(),
            outcome,
            reason: None,
            grant: None,
            decided_by: "system:housing-allocation".into(),
            replaces: None,
            corrected_to: None,
        }
    }

    fn grant(kind: &str, amount_fen: i64, period: Option<GrantPeriod>) -> Grant {
        Grant {
            kind: kind.into(),
            amount_fen,
            from: NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(),
            to: None,
            period,
        }
    }

    #[test]
    fn a_grant_takes_its_period_from_its_kind_and_must_agree_with_it() {
        let mut f = feedback(FeedbackOutcome::Granted);
        f.grant = Some(grant("housing_rent_subsidy", 30_000, None));
        let g = check_feedback(&f).unwrap().unwrap();
        assert_eq!(g.period, Some(GrantPeriod::Monthly));
        f.grant = Some(grant(
            "housing_rent_subsidy",
            30_000,
            Some(GrantPeriod::Once),
        ));
        assert!(check_feedback(&f).unwrap_err().contains("monthly"));
        f.grant = Some(grant("medical_premium_subsidy", 30_000, None));
        assert!(check_feedback(&f)
            .unwrap_err()
            .contains("not one the housing department grants"));
        f.grant = Some(grant("housing_renovation_grant", -1, None));
        assert!(check_feedback(&f).is_err());
        f.grant = None;
        assert!(check_feedback(&f)
            .unwrap_err()
            .contains("carries the grant"));
    }

    #[test]
    fn corrections_and_revocations_name_what_they_replace_and_say_why() {
        let mut f = feedback(FeedbackOutcome::Corrected);
        f.corrected_to = Some(FeedbackOutcome::Rejected);
        f.reason = Some("income above the line".into());
        assert!(check_feedback(&f).unwrap_err().contains("replaces"));
        f.replaces = Some("housing-answer-1".into());
        assert_eq!(check_feedback(&f), Ok(None));
        f.corrected_to = Some(FeedbackOutcome::Granted);
        assert!(check_feedback(&f)
            .unwrap_err()
            .contains("carries the grant"));
        f.corrected_to = Some(FeedbackOutcome::Closed);
        assert!(check_feedback(&f).is_err());
        let mut r = feedback(FeedbackOutcome::Revoked);
        r.replaces = Some("housing-answer-1".into());
        assert!(check_feedback(&r).unwrap_err().contains("reason"));
        r.reason = Some("sent for the wrong referral".into());
        assert_eq!(check_feedback(&r), Ok(None));
        let mut g = feedback(FeedbackOutcome::Granted);
        g.grant = Some(grant("public_rental_housing", 0, None));
        g.replaces = Some("x".into());
        assert!(check_feedback(&g).is_err());
    }

    #[test]
    fn decided_by_is_a_rule_an_officer_or_a_system() {
        for ok in [
            "rule:zz-2024-01",
            "officer:Wang Fang",
            "system:housing-bureau",
        ] {
            assert!(check_decider(ok).is_ok(), "{ok}");
        }
        for bad in ["officer Wang Fang", "officer:", "rule: ", "wang", ""] {
            assert!(check_decider(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refusal_codes_are_their_names_on_the_wire() {
        for c in RefusalCode::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }

    #[test]
    fn every_kind_the_mesh_grants_is_listed_once_per_department() {
        for d in Department::ALL {
            let mut kinds: Vec<&str> = grant_kinds(d).iter().map(|k| k.kind).collect();
            let n = kinds.len();
            kinds.sort();
            kinds.dedup();
            assert_eq!(kinds.len(), n, "{d}");
        }
        for kind in [
            policy::relief::TRANSITIONAL_AID,
            policy::relief::WINTER_SPRING_AID,
            policy::relief::REBUILDING_AID,
        ] {
            assert!(grant_kind(Department::Disaster, kind).is_some());
        }
    }
}
