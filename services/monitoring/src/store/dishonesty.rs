//! `dishonesty_lifts`: dishonesty records lifted before they expired.

use chrono::{DateTime, NaiveDate, Utc};
use mesh::auth::Actor;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// A lifted record, as stored and as the route answers it.
#[derive(Debug, Clone, Serialize)]
pub struct Lift {
    pub record_id: Uuid,
    pub complaint_id: Uuid,
    pub household_id: Uuid,
    pub lifted_on: NaiveDate,
    pub reason: String,
    pub lifted_by: Actor,
    pub lifted_at: DateTime<Utc>,
}

/// Records the lift; `false` when the record was lifted already.
pub async fn insert(tx: &mut PgConnection, l: &Lift) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO dishonesty_lifts (record_id, complaint_id, household_id, lifted_on, reason,
             lifted_by, lifted_by_sub, lifted_by_role, lifted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        l.record_id,
        l.complaint_id,
        l.household_id,
        l.lifted_on,
        l.reason,
        l.lifted_by.name,
        l.lifted_by.sub,
        l.lifted_by.role,
        l.lifted_at,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}
