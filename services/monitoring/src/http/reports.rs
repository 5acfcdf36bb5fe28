//! Supervision reports (数字监督) over HTTP, as JSON or CSV (`Accept: text/csv` or
//! `?format=csv`): `GET /v1/reports/monthly` and `GET /v1/reports/quarterly` (what they count:
//! [`crate::domain::reports`]).

use crate::domain::reports::{self, midnight, CsvRow, MonthlyRow, Quarter, QuarterlyRow};
use crate::state::State;
use crate::store;
use axum::extract::State as AxState;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use mesh::audit::{self, Entry};
use mesh::auth::allow;
use mesh::http::Query;
use mesh::http::{ApiError, FieldError};
use mesh::{Acting, Mesh, Role};
use policy::{Month, RegionCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The roles that read the supervision reports.
const READ: &[Role] = &[
    Role::CountyOfficer,
    Role::CountyApprover,
    Role::CitySupervisor,
    Role::Auditor,
];

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route("/v1/reports/monthly", get(monthly).layer(allow(READ)))
        .route("/v1/reports/quarterly", get(quarterly).layer(allow(READ)))
        .with_state(state)
}

/// The audit record of a report read (`report.read`) or exported as CSV (`report.export`),
/// appended before the report leaves.
#[allow(clippy::too_many_arguments)]
async fn audited(
    state: &State,
    acting: &Acting,
    headers: &HeaderMap,
    kind: &str,
    period: &str,
    district: Option<&str>,
    rows: usize,
    as_csv: bool,
) -> Result<(), ApiError> {
    let action = if as_csv {
        "report.export"
    } else {
        "report.read"
    };
    let id = format!("{}/{period}", district.unwrap_or("all"));
    let entry = Entry::new(action, kind, id)
        .purpose_from(headers)
        .detail(json!({"district": district, "period": period, "rows": rows, "format": if as_csv { "csv" } else { "json" }}));
    audit::record(&state.mesh, &acting.actor(), entry).await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    pub district: Option<String>,
    pub month: Option<String>,
    pub quarter: Option<String>,
    /// Quarterly: "today", for what is not yet due (the real date when absent).
    pub as_of: Option<String>,
    /// `csv` or `json`; otherwise the `Accept` header decides.
    pub format: Option<String>,
}

/// The district asked for; 403 when it is outside the caller's areas (found by
/// [`Acting::require_area`] after the fields are valid).
fn district(q: &ReportQuery, errors: &mut Vec<FieldError>) -> Option<String> {
    let d = q.district.as_deref()?.trim();
    if d.len() != 6 || RegionCode::parse(d).is_err() {
        errors.push(FieldError::new("district", "a 6-digit district code"));
        return None;
    }
    Some(d.to_owned())
}

fn wants_csv(q: &ReportQuery, headers: &HeaderMap, errors: &mut Vec<FieldError>) -> bool {
    match q.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(_) => {
            errors.push(FieldError::new("format", "csv or json"));
            false
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
    }
}
fn csv<R: CsvRow>(rows: &[R], filename: &str) -> Response {
    let mut out = R::HEADER.join(",");
    out.push('\n');
    for r in rows {
        out.push_str(&r.values().join(","));
        out.push('\n');
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        out,
    )
        .into_response()
}

#[derive(Debug, Serialize)]
pub struct MonthlyReport {
    pub month: String,
    pub district: Option<String>,
    pub rows: Vec<MonthlyRow>,
}

/// The month's rows of the districts in `areas` (`LIKE` patterns), or of `district` alone.
pub async fn monthly_rows(
    db: &sqlx::PgPool,
    clock: &mesh::Clock,
    areas: &[String],
    district: Option<&str>,
    month: Month,
) -> sqlx::Result<Vec<MonthlyRow>> {
    let (from, to) = (
        midnight(month.first_day(), clock),
        midnight(month.next().first_day(), clock),
    );
    let warnings = store::reports::monthly_warnings(db, areas, district, from, to).await?;
    let referrals = store::reports::monthly_referrals(db, areas, district, from, to).await?;
    Ok(reports::monthly_rows(district, month, warnings, referrals))
}

