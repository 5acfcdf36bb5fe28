//! The channel catalogue: one declaration per channel of the contract — its subject, the
//! envelope `type` of its messages, its payload type, the stream that keeps it, who produces and
//! who consumes it.
//!
//! Everything else reads it: services publish and consume through these constants
//! (`mesh::outbox::enqueue_on`, `ServiceBuilder::on`), so a payload of the wrong type does not
//! compile; a service that consumes a channel not listing it as a consumer does not start; the
//! payload's [`mesh::EventKind`] comes from here, so a message's `type` cannot disagree with
//! its channel; and `tests/tests/e2e/docs.rs` holds `docs/asyncapi.yaml` to [`CATALOG`].
//!
//! Adding a channel: one entry below, its payload type beside the others, and its channel,
//! message and example in `docs/asyncapi.yaml`.

use crate::*;
use mesh::{Channel, ChannelInfo, Stream};

macro_rules! channels {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $payload:ident {
            subject: $subject:literal,
            kind: $kind:literal,
            stream: $stream:expr,
            producers: [$($producer:literal),* $(,)?],
            consumers: [$($consumer:literal),* $(,)?],
            chain: $chain:literal $(,)?
        }
    )*) => {
        $(
            $(#[doc = $doc])*
            pub const $name: Channel<$payload> = Channel::new(
                $subject,
                $kind,
                $stream,
                &[$($producer),*],
                &[$($consumer),*],
                $chain,
                stringify!($payload),
                concat!($($doc, "\n"),*),
            );

            impl mesh::EventKind for $payload {
                const TYPE: &'static str = $kind;

                fn check_bounds(&self, bounds: &policy::Bounds) -> Result<(), String> {
                    crate::Bounded::check(self, bounds)
                }
            }
        )*

        /// Every channel of the contract; the dead-letter and audit channels last.
        pub const CATALOG: &[ChannelInfo] = &[$($name.info(),)* DEAD_LETTER, AUDIT];

        /// Decodes `json` as an envelope of the payload its `type` names, and checks it as a
        /// consumer would; returns that type. For tools and for holding documents to the code.
        pub fn check_envelope(json: &serde_json::Value) -> Result<&'static str, String> {
            let kind = json["type"].as_str().unwrap_or_default();
            $(
                if kind == $kind {
                    let e: mesh::Envelope<$payload> =
                        serde_json::from_value(json.clone()).map_err(|e| e.to_string())?;
                    e.check($kind)?;
                    return Ok($kind);
                }
            )*
            if kind == <SourceAnswer as mesh::EventKind>::TYPE {
                let e: mesh::Envelope<SourceAnswer> =
                    serde_json::from_value(json.clone()).map_err(|e| e.to_string())?;
                e.check(kind)?;
                return Ok(<SourceAnswer as mesh::EventKind>::TYPE);
            }
            Err(format!("no channel carries messages of type {kind:?}"))
        }
    };
}

