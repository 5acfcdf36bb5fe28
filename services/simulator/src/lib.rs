//! Data-holder **simulator**: stands in for the departmental systems we do not run — the bank,
//! the tax office, property and vehicle registries, market regulation, social insurance, the
//! housing provident fund, the civil registry — by answering `verify.source.<source>.query`
//! with the real contract (envelope in, envelope out) from fixture data.
//!
//! Figures come from a fixtures file (`id_number → source → figures`) where one is given, and
//! otherwise are generated deterministically from the seed and the ID number, so a run can be
//! repeated. Latency, a failure rate, sources that answer errors and sources that never answer
//! are configurable, to exercise timeouts and gaps.
//!
//! `source-simulator generate` writes a deterministic data set (fixtures and applications) for
//! load runs and demos: see [`generate`].
//!
//! The bank that pays (pain.001 in, pain.002 out) is simulated by [`bank`], the `bank-simulator`
//! binary.

#![allow(
    clippy::expect_used,
    reason = "a simulator for tests and demos: a broken fixture or listener stops it loudly"
)]

use anyhow::Context as _;
use axum::routing::get;
use axum::{Json, Router};
use contract::channels::SOURCE_QUERY;
use contract::{AnswerStatus, SourceAnswer, SourceQuery, SourceRecord};
use futures::StreamExt;
use mesh::settings::{HttpSettings, NatsSettings, TelemetrySettings};
use mesh::{ChainRef, Envelope, Subjects};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util_free::CancelOnDrop;
use tracing::Instrument;

pub mod bank;
pub mod generate;

/// Every data holder the simulator can stand in for.
pub const SOURCES: [&str; 8] = [
    "bank",
    "tax",
    "property",
    "vehicle",
    "business",
    "social-insurance",
    "provident-fund",
    "civil-registry",
];

/// The seed of [`DEFAULTS`].
pub const DEFAULT_SEED: u64 = 20261122;

pub const DEFAULTS: &str = r#"
service = "source-simulator"
[http]
port = 8089
[simulator]
sources = ["bank", "tax", "property", "vehicle", "business", "social-insurance", "provident-fund", "civil-registry"]
seed = 20261122
latency_ms = 0
failure_rate_permille = 0
silent_sources = []
failing_sources = []
"#;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub service: String,
    pub http: HttpSettings,
    pub nats: NatsSettings,
    pub telemetry: TelemetrySettings,
    pub simulator: SimulatorSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SimulatorSettings {
    /// Sources this process answers for.
    pub sources: Vec<String>,
    pub seed: u64,
    /// Delay before each answer.
    pub latency_ms: u64,
    /// Share of queries (‰) answered with an error, chosen deterministically per request.
    pub failure_rate_permille: u64,
    /// Sources that receive queries and never answer (the caller times out).
    pub silent_sources: Vec<String>,
    /// Sources that always answer with an error.
    pub failing_sources: Vec<String>,
    /// JSON fixtures: `{ "<id_number>": { "<source>": { "monthly_income_fen": 0, "assets_fen": 0 } } }`.
    #[serde(default)]
    pub fixtures_file: Option<String>,
}

/// What one source holds about one person.
#[derive(Debug, Clone, Copy, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Figures {
    /// Absent: unknown to this source (it answers with no figure, not with zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_income_fen: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assets_fen: Option<i64>,
}

pub type Fixtures = HashMap<String, HashMap<String, Figures>>;

impl Settings {
    pub fn load() -> anyhow::Result<Self> {
        mesh::settings::load(DEFAULTS)
    }
}

