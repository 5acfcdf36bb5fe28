//! Verification's SQL.

use crate::sources::Asked;
use chrono::{DateTime, NaiveDate, Utc};
use contract::{QueryMember, VerifiedMember};
use mesh::Actor;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Why a report was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The verification of an application, before determination: one per application.
    Application,
    /// A periodic re-verification of an enrolled household, due on this date.
    Reverification { due_on: NaiveDate },
}

/// `reports.purpose` as stored (CHECK application | reverification); the due date is `due_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ReportPurpose {
    Application,
    Reverification,
}

impl Purpose {
    fn kind(self) -> ReportPurpose {
        match self {
            Purpose::Application => ReportPurpose::Application,
            Purpose::Reverification { .. } => ReportPurpose::Reverification,
        }
    }

    fn due_on(self) -> Option<NaiveDate> {
        match self {
            Purpose::Application => None,
            Purpose::Reverification { due_on } => Some(due_on),
        }
    }
}

pub struct NewReport<'a> {
    pub report_id: Uuid,
    pub application_id: Uuid,
    pub household_id: Uuid,
    /// The household's region (none for an application held before regions were kept).
    pub region_code: Option<&'a str>,
    pub purpose: Purpose,
    pub complete: bool,
    pub gaps: &'a [String],
    pub members: &'a [VerifiedMember],
    /// The report with gaps this complete one replaces.
    pub supersedes: Option<Uuid>,
}

