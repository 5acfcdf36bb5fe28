//! Layered configuration with the `config` crate.
//!
//! Order, later wins: the mesh defaults below → the service's own defaults → the file named by
//! `RELIEF_CONFIG_FILE` (TOML) → environment variables `RELIEF_<SECTION>__<KEY>`, for example
//! `RELIEF_NATS__URL` or `RELIEF_DATABASE__URL`. The same image runs locally and in Kubernetes.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::time::Duration;

/// Defaults every service starts from.
pub const MESH_DEFAULTS: &str = r#"
service = "unnamed"

[http]
# Loopback unless told otherwise: a pod sets RELIEF_HTTP__HOST=0.0.0.0 (k8s/base).
host = "127.0.0.1"
port = 8080
# Largest request body any route takes (a bulk feed, a pain.002); larger bodies get 413.
body_limit_bytes = 2097152

[nats]
url = "nats://127.0.0.1:4222"
prefix = ""
replicas = 1
max_deliver = 5
concurrency = 8
# A batched consumer (`ServiceBuilder::consume_stream_batched`) takes up to `batch_max` messages,
# waiting at most `batch_wait_ms` for more after the first, and handles them in one transaction.
batch_max = 64
batch_wait_ms = 5
backoff_ms = [500, 2000, 10000, 30000]
ack_wait_ms = 30000
duplicate_window_ms = 120000
stream_max_age_days = 400
connect_timeout_ms = 5000
# Create or update the streams this service uses at start-up (dev, tests, `make run`). False where
# the platform declares them (`<service> declare-streams` as the NATS user `platform`; in
# Kubernetes the Job nats-bootstrap): the service then waits for its streams and needs no right to
# change one (a user that may update a stream can have it republish every message to itself).
declare_streams = true

# TLS to the NATS servers: off on loopback (dev, tests); production requires it and trusts the
# cluster's CA (k8s/overlays/prod). Empty paths are not set; with `required` false the client
# still upgrades when the server asks for TLS.
[nats.tls]
required = false
ca_file = ""
cert_file = ""
key_file = ""

[database]
url = "postgres://postgres@127.0.0.1:5432/relief"
max_connections = 10
create_if_missing = true
migrate = true
# libpq's sslmode (disable, allow, prefer, require, verify-ca, verify-full); empty keeps the URL's
# (`?sslmode=`) or libpq's default, prefer. Production: verify-full with the database CA.
ssl_mode = ""
ssl_root_cert = ""

[telemetry]
filter = "info,sqlx=warn,async_nats=warn"
format = "text"

[outbox]
batch_size = 100
poll_interval_ms = 1000
retain_hours = 72
inbox_retain_days = 400

[shutdown]
grace_seconds = 25

[clock]
timezone = "Asia/Shanghai"
start_at = ""

# Sign-in: every route but health, metrics and the public ones takes a bearer access token (a
# JWT) of this OpenID Provider (mesh::auth). Dev and test: deploy/oidc on 127.0.0.1:8100;
# production: Keycloak (k8s/components/keycloak).
[auth]
issuer = "http://127.0.0.1:8100"
# Empty: urn:relief-mesh:<family> (intake, verification, monitoring, relief, payment).
audience = ""
leeway_seconds = 30
jwks_refresh_min_seconds = 10
jwks_max_age_seconds = 3600
fetch_timeout_ms = 5000
algorithms = ["RS256", "PS256", "ES256"]

[auth.claims]
name = "name"
roles = "roles"
areas = "areas"
department = "department"
rights = "rights"

# The ranges of what enters the mesh (policy::bounds); the same for every service, so what one
# accepts the next does too. Out of range is a 422 naming the field, or a dead letter.
[bounds]
# Any one amount: a member's income or assets, a benefit, a stage, a bill, a grant (1e9 yuan).
max_amount_fen = 100000000000
max_members = 30
max_stages = 12
max_stage_days = 366
"#;

