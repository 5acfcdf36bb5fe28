//! A whole mesh in one process, for end-to-end tests and the benchmark.
//!
//! [`TestMesh::start`] gives each run its own subject prefix (so its own streams and consumers)
//! and its own databases, on the real NATS and PostgreSQL on 127.0.0.1; services listen on
//! port 0. Any service can be stopped gracefully, crashed (its tasks aborted mid-flight) and
//! restarted on the same database, to show that nothing is lost.

pub mod oidc;
pub mod roles;

pub use roles::Who;

use anyhow::Context as _;
use mesh::settings::{load_with, MeshSettings, TelemetrySettings};
use policy::Department;
use serde_json::Value;
use simulator::Fixtures;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const NATS: &str = "nats://127.0.0.1:4222";

/// How a test wants its mesh.
#[derive(Clone)]
pub struct Options {
    pub departments: Vec<Department>,
    pub fixtures: Fixtures,
    pub silent_sources: Vec<String>,
    pub verification_timeout_ms: u64,
    pub verification_attempts: u32,
    pub max_connections: u32,
    /// Delay of every data-holder answer.
    pub simulator_latency_ms: u64,
    /// Log filter for the test process (`RELIEF_TEST_LOG` overrides).
    pub log: String,
    /// Run the bank simulator with these rules; payment sends its pain.001 files to it.
    pub bank: Option<simulator::bank::BankRules>,
    /// Payment's settings (`payment.run.chunk_size`, `payment.policy_file`, …). The monthly
    /// run's scheduler is off unless `payment.run.schedule_interval_ms` is given here.
    pub payment: Vec<(String, String)>,
    /// Verification's settings beyond timeout and attempts (`verification.source_hold_seconds`,
    /// …), applied after the harness's own.
    pub verification: Vec<(String, String)>,
    /// The bureau's calendar day the mesh starts on (its clock reads 10:00 Beijing time that
    /// day and runs on); every service of the mesh shares the clock, [`TestMesh::clock`].
    pub business_date: chrono::NaiveDate,
    /// A NATS server with per-user permissions (the production configuration) instead of the
    /// shared one on [`NATS`]: see [`NatsLogin`].
    pub nats: Option<NatsLogin>,
    /// A NATS server and a PostgreSQL reached over TLS only, instead of the shared plain ones:
    /// see [`Tls`].
    pub tls: Option<Tls>,
}

/// Servers that take TLS connections only (tests/tests/e2e/tls.rs): every service connects to
/// them as production's do, NATS requiring TLS and PostgreSQL with `sslmode=verify-full`, both
/// trusting `ca_file`.
#[derive(Clone)]
pub struct Tls {
    /// The NATS server, `tls://127.0.0.1:<port>`.
    pub nats_url: String,
    /// The PostgreSQL server, `127.0.0.1:<port>`, user postgres.
    pub postgres: String,
    /// The CA both servers' certificates chain to.
    pub ca_file: String,
}

impl Tls {
    /// The admin connection to the TLS PostgreSQL, verifying its certificate.
    pub fn pg_options(&self, database: &str) -> anyhow::Result<sqlx::postgres::PgConnectOptions> {
        let url = format!("postgres://postgres@{}/{database}", self.postgres);
        Ok(url
            .parse::<sqlx::postgres::PgConnectOptions>()?
            .ssl_mode(sqlx::postgres::PgSslMode::VerifyFull)
            .ssl_root_cert(self.ca_file.as_str()))
    }

    /// A client of the TLS NATS server, verifying its certificate.
    pub fn nats_options(&self) -> async_nats::ConnectOptions {
        async_nats::ConnectOptions::new()
            .require_tls(true)
            .add_root_certificates(self.ca_file.clone().into())
    }
}

/// A NATS server on which every party logs in as its own user (`deploy/nats/auth.conf`). The
/// mesh then runs as in production: each service as its user, subjects and streams without a
/// prefix (the configuration names production's, so such a server holds one mesh), the streams
/// declared by the platform (`platform`, as the Job nats-bootstrap does) and only waited for by
/// the services; the harness's own connection is the platform's.
#[derive(Clone)]
pub struct NatsLogin {
    pub url: String,
    /// Each user's password.
    pub passwords: BTreeMap<String, String>,
}

