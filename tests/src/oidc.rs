//! Access tokens for the tests, got by real OAuth flows against the dev/test OpenID Provider
//! (`deploy/oidc`, started on [`ISSUER`] by `deploy/scripts/ensure-infra.sh`): nothing is minted
//! by hand, so a token a test sends is one a service will meet in the field.
//!
//! - [`login`]: authorization code with PKCE (S256) as the `relief-workbench` client, through
//!   the provider's login page, for one audience (RFC 8707 resource indicator).
//! - [`client_credentials`]: a department system's token (`dept-<department>`).
//! - [`Tokens`]: a cache keyed by (login or client, audience) that gets a new token by a new flow
//!   once the cached one is within [`REFRESH_MARGIN`] of its expiry; [`Tokens::shared`] is the
//!   process-wide one for [`ISSUER`].
//! - [`OidcServer`]: a provider of a test's own (own port, own keys file), for key rotation.
//!
//! Reading a token's header or claims ([`Token::claims`]) only decodes them: validating the
//! signature is the services' job.

use anyhow::{anyhow, bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The issuer of the provider `ensure-infra.sh` starts.
pub const ISSUER: &str = "http://127.0.0.1:8100";
/// The public client the staff's workbench (and the tests) sign in with.
pub const WORKBENCH_CLIENT: &str = "relief-workbench";
/// The redirect URI registered for [`WORKBENCH_CLIENT`]; the flow stops at the redirect to it.
pub const WORKBENCH_REDIRECT_URI: &str = "http://127.0.0.1:8080/auth/callback";
/// The password of every demo account (`deploy/oidc/accounts.json`).
pub const DEMO_PASSWORD: &str = "relief-demo";
/// A cached token this close to its expiry is replaced by a new one.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a provider of a test's own may take to answer discovery: usually well under a
/// second, but generating a missing RSA key on a busy machine takes seconds (over 20 s seen).
const START_PATIENCE: Duration = Duration::from_secs(60);
const MAX_STEPS: usize = 12;

/// The audience of a service family: `urn:relief-mesh:<family>` (`intake`, `verification`,
/// `monitoring`, `relief`, `payment`).
pub fn audience(family: &str) -> String {
    format!("urn:relief-mesh:{family}")
}

/// The dev client id and secret of a department's system: `dept-<dept>`, `dept-<dept>-secret`.
pub fn department_client(department: &str) -> (String, String) {
    (
        format!("dept-{department}"),
        format!("dept-{department}-secret"),
    )
}

/// An access token and what came with it.
#[derive(Clone, Debug)]
pub struct Token {
    /// The JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// When the provider says it expires (`expires_in` counted from before the request).
    pub expires_at: Instant,
    /// The audience it was asked for.
    pub audience: String,
    /// `Bearer`.
    pub token_type: String,
    /// The ID token of a [`login`] (none for client credentials).
    pub id_token: Option<String>,
}

impl Token {
    /// `Bearer <access token>`, for an `Authorization` header.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.access_token)
    }

    /// The access token's JOSE header (decoded, not verified).
    pub fn header(&self) -> anyhow::Result<Value> {
        jwt_part(&self.access_token, 0)
    }

    /// The access token's claims (decoded, not verified).
    pub fn claims(&self) -> anyhow::Result<Value> {
        jwt_part(&self.access_token, 1)
    }

    /// The `kid` of the key that signed the access token.
    pub fn kid(&self) -> anyhow::Result<String> {
        self.header()?
            .get("kid")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the access token's header has no kid"))
    }

    /// True when the token expires within `margin` from now.
    pub fn expires_within(&self, margin: Duration) -> bool {
        Instant::now() + margin >= self.expires_at
    }
}

