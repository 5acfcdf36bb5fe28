//! Channels: a subject of the contract together with the payload it carries, the stream that
//! keeps it, and who produces and consumes it.
//!
//! The catalogue itself is `contract::channels` (it knows the payload types); this module gives
//! it its types. A [`Channel<T>`] is typed by its payload, so publishing an envelope of the wrong
//! type on a channel ([`crate::outbox::enqueue_on`]) or consuming a channel with a handler for
//! another payload ([`crate::ServiceBuilder::on`]) does not compile.

use crate::Subjects;
use std::marker::PhantomData;

/// A JetStream stream of the mesh. Every stored channel names its stream, so no stream name is
/// written anywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stream {
    Intake,
    Verify,
    Eligibility,
    Monitor,
    Referral,
    Payment,
    DeadLetter,
    /// Every service's audit records, `audit.<service>.recorded` ([`crate::audit`]).
    Audit,
}

impl Stream {
    pub const ALL: [Stream; 8] = [
        Stream::Intake,
        Stream::Verify,
        Stream::Eligibility,
        Stream::Monitor,
        Stream::Referral,
        Stream::Payment,
        Stream::DeadLetter,
        Stream::Audit,
    ];

    /// The stream's name before the deployment's prefix (`RELIEF_INTAKE` in production).
    pub const fn base(self) -> &'static str {
        match self {
            Stream::Intake => "INTAKE",
            Stream::Verify => "VERIFY",
            Stream::Eligibility => "ELIGIBILITY",
            Stream::Monitor => "MONITOR",
            Stream::Referral => "REFERRAL",
            Stream::Payment => "PAYMENT",
            Stream::DeadLetter => "DEADLETTER",
            Stream::Audit => "AUDIT",
        }
    }

    /// The subjects it stores (before the prefix). `verify.source.*.query` is request/reply and
    /// deliberately in none: a stream on it would answer the request with its publish ack.
    pub const fn filters(self) -> &'static [&'static str] {
        match self {
            Stream::Intake => &["intake.>"],
            Stream::Verify => &["verify.household.>"],
            Stream::Eligibility => &["eligibility.>"],
            Stream::Monitor => &["monitor.>"],
            Stream::Referral => &["referral.>"],
            Stream::Payment => &["payment.>"],
            Stream::DeadLetter => &["deadletter.>"],
            Stream::Audit => &["audit.>"],
        }
    }

    /// The stream that stores `subject` (without prefix), if any.
    pub fn storing(subject: &str) -> Option<Stream> {
        Stream::ALL.into_iter().find(|s| {
            s.filters()
                .iter()
                .any(|f| subject.starts_with(f.trim_end_matches('>')))
        })
    }
}

/// One channel of the contract, typed by its payload `T`.
pub struct Channel<T> {
    /// The subject template; `{dept}`, `{source}`, `{service}` or `{step}` is its one variable token.
    pub subject: &'static str,
    /// The envelope `type` of its messages (CloudEvents).
    pub kind: &'static str,
    /// The stream that keeps it; `None` for request/reply.
    pub stream: Option<Stream>,
    /// Who publishes on it (service names; `department` for a department's own system,
    /// `data-holder` for a data holder, `bank` for the bank).
    pub producers: &'static [&'static str],
    /// Who consumes it.
    pub consumers: &'static [&'static str],
    /// Whether its messages are steps of a household's chain (monitoring records them).
    pub chain: bool,
    /// The payload type's name, for the catalogue's readers.
    pub payload: &'static str,
    /// What a message on it means.
    pub doc: &'static str,
    _payload: PhantomData<fn() -> T>,
}

// Not derived: a derive would ask `T: Clone`, and a channel is only a description of `T`.
impl<T> Clone for Channel<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Channel<T> {}

impl<T> std::fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("subject", &self.subject)
            .field("kind", &self.kind)
            .finish()
    }
}

/// A channel with its payload type erased: what the catalogue lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelInfo {
    pub subject: &'static str,
    pub kind: &'static str,
    pub stream: Option<Stream>,
    pub producers: &'static [&'static str],
    pub consumers: &'static [&'static str],
    pub chain: bool,
    pub payload: &'static str,
    pub doc: &'static str,
}

/// The mesh's own services (a `relief-<dept>` instance is of the family `relief`). A channel whose
/// producers are all among them carries only events these services published; its consumers
/// refuse an envelope whose `source` names another (NATS permissions refuse the publish itself
/// in production: `deploy/nats/auth.conf`).
pub const INTERNAL_SERVICES: &[&str] =
    &["intake", "verification", "monitoring", "payment", "relief"];

