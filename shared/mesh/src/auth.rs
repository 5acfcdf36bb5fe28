//! Who is calling: OpenID Connect access tokens, the caller's roles and areas, and the actor an
//! event or an audit record names.
//!
//! Every route a service adds with [`crate::ServiceBuilder::routes`] takes a bearer access token
//! (a JWT) from the configured issuer (`auth.issuer`), signed by a key of the issuer's JWKS (found
//! by OpenID discovery, cached, fetched again when a token names a key the cache does not hold:
//! key rotation), for this service's audience (`auth.audience`, by default
//! `urn:relief-mesh:<family>`), not expired. The token's claims (names in `auth.claims.*`) give
//! the [`Caller`]: subject, display name, roles, areas (region codes), department and rights.
//! Only `/healthz`, `/readyz`, `/metrics` and the routes a service adds with
//! [`crate::ServiceBuilder::public_routes`] are open.
//!
//! A handler states its roles with [`Caller::acting_as`] (403 for any other role) and restricts
//! its queries with the returned [`Acting`]: [`Acting::region_patterns`] for
//! `region_code LIKE ANY($n)`, [`Acting::department`] for a department's own records. Out of area
//! is "not found", never a sign that the record exists.

use crate::http::ApiError;
use crate::service::Mesh;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use jsonwebtoken::jwk::{JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `[auth]` of the settings: the issuer whose tokens the service takes and the claims it reads.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    /// The OpenID Provider's issuer URL, exactly as its tokens' `iss` (dev and test:
    /// `deploy/oidc`, `http://127.0.0.1:8100`; production: Keycloak's realm URL).
    pub issuer: String,
    /// The audience a token must name; empty: `urn:relief-mesh:<family>` of the service.
    pub audience: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_seconds: u64,
    /// Least time between two fetches of the key set when a token names an unknown key, so that
    /// tokens with made-up key ids cannot make the service hammer the provider.
    pub jwks_refresh_min_seconds: u64,
    /// The key set is fetched again after this long even when every key is known.
    pub jwks_max_age_seconds: u64,
    /// Time allowed for one discovery or key-set request.
    pub fetch_timeout_ms: u64,
    /// Signature algorithms taken (asymmetric only).
    pub algorithms: Vec<String>,
    pub claims: ClaimNames,
}

/// The claim names of a token, the same contract for the dev provider and for Keycloak.
#[derive(Debug, Clone, Deserialize)]
pub struct ClaimNames {
    pub name: String,
    pub roles: String,
    pub areas: String,
    pub department: String,
    pub rights: String,
}

/// The roles of the mesh, as tokens carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 乡镇（街道）经办人: one or more townships (9-digit codes).
    TownshipOfficer,
    /// 县级经办人: one county (6-digit code).
    CountyOfficer,
    /// 县级审批人: one county; approves what others propose.
    CountyApprover,
    /// 市级监管人员: the city (6-digit code ending in 00).
    CitySupervisor,
    /// 部门经办人: one department's officer.
    DepartmentOfficer,
    /// A department's own system (client credentials), with its department.
    DepartmentSystem,
    /// 审计人员: reads, and reads the audit trail; changes nothing.
    Auditor,
    /// 平台运维: dead letters and runs, no personal data.
    PlatformOperator,
}

/// The roles that read a household's records within their areas (township, county, city,
/// auditor): the `x-roles` of most reads in `docs/openapi.yaml`.
pub const REGIONAL_READ: &[Role] = &[
    Role::TownshipOfficer,
    Role::CountyOfficer,
    Role::CountyApprover,
    Role::CitySupervisor,
    Role::Auditor,
];