channels! {
    /// An applicant household's application was accepted for processing.
    APPLICATION_SUBMITTED: ApplicationSubmitted {
        subject: "intake.application.submitted",
        kind: "intake.application.submitted",
        stream: Some(Stream::Intake),
        producers: ["intake"],
        consumers: ["verification", "monitoring"],
        chain: true,
    }
    /// Verification could not complete automatically: a source gave no answer; a person must verify.
    APPLICATION_MANUAL_REVIEW: ManualReview {
        subject: "intake.application.manual_review",
        kind: "intake.application.manual_review",
        stream: Some(Stream::Intake),
        producers: ["intake"],
        consumers: ["monitoring"],
        chain: true,
    }
    /// A named officer completed the verification of an application in manual verification by
    /// hand; verification stops waiting for its sources.
    APPLICATION_MANUALLY_VERIFIED: ManuallyVerified {
        subject: "intake.application.manually_verified",
        kind: "intake.application.manually_verified",
        stream: Some(Stream::Intake),
        producers: ["intake"],
        consumers: ["verification", "monitoring"],
        chain: true,
    }
    /// A county officer rejected an application (near relatives of staff need a county decision).
    APPLICATION_REJECTED: ApplicationRejected {
        subject: "intake.application.rejected",
        kind: "intake.application.rejected",
        stream: Some(Stream::Intake),
        producers: ["intake"],
        consumers: ["monitoring"],
        chain: true,
    }
    /// Someone objected (异议) to a household's approval disclosure (审批公示) during its notice
    /// period; monitoring files it as a report (举报) of the household's township.
    DISCLOSURE_OBJECTED: DisclosureObjected {
        subject: "intake.disclosure.objected",
        kind: "intake.disclosure.objected",
        stream: Some(Stream::Intake),
        producers: ["intake"],
        consumers: ["monitoring"],
        chain: true,
    }
    /// A risk supervision rule over intake's data tripped (a decision by a registered near
    /// relative, a declared income far below the sources'); monitoring raises a warning for the
    /// county. Not a step of the household's chain.
    INTAKE_RISK_DETECTED: IntakeRiskDetected {
        subject: "intake.risk.detected",
        kind: "intake.risk.detected",
        stream: Some(Stream::Intake),
        producers: ["intake"],
        consumers: ["monitoring"],
        chain: false,
    }
    /// Request/reply to a departmental data holder (core NATS, kept in no stream); the reply is a
    /// `SourceAnswer` on the request's reply subject.
    SOURCE_QUERY: SourceQuery {
        subject: "verify.source.{source}.query",
        kind: "verify.source.query",
        stream: None,
        producers: ["verification"],
        consumers: ["data-holder"],
        chain: false,
    }
    /// A household's economic verification report, with per-source provenance and gaps.
    HOUSEHOLD_VERIFIED: HouseholdVerified {
        subject: "verify.household.verified",
        kind: "verify.household.verified",
        stream: Some(Stream::Verify),
        producers: ["verification"],
        consumers: ["intake", "monitoring"],
        chain: true,
    }
    /// A periodic re-verification of an assisted household, with the same provenance and gaps.
    HOUSEHOLD_REVERIFIED: HouseholdReverified {
        subject: "verify.household.reverified",
        kind: "verify.household.reverified",
        stream: Some(Stream::Verify),
        producers: ["verification"],
        consumers: ["monitoring"],
        chain: true,
    }
    /// One application, classified determination: tier, monthly amount, relief lines.
    HOUSEHOLD_DETERMINED: HouseholdDetermined {
        subject: "eligibility.household.determined",
        kind: "eligibility.household.determined",
        stream: Some(Stream::Eligibility),
        producers: ["intake"],
        consumers: ["monitoring", "payment"],
        chain: true,
    }
    /// A household determined again after a change (a member's death), from `from_month`.
    HOUSEHOLD_REDETERMINED: HouseholdRedetermined {
        subject: "eligibility.household.redetermined",
        kind: "eligibility.household.redetermined",
        stream: Some(Stream::Eligibility),
        producers: ["monitoring"],
        consumers: ["payment"],
        chain: true,
    }
    /// Emergency temporary assistance granted (act first, or after a county case conference), in
    /// one or more scheduled stages.
    EMERGENCY_GRANTED: EmergencyGranted {
        subject: "eligibility.emergency.granted",
        kind: "eligibility.emergency.granted",
        stream: Some(Stream::Eligibility),
        producers: ["intake"],
        consumers: ["payment", "monitoring"],
        chain: true,
    }
    /// Monitoring enrolled the household in the low-income population database.
    HOUSEHOLD_ENROLLED: HouseholdEnrolled {
        subject: "monitor.household.enrolled",
        kind: "monitor.household.enrolled",
        stream: Some(Stream::Monitor),
        producers: ["monitoring"],
        consumers: ["verification", "monitoring"],
        chain: true,
    }
    /// A person's or a household's assistance stops (a death, a termination) or winds down
    /// (gradual exit); payment acts on it, and intake takes a household that stopped off its
    /// long-term disclosure list (长期公示).
    HOUSEHOLD_CHANGED: HouseholdChanged {
        subject: "monitor.household.changed",
        kind: "monitor.household.changed",
        stream: Some(Stream::Monitor),
        producers: ["monitoring"],
        consumers: ["payment", "monitoring", "intake"],
        chain: true,
    }
    /// A household whose report was confirmed as fraud gets a dishonesty record (失信记录):
    /// intake holds its members' new applications to it.
    DISHONESTY_RECORDED: DishonestyRecorded {
        subject: "monitor.household.dishonesty_recorded",
        kind: "monitor.household.dishonesty_recorded",
        stream: Some(Stream::Monitor),
        producers: ["monitoring"],
        consumers: ["intake", "monitoring"],
        chain: true,
    }
    /// A household's dishonesty record was lifted before it expired: intake no longer holds
    /// its members' new applications to it.
    DISHONESTY_LIFTED: DishonestyLifted {
        subject: "monitor.household.dishonesty_lifted",
        kind: "monitor.household.dishonesty_lifted",
        stream: Some(Stream::Monitor),
        producers: ["monitoring"],
        consumers: ["intake", "monitoring"],
        chain: true,
    }
    /// One record of a departmental feed (death, unemployment, serious illness, severe
    /// disability, student hardship, return to poverty, disaster victims) for data comparison.
    FEED_RECORD: FeedRecord {
        subject: "monitor.feed.{source}",
        kind: "monitor.feed.record",
        stream: Some(Stream::Monitor),
        producers: ["data-holder"],
        consumers: ["monitoring"],
        chain: false,
    }
    /// A person in hardship reported for active discovery (grid worker, 12345 hotline, village
    /// assistant, social organisation).
    DISCOVERY_REPORTED: DiscoveryReport {
        subject: "monitor.discovery.reported",
        kind: "monitor.discovery.reported",
        stream: Some(Stream::Monitor),
        producers: ["reporter"],
        consumers: ["monitoring"],
        chain: false,
    }
    /// A consultation, complaint or report (咨询、投诉、举报) was received, investigated,
    /// answered or escalated; a step of a household's chain when it concerns one.
    COMPLAINT_PROGRESS: ComplaintProgress {
        subject: "monitor.complaint.{step}",
        kind: "monitor.complaint.progress",
        stream: Some(Stream::Monitor),
        producers: ["monitoring"],
        consumers: ["monitoring"],
        chain: true,
    }
    /// A person referred to a department.
    REFERRAL_PUSH: ReferralPush {
        subject: "referral.{dept}.push",
        kind: "referral.push",
        stream: Some(Stream::Referral),
        producers: ["monitoring"],
        consumers: ["relief", "department", "monitoring"],
        chain: true,
    }
    /// A department's answer to a referral.
    REFERRAL_FEEDBACK: ReferralFeedback {
        subject: "referral.{dept}.feedback",
        kind: "referral.feedback",
        stream: Some(Stream::Referral),
        producers: ["relief", "department"],
        consumers: ["monitoring"],
        chain: true,
    }
    /// Monitoring did not apply a department's feedback: why, for the department's system
    /// (the department answer protocol).
    REFERRAL_REFUSED: ReferralRefused {
        subject: "referral.{dept}.refused",
        kind: "referral.refused",
        stream: Some(Stream::Referral),
        producers: ["monitoring"],
        consumers: ["department"],
        chain: false,
    }
    /// Payment recorded a payment instruction.
    PAYMENT_INSTRUCTION_CREATED: InstructionCreated {
        subject: "payment.instruction.created",
        kind: "payment.instruction.created",
        stream: Some(Stream::Payment),
        producers: ["payment"],
        consumers: ["monitoring"],
        chain: true,
    }
    /// An instruction moved forward (sent, accepted, settled, rejected, returned).
    PAYMENT_INSTRUCTION_STATUS: InstructionStatusChanged {
        subject: "payment.instruction.status",
        kind: "payment.instruction.status",
        stream: Some(Stream::Payment),
        producers: ["payment"],
        consumers: ["monitoring"],
        chain: true,
    }
    /// A pain.002 status report from the bank (the XML document), taken in once per report MsgId.
    PAYMENT_BANK_STATUS: BankStatusReport {
        subject: "payment.bank.status",
        kind: "payment.bank.status",
        stream: Some(Stream::Payment),
        producers: ["bank"],
        consumers: ["payment", "monitoring"],
        chain: false,
    }
    /// Payment's monthly run for a month went through every enrolled household.
    PAYMENT_RUN_COMPLETED: RunCompleted {
        subject: "payment.run.completed",
        kind: "payment.run.completed",
        stream: Some(Stream::Payment),
        producers: ["payment"],
        consumers: ["operator", "monitoring"],
        chain: false,
    }
    /// Payment's monthly run for a month failed, or was not completed by its deadline day.
    PAYMENT_RUN_ALERT: RunAlert {
        subject: "payment.run.alert",
        kind: "payment.run.alert",
        stream: Some(Stream::Payment),
        producers: ["payment"],
        consumers: ["operator", "monitoring"],
        chain: false,
    }
    /// Payment opened a recovery case for money instructed after the entitlement stopped.
    PAYMENT_RECOVERY_OPENED: RecoveryOpened {
        subject: "payment.recovery.opened",
        kind: "payment.recovery.opened",
        stream: Some(Stream::Payment),
        producers: ["payment"],
        consumers: ["monitoring"],
        chain: true,
    }
    /// A risk supervision rule over payment's accounts tripped (one account for several
    /// households, repeated account changes before a run); monitoring raises a warning for the
    /// county. Not a step of the household's chain.
    PAYMENT_RISK_DETECTED: PaymentRiskDetected {
        subject: "payment.risk.detected",
        kind: "payment.risk.detected",
        stream: Some(Stream::Payment),
        producers: ["payment"],
        consumers: ["monitoring"],
        chain: false,
    }
}