/// Whether `service` (an instance name: `intake`, `relief-medical`) is one of `parties`, by its
/// name or by its family (`relief`).
pub fn is_among(parties: &[&str], service: &str) -> bool {
    let family = service.split('-').next().unwrap_or_default();
    parties.iter().any(|p| *p == service || *p == family)
}

impl ChannelInfo {
    /// Whether the service `service` publishes on this channel (by name or family).
    pub fn produced_by(&self, service: &str) -> bool {
        is_among(self.producers, service)
    }

    /// Whether the service `service` consumes this channel (by name or family).
    pub fn consumed_by(&self, service: &str) -> bool {
        is_among(self.consumers, service)
    }

    /// Whether only the mesh's own services produce on this channel.
    pub fn is_internal(&self) -> bool {
        self.producers.iter().all(|p| INTERNAL_SERVICES.contains(p))
    }

    /// Checks that `source` (an envelope's, `/relief-mesh/<service>`) may have published on
    /// this channel: for an internal channel, its service (or family) must be a producer. A
    /// channel an outside party produces on (a department, a data holder, the bank) is guarded by
    /// the party's NATS permissions alone.
    pub fn check_source(&self, source: &str) -> Result<(), String> {
        if !self.is_internal() {
            return Ok(());
        }
        if self.produced_by(crate::envelope::service_of(source)) {
            Ok(())
        } else {
            Err(format!(
                "{} is published by {} only; this event's source is {source:?}",
                self.subject,
                self.producers.join(", ")
            ))
        }
    }
}

impl<T> Channel<T> {
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        subject: &'static str,
        kind: &'static str,
        stream: Option<Stream>,
        producers: &'static [&'static str],
        consumers: &'static [&'static str],
        chain: bool,
        payload: &'static str,
        doc: &'static str,
    ) -> Self {
        Channel {
            subject,
            kind,
            stream,
            producers,
            consumers,
            chain,
            payload,
            doc,
            _payload: PhantomData,
        }
    }

    pub const fn info(&self) -> ChannelInfo {
        ChannelInfo {
            subject: self.subject,
            kind: self.kind,
            stream: self.stream,
            producers: self.producers,
            consumers: self.consumers,
            chain: self.chain,
            payload: self.payload,
            doc: self.doc,
        }
    }

    /// Whether the subject has a variable token (a department, a source).
    pub fn is_template(&self) -> bool {
        self.subject.contains('{')
    }

    /// The full subject of a channel without a variable token.
    pub fn subject(&self, subjects: &Subjects) -> String {
        subjects.of(self.subject)
    }

    /// The full subject with the variable token set to `token` (`referral.medical.push`).
    pub fn subject_for(&self, subjects: &Subjects, token: &str) -> String {
        subjects.fill(self.subject, token)
    }

    /// A filter for every message of the channel: its variable token, if any, as `*`.
    pub fn filter(&self, subjects: &Subjects) -> String {
        if self.is_template() {
            subjects.fill(self.subject, "*")
        } else {
            subjects.of(self.subject)
        }
    }

    /// The value of the variable token in a full subject of this channel.
    pub fn token<'a>(&self, subjects: &Subjects, subject: &'a str) -> Option<&'a str> {
        subjects.token(self.subject, subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ping;
    const PUSH: Channel<Ping> = Channel::new(
        "referral.{dept}.push",
        "referral.push",
        Some(Stream::Referral),
        &["monitoring"],
        &["relief"],
        true,
        "Ping",
        "",
    );

    #[test]
    fn a_channel_fills_filters_and_reads_its_token() {
        let s = Subjects::new("t1");
        assert_eq!(PUSH.filter(&s), "t1.referral.*.push");
        let medical = PUSH.subject_for(&s, "medical");
        assert_eq!(medical, "t1.referral.medical.push");
        assert_eq!(PUSH.token(&s, &medical), Some("medical"));
        assert_eq!(
            Stream::storing("referral.medical.push"),
            Some(Stream::Referral)
        );
        assert_eq!(Stream::storing("verify.source.bank.query"), None);
    }

    #[test]
    fn an_internal_channel_takes_only_its_producers_events() {
        let push = PUSH.info();
        assert!(push.is_internal());
        assert!(push.check_source("/relief-mesh/monitoring").is_ok());
        let forged = push.check_source("/relief-mesh/intake").unwrap_err();
        assert!(forged.contains("monitoring"), "{forged}");
        assert!(push.check_source("anyone").is_err());
        let feedback = ChannelInfo {
            producers: &["relief", "department"],
            ..push
        };
        assert!(!feedback.is_internal());
        assert!(feedback.check_source("/departments/housing").is_ok());
        let relief = ChannelInfo {
            producers: &["relief"],
            ..push
        };
        assert!(relief.check_source("/relief-mesh/relief-housing").is_ok());
    }
}
