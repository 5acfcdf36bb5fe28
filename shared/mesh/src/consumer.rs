//! The consumer loop every handler runs in.
//!
//! For each message: extract the trace context from the headers and open a consumer span;
//! call the handler; acknowledge only after it returns (its transaction is committed by then).
//! A transient failure is `Nak`ed with the configured backoff until `max_deliver`, then
//! dead-lettered; a poison message (it can never succeed) is dead-lettered at once. A handler
//! that panics fails transiently (the panic is caught and named); a message whose handler never
//! settled it on any delivery is dead-lettered on the one extra delivery JetStream makes. Either
//! way the message is then terminated and the consumer goes on with the next one.
//!
//! A batched consumer ([`run_batched`], [`BatchHandler`]) hands up to `nats.batch_max` messages
//! to its handler at once, which commits them in one transaction (group commit); each is then
//! settled as above by its own result. A batch that fails as a whole is handled again message by
//! message, so a poison message is found and parked alone.

use crate::envelope::{Envelope, EventKind};
use crate::service::Mesh;
use crate::{deadletter, streams, telemetry};
use anyhow::Context as _;
use async_nats::jetstream::{consumer::PullConsumer, AckKind};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::StreamExt;
use sqlx::{PgPool, Postgres, Transaction};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// One delivered message, as a handler sees it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The full subject, with prefix.
    pub subject: String,
    pub payload: Bytes,
    pub headers: Option<HeaderMap>,
    /// 1 on first delivery.
    pub delivered: i64,
    pub stream_sequence: u64,
    /// The durable consumer's name; also the inbox key.
    pub consumer: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// May succeed later (database or NATS unavailable): redeliver with backoff.
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
    /// Can never succeed (malformed, wrong type, fails validation): dead-letter now.
    #[error("poison: {0}")]
    Poison(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        HandlerError::Transient(e.into())
    }
}

impl From<anyhow::Error> for HandlerError {
    fn from(e: anyhow::Error) -> Self {
        HandlerError::Transient(e)
    }
}

/// What a handler did with a message it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Already handled (same event id): nothing changed.
    Duplicate,
}

impl Delivery {
    /// Parses and checks the envelope; anything wrong with it is poison.
    pub fn envelope<T: EventKind>(&self) -> Result<Envelope<T>, HandlerError> {
        let e: Envelope<T> = serde_json::from_slice(&self.payload).map_err(|e| {
            // The reason names the field and the rule, never the value (it may be an ID number).
            let why = crate::http::redact(&e.to_string());
            HandlerError::Poison(format!(
                "payload is not a valid {} envelope: {why}",
                T::TYPE
            ))
        })?;
        e.check(T::TYPE).map_err(HandlerError::Poison)?;
        Ok(e)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.as_ref()?.get(name).map(|v| v.as_str())
    }

    /// Begins the handler's transaction and claims the inbox row for `message_id` (the envelope
    /// id). `None` means the message was handled before: the caller returns
    /// [`Outcome::Duplicate`].
    pub async fn begin_once(
        &self,
        pool: &PgPool,
        message_id: &str,
    ) -> Result<Option<Transaction<'static, Postgres>>, HandlerError> {
        let mut tx = pool.begin().await?;
        if crate::outbox::claim(&mut tx, &self.consumer, message_id, &self.subject).await? {
            Ok(Some(tx))
        } else {
            Ok(None)
        }
    }
}

impl Delivery {
    /// Claims the inbox row for `message_id` in the caller's transaction: for a batch handler,
    /// whose one transaction holds the claims of every message of the batch. `false` means the
    /// message was handled before ([`Outcome::Duplicate`]).
    pub async fn claim_in(
        &self,
        conn: &mut sqlx::PgConnection,
        message_id: &str,
    ) -> sqlx::Result<bool> {
        crate::outbox::claim(conn, &self.consumer, message_id, &self.subject).await
    }
}

/// Just the envelope's household, for the span.
#[derive(serde::Deserialize)]
struct HouseholdOf {
    household_id: Option<uuid::Uuid>,
}

pub type Handler =
    Arc<dyn Fn(Delivery) -> BoxFuture<'static, Result<Outcome, HandlerError>> + Send + Sync>;