/// Deterministic figures for a person unknown to the fixtures. The data set stands for people
/// who apply for assistance: most have small savings and no registered property, a few are
/// well off, so every tier (and the asset test) is exercised.
pub fn generated(seed: u64, source: &str, id_number: &str) -> Figures {
    let mut h = Sha256::new();
    h.update(seed.to_be_bytes());
    h.update(source.as_bytes());
    h.update(id_number.as_bytes());
    let d = h.finalize();
    let n = u64::from_be_bytes(d[..8].try_into().expect("8 bytes"));
    let pick = |m: u64| (n % m) as i64;
    match source {
        // Deposit interest as income, balances as assets.
        "bank" => Figures {
            monthly_income_fen: Some(pick(3_000)),
            assets_fen: Some(if n % 10 == 0 {
                pick(20_000_000)
            } else {
                pick(1_000_000)
            }),
        },
        // Most people in the data set have no taxable income.
        "tax" => Figures {
            monthly_income_fen: Some(if n % 10 < 7 {
                0
            } else {
                30_000 + pick(120_000)
            }),
            assets_fen: None,
        },
        "social-insurance" => Figures {
            monthly_income_fen: Some(if n % 4 == 0 { 15_000 + pick(25_000) } else { 0 }),
            assets_fen: None,
        },
        "provident-fund" => Figures {
            monthly_income_fen: None,
            assets_fen: Some(if n % 5 == 0 { pick(1_000_000) } else { 0 }),
        },
        "property" | "vehicle" | "business" => Figures {
            monthly_income_fen: None,
            assets_fen: Some(if n % 20 == 0 { pick(10_000_000) } else { 0 }),
        },
        _ => Figures::default(),
    }
}

struct Sim {
    settings: SimulatorSettings,
    fixtures: Fixtures,
    subjects: Subjects,
    service: String,
}

impl Sim {
    fn answer(&self, source: &str, query: &SourceQuery) -> SourceAnswer {
        let fail = self.settings.failing_sources.iter().any(|s| s == source)
            || chance(self.settings.seed, &query.request_id.to_string(), source)
                < self.settings.failure_rate_permille;
        if fail {
            return SourceAnswer {
                request_id: query.request_id,
                source: source.to_owned(),
                status: AnswerStatus::Error,
                error: Some("simulated failure of the data holder".into()),
                records: Vec::new(),
            };
        }
        let records = query
            .members
            .iter()
            .map(|m| {
                let f = self
                    .fixtures
                    .get(&m.id_number)
                    .map(|per_source| per_source.get(source).copied().unwrap_or_default())
                    .unwrap_or_else(|| generated(self.settings.seed, source, &m.id_number));
                SourceRecord {
                    member_id: m.member_id,
                    monthly_income_fen: f.monthly_income_fen,
                    assets_fen: f.assets_fen,
                }
            })
            .collect();
        SourceAnswer {
            request_id: query.request_id,
            source: source.to_owned(),
            status: AnswerStatus::Ok,
            error: None,
            records,
        }
    }
}

fn chance(seed: u64, request: &str, source: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(request.as_bytes());
    h.update(source.as_bytes());
    let d = h.finalize();
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) % 1000
}

/// A built simulator: subscribed and listening, not yet answering.
pub struct Simulator {
    sim: Arc<Sim>,
    nats: async_nats::Client,
    subscriber: async_nats::Subscriber,
    listener: TcpListener,
}

