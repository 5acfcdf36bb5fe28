//! Consultations, complaints and reports (咨询、投诉、举报): received and routed, investigated
//! (举报核查), answered, escalated when overdue. Each step commits with its audit record and its
//! `monitor.complaint.{step}` event (through the outbox), which is a step of the household's
//! chain when the complaint concerns one.

use crate::domain::complaints::{answer_due, escalation_target, ComplaintStatus};
use crate::state::State;
use crate::store;
use crate::store::complaints::{ComplaintView, NewComplaint};
use axum::http::HeaderMap;
use chrono::NaiveDate;
use contract::channels::{COMPLAINT_PROGRESS, DISHONESTY_RECORDED};
use contract::{
    AssistanceChange, ComplaintCategory, ComplaintProgress, ComplaintStep, DishonestMember,
    DishonestyRecorded, Finding, HouseholdChanged,
};
use mesh::audit::{self, Entry};
use mesh::http::{ApiError, FieldError};
use mesh::{Acting, Actor, ChainRef};
use policy::{Month, RegionCode};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

fn not_found() -> ApiError {
    ApiError::NotFound("no complaint with this id".into())
}

/// The audit entry of `action` on complaint `c`: ids and outcomes, never the filer or the text.
fn entry(action: &str, c: &ComplaintView, headers: Option<&HeaderMap>) -> Entry {
    let mut e = Entry::new(action, "complaint", c.complaint_id);
    if let Some(h) = headers {
        e = e.purpose_from(h);
    }
    e.household_id = c.household_id;
    e.detail(json!({
        "category": c.category,
        "received_via": c.received_via,
        "region_code": c.region_code,
        "answer_due": c.answer_due,
        "escalated_to": c.escalated_to,
    }))
}

/// Sends `step` of `c` through the outbox, by `actor` when a person took it; on the household's
/// chain when the complaint concerns a household that has one.
async fn emit(
    state: &State,
    tx: &mut PgConnection,
    c: &ComplaintView,
    step: ComplaintStep,
    actor: &Actor,
) -> Result<(), ApiError> {
    let handling = c.escalated_to.as_deref().unwrap_or(&c.region_code);
    let region_code = RegionCode::parse(handling)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored region code: {e}")))?;
    let progress = ComplaintProgress {
        complaint_id: c.complaint_id,
        step,
        category: c.category,
        received_via: c.received_via,
        region_code,
        answer_due: c.answer_due,
        finding: c.finding,
        on_time: c.on_time,
        officer_concerned: c.officer_concerned.clone(),
    };
    let chain = store::chain::reference(&state.mesh.db, c.household_id).await?;
    let out = state
        .mesh
        .envelope(&chain, Some(c.complaint_id.to_string()), progress)
        .by(actor.clone());
    mesh::outbox::enqueue_to(
        &mut *tx,
        &state.mesh.subjects,
        COMPLAINT_PROGRESS,
        step.as_str(),
        &out,
    )
    .await?;
    Ok(())
}

/// A complaint as the receiving officer entered it (validated by the route).
#[derive(Debug, Clone)]
pub struct Intake {
    pub complaint: NewComplaint,
    /// The region was given (not taken from the household).
    pub region_given: bool,
}