impl Role {
    pub const ALL: [Role; 8] = [
        Role::TownshipOfficer,
        Role::CountyOfficer,
        Role::CountyApprover,
        Role::CitySupervisor,
        Role::DepartmentOfficer,
        Role::DepartmentSystem,
        Role::Auditor,
        Role::PlatformOperator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::TownshipOfficer => "township_officer",
            Role::CountyOfficer => "county_officer",
            Role::CountyApprover => "county_approver",
            Role::CitySupervisor => "city_supervisor",
            Role::DepartmentOfficer => "department_officer",
            Role::DepartmentSystem => "department_system",
            Role::Auditor => "auditor",
            Role::PlatformOperator => "platform_operator",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role works on regions (its areas scope what it sees), as opposed to a
    /// department or the platform.
    pub fn is_regional(self) -> bool {
        match self {
            Role::TownshipOfficer
            | Role::CountyOfficer
            | Role::CountyApprover
            | Role::CitySupervisor
            | Role::Auditor => true,
            Role::DepartmentOfficer | Role::DepartmentSystem | Role::PlatformOperator => false,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The right to read personal data unmasked for one request (audited).
pub const RIGHT_UNMASK: &str = "unmask";

/// The authenticated person or system behind a request, from its access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub`.
    pub sub: String,
    /// Display name (the `name` claim; the subject when the token has none).
    pub name: String,
    /// The mesh's roles the token carries (other roles are ignored).
    pub roles: Vec<Role>,
    /// Region codes (6, 9 or 12 digits) the caller works in.
    pub areas: Vec<String>,
    pub department: Option<String>,
    pub rights: Vec<String>,
}

/// Who did something, as events, decisions and audit records name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
    pub name: String,
    pub role: String,
}

impl Actor {
    /// A rule or a scheduled task of `service`, not a person.
    pub fn system(service: &str) -> Actor {
        Actor {
            sub: format!("system:{service}"),
            name: service.to_owned(),
            role: "system".to_owned(),
        }
    }
}

/// A caller acting in one of its roles, as an operation allowed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    pub caller: Caller,
    pub role: Role,
}

impl Caller {
    /// The caller in the first of `allowed` it holds; 403 when it holds none.
    pub fn acting_as(&self, allowed: &[Role]) -> Result<Acting, ApiError> {
        match allowed.iter().find(|r| self.roles.contains(r)) {
            Some(role) => Ok(Acting {
                caller: self.clone(),
                role: *role,
            }),
            None => Err(ApiError::Forbidden(format!(
                "this operation is for {}; the token's roles are {}",
                names(allowed),
                if self.roles.is_empty() {
                    "none of the mesh's".to_owned()
                } else {
                    names(&self.roles)
                }
            ))),
        }
    }

    pub fn has_right(&self, right: &str) -> bool {
        self.rights.iter().any(|r| r == right)
    }
}

fn names(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Acting {
    pub fn actor(&self) -> Actor {
        Actor {
            sub: self.caller.sub.clone(),
            name: self.caller.name.clone(),
            role: self.role.as_str().to_owned(),
        }
    }

    /// `LIKE` patterns of the region codes this caller may see, for
    /// `region_code LIKE ANY($n::text[])`: a township or a county by its code, a city (a
    /// 6-digit code ending in 00) by its first four digits, a province (ending in 0000) by its
    /// first two. A role that does not work on regions, or a caller without areas, sees no
    /// region: the list is empty and matches nothing.
    pub fn region_patterns(&self) -> Vec<String> {
        if !self.role.is_regional() {
            return Vec::new();
        }
        self.caller
            .areas
            .iter()
            .map(|a| format!("{}%", region_prefix(a)))
            .collect()
    }

    /// Whether `region_code` lies in the caller's areas.
    pub fn covers(&self, region_code: &str) -> bool {
        self.role.is_regional()
            && self
                .caller
                .areas
                .iter()
                .any(|a| region_code.starts_with(region_prefix(a)))
    }

    /// 403 unless `region_code` lies in the caller's areas: for a write that names its region.
    pub fn require_area(&self, field: &str, region_code: &str) -> Result<(), ApiError> {
        if self.covers(region_code) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{field} is outside the areas of the token"
            )))
        }
    }

    /// The department a department's officer or system acts for.
    pub fn department(&self) -> Option<&str> {
        match self.role {
            Role::DepartmentOfficer | Role::DepartmentSystem => self.caller.department.as_deref(),
            Role::TownshipOfficer
            | Role::CountyOfficer
            | Role::CountyApprover
            | Role::CitySupervisor
            | Role::Auditor
            | Role::PlatformOperator => None,
        }
    }
}

/// The part of a region code that every code inside it starts with.
fn region_prefix(area: &str) -> &str {
    if area.len() == 6 && area.ends_with("0000") {
        &area[..2]
    } else if area.len() == 6 && area.ends_with("00") {
        &area[..4]
    } else {
        area
    }
}

