//! The entitlements register: `entitlements`, `emergency_stages`, `assistance_changes`.

use crate::domain::ChangeKind;
use crate::entitlements::{Facts, Stage};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

/// A household as the register holds it.
#[derive(Debug, Clone)]
pub struct Household {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub region_code: String,
    pub effective_month: Option<String>,
    pub facts: Option<Json<Facts>>,
    pub source_event_id: String,
}

/// Serialises a household's changes: its determination, its stops and the run's chunk that
/// holds it never interleave.
pub async fn lock_household(tx: &mut PgConnection, household_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 7))",
        household_id,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Waits for the run's chunk holding the household (its row is locked for share) to finish.
pub async fn lock_entitlement(tx: &mut PgConnection, household_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT 1 AS one FROM entitlements WHERE household_id = $1 FOR UPDATE",
        household_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(())
}

/// A determined household's facts.
pub struct Determined<'a> {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub region_code: &'a str,
    pub effective_month: &'a str,
    pub facts: &'a Facts,
    pub policy_version: &'a str,
    pub source_event_id: &'a str,
}

/// Records a determination's facts; the effective month only moves earlier.
pub async fn upsert_determined(
    tx: &mut PgConnection,
    d: &Determined<'_>,
    at: DateTime<Utc>,
) -> sqlx::Result<Household> {
    sqlx::query_as!(
        Household,
        r#"INSERT INTO entitlements (household_id, chain_id, region_code, effective_month, facts, policy_version, source_event_id, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (household_id) DO UPDATE SET chain_id = EXCLUDED.chain_id, region_code = EXCLUDED.region_code,
             effective_month = LEAST(entitlements.effective_month, EXCLUDED.effective_month),
             facts = EXCLUDED.facts, policy_version = EXCLUDED.policy_version,
             source_event_id = EXCLUDED.source_event_id, updated_at = EXCLUDED.updated_at
         RETURNING household_id, chain_id, region_code, effective_month, facts AS "facts: Json<Facts>", source_event_id"#,
        d.household_id,
        d.chain_id,
        d.region_code,
        d.effective_month,
        Json(d.facts) as _,
        d.policy_version,
        d.source_event_id,
        at,
    )
    .fetch_one(&mut *tx)
    .await
}

