//! Lifting a dishonesty record (失信记录) before it expires (复核撤销): the record of a report
//! confirmed as fraud is lifted by a county officer of the area who did not investigate it,
//! with the reason; `monitor.household.dishonesty_lifted` tells intake, which from that day
//! holds no new application of the household's members to it. The record's own expiry
//! (`dishonesty_record.record_months`) needs no step: intake holds an application to a record
//! only while it is in force.

use crate::state::State;
use crate::store;
use crate::store::dishonesty::Lift;
use axum::http::HeaderMap;
use contract::channels::DISHONESTY_LIFTED;
use contract::DishonestyLifted;
use mesh::audit::{self, Entry};
use mesh::http::ApiError;
use mesh::Acting;
use serde_json::json;
use uuid::Uuid;

/// The id of the dishonesty record a confirmed report `complaint_id` recorded.
pub fn record_id(complaint_id: Uuid) -> Uuid {
    Uuid::new_v5(&complaint_id, b"dishonesty")
}

/// Lifts the record of complaint `id`: 404 outside the officer's areas, 409 when the complaint
/// recorded none or its record was lifted already, 403 for the officer who investigated it.
pub async fn lift(
    state: &State,
    acting: &Acting,
    headers: &HeaderMap,
    id: Uuid,
    reason: &str,
) -> Result<Lift, ApiError> {
    let today = state.mesh.today();
    let mut tx = state.mesh.db.begin().await?;
    let c = store::complaints::get(&mut tx, id, &acting.region_patterns(), today, true)
        .await?
        .ok_or_else(|| ApiError::NotFound("no complaint with this id".into()))?;
    let (Some(household_id), Some(_)) = (c.household_id, c.fraud_from_month.as_deref()) else {
        return Err(ApiError::Conflict(
            "the complaint recorded no dishonesty: no fraud was confirmed by it".to_owned(),
        ));
    };
    let officer = acting.actor();
    if c.investigated_by.as_ref().map(|a| a.sub.as_str()) == Some(officer.sub.as_str()) {
        return Err(ApiError::Forbidden(
            "you confirmed the fraud of the complaint; another county officer must lift its record"
                .to_owned(),
        ));
    }
    let lift = Lift {
        record_id: record_id(id),
        complaint_id: id,
        household_id,
        lifted_on: today,
        reason: reason.to_owned(),
        lifted_by: officer.clone(),
        lifted_at: state.mesh.clock.now(),
    };
    if !store::dishonesty::insert(&mut tx, &lift).await? {
        return Err(ApiError::Conflict(
            "the dishonesty record of the complaint was lifted already".to_owned(),
        ));
    }
    // The household's chain; the nil chain (as complaints' events) if it is not open.
    let chain = store::chain::reference(&state.mesh.db, Some(household_id)).await?;
    let out = state
        .mesh
        .envelope(
            &chain,
            Some(household_id.to_string()),
            DishonestyLifted {
                record_id: lift.record_id,
                complaint_id: id,
                lifted_on: today,
                reason: reason.to_owned(),
            },
        )
        .by(officer.clone());
    mesh::outbox::enqueue_on(&mut tx, &state.mesh.subjects, DISHONESTY_LIFTED, &out).await?;
    let mut entry = Entry::new("dishonesty.lift", "complaint", id)
        .purpose_from(headers)
        .detail(json!({"record_id": lift.record_id, "lifted_on": today}));
    entry.household_id = Some(household_id);
    audit::append(&mut tx, &state.mesh, &officer, entry).await?;
    tx.commit().await?;
    tracing::info!(complaint_id = %id, record_id = %lift.record_id, "Dishonesty record lifted.");
    Ok(lift)
}
