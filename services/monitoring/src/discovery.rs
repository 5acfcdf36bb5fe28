//! Active discovery (主动发现): a grid worker, the 12345 hotline, a village assistant or a social
//! organisation reports a person in hardship, by `POST /v1/discoveries` or on
//! `monitor.discovery.reported`. Each report opens a case the way a feed does: an
//! `active_discovery` warning assigned to the township of the person's region code. A report id
//! opens one case, however often it is sent.

use crate::app::State;
use crate::rules;
use crate::warnings::{self, NewWarning};
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::NaiveDate;
use contract::{DiscoveryReport, ReporterKind};
use mesh::consumer::Outcome;
use mesh::http::{ApiError, FieldError, JsonBody};
use mesh::{Delivery, HandlerError, Mesh};
use policy::{RegionCode, ResidentId};
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route("/v1/discoveries", post(post_discovery))
        .with_state(state)
}

/// Every problem with a report, by field.
pub fn validate(
    r: &DiscoveryReport,
    book: &policy::PolicyBook,
    today: NaiveDate,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut text = |field: &str, value: &str, max: usize| {
        let n = value.trim().chars().count();
        if n == 0 || n > max {
            errors.push(FieldError::new(
                field,
                format!("must be 1 to {max} characters"),
            ));
        }
    };
    text("reporter.name", &r.reporter.name, 100);
    text("name", &r.name, 100);
    text("description", &r.description, 2000);
    if r.reporter.kind == ReporterKind::SocialOrganisation {
        match &r.reporter.organisation {
            Some(o) => text("reporter.organisation", o, 200),
            None => errors.push(FieldError::new(
                "reporter.organisation",
                "a social organisation's report names the organisation",
            )),
        }
    }
    if let Some(id) = &r.id_number {
        if let Err(e) = ResidentId::parse(id) {
            errors.push(FieldError::new("id_number", e.to_string()));
        }
    }
    match RegionCode::parse(&r.region_code) {
        Err(e) => errors.push(FieldError::new("region_code", e.to_string())),
        Ok(region) if region.as_str().len() < 9 => errors.push(FieldError::new(
            "region_code",
            "must name the township (9 digits) or village (12 digits) where the person lives",
        )),
        Ok(region) => {
            if book.in_force(&region, today).is_err() {
                errors.push(FieldError::new(
                    "region_code",
                    format!("no parameter set covers region {region}"),
                ));
            }
        }
    }
    if r.reported_on > today {
        errors.push(FieldError::new("reported_on", "is in the future"));
    }
    errors
}

#[derive(Debug, Serialize)]
pub struct Opened {
    pub report_id: Uuid,
    pub warning_id: Uuid,
    pub township_code: String,
    pub verify_due: NaiveDate,
    /// The person is already in the low-income population database (still worth a look).
    pub enrolled: bool,
    /// False when the report id had been received before: the case it opened is answered.
    pub new: bool,
}

