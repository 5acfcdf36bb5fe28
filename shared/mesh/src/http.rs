//! HTTP basics of every service: health, readiness, metrics, JSON errors, request spans.
//!
//! Error bodies name the field and the rule, never the value sent: a value may be a person's ID
//! number or name, and an error body ends up in logs and screenshots. The rejections of serde,
//! serde_json and axum quote the offending value; [`redact`] takes it out.

use crate::service::Mesh;
use crate::telemetry;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Instant;
use tracing::Instrument;

/// A field that failed validation, named by its JSON path (`members[1].id_number`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The one error type of every HTTP API. Internal causes are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// A JSON body of the wrong shape (a field of the wrong type, a field missing or unknown):
    /// 400, with the field and the rule.
    #[error("the request body does not have the expected shape")]
    Malformed(Vec<FieldError>),
    /// A path or query parameter that does not parse (a path segment that is not a UUID, a
    /// `limit` that is not a number, an unknown word): 400, with the parameter and the rule.
    #[error("a path or query parameter does not have the expected form")]
    BadParameter(Vec<FieldError>),
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// A body over `http.body_limit_bytes`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// No token, or a token that is not valid (expired, another issuer or audience, a bad
    /// signature): 401 with the reason and a `WWW-Authenticate: Bearer` challenge.
    #[error("{0}")]
    Unauthenticated(String),
    /// A valid token whose roles or areas do not allow the operation.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The request names something that already exists (a person in an open case).
    #[error("the request duplicates an existing record")]
    Duplicate(Vec<FieldError>),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a [FieldError]>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadRequest(_) | ApiError::Malformed(_) | ApiError::BadParameter(_) => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            ApiError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Duplicate(_) => (StatusCode::CONFLICT, "duplicate"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "Request failed.");
                "internal error; the cause is in the service log".to_owned()
            }
            other @ (ApiError::BadRequest(_)
            | ApiError::Malformed(_)
            | ApiError::BadParameter(_)
            | ApiError::Validation(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::Unauthenticated(_)
            | ApiError::Forbidden(_)
            | ApiError::NotFound(_)
            | ApiError::Conflict(_)
            | ApiError::Duplicate(_)
            | ApiError::Unavailable(_)) => other.to_string(),
        };
        let fields = match &self {
            ApiError::Validation(f)
            | ApiError::Duplicate(f)
            | ApiError::Malformed(f)
            | ApiError::BadParameter(f) => Some(f.as_slice()),
            ApiError::BadRequest(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::Unauthenticated(_)
            | ApiError::Forbidden(_)
            | ApiError::NotFound(_)
            | ApiError::Conflict(_)
            | ApiError::Unavailable(_)
            | ApiError::Internal(_) => None,
        };
        let challenge = match &self {
            ApiError::Unauthenticated(why) => Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                why.replace('"', "'")
            )),
            ApiError::BadRequest(_)
            | ApiError::Malformed(_)
            | ApiError::BadParameter(_)
            | ApiError::Validation(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::Forbidden(_)
            | ApiError::NotFound(_)
            | ApiError::Conflict(_)
            | ApiError::Duplicate(_)
            | ApiError::Unavailable(_)
            | ApiError::Internal(_) => None,
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code,
                    message,
                    fields,
                },
            }),
        )
            .into_response();
        if let Some(value) = challenge.and_then(|c| header::HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// A JSON body, in the same JSON error shape as everything else when it is not one: a wrong
/// content type or malformed JSON is a 400; a field of the wrong type, missing or unknown a 400
/// naming the field ([`ApiError::Malformed`]); a control character in any text (a NUL, which
/// the database cannot store) a 422 naming the field; a top-level field that names an officer
/// ([`ACTOR_FIELDS`]) a 422; a body over `http.body_limit_bytes` a 413.
/// No message repeats the value sent.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|essence| {
                essence == "application/json"
                    || (essence.starts_with("application/") && essence.ends_with("+json"))
            });
        if !json {
            return Err(ApiError::BadRequest(
                "expected a request body of content type application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(
                    "the request body is larger than this service takes".into(),
                )
            } else {
                ApiError::BadRequest("the request body could not be read".into())
            }
        })?;
        decode_json(&bytes).map(JsonBody)
    }
}