/// Why a token was refused (401), said to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the request has no bearer access token (Authorization: Bearer <token>)")]
    Missing,
    #[error("the access token is not a well-formed JWT")]
    Malformed,
    #[error("the access token is signed with an algorithm this service does not take")]
    Algorithm,
    #[error("the access token is signed by a key the issuer does not publish")]
    UnknownKey,
    #[error("the access token's signature is not valid")]
    Signature,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid yet")]
    NotYetValid,
    #[error("the access token is from another issuer")]
    Issuer,
    #[error("the access token is not for this service (audience {0})")]
    Audience(String),
    #[error("the access token lacks the claim {0}")]
    Claim(String),
    /// The key set could not be fetched and none is cached: 503, not 401.
    #[error("the identity provider cannot be reached to check the access token")]
    Unavailable,
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable => ApiError::Unavailable(e.to_string()),
            other @ (AuthError::Missing
            | AuthError::Malformed
            | AuthError::Algorithm
            | AuthError::UnknownKey
            | AuthError::Signature
            | AuthError::Expired
            | AuthError::NotYetValid
            | AuthError::Issuer
            | AuthError::Audience(_)
            | AuthError::Claim(_)) => ApiError::Unauthenticated(other.to_string()),
        }
    }
}

/// Checks access tokens against the issuer's published keys. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    audience: String,
    leeway: u64,
    algorithms: Vec<Algorithm>,
    claims: ClaimNames,
    refresh_min: Duration,
    max_age: Duration,
    http: reqwest::Client,
    keys: tokio::sync::RwLock<Keys>,
    /// Held while fetching, so that concurrent requests wait for one fetch.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    /// When the key set was last fetched (successfully or not).
    fetched_at: Option<Instant>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl Verifier {
    /// A verifier for `service` (whose family gives the default audience).
    pub fn new(settings: &AuthSettings, service: &str) -> anyhow::Result<Verifier> {
        anyhow::ensure!(
            !settings.issuer.trim().is_empty(),
            "auth.issuer must name the OpenID Provider"
        );
        let mut algorithms = Vec::new();
        for name in &settings.algorithms {
            let alg: Algorithm = name
                .parse()
                .map_err(|_| anyhow::anyhow!("auth.algorithms: {name} is not a JWS algorithm"))?;
            anyhow::ensure!(
                !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512),
                "auth.algorithms: {name} is symmetric; only the issuer's public keys are taken"
            );
            algorithms.push(alg);
        }
        anyhow::ensure!(!algorithms.is_empty(), "auth.algorithms must not be empty");
        let audience = if settings.audience.trim().is_empty() {
            default_audience(service)
        } else {
            settings.audience.trim().to_owned()
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.fetch_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuer: settings.issuer.trim().trim_end_matches('/').to_owned(),
                audience,
                leeway: settings.leeway_seconds,
                algorithms,
                claims: settings.claims.clone(),
                refresh_min: Duration::from_secs(settings.jwks_refresh_min_seconds),
                max_age: Duration::from_secs(settings.jwks_max_age_seconds),
                http,
                keys: tokio::sync::RwLock::new(Keys::default()),
                fetching: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The caller a token stands for, or why it is refused.
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if !self.inner.algorithms.contains(&header.alg) {
            return Err(AuthError::Algorithm);
        }
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let (key, key_alg) = self.key(&kid).await?;
        if key_alg.is_some_and(|a| a != header.alg) {
            return Err(AuthError::Algorithm);
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.inner.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[self.inner.issuer.as_str()]);
        validation.set_audience(&[self.inner.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &key,
            &validation,
        )
        .map_err(|e| self.refusal(&e))?;
        caller_of(&data.claims, &self.inner.claims)
    }

    #[allow(clippy::wildcard_enum_match_arm)] // ErrorKind is non-exhaustive
    fn refusal(&self, e: &jsonwebtoken::errors::Error) -> AuthError {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidIssuer => AuthError::Issuer,
            ErrorKind::InvalidAudience => AuthError::Audience(self.inner.audience.clone()),
            ErrorKind::MissingRequiredClaim(c) => AuthError::Claim(c.clone()),
            ErrorKind::InvalidSignature => AuthError::Signature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => AuthError::Algorithm,
            // The rest (bad base64 or JSON, a key of the wrong kind, …): the token is not one
            // this service can read. The kind is non-exhaustive, so a wildcard is needed.
            _ => AuthError::Malformed,
        }
    }

    /// The key `kid`, from the cache or, when unknown or the cache is old, a fresh key set.
    async fn key(&self, kid: &str) -> Result<(DecodingKey, Option<Algorithm>), AuthError> {
        {
            let keys = self.inner.keys.read().await;
            let fresh = keys
                .fetched_at
                .is_some_and(|t| t.elapsed() < self.inner.max_age);
            if let (Some(k), true) = (keys.by_kid.get(kid), fresh) {
                return Ok(k.clone());
            }
        }
        let _one = self.inner.fetching.lock().await;
        {
            // Another request may have fetched while this one waited.
            let keys = self.inner.keys.read().await;
            let recent = keys
                .fetched_at
                .is_some_and(|t| t.elapsed() < self.inner.refresh_min);
            match keys.by_kid.get(kid) {
                Some(k)
                    if recent
                        || keys
                            .fetched_at
                            .is_some_and(|t| t.elapsed() < self.inner.max_age) =>
                {
                    return Ok(k.clone())
                }
                None if recent => return Err(AuthError::UnknownKey),
                Some(_) | None => {}
            }
        }
        let fetched = self.fetch().await;
        let mut keys = self.inner.keys.write().await;
        keys.fetched_at = Some(Instant::now());
        match fetched {
            Ok(set) => keys.by_kid = set,
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), issuer = %self.inner.issuer, "The issuer's key set could not be fetched.");
                if keys.by_kid.is_empty() {
                    // Nothing cached: try again on the next request rather than after the wait.
                    keys.fetched_at = None;
                    return Err(AuthError::Unavailable);
                }
            }
        }
        keys.by_kid.get(kid).cloned().ok_or(AuthError::UnknownKey)
    }

    async fn fetch(&self) -> anyhow::Result<HashMap<String, (DecodingKey, Option<Algorithm>)>> {
        let discovery_url = format!("{}/.well-known/openid-configuration", self.inner.issuer);
        let discovery: Discovery = self
            .inner
            .http
            .get(&discovery_url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        anyhow::ensure!(
            discovery.issuer.trim_end_matches('/') == self.inner.issuer,
            "the discovery document names another issuer"
        );
        let set: JwkSet = self
            .inner
            .http
            .get(&discovery.jwks_uri)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut out = HashMap::new();
        for jwk in &set.keys {
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                continue;
            }
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
            out.insert(kid, (key, alg));
        }
        tracing::info!(keys = out.len(), issuer = %self.inner.issuer, "Fetched the issuer's key set.");
        Ok(out)
    }
}

