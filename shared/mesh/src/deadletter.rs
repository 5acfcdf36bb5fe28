//! The dead-letter stream: messages a consumer gave up on, with the reason, visible and
//! replayable by an operator over HTTP.
//!
//! Each service parks its dead letters on `deadletter.<service>`; the original payload is the
//! body and the headers say where it came from and why it stopped.

use crate::auth::{allow, Acting, Role};
use crate::consumer::{Delivery, HandlerError, Outcome};
use crate::http::ApiError;
use crate::http::{Path, Query};
use crate::service::Mesh;
use anyhow::Context as _;
use async_nats::jetstream::consumer::{push, AckPolicy, DeliverPolicy, ReplayPolicy};
use async_nats::HeaderMap;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tracing::Instrument as _;

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
    /// Payloads as they are (needs the right `unmask`; audited).
    #[serde(default)]
    pub unmask: bool,
}

fn default_limit() -> usize {
    100
}

pub fn routes() -> Router<Mesh> {
    Router::new()
        .route(
            "/v1/dead-letters",
            get(list).layer(allow(&[Role::PlatformOperator, Role::Auditor])),
        )
        .route(
            "/v1/dead-letters/{sequence}/replay",
            post(replay).layer(allow(&[Role::PlatformOperator])),
        )
}

/// The dead letters, for the platform's operators (and auditors). Payloads are masked
/// (`vault::mask::payload`, log style): each personal field by its own rule (`41**************12`,
/// `****1234`), every other text but ids, codes and times `***`. With `unmask=true` and the
/// token's right `unmask` the payloads come as they are, and that read is in the audit trail.
async fn list(
    State(mesh): State<Mesh>,
    acting: Acting,
    headers: axum::http::HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    if q.unmask && !acting.caller.has_right(crate::auth::RIGHT_UNMASK) {
        return Err(ApiError::Forbidden(
            "unmask=true needs the right unmask in the token".into(),
        ));
    }
    let letters = read(&mesh, 1, q.limit.min(1000)).await?;
    let mut out: Vec<DeadLetter> = letters.iter().map(to_dead_letter).collect();
    if q.unmask {
        let sequences: Vec<u64> = out.iter().map(|d| d.sequence).collect();
        crate::audit::record(
            &mesh,
            &acting.actor(),
            crate::audit::Entry::new("dead_letters.read_unmasked", "dead_letter", subject(&mesh))
                .purpose_from(&headers)
                .detail(serde_json::json!({ "sequences": sequences })),
        )
        .await?;
    } else {
        for dl in &mut out {
            dl.payload = vault::mask::payload(&dl.payload, vault::mask::Style::Log);
        }
    }
    Ok(Json(out))
}

/// A dead letter as the dead-letter stream keeps it.
struct Stored {
    sequence: u64,
    headers: HeaderMap,
    payload: Bytes,
    at: Option<chrono::DateTime<chrono::Utc>>,
}

/// How long reading one's dead letters waits for the next of them before it answers with those
/// it has (one deleted while it was read is never delivered).
const READ_PATIENCE: Duration = Duration::from_secs(5);

/// Up to `limit` of this service's dead letters, in order, from stream sequence `from` on.
///
/// Read through an ephemeral consumer filtered to the service's own dead-letter subject, which
/// delivers to the service's own inbox: the server holds the filter of a consumer to the
/// subject of the request that creates it, and the service's NATS user may create consumers on
/// the dead-letter stream only under its own subject (`deploy/nats/auth.conf`). So a service reads
/// its own dead letters and no other's; a direct get (or `STREAM.MSG.GET`) would read any message
/// of the stream by its sequence, and is no service's right. The consumer goes by itself a few
/// seconds after the read (no interest left).
async fn read(mesh: &Mesh, from: u64, limit: usize) -> anyhow::Result<Vec<Stored>> {
    use futures::StreamExt as _;
    if limit == 0 {
        return Ok(Vec::new());
    }
    let stream = mesh
        .js
        .get_stream(crate::Stream::DeadLetter.name(&mesh.subjects))
        .await
        .context("dead-letter stream is unavailable")?;
    let inbox = mesh.nats.new_inbox();
    let mut delivered = mesh
        .nats
        .subscribe(inbox.clone())
        .await
        .context("dead letters could not be read")?;
    let consumer = stream
        .create_consumer(push::Config {
            name: Some(format!(
                "{}-dead-letters-{}",
                mesh.settings.service,
                uuid::Uuid::new_v4().simple()
            )),
            deliver_subject: inbox,
            filter_subject: subject(mesh),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: from.max(1),
            },
            ack_policy: AckPolicy::None,
            replay_policy: ReplayPolicy::Instant,
            inactive_threshold: Duration::from_secs(5),
            ..Default::default()
        })
        .await
        .context("dead letters could not be read")?;
    let info = consumer.cached_info();
    let mut out = Vec::new();
    if info.num_pending == 0 && info.delivered.consumer_sequence == 0 {
        return Ok(out);
    }
    while out.len() < limit {
        let Ok(Some(m)) = tokio::time::timeout(READ_PATIENCE, delivered.next()).await else {
            break;
        };
        let m = async_nats::jetstream::Message {
            message: m,
            context: mesh.js.clone(),
        };
        // Where it stands in the stream, when it was stored, how many of ours follow it.
        let Ok(meta) = m.info() else {
            continue;
        };
        let (sequence, pending) = (meta.stream_sequence, meta.pending);
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp(
            meta.published.unix_timestamp(),
            meta.published.nanosecond(),
        );
        out.push(Stored {
            sequence,
            at,
            headers: m.headers.clone().unwrap_or_default(),
            payload: m.payload.clone(),
        });
        if pending == 0 {
            break;
        }
    }
    let _ = delivered.unsubscribe().await;
    Ok(out)
}