impl Simulator {
    pub async fn build(settings: Settings, fixtures: Option<Fixtures>) -> anyhow::Result<Self> {
        let fixtures = match (fixtures, &settings.simulator.fixtures_file) {
            (Some(f), _) => f,
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("fixtures file {path} could not be read"))?;
                serde_json::from_str(&text)
                    .with_context(|| format!("fixtures file {path} is not valid"))?
            }
            (None, None) => Fixtures::new(),
        };
        let nats = settings
            .nats
            .connect_options(&settings.service)
            .connect(settings.nats.url.as_str())
            .await
            .context("NATS is not reachable")?;
        let subjects = Subjects::new(&settings.nats.prefix);
        let subscriber = nats
            .queue_subscribe(
                SOURCE_QUERY.filter(&subjects),
                "source-simulator".to_owned(),
            )
            .await
            .context("subscription failed")?;
        let listener = TcpListener::bind((settings.http.host.as_str(), settings.http.port)).await?;
        let sim = Arc::new(Sim {
            settings: settings.simulator,
            fixtures,
            subjects,
            service: settings.service,
        });
        Ok(Self {
            sim,
            nats,
            subscriber,
            listener,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(
        self,
        signal: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let Simulator {
            sim,
            nats,
            mut subscriber,
            listener,
        } = self;
        let health = nats.clone();
        let router = Router::new()
            .route("/healthz", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
            .route(
                "/readyz",
                get(move || {
                    let ok = health.connection_state() == async_nats::connection::State::Connected;
                    async move {
                        let status = if ok { axum::http::StatusCode::OK } else { axum::http::StatusCode::SERVICE_UNAVAILABLE };
                        (status, Json(serde_json::json!({"status": if ok {"ready"} else {"not_ready"}, "nats": if ok {"ok"} else {"unreachable"}})))
                    }
                }),
            );
        let http = CancelOnDrop(tokio::spawn(
            async move { axum::serve(listener, router).await },
        ));
        let answering = async {
            while let Some(msg) = subscriber.next().await {
                let sim = sim.clone();
                let nats = nats.clone();
                // Each query on its own task, so a slow (latency) answer does not hold up others.
                tokio::spawn(async move {
                    if let Err(error) = respond(&sim, &nats, msg).await {
                        tracing::warn!(%error, "Query could not be answered.");
                    }
                });
            }
        };
        tokio::select! {
            _ = signal => {}
            _ = answering => {}
        }
        drop(http);
        let _ = nats.drain().await;
        Ok(())
    }
}

async fn respond(
    sim: &Sim,
    nats: &async_nats::Client,
    msg: async_nats::Message,
) -> anyhow::Result<()> {
    let Some(reply) = msg.reply.clone() else {
        return Ok(());
    };
    let source = sim
        .subjects
        .token(SOURCE_QUERY.subject, &msg.subject)
        .unwrap_or_default()
        .to_owned();
    if !sim.settings.sources.contains(&source) || sim.settings.silent_sources.contains(&source) {
        return Ok(());
    }
    let span = tracing::info_span!(
        "answer",
        otel.name = format!("answer {}", msg.subject),
        otel.kind = "server",
        messaging.system = "nats",
        messaging.destination.name = %msg.subject,
        source = %source,
    );
    mesh::telemetry::set_parent(&span, mesh::telemetry::extract_nats(msg.headers.as_ref()));
    async {
        let query: Envelope<SourceQuery> = match serde_json::from_slice(&msg.payload) {
            Ok(q) => q,
            Err(e) => {
                // A malformed query still gets an answer, so the caller is not left to time out.
                let answer = SourceAnswer {
                    request_id: uuid::Uuid::nil(),
                    source: source.clone(),
                    status: AnswerStatus::Error,
                    error: Some(format!("the query is not a valid envelope: {e}")),
                    records: Vec::new(),
                };
                let chain = ChainRef {
                    household_id: uuid::Uuid::nil(),
                    chain_id: uuid::Uuid::nil(),
                    causation_id: None,
                };
                let env = Envelope::new(&sim.service, &chain, None, answer);
                nats.publish(reply, serde_json::to_vec(&env)?.into())
                    .await?;
                return Ok(());
            }
        };
        if sim.settings.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(sim.settings.latency_ms)).await;
        }
        let answer = sim.answer(&source, &query.data);
        let env = Envelope::new(&sim.service, &ChainRef::answering(&query), None, answer);
        let mut headers = async_nats::HeaderMap::new();
        mesh::telemetry::inject_nats(&mesh::telemetry::current_context(), &mut headers);
        nats.publish_with_headers(reply, headers, serde_json::to_vec(&env)?.into())
            .await?;
        Ok(())
    }
    .instrument(span)
    .await
}

mod tokio_util_free {
    /// Aborts the task when dropped.
    pub struct CancelOnDrop<T>(pub tokio::task::JoinHandle<T>);
    impl<T> Drop for CancelOnDrop<T> {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_figures_are_deterministic_per_seed() {
        let a = generated(1, "bank", "11010519491231002X");
        assert_eq!(a, generated(1, "bank", "11010519491231002X"));
        let differs = (0..20u64).any(|s| generated(s, "bank", "11010519491231002X") != a);
        assert!(differs);
        assert!(generated(1, "civil-registry", "11010519491231002X")
            .monthly_income_fen
            .is_none());
    }

    #[test]
    fn the_defaults_answer_for_every_source_with_the_default_seed() {
        let s: Settings = mesh::settings::load_with(DEFAULTS, &[]).unwrap();
        assert_eq!(s.simulator.sources, SOURCES);
        assert_eq!(s.simulator.seed, DEFAULT_SEED);
    }
}