/// Messages a service gave up on, with the reason in headers; the payload is the original
/// message's, whatever it was.
pub const DEAD_LETTER: ChannelInfo = ChannelInfo {
    subject: mesh::deadletter::SUBJECT,
    kind: "",
    stream: Some(Stream::DeadLetter),
    producers: ["every service"].as_slice(),
    consumers: ["operator"].as_slice(),
    chain: false,
    payload: "the original message",
    doc: "Messages a service gave up on, with the reason in headers.",
};

/// The audit trail of every service (`mesh::audit`), record by record: not an envelope but a
/// [`mesh::audit::Record`], hash-chained, for auditors and archives.
pub const AUDIT: ChannelInfo = ChannelInfo {
    subject: mesh::audit::SUBJECT,
    kind: "",
    stream: Some(Stream::Audit),
    producers: ["every service"].as_slice(),
    consumers: ["auditor"].as_slice(),
    chain: false,
    payload: "mesh::audit::Record",
    doc: "The audit trail of every service, record by record, hash-chained.",
};

/// The channel of `subject` (a full subject without the deployment's prefix): its template's
/// variable token stands for any one token.
pub fn channel_of(subject: &str) -> Option<&'static ChannelInfo> {
    CATALOG.iter().find(|c| {
        let template: Vec<&str> = c.subject.split('.').collect();
        let tokens: Vec<&str> = subject.split('.').collect();
        template.len() == tokens.len()
            && template
                .iter()
                .zip(&tokens)
                .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
    })
}

