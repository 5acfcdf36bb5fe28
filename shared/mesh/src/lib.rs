//! The plumbing every relief-mesh service shares, so that each service is only its rules.
//!
//! | module | what it holds |
//! |---|---|
//! | [`audit`] | the hash-chained audit trail of decisions, changes and reads of personal data |
//! | [`auth`] | OpenID Connect access tokens: the caller, its roles and areas, the actor of a step |
//! | [`channel`] | a channel's type: subject template, payload, stream, producers, consumers (the catalogue is `contract::channels`) |
//! | [`clock`] | now and today in the bureau's time zone: the system clock, or one a test sets |
//! | [`settings`] | layered configuration: defaults → file (`RELIEF_CONFIG_FILE`) → `RELIEF_…` variables |
//! | [`envelope`] | the CloudEvents-style envelope every message travels in |
//! | [`subjects`] | subjects under the deployment's prefix; the subjects themselves are `contract::channels` |
//! | [`streams`] | JetStream streams and durable consumers, declared in code, created idempotently |
//! | [`outbox`] | the transactional outbox and its relay; the inbox that makes handling idempotent |
//! | [`consumer`] | the consumer loop: trace extraction, ack after commit, Nak with backoff, dead letters |
//! | [`deadletter`] | the dead-letter stream, its listing and replay over HTTP |
//! | [`telemetry`] | `tracing` set-up, OTLP export when configured, W3C trace context on NATS headers |
//! | [`http`] | `/healthz`, `/readyz`, `/metrics`, JSON errors, request spans |
//! | [`metrics`] | Prometheus counters and histograms with low-cardinality labels |
//! | [`db`] | connecting, creating the service's database when missing, migrations |
//! | [`service`] | [`service::ServiceBuilder`] → [`service::Application`]: build, run until stopped, shut down |

pub mod audit;
pub mod auth;
pub mod channel;
pub mod clock;
pub mod consumer;
pub mod db;
pub mod deadletter;
pub mod envelope;
pub mod http;
pub mod metrics;
pub mod outbox;
pub mod rounds;
pub mod service;
pub mod settings;
pub mod streams;
pub mod subjects;
pub mod telemetry;

pub use auth::{Acting, Actor, Caller, Role};
pub use channel::{Channel, ChannelInfo, Stream};
pub use clock::Clock;
pub use consumer::{BatchResult, Delivery, HandlerError};
pub use envelope::{ChainRef, Envelope, EventKind};
pub use service::{Application, Mesh, ServiceBuilder};
pub use settings::MeshSettings;
pub use subjects::Subjects;
