//! Payment's consumers, one per channel, each thin: decode, take the delivery once, hand the
//! work to its module, commit (determinations in batches: the consumer takes and commits).

use crate::domain::ReceivedVia;
use crate::entitlements::{self, Facts};
use crate::state::State;
use crate::{iso20022, status_reports};
use contract::{
    BankStatusReport, EmergencyGranted, HouseholdChanged, HouseholdDetermined,
    HouseholdRedetermined,
};
use mesh::consumer::Outcome;
use mesh::{Delivery, HandlerError};
use sqlx::PgConnection;

/// `eligibility.household.determined` → the household's facts in the register, and its
/// instructions (`payment.instruction.created`) for its effective month and any month whose run
/// has already begun: the same instructions, with the same ids, as that month's run makes.
/// Batched (group commit): the consumer claims the delivery and commits its batch.
pub async fn on_determined(
    state: State,
    conn: &mut PgConnection,
    e: mesh::Envelope<HouseholdDetermined>,
    _d: Delivery,
) -> Result<Outcome, HandlerError> {
    let effective = e.data.effective_month;
    let facts = Facts::of(&e.data, &state.policy).map_err(HandlerError::Poison)?;
    entitlements::determined(&state, conn, &e, effective, &facts).await?;
    Ok(Outcome::Applied)
}

/// `eligibility.emergency.granted` → the stages in the register, and one
/// `payment.instruction.created` per stage, due on the stage's date (the first, for an act-first
/// grant, at once). The run of a stage's month finds it instructed already.
pub async fn on_emergency(
    state: State,
    e: mesh::Envelope<EmergencyGranted>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    entitlements::granted(&state, &mut tx, &e).await?;
    tx.commit().await?;
    tracing::info!(
        stages = e.data.stages.len(),
        act_first = e.data.act_first,
        "Emergency grant instructed."
    );
    Ok(Outcome::Applied)
}

/// `payment.bank.status` → the report taken in, once per envelope and once per report MsgId.
pub async fn on_status_report(
    state: State,
    e: mesh::Envelope<BankStatusReport>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let report = iso20022::parse_pain002(&e.data.xml)
        .map_err(|why| HandlerError::Poison(format!("not a valid pain.002: {why}")))?;
    if report.msg_id != e.data.msg_id {
        return Err(HandlerError::Poison(format!(
            "the payload names report {} but the document is {}",
            e.data.msg_id, report.msg_id
        )));
    }
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let done = status_reports::ingest(
        &state,
        &mut tx,
        &report,
        &e.data.xml,
        ReceivedVia::Nats,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(if done.duplicate {
        Outcome::Duplicate
    } else {
        Outcome::Applied
    })
}

/// `eligibility.household.redetermined` → the household's facts from `from_month` on (the new
/// amount is paid by that month's run; a month already instructed is settled by recovery cases
/// or a top-up of the difference), a stop when no cash tier is left, or a gradual exit.
pub async fn on_redetermined(
    state: State,
    e: mesh::Envelope<HouseholdRedetermined>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let settled = entitlements::redetermined(&state, &mut tx, &e).await?;
    tx.commit().await?;
    let r = &e.data;
    tracing::info!(
        cause = r.cause.as_str(),
        from_month = %r.from_month,
        before_fen = r.before.monthly_amount_fen,
        after_fen = r.after.monthly_amount_fen,
        stops = r.stops,
        recoveries = settled.recoveries,
        top_ups = settled.top_ups,
        "Re-determination recorded."
    );
    Ok(Outcome::Applied)
}

/// `monitor.household.changed` → a stop (or the end of a gradual exit) for a person or the whole
/// household from `stop_from_month`: later runs pay nothing for it, and what was already
/// instructed for those months is opened as recovery cases (`payment.recovery.opened`).
pub async fn on_changed(
    state: State,
    e: mesh::Envelope<HouseholdChanged>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let c = &e.data;
    let from = c.stop_from_month;
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let settled = entitlements::changed(&state, &mut tx, &e, from).await?;
    tx.commit().await?;
    tracing::info!(
        change = crate::domain::ChangeKind::from(c.change).as_str(),
        reason = %c.reason,
        stop_from_month = %from,
        person = c.member_id.is_some(),
        recoveries = settled.recoveries,
        "Assistance change recorded."
    );
    Ok(Outcome::Applied)
}
