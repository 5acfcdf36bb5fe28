//! The department answer protocol as monitoring judges it: given where a referral stands and the
//! answers already applied to it, what a new feedback does. Pure: the handler reads the
//! standing, judges, and writes the effect, the chain step and the inbox row in one transaction.
//!
//! The fields of a feedback on their own are checked by `contract::answers::check_feedback`
//! first; here only the referral's state decides.

use super::ReferralStatus;
use chrono::{DateTime, Utc};
use contract::{FeedbackOutcome, ReferralFeedback, RefusalCode};
use sha2::{Digest, Sha256};

/// An answer applied to the referral before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedAnswer {
    pub event_id: String,
    pub digest: String,
}

/// Where a referral stands.
#[derive(Debug, Clone, Copy)]
pub struct Standing<'a> {
    pub status: ReferralStatus,
    /// The final answer in force (the event id a correction names) and its envelope time.
    pub in_force: Option<(&'a str, DateTime<Utc>)>,
    pub applied: &'a [AppliedAnswer],
    /// `replaces` names a message monitoring refused (never applied).
    pub replaces_refused: bool,
}

/// What a feedback does to the referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `accepted`: the referral is accepted.
    Accept,
    /// An `accepted` sent before the final answer in force and handled after it: a step of the
    /// chain; the referral keeps its answer.
    History,
    /// A final answer, or a correction: the referral is `granted` or `rejected` and this is its
    /// answer in force.
    Final(ReferralStatus),
    /// `supplemented`: more help under the grant in force.
    Supplement,
    /// `closed`: the help granted has ended.
    Close,
    /// `revoked`: the answer in force is withdrawn.
    Revoke,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Apply(Effect),
    /// The same answer as one already applied (the same data, a new event id): nothing changes
    /// and nothing is recorded.
    Duplicate,
    /// It builds on an answer that may still be on its way (handled concurrently or not yet
    /// delivered): try again later; refused with this code and reason at the last delivery.
    Wait(RefusalCode, String),
    Refuse(RefusalCode, String),
}