/// Path parameters, as axum's `Path`, refused when they do not parse with a 400 that names the
/// parameter and the form it must have ([`ApiError::BadParameter`]), never the text sent.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => {
                let names = parts
                    .extensions
                    .get::<MatchedPath>()
                    .map(|m| path_parameters(m.as_str()))
                    .unwrap_or_default();
                Err(path_rejection(&rejection, &names))
            }
        }
    }
}

/// The names of a route template's parameters, in order (`/v1/a/{a_id}/b/{b_id}`: a_id, b_id).
fn path_parameters(template: &str) -> Vec<String> {
    template
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches('*').to_owned())
        .collect()
}

fn path_rejection(rejection: &PathRejection, names: &[String]) -> ApiError {
    use axum::extract::path::ErrorKind;
    let PathRejection::FailedToDeserializePathParams(failed) = rejection else {
        return ApiError::Internal(anyhow::anyhow!(
            "the route has no path parameters to extract"
        ));
    };
    let only = || match names {
        [one] => one.clone(),
        _ => "path".to_owned(),
    };
    let field = |key: &str| {
        if is_name(key) {
            key.to_owned()
        } else {
            "path".to_owned()
        }
    };
    #[allow(
        clippy::wildcard_enum_match_arm,
        reason = "axum's ErrorKind is non_exhaustive: a kind it adds is refused by the rule alone"
    )]
    let error = match failed.kind() {
        ErrorKind::ParseErrorAtKey {
            key, expected_type, ..
        } => FieldError::new(field(key), form_of(expected_type)),
        ErrorKind::ParseErrorAtIndex {
            index,
            expected_type,
            ..
        } => FieldError::new(
            names.get(*index).cloned().unwrap_or_else(only),
            form_of(expected_type),
        ),
        ErrorKind::ParseError { expected_type, .. } => {
            FieldError::new(only(), form_of(expected_type))
        }
        ErrorKind::InvalidUtf8InPathParam { key } => {
            FieldError::new(field(key), "must be valid UTF-8 once percent-decoded")
        }
        ErrorKind::DeserializeError { key, message, .. } => {
            FieldError::new(field(key), rule_of(message))
        }
        ErrorKind::Message(message) => FieldError::new(only(), rule_of(message)),
        other @ (ErrorKind::WrongNumberOfParameters { .. } | ErrorKind::UnsupportedType { .. }) => {
            return ApiError::Internal(anyhow::anyhow!("the route's path parameters: {other}"));
        }
        _ => FieldError::new(only(), "does not have the expected form"),
    };
    ApiError::BadParameter(vec![error])
}

/// The form a value of the Rust type `type_name` is written in, as a rule.
fn form_of(type_name: &str) -> String {
    let short = type_name.rsplit("::").next().unwrap_or(type_name);
    match short {
        "Uuid" => "must be a UUID".to_owned(),
        "u8" | "u16" | "u32" | "u64" | "usize" => "must be a whole number, 0 or more".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "must be a whole number".to_owned(),
        "bool" => "must be true or false".to_owned(),
        "NaiveDate" => "must be a date (YYYY-MM-DD)".to_owned(),
        other => format!("must be a {other}"),
    }
}

/// A query string, as axum's `Query`, refused when it does not parse with a 400 that names the
/// parameter and the rule ([`ApiError::BadParameter`]), never the text sent.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        decode_query(parts.uri.query().unwrap_or_default()).map(Query)
    }
}

/// A query string as a `T`, refused as [`Query`] refuses it: the parameter (an unknown one, which
/// the client named, as `query`) and the rule.
pub fn decode_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize::<_, T>(pairs).map_err(|e| {
        let message = e.inner().to_string();
        let at = field_path(e.path(), message.starts_with("unknown field"));
        let error = match message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            Some(name) => FieldError::new(name, "is required"),
            None if at.is_empty() => FieldError::new("query", rule_of(&message)),
            None => FieldError::new(at, rule_of(&message)),
        };
        ApiError::BadParameter(vec![error])
    })
}

/// A parameter's deserialisation error as the rule it breaks: a UUID's own message (which tells
/// where the text sent went wrong) is just the form.
fn rule_of(message: &str) -> String {
    if message.starts_with("UUID parsing failed") {
        "must be a UUID".to_owned()
    } else {
        redact(message)
    }
}