/// What a batch handler answers: one result per delivery, in order, once the batch's
/// transaction has committed; or an error for the whole batch (its transaction did not commit).
pub type BatchResult = Result<Vec<Result<Outcome, HandlerError>>, HandlerError>;

/// A handler of up to `nats.batch_max` messages at once, in one transaction of its making
/// (group commit): every message's inbox row, state change and outbox rows commit together, and
/// only then is any of them acknowledged. When the batch fails as a whole (or panics, or
/// answers for fewer messages than it was given), the consumer hands each message to it again
/// alone, so one poison message never holds back the others.
pub type BatchHandler = Arc<dyn Fn(Vec<Delivery>) -> BoxFuture<'static, BatchResult> + Send + Sync>;

/// A batch handler as a handler of one message: for replaying a dead letter, and for a batch
/// that is split.
pub fn single(batch: BatchHandler) -> Handler {
    Arc::new(move |d: Delivery| {
        let batch = batch.clone();
        Box::pin(async move {
            let mut results = batch(vec![d]).await?;
            results.pop().unwrap_or_else(|| {
                Err(HandlerError::Transient(anyhow::anyhow!(
                    "the batch handler answered for no message"
                )))
            })
        })
    })
}

/// A durable consumer: its name, the stream it reads, its one filter subject (full, prefixed).
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    pub name: String,
    pub stream: streams::Stream,
    pub filter: String,
}

/// Creates (or updates) the durable consumer.
pub async fn create(mesh: &Mesh, spec: &ConsumerSpec) -> anyhow::Result<PullConsumer> {
    let stream = mesh
        .js
        .get_stream(spec.stream.name(&mesh.subjects))
        .await
        .with_context(|| format!("stream {} is missing", spec.stream.name(&mesh.subjects)))?;
    stream
        .create_consumer(streams::durable(
            &spec.name,
            spec.filter.clone(),
            &mesh.settings.nats,
        ))
        .await
        .with_context(|| format!("consumer {} could not be created", spec.name))
}

/// Runs the consumer until `stop`: up to `nats.concurrency` messages are handled at once; on
/// stop no new message is taken and those in hand are finished (committed and acked) first.
/// Dropping the future (a crash) aborts them; JetStream redelivers after `ack_wait`.
pub async fn run(
    mesh: Mesh,
    spec: ConsumerSpec,
    consumer: PullConsumer,
    handler: Handler,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let take = Take {
        max: 1,
        wait: std::time::Duration::ZERO,
    };
    take_messages(mesh, spec, consumer, stop, take, move |mesh, spec, msgs| {
        let handler = handler.clone();
        async move {
            for msg in msgs {
                handle_one(&mesh, &spec, &handler, msg).await;
            }
        }
    })
    .await
}

/// How many messages a consumer takes at once, and how long it waits for more after the first.
#[derive(Debug, Clone, Copy)]
struct Take {
    max: usize,
    wait: std::time::Duration,
}

/// The loop of every consumer: takes the next message, then up to `take.max` in all within
/// `take.wait`, and hands them to `handle` on a task of their own, with up to
/// `nats.concurrency` such tasks at once. On stop nothing more is taken and the tasks in hand
/// finish first. A stream error is logged and the loop goes on; a stream that ended reopens.
async fn take_messages<F, Fut>(
    mesh: Mesh,
    spec: ConsumerSpec,
    consumer: PullConsumer,
    stop: CancellationToken,
    take: Take,
    handle: F,
) -> anyhow::Result<()>
where
    F: Fn(Mesh, ConsumerSpec, Vec<async_nats::jetstream::Message>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut messages = consumer
        .messages()
        .await
        .context("consumer stream could not start")?;
    let permits = Arc::new(tokio::sync::Semaphore::new(
        mesh.settings.nats.concurrency.max(1),
    ));
    let mut in_hand = tokio::task::JoinSet::new();
    loop {
        while in_hand.try_join_next().is_some() {}
        let permit = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            p = permits.clone().acquire_owned() => p.context("consumer permits closed")?,
        };
        let first = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            m = messages.next() => m,
        };
        let first = match first {
            Some(Ok(msg)) => msg,
            Some(Err(error)) => {
                tracing::warn!(consumer = %spec.name, %error, "Consumer stream reported an error; continuing.");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                continue;
            }
            None => {
                tracing::warn!(consumer = %spec.name, "Consumer stream ended; reopening.");
                messages = consumer
                    .messages()
                    .await
                    .context("consumer stream could not restart")?;
                continue;
            }
        };
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + take.wait;
        while batch.len() < take.max {
            match tokio::time::timeout_at(until, messages.next()).await {
                Ok(Some(Ok(msg))) => batch.push(msg),
                // The wait is over, the stream paused or ended: the batch goes as it is, and
                // the loop's next `messages.next()` sees the rest.
                _ => break,
            }
        }
        let work = handle(mesh.clone(), spec.clone(), batch);
        in_hand.spawn(async move {
            work.await;
            drop(permit);
        });
    }
    while in_hand.join_next().await.is_some() {}
    tracing::info!(consumer = %spec.name, "Consumer stopped.");
    Ok(())
}

