//! The envelope: CloudEvents 1.0 attribute names, plus the chain fields of the mesh.
//!
//! On the wire a message is the JSON envelope (structured mode) with, in NATS headers,
//! `Nats-Msg-Id` = `id` and the W3C `traceparent`/`tracestate`.

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use uuid::Uuid;

pub const SPEC_VERSION: &str = "1.0";
pub const CONTENT_TYPE: &str = "application/json";

/// A kind of event: its CloudEvents `type` and the schema version of its `data`.
pub trait EventKind: Serialize + DeserializeOwned {
    const TYPE: &'static str;
    const SCHEMA_VERSION: u32 = 1;

    /// Every amount, count and list of the payload within `bounds`; otherwise `field: rule` of
    /// the first that is not. A consumer dead-letters a message out of range before its handler
    /// sees it. The contract's payloads each say their ranges (`contract::Bounded`).
    fn check_bounds(&self, bounds: &policy::Bounds) -> Result<(), String> {
        let _ = bounds;
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope<T> {
    pub specversion: String,
    /// Unique per event; also the `Nats-Msg-Id`. Any non-empty string from a department's system.
    pub id: String,
    /// URI-reference of the producing service, `/relief-mesh/<service>`.
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub time: DateTime<Utc>,
    /// What the event is about within the source (an application, referral or instruction id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub datacontenttype: String,
    pub household_id: Uuid,
    /// One per household's assistance chain.
    pub chain_id: Uuid,
    /// The id of the event this one answers; absent on the first event of a chain.
    #[serde(default)]
    pub causation_id: Option<String>,
    pub schema_version: u32,
    /// The person (or department system) whose act this event records, from the access token
    /// of the request that made it (`sub`, `name`, `role`); absent on events a rule or a
    /// scheduled task makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<crate::auth::Actor>,
    pub data: T,
}

/// The chain an event belongs to and the event it answers.
#[derive(Debug, Clone)]
pub struct ChainRef {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub causation_id: Option<String>,
}

impl ChainRef {
    /// The reference for events that answer `cause`.
    pub fn answering<T>(cause: &Envelope<T>) -> Self {
        Self {
            household_id: cause.household_id,
            chain_id: cause.chain_id,
            causation_id: Some(cause.id.clone()),
        }
    }
}

impl<T: EventKind> Envelope<T> {
    /// An envelope timed by the machine's clock: for parties outside the mesh (the simulators,
    /// a department's system in tests). A service's own come from `Mesh::envelope`, timed by its clock.
    pub fn new(service: &str, chain: &ChainRef, subject: Option<String>, data: T) -> Self {
        Self::timed(service, chain, subject, data, crate::clock::machine_now())
    }

    /// An envelope made at `time`.
    pub fn timed(
        service: &str,
        chain: &ChainRef,
        subject: Option<String>,
        data: T,
        time: DateTime<Utc>,
    ) -> Self {
        Self {
            specversion: SPEC_VERSION.to_owned(),
            id: Uuid::new_v4().to_string(),
            source: source_of(service),
            kind: T::TYPE.to_owned(),
            time,
            subject,
            datacontenttype: CONTENT_TYPE.to_owned(),
            household_id: chain.household_id,
            chain_id: chain.chain_id,
            causation_id: chain.causation_id.clone(),
            schema_version: T::SCHEMA_VERSION,
            actor: None,
            data,
        }
    }

    /// The envelope, recording `actor` as the one who acted.
    pub fn by(mut self, actor: crate::auth::Actor) -> Self {
        self.actor = Some(actor);
        self
    }
}

impl<T> Envelope<T> {
    /// Checks what serde cannot: the attributes a consumer relies on.
    pub fn check(&self, expected_type: &str) -> Result<(), String> {
        if self.specversion != SPEC_VERSION {
            return Err(format!(
                "specversion must be {SPEC_VERSION}, found {}",
                self.specversion
            ));
        }
        if self.id.trim().is_empty() || self.id.len() > 128 {
            return Err("id must be 1 to 128 characters".into());
        }
        if self.kind != expected_type {
            return Err(format!("type must be {expected_type}, found {}", self.kind));
        }
        Ok(())
    }
}

/// The envelope `source` of a service.
pub fn source_of(service: &str) -> String {
    format!("/relief-mesh/{service}")
}

/// The service name back from an envelope `source`.
pub fn service_of(source: &str) -> &str {
    source.strip_prefix("/relief-mesh/").unwrap_or(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
    struct Ping {
        n: u32,
    }
    impl EventKind for Ping {
        const TYPE: &'static str = "test.ping";
    }

    #[test]
    fn the_envelope_uses_cloudevents_attribute_names() {
        let chain = ChainRef {
            household_id: Uuid::nil(),
            chain_id: Uuid::nil(),
            causation_id: Some("c1".into()),
        };
        let e = Envelope::new("intake", &chain, Some("a1".into()), Ping { n: 1 });
        let v = serde_json::to_value(&e).unwrap();
        for key in [
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "subject",
            "datacontenttype",
            "household_id",
            "chain_id",
            "causation_id",
            "schema_version",
            "data",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["source"], "/relief-mesh/intake");
        assert_eq!(v["type"], "test.ping");
        let back: Envelope<Ping> = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
        assert!(back.check("test.ping").is_ok());
        assert!(back.check("other").is_err());
    }
}