/// Receives a complaint as the acting officer: routed to the region given or to the township
/// of the household it concerns; the deadline by its category under the region's parameters.
/// A reference already recorded from the same channel returns that complaint (`false`).
pub async fn receive(
    state: &State,
    acting: &Acting,
    headers: &HeaderMap,
    mut intake: Intake,
) -> Result<(ComplaintView, bool), ApiError> {
    let officer = acting.actor();
    let today = state.mesh.today();
    let areas = acting.region_patterns();
    let mut tx = state.mesh.db.begin().await?;
    let c = &mut intake.complaint;
    if let Some(existing) =
        store::complaints::by_reference(&mut tx, c.received_via, &c.reference).await?
    {
        let view = store::complaints::get(&mut tx, existing, &areas, today, false)
            .await?
            .ok_or_else(|| {
                ApiError::Conflict(format!(
                    "this reference of {} was recorded for a complaint outside your areas",
                    c.received_via
                ))
            })?;
        return Ok((view, false));
    }
    if let Some(h) = c.household_id {
        let known = store::chain::region_of(&mut tx, h).await?;
        match (known, intake.region_given) {
            (Some(r), false) => c.region_code = r.chars().take(9).collect(),
            (None, false) => {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "region_code",
                    "required: household_id names no household the mesh knows to route it by",
                )]))
            }
            _ => {}
        }
    }
    acting.require_area("region_code", &c.region_code)?;
    let region = RegionCode::parse(&c.region_code).map_err(|_| {
        ApiError::Validation(vec![FieldError::new(
            "region_code",
            "a township (9 digits) or county (6 digits) code",
        )])
    })?;
    let params = state
        .policy
        .in_force(&region, today)
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    c.received_on = today;
    c.received_at = state.mesh.clock.now();
    c.answer_due = answer_due(c.category, today, &params.complaint_answer_days);
    c.complaint_id = Uuid::new_v4();
    let new = store::complaints::insert(&mut tx, c, &officer).await?;
    if !new {
        // Filed at the same moment by another request: that one's.
        tx.rollback().await?;
        let mut conn = state.mesh.db.acquire().await?;
        let id = store::complaints::by_reference(&mut conn, c.received_via, &c.reference)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("complaint vanished")))?;
        let view = store::complaints::get(&mut conn, id, &areas, today, false)
            .await?
            .ok_or_else(not_found)?;
        return Ok((view, false));
    }
    let view = store::complaints::get(&mut tx, c.complaint_id, &areas, today, false)
        .await?
        .ok_or_else(not_found)?;
    emit(state, &mut tx, &view, ComplaintStep::Received, &officer).await?;
    audit::append(
        &mut tx,
        &state.mesh,
        &officer,
        entry("complaint.receive", &view, Some(headers)),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(complaint_id = %view.complaint_id, category = %view.category, "Complaint received.");
    Ok((view, true))
}

/// An objection (异议) to an approval disclosure during its notice period, from intake
/// (`intake.disclosure.objected`), received as a report (举报) concerning the household and its
/// application, routed to the township of the village whose notice it objects to, received by
/// intake's public route (`system:intake`). The objection's id is its reference: a redelivery
/// files it once (`false`).
pub async fn receive_objection(
    state: &State,
    tx: &mut PgConnection,
    household_id: Uuid,
    o: &contract::DisclosureObjected,
) -> Result<bool, mesh::HandlerError> {
    let via = contract::ComplaintVia::DisclosureObjection;
    let reference = o.objection_id.to_string();
    if store::complaints::by_reference(tx, via, &reference)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    let today = state.mesh.today();
    let township: String = o.region_code.as_str().chars().take(9).collect();
    let params = state
        .policy
        .in_force(&o.region_code, today)
        .map_err(|e| mesh::HandlerError::Poison(e.to_string()))?;
    let category = ComplaintCategory::Report;
    let c = NewComplaint {
        complaint_id: Uuid::new_v4(),
        reference,
        received_via: via,
        category,
        region_code: township,
        household_id: Some(household_id).filter(|h| !h.is_nil()),
        application_id: Some(o.application_id),
        officer_concerned: None,
        summary: format!("审批公示异议(公示期至{}): {}", o.notice_until, o.summary),
        filer: o.contact.as_ref().map(|c| store::complaints::Filer {
            name: c.name.clone(),
            phone: c.phone.clone(),
        }),
        received_on: today,
        received_at: state.mesh.clock.now(),
        answer_due: answer_due(category, today, &params.complaint_answer_days),
    };
    let by = Actor::system("intake");
    if !store::complaints::insert(tx, &c, &by).await? {
        return Ok(false);
    }
    let view = store::complaints::get(tx, c.complaint_id, &["%".to_owned()], today, false)
        .await?
        .ok_or_else(|| anyhow::anyhow!("complaint {} vanished", c.complaint_id))?;
    emit(state, tx, &view, ComplaintStep::Received, &by)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    audit::append(
        tx,
        &state.mesh,
        &by,
        entry("complaint.receive", &view, None),
    )
    .await?;
    tracing::info!(complaint_id = %view.complaint_id, "Objection to an approval disclosure received as a report.");
    Ok(true)
}

/// The complaint `id` of the caller's areas, locked, and the officer who acts on it: 404
/// outside the areas, 403 for the officer the complaint is about.
async fn locked_for(
    tx: &mut PgConnection,
    acting: &Acting,
    id: Uuid,
    today: NaiveDate,
) -> Result<(ComplaintView, Actor), ApiError> {
    let c = store::complaints::get(tx, id, &acting.region_patterns(), today, true)
        .await?
        .ok_or_else(not_found)?;
    let officer = acting.actor();
    if c.officer_concerned.as_deref() == Some(officer.sub.as_str()) {
        return Err(ApiError::Forbidden(
            "the complaint is about you; another officer must handle it".to_owned(),
        ));
    }
    Ok((c, officer))
}

