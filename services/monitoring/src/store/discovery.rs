//! Table `discovery_reports`: active-discovery reports, with the personal data they carry
//! (never copied into warnings).

use crate::domain::Via;
use contract::DiscoveryReport;
use mesh::auth::Actor;
use sqlx::PgConnection;
use uuid::Uuid;

/// Records a valid report (its ID number normalised, or none), with the officer who entered it
/// (`received_by`, over HTTP); `false` when the report id was received before.
pub async fn insert(
    tx: &mut PgConnection,
    r: &DiscoveryReport,
    id_number: Option<&str>,
    region_code: &str,
    via: Via,
    warning_id: Uuid,
    received_by: Option<&Actor>,
) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "INSERT INTO discovery_reports (report_id, reporter_kind, reporter_name, organisation, name, id_number, region_code, hardship, description, reported_on, via, warning_id,
                received_by_sub, received_by_name, received_by_role)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (report_id) DO NOTHING",
        r.report_id,
        r.reporter.kind.as_str(),
        r.reporter.name.trim(),
        r.reporter.organisation.as_deref().map(str::trim),
        r.name.trim(),
        id_number,
        region_code,
        r.hardship.as_str(),
        r.description.trim(),
        r.reported_on,
        via as Via,
        warning_id,
        received_by.map(|a| a.sub.as_str()),
        received_by.map(|a| a.name.as_str()),
        received_by.map(|a| a.role.as_str()),
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1)
}