/// Part `index` (0 header, 1 payload) of a compact JWS, base64url-decoded and parsed as JSON.
/// Reads it; checks nothing.
pub fn jwt_part(jwt: &str, index: usize) -> anyhow::Result<Value> {
    let part = jwt
        .split('.')
        .nth(index)
        .ok_or_else(|| anyhow!("not a compact JWT (no part {index})"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .with_context(|| format!("part {index} of the JWT is not base64url"))?;
    serde_json::from_slice(&bytes).with_context(|| format!("part {index} of the JWT is not JSON"))
}

/// The endpoints of an issuer, from its discovery document.
#[derive(Clone, Debug, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

/// Reads `<issuer>/.well-known/openid-configuration` (and checks it names `issuer`).
pub async fn discover(issuer: &str) -> anyhow::Result<Discovery> {
    discover_with(&http_client()?, issuer).await
}

async fn discover_with(http: &reqwest::Client, issuer: &str) -> anyhow::Result<Discovery> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let response = http.get(&url).send().await.with_context(|| {
        format!(
            "OpenID Provider {issuer} unreachable (bash deploy/scripts/ensure-infra.sh starts it)"
        )
    })?;
    if !response.status().is_success() {
        bail!("{url}: HTTP {}", response.status());
    }
    let discovery: Discovery = response
        .json()
        .await
        .with_context(|| format!("{url}: not a discovery document"))?;
    if discovery.issuer != issuer {
        bail!("{url} names issuer {}, not {issuer}", discovery.issuer);
    }
    Ok(discovery)
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .build()
        .context("HTTP client")
}

/// The cookies of one user agent: name and path to value (every request goes to one issuer).
#[derive(Default)]
struct CookieJar {
    cookies: Vec<(String, String, String)>,
}

impl CookieJar {
    fn store(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all(SET_COOKIE) {
            let Ok(header) = header.to_str() else {
                continue;
            };
            let mut attributes = header.split(';').map(str::trim);
            let Some((name, value)) = attributes.next().and_then(|nv| nv.split_once('=')) else {
                continue;
            };
            let mut path = "/".to_owned();
            let mut expired = value.is_empty();
            for attribute in attributes {
                let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
                // A deleted cookie comes back with `max-age=0` or an expiry in 1970.
                let deleted = (key.eq_ignore_ascii_case("max-age")
                    && val.trim().starts_with(['0', '-']))
                    || (key.eq_ignore_ascii_case("expires") && val.contains("1970"));
                if key.eq_ignore_ascii_case("path") && val.starts_with('/') {
                    val.clone_into(&mut path);
                }
                expired |= deleted;
            }
            self.cookies.retain(|(n, p, _)| !(n == name && *p == path));
            if !expired {
                self.cookies.push((name.to_owned(), path, value.to_owned()));
            }
        }
    }

    /// The `Cookie` header for a request to `url` (cookies whose path is a prefix of its path).
    fn header_for(&self, url: &Url) -> Option<String> {
        let path = url.path();
        let matching: Vec<String> = self
            .cookies
            .iter()
            .filter(|(_, p, _)| {
                path == p
                    || (path.starts_with(p.as_str())
                        && (p.ends_with('/') || path[p.len()..].starts_with('/')))
            })
            .map(|(n, _, v)| format!("{n}={v}"))
            .collect();
        (!matching.is_empty()).then(|| matching.join("; "))
    }
}

/// A browser enough for the login: no automatic redirects, a cookie jar.
struct Agent {
    http: reqwest::Client,
    jar: CookieJar,
}

impl Agent {
    async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
        url: &Url,
    ) -> anyhow::Result<reqwest::Response> {
        let request = match self.jar.header_for(url) {
            Some(cookies) => request.header(COOKIE, cookies),
            None => request,
        };
        let response = request
            .send()
            .await
            .with_context(|| format!("request to {url}"))?;
        self.jar.store(&response);
        Ok(response)
    }

    async fn get(&mut self, url: &Url) -> anyhow::Result<reqwest::Response> {
        let request = self.http.get(url.clone());
        self.send(request, url).await
    }

    async fn post_form(
        &mut self,
        url: &Url,
        form: &[(&str, &str)],
    ) -> anyhow::Result<reqwest::Response> {
        let request = self.http.post(url.clone()).form(form);
        self.send(request, url).await
    }
}

fn location(response: &reqwest::Response, base: &Url) -> anyhow::Result<Url> {
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow!("{base}: HTTP {} without Location", response.status()))?;
    base.join(location)
        .with_context(|| format!("{base}: bad Location {location}"))
}

