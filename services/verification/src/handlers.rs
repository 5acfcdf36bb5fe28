//! Verification's consumers: verify a submitted application; schedule an enrolled household's
//! re-verifications and home visits.

use crate::sources::{self, Findings};
use crate::state::State;
use crate::{schedule, store};
use contract::channels::HOUSEHOLD_VERIFIED;
use contract::{ApplicationSubmitted, HouseholdEnrolled, HouseholdVerified, QueryMember};
use mesh::consumer::Outcome;
use mesh::{ChainRef, Delivery, HandlerError};
use uuid::Uuid;

/// `intake.application.submitted` → `verify.household.verified`; the household enters the
/// register, so that it can be verified again once enrolled.
pub async fn on_submitted(
    state: State,
    e: mesh::Envelope<ApplicationSubmitted>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    // Asking eight sources is slow: skip it for a message already handled.
    if mesh::outbox::handled(&state.mesh.db, &d.consumer, &e.id).await? {
        return Ok(Outcome::Duplicate);
    }
    let chain = ChainRef::answering(&e);
    let members = query_members(&e.data);
    let asked = sources::ask_all(&state, &chain, members.clone()).await;
    let member_ids: Vec<Uuid> = e.data.members.iter().map(|m| m.member_id).collect();
    let report = verified(&e.data, sources::assemble(&member_ids, &asked));

    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    store::upsert_register(
        &mut tx,
        &store::Registration {
            household_id: e.household_id,
            chain_id: e.chain_id,
            application_id: e.data.application_id,
            region_code: e.data.region_code.as_str(),
            members: &members,
        },
    )
    .await?;
    store::insert_report(
        &mut tx,
        &store::NewReport {
            report_id: report.report_id,
            application_id: report.application_id,
            household_id: e.household_id,
            purpose: store::Purpose::Application,
            complete: report.complete,
            gaps: &report.gaps,
            members: &report.members,
        },
        &asked,
    )
    .await?;
    let out = state
        .mesh
        .envelope(&chain, Some(report.application_id.to_string()), report);
    mesh::outbox::enqueue_on(&mut tx, &state.mesh.subjects, HOUSEHOLD_VERIFIED, &out).await?;
    tx.commit().await?;
    tracing::info!(
        complete = out.data.complete,
        gaps = out.data.gaps.len(),
        "Household verified."
    );
    Ok(Outcome::Applied)
}

/// What a data holder is asked about the application's members.
fn query_members(app: &ApplicationSubmitted) -> Vec<QueryMember> {
    app.members
        .iter()
        .map(|m| QueryMember {
            member_id: m.member_id,
            id_number: m.id_number.clone(),
        })
        .collect()
}

/// The report of an application from what the sources said.
pub fn verified(app: &ApplicationSubmitted, f: Findings) -> HouseholdVerified {
    HouseholdVerified {
        application_id: app.application_id,
        report_id: Uuid::new_v4(),
        complete: f.complete,
        gaps: f.gaps,
        sources: f.sources,
        members: f.members,
    }
}

/// `monitor.household.enrolled` → the household's first re-verification and home visit are due
/// `reverification_months` and `home_visit_months` after the enrolment date, by the parameter
/// set in force for its region on that date.
pub async fn on_enrolled(
    state: State,
    e: mesh::Envelope<HouseholdEnrolled>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let Some(entry) = store::register_entry_for_update(&mut tx, e.household_id).await? else {
        // The register row commits with the report that leads to the enrolment, so it cannot
        // arrive later: this household was never verified here.
        return Err(HandlerError::Poison(
            "the enrolled household is not in verification's register".into(),
        ));
    };
    if entry.enrolled {
        // Scheduled by an earlier enrolment: its dates, and re-verifications since, stand.
        tx.commit().await?;
        return Ok(Outcome::Applied);
    }
    let enrolled_on = state.mesh.clock.local_date(e.time);
    let params = schedule::params(&state.policy, &entry.region_code, enrolled_on)
        .map_err(HandlerError::Poison)?;
    let reverification_due = schedule::months_after(enrolled_on, params.reverification_months)
        .map_err(HandlerError::Poison)?;
    let home_visit_due = schedule::months_after(enrolled_on, params.home_visit_months)
        .map_err(HandlerError::Poison)?;
    store::enrol(
        &mut tx,
        e.household_id,
        reverification_due,
        home_visit_due,
        &e.id,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        %reverification_due,
        %home_visit_due,
        policy_version = %params.version,
        "Enrolled household scheduled for re-verification and home visits."
    );
    Ok(Outcome::Applied)
}