async fn monthly(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let district = district(&q, &mut errors);
    let month = match q.month.as_deref() {
        None => Month::of(state.mesh.today()),
        Some(m) => Month::parse(m).unwrap_or_else(|_| {
            errors.push(FieldError::new("month", "a month, YYYY-MM"));
            Month::of(state.mesh.today())
        }),
    };
    let as_csv = wants_csv(&q, &headers, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if let Some(d) = &district {
        acting.require_area("district", d)?;
    }
    let mut rows = monthly_rows(
        &state.mesh.db,
        &state.mesh.clock,
        &acting.region_patterns(),
        district.as_deref(),
        month,
    )
    .await?;
    if let Some(d) = &district {
        if rows.is_empty() {
            rows.push(MonthlyRow {
                district: d.clone(),
                month: month.to_string(),
                ..Default::default()
            });
        }
    }
    let period = month.to_string();
    audited(
        &state,
        &acting,
        &headers,
        "monthly_report",
        &period,
        district.as_deref(),
        rows.len(),
        as_csv,
    )
    .await?;
    if as_csv {
        let name = format!(
            "monthly-{}-{month}.csv",
            district.as_deref().unwrap_or("all")
        );
        return Ok(csv(&rows, &name));
    }
    Ok(Json(MonthlyReport {
        month: month.to_string(),
        district,
        rows,
    })
    .into_response())
}

#[derive(Debug, Serialize)]
pub struct QuarterlyReport {
    pub quarter: String,
    pub as_of: NaiveDate,
    pub district: Option<String>,
    pub rows: Vec<QuarterlyRow>,
}

/// The quarter's rows of the districts in `areas` (`LIKE` patterns), or of `district` alone.
pub async fn quarterly_rows(
    state: &State,
    areas: &[String],
    district: Option<&str>,
    quarter: Quarter,
    as_of: NaiveDate,
) -> Result<Vec<QuarterlyRow>, ApiError> {
    let db = &state.mesh.db;
    let (from, to) = (quarter.first_day(), quarter.last_day());
    let tz = state.mesh.clock.timezone().name();
    let warnings =
        store::reports::quarterly_warnings(db, areas, district, from, to, as_of, tz).await?;
    let referrals =
        store::reports::quarterly_referrals(db, areas, district, from, to, as_of, tz).await?;
    let complaints =
        store::reports::quarterly_complaints(db, areas, district, from, to, as_of).await?;
    let rows = reports::quarterly_rows(district, quarter, warnings, referrals, complaints);
    let mut out = Vec::new();
    for (d, mut r) in rows {
        let region = RegionCode::parse(&d)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored district code {d}: {e}")))?;
        let params = state
            .policy
            .in_force(&region, to)
            .map_err(|e| ApiError::Conflict(e.to_string()))?;
        let s = &params.supervision_score;
        r.policy_version = params.version.clone();
        r.warning_points = s.warning_points;
        r.referral_points = s.referral_points;
        r.complaint_points = s.complaint_points;
        r.escalation_penalty_points = s.escalation_penalty_points;
        r.score = reports::score(&r, s);
        out.push(r);
    }
    Ok(out)
}

async fn quarterly(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let district = district(&q, &mut errors);
    let today = state.mesh.today();
    let quarter = match q.quarter.as_deref() {
        None => Quarter::of(today),
        Some(s) => Quarter::parse(s).unwrap_or_else(|| {
            errors.push(FieldError::new("quarter", "a quarter, YYYY-Qn"));
            Quarter::of(today)
        }),
    };
    let as_of = super::warnings::as_of(&q.as_of, state.mesh.today(), &mut errors);
    let as_csv = wants_csv(&q, &headers, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if let Some(d) = &district {
        acting.require_area("district", d)?;
    }
    let rows = quarterly_rows(
        &state,
        &acting.region_patterns(),
        district.as_deref(),
        quarter,
        as_of,
    )
    .await?;
    let period = quarter.to_string();
    audited(
        &state,
        &acting,
        &headers,
        "quarterly_report",
        &period,
        district.as_deref(),
        rows.len(),
        as_csv,
    )
    .await?;
    if as_csv {
        let name = format!(
            "quarterly-{}-{quarter}.csv",
            district.as_deref().unwrap_or("all")
        );
        return Ok(csv(&rows, &name));
    }
    Ok(Json(QuarterlyReport {
        quarter: quarter.to_string(),
        as_of,
        district,
        rows,
    })
    .into_response())
}