/// SHA-256 of a feedback's data as applied: the business key of an answer.
pub fn digest(f: &ReferralFeedback) -> String {
    let bytes = serde_json::to_vec(f).unwrap_or_default();
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What `f` (sent at `time`, with digest `digest`) does to a referral standing as `s`.
pub fn judge(s: &Standing<'_>, f: &ReferralFeedback, digest: &str, time: DateTime<Utc>) -> Verdict {
    use FeedbackOutcome as O;
    use ReferralStatus as S;
    let referral = f.referral_id;
    let in_force = s.in_force.map(|(id, _)| id).unwrap_or("none");
    // After a revocation the referral waits for a final answer again, which may be the one
    // revoked, word for word.
    let seen = s.applied.iter().any(|a| a.digest == digest);
    if seen && !(s.status == S::Revoked && f.outcome.is_final()) {
        return Verdict::Duplicate;
    }
    if s.status == S::Closed {
        return Verdict::Refuse(
            RefusalCode::ReferralClosed,
            format!("referral {referral} is closed: nothing more is applied to it"),
        );
    }
    let answered = || {
        Verdict::Refuse(
            RefusalCode::AlreadyAnswered,
            format!(
                "referral {referral} has its final answer {in_force} ({}); a different answer is refused: send `corrected` or `revoked` with replaces = {in_force}",
                s.status.as_str()
            ),
        )
    };
    let no_grant = |status: ReferralStatus| {
        let why = format!(
            "{} needs referral {referral} granted; it is {}",
            f.outcome.as_str(),
            status.as_str()
        );
        match status {
            // The grant may still be on its way.
            S::Pushed | S::Accepted => Verdict::Wait(RefusalCode::NoGrantInForce, why),
            S::Granted | S::Rejected | S::Closed | S::Revoked => {
                Verdict::Refuse(RefusalCode::NoGrantInForce, why)
            }
        }
    };
    match f.outcome {
        O::Accepted => match (s.status, s.in_force) {
            (S::Pushed | S::Revoked, _) => Verdict::Apply(Effect::Accept),
            // A second acceptance says nothing new.
            (S::Accepted, _) => Verdict::Duplicate,
            (_, Some((_, at))) if time <= at => Verdict::Apply(Effect::History),
            _ => answered(),
        },
        O::Granted | O::Rejected => match s.status {
            S::Pushed | S::Accepted | S::Revoked => match ReferralStatus::after(f.outcome) {
                Some(status) => Verdict::Apply(Effect::Final(status)),
                None => answered(),
            },
            S::Granted | S::Rejected | S::Closed => answered(),
        },
        O::Supplemented | O::Closed if s.status != S::Granted => no_grant(s.status),
        O::Supplemented => Verdict::Apply(Effect::Supplement),
        O::Closed => Verdict::Apply(Effect::Close),
        O::Corrected | O::Revoked => {
            let replaces = f.replaces.as_deref().unwrap_or_default();
            match s.in_force {
                Some((id, _)) if id == replaces && f.outcome == O::Revoked => {
                    Verdict::Apply(Effect::Revoke)
                }
                Some((id, _)) if id == replaces => {
                    match f.corrected_to.and_then(ReferralStatus::after) {
                        Some(status) => Verdict::Apply(Effect::Final(status)),
                        None => answered(),
                    }
                }
                _ if s.applied.iter().any(|a| a.event_id == replaces) || s.replaces_refused => {
                    Verdict::Refuse(
                        RefusalCode::NotInForce,
                        format!(
                            "{replaces} is not the answer in force of referral {referral} ({in_force}): a {} names the answer in force",
                            f.outcome.as_str()
                        ),
                    )
                }
                _ => Verdict::Wait(
                    RefusalCode::NotInForce,
                    format!(
                        "no answer {replaces} was applied to referral {referral} (answer in force: {in_force})"
                    ),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::Department;
    use uuid::Uuid;

    fn fb(outcome: FeedbackOutcome) -> ReferralFeedback {
        ReferralFeedback::new(
            Uuid::nil(),
            Department::Housing,
            Uuid::nil(),
            outcome,
            "system:bureau",
        )
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn standing<'a>(
        status: ReferralStatus,
        in_force: Option<(&'a str, DateTime<Utc>)>,
        applied: &'a [AppliedAnswer],
    ) -> Standing<'a> {
        Standing {
            status,
            in_force,
            applied,
            replaces_refused: false,
        }
    }

    fn applied(id: &str, digest: &str) -> AppliedAnswer {
        AppliedAnswer {
            event_id: id.into(),
            digest: digest.into(),
        }
    }

    #[test]
    fn one_final_answer_and_the_same_one_again_is_a_duplicate() {
        use ReferralStatus as S;
        let granted = fb(FeedbackOutcome::Granted);
        let none = standing(S::Pushed, None, &[]);
        assert_eq!(
            judge(&none, &granted, "g", at(0)),
            Verdict::Apply(Effect::Final(S::Granted))
        );
        let done = [applied("a1", "g")];
        let answered = standing(S::Granted, Some(("a1", at(0))), &done);
        assert_eq!(judge(&answered, &granted, "g", at(5)), Verdict::Duplicate);
        let Verdict::Refuse(code, why) =
            judge(&answered, &fb(FeedbackOutcome::Rejected), "r", at(5))
        else {
            panic!("a second, different final answer is refused")
        };
        assert_eq!(code, RefusalCode::AlreadyAnswered);
        assert!(why.contains("replaces = a1"), "{why}");
    }

    #[test]
    fn an_acceptance_sent_before_the_final_answer_is_history_and_one_after_it_is_refused() {
        use ReferralStatus as S;
        let done = [applied("a1", "g")];
        let answered = standing(S::Granted, Some(("a1", at(10))), &done);
        let accepted = fb(FeedbackOutcome::Accepted);
        assert_eq!(
            judge(&answered, &accepted, "x", at(9)),
            Verdict::Apply(Effect::History)
        );
        assert!(matches!(
            judge(&answered, &accepted, "x", at(11)),
            Verdict::Refuse(RefusalCode::AlreadyAnswered, _)
        ));
        let open = standing(S::Accepted, None, &[]);
        assert_eq!(judge(&open, &accepted, "y", at(1)), Verdict::Duplicate);
    }

    #[test]
    fn corrections_and_revocations_name_the_answer_in_force() {
        use ReferralStatus as S;
        let mut c = fb(FeedbackOutcome::Corrected);
        c.corrected_to = Some(FeedbackOutcome::Rejected);
        c.replaces = Some("a1".into());
        let done = [applied("a0", "old"), applied("a1", "g")];
        let answered = standing(S::Granted, Some(("a1", at(0))), &done);
        assert_eq!(
            judge(&answered, &c, "c", at(1)),
            Verdict::Apply(Effect::Final(S::Rejected))
        );
        c.replaces = Some("a0".into());
        assert!(matches!(
            judge(&answered, &c, "c", at(1)),
            Verdict::Refuse(RefusalCode::NotInForce, _)
        ));
        c.replaces = Some("on-its-way".into());
        assert!(matches!(
            judge(&answered, &c, "c", at(1)),
            Verdict::Wait(RefusalCode::NotInForce, _)
        ));
        let refused = Standing {
            replaces_refused: true,
            ..answered
        };
        assert!(matches!(
            judge(&refused, &c, "c", at(1)),
            Verdict::Refuse(RefusalCode::NotInForce, _)
        ));
        let mut r = fb(FeedbackOutcome::Revoked);
        r.replaces = Some("a1".into());
        assert_eq!(
            judge(&answered, &r, "v", at(2)),
            Verdict::Apply(Effect::Revoke)
        );
        // Revoked: the same grant may be given again, word for word.
        let revoked = standing(S::Revoked, None, &done);
        assert_eq!(
            judge(&revoked, &fb(FeedbackOutcome::Granted), "g", at(3)),
            Verdict::Apply(Effect::Final(S::Granted))
        );
    }

    #[test]
    fn supplements_and_closing_need_a_grant_and_nothing_follows_closing() {
        use ReferralStatus as S;
        let sup = fb(FeedbackOutcome::Supplemented);
        let granted = standing(S::Granted, Some(("a1", at(0))), &[]);
        assert_eq!(
            judge(&granted, &sup, "s", at(1)),
            Verdict::Apply(Effect::Supplement)
        );
        assert!(matches!(
            judge(&standing(S::Pushed, None, &[]), &sup, "s", at(1)),
            Verdict::Wait(RefusalCode::NoGrantInForce, _)
        ));
        let rejected = standing(S::Rejected, Some(("a1", at(0))), &[]);
        assert!(matches!(
            judge(&rejected, &fb(FeedbackOutcome::Closed), "c", at(1)),
            Verdict::Refuse(RefusalCode::NoGrantInForce, _)
        ));
        assert_eq!(
            judge(&granted, &fb(FeedbackOutcome::Closed), "c", at(1)),
            Verdict::Apply(Effect::Close)
        );
        let closed = standing(S::Closed, Some(("a1", at(0))), &[]);
        assert!(matches!(
            judge(&closed, &sup, "s", at(2)),
            Verdict::Refuse(RefusalCode::ReferralClosed, _)
        ));
    }
}
