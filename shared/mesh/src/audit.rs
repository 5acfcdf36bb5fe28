//! The audit trail: who did or read what, when, and why, in a hash chain no one edits unseen.
//!
//! Every decision, every change of personal or payment data and every read or export of personal
//! data appends one record ([`append`], in the transaction of the change, or [`record`] for a
//! read) to the service's `mesh_audit` table: the actor from the access token, the action, the
//! record touched, the household and person it is about, the purpose when given (the
//! `X-Relief-Purpose` header), the trace id. Each record holds the hash of the one before; the
//! same record is published on `audit.<service>.recorded` (stream `RELIEF_AUDIT`) through the
//! outbox. [`verify`] (the command `<service> audit verify` and `GET /v1/audit/verify`) walks the
//! chain and names the first broken link: a record changed, missing or out of order.

use crate::auth::{allow, Acting, Actor, Role};
use crate::http::ApiError;
use crate::http::Query;
use crate::service::Mesh;
use anyhow::Context as _;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

/// The subject each service publishes its records on (`{service}` its instance name), kept in
/// stream `RELIEF_AUDIT`.
pub const SUBJECT: &str = "audit.{service}.recorded";

/// The header a client states its purpose in (`X-Relief-Purpose: 入户核查`); kept in the record.
pub const PURPOSE_HEADER: &str = "x-relief-purpose";

/// What one audit record says happened.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// `application.submit`, `household.read`, `account.change` …
    pub action: String,
    /// `application`, `household`, `dead_letter`, `pain001` …
    pub record_kind: String,
    pub record_id: String,
    pub household_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub purpose: Option<String>,
    /// Further facts, no personal data (ids, counts, the decision taken).
    pub detail: serde_json::Value,
}

impl Entry {
    pub fn new(action: &str, record_kind: &str, record_id: impl ToString) -> Entry {
        Entry {
            action: action.to_owned(),
            record_kind: record_kind.to_owned(),
            record_id: record_id.to_string(),
            detail: serde_json::json!({}),
            ..Entry::default()
        }
    }

    pub fn household(mut self, id: Uuid) -> Self {
        self.household_id = Some(id);
        self
    }

    pub fn person(mut self, id: Uuid) -> Self {
        self.person_id = Some(id);
        self
    }