/// Fields by which a body used to name the officer who acts. The actor is the access token's
/// ([`crate::auth`]); a body that still names one is refused with 422, so that no record can
/// carry a name the token does not.
pub const ACTOR_FIELDS: &[&str] = &[
    "officer",
    "officer_name",
    "officer_id",
    "approved_by",
    "approver",
    "county_approver",
    "decided_by",
    "set_by",
    "confirmed_by",
    "proposed_by",
    "registered_by",
    "recorded_by",
    "reported_by",
    "verified_by",
    "disposed_by",
    "visitor",
    "settled_by",
];

/// `bytes` as a `T`, checked as [`JsonBody`] checks a body.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body is not valid JSON: {}",
            redact(&e.to_string())
        ))
    })?;
    let mut controls = Vec::new();
    control_characters(&value, "", &mut controls);
    if !controls.is_empty() {
        return Err(ApiError::Validation(controls));
    }
    let named: Vec<FieldError> = value
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .filter(|k| ACTOR_FIELDS.contains(&k.as_str()))
        .map(|k| {
            FieldError::new(
                k.as_str(),
                "must not be sent: the person who acts is the one the access token names",
            )
        })
        .collect();
    if !named.is_empty() {
        return Err(ApiError::Validation(named));
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let message = e.inner().to_string();
        // An unknown field's path ends with the unknown key, which the client wrote: it is left
        // out, and the field named is the object that does not take it.
        let at = field_path(e.path(), message.starts_with("unknown field"));
        // A missing field is named by the error, not by the path (which ends at its parent).
        let field = match message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            Some(name) if at.is_empty() => name.to_owned(),
            Some(name) => format!("{at}.{name}"),
            None if at.is_empty() => "body".to_owned(),
            None => at,
        };
        ApiError::Malformed(vec![FieldError::new(field, redact(&message))])
    })
}