/// The business date a test's mesh starts on unless it names another: a fixed day, so that no
/// test depends on the day it runs.
pub fn business_date() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 16).unwrap_or_default()
}

impl Default for Options {
    fn default() -> Self {
        Self {
            departments: vec![Department::Medical, Department::Education],
            fixtures: Fixtures::new(),
            silent_sources: Vec::new(),
            verification_timeout_ms: 2000,
            verification_attempts: 2,
            max_connections: 3,
            simulator_latency_ms: 0,
            log: "warn".into(),
            bank: None,
            payment: Vec::new(),
            verification: Vec::new(),
            business_date: business_date(),
            nats: None,
            tls: None,
        }
    }
}

/// A running service instance.
pub struct Running {
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    fn spawn<F>(
        port: u16,
        run: impl FnOnce(Box<dyn Future<Output = ()> + Send + Unpin>) -> F,
    ) -> Running
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<()>();
        let signal: Box<dyn Future<Output = ()> + Send + Unpin> = Box::new(Box::pin(async move {
            let _ = rx.await;
        }));
        Running {
            port,
            stop: Some(tx),
            handle: tokio::spawn(run(signal)),
        }
    }

    /// SIGTERM-like: finish in-flight work, publish the outbox, drain.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.handle.await.context("service task panicked")?
    }

    /// A crash: every task of the service is aborted wherever it is.
    pub async fn crash(self) {
        self.handle.abort();
        let _ = self.handle.await;
    }
}

pub struct TestMesh {
    /// This run's own name: its databases', and its subjects' and streams' prefix on the shared
    /// NATS server.
    pub prefix: String,
    /// The prefix of this run's subjects and streams: [`TestMesh::prefix`], or none on a
    /// server of its own ([`Options::nats`]).
    pub nats_prefix: String,
    pub opts: Options,
    pub nats: async_nats::Client,
    pub js: async_nats::jetstream::Context,
    pub http: reqwest::Client,
    /// The clock every service of this mesh reads; a test moves it to change the business date.
    pub clock: mesh::Clock,
    services: BTreeMap<String, Running>,
}

/// Installs the test process's telemetry once.
pub fn init_telemetry(filter: &str) {
    let filter = std::env::var("RELIEF_TEST_LOG").unwrap_or_else(|_| filter.to_owned());
    let settings = TelemetrySettings {
        filter,
        format: "text".into(),
        otlp_endpoint: None,
    };
    std::mem::forget(mesh::telemetry::init("mesh-tests", &settings));
}

impl TestMesh {
    pub async fn start(opts: Options) -> anyhow::Result<TestMesh> {
        init_telemetry(&opts.log);
        let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let (nats, nats_prefix) = match (&opts.nats, &opts.tls) {
            (None, Some(tls)) => (
                tls.nats_options()
                    .connect(tls.nats_url.as_str())
                    .await
                    .with_context(|| format!("NATS is not reachable on {}", tls.nats_url))?,
                prefix.clone(),
            ),
            (None, None) => (
                async_nats::connect(NATS)
                    .await
                    .context("NATS is not reachable on 127.0.0.1:4222")?,
                prefix.clone(),
            ),
            (Some(login), _) => {
                let password = login
                    .passwords
                    .get("platform")
                    .context("no password for the NATS user platform")?;
                let client = async_nats::ConnectOptions::with_user_and_password(
                    "platform".into(),
                    password.clone(),
                )
                .connect(login.url.as_str())
                .await
                .with_context(|| format!("NATS is not reachable on {}", login.url))?;
                (client, String::new())
            }
        };
        let js = async_nats::jetstream::new(nats.clone());
        if let Some(login) = &opts.nats {
            // The platform declares the streams, as the Job nats-bootstrap does
            // (`monitoring declare-streams` as the user platform).
            let password = login.passwords.get("platform").cloned().unwrap_or_default();
            let platform: MeshSettings = load_with(
                "",
                &[
                    ("service", "monitoring"),
                    ("nats.url", login.url.as_str()),
                    ("nats.user", "platform"),
                    ("nats.password", password.as_str()),
                ],
            )?;
            mesh::service::declare_streams_only(&platform).await?;
        }
        let mut mesh = TestMesh {
            prefix,
            nats_prefix,
            clock: mesh::Clock::on_local_date(opts.business_date, 10, chrono_tz::Asia::Shanghai),
            opts,
            nats,
            js,
            http: reqwest::Client::new(),
            services: BTreeMap::new(),
        };
        mesh.launch("source-simulator").await?;
        if mesh.opts.bank.is_some() {
            mesh.launch("bank-simulator").await?;
        }
        let mut names = vec![
            "intake".to_owned(),
            "verification".into(),
            "monitoring".into(),
            "payment".into(),
        ];
        names.extend(mesh.opts.departments.iter().map(|d| format!("relief-{d}")));
        // The first service declares the streams; the rest start together.
        mesh.launch(&names[0]).await?;
        for name in &names[1..] {
            mesh.launch(name).await?;
        }
        Ok(mesh)
    }