fn to_dead_letter(m: &Stored) -> DeadLetter {
    let h = |k: &str| m.headers.get(k).map(|v| v.as_str().to_owned());
    DeadLetter {
        sequence: m.sequence,
        original_subject: h(H_ORIGINAL_SUBJECT).unwrap_or_default(),
        original_msg_id: h(H_ORIGINAL_MSG_ID),
        consumer: h(H_CONSUMER).unwrap_or_default(),
        reason: h(H_REASON).unwrap_or_default(),
        deliveries: h(H_DELIVERIES).and_then(|d| d.parse().ok()).unwrap_or(0),
        dead_lettered_at: m
            .at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default(),
        payload: String::from_utf8_lossy(&m.payload).into_owned(),
    }
}

#[derive(Debug, Serialize)]
pub struct Replayed {
    pub sequence: u64,
    /// The consumer that handled it again: the one that gave up on it.
    pub consumer: String,
    /// `applied`, or `duplicate` when the consumer had applied it meanwhile.
    pub outcome: &'static str,
}

/// Hands the dead letter back to the consumer that gave up on it (its handler, in this process,
/// with the original subject, payload, `Nats-Msg-Id` and trace context) and removes it from the
/// dead-letter stream once the handler has committed. Nothing is published: no other consumer of
/// the subject sees it again, and no service needs the right to publish another's subject. When
/// the handler refuses it again, the dead letter stays where it is and the answer says why.
async fn replay(
    State(mesh): State<Mesh>,
    acting: Acting,
    Path(sequence): Path<u64>,
) -> Result<Json<Replayed>, ApiError> {
    let missing = || ApiError::NotFound("no dead letter of this service with this sequence".into());
    if sequence == 0 {
        return Err(missing());
    }
    // The first of its dead letters from `sequence` on: this one, unless it is another
    // service's, or gone.
    let Some(m) = read(&mesh, sequence, 1)
        .await?
        .into_iter()
        .find(|m| m.sequence == sequence)
    else {
        return Err(missing());
    };
    let dl = to_dead_letter(&m);
    let Some(handler) = mesh.handler(&dl.consumer) else {
        return Err(ApiError::Conflict(format!(
            "consumer {} is not one of this service's consumers any more; the dead letter stays",
            dl.consumer
        )));
    };
    let mut headers = HeaderMap::new();
    if let Some(id) = &dl.original_msg_id {
        headers.insert("Nats-Msg-Id", id.as_str());
    }
    for key in ["traceparent", "tracestate"] {
        if let Some(v) = m.headers.get(key) {
            headers.insert(key, v.as_str());
        }
    }
    let delivery = Delivery {
        subject: dl.original_subject.clone(),
        payload: m.payload.clone(),
        headers: Some(headers),
        delivered: 1,
        stream_sequence: sequence,
        consumer: dl.consumer.clone(),
    };
    let span = tracing::info_span!("replay", otel.name = format!("replay {}", dl.original_subject), consumer = %dl.consumer, sequence);
    crate::telemetry::set_parent(
        &span,
        crate::telemetry::extract_nats(delivery.headers.as_ref()),
    );
    let outcome = crate::consumer::run_handler(&handler, delivery)
        .instrument(span)
        .await;
    let outcome = match outcome {
        Ok(Outcome::Applied) => "applied",
        Ok(Outcome::Duplicate) => "duplicate",
        Err(HandlerError::Poison(reason)) => {
            return Err(ApiError::Conflict(format!(
                "the consumer refused it again, and the dead letter stays: {reason}"
            )))
        }
        Err(HandlerError::Transient(error)) => {
            return Err(ApiError::Unavailable(format!(
                "the consumer could not handle it now, and the dead letter stays: {error:#}"
            )))
        }
    };
    mesh.js
        .get_stream(crate::Stream::DeadLetter.name(&mesh.subjects))
        .await
        .context("dead-letter stream is unavailable")?
        .delete_message(sequence)
        .await
        .context("replayed dead letter could not be removed")?;
    tracing::info!(sequence, consumer = %dl.consumer, outcome, "Dead letter replayed.");
    crate::audit::record(
        &mesh,
        &acting.actor(),
        crate::audit::Entry::new("dead_letter.replay", "dead_letter", sequence)
            .detail(serde_json::json!({ "consumer": dl.consumer, "outcome": outcome })),
    )
    .await?;
    Ok(Json(Replayed {
        sequence,
        consumer: dl.consumer,
        outcome,
    }))
}