/// The household's facts, as a re-determination (event `source_event_id`) extended them.
pub async fn set_facts(
    tx: &mut PgConnection,
    household_id: Uuid,
    facts: &Facts,
    source_event_id: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE entitlements SET facts = $2, source_event_id = $3, updated_at = $4 WHERE household_id = $1",
        household_id,
        Json(facts) as _,
        source_event_id,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Makes sure an emergency grant's household is in the register (without facts, if new).
pub async fn upsert_granted(
    tx: &mut PgConnection,
    household_id: Uuid,
    chain_id: Uuid,
    region_code: &str,
    source_event_id: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<Household> {
    sqlx::query_as!(
        Household,
        r#"INSERT INTO entitlements (household_id, chain_id, region_code, source_event_id, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (household_id) DO UPDATE SET updated_at = EXCLUDED.updated_at
         RETURNING household_id, chain_id, region_code, effective_month, facts AS "facts: Json<Facts>", source_event_id"#,
        household_id,
        chain_id,
        region_code,
        source_event_id,
        at,
    )
    .fetch_one(&mut *tx)
    .await
}

pub async fn household(
    tx: &mut PgConnection,
    household_id: Uuid,
) -> sqlx::Result<Option<Household>> {
    sqlx::query_as!(
        Household,
        r#"SELECT household_id, chain_id, region_code, effective_month, facts AS "facts: Json<Facts>", source_event_id
         FROM entitlements WHERE household_id = $1"#,
        household_id,
    )
    .fetch_optional(&mut *tx)
    .await
}

/// The next `limit` households after `after` in household_id order, locked for share.
pub async fn chunk_after(
    tx: &mut PgConnection,
    after: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<Household>> {
    sqlx::query_as!(
        Household,
        r#"SELECT household_id, chain_id, region_code, effective_month, facts AS "facts: Json<Facts>", source_event_id
         FROM entitlements WHERE household_id > $1 ORDER BY household_id LIMIT $2 FOR SHARE"#,
        after,
        limit,
    )
    .fetch_all(&mut *tx)
    .await
}

/// A stage of an emergency grant to record.
pub struct NewStage<'a> {
    pub emergency_id: Uuid,
    pub stage: i32,
    pub household_id: Uuid,
    pub member_id: Uuid,
    pub amount_fen: i64,
    pub pay_on: NaiveDate,
    pub policy_version: &'a str,
}

pub async fn insert_stage(tx: &mut PgConnection, s: &NewStage<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO emergency_stages (emergency_id, stage, household_id, member_id, amount_fen, pay_on, policy_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        s.emergency_id,
        s.stage,
        s.household_id,
        s.member_id,
        s.amount_fen,
        s.pay_on,
        s.policy_version,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

struct StageRow {
    household_id: Uuid,
    emergency_id: Uuid,
    stage: i32,
    member_id: Uuid,
    amount_fen: i64,
    pay_on: NaiveDate,
    policy_version: String,
}

impl StageRow {
    fn split(self) -> (Uuid, Stage) {
        (
            self.household_id,
            Stage {
                emergency_id: self.emergency_id,
                stage: self.stage,
                member_id: self.member_id,
                amount_fen: self.amount_fen,
                pay_on: self.pay_on,
                policy_version: self.policy_version,
            },
        )
    }
}

/// The stages of `households` paid on a day in [from, until), with their household.
pub async fn stages_between(
    tx: &mut PgConnection,
    households: &[Uuid],
    from: NaiveDate,
    until: NaiveDate,
) -> sqlx::Result<Vec<(Uuid, Stage)>> {
    Ok(sqlx::query_as!(
        StageRow,
        "SELECT household_id, emergency_id, stage, member_id, amount_fen, pay_on, policy_version
         FROM emergency_stages WHERE household_id = ANY($1) AND pay_on >= $2 AND pay_on < $3",
        households,
        from,
        until,
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(StageRow::split)
    .collect())
}

/// Every stage of the household's emergency grants.
pub async fn stages_of(tx: &mut PgConnection, household_id: Uuid) -> sqlx::Result<Vec<Stage>> {
    Ok(sqlx::query_as!(
        StageRow,
        "SELECT household_id, emergency_id, stage, member_id, amount_fen, pay_on, policy_version
         FROM emergency_stages WHERE household_id = $1",
        household_id,
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| r.split().1)
    .collect())
}

/// The stops of `households`: (household, member or none for the household, stop_from_month).
pub async fn stops(
    tx: &mut PgConnection,
    households: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, Option<Uuid>, String)>> {
    Ok(sqlx::query!(
        "SELECT household_id, member_id, stop_from_month FROM assistance_changes WHERE household_id = ANY($1)",
        households,
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| (r.household_id, r.member_id, r.stop_from_month))
    .collect())
}

/// A change of assistance to record.
pub struct NewChange<'a> {
    pub change_id: Uuid,
    pub household_id: Uuid,
    pub member_id: Option<Uuid>,
    pub change: ChangeKind,
    pub reason: &'a str,
    pub occurred_on: NaiveDate,
    pub stop_from_month: &'a str,
    pub exit_months: Option<i32>,
    pub decided_by: &'a str,
    pub source_event_id: &'a str,
}

/// Records the change; `false` when it was recorded before.
pub async fn insert_change(
    tx: &mut PgConnection,
    c: &NewChange<'_>,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO assistance_changes (change_id, household_id, member_id, change, reason, occurred_on,
             stop_from_month, exit_months, decided_by, source_event_id, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
        c.change_id,
        c.household_id,
        c.member_id,
        c.change as ChangeKind,
        c.reason,
        c.occurred_on,
        c.stop_from_month,
        c.exit_months,
        c.decided_by,
        c.source_event_id,
        at,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}