    /// The purpose the request states, if any.
    pub fn purpose_from(mut self, headers: &HeaderMap) -> Self {
        self.purpose = headers
            .get(PURPOSE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().chars().take(200).collect::<String>())
            .filter(|s| !s.is_empty());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// One record of the trail, as stored, listed and published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: i64,
    pub service: String,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: String,
    pub record_kind: String,
    pub record_id: String,
    pub household_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub purpose: Option<String>,
    pub trace_id: Option<String>,
    /// JSON text.
    pub detail: String,
    /// Hex SHA-256 of the record before (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 over `prev_hash` and this record's fields.
    pub hash: String,
}

impl Record {
    /// Whether `hash` is the SHA-256 of `prev_hash` (its 32 bytes) followed by this record's
    /// content: what a reader of the stream checks, record by record, with `prev_hash` equal to
    /// the `hash` of the record before (`seq` − 1; 64 zeros before the first).
    pub fn hash_is_intact(&self) -> bool {
        let Some(prev) = unhex(&self.prev_hash) else {
            return false;
        };
        prev.len() == 32 && hex(&hash_of(&prev, self)) == self.hash
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The bytes a record's hash covers after the previous hash: its fields as one JSON array, in a
/// fixed order (serde_json writes an array the same way every time).
fn content(r: &Record) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!([
        r.seq,
        r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        r.actor.sub,
        r.actor.name,
        r.actor.role,
        r.action,
        r.record_kind,
        r.record_id,
        r.household_id,
        r.person_id,
        r.purpose,
        r.trace_id,
        r.detail,
    ]))
    .unwrap_or_default()
}

fn hash_of(prev: &[u8], r: &Record) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(content(r));
    h.finalize().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends `entry` by `actor` to the trail, in the caller's transaction `conn` (the record and
/// the change it records commit together, or neither does), and queues its publication.
pub async fn append(
    conn: &mut PgConnection,
    mesh: &Mesh,
    actor: &Actor,
    entry: Entry,
) -> anyhow::Result<Record> {
    let head = sqlx::query("SELECT seq, hash FROM mesh_audit_head FOR UPDATE")
        .fetch_one(&mut *conn)
        .await
        .context("the audit head could not be locked")?;
    let prev_seq: i64 = head.get("seq");
    let prev: Vec<u8> = head.get("hash");
    let mut record = Record {
        seq: prev_seq + 1,
        service: mesh.service().to_owned(),
        at: mesh.clock.now().trunc_subsecs(6),
        actor: actor.clone(),
        action: entry.action,
        record_kind: entry.record_kind,
        record_id: entry.record_id,
        household_id: entry.household_id,
        person_id: entry.person_id,
        purpose: entry.purpose,
        trace_id: crate::telemetry::current_trace_id(),
        detail: serde_json::to_string(&entry.detail).context("audit detail")?,
        prev_hash: hex(&prev),
        hash: String::new(),
    };
    let hash = hash_of(&prev, &record);
    record.hash = hex(&hash);
    sqlx::query(
        "INSERT INTO mesh_audit (seq, at, actor_sub, actor_name, actor_role, action, record_kind, \
         record_id, household_id, person_id, purpose, trace_id, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(record.seq)
    .bind(record.at)
    .bind(&record.actor.sub)
    .bind(&record.actor.name)
    .bind(&record.actor.role)
    .bind(&record.action)
    .bind(&record.record_kind)
    .bind(&record.record_id)
    .bind(record.household_id)
    .bind(record.person_id)
    .bind(&record.purpose)
    .bind(&record.trace_id)
    .bind(&record.detail)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *conn)
    .await
    .context("the audit record could not be written")?;
    sqlx::query("UPDATE mesh_audit_head SET seq = $1, hash = $2")
        .bind(record.seq)
        .bind(&hash)
        .execute(&mut *conn)
        .await
        .context("the audit head could not be moved")?;
    let (traceparent, tracestate) = crate::telemetry::current_trace_headers();
    sqlx::query(
        "INSERT INTO mesh_outbox (id, subject, payload, traceparent, tracestate) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(format!("audit-{}-{}", record.service, record.seq))
    .bind(mesh.subjects.fill(SUBJECT, &record.service))
    .bind(serde_json::to_vec(&record).context("audit record")?)
    .bind(traceparent)
    .bind(tracestate)
    .execute(&mut *conn)
    .await
    .context("the audit record could not be queued")?;
    Ok(record)
}

/// Appends `entry` in a transaction of its own: for reads and exports, before the data leaves.
pub async fn record(mesh: &Mesh, actor: &Actor, entry: Entry) -> Result<Record, ApiError> {
    let mut tx = mesh.db.begin().await?;
    let r = append(&mut tx, mesh, actor, entry).await?;
    tx.commit().await?;
    Ok(r)
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub service: String,
    /// Records checked.
    pub records: i64,
    pub intact: bool,
    /// The first broken link, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broken: Option<Broken>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broken {
    /// The record at which the chain breaks.
    pub seq: i64,
    pub reason: String,
}

fn record_of(row: &sqlx::postgres::PgRow, service: &str) -> Record {
    let prev: Vec<u8> = row.get("prev_hash");
    let hash: Vec<u8> = row.get("hash");
    Record {
        seq: row.get("seq"),
        service: service.to_owned(),
        at: row.get("at"),
        actor: Actor {
            sub: row.get("actor_sub"),
            name: row.get("actor_name"),
            role: row.get("actor_role"),
        },
        action: row.get("action"),
        record_kind: row.get("record_kind"),
        record_id: row.get("record_id"),
        household_id: row.get("household_id"),
        person_id: row.get("person_id"),
        purpose: row.get("purpose"),
        trace_id: row.get("trace_id"),
        detail: row.get("detail"),
        prev_hash: hex(&prev),
        hash: hex(&hash),
    }
}

/// Walks the whole chain of `service`'s trail in `pool` and names the first broken link.
pub async fn verify(pool: &PgPool, service: &str) -> anyhow::Result<Verification> {
    let broken = |seq: i64, records: i64, reason: String| Verification {
        service: service.to_owned(),
        records,
        intact: false,
        first_broken: Some(Broken { seq, reason }),
    };
    let mut prev_seq = 0i64;
    let mut prev_hash = vec![0u8; 32];
    let mut checked = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT seq, at, actor_sub, actor_name, actor_role, action, record_kind, record_id, \
             household_id, person_id, purpose, trace_id, detail, prev_hash, hash \
             FROM mesh_audit WHERE seq > $1 ORDER BY seq LIMIT 1000",
        )
        .bind(prev_seq)
        .fetch_all(pool)
        .await
        .context("the audit trail could not be read")?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let r = record_of(row, service);
            let stored_prev: Vec<u8> = row.get("prev_hash");
            let stored_hash: Vec<u8> = row.get("hash");
            if r.seq != prev_seq + 1 {
                return Ok(broken(
                    prev_seq + 1,
                    checked,
                    format!(
                        "record {} is missing (the next one is {})",
                        prev_seq + 1,
                        r.seq
                    ),
                ));
            }
            if stored_prev != prev_hash {
                return Ok(broken(
                    r.seq,
                    checked,
                    format!(
                        "record {} does not hold the hash of record {}",
                        r.seq, prev_seq
                    ),
                ));
            }
            if hash_of(&stored_prev, &r) != stored_hash {
                return Ok(broken(
                    r.seq,
                    checked,
                    format!("record {} was changed after it was written", r.seq),
                ));
            }
            prev_seq = r.seq;
            prev_hash = stored_hash;
            checked += 1;
        }
    }
    let head = sqlx::query("SELECT seq, hash FROM mesh_audit_head")
        .fetch_one(pool)
        .await
        .context("the audit head could not be read")?;
    let head_seq: i64 = head.get("seq");
    let head_hash: Vec<u8> = head.get("hash");
    if head_seq != prev_seq || head_hash != prev_hash {
        return Ok(broken(
            prev_seq + 1,
            checked,
            format!(
                "the trail ends at record {prev_seq} but {head_seq} were written: the records after {prev_seq} were removed"
            ),
        ));
    }
    Ok(Verification {
        service: service.to_owned(),
        records: checked,
        intact: true,
        first_broken: None,
    })
}