/// `urn:relief-mesh:<family>`: `relief-medical` → `urn:relief-mesh:relief`.
pub fn default_audience(service: &str) -> String {
    let family = service.split('-').next().unwrap_or(service);
    format!("urn:relief-mesh:{family}")
}

fn caller_of(
    claims: &serde_json::Map<String, serde_json::Value>,
    names: &ClaimNames,
) -> Result<Caller, AuthError> {
    let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let list = |name: &str| -> Result<Vec<String>, AuthError> {
        match claims.get(name) {
            None | Some(serde_json::Value::Null) => Ok(Vec::new()),
            Some(serde_json::Value::String(s)) => Ok(vec![s.clone()]),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| AuthError::Claim(name.to_owned()))
                })
                .collect(),
            Some(_) => Err(AuthError::Claim(name.to_owned())),
        }
    };
    let sub = text("sub")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| AuthError::Claim("sub".into()))?;
    let name = text(&names.name)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| sub.clone());
    let mut roles: Vec<Role> = list(&names.roles)?
        .iter()
        .filter_map(|r| Role::parse(r))
        .collect();
    roles.sort();
    roles.dedup();
    let areas = list(&names.areas)?;
    if areas.iter().any(|a| {
        policy::RegionCode::parse(a)
            .map(|r| r.as_str() != a)
            .unwrap_or(true)
    }) {
        return Err(AuthError::Claim(format!("{} (a region code)", names.areas)));
    }
    Ok(Caller {
        sub,
        name,
        roles,
        areas,
        department: text(&names.department).filter(|d| !d.is_empty()),
        rights: list(&names.rights)?,
    })
}

/// The bearer token of a request.
fn bearer(parts: &Parts) -> Result<&str, AuthError> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?
        .to_str()
        .map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token.trim())
}

