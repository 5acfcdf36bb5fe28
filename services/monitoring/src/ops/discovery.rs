//! Active discovery (主动发现): each report opens a case the way a feed does, an
//! `active_discovery` warning assigned to the township of the person's region code. A report id
//! opens one case, however often it is sent.

use crate::domain::{township_of, Via, WarningKind};
use crate::state::State;
use crate::store::{self, warnings::NewWarning};
use axum::http::HeaderMap;
use chrono::NaiveDate;
use contract::DiscoveryReport;
use mesh::audit::{self, Entry};
use mesh::auth::Actor;
use policy::{RegionCode, ResidentId};
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

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

/// Records a valid report and raises its warning, in the caller's transaction; `received_by` is
/// the officer who entered it (over HTTP), whose audit record (`discovery.report`) is appended
/// in the same transaction.
pub async fn open_case(
    state: &State,
    tx: &mut PgConnection,
    r: &DiscoveryReport,
    via: Via,
    received_by: Option<(&Actor, &HeaderMap)>,
    today: NaiveDate,
) -> anyhow::Result<Opened> {
    let region = RegionCode::parse(&r.region_code)?;
    let params = state.policy.in_force(&region, today)?;
    let township_code = township_of(region.as_str());
    let dedupe_key = format!("discovery:{}", r.report_id);
    let warning_id = store::warnings::warning_id(&dedupe_key);
    let id_number = r
        .id_number
        .as_deref()
        .and_then(|i| ResidentId::parse(i).ok())
        .map(|i| i.as_str().to_owned());
    let inserted = store::discovery::insert(
        tx,
        r,
        id_number.as_deref(),
        region.as_str(),
        via,
        warning_id,
        received_by.map(|(a, _)| a),
    )
    .await?;
    // The person may already be assisted: the township sees it on the warning.
    let enrolled = match &id_number {
        Some(id) => store::households::assisted_person(tx, id).await?,
        None => None,
    };
    let verify_due = policy::dates::deadline(today, params.warning_verify_days);
    let (warning_id, raised) = store::warnings::raise(
        tx,
        &NewWarning {
            dedupe_key,
            kind: WarningKind::ActiveDiscovery,
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
    if let Some((officer, headers)) = received_by {
        let mut entry = Entry::new("discovery.report", "discovery_report", r.report_id)
            .purpose_from(headers)
            .detail(json!({
                "warning_id": warning_id,
                "township_code": township_code,
                "hardship": r.hardship.as_str(),
                "reporter": r.reporter.kind.as_str(),
                "new": inserted && raised,
            }));
        entry.household_id = enrolled.map(|e| e.0);
        entry.person_id = enrolled.map(|e| e.1);
        audit::append(tx, &state.mesh, officer, entry).await?;
    }
    Ok(Opened {
        report_id: r.report_id,
        warning_id,
        township_code,
        verify_due,
        enrolled: enrolled.is_some(),
        new: inserted && raised,
    })
}