/// The delivery of `msg` to the consumer of `spec`, and its span (parented on the message's
/// trace context, naming its household).
fn delivery_of(
    spec: &ConsumerSpec,
    msg: &async_nats::jetstream::Message,
) -> (Delivery, tracing::Span) {
    let (delivered, stream_sequence) = match msg.info() {
        Ok(i) => (i.delivered, i.stream_sequence),
        Err(_) => (1, 0),
    };
    let delivery = Delivery {
        subject: msg.subject.to_string(),
        payload: msg.payload.clone(),
        headers: msg.headers.clone(),
        delivered,
        stream_sequence,
        consumer: spec.name.clone(),
    };
    let msg_id = delivery
        .header("Nats-Msg-Id")
        .unwrap_or_default()
        .to_owned();
    let span = tracing::info_span!(
        "process",
        otel.name = format!("process {}", delivery.subject),
        otel.kind = "consumer",
        messaging.system = "nats",
        messaging.operation.type = "process",
        messaging.destination.name = %delivery.subject,
        messaging.consumer.group.name = %spec.name,
        messaging.message.id = %msg_id,
        messaging.message.delivery_count = delivered,
        household_id = tracing::field::Empty,
    );
    telemetry::set_parent(&span, telemetry::extract_nats(msg.headers.as_ref()));
    // Every consume span names its household (an id, never personal data), whatever the handler.
    if let Ok(HouseholdOf {
        household_id: Some(h),
    }) = serde_json::from_slice::<HouseholdOf>(&msg.payload)
    {
        span.record("household_id", tracing::field::display(h));
    }
    (delivery, span)
}

/// JetStream delivers once more than the handler is given (`streams::durable`): a message whose
/// handler never settled it (the process died, or it outran `ack_wait`, on every delivery) is
/// parked instead of being dropped by the server unseen.
fn never_settled(mesh: &Mesh, d: &Delivery) -> Option<HandlerError> {
    (d.delivered > mesh.settings.nats.max_deliver).then(|| {
        HandlerError::Poison(format!(
            "delivered {} times and never settled: the handler crashed or ran past ack_wait on each delivery",
            d.delivered
        ))
    })
}

async fn handle_one(
    mesh: &Mesh,
    spec: &ConsumerSpec,
    handler: &Handler,
    msg: async_nats::jetstream::Message,
) {
    let (delivery, span) = delivery_of(spec, &msg);
    let started = Instant::now();
    let result = match never_settled(mesh, &delivery) {
        Some(e) => Err(e),
        None => {
            run_handler(handler, delivery.clone())
                .instrument(span.clone())
                .await
        }
    };
    mesh.metrics
        .handler_seconds
        .with_label_values(&[&spec.name])
        .observe(started.elapsed().as_secs_f64());
    settle(mesh, spec, &delivery, &msg, result, span).await;
}