/// The JSON path of a deserialisation error (`members[1].declared_assets_fen`), without its last
/// segment when `parent`; a key that is not a plain name (it comes from the client, not from the
/// schema) is shown as `?`.
fn field_path(path: &serde_path_to_error::Path, parent: bool) -> String {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let keep = if parent {
        segments.len().saturating_sub(1)
    } else {
        segments.len()
    };
    let mut out = String::new();
    for segment in segments.into_iter().take(keep) {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(if is_name(key) { key } else { "?" });
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

fn is_name(key: &str) -> bool {
    key.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Every text of `value` (and every key) that holds a control character other than a tab or a
/// line break, as a field error.
fn control_characters(value: &serde_json::Value, at: &str, out: &mut Vec<FieldError>) {
    const RULE: &str = "must not contain control characters (NUL and the like)";
    let bad = |s: &str| {
        s.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    };
    match value {
        serde_json::Value::String(s) if bad(s) => {
            out.push(FieldError::new(
                if at.is_empty() { "body" } else { at },
                RULE,
            ));
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                control_characters(item, &format!("{at}[{i}]"), out);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                let name = if is_name(key) { key.as_str() } else { "?" };
                let path = if at.is_empty() {
                    name.to_owned()
                } else {
                    format!("{at}.{name}")
                };
                if bad(key) {
                    out.push(FieldError::new(path.clone(), RULE));
                }
                control_characters(item, &path, out);
            }
        }
        serde_json::Value::String(_)
        | serde_json::Value::Null
        | serde_json::Value::Bool(_)
        | serde_json::Value::Number(_) => {}
    }
}

/// A rejection's message without the values it quotes: serde writes the value it could not
/// take in quotes or backticks (`invalid type: string "…", expected i64`, ``unknown field `…` ``,
/// ``found `…` ``). What the schema expects (after `expected`, a missing or duplicate field's
/// name) is ours and stays; what the client sent goes.
pub fn redact(message: &str) -> String {
    let (head, tail) = match message.find("expected") {
        Some(i) => message.split_at(i),
        None => (message, ""),
    };
    let keep_head = head.starts_with("missing field") || head.starts_with("duplicate field");
    let mut out = if keep_head {
        head.to_owned()
    } else {
        without_quoted(head, |_| false)
    };
    out.push_str(&without_quoted(tail, |before| {
        !before.trim_end().ends_with("found")
    }));
    // `invalid type: string , expected` → `invalid type: string, expected`.
    out.replace(" ,", ",").replace("  ", " ").trim().to_owned()
}

/// `text` with its quoted and backticked parts left out, except those `keep` (given the text
/// before the part) keeps.
fn without_quoted(text: &str, keep: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = rest[open..].chars().next().unwrap_or('"');
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let body = &after[1..];
        // The closing quote; `\"` inside a double-quoted value does not close it.
        let mut close = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' && quote == '"' {
                escaped = true;
            } else if c == quote {
                close = Some(i);
                break;
            }
        }
        let Some(close) = close else {
            // An unclosed quote: everything after it may be the value.
            return out;
        };
        if keep(&out) {
            out.push_str(&after[..close + 2]);
        }
        rest = &body[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A text field: 1 to `max` characters once trimmed, and no control characters (a name, an
/// officer, a relation: one line).
pub fn check_text(field: impl Into<String>, value: &str, max: usize) -> Option<FieldError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Some(FieldError::new(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Some(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    None
}

/// `/healthz`, `/readyz` and `/metrics`: open, with no token. (The dead-letter endpoints, which
/// every service has too, take one.)
pub fn base_routes() -> Router<Mesh> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn readyz(State(mesh): State<Mesh>) -> Response {
    let nats_ok = mesh.nats.connection_state() == async_nats::connection::State::Connected;
    let db_ok = sqlx::query("SELECT 1").execute(&mesh.db).await.is_ok();
    let stopping = mesh.stopping.is_cancelled();
    let ready = nats_ok && db_ok && !stopping;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "nats": if nats_ok { "ok" } else { "unreachable" },
        "database": if db_ok { "ok" } else { "unreachable" },
        "shutting_down": stopping,
    });
    (status, Json(body)).into_response()
}

async fn metrics(State(mesh): State<Mesh>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        mesh.metrics.render(),
    )
        .into_response()
}

/// A server span per request, child of an incoming `traceparent`, named by the route template;
/// request count and latency by route.
pub async fn track(State(mesh): State<Mesh>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let span = tracing::info_span!(
        "request",
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
        enduser.id = tracing::field::Empty,
    );
    telemetry::set_parent(&span, telemetry::extract_http(req.headers()));
    let started = Instant::now();
    let response = json_client_error(caught(next.run(req)).instrument(span.clone()).await).await;
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    if route != "/metrics" && route != "/healthz" && route != "/readyz" {
        mesh.metrics
            .http_requests
            .with_label_values(&[&route, &method, &status.to_string()])
            .inc();
        mesh.metrics
            .http_seconds
            .with_label_values(&[&route])
            .observe(started.elapsed().as_secs_f64());
    }
    response
}

/// The route's response; a panic in the handler becomes a 500 in the JSON error shape (the panic
/// in the log, not the body) instead of a connection closed without an answer.
async fn caught(route: impl std::future::Future<Output = Response>) -> Response {
    use futures::FutureExt as _;
    match std::panic::AssertUnwindSafe(route).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let what = crate::consumer::panic_message(panic.as_ref());
            ApiError::Internal(anyhow::anyhow!("the handler panicked: {what}")).into_response()
        }
    }
}

/// Rejections axum makes itself (a malformed path or query parameter, an unknown route, a wrong
/// method or content type) come as plain text or empty; clients get every 4xx in the one JSON
/// error shape instead.
async fn json_client_error(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !status.is_client_error() || is_json {
        return response;
    }
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "validation_failed",
        _ => "client_error",
    };
    // axum's rejection texts are short; anything longer is cut rather than buffered whole.
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    // Path and query rejections quote the value that did not parse: it is left out.
    let text = redact(String::from_utf8_lossy(&body).trim());
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("client error")
            .to_lowercase()
    } else {
        text
    };
    (
        status,
        Json(ErrorBody {
            error: ErrorDetail {
                code,
                message,
                fields: None,
            },
        }),
    )
        .into_response()
}

