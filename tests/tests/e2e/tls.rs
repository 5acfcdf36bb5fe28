//! The mesh over TLS, as production runs it (k8s/overlays/prod): a `nats-server` that takes TLS
//! connections only and a PostgreSQL whose `pg_hba.conf` admits TLS connections only, both on
//! loopback with certificates of a CA made for the test (openssl), every service connecting with
//! `nats.tls.required` and `database.ssl_mode = verify-full` against that CA. The chain runs
//! through, every connection the services hold is shown encrypted by the servers themselves
//! (`pg_stat_ssl`, NATS's `/connz`), and a server whose certificate the CA did not sign is
//! refused by both clients.

use crate::chain::demo_fixtures;
use crate::nats_permissions::{free_port, nats_server_bin};
use anyhow::{bail, ensure, Context as _};
use mesh::settings::{load_with, MeshSettings};
use mesh_tests::{demo_household, Options, TestMesh, Tls};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(20);
const WITHIN: Duration = Duration::from_secs(30);

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("{cmd:?} could not be started"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// A throw-away CA and one server certificate it signed, for 127.0.0.1 and localhost.
struct Pki {
    dir: PathBuf,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Pki {
    fn new() -> anyhow::Result<Pki> {
        let dir = std::env::temp_dir().join(format!("relief-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let pki = Pki { dir };
        let d = |f: &str| pki.dir.join(f);
        run(Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=relief-mesh test CA"])
            .args(["-addext", "basicConstraints=critical,CA:TRUE"])
            .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            .arg("-keyout")
            .arg(d("ca.key"))
            .arg("-out")
            .arg(d("ca.crt")))?;
        run(Command::new("openssl")
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-subj", "/CN=127.0.0.1"])
            .arg("-keyout")
            .arg(d("server.key"))
            .arg("-out")
            .arg(d("server.csr")))?;
        std::fs::write(
            d("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
             keyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\n\
             basicConstraints=critical,CA:FALSE\n",
        )?;
        run(Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
            .arg("-in")
            .arg(d("server.csr"))
            .arg("-CA")
            .arg(d("ca.crt"))
            .arg("-CAkey")
            .arg(d("ca.key"))
            .arg("-extfile")
            .arg(d("server.ext"))
            .arg("-out")
            .arg(d("server.crt")))?;
        Ok(pki)
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }
}

/// A child server process, stopped and its directory removed on drop.
struct Server {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    /// NATS's monitor port.
    http_port: u16,
    /// How to stop it other than by killing the child (PostgreSQL's `pg_ctl stop`).
    stop: Option<Command>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut stop) = self.stop.take() {
            let _ = stop.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// A JetStream server that takes TLS connections only, with `pki`'s server certificate.
    async fn nats(pki: &Pki) -> anyhow::Result<Server> {
        let dir = std::env::temp_dir().join(format!("relief-nats-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("jetstream"))?;
        let (port, http_port) = (free_port(), free_port());
        let conf = format!(
            "listen: 127.0.0.1:{port}\nhttp: 127.0.0.1:{http_port}\n\
             jetstream {{ store_dir: {store:?} }}\n\
             tls {{\n  cert_file: {cert:?}\n  key_file: {key:?}\n  ca_file: {ca:?}\n  timeout: 2\n}}\n",
            store = dir.join("jetstream").display().to_string(),
            cert = pki.path("server.crt"),
            key = pki.path("server.key"),
            ca = pki.path("ca.crt"),
        );
        std::fs::write(dir.join("nats-server.conf"), conf)?;
        let log = std::fs::File::create(dir.join("server.log"))?;
        let child = Command::new(nats_server_bin())
            .arg("-c")
            .arg(dir.join("nats-server.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("nats-server could not be started")?;
        let mut server = Server {
            child: Some(child),
            dir,
            port,
            http_port,
            stop: None,
        };
        let health = format!("http://127.0.0.1:{http_port}/healthz?js-enabled-only=true");
        let started = Instant::now();
        loop {
            if let Some(status) = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!("nats-server exited ({status}):\n{}", server.log());
            }
            if let Ok(r) = reqwest::get(&health).await {
                if r.status().is_success() {
                    return Ok(server);
                }
            }
            if started.elapsed() > PATIENCE {
                bail!("nats-server did not become healthy:\n{}", server.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A PostgreSQL cluster of its own (initdb, as the user postgres when run as root) whose
    /// `pg_hba.conf` admits TCP connections only over TLS (`hostssl`), with `pki`'s certificate.
    fn postgres(pki: &Pki) -> anyhow::Result<Server> {
        let bindir = postgres_bindir()?;
        let dir = std::env::temp_dir().join(format!("relief-pg-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        for f in ["server.crt", "server.key"] {
            std::fs::copy(pki.dir.join(f), dir.join(f))?;
        }
        let as_root = is_root();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            dir.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )?;
        if as_root {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir))?;
        }
        let pg = |tool: &str| {
            let mut c = if as_root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(bindir.join(tool));
                c
            } else {
                Command::new(bindir.join(tool))
            };
            c.current_dir(&dir);
            c
        };
        let data = dir.join("data");
        run(pg("initdb")
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .arg("-D")
            .arg(&data))?;
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )?;
        if as_root {
            run(Command::new("chown")
                .args(["postgres:postgres"])
                .arg(data.join("pg_hba.conf")))?;
        }
        let port = free_port();
        let options = format!(
            "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={sock} \
             -c ssl=on -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key \
             -c fsync=off -c max_connections=200",
            sock = dir.display(),
            dir = dir.display(),
        );
        let mut stop = pg("pg_ctl");
        stop.args(["-m", "immediate", "stop", "-D"]).arg(&data);
        let server = Server {
            child: None,
            dir: dir.clone(),
            port,
            http_port: 0,
            stop: Some(stop),
        };
        run(pg("pg_ctl")
            .args(["-w", "-t", "30", "-o", &options, "-l"])
            .arg(dir.join("server.log"))
            .arg("-D")
            .arg(&data)
            .arg("start"))
        .with_context(|| server.log())?;
        Ok(server)
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The newest installed PostgreSQL's programs (Debian: /usr/lib/postgresql/<major>/bin).
fn postgres_bindir() -> anyhow::Result<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("no /usr/lib/postgresql: PostgreSQL's server programs are not installed")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let major = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .context("no initdb under /usr/lib/postgresql/*/bin")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_runs_with_every_connection_over_tls() {
    let pki = Pki::new().unwrap();
    let nats = Server::nats(&pki).await.unwrap();
    let pg = Server::postgres(&pki).unwrap();
    let tls = Tls {
        nats_url: format!("tls://127.0.0.1:{}", nats.port),
        postgres: format!("127.0.0.1:{}", pg.port),
        ca_file: pki.path("ca.crt"),
    };

    // Neither server takes a connection in the clear.
    let plain = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );
    let refused = sqlx::Connection::connect(&plain)
        .await
        .map(|_: sqlx::PgConnection| ())
        .expect_err("PostgreSQL refuses a connection without TLS");
    assert!(refused.to_string().contains("no encryption"), "{refused}");
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", nats.port))
        .await
        .unwrap();
    let mut info = vec![0u8; 4096];
    let n = tokio::io::AsyncReadExt::read(&mut raw, &mut info)
        .await
        .unwrap();
    let info = String::from_utf8_lossy(&info[..n]).into_owned();
    assert!(
        info.starts_with("INFO ") && info.contains("\"tls_required\":true"),
        "{info}"
    );

    let mesh = TestMesh::start(Options {
        fixtures: demo_fixtures(),
        tls: Some(tls.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let (status, accepted) = mesh.submit(&demo_household()).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    let chain = mesh.complete_chain(&household, WITHIN).await.unwrap();
    let types: Vec<&str> = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["type"].as_str())
        .collect();
    for t in [
        "eligibility.household.determined",
        "monitor.household.enrolled",
        "payment.instruction.created",
        "referral.feedback",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }

    // PostgreSQL's own view: every session of the services is encrypted.
    let mut admin: sqlx::PgConnection =
        sqlx::ConnectOptions::connect(&tls.pg_options("postgres").unwrap())
            .await
            .unwrap();
    let (encrypted, sessions): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a \
         JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = 'relief-mesh'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(sessions >= 6, "the services hold sessions: {sessions}");
    assert_eq!(encrypted, sessions, "every session of the services is TLS");

    // NATS's own view: every client connection of the services is TLS.
    let connz: Value = reqwest::get(format!("http://127.0.0.1:{}/connz", nats.http_port))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let conns = connz["connections"].as_array().unwrap();
    let names: Vec<&str> = conns.iter().filter_map(|c| c["name"].as_str()).collect();
    for service in [
        "intake",
        "verification",
        "monitoring",
        "payment",
        "relief-medical",
    ] {
        assert!(
            names.contains(&format!("relief-mesh/{service}").as_str()),
            "{service} is connected: {names:?}"
        );
    }
    for c in conns {
        let version = c["tls_version"].as_str().unwrap_or("");
        assert!(version.starts_with("1.") && version >= "1.2", "{c:#}");
    }
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_certificate_another_ca_signed_is_refused() {
    let pki = Pki::new().unwrap();
    let other = Pki::new().unwrap();
    let nats = Server::nats(&pki).await.unwrap();
    let pg = Server::postgres(&pki).unwrap();
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/relief_tls_refused",
        pg.port
    );
    let port = nats.port.to_string();
    let nats_url = format!("tls://127.0.0.1:{port}");
    let with_ca = |ca: &str| -> MeshSettings {
        let s: MeshSettings = load_with(
            "",
            &[
                ("service", "intake"),
                ("nats.url", nats_url.as_str()),
                ("nats.connect_timeout_ms", "3000"),
                ("nats.tls.required", "true"),
                ("nats.tls.ca_file", ca),
                ("database.url", url.as_str()),
                ("database.ssl_mode", "verify-full"),
                ("database.ssl_root_cert", ca),
            ],
        )
        .unwrap();
        s.validate().unwrap();
        s
    };

    let wrong = with_ca(&other.path("ca.crt"));
    let db = mesh::db::connect(&wrong.database).await;
    let err = format!("{:#}", db.expect_err("an unknown CA's database is refused"));
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let client = wrong
        .nats
        .connect_options("intake")
        .connect(nats_url.as_str())
        .await;
    assert!(client.is_err(), "an unknown CA's NATS server is refused");

    // The same settings with the right CA connect to both.
    let right = with_ca(&pki.path("ca.crt"));
    let pool = mesh::db::connect(&right.database).await.unwrap();
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(ssl);
    pool.close().await;
    let client = right
        .nats
        .connect_options("intake")
        .connect(nats_url.as_str())
        .await
        .unwrap();
    client.flush().await.unwrap();

    // A setting naming a file that is not there is refused at start-up, by its key.
    let missing = other.path("absent.crt");
    let s: MeshSettings = load_with(
        "",
        &[
            ("service", "intake"),
            ("nats.tls.ca_file", missing.as_str()),
        ],
    )
    .unwrap();
    let err = s.validate().unwrap_err().to_string();
    assert!(err.contains("nats.tls.ca_file"), "{err}");
}
