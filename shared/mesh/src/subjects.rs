//! Every subject of the contract, in one place.
//!
//! Templates use `{dept}`, `{source}` and `{service}` for the variable token. [`CATALOG`] is what
//! the AsyncAPI test compares with `docs/asyncapi.yaml`, and the end-to-end test checks that
//! every subject seen on the wire matches one of these templates.

/// An applicant household's application was accepted for processing.
pub const APPLICATION_SUBMITTED: &str = "intake.application.submitted";
/// Verification could not complete automatically: a source gave no answer; a person must verify.
pub const APPLICATION_MANUAL_REVIEW: &str = "intake.application.manual_review";
/// A county officer rejected an application (near relatives of staff need a county decision).
pub const APPLICATION_REJECTED: &str = "intake.application.rejected";
/// Request/reply to a departmental data holder (core NATS, not stored in a stream).
pub const SOURCE_QUERY: &str = "verify.source.{source}.query";
/// A household's economic verification report, with per-source provenance and gaps.
pub const HOUSEHOLD_VERIFIED: &str = "verify.household.verified";
/// A periodic re-verification of an assisted household, with the same provenance and gaps.
pub const HOUSEHOLD_REVERIFIED: &str = "verify.household.reverified";
/// One application, classified determination: tier, monthly amount, relief lines.
pub const HOUSEHOLD_DETERMINED: &str = "eligibility.household.determined";
/// Emergency temporary assistance granted (act first, or after a county case conference),
/// in one or more scheduled stages.
pub const EMERGENCY_GRANTED: &str = "eligibility.emergency.granted";
/// Monitoring enrolled the household in the low-income population database.
pub const HOUSEHOLD_ENROLLED: &str = "monitor.household.enrolled";
/// A person's or a household's assistance stops (a death, a termination) or winds down (gradual
/// exit); payment acts on it.
pub const HOUSEHOLD_CHANGED: &str = "monitor.household.changed";
/// One record of a departmental feed (death, unemployment, serious illness, severe disability,
/// student hardship, return to poverty, disaster victims) for monitoring's data comparison.
pub const FEED_RECORD: &str = "monitor.feed.{source}";
/// A person in hardship reported for active discovery (grid worker, 12345 hotline, village
/// assistant, social organisation).
pub const DISCOVERY_REPORTED: &str = "monitor.discovery.reported";
/// A person referred to a department.
pub const REFERRAL_PUSH: &str = "referral.{dept}.push";
/// A department's answer to a referral.
pub const REFERRAL_FEEDBACK: &str = "referral.{dept}.feedback";
/// Payment recorded a monthly payment instruction.
pub const PAYMENT_INSTRUCTION_CREATED: &str = "payment.instruction.created";
/// An instruction moved forward (sent, accepted, settled, rejected, returned).
pub const PAYMENT_INSTRUCTION_STATUS: &str = "payment.instruction.status";
/// A pain.002 status report from the bank (the XML document), taken in once per report MsgId.
pub const PAYMENT_BANK_STATUS: &str = "payment.bank.status";
/// Payment's monthly run for a month went through every enrolled household.
pub const PAYMENT_RUN_COMPLETED: &str = "payment.run.completed";
/// Payment's monthly run for a month failed, or was not completed by its deadline day.
pub const PAYMENT_RUN_ALERT: &str = "payment.run.alert";
/// Payment opened a recovery case for money instructed after the entitlement stopped.
pub const PAYMENT_RECOVERY_OPENED: &str = "payment.recovery.opened";
/// Messages a service gave up on, with the reason in headers.
pub const DEAD_LETTER: &str = "deadletter.{service}";

pub const CATALOG: &[&str] = &[
    APPLICATION_SUBMITTED,
    APPLICATION_MANUAL_REVIEW,
    APPLICATION_REJECTED,
    SOURCE_QUERY,
    HOUSEHOLD_VERIFIED,
    HOUSEHOLD_REVERIFIED,
    HOUSEHOLD_DETERMINED,
    EMERGENCY_GRANTED,
    HOUSEHOLD_ENROLLED,
    HOUSEHOLD_CHANGED,
    FEED_RECORD,
    DISCOVERY_REPORTED,
    REFERRAL_PUSH,
    REFERRAL_FEEDBACK,
    PAYMENT_INSTRUCTION_CREATED,
    PAYMENT_INSTRUCTION_STATUS,
    PAYMENT_BANK_STATUS,
    PAYMENT_RUN_COMPLETED,
    PAYMENT_RUN_ALERT,
    PAYMENT_RECOVERY_OPENED,
    DEAD_LETTER,
];

/// Does `subject` (without prefix) match `template`? A `{…}` token matches one token.
pub fn matches_template(template: &str, subject: &str) -> bool {
    let t: Vec<&str> = template.split('.').collect();
    let s: Vec<&str> = subject.split('.').collect();
    t.len() == s.len()
        && t.iter()
            .zip(&s)
            .all(|(t, s)| (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s)
}

/// Subjects with this deployment's prefix applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_end_matches('.').to_owned(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The full subject for a template without variables (or a wildcard filter).
    pub fn of(&self, subject: &str) -> String {
        if self.prefix.is_empty() {
            subject.to_owned()
        } else {
            format!("{}.{subject}", self.prefix)
        }
    }

    /// The full subject with the template's one variable token filled in.
    pub fn fill(&self, template: &str, value: &str) -> String {
        let filled = template
            .split('.')
            .map(|t| if t.starts_with('{') { value } else { t })
            .collect::<Vec<_>>()
            .join(".");
        self.of(&filled)
    }

    /// The subject without this deployment's prefix, or `None` if it does not carry it.
    pub fn strip<'a>(&self, subject: &'a str) -> Option<&'a str> {
        if self.prefix.is_empty() {
            return Some(subject);
        }
        subject.strip_prefix(&self.prefix)?.strip_prefix('.')
    }

    /// The value of the template's variable token in `subject` (e.g. the department of a push).
    pub fn token<'a>(&self, template: &str, subject: &'a str) -> Option<&'a str> {
        let bare = self.strip(subject)?;
        if !matches_template(template, bare) {
            return None;
        }
        let i = template.split('.').position(|t| t.starts_with('{'))?;
        bare.split('.').nth(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_fill_and_strip() {
        let s = Subjects::new("t42");
        let push = s.fill(REFERRAL_PUSH, "medical");
        assert_eq!(push, "t42.referral.medical.push");
        assert_eq!(s.strip(&push), Some("referral.medical.push"));
        assert_eq!(s.token(REFERRAL_PUSH, &push), Some("medical"));
        assert_eq!(s.token(REFERRAL_FEEDBACK, &push), None);
        assert_eq!(
            Subjects::new("").of(APPLICATION_SUBMITTED),
            APPLICATION_SUBMITTED
        );
    }

    #[test]
    fn templates_match_one_token_per_variable() {
        assert!(matches_template(SOURCE_QUERY, "verify.source.bank.query"));
        assert!(!matches_template(
            SOURCE_QUERY,
            "verify.source.bank.x.query"
        ));
        assert!(!matches_template(SOURCE_QUERY, "verify.household.verified"));
    }
}
