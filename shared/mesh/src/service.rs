//! One shape for every service: connect, declare, build, run until stopped, shut down.
//!
//! ```text
//! let mesh = Mesh::connect(settings, &MIGRATOR, clock, contract::channels::CATALOG).await?;
//! let app = ServiceBuilder::new(mesh)
//!     .consume("applications", "INTAKE", subject, handler)
//!     .routes(router)
//!     .build().await?;
//! app.run_until_stopped(shutdown_signal()).await
//! ```
//!
//! Shutdown order, so that SIGTERM loses nothing: readiness turns 503 and consumers stop taking
//! messages; the message in hand finishes (its transaction commits and is acked); the outbox relay
//! publishes what is committed; HTTP finishes in-flight requests; the NATS client drains.

use crate::channel::{Channel, ChannelInfo, Stream};
use crate::clock::Clock;
use crate::consumer::{self, BatchHandler, ConsumerSpec, Handler, HandlerError, Outcome};
use crate::envelope::{ChainRef, Envelope, EventKind};
use crate::metrics::Metrics;
use crate::outbox::Relay;
use crate::settings::MeshSettings;
use crate::{db, streams, Delivery, Subjects};
use anyhow::Context as _;
use async_nats::jetstream;
use axum::Router;
use futures::future::BoxFuture;
use sqlx::migrate::Migrator;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What every handler and route of a service reaches the outside world through. Cheap to clone.
#[derive(Clone)]
pub struct Mesh {
    pub settings: Arc<MeshSettings>,
    pub subjects: Subjects,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    pub db: PgPool,
    pub metrics: Metrics,
    /// Now and today; the same clock for every part of the service (and, in tests, the mesh).
    pub clock: Clock,
    /// Cancelled when shutdown begins.
    pub stopping: CancellationToken,
    /// Checks the access token of every request but the open ones ([`crate::auth`]).
    pub auth: crate::auth::Verifier,
    /// Each consumer's handler by durable name, set when the service is built: a dead letter is
    /// replayed to the consumer that gave up on it, and to no other.
    pub(crate) handlers: Arc<std::sync::OnceLock<BTreeMap<String, Handler>>>,
}

impl Mesh {
    /// Connects to the service's database (creating and migrating it as configured) and to NATS,
    /// and declares the streams the service publishes to or consumes from by `catalog` (the
    /// channel catalogue, `contract::channels::CATALOG`), and the dead-letter stream.
    pub async fn connect(
        settings: MeshSettings,
        migrator: &'static Migrator,
        clock: Clock,
        catalog: &[ChannelInfo],
    ) -> anyhow::Result<Mesh> {
        settings.validate()?;
        let pool = db::connect(&settings.database).await?;
        if settings.database.migrate {
            db::migrate(&pool, migrator).await?;
        }
        let nats = settings
            .nats
            .connect_options(&settings.service)
            .retry_on_initial_connect()
            .connect(settings.nats.url.as_str())
            .await
            .context("NATS is not reachable")?;
        let js = jetstream::new(nats.clone());
        let subjects = Subjects::new(&settings.nats.prefix);
        let declared = streams::declared_by(&settings.service, catalog);
        if settings.nats.declare_streams {
            tokio::time::timeout(
                Duration::from_secs(30),
                streams::ensure_streams(&js, &subjects, &settings.nats, &declared),
            )
            .await
            .context("JetStream did not answer within 30 s: is the server started with -js?")??;
        } else {
            tokio::time::timeout(
                Duration::from_secs(30),
                streams::await_streams(&js, &subjects, &declared),
            )
            .await
            .context(
                "the streams were not there within 30 s: the platform declares them (`declare-streams`)",
            )??;
        }
        let auth = crate::auth::Verifier::new(&settings.auth, &settings.service)?;
        Ok(Mesh {
            auth,
            metrics: Metrics::new(&settings.service),
            clock,
            settings: Arc::new(settings),
            subjects,
            nats,
            js,
            db: pool,
            stopping: CancellationToken::new(),
            handlers: Arc::default(),
        })
    }

    pub fn service(&self) -> &str {
        &self.settings.service
    }

    /// A new envelope from this service.
    pub fn envelope<T: EventKind>(
        &self,
        chain: &ChainRef,
        subject: Option<String>,
        data: T,
    ) -> Envelope<T> {
        Envelope::timed(
            &self.settings.service,
            chain,
            subject,
            data,
            self.clock.now(),
        )
    }