/// The `action` of the first `<form` of a page.
fn form_action(page: &str, base: &Url) -> anyhow::Result<Url> {
    let form = page
        .find("<form")
        .map(|at| &page[at..])
        .ok_or_else(|| anyhow!("{base}: no login form on the page"))?;
    let action = form
        .split_once("action=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(action, _)| action.replace("&amp;", "&"))
        .ok_or_else(|| anyhow!("{base}: the login form has no action"))?;
    base.join(&action)
        .with_context(|| format!("{base}: bad form action {action}"))
}

/// A random PKCE code verifier (64 characters of [0-9a-f]) and its S256 challenge.
fn pkce_pair() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
    #[serde(default)]
    token_type: String,
    #[serde(default)]
    id_token: Option<String>,
}

async fn token_response(
    response: reqwest::Response,
    what: &str,
    audience: &str,
    asked_at: Instant,
) -> anyhow::Result<Token> {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{what}: the token endpoint refused (HTTP {status}): {body}");
    }
    let parsed: TokenResponse = serde_json::from_str(&body)
        .with_context(|| format!("{what}: not a token response: {body}"))?;
    Ok(Token {
        access_token: parsed.access_token,
        expires_at: asked_at + Duration::from_secs(parsed.expires_in),
        audience: audience.to_owned(),
        token_type: parsed.token_type,
        id_token: parsed.id_token,
    })
}

/// Signs `login` in with `password` as [`WORKBENCH_CLIENT`] by the authorization code flow with
/// PKCE (S256) and returns the access token for `audience` (e.g. [`audience`]`("intake")`).
///
/// Like a browser: GET the authorization endpoint (from discovery) with `resource=<audience>`,
/// follow the redirects by hand with a cookie jar, POST the login page's form, follow on to the
/// redirect to [`WORKBENCH_REDIRECT_URI`], and exchange its `code` with the `code_verifier` and
/// the `resource`. A wrong login or password is an error that says so; so is a refused request
/// (e.g. an unknown resource: `invalid_target`).
pub async fn login(
    issuer: &str,
    login: &str,
    password: &str,
    audience: &str,
) -> anyhow::Result<Token> {
    let http = http_client()?;
    let discovery = discover_with(&http, issuer).await?;
    let (verifier, challenge) = pkce_pair();
    let state = uuid::Uuid::new_v4().simple().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();

    let mut url = Url::parse_with_params(
        &discovery.authorization_endpoint,
        [
            ("client_id", WORKBENCH_CLIENT),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("redirect_uri", WORKBENCH_REDIRECT_URI),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", state.as_str()),
            ("nonce", nonce.as_str()),
            ("resource", audience),
        ],
    )
    .context("authorization endpoint")?;

    let mut agent = Agent {
        http: http.clone(),
        jar: CookieJar::default(),
    };
    let mut submitted = false;
    let mut callback = None;
    for _ in 0..MAX_STEPS {
        let response = agent.get(&url).await?;
        let status = response.status();
        if status.is_redirection() {
            url = location(&response, &url)?;
            if url.as_str().starts_with(WORKBENCH_REDIRECT_URI) {
                callback = Some(url.clone());
                break;
            }
            continue;
        }
        let page = response.text().await.unwrap_or_default();
        if status != StatusCode::OK || !page.contains("<form") || submitted {
            bail!(
                "sign-in of {login}: unexpected answer from {url} (HTTP {status}): {}",
                snippet(&page)
            );
        }
        // The login page: fill in and submit its form.
        let action = form_action(&page, &url)?;
        let answer = agent
            .post_form(&action, &[("login", login), ("password", password)])
            .await?;
        submitted = true;
        let status = answer.status();
        if status.is_redirection() {
            url = location(&answer, &action)?;
            if url.as_str().starts_with(WORKBENCH_REDIRECT_URI) {
                callback = Some(url.clone());
                break;
            }
            continue;
        }
        let page = answer.text().await.unwrap_or_default();
        if page.contains("用户名或密码错误") {
            bail!("sign-in of {login}: wrong login or password (the provider answered HTTP {status}: 用户名或密码错误)");
        }
        bail!(
            "sign-in of {login}: unexpected answer to the login form (HTTP {status}): {}",
            snippet(&page)
        );
    }
    let callback = callback.ok_or_else(|| {
        anyhow!("sign-in of {login}: no redirect to the client after {MAX_STEPS} steps")
    })?;

    let query: HashMap<String, String> = callback.query_pairs().into_owned().collect();
    if let Some(error) = query.get("error") {
        bail!(
            "sign-in of {login} for {audience} refused: {error}: {}",
            query.get("error_description").map_or("", String::as_str)
        );
    }
    if query.get("state") != Some(&state) {
        bail!("sign-in of {login}: the redirect carries another state: {callback}");
    }
    let code = query
        .get("code")
        .ok_or_else(|| anyhow!("sign-in of {login}: no code in {callback}"))?;

    let asked_at = Instant::now();
    let response = http
        .post(&discovery.token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", WORKBENCH_REDIRECT_URI),
            ("client_id", WORKBENCH_CLIENT),
            ("code_verifier", verifier.as_str()),
            ("resource", audience),
        ])
        .send()
        .await
        .context("token endpoint")?;
    token_response(response, &format!("sign-in of {login}"), audience, asked_at).await
}