/// `GET /v1/audit` and `GET /v1/audit/verify`, for auditors; every service has them.
pub fn routes() -> Router<Mesh> {
    Router::new()
        .route("/v1/audit", get(list).layer(allow(&[Role::Auditor])))
        .route(
            "/v1/audit/verify",
            get(verify_route).layer(allow(&[Role::Auditor])),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// The officer (token subject) who acted.
    pub actor: Option<String>,
    pub household_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    /// From this instant (RFC 3339), inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Until this instant (RFC 3339), exclusive.
    pub to: Option<DateTime<Utc>>,
    /// Records after this sequence number (paging).
    #[serde(default)]
    pub after: i64,
    #[serde(default = "default_limit")]
    pub limit: i64,
}

fn default_limit() -> i64 {
    100
}

#[derive(Debug, Serialize)]
pub struct AuditPage {
    pub records: Vec<Record>,
    /// The `after` of the next page, when there may be one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
}

async fn list(
    State(mesh): State<Mesh>,
    _auditor: Acting,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    if !(1..=1000).contains(&q.limit) {
        return Err(ApiError::Validation(vec![crate::http::FieldError::new(
            "limit",
            "must be 1 to 1000",
        )]));
    }
    let rows = sqlx::query(
        "SELECT seq, at, actor_sub, actor_name, actor_role, action, record_kind, record_id, \
         household_id, person_id, purpose, trace_id, detail, prev_hash, hash FROM mesh_audit \
         WHERE seq > $1 AND ($2::text IS NULL OR actor_sub = $2) \
           AND ($3::uuid IS NULL OR household_id = $3) AND ($4::uuid IS NULL OR person_id = $4) \
           AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6) \
         ORDER BY seq LIMIT $7",
    )
    .bind(q.after)
    .bind(&q.actor)
    .bind(q.household_id)
    .bind(q.person_id)
    .bind(q.from)
    .bind(q.to)
    .bind(q.limit)
    .fetch_all(&mesh.db)
    .await?;
    let records: Vec<Record> = rows.iter().map(|r| record_of(r, mesh.service())).collect();
    let next_after = (records.len() as i64 == q.limit)
        .then(|| records.last().map(|r| r.seq))
        .flatten();
    Ok(Json(AuditPage {
        records,
        next_after,
    }))
}

async fn verify_route(
    State(mesh): State<Mesh>,
    _auditor: Acting,
) -> Result<Json<Verification>, ApiError> {
    Ok(Json(verify(&mesh.db, mesh.service()).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seq: i64) -> Record {
        Record {
            seq,
            service: "intake".into(),
            at: DateTime::parse_from_rfc3339("2026-12-02T01:02:03.456789Z")
                .unwrap()
                .with_timezone(&Utc),
            actor: Actor {
                sub: "wang.fang".into(),
                name: "王芳".into(),
                role: "township_officer".into(),
            },
            action: "application.submit".into(),
            record_kind: "application".into(),
            record_id: "a1".into(),
            household_id: None,
            person_id: None,
            purpose: Some("入户核查".into()),
            trace_id: None,
            detail: "{}".into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let prev = [0u8; 32];
        let base = hash_of(&prev, &sample(1));
        assert_eq!(
            base,
            hash_of(&prev, &sample(1)),
            "the hash is deterministic"
        );
        let mut changed = sample(1);
        changed.actor.name = "李强".into();
        assert_ne!(base, hash_of(&prev, &changed));
        let mut changed = sample(1);
        changed.purpose = None;
        assert_ne!(base, hash_of(&prev, &changed));
        assert_ne!(base, hash_of(&[1u8; 32], &sample(1)), "and the link");
    }

    #[test]
    fn a_reader_of_the_stream_can_check_a_record_by_itself() {
        let mut r = sample(1);
        r.prev_hash = hex(&[0u8; 32]);
        r.hash = hex(&hash_of(&[0u8; 32], &r));
        assert!(r.hash_is_intact());
        let mut edited = r.clone();
        edited.detail = r#"{"approve":false}"#.into();
        assert!(!edited.hash_is_intact(), "an edited field");
        let mut relinked = r.clone();
        relinked.prev_hash = hex(&[1u8; 32]);
        assert!(!relinked.hash_is_intact(), "another link");
        relinked.prev_hash = "zz".into();
        assert!(!relinked.hash_is_intact(), "not hex");
    }
}