    /// The bureau's calendar day now.
    pub fn today(&self) -> chrono::NaiveDate {
        self.clock.today()
    }

    /// The handler of this service's consumer `name`, once the service is built.
    pub(crate) fn handler(&self, name: &str) -> Option<Handler> {
        self.handlers.get()?.get(name).cloned()
    }

    /// The durable consumer name for `purpose`, unique per service instance.
    pub fn consumer_name(&self, purpose: &str) -> String {
        format!("{}-{purpose}", self.settings.service)
    }
}

pub struct ServiceBuilder {
    mesh: Mesh,
    consumers: Vec<(ConsumerSpec, Handler)>,
    /// The batch handlers of the consumers that take their messages in batches, by durable name.
    batched: BTreeMap<String, BatchHandler>,
    /// Consumers on a durable the contract names ([`ServiceBuilder::on_durable`]), with the
    /// configuration each is created with when missing.
    named_durables: Vec<(String, async_nats::jetstream::consumer::pull::Config)>,
    router: Router<Mesh>,
    /// Routes that take no token (a public disclosure list).
    public: Router<Mesh>,
    tasks: Vec<(String, BoxFuture<'static, anyhow::Result<()>>)>,
    /// Wiring mistakes found while building; [`ServiceBuilder::build`] reports them.
    errors: Vec<String>,
}

impl ServiceBuilder {
    pub fn new(mesh: Mesh) -> Self {
        Self {
            mesh,
            errors: Vec::new(),
            consumers: Vec::new(),
            batched: BTreeMap::new(),
            named_durables: Vec::new(),
            router: Router::new(),
            public: Router::new(),
            tasks: Vec::new(),
        }
    }