/// A client-credentials token of `client_id` (client_secret_basic) for `audience`.
pub async fn client_credentials(
    issuer: &str,
    client_id: &str,
    secret: &str,
    audience: &str,
) -> anyhow::Result<Token> {
    let http = http_client()?;
    let discovery = discover_with(&http, issuer).await?;
    let asked_at = Instant::now();
    let response = http
        .post(&discovery.token_endpoint)
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("resource", audience)])
        .send()
        .await
        .context("token endpoint")?;
    token_response(response, &format!("client {client_id}"), audience, asked_at).await
}

fn snippet(page: &str) -> String {
    page.chars().take(300).collect()
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Who {
    User(String),
    Client(String),
}

/// Tokens by (login or client, audience), each got once and got again by a new flow when it is
/// within [`REFRESH_MARGIN`] of its expiry. Shareable between tests and runtimes (it holds no
/// connection).
pub struct Tokens {
    issuer: String,
    password: String,
    cache: Mutex<HashMap<(Who, String), Token>>,
}

impl Tokens {
    /// A cache for `issuer`'s demo accounts (password [`DEMO_PASSWORD`]).
    pub fn new(issuer: &str) -> Self {
        Self::with_password(issuer, DEMO_PASSWORD)
    }

    /// A cache whose users sign in with `password`.
    pub fn with_password(issuer: &str, password: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            password: password.to_owned(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The process-wide cache for [`ISSUER`].
    pub fn shared() -> &'static Tokens {
        static SHARED: OnceLock<Tokens> = OnceLock::new();
        SHARED.get_or_init(|| Tokens::new(ISSUER))
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The access token of demo user `login` for `audience` (a [`login`] flow when needed).
    pub async fn user(&self, login: &str, audience: &str) -> anyhow::Result<Token> {
        let key = (Who::User(login.to_owned()), audience.to_owned());
        if let Some(token) = self.cached(&key) {
            return Ok(token);
        }
        let token = self::login(&self.issuer, login, &self.password, audience).await?;
        self.keep(key, &token);
        Ok(token)
    }

    /// The client-credentials token of department `department`'s system (`dept-<department>`)
    /// for `audience`.
    pub async fn department(&self, department: &str, audience: &str) -> anyhow::Result<Token> {
        let (client_id, secret) = department_client(department);
        self.client(&client_id, &secret, audience).await
    }

    /// The client-credentials token of `client_id` for `audience`.
    pub async fn client(
        &self,
        client_id: &str,
        secret: &str,
        audience: &str,
    ) -> anyhow::Result<Token> {
        let key = (Who::Client(client_id.to_owned()), audience.to_owned());
        if let Some(token) = self.cached(&key) {
            return Ok(token);
        }
        let token = client_credentials(&self.issuer, client_id, secret, audience).await?;
        self.keep(key, &token);
        Ok(token)
    }

    /// Forgets every cached token (e.g. after the provider changed its keys).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn cached(&self, key: &(Who, String)) -> Option<Token> {
        self.lock()
            .get(key)
            .filter(|t| !t.expires_within(REFRESH_MARGIN))
            .cloned()
    }

    fn keep(&self, key: (Who, String), token: &Token) {
        self.lock().insert(key, token.clone());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Who, String), Token>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The repository's root (the tests crate is `<root>/tests`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The kids of a JWK Set file, signing key first.
pub fn key_ids(keys_file: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(keys_file).with_context(|| format!("{}", keys_file.display()))?;
    let jwks: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not JSON", keys_file.display()))?;
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.get("kid").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .ok_or_else(|| anyhow!("{}: not a JWK Set", keys_file.display()))
}

/// Puts a fresh signing key in front of `keys_file`'s keys (creating the file when missing),
/// with `deploy/oidc/keys.js`; returns the kids, the new one first.
pub fn rotate_keys(keys_file: &Path) -> anyhow::Result<Vec<String>> {
    let output = Command::new(node_bin())
        .arg(repo_root().join("deploy/oidc/keys.js"))
        .arg("rotate")
        .arg(keys_file)
        .output()
        .context("node deploy/oidc/keys.js")?;
    if !output.status.success() {
        bail!(
            "node deploy/oidc/keys.js rotate {}: {}",
            keys_file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    key_ids(keys_file)
}

fn node_bin() -> String {
    std::env::var("NODE").unwrap_or_else(|_| "node".to_owned())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A provider of a test's own: `node deploy/oidc/server.js` on a free loopback port with the
/// given keys file (generated by the provider when missing), killed on drop. Its log is in a
/// temporary directory, kept when the test panics.
pub struct OidcServer {
    child: Option<Child>,
    port: u16,
    keys_file: PathBuf,
    env: Vec<(String, String)>,
    dir: PathBuf,
}

impl OidcServer {
    /// Starts a provider signing with `keys_file`'s first key.
    pub async fn start(keys_file: &Path) -> anyhow::Result<OidcServer> {
        Self::start_with(keys_file, &[]).await
    }

    /// Starts a provider with more environment (e.g. `("OIDC_ACCESS_TOKEN_TTL", "30")`).
    pub async fn start_with(keys_file: &Path, env: &[(&str, &str)]) -> anyhow::Result<OidcServer> {
        let dir =
            std::env::temp_dir().join(format!("relief-oidc-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
        let mut server = OidcServer {
            child: None,
            port: free_port()?,
            keys_file: keys_file.to_owned(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            dir,
        };
        server.spawn().await?;
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn keys_file(&self) -> &Path {
        &self.keys_file
    }

    /// The provider's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("oidc.log")).unwrap_or_default()
    }

    /// Stops the provider and starts it again on the same port (so the same issuer) with
    /// `keys_file`: key rotation as a deployment does it. Its sessions and tokens' records are
    /// gone (it keeps them in memory); tokens signed before stay verifiable only if the new key
    /// set still holds their key.
    pub async fn restart(&mut self, keys_file: &Path) -> anyhow::Result<()> {
        self.stop();
        keys_file.clone_into(&mut self.keys_file);
        self.spawn().await
    }

    /// Kills the provider (also done on drop).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let root = repo_root();
        if !root.join("deploy/oidc/node_modules/oidc-provider").exists() {
            bail!("deploy/oidc/node_modules is missing: run bash deploy/scripts/ensure-infra.sh (it runs npm ci there)");
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("oidc.log"))?;
        let child = Command::new(node_bin())
            .arg(root.join("deploy/oidc/server.js"))
            .env("OIDC_PORT", self.port.to_string())
            .env("OIDC_ISSUER", self.issuer())
            .env("OIDC_KEYS_FILE", &self.keys_file)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("node deploy/oidc/server.js")?;
        self.child = Some(child);

        let http = http_client()?;
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                bail!("the OpenID Provider exited ({status}):\n{}", self.log());
            }
            if discover_with(&http, &self.issuer()).await.is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_PATIENCE {
                self.stop();
                bail!(
                    "the OpenID Provider did not answer discovery within {START_PATIENCE:?}:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("OpenID Provider log kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