#[derive(Debug, Clone, Deserialize)]
pub struct MeshSettings {
    /// Instance name: `intake`, `relief-medical`, …; the envelope `source`, durable consumer
    /// names and the dead-letter subject are derived from it.
    pub service: String,
    pub http: HttpSettings,
    pub nats: NatsSettings,
    pub database: DatabaseSettings,
    pub telemetry: TelemetrySettings,
    pub outbox: OutboxSettings,
    pub shutdown: ShutdownSettings,
    /// The bureau's time zone, and an optional start instant (see [`crate::clock`]).
    pub clock: crate::clock::ClockSettings,
    /// The ranges of every amount, count and list of a body or a message ([`policy::bounds`]).
    pub bounds: policy::Bounds,
    /// The OpenID Provider whose tokens the service takes, and their claim names.
    pub auth: crate::auth::AuthSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// Largest request body, in bytes; a larger one is refused with 413.
    pub body_limit_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NatsSettings {
    pub url: String,
    /// Prepended to every subject and stream name; empty in production. Tests give each run
    /// its own prefix so they can share one server and run in parallel.
    pub prefix: String,
    /// Stream replicas: 1 locally, 3 on the production cluster.
    pub replicas: usize,
    /// Deliveries of one message before it is dead-lettered.
    pub max_deliver: i64,
    /// Messages one consumer handles at once. Handlers are idempotent and keyed by household, so
    /// order across households does not matter; keep it below `database.max_connections`.
    pub concurrency: usize,
    /// Messages a batched consumer handles in one transaction, at most; 1 handles them alone.
    pub batch_max: usize,
    /// How long a batched consumer waits for more messages after the first of a batch.
    pub batch_wait_ms: u64,
    /// Delay before redelivery after the n-th failed attempt; the last value repeats.
    pub backoff_ms: Vec<u64>,
    pub ack_wait_ms: u64,
    /// JetStream de-duplication window for `Nats-Msg-Id`.
    pub duplicate_window_ms: u64,
    /// How long streams keep messages (days; 0 keeps them forever). A message still in a stream
    /// can be redelivered or replayed, so the inbox keeps its rows at least as long.
    pub stream_max_age_days: u64,
    pub connect_timeout_ms: u64,
    /// Whether the service creates or updates its streams at start-up, or only waits for them
    /// (the platform declares them: [`crate::service::declare_streams_only`]).
    pub declare_streams: bool,
    /// Credentials for a server with per-user permissions (`deploy/nats/auth.conf`):
    /// `RELIEF_NATS__USER`, `RELIEF_NATS__PASSWORD`. Not read from the URL: the client ignores
    /// `user:password@` there.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// TLS to the server: required or not, the CA to trust, a client certificate.
    #[serde(default)]
    pub tls: NatsTlsSettings,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NatsTlsSettings {
    /// Refuse a server that does not offer TLS (`tls://` in the URL requires it as well).
    #[serde(default)]
    pub required: bool,
    /// PEM file of the CA(s) the server's certificate must chain to, besides the system's.
    #[serde(default)]
    pub ca_file: String,
    /// PEM client certificate and key, for a server that verifies clients (both or neither).
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_file: String,
}

impl NatsSettings {
    /// Connection options for the service `name`: its connection name, its credentials, and its
    /// own inbox prefix [`inbox_prefix`]`(name)`, on which every reply to it comes (JetStream API
    /// answers, pulled messages, publish acknowledgements, data holders' answers). A server with
    /// per-user permissions lets each user subscribe to its own prefix only, never to the shared
    /// `_INBOX.>` that would show it every other client's replies (`deploy/nats/auth.conf`).
    pub fn connect_options(&self, name: &str) -> async_nats::ConnectOptions {
        let options = async_nats::ConnectOptions::new()
            .name(format!("relief-mesh/{name}"))
            .custom_inbox_prefix(inbox_prefix(name))
            .connection_timeout(Duration::from_millis(self.connect_timeout_ms));
        let tls = &self.tls;
        let options = if tls.required {
            options.require_tls(true)
        } else {
            options
        };
        let options = if tls.ca_file.is_empty() {
            options
        } else {
            options.add_root_certificates(tls.ca_file.clone().into())
        };
        let options = if tls.cert_file.is_empty() {
            options
        } else {
            options
                .add_client_certificate(tls.cert_file.clone().into(), tls.key_file.clone().into())
        };
        match (&self.user, &self.password) {
            (Some(user), Some(password)) if !user.is_empty() => {
                options.user_and_password(user.clone(), password.clone())
            }
            _ => options,
        }
    }
}

/// The inbox prefix of the service (and NATS user) `name`: `_INBOX_<name>`, the one a server with
/// per-user permissions lets it subscribe to.
pub fn inbox_prefix(name: &str) -> String {
    format!("_INBOX_{name}")
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// The service's own database; no service reads another's.
    pub url: String,
    pub max_connections: u32,
    /// Create the database at start-up when it does not exist (local runs and tests).
    pub create_if_missing: bool,
    /// Run migrations at start-up; turned off where a migration Job runs them first.
    pub migrate: bool,
    /// libpq's `sslmode`, overriding the URL's; empty keeps it. `verify-full` checks the
    /// server's certificate against [`Self::ssl_root_cert`] and its name against the URL's host.
    #[serde(default)]
    pub ssl_mode: String,
    /// PEM file of the CA the database server's certificate must chain to.
    #[serde(default)]
    pub ssl_root_cert: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    /// `tracing` filter directives for the log output.
    pub filter: String,
    /// `text` or `json`.
    pub format: String,
    /// OTLP/HTTP endpoint, e.g. `http://otel-collector:4318/v1/traces`; no export when absent.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OutboxSettings {
    pub batch_size: i64,
    /// Fallback poll when no NOTIFY arrives (a missed notification must not strand a row).
    pub poll_interval_ms: u64,
    /// Published rows are kept this long for inspection, then deleted.
    pub retain_hours: i64,
    /// Inbox rows are kept this long (days; 0 keeps them forever); never shorter than the
    /// streams keep messages, or a late redelivery would be applied twice.
    pub inbox_retain_days: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShutdownSettings {
    /// Time allowed for in-flight work after SIGTERM; keep below the pod's grace period.
    pub grace_seconds: u64,
}

impl MeshSettings {
    /// Checks what each setting alone cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        let stream = self.nats.stream_max_age_days as i64;
        let inbox = self.outbox.inbox_retain_days;
        anyhow::ensure!(inbox >= 0, "outbox.inbox_retain_days must not be negative");
        anyhow::ensure!(
            inbox == 0 || (stream > 0 && inbox >= stream),
            "outbox.inbox_retain_days ({inbox}) must be 0 (forever) or at least nats.stream_max_age_days ({stream}, 0 = forever): \
             a message still in a stream could otherwise be applied twice"
        );
        anyhow::ensure!(
            self.nats.concurrency >= 1,
            "nats.concurrency must be at least 1"
        );
        anyhow::ensure!(
            (1..=1000).contains(&self.nats.batch_max),
            "nats.batch_max must be 1 to 1000"
        );
        anyhow::ensure!(
            self.nats.max_deliver >= 1,
            "nats.max_deliver must be at least 1"
        );
        anyhow::ensure!(
            self.http.body_limit_bytes >= 1024,
            "http.body_limit_bytes must be at least 1024"
        );
        self.bounds.validate().map_err(anyhow::Error::msg)?;
        let tls = &self.nats.tls;
        anyhow::ensure!(
            tls.cert_file.is_empty() == tls.key_file.is_empty(),
            "nats.tls.cert_file and nats.tls.key_file go together: give both or neither"
        );
        if !self.database.ssl_mode.is_empty() {
            self.database.ssl_mode.parse::<sqlx::postgres::PgSslMode>().map_err(|_| {
                anyhow::anyhow!(
                    "database.ssl_mode must be one of disable, allow, prefer, require, verify-ca, verify-full"
                )
            })?;
        }
        for (key, path) in [
            ("nats.tls.ca_file", &tls.ca_file),
            ("nats.tls.cert_file", &tls.cert_file),
            ("nats.tls.key_file", &tls.key_file),
            ("database.ssl_root_cert", &self.database.ssl_root_cert),
        ] {
            anyhow::ensure!(
                path.is_empty() || std::path::Path::new(path).is_file(),
                "{key} names {path}, which is not a readable file"
            );
        }
        Ok(())
    }
}

impl NatsSettings {
    pub fn backoff_for(&self, delivered: i64) -> Duration {
        let i = (delivered.max(1) - 1) as usize;
        let ms = self
            .backoff_ms
            .get(i)
            .or(self.backoff_ms.last())
            .copied()
            .unwrap_or(1000);
        Duration::from_millis(ms)
    }
}

/// Loads `T` from the mesh defaults, the service's defaults, the optional file and the
/// environment. `T` usually flattens [`MeshSettings`] and adds the service's own section.
pub fn load<T: DeserializeOwned>(service_defaults: &str) -> anyhow::Result<T> {
    load_with(service_defaults, &[])
}

/// As [`load`], with explicit overrides applied last (`("nats.prefix", "t1")`); for tests and
/// command-line flags.
pub fn load_with<T: DeserializeOwned>(
    service_defaults: &str,
    overrides: &[(&str, &str)],
) -> anyhow::Result<T> {
    use anyhow::Context as _;
    use config::{Config, Environment, File, FileFormat};
    let mut builder = Config::builder()
        .add_source(File::from_str(MESH_DEFAULTS, FileFormat::Toml))
        .add_source(File::from_str(service_defaults, FileFormat::Toml));
    if let Ok(path) = std::env::var("RELIEF_CONFIG_FILE") {
        builder = builder.add_source(File::with_name(&path).format(FileFormat::Toml));
    }
    // Every setting whose default is a list reads a comma-separated environment variable as one
    // (`RELIEF_SIMULATOR__SILENT_SOURCES=tax,bank`); no other value is split.
    let mut env = Environment::with_prefix("RELIEF")
        .prefix_separator("_")
        .separator("__")
        .try_parsing(true)
        .list_separator(",");
    for key in list_keys(MESH_DEFAULTS)
        .into_iter()
        .chain(list_keys(service_defaults))
    {
        env = env.with_list_parse_key(&key);
    }
    builder = builder.add_source(env);
    for (key, value) in overrides {
        // Typed as the environment source types its values: `flatten` does not coerce strings.
        let v: config::ValueKind = if let Ok(i) = value.parse::<i64>() {
            i.into()
        } else if let Ok(b) = value.parse::<bool>() {
            b.into()
        } else {
            (*value).into()
        };
        builder = builder.set_override(*key, v)?;
    }
    builder
        .build()
        .context("configuration sources could not be read")?
        .try_deserialize()
        .context("configuration is invalid")
}

/// The dotted keys of every list in a TOML text (`nats.backoff_ms`), lower case as the
/// environment source names them.
pub fn list_keys(defaults: &str) -> Vec<String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.to_ascii_lowercase()
            } else {
                format!("{prefix}.{}", k.to_ascii_lowercase())
            };
            match v {
                toml::Value::Array(_) => out.push(key),
                toml::Value::Table(t) => walk(&key, t, out),
                toml::Value::String(_)
                | toml::Value::Integer(_)
                | toml::Value::Float(_)
                | toml::Value::Boolean(_)
                | toml::Value::Datetime(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(table) = defaults.parse::<toml::Table>() {
        walk("", &table, &mut out);
    }
    out
}

/// The policy parameter sets a service decides with: the file at `path` when given, else the
/// sets built into the `policy` crate.
pub fn policy_book(path: Option<&str>) -> anyhow::Result<policy::PolicyBook> {
    use anyhow::Context as _;
    match path.filter(|p| !p.is_empty()) {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("policy file {path} could not be read"))?;
            Ok(policy::PolicyBook::from_toml(&text)
                .with_context(|| format!("policy file {path} is invalid"))?)
        }
        None => Ok(policy::PolicyBook::builtin()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> MeshSettings {
        load_with("", &[]).unwrap()
    }

    #[test]
    fn the_defaults_are_valid_and_environment_style_overrides_are_typed() {
        let s = defaults();
        s.validate().unwrap();
        assert_eq!(s.nats.stream_max_age_days, 400);
        assert_eq!(s.http.host, "127.0.0.1", "loopback unless told otherwise");
        let s: MeshSettings = load_with(
            "",
            &[("nats.concurrency", "3"), ("database.migrate", "false")],
        )
        .unwrap();
        assert_eq!(s.nats.concurrency, 3);
        assert!(!s.database.migrate);
    }

    #[test]
    fn tls_settings_are_read_and_checked_before_the_service_starts() {
        let s = defaults();
        assert!(!s.nats.tls.required, "plain on loopback by default");
        assert!(s.database.ssl_mode.is_empty());
        let this = concat!(env!("CARGO_MANIFEST_DIR"), "/src/settings.rs");
        let s: MeshSettings = load_with(
            "",
            &[
                ("nats.tls.required", "true"),
                ("nats.tls.ca_file", this),
                ("database.ssl_mode", "verify-full"),
                ("database.ssl_root_cert", this),
            ],
        )
        .unwrap();
        assert!(s.nats.tls.required);
        assert_eq!(s.database.ssl_mode, "verify-full");
        s.validate().unwrap();

        let mut bad = s.clone();
        bad.database.ssl_mode = "verify_full".into();
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("database.ssl_mode"), "{e}");
        let mut bad = s.clone();
        bad.nats.tls.cert_file = this.into();
        let e = bad.validate().unwrap_err().to_string();
        assert!(
            e.contains("nats.tls.key_file"),
            "a certificate without its key: {e}"
        );
        let mut bad = s;
        bad.database.ssl_root_cert = "/nonexistent/ca.crt".into();
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("database.ssl_root_cert"), "{e}");
    }

