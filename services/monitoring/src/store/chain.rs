//! Table `chain_events`: every event of a household's assistance chain, as it passed through
//! the mesh.

use chrono::{DateTime, Utc};
use mesh::auth::Actor;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use std::collections::HashSet;
use uuid::Uuid;

pub struct Step {
    pub event_id: String,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub kind: String,
    pub subject: String,
    pub service: String,
    pub time: DateTime<Utc>,
    pub trace_id: Option<String>,
    pub causation_id: Option<String>,
    pub summary: serde_json::Value,
    /// The fact's business key ([`digest`]): a step is recorded once per household and digest.
    pub digest: String,
    /// Who acted, when a person's request made the event (`envelope.actor`).
    pub actor: Option<Actor>,
    /// The region the event's data names, if any (an application's, a determination's, …).
    pub region_code: Option<String>,
}

/// SHA-256 of an event's type, household, envelope subject and data (its keys in order): the
/// same fact under another event id has the same digest.
pub fn digest(
    kind: &str,
    household_id: Uuid,
    subject: Option<&str>,
    data: &serde_json::Value,
) -> String {
    let mut h = Sha256::new();
    for part in [kind, &household_id.to_string(), subject.unwrap_or_default()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(canonical(data).as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON text with every object's keys sorted.
fn canonical(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => v.to_string(),
    }
}

/// Records a step in the caller's transaction (a consumer that applies what it records);
/// `false` when it (or the same fact under another event id) was recorded before.
pub async fn record_step_in(conn: &mut PgConnection, s: &Step) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO chain_events (event_id, household_id, chain_id, type, subject, service, time, trace_id, causation_id, summary, digest, actor, region_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
        s.event_id,
        s.household_id,
        s.chain_id,
        s.kind,
        s.subject,
        s.service,
        s.time,
        s.trace_id.as_deref(),
        s.causation_id.as_deref(),
        s.summary,
        s.digest,
        s.actor.as_ref().map(Json) as _,
        s.region_code.as_deref(),
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Records `steps` in one statement (one commit for all: the chain recorder's batch); returns
/// the event ids recorded now, the others having been recorded before (the same event, or the
/// same fact under another event id, also within `steps`). In order: the first of a household's
/// steps is the first in its chain.
pub async fn record_steps(db: &PgPool, steps: &[Step]) -> sqlx::Result<HashSet<String>> {
    if steps.is_empty() {
        return Ok(HashSet::new());
    }
    let col = |f: fn(&Step) -> String| steps.iter().map(f).collect::<Vec<_>>();
    let event_id = col(|s| s.event_id.clone());
    let kind = col(|s| s.kind.clone());
    let subject = col(|s| s.subject.clone());
    let service = col(|s| s.service.clone());
    let digest = col(|s| s.digest.clone());
    let household_id: Vec<Uuid> = steps.iter().map(|s| s.household_id).collect();
    let chain_id: Vec<Uuid> = steps.iter().map(|s| s.chain_id).collect();
    let time: Vec<DateTime<Utc>> = steps.iter().map(|s| s.time).collect();
    let trace_id: Vec<Option<String>> = steps.iter().map(|s| s.trace_id.clone()).collect();
    let causation_id: Vec<Option<String>> = steps.iter().map(|s| s.causation_id.clone()).collect();
    let summary: Vec<serde_json::Value> = steps.iter().map(|s| s.summary.clone()).collect();
    let actor: Vec<Option<serde_json::Value>> = steps
        .iter()
        .map(|s| s.actor.as_ref().and_then(|a| serde_json::to_value(a).ok()))
        .collect();
    let region_code: Vec<Option<String>> = steps.iter().map(|s| s.region_code.clone()).collect();
    let recorded = sqlx::query_scalar!(
        r#"INSERT INTO chain_events (event_id, household_id, chain_id, type, subject, service, time, trace_id, causation_id, summary, digest, actor, region_code)
         SELECT event_id, household_id, chain_id, type, subject, service, time, trace_id, causation_id, summary, digest, actor, region_code
         FROM UNNEST($1::text[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
                     $8::text[], $9::text[], $10::jsonb[], $11::text[], $12::jsonb[], $13::text[])
              WITH ORDINALITY AS s (event_id, household_id, chain_id, type, subject, service, time, trace_id, causation_id, summary, digest, actor, region_code, n)
         ORDER BY n
         ON CONFLICT DO NOTHING
         RETURNING event_id"#,
        &event_id[..],
        &household_id[..],
        &chain_id[..],
        &kind[..],
        &subject[..],
        &service[..],
        &time[..],
        &trace_id[..] as &[Option<String>],
        &causation_id[..] as &[Option<String>],
        &summary[..],
        &digest[..],
        &actor[..] as &[Option<serde_json::Value>],
        &region_code[..] as &[Option<String>],
    )
    .fetch_all(db)
    .await?;
    Ok(recorded.into_iter().collect())
}

/// The chain a household's events belong to, when it has been opened.
pub async fn chain_of(db: &PgPool, household_id: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "SELECT chain_id FROM chain_events WHERE household_id = $1 ORDER BY seq LIMIT 1",
        household_id,
    )
    .fetch_optional(db)
    .await
}

/// What an event monitoring publishes about `household_id` continues: the household's chain
/// (no cause), or the nil household and chain when there is no household or its chain is not
/// open yet.
pub async fn reference(db: &PgPool, household_id: Option<Uuid>) -> sqlx::Result<mesh::ChainRef> {
    let chain_id = match household_id {
        Some(h) => chain_of(db, h).await?,
        None => None,
    };
    Ok(mesh::ChainRef {
        household_id: household_id
            .filter(|_| chain_id.is_some())
            .unwrap_or_else(Uuid::nil),
        chain_id: chain_id.unwrap_or_else(Uuid::nil),
        causation_id: None,
    })
}

/// The region a household's chain lies in: the household's as enrolled, or else that of the
/// chain's first step that names one (its application, its emergency grant).
pub async fn region_of(
    conn: &mut PgConnection,
    household_id: Uuid,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        r#"SELECT COALESCE(
                 (SELECT h.region_code FROM households h WHERE h.household_id = $1),
                 (SELECT f.region_code FROM chain_events f
                   WHERE f.household_id = $1 AND f.region_code IS NOT NULL ORDER BY f.seq LIMIT 1)
               ) AS "region_code""#,
        household_id,
    )
    .fetch_one(&mut *conn)
    .await
}

#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
    pub service: String,
    pub time: DateTime<Utc>,
    pub trace_id: Option<String>,
    pub causation_id: Option<String>,
    pub summary: serde_json::Value,
    /// Who acted, when a person's request made the step's event; null for a rule's or a
    /// system's. (`Json` serialises as the actor itself.)
    pub actor: Option<Json<Actor>>,
    #[serde(skip)]
    pub chain_id: Uuid,
}

/// The steps of a household's chain, in order, when the chain lies in `areas` (`LIKE` patterns
/// of the caller's areas): the region of the household as enrolled, or else of the chain's
/// first step that names one (the application or the emergency grant that opened it). None
/// (an empty list) outside them, as for a chain that does not exist.
pub async fn steps(
    db: &PgPool,
    household_id: Uuid,
    areas: &[String],
) -> sqlx::Result<Vec<StepView>> {
    sqlx::query_as!(
        StepView,
        r#"SELECT event_id, type AS kind, subject, service, time, trace_id, causation_id, summary,
                actor AS "actor: Json<Actor>", chain_id
         FROM chain_events
         WHERE household_id = $1
           AND COALESCE(
                 (SELECT h.region_code FROM households h WHERE h.household_id = $1),
                 (SELECT f.region_code FROM chain_events f
                   WHERE f.household_id = $1 AND f.region_code IS NOT NULL ORDER BY f.seq LIMIT 1)
               ) LIKE ANY($2::text[])
         ORDER BY time, seq"#,
        household_id,
        areas,
    )
    .fetch_all(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_same_fact_has_one_digest_whatever_its_key_order() {
        let h = Uuid::nil();
        let a = digest(
            "t",
            h,
            Some("s"),
            &json!({"a": 1, "b": {"c": [1, 2], "d": null}}),
        );
        let b = digest(
            "t",
            h,
            Some("s"),
            &json!({"b": {"d": null, "c": [1, 2]}, "a": 1}),
        );
        assert_eq!(a, b);
        assert_ne!(
            a,
            digest(
                "t",
                h,
                None,
                &json!({"a": 1, "b": {"c": [1, 2], "d": null}})
            )
        );
        assert_ne!(
            a,
            digest(
                "t",
                h,
                Some("s"),
                &json!({"a": 2, "b": {"c": [1, 2], "d": null}})
            )
        );
        assert_ne!(
            digest("ab", h, Some("c"), &json!(1)),
            digest("a", h, Some("bc"), &json!(1))
        );
    }
}
