//! Intake's SQL.

use chrono::{DateTime, Utc};
use contract::{ApplicationSubmitted, HouseholdDetermined};
use mesh::Envelope;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub const VERIFYING: &str = "verifying";
pub const DETERMINED: &str = "determined";
pub const MANUAL_VERIFICATION: &str = "manual_verification";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApplicationRow {
    pub application_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub region_code: String,
    pub urban: bool,
    pub status: String,
    pub submitted_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub member_id: Uuid,
    pub id_number: String,
    pub name: String,
    pub relation: String,
    pub declared_monthly_income_fen: i64,
    pub flags: sqlx::types::Json<policy::determination::MemberFlags>,
}

pub async fn insert_application(
    tx: &mut PgConnection,
    e: &Envelope<ApplicationSubmitted>,
    address: Option<&str>,
    idempotency_key: Option<&str>,
) -> sqlx::Result<()> {
    let a = &e.data;
    sqlx::query(
        "INSERT INTO applications (application_id, household_id, chain_id, region_code, urban, address, status, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(a.application_id)
    .bind(e.household_id)
    .bind(e.chain_id)
    .bind(&a.region_code)
    .bind(a.urban)
    .bind(address)
    .bind(VERIFYING)
    .bind(idempotency_key)
    .execute(&mut *tx)
    .await?;
    for (i, m) in a.members.iter().enumerate() {
        sqlx::query(
            "INSERT INTO application_members (member_id, application_id, position, id_number, name, relation, declared_monthly_income_fen, flags)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(m.member_id)
        .bind(a.application_id)
        .bind(i as i32)
        .bind(&m.id_number)
        .bind(&m.name)
        .bind(&m.relation)
        .bind(m.declared_monthly_income_fen)
        .bind(sqlx::types::Json(m.flags))
        .execute(&mut *tx)
        .await?;
    }
    history(
        tx,
        a.application_id,
        VERIFYING,
        "applicant",
        "application submitted; household economic verification requested",
    )
    .await
}

pub async fn history(
    tx: &mut PgConnection,
    application_id: Uuid,
    status: &str,
    actor: &str,
    note: &str,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO application_history (application_id, status, actor, note) VALUES ($1, $2, $3, $4)")
        .bind(application_id)
        .bind(status)
        .bind(actor)
        .bind(note)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn by_idempotency_key(db: &PgPool, key: &str) -> sqlx::Result<Option<ApplicationRow>> {
    sqlx::query_as("SELECT application_id, household_id, chain_id, region_code, urban, status, submitted_at FROM applications WHERE idempotency_key = $1")
        .bind(key)
        .fetch_optional(db)
        .await
}

/// The application, locked for the rest of the transaction.
pub async fn lock(
    tx: &mut PgConnection,
    application_id: Uuid,
) -> sqlx::Result<Option<ApplicationRow>> {
    sqlx::query_as("SELECT application_id, household_id, chain_id, region_code, urban, status, submitted_at FROM applications WHERE application_id = $1 FOR UPDATE")
        .bind(application_id)
        .fetch_optional(tx)
        .await
}

pub async fn members(tx: &mut PgConnection, application_id: Uuid) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as("SELECT member_id, id_number, name, relation, declared_monthly_income_fen, flags FROM application_members WHERE application_id = $1 ORDER BY position")
        .bind(application_id)
        .fetch_all(tx)
        .await
}

pub async fn set_status(
    tx: &mut PgConnection,
    application_id: Uuid,
    status: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE applications SET status = $2, updated_at = now() WHERE application_id = $1",
    )
    .bind(application_id)
    .bind(status)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn insert_determination(
    tx: &mut PgConnection,
    d: &HouseholdDetermined,
    decided_by: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO determinations (application_id, tier, monthly_amount_fen, per_capita_income_fen, standard_fen, policy_version, rule, effective_month, decided_by, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(d.application_id)
    .bind(d.tier.as_str())
    .bind(d.monthly_amount_fen)
    .bind(d.per_capita_income_fen)
    .bind(d.standard_fen)
    .bind(&d.policy_version)
    .bind(&d.rule)
    .bind(&d.effective_month)
    .bind(decided_by)
    .bind(sqlx::types::Json(&d.members))
    .execute(tx)
    .await?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct ApplicationView {
    pub application_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub region_code: String,
    pub urban: bool,
    pub status: String,
    pub submitted_at: DateTime<Utc>,
    pub members: Vec<MemberView>,
    pub determination: Option<DeterminationView>,
    pub history: Vec<HistoryView>,
}

/// Members as shown over HTTP: names and ID numbers masked.
#[derive(Debug, Serialize)]
pub struct MemberView {
    pub member_id: Uuid,
    pub name_masked: String,
    pub id_number_masked: String,
    pub relation: String,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct DeterminationView {
    pub tier: String,
    pub monthly_amount_fen: i64,
    pub per_capita_income_fen: i64,
    pub standard_fen: i64,
    pub policy_version: String,
    pub rule: String,
    pub effective_month: String,
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct HistoryView {
    pub at: DateTime<Utc>,
    pub status: String,
    pub actor: String,
    pub note: String,
}

/// A name with all but its first character hidden, as public disclosure shows it.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

pub async fn view(db: &PgPool, application_id: Uuid) -> sqlx::Result<Option<ApplicationView>> {
    let mut conn = db.acquire().await?;
    let Some(a): Option<ApplicationRow> = sqlx::query_as(
        "SELECT application_id, household_id, chain_id, region_code, urban, status, submitted_at FROM applications WHERE application_id = $1",
    )
    .bind(application_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let members = members(&mut conn, application_id)
        .await?
        .into_iter()
        .map(|m| MemberView {
            member_id: m.member_id,
            name_masked: mask_name(&m.name),
            id_number_masked: policy::id::mask(&m.id_number),
            relation: m.relation,
        })
        .collect();
    let determination = sqlx::query_as(
        "SELECT tier, monthly_amount_fen, per_capita_income_fen, standard_fen, policy_version, rule, effective_month, decided_by, decided_at
         FROM determinations WHERE application_id = $1",
    )
    .bind(application_id)
    .fetch_optional(&mut *conn)
    .await?;
    let history = sqlx::query_as("SELECT at, status, actor, note FROM application_history WHERE application_id = $1 ORDER BY id")
        .bind(application_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(Some(ApplicationView {
        application_id: a.application_id,
        household_id: a.household_id,
        chain_id: a.chain_id,
        region_code: a.region_code,
        urban: a.urban,
        status: a.status,
        submitted_at: a.submitted_at,
        members,
        determination,
        history,
    }))
}