    /// The business date now, by the mesh's clock.
    pub fn today(&self) -> chrono::NaiveDate {
        self.clock.today()
    }

    pub fn database_url(&self, service: &str) -> String {
        let server = match &self.opts.tls {
            Some(tls) => tls.postgres.as_str(),
            None => "127.0.0.1:5432",
        };
        format!(
            "postgres://postgres@{server}/{}_{}",
            self.prefix,
            service.replace('-', "_")
        )
    }

    fn mesh_overrides(&self, service: &str) -> Vec<(String, String)> {
        let mut login = Vec::new();
        let url = match (&self.opts.nats, &self.opts.tls) {
            (None, Some(tls)) => {
                login.push(("nats.tls.required".into(), "true".into()));
                login.push(("nats.tls.ca_file".into(), tls.ca_file.clone()));
                login.push(("database.ssl_mode".into(), "verify-full".into()));
                login.push(("database.ssl_root_cert".into(), tls.ca_file.clone()));
                tls.nats_url.clone()
            }
            (None, None) => NATS.to_owned(),
            (Some(l), _) => {
                login.push(("nats.user".into(), service.to_owned()));
                let password = l.passwords.get(service).cloned().unwrap_or_default();
                login.push(("nats.password".into(), password));
                login.push(("nats.declare_streams".into(), "false".into()));
                l.url.clone()
            }
        };
        let mut o: Vec<(String, String)> = vec![
            ("service".into(), service.into()),
            ("nats.url".into(), url),
            ("nats.prefix".into(), self.nats_prefix.clone()),
            ("nats.ack_wait_ms".into(), "2000".into()),
            ("nats.max_deliver".into(), "4".into()),
            ("http.host".into(), "127.0.0.1".into()),
            ("http.port".into(), "0".into()),
            ("database.url".into(), self.database_url(service)),
            (
                "database.max_connections".into(),
                self.opts.max_connections.to_string(),
            ),
            ("outbox.poll_interval_ms".into(), "500".into()),
            ("shutdown.grace_seconds".into(), "5".into()),
        ];
        o.extend(login);
        o
    }