/// The investigation (举报核查) of a complaint or report by the acting officer, with the
/// finding: 409 for a consultation (answered, not investigated) or one already investigated or
/// answered. A report confirmed as fraud from `fraud_from` (003: 骗取救助资金; 002: "依法依规
/// 追回非法获取的物资、救助金") stops the household's assistance from that month in the same
/// transaction (`monitor.household.changed`, stopped, reason `fraud`), and payment recovers
/// what was paid for every month since; 422 for a fraud month on anything but a substantiated
/// report, 409 when it names no enrolled household.
pub async fn investigate(
    state: &State,
    acting: &Acting,
    headers: &HeaderMap,
    id: Uuid,
    finding: Finding,
    findings: &str,
    fraud_from: Option<Month>,
) -> Result<ComplaintView, ApiError> {
    let today = state.mesh.today();
    let mut tx = state.mesh.db.begin().await?;
    let (c, officer) = locked_for(&mut tx, acting, id, today).await?;
    if !c.category.needs_investigation() {
        return Err(ApiError::Conflict(
            "the complaint is a consultation: it is answered, not investigated".to_owned(),
        ));
    }
    if c.status != ComplaintStatus::Received {
        return Err(ApiError::Conflict(format!(
            "the complaint was already {}",
            c.status
        )));
    }
    let now = state.mesh.clock.now();
    let fraud = match fraud_from {
        None => None,
        Some(from) => Some((
            from.to_string(),
            stop_for_fraud(state, &mut tx, &c, finding, from, &officer, today).await?,
        )),
    };
    let found = store::complaints::Investigation {
        finding,
        findings,
        fraud,
    };
    store::complaints::set_investigated(&mut tx, id, &officer, &found, now).await?;
    let view = store::complaints::get(&mut tx, id, &acting.region_patterns(), today, false)
        .await?
        .ok_or_else(not_found)?;
    emit(state, &mut tx, &view, ComplaintStep::Investigated, &officer).await?;
    let mut record = entry("complaint.investigate", &view, Some(headers));
    record.detail["finding"] = json!(finding);
    record.detail["fraud_from_month"] = json!(view.fraud_from_month);
    record.detail["stop_change_id"] = json!(view.stop_change_id);
    audit::append(&mut tx, &state.mesh, &officer, record).await?;
    tx.commit().await?;
    tracing::info!(complaint_id = %id, finding = finding.as_str(), "Complaint investigated.");
    Ok(view)
}

/// The stop of a household whose report was confirmed as fraud from `from`: the whole
/// household, from that month; its change id is stable from the complaint's.
async fn stop_for_fraud(
    state: &State,
    tx: &mut PgConnection,
    c: &ComplaintView,
    finding: Finding,
    from: Month,
    officer: &Actor,
    today: NaiveDate,
) -> Result<Uuid, ApiError> {
    let confirmed = matches!(
        finding,
        Finding::Substantiated | Finding::PartlySubstantiated
    );
    if c.category != ComplaintCategory::Report || !confirmed {
        return Err(ApiError::Validation(vec![FieldError::new(
            "fraud_from_month",
            "only a report found substantiated or partly substantiated confirms a fraud",
        )]));
    }
    let Some(household_id) = c.household_id else {
        return Err(ApiError::Conflict(
            "the complaint names no household to stop".to_owned(),
        ));
    };
    let change = HouseholdChanged {
        change_id: Uuid::new_v5(&c.complaint_id, b"fraud"),
        member_id: None,
        change: AssistanceChange::Stopped,
        reason: contract::STOP_REASON_FRAUD.into(),
        occurred_on: today,
        stop_from_month: from,
        exit_months: None,
        decided_by: format!("officer:{}", officer.name),
    };
    let chain = crate::ops::warnings::stop_by(state, tx, household_id, &change, officer).await?;
    record_dishonesty(state, tx, c, household_id, &chain, from, officer, today).await?;
    tracing::info!(household_id = %household_id, from_month = %from, "Fraud confirmed; the household's assistance stops.");
    Ok(change.change_id)
}