/// One durable consumer of monitoring's chain recorder: the stream, its one filter (before the
/// prefix; consumers on NATS 2.9 take one filter each) and the consumer's purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainFilter {
    pub stream: Stream,
    pub filter: &'static str,
    pub purpose: &'static str,
}

/// What monitoring's chain recorder reads: together, every chain channel of the catalogue, and
/// of the other channels only the few its streams' filters bring along (`referral.>` the
/// refusals, `payment.>` the bank's reports and the runs' totals, `intake.>` and `payment.>` the risk detections; the recorder skips them). `monitor.household.>` and `monitor.complaint.>` leave out the feed
/// records and discovery reports. The test below holds it to [`CATALOG`].
pub const CHAIN_FILTERS: &[ChainFilter] = &[
    ChainFilter {
        stream: Stream::Intake,
        filter: "intake.>",
        purpose: "chain-intake",
    },
    ChainFilter {
        stream: Stream::Verify,
        filter: "verify.household.>",
        purpose: "chain-verify",
    },
    ChainFilter {
        stream: Stream::Eligibility,
        filter: "eligibility.>",
        purpose: "chain-eligibility",
    },
    ChainFilter {
        stream: Stream::Monitor,
        filter: "monitor.household.>",
        purpose: "chain-monitor",
    },
    ChainFilter {
        stream: Stream::Monitor,
        filter: "monitor.complaint.>",
        purpose: "chain-monitor-complaints",
    },
    ChainFilter {
        stream: Stream::Referral,
        filter: "referral.>",
        purpose: "chain-referral",
    },
    ChainFilter {
        stream: Stream::Payment,
        filter: "payment.>",
        purpose: "chain-payment",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_channel_is_kept_by_the_stream_it_names() {
        for c in CATALOG {
            let concrete = c
                .subject
                .replace("{dept}", "medical")
                .replace("{source}", "death")
                .replace("{service}", "intake")
                .replace("{step}", "received");
            assert_eq!(Stream::storing(&concrete), c.stream, "{}", c.subject);
            assert!(
                !c.producers.is_empty() && !c.consumers.is_empty(),
                "{}",
                c.subject
            );
        }
    }

    /// Whether `filter` (`a.b.>` or a full subject) covers subject template `subject`.
    fn covers(filter: &str, subject: &str) -> bool {
        match filter.strip_suffix('>') {
            Some(prefix) => subject.starts_with(prefix),
            None => filter == subject,
        }
    }

    #[test]
    fn the_chain_recorder_reads_every_household_event_and_no_feed_record() {
        for c in CATALOG.iter().filter(|c| c.chain) {
            let by: Vec<_> = CHAIN_FILTERS
                .iter()
                .filter(|f| covers(f.filter, c.subject))
                .collect();
            assert_eq!(by.len(), 1, "{} is read by one chain consumer", c.subject);
            assert_eq!(by[0].stream, c.stream.unwrap(), "{}", c.subject);
        }
        for c in CATALOG.iter().filter(|c| !c.chain) {
            let by = CHAIN_FILTERS.iter().find(|f| covers(f.filter, c.subject));
            // The refusals, the bank's reports and the runs' totals come with their streams'
            // chain channels (few, skipped); never a feed record or a discovery report.
            let along = [
                "referral.{dept}.refused",
                "payment.bank.status",
                "payment.run.completed",
                "payment.run.alert",
                "payment.risk.detected",
                "intake.risk.detected",
            ];
            assert!(
                by.is_none() || along.contains(&c.subject),
                "{} is not a chain channel, yet {:?} reads it",
                c.subject,
                by
            );
        }
        let mut purposes: Vec<_> = CHAIN_FILTERS.iter().map(|f| f.purpose).collect();
        purposes.sort();
        purposes.dedup();
        assert_eq!(purposes.len(), CHAIN_FILTERS.len());
    }

    #[test]
    fn each_service_declares_the_streams_it_publishes_to_or_consumes_from() {
        // And every service the dead-letter and audit streams.
        use Stream::*;
        let declared = |service: &str| mesh::streams::declared_by(service, CATALOG);
        assert_eq!(
            declared("intake"),
            [Intake, Verify, Eligibility, Monitor, DeadLetter, Audit]
        );
        assert_eq!(
            declared("verification"),
            [Intake, Verify, Monitor, DeadLetter, Audit]
        );
        assert_eq!(declared("monitoring"), Stream::ALL);
        assert_eq!(
            declared("payment"),
            [Eligibility, Monitor, Payment, DeadLetter, Audit]
        );
        assert_eq!(declared("relief-medical"), [Referral, DeadLetter, Audit]);
        assert_eq!(declared("a-test-service"), [DeadLetter, Audit]);
    }

    #[test]
    fn a_subject_finds_its_channel() {
        assert_eq!(
            channel_of("referral.housing.feedback").map(|c| c.kind),
            Some("referral.feedback")
        );
        assert_eq!(
            channel_of("referral.housing.refused").map(|c| c.chain),
            Some(false)
        );
        assert_eq!(channel_of("referral.push"), None);
        assert_eq!(channel_of("referral.housing.push.x"), None);
    }

    #[test]
    fn subjects_and_types_are_each_declared_once() {
        let mut subjects: Vec<_> = CATALOG.iter().map(|c| c.subject).collect();
        subjects.sort();
        subjects.dedup();
        assert_eq!(subjects.len(), CATALOG.len());
        let mut kinds: Vec<_> = CATALOG
            .iter()
            .map(|c| c.kind)
            .filter(|k| !k.is_empty())
            .collect();
        kinds.sort();
        kinds.dedup();
        // Dead letters and audit records are not envelopes: they have no type.
        assert_eq!(kinds.len(), CATALOG.len() - 2);
    }
}