/// Middleware on every route but the open ones: the request goes on only with a valid token, its
/// [`Caller`] in the request's extensions; otherwise 401 (or 503 when the keys cannot be had).
pub async fn authenticate(State(mesh): State<Mesh>, req: Request, next: Next) -> Response {
    use axum::response::IntoResponse as _;
    let (mut parts, body) = req.into_parts();
    let caller = match bearer(&parts) {
        Ok(token) => mesh.auth.verify(token).await,
        Err(e) => Err(e),
    };
    match caller {
        Ok(caller) => {
            tracing::Span::current().record("enduser.id", caller.sub.as_str());
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The roles a route is for, checked before anything of the request is read: a caller that
/// holds none of them gets 403 whatever it sent. The handler takes the [`Acting`] it leaves:
///
/// ```text
/// .route("/v1/warnings", get(list).layer(allow(&[Role::TownshipOfficer, Role::CountyOfficer])))
/// ```
///
/// `docs/openapi.yaml` lists the same roles under each operation's `x-roles`, and a test holds
/// the two to each other.
pub fn allow(roles: &'static [Role]) -> axum::middleware::FromFnLayer<impl Guard, (), (Request,)> {
    axum::middleware::from_fn(move |req: Request, next: Next| {
        Box::pin(async move {
            use axum::response::IntoResponse as _;
            let (mut parts, body) = req.into_parts();
            let acting = match parts.extensions.get::<Caller>() {
                Some(caller) => caller.acting_as(roles),
                None => Err(ApiError::from(AuthError::Missing)),
            };
            match acting {
                Ok(acting) => {
                    parts.extensions.insert(acting);
                    next.run(Request::from_parts(parts, body)).await
                }
                Err(e) => e.into_response(),
            }
        }) as Checked
    })
}

/// A boxed response future, as [`allow`]'s middleware returns.
type Checked = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

/// The middleware function [`allow`] makes.
pub trait Guard: Fn(Request, Next) -> Checked + Clone + Send + Sync + 'static {}
impl<F: Fn(Request, Next) -> Checked + Clone + Send + Sync + 'static> Guard for F {}

impl<S: Send + Sync> FromRequestParts<S> for Acting {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Acting>().cloned().ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "the route takes an Acting but declares no roles (mesh::auth::allow)"
            ))
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::from(AuthError::Missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(roles: &[Role], areas: &[&str]) -> Caller {
        Caller {
            sub: "u1".into(),
            name: "王芳".into(),
            roles: roles.to_vec(),
            areas: areas.iter().map(|a| a.to_string()).collect(),
            department: Some("medical".into()),
            rights: Vec::new(),
        }
    }

    #[test]
    fn areas_become_prefixes_by_level() {
        let township = caller(&[Role::TownshipOfficer], &["410102001", "410102002"])
            .acting_as(&[Role::TownshipOfficer])
            .unwrap();
        assert_eq!(township.region_patterns(), ["410102001%", "410102002%"]);
        assert!(township.covers("410102001007"));
        assert!(!township.covers("410102003"));
        assert!(
            !township.covers("410102"),
            "a county-level record is above a township"
        );
        let city = caller(&[Role::CitySupervisor], &["410100"])
            .acting_as(&[Role::CitySupervisor])
            .unwrap();
        assert_eq!(city.region_patterns(), ["4101%"]);
        assert!(city.covers("410105001"));
        assert!(!city.covers("410201"));
    }

    #[test]
    fn departments_and_operators_see_no_region() {
        let c = caller(
            &[Role::DepartmentOfficer, Role::PlatformOperator],
            &["410102"],
        );
        let dept = c.acting_as(&[Role::DepartmentOfficer]).unwrap();
        assert!(dept.region_patterns().is_empty());
        assert!(!dept.covers("410102"));
        assert_eq!(dept.department(), Some("medical"));
        let ops = c.acting_as(&[Role::PlatformOperator]).unwrap();
        assert_eq!(ops.department(), None);
    }

    #[test]
    fn a_role_not_allowed_is_forbidden_and_named() {
        let c = caller(&[Role::TownshipOfficer], &["410102001"]);
        let err = c.acting_as(&[Role::CountyApprover]).unwrap_err();
        assert!(
            matches!(err, ApiError::Forbidden(ref m) if m.contains("county_approver") && m.contains("township_officer"))
        );
    }

    #[test]
    fn claims_are_read_by_the_configured_names() {
        let names = ClaimNames {
            name: "name".into(),
            roles: "roles".into(),
            areas: "areas".into(),
            department: "department".into(),
            rights: "rights".into(),
        };
        let claims = serde_json::json!({
            "sub": "wang.fang", "name": "王芳",
            "roles": ["township_officer", "offline_access"], "areas": ["410102001"],
        });
        let c = caller_of(claims.as_object().unwrap(), &names).unwrap();
        assert_eq!(c.roles, [Role::TownshipOfficer]);
        assert_eq!(c.name, "王芳");
        let bad = serde_json::json!({"sub": "x", "roles": [], "areas": ["41"]});
        assert!(caller_of(bad.as_object().unwrap(), &names).is_err());
        let no_sub = serde_json::json!({"roles": []});
        assert_eq!(
            caller_of(no_sub.as_object().unwrap(), &names),
            Err(AuthError::Claim("sub".into()))
        );
    }

    #[test]
    fn the_default_audience_is_the_family() {
        assert_eq!(default_audience("relief-medical"), "urn:relief-mesh:relief");
        assert_eq!(default_audience("intake"), "urn:relief-mesh:intake");
    }
}
