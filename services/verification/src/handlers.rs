//! Verification's consumers: verify a submitted application (or hold it while a source does not
//! answer); stop waiting for the sources of an application an officer verified by hand; schedule
//! an enrolled household's re-verifications and home visits.

use crate::hold::{self, First, ReportOf, Trace};
use crate::state::State;
use crate::{held, schedule, store};
use contract::{ApplicationSubmitted, HouseholdEnrolled, ManuallyVerified, QueryMember};
use mesh::consumer::Outcome;
use mesh::{ChainRef, Delivery, HandlerError};

/// Why recording a message's outcome failed.
enum Failed {
    /// A unique constraint says the application has its report (or hold) already: another
    /// delivery of the same application under a new event id got there first. Asking again would
    /// fail the same way, so it is not retried.
    Duplicate,
    Other(anyhow::Error),
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl From<sqlx::Error> for Failed {
    fn from(e: sqlx::Error) -> Self {
        if is_unique_violation(&e) {
            Failed::Duplicate
        } else {
            Failed::Other(e.into())
        }
    }
}

impl From<anyhow::Error> for Failed {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast_ref::<sqlx::Error>() {
            Some(s) if is_unique_violation(s) => Failed::Duplicate,
            _ => Failed::Other(e),
        }
    }
}

/// `intake.application.submitted` → `verify.household.verified`, or the application held while
/// a source does not answer ([`hold`]); the household enters the register, so that it can be
/// verified again once enrolled.
pub async fn on_submitted(
    state: State,
    e: mesh::Envelope<ApplicationSubmitted>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    // Asking eight sources is slow: skip it for a message already handled, and for the same
    // application under another event id (its business key is the application id).
    if mesh::outbox::handled(&state.mesh.db, &d.consumer, &e.id).await? {
        return Ok(Outcome::Duplicate);
    }
    if held::known(&state.mesh.db, e.data.application_id).await? {
        tracing::info!("The application is reported or held already: a duplicate under a new event id; no data holder is asked.");
        return Ok(Outcome::Duplicate);
    }
    let chain = ChainRef::answering(&e);
    let members = query_members(&e.data);
    let down = held::sources_down(&state.mesh.db).await?;
    let (parts, asked) = hold::ask_first(&state, &chain, &members, &down).await;

    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let recorded: Result<First, Failed> = async {
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
        let reached: Vec<&crate::sources::Asked> = parts
            .iter()
            .filter(|p| asked.contains(&p.provenance.source))
            .collect();
        hold::note_health(&state, &mut tx, &reached).await?;
        let of = ReportOf {
            application_id: e.data.application_id,
            chain: &chain,
            members: &members,
            region_code: Some(e.data.region_code.as_str()),
        };
        let trace = Trace {
            traceparent: d.header("traceparent"),
            tracestate: d.header("tracestate"),
        };
        Ok(hold::report_or_hold(&state, &mut tx, &of, &parts, &trace).await?)
    }
    .await;
    match recorded {
        Ok(_) => {
            tx.commit().await?;
            Ok(Outcome::Applied)
        }
        Err(Failed::Duplicate) => {
            tx.rollback().await?;
            tracing::info!("Another delivery of the application recorded its verification first; this one is a duplicate.");
            Ok(Outcome::Duplicate)
        }
        Err(Failed::Other(e)) => Err(HandlerError::Transient(e)),
    }
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

/// `intake.application.manually_verified` → the officer's completion is recorded and the
/// application is no longer held: no source is asked about it again, and no later answer
/// supersedes the officer's work.
pub async fn on_manually_verified(
    state: State,
    e: mesh::Envelope<ManuallyVerified>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let application_id = e.data.application_id;
    // The officer is the one intake's event names in its envelope (from their access token).
    held::record_manual(
        &mut tx,
        application_id,
        &e.data.verified_by,
        e.actor.as_ref(),
        &e.id,
        e.time,
    )
    .await?;
    let was_held = held::remove(&mut tx, application_id).await?;
    tx.commit().await?;
    tracing::info!(
        was_held,
        "Verification completed by an officer; its sources are not asked again."
    );
    Ok(Outcome::Applied)
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
