//! Verification's SQL.

use crate::handlers::Asked;
use chrono::{DateTime, Utc};
use contract::HouseholdVerified;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub async fn insert_report(
    tx: &mut PgConnection,
    household_id: Uuid,
    r: &HouseholdVerified,
    asked: &[Asked],
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO reports (report_id, application_id, household_id, complete, gaps, members) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(r.report_id)
        .bind(r.application_id)
        .bind(household_id)
        .bind(r.complete)
        .bind(sqlx::types::Json(&r.gaps))
        .bind(sqlx::types::Json(&r.members))
        .execute(&mut *tx)
        .await?;
    for a in asked {
        sqlx::query("INSERT INTO report_sources (report_id, source, outcome, detail, answer, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(r.report_id)
            .bind(&a.provenance.source)
            .bind(&a.provenance.outcome)
            .bind(&a.provenance.detail)
            .bind(a.answer.as_ref().map(sqlx::types::Json))
            .bind(a.provenance.at)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ReportView {
    pub report_id: Uuid,
    pub application_id: Uuid,
    pub household_id: Uuid,
    pub complete: bool,
    pub gaps: sqlx::types::Json<Vec<String>>,
    pub created_at: DateTime<Utc>,
    #[sqlx(skip)]
    pub sources: Vec<SourceView>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct SourceView {
    pub source: String,
    pub outcome: String,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

pub async fn report(db: &PgPool, application_id: Uuid) -> sqlx::Result<Option<ReportView>> {
    let Some(mut r): Option<ReportView> =
        sqlx::query_as("SELECT report_id, application_id, household_id, complete, gaps, created_at FROM reports WHERE application_id = $1")
            .bind(application_id)
            .fetch_optional(db)
            .await?
    else {
        return Ok(None);
    };
    r.sources = sqlx::query_as("SELECT source, outcome, detail, at FROM report_sources WHERE report_id = $1 ORDER BY source")
        .bind(r.report_id)
        .fetch_all(db)
        .await?;
    Ok(Some(r))
}
