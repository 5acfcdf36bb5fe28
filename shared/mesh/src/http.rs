//! HTTP basics of every service: health, readiness, metrics, JSON errors, request spans.

use crate::service::Mesh;
use crate::telemetry;
use axum::extract::{FromRequest, MatchedPath, Request, State};
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
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
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
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
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
            | ApiError::Validation(_)
            | ApiError::NotFound(_)
            | ApiError::Conflict(_)
            | ApiError::Duplicate(_)
            | ApiError::Unavailable(_)) => other.to_string(),
        };
        let fields = match &self {
            ApiError::Validation(f) | ApiError::Duplicate(f) => Some(f.as_slice()),
            ApiError::BadRequest(_)
            | ApiError::NotFound(_)
            | ApiError::Conflict(_)
            | ApiError::Unavailable(_)
            | ApiError::Internal(_) => None,
        };
        (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code,
                    message,
                    fields,
                },
            }),
        )
            .into_response()
    }
}

/// `axum::Json` whose rejections (malformed JSON, wrong content type, wrong shape) become a 400
/// with the reason, in the same JSON error shape as everything else.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// `/healthz`, `/readyz`, `/metrics` and the dead-letter endpoints.
pub fn base_routes() -> Router<Mesh> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(crate::deadletter::routes())
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
    let text = String::from_utf8_lossy(&body).trim().to_owned();
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
    struct Thing {
        name: String,
    }

    async fn create(JsonBody(t): JsonBody<Thing>) -> Result<StatusCode, ApiError> {
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