/// Acknowledges, redelivers or dead-letters `msg` as its handler's `result` says, in the
/// message's span, and counts it.
async fn settle(
    mesh: &Mesh,
    spec: &ConsumerSpec,
    delivery: &Delivery,
    msg: &async_nats::jetstream::Message,
    result: Result<Outcome, HandlerError>,
    span: tracing::Span,
) {
    let delivered = delivery.delivered;
    let max = mesh.settings.nats.max_deliver;
    let settle = async {
        match result {
            Ok(Outcome::Applied) => ack(msg, AckKind::Ack, "ack").await,
            Ok(Outcome::Duplicate) => {
                tracing::info!(consumer = %spec.name, "Message was handled before; acknowledged without change.");
                ack(msg, AckKind::Ack, "duplicate").await
            }
            Err(HandlerError::Transient(error)) if delivered < max => {
                let delay = mesh.settings.nats.backoff_for(delivered);
                tracing::warn!(consumer = %spec.name, delivered, delay_ms = delay.as_millis() as u64, error = format!("{error:#}"), "Handler failed; the message will be redelivered.");
                ack(msg, AckKind::Nak(Some(delay)), "nak").await
            }
            Err(HandlerError::Transient(error)) => {
                let reason = format!("gave up after {delivered} deliveries: {error:#}");
                dead_letter(mesh, delivery, msg, &reason).await
            }
            Err(HandlerError::Poison(reason)) => dead_letter(mesh, delivery, msg, &reason).await,
        }
    };
    // Acks and dead letters belong to the message's span; `instrument`, not `enter`, so the
    // span is not left entered on a thread while the task is parked.
    let outcome = settle.instrument(span).await;
    mesh.metrics
        .messages
        .with_label_values(&[&spec.name, outcome])
        .inc();
}

/// Runs a batched consumer until `stop`, as [`run`] does one message at a time: it takes the
/// first message, then up to `nats.batch_max` in all within `nats.batch_wait_ms`, and hands
/// them to `handler` together; up to `nats.concurrency` batches are in hand at once. Nothing is
/// acknowledged before the batch's handler has returned (its transaction committed).
pub async fn run_batched(
    mesh: Mesh,
    spec: ConsumerSpec,
    consumer: PullConsumer,
    handler: BatchHandler,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let take = Take {
        max: mesh.settings.nats.batch_max.max(1),
        wait: std::time::Duration::from_millis(mesh.settings.nats.batch_wait_ms),
    };
    take_messages(mesh, spec, consumer, stop, take, move |mesh, spec, msgs| {
        let handler = handler.clone();
        async move { handle_batch(&mesh, &spec, &handler, msgs).await }
    })
    .await
}

async fn handle_batch(
    mesh: &Mesh,
    spec: &ConsumerSpec,
    handler: &BatchHandler,
    msgs: Vec<async_nats::jetstream::Message>,
) {
    let mut parked = Vec::new();
    let mut taken = Vec::new();
    for msg in msgs {
        let (delivery, span) = delivery_of(spec, &msg);
        match never_settled(mesh, &delivery) {
            Some(e) => parked.push((delivery, msg, span, e)),
            None => taken.push((delivery, msg, span)),
        }
    }
    for (delivery, msg, span, e) in parked {
        settle(mesh, spec, &delivery, &msg, Err(e), span).await;
    }
    if taken.is_empty() {
        return;
    }
    let started = Instant::now();
    let deliveries: Vec<Delivery> = taken.iter().map(|(d, _, _)| d.clone()).collect();
    let n = deliveries.len();
    let span = tracing::info_span!("process batch", consumer = %spec.name, messages = n);
    let answered = run_batch(handler, deliveries).instrument(span).await;
    let results = match answered {
        Ok(results) if results.len() == n => results,
        failed => {
            let why = match failed {
                Ok(results) => format!("answered for {} of {n} messages", results.len()),
                Err(e) => e.to_string(),
            };
            if n > 1 {
                tracing::warn!(consumer = %spec.name, messages = n, error = %why, "A batch failed; its messages are handled one by one.");
            }
            let mut alone = Vec::with_capacity(n);
            for (d, _, span) in &taken {
                let r = match run_batch(handler, vec![d.clone()])
                    .instrument(span.clone())
                    .await
                {
                    Ok(mut v) if v.len() == 1 => v.pop().unwrap_or_else(|| {
                        Err(HandlerError::Transient(anyhow::anyhow!("no answer")))
                    }),
                    Ok(_) => Err(HandlerError::Transient(anyhow::anyhow!(
                        "the batch handler did not answer for the message"
                    ))),
                    Err(e) => Err(e),
                };
                alone.push(r);
            }
            alone
        }
    };
    mesh.metrics
        .handler_seconds
        .with_label_values(&[&spec.name])
        .observe(started.elapsed().as_secs_f64());
    for ((delivery, msg, span), result) in taken.into_iter().zip(results) {
        settle(mesh, spec, &delivery, &msg, result, span).await;
    }
}