/// The household's dishonesty record (失信记录), with the dates its region's
/// `dishonesty_record` parameters give, for intake to hold its members' new applications to.
#[allow(clippy::too_many_arguments)]
async fn record_dishonesty(
    state: &State,
    tx: &mut PgConnection,
    c: &ComplaintView,
    household_id: Uuid,
    chain: &ChainRef,
    from: Month,
    officer: &Actor,
    today: NaiveDate,
) -> Result<(), ApiError> {
    let internal = |e: String| ApiError::Internal(anyhow::anyhow!(e));
    let region_code = store::households::region_of(tx, household_id)
        .await?
        .ok_or_else(|| internal(format!("household {household_id} has no region")))?;
    let region = RegionCode::parse(&region_code).map_err(|e| internal(e.to_string()))?;
    let params = state
        .policy
        .in_force(&region, today)
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    let after = |months: u32| {
        today
            .checked_add_months(chrono::Months::new(months))
            .unwrap_or(NaiveDate::MAX)
    };
    let members = store::households::members(tx, household_id)
        .await?
        .into_iter()
        .map(|(member_id, id_number)| DishonestMember {
            member_id,
            id_number,
        })
        .collect();
    let record = DishonestyRecorded {
        record_id: crate::ops::dishonesty::record_id(c.complaint_id),
        region_code: region,
        members,
        reason: contract::STOP_REASON_FRAUD.into(),
        complaint_id: c.complaint_id,
        fraud_from_month: from,
        recorded_on: today,
        waiting_until: after(params.dishonesty_record.waiting_months),
        expires_on: after(params.dishonesty_record.record_months),
        policy_version: params.version.clone(),
    };
    let out = state
        .mesh
        .envelope(chain, Some(household_id.to_string()), record)
        .by(officer.clone());
    mesh::outbox::enqueue_on(&mut *tx, &state.mesh.subjects, DISHONESTY_RECORDED, &out).await?;
    Ok(())
}

/// The answer to the person who filed it, by the acting officer: a complaint or report once
/// investigated (409 before), a consultation at once; 409 when already answered.
pub async fn answer(
    state: &State,
    acting: &Acting,
    headers: &HeaderMap,
    id: Uuid,
    text: &str,
) -> Result<ComplaintView, ApiError> {
    let today = state.mesh.today();
    let mut tx = state.mesh.db.begin().await?;
    let (c, officer) = locked_for(&mut tx, acting, id, today).await?;
    match c.status {
        ComplaintStatus::Answered => {
            return Err(ApiError::Conflict(
                "the complaint was already answered".to_owned(),
            ))
        }
        ComplaintStatus::Received if c.category.needs_investigation() => {
            return Err(ApiError::Conflict(format!(
                "the complaint is a {} and has not been investigated: investigate it first",
                c.category
            )))
        }
        ComplaintStatus::Received | ComplaintStatus::Investigated => {}
    }
    let now = state.mesh.clock.now();
    store::complaints::set_answered(&mut tx, id, &officer, text, now, today).await?;
    let view = store::complaints::get(&mut tx, id, &acting.region_patterns(), today, false)
        .await?
        .ok_or_else(not_found)?;
    emit(state, &mut tx, &view, ComplaintStep::Answered, &officer).await?;
    let mut record = entry("complaint.answer", &view, Some(headers));
    record.detail["on_time"] = json!(view.on_time);
    audit::append(&mut tx, &state.mesh, &officer, record).await?;
    tx.commit().await?;
    tracing::info!(complaint_id = %id, on_time = ?view.on_time, "Complaint answered.");
    Ok(view)
}

/// Every complaint unanswered past its deadline before `as_of` goes one level up (township →
/// county → city), with its `escalated` event; in the sweep's transaction. Returns how many.
pub async fn escalate_overdue(
    state: &State,
    tx: &mut PgConnection,
    as_of: NaiveDate,
) -> anyhow::Result<usize> {
    let overdue = store::complaints::overdue_unescalated(tx, as_of).await?;
    let now = state.mesh.clock.now();
    let system = Actor::system(&state.mesh.settings.service);
    let everywhere = vec!["%".to_owned()];
    for o in &overdue {
        let to = escalation_target(&o.region_code);
        store::complaints::set_escalated(tx, o.complaint_id, &to, now).await?;
        let view = store::complaints::get(tx, o.complaint_id, &everywhere, as_of, false)
            .await?
            .ok_or_else(|| anyhow::anyhow!("complaint {} vanished", o.complaint_id))?;
        emit(state, tx, &view, ComplaintStep::Escalated, &system)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        audit::append(
            tx,
            &state.mesh,
            &system,
            entry("complaint.escalate", &view, None),
        )
        .await?;
    }
    Ok(overdue.len())
}
