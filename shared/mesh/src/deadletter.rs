//! The dead-letter stream: messages a consumer gave up on, with the reason, visible and
//! replayable by an operator over HTTP.
//!
//! Each service parks its dead letters on `deadletter.<service>`; the original payload is the
//! body and the headers say where it came from and why it stopped.

use crate::consumer::Delivery;
use crate::http::ApiError;
use crate::service::Mesh;
use anyhow::Context as _;
use async_nats::jetstream::stream::DirectGetErrorKind;
use async_nats::HeaderMap;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// The dead-letter subject of a service: `deadletter.<service>` (the catalogue lists it).
pub const SUBJECT: &str = "deadletter.{service}";

pub const H_ORIGINAL_SUBJECT: &str = "Relief-Original-Subject";
pub const H_ORIGINAL_MSG_ID: &str = "Relief-Original-Msg-Id";
pub const H_REASON: &str = "Relief-Reason";
pub const H_CONSUMER: &str = "Relief-Consumer";
pub const H_DELIVERIES: &str = "Relief-Deliveries";

pub fn subject(mesh: &Mesh) -> String {
    mesh.subjects.fill(SUBJECT, &mesh.settings.service)
}

/// Header values are single lines of bounded length.
fn header_value(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1000)
        .collect()
}

pub async fn publish(mesh: &Mesh, delivery: &Delivery, reason: &str) -> anyhow::Result<()> {
    let mut headers = HeaderMap::new();
    // One dead letter per (consumer, stream message), however often this is retried.
    headers.insert(
        "Nats-Msg-Id",
        format!("dl-{}-{}", delivery.consumer, delivery.stream_sequence).as_str(),
    );
    headers.insert(H_ORIGINAL_SUBJECT, delivery.subject.as_str());
    if let Some(id) = delivery.header("Nats-Msg-Id") {
        headers.insert(H_ORIGINAL_MSG_ID, header_value(id).as_str());
    }
    headers.insert(H_REASON, header_value(reason).as_str());
    headers.insert(H_CONSUMER, delivery.consumer.as_str());
    headers.insert(H_DELIVERIES, delivery.delivered.to_string().as_str());
    for key in ["traceparent", "tracestate"] {
        if let Some(v) = delivery.header(key) {
            headers.insert(key, v);
        }
    }
    mesh.js
        .publish_with_headers(subject(mesh), headers, delivery.payload.clone())
        .await
        .context("dead-letter publish failed")?
        .await
        .context("dead-letter publish was not acknowledged")?;
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DeadLetter {
    pub sequence: u64,
    pub original_subject: String,
    pub original_msg_id: Option<String>,
    pub consumer: String,
    pub reason: String,
    pub deliveries: i64,
    /// RFC 3339, UTC.
    pub dead_lettered_at: String,
    /// The original payload, as text when it is UTF-8.
    pub payload: String,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    100
}

pub fn routes() -> Router<Mesh> {
    Router::new()
        .route("/v1/dead-letters", get(list))
        .route("/v1/dead-letters/{sequence}/replay", post(replay))
}

async fn list(
    State(mesh): State<Mesh>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    let stream = mesh
        .js
        .get_stream(crate::Stream::DeadLetter.name(&mesh.subjects))
        .await
        .context("dead-letter stream is unavailable")?;
    let subject = subject(&mesh);
    let mut out = Vec::new();
    let mut next = 1;
    while out.len() < q.limit.min(1000) {
        match stream
            .direct_get_next_for_subject(subject.clone(), Some(next))
            .await
        {
            Ok(m) => {
                next = m.sequence + 1;
                out.push(to_dead_letter(&m));
            }
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => break,
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context("dead letters could not be read")
                    .into())
            }
        }
    }
    Ok(Json(out))
}

fn to_dead_letter(m: &async_nats::jetstream::message::StreamMessage) -> DeadLetter {
    let h = |k: &str| m.headers.get(k).map(|v| v.as_str().to_owned());
    DeadLetter {
        sequence: m.sequence,
        original_subject: h(H_ORIGINAL_SUBJECT).unwrap_or_default(),
        original_msg_id: h(H_ORIGINAL_MSG_ID),
        consumer: h(H_CONSUMER).unwrap_or_default(),
        reason: h(H_REASON).unwrap_or_default(),
        deliveries: h(H_DELIVERIES).and_then(|d| d.parse().ok()).unwrap_or(0),
        dead_lettered_at: chrono::DateTime::<chrono::Utc>::from_timestamp(
            m.time.unix_timestamp(),
            m.time.nanosecond(),
        )
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default(),
        payload: String::from_utf8_lossy(&m.payload).into_owned(),
    }
}

#[derive(Debug, Serialize)]
pub struct Replayed {
    pub sequence: u64,
    pub replayed_to: String,
}

/// Publishes the dead letter's payload to its original subject again and removes it from the
/// dead-letter stream. The consumer's inbox still protects against applying it twice.
async fn replay(
    State(mesh): State<Mesh>,
    Path(sequence): Path<u64>,
) -> Result<(axum::http::StatusCode, Json<Replayed>), ApiError> {
    let stream = mesh
        .js
        .get_stream(crate::Stream::DeadLetter.name(&mesh.subjects))
        .await
        .context("dead-letter stream is unavailable")?;
    let m = match stream.direct_get(sequence).await {
        Ok(m) => m,
        Err(e) if e.kind() == DirectGetErrorKind::NotFound => {
            return Err(ApiError::NotFound(format!(
                "no dead letter with sequence {sequence}"
            )))
        }
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context("dead letter could not be read")
                .into())
        }
    };
    if m.subject.as_str() != subject(&mesh) {
        return Err(ApiError::NotFound(format!(
            "no dead letter of this service with sequence {sequence}"
        )));
    }
    let dl = to_dead_letter(&m);
    let mut headers = HeaderMap::new();
    let original_id = dl
        .original_msg_id
        .clone()
        .unwrap_or_else(|| format!("seq-{sequence}"));
    headers.insert(
        "Nats-Msg-Id",
        format!("{original_id}-replay-{sequence}").as_str(),
    );
    for key in ["traceparent", "tracestate"] {
        if let Some(v) = m.headers.get(key) {
            headers.insert(key, v.as_str());
        }
    }
    mesh.js
        .publish_with_headers(dl.original_subject.clone(), headers, m.payload.clone())
        .await
        .context("replay publish failed")?
        .await
        .context("replay publish was not acknowledged")?;
    stream
        .delete_message(sequence)
        .await
        .context("replayed dead letter could not be removed")?;
    tracing::info!(sequence, subject = %dl.original_subject, "Dead letter replayed.");
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(Replayed {
            sequence,
            replayed_to: dl.original_subject,
        }),
    ))
}