/// The application report `report_id` is replaced by a later one: it is kept, no longer current.
pub async fn supersede(tx: &mut PgConnection, report_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE reports SET superseded = true WHERE report_id = $1",
        report_id
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Stores a report with its provenance: which source said what, and when.
pub async fn insert_report(
    tx: &mut PgConnection,
    r: &NewReport<'_>,
    asked: &[Asked],
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO reports (report_id, application_id, household_id, complete, gaps, members, purpose, due_on, supersedes, region_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        r.report_id,
        r.application_id,
        r.household_id,
        r.complete,
        Json(r.gaps) as _,
        Json(r.members) as _,
        r.purpose.kind() as ReportPurpose,
        r.purpose.due_on(),
        r.supersedes,
        r.region_code,
    )
    .execute(&mut *tx)
    .await?;
    for a in asked {
        sqlx::query!(
            "INSERT INTO report_sources (report_id, source, outcome, detail, answer, at) VALUES ($1, $2, $3, $4, $5, $6)",
            r.report_id,
            a.provenance.source,
            a.provenance.outcome,
            a.provenance.detail,
            a.answer.as_ref().map(Json) as _,
            a.provenance.at,
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct ReportView {
    pub report_id: Uuid,
    pub application_id: Uuid,
    pub household_id: Uuid,
    pub complete: bool,
    pub gaps: Json<Vec<String>>,
    /// The report with gaps this complete one replaced.
    pub supersedes: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub sources: Vec<SourceView>,
}

#[derive(Debug, Serialize)]
pub struct SourceView {
    pub source: String,
    pub outcome: String,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

/// The current report of an application (not one it superseded, nor its household's later
/// re-verifications), if the household lies in `areas` (LIKE patterns, mesh::Acting::region_patterns).
pub async fn report(
    db: &PgPool,
    application_id: Uuid,
    areas: &[String],
) -> sqlx::Result<Option<ReportView>> {
    let Some(r) = sqlx::query!(
        r#"SELECT report_id, application_id, household_id, complete, gaps AS "gaps: Json<Vec<String>>", supersedes, created_at
         FROM reports WHERE application_id = $1 AND purpose = $2 AND NOT superseded AND region_code LIKE ANY($3)"#,
        application_id,
        ReportPurpose::Application as ReportPurpose,
        areas,
    )
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    let sources = sqlx::query_as!(
        SourceView,
        "SELECT source, outcome, detail, at FROM report_sources WHERE report_id = $1 ORDER BY source",
        r.report_id,
    )
    .fetch_all(db)
    .await?;
    Ok(Some(ReportView {
        report_id: r.report_id,
        application_id: r.application_id,
        household_id: r.household_id,
        complete: r.complete,
        gaps: r.gaps,
        supersedes: r.supersedes,
        created_at: r.created_at,
        sources,
    }))
}

/// A household as its application describes it.
pub struct Registration<'a> {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub application_id: Uuid,
    pub region_code: &'a str,
    pub members: &'a [QueryMember],
}

/// Enters the household in the register, or refreshes what its latest application says of it;
/// an enrolment and its schedule are left as they are.
pub async fn upsert_register(tx: &mut PgConnection, r: &Registration<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO register (household_id, chain_id, application_id, region_code, members)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (household_id) DO UPDATE SET chain_id = EXCLUDED.chain_id,
             application_id = EXCLUDED.application_id, region_code = EXCLUDED.region_code,
             members = EXCLUDED.members",
        r.household_id,
        r.chain_id,
        r.application_id,
        r.region_code,
        Json(r.members) as _,
    )
    .execute(tx)
    .await?;
    Ok(())
}

#[derive(Debug)]
pub struct RegisterEntry {
    pub region_code: String,
    pub enrolled: bool,
}

/// The household's register row, locked until the transaction ends.
pub async fn register_entry_for_update(
    tx: &mut PgConnection,
    household_id: Uuid,
) -> sqlx::Result<Option<RegisterEntry>> {
    sqlx::query_as!(
        RegisterEntry,
        "SELECT region_code, enrolled FROM register WHERE household_id = $1 FOR UPDATE",
        household_id,
    )
    .fetch_optional(tx)
    .await
}

/// The household's register row if it lies in `areas`, locked until the transaction ends.
pub async fn register_entry_in_area_for_update(
    tx: &mut PgConnection,
    household_id: Uuid,
    areas: &[String],
) -> sqlx::Result<Option<RegisterEntry>> {
    sqlx::query_as!(
        RegisterEntry,
        "SELECT region_code, enrolled FROM register WHERE household_id = $1 AND region_code LIKE ANY($2) FOR UPDATE",
        household_id,
        areas,
    )
    .fetch_optional(tx)
    .await
}

pub async fn enrol(
    tx: &mut PgConnection,
    household_id: Uuid,
    reverification_due: NaiveDate,
    home_visit_due: NaiveDate,
    enrolment_event_id: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE register SET enrolled = true, next_reverification_due = $2,
             next_home_visit_due = $3, enrolment_event_id = $4
         WHERE household_id = $1",
        household_id,
        reverification_due,
        home_visit_due,
        enrolment_event_id,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// An enrolled household leased for re-verification.
#[derive(Debug, Clone)]
pub struct Leased {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub application_id: Uuid,
    pub region_code: String,
    pub members: Json<Vec<QueryMember>>,
    pub due_on: NaiveDate,
    /// Also the lease's token: only the holder of this exact lease may complete or release it.
    pub lease_until: DateTime<Utc>,
    pub enrolment_event_id: Option<String>,
}

/// Leases up to `batch` enrolled households due on or before `today` whose lease, if any, has
/// run out, for `lease_seconds`. One statement, so the lease is committed on return; rows
/// another replica is leasing at the same moment are skipped, not waited for.
pub async fn lease_due(
    db: &PgPool,
    today: NaiveDate,
    batch: i64,
    lease_seconds: f64,
) -> sqlx::Result<Vec<Leased>> {
    sqlx::query_as!(
        Leased,
        r#"WITH due AS (
             SELECT household_id FROM register
             WHERE enrolled AND next_reverification_due <= $1
               AND (lease_until IS NULL OR lease_until < now())
             ORDER BY next_reverification_due, household_id
             LIMIT $2
             FOR UPDATE SKIP LOCKED)
         UPDATE register r SET lease_until = now() + make_interval(secs => $3)
         FROM due WHERE r.household_id = due.household_id
         RETURNING r.household_id, r.chain_id, r.application_id, r.region_code,
                   r.members AS "members: Json<Vec<QueryMember>>",
                   r.next_reverification_due AS "due_on!", r.lease_until AS "lease_until!", r.enrolment_event_id"#,
        today,
        batch,
        lease_seconds,
    )
    .fetch_all(db)
    .await
}

/// Gives back leases that were not used (at shutdown), so another replica need not wait.
pub async fn release(db: &PgPool, leased: &[Leased]) -> sqlx::Result<()> {
    for l in leased {
        sqlx::query!(
            "UPDATE register SET lease_until = NULL WHERE household_id = $1 AND lease_until = $2",
            l.household_id,
            l.lease_until,
        )
        .execute(db)
        .await?;
    }
    Ok(())
}

/// Moves the household's next re-verification to `next_due` and ends the lease, if the lease is
/// still `lease`'s. `false` means it ran out and another replica took the household over: the
/// caller then rolls back, so the household is re-verified once.
pub async fn complete_reverification(
    tx: &mut PgConnection,
    lease: &Leased,
    next_due: NaiveDate,
) -> sqlx::Result<bool> {
    let updated = sqlx::query!(
        "UPDATE register SET next_reverification_due = $3, lease_until = NULL
         WHERE household_id = $1 AND lease_until = $2",
        lease.household_id,
        lease.lease_until,
        next_due,
    )
    .execute(tx)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// One line of a due list.
#[derive(Debug, Serialize)]
pub struct Due {
    pub household_id: Uuid,
    pub application_id: Uuid,
    pub region_code: String,
    pub due_on: NaiveDate,
}

/// Enrolled households in `areas` whose re-verification is due on or before `on`, earliest
/// first.
pub async fn reverifications_due(
    db: &PgPool,
    on: NaiveDate,
    areas: &[String],
) -> sqlx::Result<Vec<Due>> {
    sqlx::query_as!(
        Due,
        r#"SELECT household_id, application_id, region_code, next_reverification_due AS "due_on!"
         FROM register WHERE enrolled AND next_reverification_due <= $1 AND region_code LIKE ANY($2)
         ORDER BY next_reverification_due, household_id"#,
        on,
        areas,
    )
    .fetch_all(db)
    .await
}

/// Enrolled households in `areas` whose home visit is due on or before `on`, earliest first.
pub async fn home_visits_due(
    db: &PgPool,
    on: NaiveDate,
    areas: &[String],
) -> sqlx::Result<Vec<Due>> {
    sqlx::query_as!(
        Due,
        r#"SELECT household_id, application_id, region_code, next_home_visit_due AS "due_on!"
         FROM register WHERE enrolled AND next_home_visit_due <= $1 AND region_code LIKE ANY($2)
         ORDER BY next_home_visit_due, household_id"#,
        on,
        areas,
    )
    .fetch_all(db)
    .await
}

/// A home visit as recorded.
#[derive(Debug, Serialize)]
pub struct Visit {
    pub visit_id: Uuid,
    pub household_id: Uuid,
    pub visited_on: NaiveDate,
    /// The visiting officer's name, from the access token.
    pub visitor: String,
    /// The visiting officer, from the access token; null before sign-in.
    pub visitor_actor: Option<Json<Actor>>,
    pub note: String,
    pub recorded_at: DateTime<Utc>,
}

pub async fn insert_visit(
    tx: &mut PgConnection,
    household_id: Uuid,
    visited_on: NaiveDate,
    visitor: &Actor,
    note: &str,
) -> sqlx::Result<Visit> {
    sqlx::query_as!(
        Visit,
        r#"INSERT INTO home_visits (visit_id, household_id, visited_on, visitor, note, visitor_actor)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING visit_id, household_id, visited_on, visitor, visitor_actor AS "visitor_actor: Json<Actor>", note, recorded_at"#,
        Uuid::new_v4(),
        household_id,
        visited_on,
        visitor.name,
        note,
        Json(visitor) as _,
    )
    .fetch_one(tx)
    .await
}

/// The date of the household's latest recorded home visit.
pub async fn latest_visit(
    tx: &mut PgConnection,
    household_id: Uuid,
) -> sqlx::Result<Option<NaiveDate>> {
    sqlx::query_scalar!(
        "SELECT max(visited_on) FROM home_visits WHERE household_id = $1",
        household_id,
    )
    .fetch_one(tx)
    .await
}

pub async fn set_next_home_visit(
    tx: &mut PgConnection,
    household_id: Uuid,
    due: NaiveDate,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE register SET next_home_visit_due = $2 WHERE household_id = $1",
        household_id,
        due,
    )
    .execute(tx)
    .await?;
    Ok(())
}