    /// Consumes every message of `channel` with a durable consumer named `<service>-<purpose>`.
    /// The message is decoded as the channel's payload and its amounts and lists are checked
    /// against `bounds` ([`EventKind::check_bounds`]) before `handler` sees it: a message that is
    /// not one, is out of range, or is on an internal channel whose `source` is not among the
    /// channel's producers (a forged event), goes to the dead letters with the reason; a handler
    /// for another payload does not compile.
    pub fn on<T, F, Fut>(self, purpose: &str, channel: Channel<T>, handler: F) -> Self
    where
        T: EventKind + Send + 'static,
        F: Fn(Envelope<T>, Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Outcome, HandlerError>> + Send + 'static,
    {
        let filter = channel.filter(&self.mesh.subjects);
        self.on_filter(purpose, channel, filter, handler)
    }

    /// As [`ServiceBuilder::on`], for the messages of a channel whose variable token is `token`
    /// (a department's own pushes).
    pub fn on_token<T, F, Fut>(
        self,
        purpose: &str,
        channel: Channel<T>,
        token: &str,
        handler: F,
    ) -> Self
    where
        T: EventKind + Send + 'static,
        F: Fn(Envelope<T>, Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Outcome, HandlerError>> + Send + 'static,
    {
        let filter = channel.subject_for(&self.mesh.subjects, token);
        self.on_filter(purpose, channel, filter, handler)
    }

    /// As [`ServiceBuilder::on_token`], on the durable consumer `durable` that the contract
    /// names, not `<service>-<purpose>`: a consumer shared with a system outside the mesh (a
    /// department's own system reads `department-<dept>`), so that either continues from the
    /// other's cursor. At start-up it is bound as it is when it exists (whoever created it),
    /// and created from `config` (with this name and filter) when it does not.
    pub fn on_durable<T, F, Fut>(
        mut self,
        durable: &str,
        config: async_nats::jetstream::consumer::pull::Config,
        channel: Channel<T>,
        token: &str,
        handler: F,
    ) -> Self
    where
        T: EventKind + Send + 'static,
        F: Fn(Envelope<T>, Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Outcome, HandlerError>> + Send + 'static,
    {
        let at = self.consumers.len();
        self = self.on_token(durable, channel, token, handler);
        if let Some((spec, _)) = self.consumers.get_mut(at) {
            spec.name = durable.to_owned();
            self.named_durables.push((durable.to_owned(), config));
        }
        self
    }

    /// The durable consumer of `channel` for `purpose` on `filter`; none, with the wiring
    /// mistake recorded, when the channel has no stream. A service the catalogue does not list
    /// as a consumer is recorded as a mistake too.
    fn spec_for(
        &mut self,
        purpose: &str,
        channel: ChannelInfo,
        filter: String,
    ) -> Option<ConsumerSpec> {
        let service = self.mesh.service().to_owned();
        if !channel.consumed_by(&service) {
            self.errors.push(format!(
                "{service} consumes {} but the channel catalogue does not list it as a consumer",
                channel.subject
            ));
        }
        let Some(stream) = channel.stream else {
            self.errors.push(format!(
                "{} is request/reply: no stream keeps it, so it cannot be consumed",
                channel.subject
            ));
            return None;
        };
        Some(ConsumerSpec {
            name: self.mesh.consumer_name(purpose),
            stream,
            filter,
        })
    }

    fn on_filter<T, F, Fut>(
        mut self,
        purpose: &str,
        channel: Channel<T>,
        filter: String,
        handler: F,
    ) -> Self
    where
        T: EventKind + Send + 'static,
        F: Fn(Envelope<T>, Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Outcome, HandlerError>> + Send + 'static,
    {
        let Some(spec) = self.spec_for(purpose, channel.info(), filter) else {
            return self;
        };
        let handler = Arc::new(handler);
        let info = channel.info();
        let settings = self.mesh.settings.clone();
        let handler: Handler = Arc::new(move |d: Delivery| {
            let handler = handler.clone();
            let settings = settings.clone();
            Box::pin(async move {
                let e = decode::<T>(&d, &info, &settings.bounds)?;
                handler(e, d).await
            })
        });
        self.consumers.push((spec, handler));
        self
    }

    /// Adds a durable consumer named `<service>-<purpose>` on `stream`, filtered to `filter`
    /// (full, prefixed), whose handler takes any message as it comes: for a reader of every
    /// channel of a stream (monitoring's chain). A consumer of one channel uses
    /// [`ServiceBuilder::on`].
    pub fn consume_stream<F, Fut>(
        mut self,
        purpose: &str,
        stream: Stream,
        filter: String,
        handler: F,
    ) -> Self
    where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Outcome, HandlerError>> + Send + 'static,
    {
        let spec = ConsumerSpec {
            name: self.mesh.consumer_name(purpose),
            stream,
            filter,
        };
        let handler: Handler = Arc::new(move |d| Box::pin(handler(d)));
        self.consumers.push((spec, handler));
        self
    }

    /// As [`ServiceBuilder::on`], with group commit: up to `nats.batch_max` messages of
    /// `channel` are handled in one transaction, each in a savepoint of its own. For each, its
    /// envelope is decoded and checked as [`ServiceBuilder::on`] does (a bad one is that
    /// message's poison, nothing else's), its inbox row is claimed (a message handled before is
    /// a duplicate), and `handler` applies it on the transaction's connection: it neither begins
    /// nor commits. A message whose handler fails is rolled back to its savepoint alone and
    /// settled by its error; the others commit together, and are acknowledged after.
    pub fn on_batched<T, F>(mut self, purpose: &str, channel: Channel<T>, handler: F) -> Self
    where
        T: EventKind + Send + 'static,
        F: for<'c> Fn(
                &'c mut sqlx::PgConnection,
                Envelope<T>,
                Delivery,
            ) -> BoxFuture<'c, Result<Outcome, HandlerError>>
            + Send
            + Sync
            + 'static,
    {
        let filter = channel.filter(&self.mesh.subjects);
        let Some(spec) = self.spec_for(purpose, channel.info(), filter) else {
            return self;
        };
        let handler = Arc::new(handler);
        let info = channel.info();
        let settings = self.mesh.settings.clone();
        let db = self.mesh.db.clone();
        let batch: BatchHandler = Arc::new(move |ds: Vec<Delivery>| {
            let (handler, settings, db) = (handler.clone(), settings.clone(), db.clone());
            Box::pin(async move {
                let mut tx = db.begin().await?;
                let mut results = Vec::with_capacity(ds.len());
                for d in ds {
                    let e = match decode::<T>(&d, &info, &settings.bounds) {
                        Ok(e) => e,
                        Err(bad) => {
                            results.push(Err(bad));
                            continue;
                        }
                    };
                    let mut one = sqlx::Acquire::begin(&mut *tx).await?;
                    if !d.claim_in(&mut one, &e.id).await? {
                        one.commit().await?;
                        results.push(Ok(Outcome::Duplicate));
                        continue;
                    }
                    // Each message is applied in its own trace (what it enqueues continues the
                    // message's trace, not the batch's).
                    let span = tracing::info_span!(
                        "apply",
                        otel.name = format!("apply {}", d.subject),
                        messaging.message.id = %e.id,
                        household_id = %e.household_id,
                    );
                    crate::telemetry::set_parent(
                        &span,
                        crate::telemetry::extract_nats(d.headers.as_ref()),
                    );
                    match tracing::Instrument::instrument(handler(&mut one, e, d), span).await {
                        Ok(outcome) => {
                            one.commit().await?;
                            results.push(Ok(outcome));
                        }
                        Err(failed) => {
                            one.rollback().await?;
                            results.push(Err(failed));
                        }
                    }
                }
                tx.commit().await?;
                Ok(results)
            })
        });
        self.batched.insert(spec.name.clone(), batch.clone());
        self.consumers.push((spec, consumer::single(batch)));
        self
    }

    /// As [`ServiceBuilder::consume_stream`], the messages handed to `handler` in batches of
    /// up to `nats.batch_max` (group commit: one transaction for the batch, its results one per
    /// message; [`consumer::BatchHandler`]). A dead letter is replayed through it alone.
    pub fn consume_stream_batched<F, Fut>(
        mut self,
        purpose: &str,
        stream: Stream,
        filter: String,
        handler: F,
    ) -> Self
    where
        F: Fn(Vec<Delivery>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = consumer::BatchResult> + Send + 'static,
    {
        let spec = ConsumerSpec {
            name: self.mesh.consumer_name(purpose),
            stream,
            filter,
        };
        let batch: BatchHandler = Arc::new(move |d| Box::pin(handler(d)));
        self.batched.insert(spec.name.clone(), batch.clone());
        self.consumers.push((spec, consumer::single(batch)));
        self
    }

    /// The service's own routes. Each takes a valid access token ([`crate::auth`]); its
    /// handler names the roles it is for.
    pub fn routes(mut self, router: Router<Mesh>) -> Self {
        self.router = self.router.merge(router);
        self
    }

    /// Routes anyone may call without a token: only what the policy makes public (the
    /// disclosure list). Everything else goes through [`ServiceBuilder::routes`].
    pub fn public_routes(mut self, router: Router<Mesh>) -> Self {
        self.public = self.public.merge(router);
        self
    }

    /// A background task that runs until `mesh.stopping` is cancelled.
    pub fn task(
        mut self,
        name: &str,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) -> Self {
        self.tasks.push((name.to_owned(), Box::pin(task)));
        self
    }

    /// Creates the consumers and binds the port, so configuration errors surface before running.
    pub async fn build(self) -> anyhow::Result<Application> {
        anyhow::ensure!(
            self.errors.is_empty(),
            "the service is wired wrongly: {}",
            self.errors.join("; ")
        );
        let by_name: BTreeMap<String, Handler> = self
            .consumers
            .iter()
            .map(|(spec, h)| (spec.name.clone(), h.clone()))
            .collect();
        anyhow::ensure!(
            by_name.len() == self.consumers.len(),
            "the service is wired wrongly: two consumers share a durable name"
        );
        let _ = self.mesh.handlers.set(by_name);
        let mut consumers = Vec::new();
        for (spec, handler) in self.consumers {
            let c = match self.named_durables.iter().find(|(n, _)| *n == spec.name) {
                Some((_, config)) => bind_durable(&self.mesh, &spec, config.clone()).await?,
                None => consumer::create(&self.mesh, &spec).await?,
            };
            let batch = self.batched.get(&spec.name).cloned();
            consumers.push((spec, c, handler, batch));
        }
        let http = &self.mesh.settings.http;
        let body_limit = axum::extract::DefaultBodyLimit::max(http.body_limit_bytes);
        let listener = TcpListener::bind((http.host.as_str(), http.port))
            .await
            .with_context(|| format!("port {} could not be bound", http.port))?;
        let signed_in = self
            .router
            .merge(crate::deadletter::routes())
            .merge(crate::audit::routes())
            .layer(axum::middleware::from_fn_with_state(
                self.mesh.clone(),
                crate::auth::authenticate,
            ));
        let router = signed_in
            .merge(self.public)
            .merge(crate::http::base_routes())
            .layer(body_limit)
            .layer(axum::middleware::from_fn_with_state(
                self.mesh.clone(),
                crate::http::track,
            ))
            .with_state(self.mesh.clone());
        Ok(Application {
            mesh: self.mesh,
            listener,
            router,
            consumers,
            tasks: self.tasks,
        })
    }
}

/// A delivery decoded as `T`, from a producer of its channel, within `bounds`; anything else
/// is poison (out of range: no handler sees an amount or a list it cannot bound).
fn decode<T: EventKind>(
    d: &Delivery,
    info: &ChannelInfo,
    bounds: &policy::Bounds,
) -> Result<Envelope<T>, HandlerError> {
    let e = d.envelope::<T>()?;
    info.check_source(&e.source).map_err(HandlerError::Poison)?;
    e.data
        .check_bounds(bounds)
        .map_err(|why| HandlerError::Poison(format!("out of range: {why}")))?;
    Ok(e)
}

pub struct Application {
    mesh: Mesh,
    listener: TcpListener,
    router: Router,
    consumers: Vec<(
        ConsumerSpec,
        jetstream::consumer::PullConsumer,
        Handler,
        Option<BatchHandler>,
    )>,
    tasks: Vec<(String, BoxFuture<'static, anyhow::Result<()>>)>,
}

impl Application {
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    /// Runs everything until `signal` resolves or a part fails, then shuts down in order.
    /// Dropping the returned future (a crash, in tests) aborts every task at once.
    pub async fn run_until_stopped(
        self,
        signal: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let Application {
            mesh,
            listener,
            router,
            consumers,
            tasks,
        } = self;
        let stopping = mesh.stopping.clone();
        let relay_stop = CancellationToken::new();

        let mut consumer_set = JoinSet::new();
        for (spec, c, handler, batch) in consumers {
            match batch {
                Some(batch) if mesh.settings.nats.batch_max > 1 => {
                    consumer_set.spawn(consumer::run_batched(
                        mesh.clone(),
                        spec,
                        c,
                        batch,
                        stopping.clone(),
                    ));
                }
                _ => {
                    consumer_set.spawn(consumer::run(
                        mesh.clone(),
                        spec,
                        c,
                        handler,
                        stopping.clone(),
                    ));
                }
            }
        }
        let mut others: JoinSet<anyhow::Result<()>> = JoinSet::new();
        for (_, task) in tasks {
            others.spawn(task);
        }
        let relay = Relay {
            pool: mesh.db.clone(),
            js: mesh.js.clone(),
            settings: mesh.settings.outbox.clone(),
            metrics: mesh.metrics.clone(),
        };
        let relay_token = relay_stop.clone();
        others.spawn(async move { relay.run(relay_token).await });
        let http_stop = stopping.clone();
        others.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(http_stop.cancelled_owned())
                .await
                .context("HTTP server failed")
        });
        tracing::info!(service = %mesh.service(), "Service started.");

        let failure: Option<anyhow::Error> = tokio::select! {
            _ = signal => { tracing::info!("Shutdown requested; finishing in-flight work."); None }
            Some(r) = consumer_set.join_next() => Some(task_error(r, "a consumer")),
            Some(r) = others.join_next() => Some(task_error(r, "a background task")),
        };
        stopping.cancel();
        let grace = Duration::from_secs(mesh.settings.shutdown.grace_seconds);
        let drained = tokio::time::timeout(grace, async {
            while let Some(r) = consumer_set.join_next().await {
                if let Err(e) = r.map_err(anyhow::Error::from).and_then(|r| r) {
                    tracing::warn!(error = format!("{e:#}"), "A consumer ended with an error.");
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("Consumers did not finish within the grace period; unacked messages will be redelivered.");
        }
        relay_stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            while others.join_next().await.is_some() {}
        })
        .await;
        if let Err(error) = mesh.nats.drain().await {
            tracing::warn!(%error, "NATS drain failed.");
        }
        mesh.db.close().await;
        tracing::info!(service = %mesh.service(), "Service stopped.");
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Binds the named durable as it is, or creates it from `config` when it is missing; a durable
/// of that name on another filter is a wiring mistake.
async fn bind_durable(
    mesh: &Mesh,
    spec: &ConsumerSpec,
    config: async_nats::jetstream::consumer::pull::Config,
) -> anyhow::Result<jetstream::consumer::PullConsumer> {
    let stream_name = spec.stream.name(&mesh.subjects);
    let stream = mesh
        .js
        .get_stream(&stream_name)
        .await
        .with_context(|| format!("stream {stream_name} is missing"))?;
    let config = async_nats::jetstream::consumer::pull::Config {
        durable_name: Some(spec.name.clone()),
        filter_subject: spec.filter.clone(),
        ..config
    };
    let mut c: jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(&spec.name, config)
        .await
        .with_context(|| format!("durable {} could not be bound", spec.name))?;
    let filter = c.info().await?.config.filter_subject.clone();
    anyhow::ensure!(
        filter == spec.filter,
        "durable {} reads {filter}, not {}",
        spec.name,
        spec.filter
    );
    Ok(c)
}

fn task_error(r: Result<anyhow::Result<()>, tokio::task::JoinError>, what: &str) -> anyhow::Error {
    match r {
        Ok(Ok(())) => anyhow::anyhow!("{what} ended unexpectedly"),
        Ok(Err(e)) => e.context(format!("{what} failed")),
        Err(e) => anyhow::Error::new(e).context(format!("{what} panicked")),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// `<service> migrate`: applies the database migrations and exits, for a migration Job or an
/// init container that runs before the service starts (`database.migrate = false` then).
pub async fn migrate_only(
    settings: &MeshSettings,
    migrator: &'static Migrator,
) -> anyhow::Result<()> {
    let pool = db::connect(&settings.database).await?;
    db::migrate(&pool, migrator).await?;
    pool.close().await;
    tracing::info!(service = %settings.service, "Migrations applied.");
    Ok(())
}

/// Whether the command line asks for `migrate` rather than a run.
pub fn wants_migrate(args: &[String]) -> bool {
    args.iter().skip(1).any(|a| a == "migrate")
}

/// `<service> declare-streams`: creates or updates every stream of the mesh with these settings
/// and exits. For the platform (the NATS user `platform`, `RELIEF_NATS__USER`), where the services
/// may not change streams (`nats.declare_streams = false`): in Kubernetes the Job nats-bootstrap
/// runs it. Touches no database.
pub async fn declare_streams_only(settings: &MeshSettings) -> anyhow::Result<()> {
    let nats = &settings.nats;
    let user = nats.user.as_deref().filter(|u| !u.is_empty());
    let nats_client = nats
        .connect_options(user.unwrap_or(&settings.service))
        .connect(nats.url.as_str())
        .await
        .context("NATS is not reachable")?;
    let js = jetstream::new(nats_client.clone());
    let subjects = Subjects::new(&nats.prefix);
    tokio::time::timeout(
        Duration::from_secs(60),
        streams::ensure_streams(&js, &subjects, nats, &Stream::ALL),
    )
    .await
    .context("JetStream did not answer within 60 s")??;
    nats_client.flush().await?;
    tracing::info!(streams = Stream::ALL.len(), "Streams declared.");
    Ok(())
}

/// Whether the command line asks for `declare-streams` rather than a run.
pub fn wants_declare_streams(args: &[String]) -> bool {
    args.iter().skip(1).any(|a| a == "declare-streams")
}

/// The `main` of every service: telemetry, configuration, build (or `migrate`, or
/// `declare-streams`), run, flush.
pub async fn main_with<S, F, Fut>(
    defaults: &str,
    migrator: &'static Migrator,
    mesh_of: fn(&S) -> &MeshSettings,
    build: F,
) -> anyhow::Result<()>
where
    S: serde::de::DeserializeOwned,
    F: FnOnce(S, Clock) -> Fut,
    Fut: Future<Output = anyhow::Result<Application>>,
{
    let settings: S = crate::settings::load(defaults)?;
    let m = mesh_of(&settings);
    let _guard = crate::telemetry::init(&m.service, &m.telemetry)?;
    let args: Vec<String> = std::env::args().collect();
    if wants_migrate(&args) {
        return migrate_only(m, migrator).await;
    }
    if args
        .iter()
        .skip(1)
        .map(String::as_str)
        .eq(["audit", "verify"])
    {
        return verify_audit(m).await;
    }
    if wants_declare_streams(&args) {
        return declare_streams_only(m).await;
    }
    let clock = Clock::from_settings(&m.clock)?;
    let app = build(settings, clock).await?;
    tracing::info!(port = app.port(), "Listening.");
    app.run_until_stopped(shutdown_signal()).await
}

/// `<service> audit verify`: walks the service's audit trail, prints the outcome as JSON and
/// fails (exit status 1) at a broken link.
async fn verify_audit(settings: &MeshSettings) -> anyhow::Result<()> {
    let pool = db::connect(&settings.database).await?;
    let outcome = crate::audit::verify(&pool, &settings.service).await?;
    println!("{}", serde_json::to_string_pretty(&outcome)?);
    if outcome.intact {
        Ok(())
    } else {
        anyhow::bail!(
            "the audit trail of {} is broken: {}",
            settings.service,
            outcome.first_broken.map(|b| b.reason).unwrap_or_default()
        )
    }
}