    #[test]
    fn the_inbox_must_outlive_the_stream_messages_it_protects() {
        let mut s = defaults();
        s.outbox.inbox_retain_days = 30;
        assert!(
            s.validate().is_err(),
            "30 days of inbox for 400 days of stream"
        );
        s.nats.stream_max_age_days = 0;
        assert!(
            s.validate().is_err(),
            "streams forever need the inbox forever"
        );
        s.outbox.inbox_retain_days = 0;
        s.validate().unwrap();
        s.nats.stream_max_age_days = 30;
        s.outbox.inbox_retain_days = 30;
        s.validate().unwrap();
    }

    #[test]
    fn a_list_setting_reads_a_comma_separated_environment_variable_and_nothing_else_is_split() {
        #[derive(Deserialize)]
        struct S {
            listcheck: L,
        }
        #[derive(Deserialize)]
        struct L {
            names: Vec<String>,
            filter: String,
        }
        let defaults = "[listcheck]\nnames = []\nfilter = \"info\"\n";
        assert_eq!(list_keys(defaults), ["listcheck.names"]);
        assert!(list_keys(MESH_DEFAULTS).contains(&"nats.backoff_ms".to_owned()));
        std::env::set_var("RELIEF_LISTCHECK__NAMES", "tax,bank");
        std::env::set_var("RELIEF_LISTCHECK__FILTER", "info,sqlx=warn");
        let s: S = load_with(defaults, &[]).unwrap();
        std::env::remove_var("RELIEF_LISTCHECK__NAMES");
        std::env::remove_var("RELIEF_LISTCHECK__FILTER");
        assert_eq!(s.listcheck.names, ["tax", "bank"]);
        assert_eq!(s.listcheck.filter, "info,sqlx=warn");
    }

    #[test]
    fn backoff_repeats_its_last_step() {
        let s = defaults();
        assert_eq!(s.nats.backoff_for(1), Duration::from_millis(500));
        assert_eq!(s.nats.backoff_for(99), Duration::from_millis(30_000));
    }
}