/// The error mapping and the JSON rejections, through a router with `oneshot`: no NATS, no
/// database, no port.
#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::post;
    use tower::ServiceExt as _;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Thing {
        name: String,
        #[serde(default)]
        count: i64,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        #[allow(dead_code, reason = "read by serde only")]
        amount_fen: u32,
    }

    async fn create(JsonBody(t): JsonBody<Thing>) -> Result<StatusCode, ApiError> {
        let _ = (t.count, t.items.len());
        if t.name.trim().is_empty() {
            return Err(ApiError::Validation(vec![FieldError::new(
                "name",
                "must not be empty",
            )]));
        }
        Ok(StatusCode::CREATED)
    }

    async fn broken() -> Result<StatusCode, ApiError> {
        Err(ApiError::Internal(anyhow::anyhow!(
            "connection to postgres://relief:s3cret@db failed"
        )))
    }

    fn app() -> Router {
        // Paths as constants: tests/tests/e2e/docs.rs holds every route path written as a literal
        // in the code to the OpenAPI document, and these two belong to this test only.
        const THINGS: &str = "/things";
        const BROKEN: &str = "/broken";
        Router::new()
            .route(THINGS, post(create))
            .route(BROKEN, get(broken))
            .layer(axum::extract::DefaultBodyLimit::max(1024))
    }

    async fn call(req: Request) -> (StatusCode, serde_json::Value) {
        let response = app().oneshot(req).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    fn post_json(body: &str) -> Request {
        Request::builder()
            .method("POST")
            .uri("/things")
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    }

    #[tokio::test]
    async fn bad_json_is_a_400_and_a_bad_field_a_422_naming_it() {
        let (status, body) = call(post_json("{not json")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "bad_request");

        let (status, body) = call(post_json(r#"{"name": " "}"#)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["fields"][0]["field"], "name");

        let (status, _) = call(post_json(r#"{"name": "a"}"#)).await;
        assert_eq!(status, StatusCode::CREATED);
    }

    /// The value sent never comes back: it may be an ID number or a name.
    const SECRET: &str = "410102198305120312";

    #[tokio::test]
    async fn a_body_of_the_wrong_shape_names_the_field_and_the_rule_never_the_value() {
        for (body, field, rule) in [
            (
                format!(r#"{{"name": "a", "count": "{SECRET}"}}"#),
                "count",
                "invalid type: string, expected i64",
            ),
            (
                format!(
                    r#"{{"name": "a", "items": [{{"amount_fen": 1}}, {{"amount_fen": -{SECRET}}}]}}"#
                ),
                "items[1].amount_fen",
                "invalid value: integer, expected u32",
            ),
            (
                format!(r#"{{"name": "a", "{SECRET}": 1}}"#),
                "body",
                "unknown field, expected one of `name`, `count`, `items`",
            ),
            (r#"{"count": 1}"#.to_owned(), "name", "missing field `name`"),
        ] {
            let (status, body) = call(post_json(&body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["error"]["code"], "bad_request");
            assert_eq!(body["error"]["fields"][0]["field"], field, "{body}");
            assert_eq!(body["error"]["fields"][0]["reason"], rule, "{body}");
            assert!(!body.to_string().contains(SECRET), "{body}");
        }
        let (status, body) = call(post_json(&format!(r#"{{"name": "{SECRET}"#))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(!body.to_string().contains(SECRET), "{body}");
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Listing {
        #[allow(dead_code, reason = "read by serde only")]
        limit: Option<u32>,
        #[allow(dead_code, reason = "read by serde only")]
        household_id: Option<uuid::Uuid>,
        #[allow(dead_code, reason = "read by serde only")]
        status: Option<Status>,
    }

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Status {
        Open,
        Closed,
    }

    async fn listing(Path(_): Path<uuid::Uuid>, Query(q): Query<Listing>) -> StatusCode {
        let _ = (
            q.limit,
            q.household_id,
            matches!(q.status, Some(Status::Open | Status::Closed)),
        );
        StatusCode::OK
    }

    async fn pair(Path((_, _)): Path<(uuid::Uuid, u64)>) -> StatusCode {
        StatusCode::OK
    }

    async fn get_from(app: Router, uri: &str) -> (StatusCode, serde_json::Value) {
        let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let response = app.oneshot(req).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn a_path_or_query_parameter_that_does_not_parse_is_named_with_its_rule_never_its_value()
    {
        const LISTING: &str = "/listings/{listing_id}";
        const PAIR: &str = "/pairs/{pair_id}/{sequence}";
        let app = Router::new()
            .route(LISTING, get(listing))
            .route(PAIR, get(pair));
        let id = uuid::Uuid::new_v4();
        for (uri, field, rule) in [
            (
                format!("/listings/{SECRET}"),
                "listing_id",
                "must be a UUID",
            ),
            (
                format!("/listings/{id}?limit=x{SECRET}"),
                "limit",
                "invalid digit found in string",
            ),
            (
                format!("/listings/{id}?household_id={SECRET}"),
                "household_id",
                "must be a UUID",
            ),
            (
                format!("/listings/{id}?status={SECRET}"),
                "status",
                "unknown variant, expected `open` or `closed`",
            ),
            (
                format!("/listings/{id}?{SECRET}=1"),
                "query",
                "unknown field, expected one of `limit`, `household_id`, `status`",
            ),
            (format!("/pairs/{SECRET}/1"), "pair_id", "must be a UUID"),
            (
                format!("/pairs/{id}/{SECRET}x"),
                "sequence",
                "must be a whole number, 0 or more",
            ),
        ] {
            let (status, body) = get_from(app.clone(), &uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert_eq!(body["error"]["code"], "bad_request", "{body}");
            assert_eq!(body["error"]["fields"][0]["field"], field, "{uri}: {body}");
            assert_eq!(body["error"]["fields"][0]["reason"], rule, "{uri}: {body}");
            assert!(!body.to_string().contains(SECRET), "{body}");
        }
        let (status, _) = get_from(app, &format!("/listings/{id}?limit=3&status=open")).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_control_character_is_a_422_naming_the_field_and_a_large_body_a_413() {
        let (status, body) = call(post_json(r#"{"name": "Li\u0000Na"}"#)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["fields"][0]["field"], "name");
        let (status, body) = call(post_json(r#"{"name": "two\nlines\tare text"}"#)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(2000));
        let (status, body) = call(post_json(&big)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["error"]["code"], "payload_too_large");

        let req = Request::builder()
            .method("POST")
            .uri("/things")
            .header("content-type", "text/plain")
            .body(Body::from(r#"{"name": "a"}"#))
            .unwrap();
        let (status, body) = call(req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }

    #[test]
    fn redact_keeps_the_rule_and_drops_the_value() {
        for (message, redacted) in [
            (
                r#"invalid type: string "Zhang \"Wei\"", expected i64 at line 1 column 9"#,
                "invalid type: string, expected i64 at line 1 column 9",
            ),
            (
                "invalid value: integer `-5`, expected u32",
                "invalid value: integer, expected u32",
            ),
            (
                "unknown variant `sometimes`, expected `full` or `partial`",
                "unknown variant, expected `full` or `partial`",
            ),
            (
                "Invalid URL: Cannot parse `not-a-uuid` to a `u64`",
                "Invalid URL: Cannot parse to a",
            ),
            (
                "UUID parsing failed: invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `z` at 1",
                "UUID parsing failed: invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found at 1",
            ),
            ("missing field `name`", "missing field `name`"),
            ("EOF while parsing a string at line 1 column 3", "EOF while parsing a string at line 1 column 3"),
            (r#"invalid type: string "unterminated"#, "invalid type: string"),
        ] {
            assert_eq!(redact(message), redacted, "{message}");
        }
    }

    #[test]
    fn a_text_is_one_line_of_bounded_length() {
        assert!(check_text("name", " Li Na ", 64).is_none());
        assert!(check_text("name", "  ", 64).is_some());
        assert!(check_text("name", &"x".repeat(65), 64).is_some());
        assert_eq!(
            check_text("name", "Li\u{0}Na", 64).map(|e| e.field),
            Some("name".to_owned())
        );
        assert!(check_text("name", "Li\nNa", 64).is_some());
    }

    #[tokio::test]
    async fn a_handler_that_panics_answers_500_in_the_error_shape() {
        async fn panics() -> StatusCode {
            let months: u32 = "11164818".parse().unwrap_or(0);
            let _ = months.checked_mul(1_000_000).expect("too many months");
            StatusCode::OK
        }
        const PANICS: &str = "/panics";
        let app = Router::new()
            .route(PANICS, get(panics))
            .layer(axum::middleware::from_fn(|req: Request, next: Next| {
                caught(next.run(req))
            }));
        let req = Request::builder()
            .uri("/panics")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("too many months"), "{body}");
    }

    #[tokio::test]
    async fn an_internal_error_is_a_500_that_does_not_tell_its_cause() {
        let req = Request::builder()
            .uri("/broken")
            .body(Body::empty())
            .unwrap();
        let (status, body) = call(req).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("s3cret"), "{body}");
    }
}