/// Calls the batch handler; a panic fails the batch (its messages are then handled alone).
async fn run_batch(handler: &BatchHandler, deliveries: Vec<Delivery>) -> BatchResult {
    use futures::FutureExt as _;
    match std::panic::AssertUnwindSafe((handler)(deliveries))
        .catch_unwind()
        .await
    {
        Ok(result) => result,
        Err(panic) => {
            let what = panic_message(panic.as_ref());
            tracing::error!(panic = %what, "Batch handler panicked.");
            Err(HandlerError::Transient(anyhow::anyhow!(
                "the handler panicked: {what}"
            )))
        }
    }
}

/// What a caught panic said.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Calls the handler; a panic is caught and becomes a transient failure naming it, so the
/// message is retried and then dead-lettered like any other, and the consumer goes on.
pub(crate) async fn run_handler(
    handler: &Handler,
    delivery: Delivery,
) -> Result<Outcome, HandlerError> {
    use futures::FutureExt as _;
    match std::panic::AssertUnwindSafe((handler)(delivery))
        .catch_unwind()
        .await
    {
        Ok(result) => result,
        Err(panic) => {
            let what = panic_message(panic.as_ref());
            tracing::error!(panic = %what, "Handler panicked.");
            Err(HandlerError::Transient(anyhow::anyhow!(
                "the handler panicked: {what}"
            )))
        }
    }
}

async fn dead_letter(
    mesh: &Mesh,
    delivery: &Delivery,
    msg: &async_nats::jetstream::Message,
    reason: &str,
) -> &'static str {
    tracing::warn!(consumer = %delivery.consumer, reason, "Message moved to the dead-letter stream.");
    match deadletter::publish(mesh, delivery, reason).await {
        Ok(()) => {
            mesh.metrics
                .dead_letters
                .with_label_values(&[&delivery.consumer])
                .inc();
            ack(msg, AckKind::Term, "dead_letter").await
        }
        Err(error) => {
            // Never drop a message we could not park: try again later.
            tracing::error!(
                error = format!("{error:#}"),
                "Dead-letter publish failed; the message will be redelivered."
            );
            ack(
                msg,
                AckKind::Nak(Some(mesh.settings.nats.backoff_for(delivery.delivered))),
                "nak",
            )
            .await
        }
    }
}

async fn ack(
    msg: &async_nats::jetstream::Message,
    kind: AckKind,
    label: &'static str,
) -> &'static str {
    if let Err(error) = msg.ack_with(kind).await {
        tracing::warn!(%error, "Acknowledgement could not be sent; the message will be redelivered and found in the inbox.");
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Person {
        id_number: u64,
    }
    impl EventKind for Person {
        const TYPE: &'static str = "test.person";
    }

    #[test]
    fn a_refused_payload_is_named_by_field_and_rule_never_by_its_value() {
        let payload = r#"{"specversion":"1.0","id":"1","source":"/relief-mesh/intake","type":"test.person","time":"2026-11-16T02:00:00Z","datacontenttype":"application/json","household_id":"5d2c8d6e-6a8e-4f53-9a43-4f6f1f7d2b10","chain_id":"5d2c8d6e-6a8e-4f53-9a43-4f6f1f7d2b11","data":{"id_number":"410102198305120313"}}"#;
        let d = Delivery {
            subject: "t.intake.test".into(),
            payload: Bytes::from(payload),
            headers: None,
            delivered: 1,
            stream_sequence: 1,
            consumer: "intake-test".into(),
        };
        let Err(HandlerError::Poison(reason)) = d.envelope::<Person>() else {
            panic!("a string where a number is expected is poison");
        };
        assert!(!reason.contains("410102198305120313"), "{reason}");
        assert!(reason.contains("expected u64"), "{reason}");
    }
}