    fn settings<S: serde::de::DeserializeOwned>(
        &self,
        defaults: &str,
        service: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<S> {
        let owned = self.mesh_overrides(service);
        let mut o: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        o.extend_from_slice(extra);
        load_with(defaults, &o)
    }

    /// The settings of a service `service` of this mesh (its prefix, database, test timings),
    /// with `extra` applied last: for a test's own service built on `mesh::ServiceBuilder`.
    pub fn mesh_settings(
        &self,
        service: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<MeshSettings> {
        let mut m: MeshSettings = self.settings("", service, extra)?;
        Self::tune(&mut m);
        Ok(m)
    }

    fn tune(m: &mut MeshSettings) {
        m.nats.backoff_ms = vec![100, 300, 600];
    }

    /// Starts (or restarts, on the same database) one service by name.
    pub async fn launch(&mut self, name: &str) -> anyhow::Result<u16> {
        let running = match name {
            "intake" => {
                let mut s: intake::Settings = self.settings(intake::config::DEFAULTS, name, &[])?;
                Self::tune(&mut s.mesh);
                let app = intake::build(s, self.clock.clone()).await?;
                Running::spawn(app.port(), |sig| app.run_until_stopped(sig))
            }
            "verification" => {
                let timeout = self.opts.verification_timeout_ms.to_string();
                let attempts = self.opts.verification_attempts.to_string();
                let mut extra = vec![
                    ("verification.timeout_ms", timeout.as_str()),
                    ("verification.attempts", attempts.as_str()),
                    ("verification.retry_delay_ms", "50"),
                    // Due re-verifications are found within a fifth of a second.
                    ("verification.schedule_interval_ms", "200"),
                ];
                extra.extend(
                    self.opts
                        .verification
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str())),
                );
                let mut s: verification::Settings =
                    self.settings(verification::config::DEFAULTS, name, &extra)?;
                Self::tune(&mut s.mesh);
                let app = verification::build(s, self.clock.clone()).await?;
                Running::spawn(app.port(), |sig| app.run_until_stopped(sig))
            }
            "monitoring" => {
                let mut s: monitoring::Settings =
                    self.settings(monitoring::config::DEFAULTS, name, &[])?;
                Self::tune(&mut s.mesh);
                let app = monitoring::build(s, self.clock.clone()).await?;
                Running::spawn(app.port(), |sig| app.run_until_stopped(sig))
            }
            "payment" => {
                // The deployment's fund accounts, and the bank simulator when one runs; the
                // monthly run's scheduler is off unless a test turns it on.
                let funds = format!(
                    "{}/../deploy/config/fund-accounts.toml",
                    env!("CARGO_MANIFEST_DIR")
                );
                let bank = self
                    .services
                    .get("bank-simulator")
                    .map(|r| format!("http://127.0.0.1:{}", r.port));
                let mut extra = vec![
                    ("payment.fund_accounts_file", funds.as_str()),
                    ("payment.run.schedule_interval_ms", "0"),
                ];
                if let Some(url) = &bank {
                    extra.push(("payment.bank_url", url.as_str()));
                }
                extra.extend(
                    self.opts
                        .payment
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str())),
                );
                let mut s: payment::Settings =
                    self.settings(payment::config::DEFAULTS, name, &extra)?;
                Self::tune(&mut s.mesh);
                let app = payment::build(s, self.clock.clone()).await?;
                Running::spawn(app.port(), |sig| app.run_until_stopped(sig))
            }
            "source-simulator" => {
                let mut s: simulator::Settings = self.settings(simulator::DEFAULTS, name, &[])?;
                s.simulator.silent_sources = self.opts.silent_sources.clone();
                s.simulator.latency_ms = self.opts.simulator_latency_ms;
                let sim = simulator::Simulator::build(s, Some(self.opts.fixtures.clone())).await?;
                Running::spawn(sim.port(), |sig| sim.run_until_stopped(sig))
            }
            "bank-simulator" => {
                let mut s: simulator::bank::BankSettings =
                    self.settings(simulator::bank::DEFAULTS, name, &[])?;
                s.bank = self.opts.bank.clone().unwrap_or_default();
                let sim = simulator::bank::BankSimulator::build(s).await?;
                Running::spawn(sim.port(), |sig| sim.run_until_stopped(sig))
            }
            other => {
                let dept = other
                    .strip_prefix("relief-")
                    .and_then(Department::parse)
                    .with_context(|| format!("no service called {other}"))?;
                let mut s: relief::Settings = self.settings(
                    relief::config::DEFAULTS,
                    name,
                    &[("relief.department", dept.as_str())],
                )?;
                Self::tune(&mut s.mesh);
                let app = relief::build(s, self.clock.clone()).await?;
                Running::spawn(app.port(), |sig| app.run_until_stopped(sig))
            }
        };
        let port = running.port;
        self.services.insert(name.to_owned(), running);
        Ok(port)
    }

    pub fn port(&self, service: &str) -> u16 {
        self.services
            .get(service)
            .map(|r| r.port)
            .unwrap_or_else(|| panic!("{service} is not running"))
    }

    pub fn url(&self, service: &str, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port(service))
    }

    pub async fn crash(&mut self, service: &str) {
        if let Some(r) = self.services.remove(service) {
            r.crash().await;
        }
    }

    pub async fn stop(&mut self, service: &str) -> anyhow::Result<()> {
        match self.services.remove(service) {
            Some(r) => r.stop().await,
            None => Ok(()),
        }
    }

    /// Restarts the data-holder simulator with `sources` silent (they take queries and never
    /// answer) and every other source answering: a data holder goes down, or comes back.
    pub async fn silence_sources(&mut self, sources: &[&str]) -> anyhow::Result<()> {
        self.stop("source-simulator").await?;
        self.opts.silent_sources = sources.iter().map(|s| (*s).to_owned()).collect();
        self.launch("source-simulator").await?;
        Ok(())
    }

    /// Starts recording every query sent to a data holder of this mesh, as the data holders see
    /// them on the wire (a plain subscriber beside the simulator's queue group; it never answers).
    pub async fn watch_queries(&self) -> anyhow::Result<QueryLog> {
        use futures::StreamExt;
        let subjects = mesh::Subjects::new(&self.nats_prefix);
        let mut sub = self
            .nats
            .subscribe(contract::channels::SOURCE_QUERY.filter(&subjects))
            .await?;
        // The subscription is registered with the server before this returns.
        self.nats.flush().await?;
        let log = QueryLog::default();
        let seen = log.seen.clone();
        let handle = tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let source = subjects
                    .token(contract::channels::SOURCE_QUERY.subject, &msg.subject)
                    .unwrap_or_default()
                    .to_owned();
                let members =
                    serde_json::from_slice::<mesh::Envelope<contract::SourceQuery>>(&msg.payload)
                        .map(|e| e.data.members.iter().map(|m| m.member_id).collect())
                        .unwrap_or_default();
                if let Ok(mut s) = seen.lock() {
                    s.push(Query { source, members });
                }
            }
        });
        Ok(QueryLog {
            seen: log.seen,
            _task: Some(std::sync::Arc::new(AbortOnDrop(handle))),
        })
    }

    /// The bearer access token of `who` for `service`'s audience, by a real flow against the
    /// dev provider (cached while valid).
    pub async fn token_of(&self, who: &Who, service: &str) -> anyhow::Result<String> {
        let audience = oidc::audience(roles::family(service));
        let token = match who {
            Who::Person(login) => oidc::Tokens::shared().user(login, &audience).await?,
            Who::System(dept) => oidc::Tokens::shared().department(dept, &audience).await?,
        };
        Ok(token.access_token)
    }

    /// A request to `service` as `who` (no token when `None`).
    pub async fn request_as(
        &self,
        who: Option<&Who>,
        method: reqwest::Method,
        service: &str,
        path: &str,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        let mut req = self.http.request(method, self.url(service, path));
        if let Some(who) = who {
            req = req.bearer_auth(self.token_of(who, service).await?);
        }
        Ok(req)
    }

    /// A request to `service` as the demo person the operation's `x-roles` name first
    /// ([`roles::default_caller`]): what a test that is not about sign-in uses.
    pub async fn request(
        &self,
        method: reqwest::Method,
        service: &str,
        path: &str,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        let who = roles::default_caller(service, method.as_str(), path);
        self.request_as(who.as_ref(), method, service, path).await
    }

    /// Submits an application (as the township officer of 410102001); returns the status code
    /// and body.
    pub async fn submit(&self, body: &Value) -> anyhow::Result<(u16, Value)> {
        self.post("intake", "/v1/applications", body).await
    }

    pub async fn get(&self, service: &str, path: &str) -> anyhow::Result<(u16, Value)> {
        let who = roles::default_caller(service, "GET", path);
        self.get_as(who.as_ref(), service, path).await
    }

    /// GETs as `who` (no token when `None`); the body as JSON, or as a string when it is not.
    pub async fn get_as(
        &self,
        who: Option<&Who>,
        service: &str,
        path: &str,
    ) -> anyhow::Result<(u16, Value)> {
        let r = self
            .request_as(who, reqwest::Method::GET, service, path)
            .await?
            .send()
            .await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// POSTs JSON to a service; returns the status code and the body (`Null` when empty).
    pub async fn post(
        &self,
        service: &str,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(u16, Value)> {
        let who = roles::default_caller(service, "POST", path);
        self.send_as(who.as_ref(), reqwest::Method::POST, service, path, body)
            .await
    }

    /// POSTs JSON as `who`.
    pub async fn post_as(
        &self,
        who: Option<&Who>,
        service: &str,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(u16, Value)> {
        self.send_as(who, reqwest::Method::POST, service, path, body)
            .await
    }

    /// Sends JSON with `method` as `who`; the status code and the body (`Null` when empty).
    pub async fn send_as(
        &self,
        who: Option<&Who>,
        method: reqwest::Method,
        service: &str,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(u16, Value)> {
        let r = self
            .request_as(who, method, service, path)
            .await?
            .json(body)
            .send()
            .await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Waits until `GET path` on `service` shows `"status": status`.
    pub async fn status_becomes(
        &self,
        service: &str,
        path: &str,
        status: &str,
        within: Duration,
    ) -> bool {
        eventually(within, || async {
            self.get(service, path)
                .await
                .map(|(_, v)| v["status"] == status)
                .unwrap_or(false)
        })
        .await
    }

    /// Runs payment's monthly run for `month`, waits until it completes within `within`, and
    /// returns the run as `GET /v1/runs/{month}` shows it.
    pub async fn run_month(&self, month: policy::Month, within: Duration) -> Value {
        let (status, run) = self
            .post(
                "payment",
                "/v1/runs",
                &serde_json::json!({"month": month.to_string()}),
            )
            .await
            .expect("POST /v1/runs");
        assert!(status == 202 || status == 200, "{status} {run}");
        let path = format!("/v1/runs/{month}");
        assert!(
            self.status_becomes("payment", &path, "completed", within)
                .await,
            "{:?}",
            self.get("payment", &path).await
        );
        self.get("payment", &path).await.expect("GET the run").1
    }

    /// The event types of a household's chain steps, in order (`GET /v1/households/{id}/chain`).
    pub async fn chain_step_types(&self, household_id: &str) -> Vec<String> {
        let (_, chain) = self
            .get(
                "monitoring",
                &format!("/v1/households/{household_id}/chain"),
            )
            .await
            .expect("GET the chain");
        chain["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["type"].as_str().map(str::to_owned))
            .collect()
    }

    /// The account `body` put in force for `member`: proposed by wang.fang (township officer of
    /// 410102001, the maker), pending until zhao.min (county officer of 410102, the checker)
    /// confirms it; the confirmation's answer.
    pub async fn set_account(&self, member: &str, body: &Value) -> Value {
        let (status, proposed) = self
            .send_as(
                Some(&Who::person("wang.fang")),
                reqwest::Method::PUT,
                "payment",
                &format!("/v1/accounts/{member}"),
                body,
            )
            .await
            .expect("PUT the account");
        assert_eq!(status, 202, "{proposed}");
        assert_eq!(proposed["status"], "pending", "{proposed}");
        let (status, confirmed) = self
            .post_as(
                Some(&Who::person("zhao.min")),
                "payment",
                &format!("/v1/accounts/{member}/confirm"),
                &serde_json::json!({ "change_id": proposed["change_id"] }),
            )
            .await
            .expect("confirm the account");
        assert_eq!(status, 200, "{confirmed}");
        confirmed
    }

    /// The township officer's manual verification of an application in `manual_verification`
    /// (`path` = `/v1/applications/{id}`): every member found with no income and no assets,
    /// with `note`; the answer.
    pub async fn verify_by_hand(&self, path: &str, note: &str) -> (u16, Value) {
        let (_, app) = self.get("intake", path).await.expect("GET the application");
        let figures: Vec<Value> = app["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                serde_json::json!({"member_id": m["member_id"], "monthly_income_fen": 0, "assets_fen": 0})
            })
            .collect();
        self.post(
            "intake",
            &format!("{path}/manual-verification"),
            &serde_json::json!({"note": note, "members": figures}),
        )
        .await
        .expect("POST the manual verification")
    }

    /// Payment's instructions for a household.
    /// Every message stored on `subject` (without the prefix) in the stream of `base`
    /// (`INTAKE`, `PAYMENT`, …): (Nats-Msg-Id, envelope), oldest first.
    pub async fn stored(&self, base: &str, subject: &str) -> anyhow::Result<Vec<(String, Value)>> {
        let subjects = mesh::Subjects::new(&self.prefix);
        let stream = self
            .js
            .get_stream(mesh::streams::stream_name(&subjects, base))
            .await?;
        let mut out = Vec::new();
        let mut next = None;
        while let Ok(m) = stream
            .direct_get_next_for_subject(subjects.of(subject), next)
            .await
        {
            let id = m
                .headers
                .get("Nats-Msg-Id")
                .map(|v| v.to_string())
                .unwrap_or_default();
            out.push((id, serde_json::from_slice(&m.payload)?));
            next = Some(m.sequence + 1);
        }
        Ok(out)
    }

    pub async fn instructions(&self, household_id: &str) -> anyhow::Result<Vec<Value>> {
        let (_, v) = self
            .get(
                "payment",
                &format!("/v1/households/{household_id}/instructions"),
            )
            .await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// A service's dead letters.
    pub async fn dead_letters(&self, service: &str) -> anyhow::Result<Vec<Value>> {
        let (_, v) = self.get(service, "/v1/dead-letters").await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Publishes raw bytes on `subject` (without prefix) with the given `Nats-Msg-Id`, as a
    /// foreign system would; returns whether JetStream took it as a duplicate.
    pub async fn publish_raw(
        &self,
        subject: &str,
        msg_id: &str,
        payload: Vec<u8>,
    ) -> anyhow::Result<bool> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        let subject = mesh::Subjects::new(&self.nats_prefix).of(subject);
        let ack = self
            .js
            .publish_with_headers(subject, headers, payload.into())
            .await?
            .await?;
        Ok(ack.duplicate)
    }

    /// Waits for the household's chain to be complete; fails with what it has after `within`.
    pub async fn complete_chain(
        &self,
        household_id: &str,
        within: Duration,
    ) -> anyhow::Result<Value> {
        let path = format!("/v1/households/{household_id}/chain");
        let deadline = Instant::now() + within;
        let mut last = Value::Null;
        let mut ok = false;
        while Instant::now() < deadline {
            if let Ok((200, v)) = self.get("monitoring", &path).await {
                ok = v["complete"] == Value::Bool(true);
                last = v;
                if ok {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::ensure!(
            ok,
            "the chain did not complete within {within:?}; last seen: {last:#}"
        );
        Ok(last)
    }

    /// Waits until every durable consumer of this mesh has nothing pending or unacknowledged.
    pub async fn settle(&self, within: Duration) -> anyhow::Result<()> {
        let ok = eventually(within, || async {
            self.pending().await.map(|n| n == 0).unwrap_or(false)
        })
        .await;
        anyhow::ensure!(ok, "consumers still had work after {within:?}");
        Ok(())
    }

    async fn pending(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        let subjects = mesh::Subjects::new(&self.nats_prefix);
        for stream in mesh::Stream::ALL {
            let mut stream = self.js.get_stream(stream.name(&subjects)).await?;
            let infos: Vec<async_nats::jetstream::consumer::Info> = {
                use futures::TryStreamExt;
                stream.consumers().try_collect().await?
            };
            // The durables (pull); not the short-lived push consumers a dead-letter listing
            // reads through.
            for info in infos.iter().filter(|i| i.config.deliver_subject.is_none()) {
                total += info.num_pending + info.num_ack_pending as u64;
            }
            let _ = stream.info().await?;
        }
        Ok(total)
    }

    /// Stops every service, then removes this run's databases and streams.
    pub async fn teardown(mut self) -> anyhow::Result<()> {
        let names: Vec<String> = self.services.keys().cloned().collect();
        for n in &names {
            if let Some(r) = self.services.remove(n) {
                r.crash().await;
            }
        }
        let subjects = mesh::Subjects::new(&self.nats_prefix);
        for stream in mesh::Stream::ALL {
            let _ = self.js.delete_stream(stream.name(&subjects)).await;
        }
        let mut admin: sqlx::PgConnection = match &self.opts.tls {
            Some(tls) => sqlx::ConnectOptions::connect(&tls.pg_options("postgres")?).await?,
            None => sqlx::Connection::connect(PG_ADMIN).await?,
        };
        let dbs: Vec<String> =
            sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE $1")
                .bind(format!("{}\\_%", self.prefix))
                .fetch_all(&mut admin)
                .await?;
        for db in dbs {
            sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                .execute(&mut admin)
                .await?;
        }
        Ok(())
    }
}

/// One query a data holder received: its source and the members asked about.
#[derive(Debug, Clone)]
pub struct Query {
    pub source: String,
    pub members: Vec<uuid::Uuid>,
}

/// The queries seen since [`TestMesh::watch_queries`]; recording stops when the last clone is
/// dropped.
#[derive(Clone, Default)]
pub struct QueryLog {
    seen: std::sync::Arc<std::sync::Mutex<Vec<Query>>>,
    _task: Option<std::sync::Arc<AbortOnDrop>>,
}

impl QueryLog {
    pub fn all(&self) -> Vec<Query> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// How many queries went to `source` (every source when `None`).
    pub fn count(&self, source: Option<&str>) -> usize {
        self.all()
            .iter()
            .filter(|q| source.is_none_or(|s| q.source == s))
            .count()
    }

    /// How many queries to `source` asked about `member`.
    pub fn about(&self, source: &str, member: uuid::Uuid) -> usize {
        self.all()
            .iter()
            .filter(|q| q.source == source && q.members.contains(&member))
            .count()
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Polls `check` every 50 ms until it is true or `within` has passed.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A valid resident ID number from 17 leading digits.
pub fn id_number(body17: &str) -> String {
    policy::ResidentId::from_body(body17)
        .expect("valid body")
        .as_str()
        .to_owned()
}

/// The fields a 4xx error body names, in order, each with its rule: (field, reason).
pub fn error_fields(body: &Value) -> Vec<(String, String)> {
    body["error"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["field"].as_str().unwrap_or_default().to_owned(),
                f["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The honesty commitment (守信承诺) as a form gives it, signed by the member at `signer` a
/// few days before the tests' business date.
pub fn commitment(signer: usize) -> Value {
    serde_json::json!({"version": "410100-2024-1", "signed_on": "2026-11-10", "signer": signer})
}

/// The demo household of `deploy/demo/household.json`, township 410102001 of Zhongyuan district
/// (410102), Zhengzhou: the area of the demo township officer wang.fang.
pub fn demo_household() -> Value {
    serde_json::from_str(include_str!("../../deploy/demo/household.json"))
        .expect("demo household is JSON")
}

/// A household like the demo one (3 members, Zhengzhou) whose ID numbers are new each call,
/// for tests that submit more than one application: intake refuses a person twice.
pub fn another_household() -> Value {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) + std::process::id() % 500;
    let mut h = demo_household();
    for (k, m) in h["members"]
        .as_array_mut()
        .expect("members")
        .iter_mut()
        .enumerate()
    {
        let birth = m["id_number"].as_str().expect("id")[6..14].to_owned();
        // 100–999: never the demo household's own sequence numbers (015, 031, 042), so that
        // a test holding the demo household enrolled is never refused the other one.
        let seq = 100 + (n * 3 + k as u32) % 900;
        m["id_number"] = Value::String(id_number(&format!("410102{birth}{seq:03}")));
    }
    h
}

/// Fixtures in which every data source knows each member of `household` and reports nothing:
/// the household's declared figures decide.
pub fn silent_fixtures(household: &Value) -> Fixtures {
    household["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id_number"].as_str())
        .map(|id| (id.to_owned(), Default::default()))
        .collect()
}
