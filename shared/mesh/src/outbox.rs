//! The transactional outbox, its relay, and the inbox.
//!
//! A handler writes its state change, its inbox row and its outbox rows in one transaction
//! ([`enqueue`], [`claim`]). The [`Relay`] publishes committed rows in order with the row id as
//! `Nats-Msg-Id`, waits for every publish acknowledgement, then marks the rows published. A crash
//! between publish and mark publishes the rows again; JetStream drops them as duplicates within
//! its window and consumers' inboxes drop them after it.

use crate::envelope::{Envelope, EventKind};
use crate::metrics::Metrics;
use crate::settings::OutboxSettings;
use crate::telemetry;
use anyhow::Context as _;
use async_nats::{jetstream, HeaderMap};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Writes `envelope` to the outbox for `subject` (the full, prefixed subject), carrying the
/// current span's trace context so the publish, and everything downstream, joins this trace.
pub async fn enqueue<T: EventKind>(
    conn: &mut PgConnection,
    subject: &str,
    envelope: &Envelope<T>,
) -> anyhow::Result<()> {
    let payload = serde_json::to_vec(envelope).context("event could not be serialised")?;
    let (traceparent, tracestate) = telemetry::current_trace_headers();
    sqlx::query(
        "INSERT INTO mesh_outbox (id, subject, payload, traceparent, tracestate) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&envelope.id)
    .bind(subject)
    .bind(payload)
    .bind(traceparent)
    .bind(tracestate)
    .execute(conn)
    .await
    .context("outbox row could not be written")?;
    Ok(())
}

/// Writes `envelope` to the outbox for `channel` (a channel without a variable token): an
/// envelope of another payload does not compile.
pub async fn enqueue_on<T: EventKind>(
    conn: &mut PgConnection,
    subjects: &crate::Subjects,
    channel: crate::Channel<T>,
    envelope: &Envelope<T>,
) -> anyhow::Result<()> {
    enqueue(conn, &channel.subject(subjects), envelope).await
}

/// Writes `envelope` to the outbox for `channel` with its variable token set to `token`
/// (`referral.{dept}.push` for one department).
pub async fn enqueue_to<T: EventKind>(
    conn: &mut PgConnection,
    subjects: &crate::Subjects,
    channel: crate::Channel<T>,
    token: &str,
    envelope: &Envelope<T>,
) -> anyhow::Result<()> {
    enqueue(conn, &channel.subject_for(subjects, token), envelope).await
}

/// Writes many envelopes for `channel` (one without a variable token) in one statement.
pub async fn enqueue_many_on<T: EventKind>(
    conn: &mut PgConnection,
    subjects: &crate::Subjects,
    channel: crate::Channel<T>,
    envelopes: &[Envelope<T>],
) -> anyhow::Result<()> {
    enqueue_many(conn, &channel.subject(subjects), envelopes).await
}

/// Writes many envelopes for one `subject` in one statement, in order, each carrying the current
/// span's trace context: what [`enqueue`] does, for a batch (a chunk of a monthly run).
pub async fn enqueue_many<T: EventKind>(
    conn: &mut PgConnection,
    subject: &str,
    envelopes: &[Envelope<T>],
) -> anyhow::Result<()> {
    if envelopes.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(envelopes.len());
    let mut payloads = Vec::with_capacity(envelopes.len());
    for e in envelopes {
        ids.push(e.id.clone());
        payloads.push(serde_json::to_vec(e).context("event could not be serialised")?);
    }
    let (traceparent, tracestate) = telemetry::current_trace_headers();
    sqlx::query(
        "INSERT INTO mesh_outbox (id, subject, payload, traceparent, tracestate)
         SELECT id, $2, payload, $4, $5 FROM UNNEST($1::text[], $3::bytea[]) WITH ORDINALITY AS t(id, payload, n)
         ORDER BY n",
    )
    .bind(&ids)
    .bind(subject)
    .bind(&payloads)
    .bind(traceparent)
    .bind(tracestate)
    .execute(conn)
    .await
    .context("outbox rows could not be written")?;
    Ok(())
}

/// Records that `consumer` handled `message_id`. Returns `false` when it already had: the
/// caller then changes nothing and acknowledges.
pub async fn claim(
    conn: &mut PgConnection,
    consumer: &str,
    message_id: &str,
    subject: &str,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO mesh_inbox (consumer, message_id, subject) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(message_id)
    .bind(subject)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Whether `consumer` already handled `message_id`; a cheap read before slow work (queries to
/// data holders) that the claim inside the transaction then confirms.
pub async fn handled(pool: &PgPool, consumer: &str, message_id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM mesh_inbox WHERE consumer = $1 AND message_id = $2)",
    )
    .bind(consumer)
    .bind(message_id)
    .fetch_one(pool)
    .await
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    id: String,
    subject: String,
    payload: Vec<u8>,
    traceparent: Option<String>,
    tracestate: Option<String>,
}

/// Publishes the outbox of one service database.
pub struct Relay {
    pub pool: PgPool,
    pub js: jetstream::Context,
    pub settings: OutboxSettings,
    pub metrics: Metrics,
}

impl Relay {
    /// Runs until `stop`, then publishes what is committed by then once more and returns.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .context("outbox listener could not connect")?;
        listener.listen("mesh_outbox").await?;
        let poll = Duration::from_millis(self.settings.poll_interval_ms);
        let mut rounds: u64 = 0;
        loop {
            match self.publish_batch().await {
                Ok(n) if n as i64 >= self.settings.batch_size => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(
                    error = format!("{error:#}"),
                    "Outbox batch was not published; it will be retried."
                ),
            }
            rounds += 1;
            if rounds.is_multiple_of(600) {
                self.delete_old().await;
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                r = listener.recv() => if let Err(error) = r {
                    tracing::warn!(%error, "Outbox listener lost its connection; polling until it is back.");
                    tokio::time::sleep(poll).await;
                },
                _ = tokio::time::sleep(poll) => {}
            }
        }
        // Everything committed before the consumers stopped goes out before NATS is drained.
        loop {
            match self.publish_batch().await {
                Ok(n) if n as i64 >= self.settings.batch_size => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "Outbox rows stay unpublished at shutdown; the next start publishes them."
                    );
                    break;
                }
            }
        }
        Ok(())
    }

    /// Publishes up to one batch; returns how many rows it published.
    pub async fn publish_batch(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT seq, id, subject, payload, traceparent, tracestate FROM mesh_outbox
             WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.settings.batch_size)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut acks = Vec::with_capacity(rows.len());
        for row in &rows {
            let span = tracing::info_span!(
                "publish",
                otel.name = format!("publish {}", row.subject),
                otel.kind = "producer",
                messaging.system = "nats",
                messaging.operation.type = "publish",
                messaging.destination.name = %row.subject,
                messaging.message.id = %row.id,
            );
            telemetry::set_parent(
                &span,
                telemetry::context_from(row.traceparent.as_deref(), row.tracestate.as_deref()),
            );
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", row.id.as_str());
            {
                use tracing_opentelemetry::OpenTelemetrySpanExt;
                telemetry::inject_nats(&span.context(), &mut headers);
            }
            let ack = self
                .js
                .publish_with_headers(row.subject.clone(), headers, row.payload.clone().into())
                .instrument(span)
                .await
                .with_context(|| format!("publish to {} failed", row.subject))?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await
                .context("JetStream did not acknowledge a publish")?;
        }
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        sqlx::query("UPDATE mesh_outbox SET published_at = now() WHERE seq = ANY($1)")
            .bind(&seqs)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.metrics.outbox_published.inc_by(rows.len() as u64);
        Ok(rows.len())
    }

    async fn delete_old(&self) {
        let r = sqlx::query(
            "DELETE FROM mesh_outbox WHERE published_at < now() - make_interval(hours => $1)",
        )
        .bind(self.settings.retain_hours as i32)
        .execute(&self.pool)
        .await;
        if let Err(error) = r {
            tracing::warn!(%error, "Old outbox rows could not be deleted.");
        }
        if self.settings.inbox_retain_days > 0 {
            let r = sqlx::query(
                "DELETE FROM mesh_inbox WHERE handled_at < now() - make_interval(days => $1)",
            )
            .bind(self.settings.inbox_retain_days as i32)
            .execute(&self.pool)
            .await;
            if let Err(error) = r {
                tracing::warn!(%error, "Old inbox rows could not be deleted.");
            }
        }
    }
}
