//! Table `chain_events`: every event of a household's assistance chain, as it passed through
//! the mesh.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
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
}

/// Records a step; `false` when it was recorded before.
pub async fn record_step(db: &PgPool, s: &Step) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO chain_events (event_id, household_id, chain_id, type, subject, service, time, trace_id, causation_id, summary)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (event_id) DO NOTHING",
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
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(n == 1)
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
    #[serde(skip)]
    pub chain_id: Uuid,
}

pub async fn steps(db: &PgPool, household_id: Uuid) -> sqlx::Result<Vec<StepView>> {
    sqlx::query_as!(
        StepView,
        r#"SELECT event_id, type AS kind, subject, service, time, trace_id, causation_id, summary, chain_id
         FROM chain_events WHERE household_id = $1 ORDER BY time, seq"#,
        household_id,
    )
    .fetch_all(db)
    .await
}
