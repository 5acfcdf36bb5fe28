//! JetStream streams and durable consumers, declared in code and created or updated at start-up.
//!
//! Each service declares the streams it publishes to or consumes from, and the dead-letter
//! and audit streams ([`declared_by`]): whichever starts first creates a stream, so start-up order does not
//! matter, and a service's NATS user needs the right to declare those streams only
//! (`deploy/nats/auth.conf`).

use crate::channel::ChannelInfo;
use crate::settings::NatsSettings;
use crate::Subjects;
use anyhow::Context as _;
use async_nats::jetstream::{self, consumer::pull, stream};
use std::time::Duration;

pub use crate::channel::Stream;

impl Stream {
    /// The stream's name under this deployment's prefix (`RELIEF_INTAKE`, `T1A2B_INTAKE`).
    pub fn name(self, subjects: &Subjects) -> String {
        stream_name(subjects, self.base())
    }
}

/// The stream name for `base` under this deployment's prefix (`RELIEF_INTAKE`, `T1A2B_INTAKE`).
pub fn stream_name(subjects: &Subjects, base: &str) -> String {
    let p: String = subjects
        .prefix()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if p.is_empty() {
        format!("RELIEF_{base}")
    } else {
        format!("{p}_{base}")
    }
}

/// The stream that stores `subject` (without prefix).
pub fn stream_for(subject: &str) -> Option<Stream> {
    Stream::storing(subject)
}

/// The streams the service `service` declares: those keeping a channel of `catalog` it produces
/// or consumes, and the dead-letter and audit streams (every service parks its own dead letters
/// and publishes its audit records there).
pub fn declared_by(service: &str, catalog: &[ChannelInfo]) -> Vec<Stream> {
    Stream::ALL
        .into_iter()
        .filter(|s| {
            // Every service writes dead letters and audit records.
            *s == Stream::DeadLetter
                || *s == Stream::Audit
                || catalog.iter().any(|c| {
                    c.stream == Some(*s) && (c.produced_by(service) || c.consumed_by(service))
                })
        })
        .collect()
}

/// Creates or updates `streams`.
pub async fn ensure_streams(
    js: &jetstream::Context,
    subjects: &Subjects,
    nats: &NatsSettings,
    streams: &[Stream],
) -> anyhow::Result<()> {
    for &s in streams {
        let config = stream::Config {
            name: s.name(subjects),
            subjects: s.filters().iter().map(|f| subjects.of(f)).collect(),
            storage: stream::StorageType::File,
            num_replicas: nats.replicas,
            duplicate_window: Duration::from_millis(nats.duplicate_window_ms),
            max_age: Duration::from_secs(nats.stream_max_age_days * 24 * 3600),
            allow_direct: true,
            ..Default::default()
        };
        js.create_or_update_stream(config).await.with_context(|| {
            format!(
                "stream {} could not be created or updated",
                s.name(subjects)
            )
        })?;
    }
    Ok(())
}

/// Waits until every one of `streams` exists (declared by the platform), retrying each second.
pub async fn await_streams(
    js: &jetstream::Context,
    subjects: &Subjects,
    streams: &[Stream],
) -> anyhow::Result<()> {
    for &s in streams {
        let name = s.name(subjects);
        let mut logged = false;
        while let Err(error) = js.get_stream(&name).await {
            if !logged {
                tracing::warn!(stream = %name, %error, "Stream is not there yet; the platform declares the streams (`declare-streams`, the Job nats-bootstrap). Waiting.");
                logged = true;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    Ok(())
}

/// A durable pull consumer: explicit ack, bounded deliveries; the redelivery delay after a failure
/// is chosen by the consumer loop (`Nak` with backoff).
/// One filter subject per consumer: NATS 2.9 (Debian's) has no multi-filter consumers.
pub fn durable(name: &str, filter_subject: String, nats: &NatsSettings) -> pull::Config {
    pull::Config {
        durable_name: Some(name.to_owned()),
        filter_subject,
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_millis(nats.ack_wait_ms),
        // One delivery more than handlers get: on it, a message no handler ever settled is
        // dead-lettered (`consumer::handle_one`) rather than dropped by the server.
        max_deliver: nats.max_deliver + 1,
        deliver_policy: jetstream::consumer::DeliverPolicy::All,
        max_ack_pending: 1000,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_carry_the_prefix() {
        assert_eq!(stream_name(&Subjects::new("t-1a"), "INTAKE"), "T_1A_INTAKE");
        assert_eq!(stream_name(&Subjects::new(""), "INTAKE"), "RELIEF_INTAKE");
        assert_eq!(stream_for("verify.source.bank.query"), None);
    }
}