/// Records a valid report and raises its warning, in the caller's transaction.
pub async fn open_case(
    state: &State,
    tx: &mut PgConnection,
    r: &DiscoveryReport,
    via: &str,
    today: NaiveDate,
) -> anyhow::Result<Opened> {
    let region = RegionCode::parse(&r.region_code)?;
    let params = state.policy.in_force(&region, today)?;
    let township_code = rules::township_of(region.as_str());
    let dedupe_key = format!("discovery:{}", r.report_id);
    let warning_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, dedupe_key.as_bytes());
    let id_number = r
        .id_number
        .as_deref()
        .and_then(|i| ResidentId::parse(i).ok())
        .map(|i| i.as_str().to_owned());
    let inserted = sqlx::query(
        "INSERT INTO discovery_reports (report_id, reporter_kind, reporter_name, organisation, name, id_number, region_code, hardship, description, reported_on, via, warning_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (report_id) DO NOTHING",
    )
    .bind(r.report_id)
    .bind(r.reporter.kind.as_str())
    .bind(r.reporter.name.trim())
    .bind(r.reporter.organisation.as_deref().map(str::trim))
    .bind(r.name.trim())
    .bind(&id_number)
    .bind(region.as_str())
    .bind(r.hardship.as_str())
    .bind(r.description.trim())
    .bind(r.reported_on)
    .bind(via)
    .bind(warning_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    // The person may already be assisted: the township sees it on the warning.
    let enrolled: Option<(Uuid, Uuid)> = match &id_number {
        Some(id) => {
            sqlx::query_as(
                "SELECT p.household_id, p.member_id FROM persons p JOIN households h ON h.household_id = p.household_id
                 WHERE p.id_number = $1 AND p.status <> 'stopped' AND h.status <> 'stopped' LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        }
        None => None,
    };
    let verify_due = policy::dates::deadline(today, params.warning_verify_days);
    let (warning_id, raised) = warnings::raise(
        tx,
        &NewWarning {
            dedupe_key,
            kind: "active_discovery".into(),
            household_id: enrolled.map(|e| e.0),
            member_id: enrolled.map(|e| e.1),
            township_code: township_code.clone(),
            detail: json!({
                "report_id": r.report_id,
                "reporter": r.reporter.kind.as_str(),
                "hardship": r.hardship.as_str(),
                "reported_on": r.reported_on,
                "enrolled": enrolled.is_some(),
                "policy_version": params.version,
            }),
            verify_due,
            raised_at: state.mesh.clock.now(),
        },
    )
    .await?;
    Ok(Opened {
        report_id: r.report_id,
        warning_id,
        township_code,
        verify_due,
        enrolled: enrolled.is_some(),
        new: inserted && raised,
    })
}

async fn post_discovery(
    AxState(state): AxState<State>,
    JsonBody(report): JsonBody<DiscoveryReport>,
) -> Result<(StatusCode, Json<Opened>), ApiError> {
    let today = state.mesh.today();
    let errors = validate(&report, &state.policy, today);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut tx = state.mesh.db.begin().await?;
    let opened = open_case(&state, &mut tx, &report, "http", today).await?;
    tx.commit().await?;
    tracing::info!(
        reporter = report.reporter.kind.as_str(),
        hardship = report.hardship.as_str(),
        new = opened.new,
        "Active-discovery report received."
    );
    let status = if opened.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(opened)))
}

/// `monitor.discovery.reported` → the same case as over HTTP.
pub async fn on_reported(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<DiscoveryReport>()?;
    let today = state.mesh.today();
    let errors = validate(&e.data, &state.policy, today);
    if !errors.is_empty() {
        return Err(HandlerError::Poison(
            errors
                .iter()
                .map(|f| format!("{}: {}", f.field, f.reason))
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let opened = open_case(&state, &mut tx, &e.data, "subject", today).await?;
    tx.commit().await?;
    tracing::info!(
        reporter = e.data.reporter.kind.as_str(),
        hardship = e.data.hardship.as_str(),
        new = opened.new,
        "Active-discovery report received."
    );
    Ok(Outcome::Applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::{Hardship, Reporter};

    #[test]
    fn a_report_names_its_reporter_and_a_township_and_is_not_from_the_future() {
        let book = policy::PolicyBook::builtin();
        let today: NaiveDate = "2026-11-22".parse().unwrap();
        let good = DiscoveryReport {
            report_id: Uuid::nil(),
            reporter: Reporter {
                kind: ReporterKind::GridWorker,
                name: "Grid worker Li".into(),
                organisation: None,
            },
            name: "Wang".into(),
            id_number: None,
            region_code: "410102001001".into(),
            hardship: Hardship::Illness,
            description: "bedridden, no income".into(),
            reported_on: today,
        };
        assert!(validate(&good, &book, today).is_empty());
        let mut bad = good.clone();
        bad.reporter.name = " ".into();
        bad.reporter.kind = ReporterKind::SocialOrganisation;
        bad.region_code = "410102".into();
        bad.id_number = Some("123".into());
        bad.reported_on = "2026-11-23".parse().unwrap();
        let fields: Vec<String> = validate(&bad, &book, today)
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(
            fields,
            [
                "reporter.name",
                "reporter.organisation",
                "id_number",
                "region_code",
                "reported_on"
            ]
        );
    }

    #[test]
    fn names_on_the_wire_are_the_names_in_code_and_docs() {
        for f in contract::FeedSource::ALL {
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
            assert_eq!(contract::FeedSource::parse(f.as_str()), Some(f));
        }
        for k in [
            ReporterKind::GridWorker,
            ReporterKind::Hotline12345,
            ReporterKind::VillageAssistant,
            ReporterKind::SocialOrganisation,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for h in [
            Hardship::Illness,
            Hardship::Disability,
            Hardship::Education,
            Hardship::Unemployment,
            Hardship::Disaster,
            Hardship::Housing,
            Hardship::Livelihood,
        ] {
            assert_eq!(serde_json::to_value(h).unwrap(), h.as_str());
        }
    }
}
