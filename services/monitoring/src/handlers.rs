//! Monitoring's consumers, one per channel: decode, claim the event once, decide by
//! [`crate::domain`], write by [`crate::store`] (or an [`crate::ops`] step shared with the
//! routes), send through the outbox, commit.

use crate::domain::referrals::{need_of, Cause, Recipient, Referral};
use crate::domain::{rules, Via};
use crate::ops;
use crate::state::State;
use crate::store;
use contract::channels::{FEED_RECORD, HOUSEHOLD_CHANGED, HOUSEHOLD_ENROLLED, REFERRAL_FEEDBACK};
use contract::{
    AssistanceChange, DiscoveryReport, FeedRecord, FeedSource, HouseholdChanged,
    HouseholdDetermined, HouseholdEnrolled, HouseholdReverified, ReferralFeedback,
};
use mesh::consumer::Outcome;
use mesh::envelope::service_of;
use mesh::{ChainRef, Delivery, Envelope, HandlerError};
use policy::{Department, Fen, RegionCode};
use serde_json::json;
use uuid::Uuid;

/// `eligibility.household.determined` → enrolment, `referral.<dept>.push` per relief line,
/// `monitor.household.enrolled`.
pub async fn on_determined(
    state: State,
    e: mesh::Envelope<HouseholdDetermined>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let det = &e.data;
    if !det.tier.is_low_income() {
        tx.commit().await?;
        return Ok(Outcome::Applied);
    }
    let region = det.region_code.clone();
    let today = state.mesh.today();
    let params = state
        .policy
        .in_force(&region, today)
        .map_err(|e| HandlerError::Poison(e.to_string()))?;
    if !store::households::enrol(&mut tx, &e, today).await? {
        // Enrolled by an earlier determination of the same household: nothing more to do here.
        tx.commit().await?;
        return Ok(Outcome::Applied);
    }
    store::households::record_enrolment(&mut tx, &e).await?;
    let chain = ChainRef::answering(&e);
    let due = policy::dates::deadline(today, params.referral_feedback_days);
    let mut referrals = Vec::new();
    for m in &det.members {
        let to = Recipient {
            household_id: e.household_id,
            chain_id: e.chain_id,
            member_id: m.member_id,
            id_number: m.id_number.clone(),
            name: m.name.clone(),
            region_code: det.region_code.clone(),
            urban: det.urban,
            // The member's own tier: a member may be single-person dibao in a marginal household.
            tier: m.tiers.first().copied().unwrap_or(det.tier),
            school_stage: m.school_stage,
            self_care: m.self_care,
            zero_employment_household: det.zero_employment_household,
        };
        for dept in &m.relief_lines {
            // Stable: the same member, line and application always give the same referral id.
            let referral = Referral {
                cause: Cause::Determination {
                    application_id: det.application_id,
                    member_id: m.member_id,
                },
                department: *dept,
                need: need_of(*dept).to_owned(),
                circumstances: None,
            };
            let referral_id =
                ops::referrals::push(&state, &mut tx, &to, &referral, Some(&e.id), due, today)
                    .await?;
            referrals.push(referral_id);
        }
    }
    let enrolled = HouseholdEnrolled {
        application_id: det.application_id,
        tier: det.tier,
        effective_month: det.effective_month,
        members: det.members.len(),
        referrals: referrals.clone(),
    };
    let out = state
        .mesh
        .envelope(&chain, Some(e.household_id.to_string()), enrolled);
    mesh::outbox::enqueue_on(&mut tx, &state.mesh.subjects, HOUSEHOLD_ENROLLED, &out).await?;
    tx.commit().await?;
    tracing::info!(
        tier = det.tier.as_str(),
        referrals = referrals.len(),
        "Household enrolled."
    );
    Ok(Outcome::Applied)
}

/// `referral.<dept>.feedback` → the referral's status.
pub async fn on_feedback(
    state: State,
    e: mesh::Envelope<ReferralFeedback>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let dept = REFERRAL_FEEDBACK
        .token(&state.mesh.subjects, &d.subject)
        .and_then(Department::parse)
        .ok_or_else(|| {
            HandlerError::Poison(format!(
                "{} is not a feedback subject of a known department",
                d.subject
            ))
        })?;
    if dept != e.data.department {
        return Err(HandlerError::Poison(format!(
            "feedback on the {dept} subject names department {}",
            e.data.department
        )));
    }
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    match store::referrals::answer_referral(&mut tx, &e, state.mesh.clock.now()).await? {
        store::Answered::Updated => store::households::record_feedback(&mut tx, &e).await?,
        store::Answered::NotOurs => {
            tx.commit().await?;
            tracing::info!(department = %dept, "Feedback answers a push monitoring did not send; the referral keeps its answer.");
            return Ok(Outcome::Applied);
        }
        store::Answered::Unknown => {
            return Err(HandlerError::Poison(format!(
                "no referral {} for department {dept}",
                e.data.referral_id
            )))
        }
        store::Answered::Mismatch(why) => return Err(HandlerError::Poison(why)),
    }
    tx.commit().await?;
    tracing::info!(department = %dept, outcome = ?e.data.outcome, "Referral answered.");
    Ok(Outcome::Applied)
}

/// Keys of an event's `data` that the chain keeps: ids, amounts, outcomes. Never names or
/// ID numbers.
const SUMMARY_KEYS: &[&str] = &[
    "application_id",
    "report_id",
    "supersedes_report_id",
    "complete",
    "gaps",
    "verified_by",
    "tier",
    "classifications",
    "monthly_amount_fen",
    "integrity_flags",
    "payee",
    "policy_version",
    "rule",
    "effective_month",
    "referrals",
    "referral_id",
    "department",
    "need",
    "feedback_due",
    "outcome",
    "reason",
    "grant",
    "decided_by",
    "instruction_id",
    "beneficiary_member_id",
    "month",
    "kind",
    "amount_fen",
    "emergency_id",
    "total_amount_fen",
    "stages",
    "act_first",
    "papers_due",
    "reference",
    "due_date",
    "status",
];

/// Any event of a household → a step of its chain. Idempotent on the event id.
pub async fn record_chain(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e: Envelope<serde_json::Value> = serde_json::from_slice(&d.payload)
        .map_err(|err| HandlerError::Poison(format!("payload is not a valid envelope: {err}")))?;
    if e.id.trim().is_empty() {
        return Err(HandlerError::Poison("the envelope has no id".into()));
    }
    if e.household_id.is_nil() {
        // Not a household's event (a bank's status report for a whole file, a run's totals):
        // the steps it causes carry their households.
        return Ok(Outcome::Applied);
    }
    // A payload that is no object has nothing to summarise.
    let summary: serde_json::Map<String, serde_json::Value> = e
        .data
        .as_object()
        .map(|map| {
            SUMMARY_KEYS
                .iter()
                .filter_map(|k| map.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                .collect()
        })
        .unwrap_or_default();
    let trace_id = d
        .header("traceparent")
        .and_then(mesh::telemetry::trace_id_of_traceparent);
    let step = store::Step {
        event_id: e.id.clone(),
        household_id: e.household_id,
        chain_id: e.chain_id,
        kind: e.kind.clone(),
        subject: state
            .mesh
            .subjects
            .strip(&d.subject)
            .unwrap_or(&d.subject)
            .to_owned(),
        service: service_of(&e.source).to_owned(),
        time: e.time,
        trace_id,
        causation_id: e.causation_id.clone(),
        summary: serde_json::Value::Object(summary),
    };
    if store::record_step(&state.mesh.db, &step).await? {
        Ok(Outcome::Applied)
    } else {
        Ok(Outcome::Duplicate)
    }
}

/// `monitor.household.changed` → the population database (a no-op for changes this service's
/// rules applied in the transaction that emitted them).
pub async fn on_changed(
    state: State,
    e: mesh::Envelope<HouseholdChanged>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let at = state.mesh.clock.now();
    let changed = store::households::apply_change(&mut tx, e.household_id, &e.data, at).await?;
    tx.commit().await?;
    if changed {
        tracing::info!(change = ?e.data.change, reason = %e.data.reason, "Population database changed.");
    }
    Ok(Outcome::Applied)
}

/// `verify.household.reverified` → the household's last verification date; a dibao household
/// whose complete re-verification puts its per-capita income at or above the standard in force
/// begins its gradual exit (`monitor.household.changed`, `gradual_exit`).
pub async fn on_reverified(
    state: State,
    e: mesh::Envelope<HouseholdReverified>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let row = store::households::lock_for_reverification(&mut tx, e.household_id).await?;
    let Some(store::households::ReverifyRow {
        region_code,
        urban,
        tier,
        status,
        chain_id,
    }) = row
    else {
        // Not enrolled here (not low-income): nothing to follow.
        tx.commit().await?;
        return Ok(Outcome::Applied);
    };
    let on = state.mesh.clock.local_date(e.time);
    store::households::set_verified_on(&mut tx, e.household_id, on, state.mesh.clock.now()).await?;
    let region =
        RegionCode::parse(&region_code).map_err(|e| HandlerError::Poison(e.to_string()))?;
    let params = state
        .policy
        .in_force(&region, on)
        .map_err(|e| HandlerError::Poison(e.to_string()))?;
    let r = &e.data;
    let total: Fen = r.members.iter().map(|m| Fen(m.monthly_income_fen)).sum();
    let per_capita = total.per(r.members.len().max(1) as u32);
    let standard = params.standard(urban);
    store::households::record_reverified(
        &mut tx,
        e.household_id,
        &e.id,
        json!({"report_id": r.report_id, "complete": r.complete, "gaps": r.gaps, "per_capita_income_fen": per_capita.0, "standard_fen": standard.0, "policy_version": params.version}),
    )
    .await?;
    let decision = rules::after_reverification(&rules::Reverified {
        complete: r.complete,
        tier,
        status,
        per_capita,
        standard,
        on,
        gradual_exit_months: params.gradual_exit_months,
    });
    let mut exits = false;
    if let Some(exit) = decision {
        let change = HouseholdChanged {
            change_id: Uuid::new_v5(
                &e.household_id,
                format!("reverified/{}", r.report_id).as_bytes(),
            ),
            member_id: None,
            change: AssistanceChange::GradualExit,
            reason: "income_above_standard".into(),
            occurred_on: on,
            stop_from_month: exit.stop_from_month,
            exit_months: Some(exit.exit_months),
            decided_by: format!("rule:{}", params.version),
        };
        let at = state.mesh.clock.now();
        if store::households::apply_change(&mut tx, e.household_id, &change, at).await? {
            let chain = ChainRef {
                household_id: e.household_id,
                chain_id,
                causation_id: Some(e.id.clone()),
            };
            let out = state
                .mesh
                .envelope(&chain, Some(change.change_id.to_string()), change);
            mesh::outbox::enqueue_on(&mut tx, &state.mesh.subjects, HOUSEHOLD_CHANGED, &out)
                .await?;
            exits = true;
        }
    }
    tx.commit().await?;
    tracing::info!(
        complete = r.complete,
        gradual_exit = exits,
        policy_version = %params.version,
        "Re-verification recorded."
    );
    Ok(Outcome::Applied)
}

/// `monitor.feed.{source}` → the record compared and acted on, once.
pub async fn on_feed_record(
    state: State,
    e: mesh::Envelope<FeedRecord>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let source = FEED_RECORD
        .token(&state.mesh.subjects, &d.subject)
        .and_then(FeedSource::parse)
        .ok_or_else(|| {
            HandlerError::Poison(format!("{} is not the subject of a known feed", d.subject))
        })?;
    let today = state.mesh.today();
    let record = crate::domain::feeds::validate(source, &e.data, &state.policy, today)
        .map_err(HandlerError::Poison)?;
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let rows = [ops::feeds::Row { line: 0, record }];
    let done = ops::feeds::apply_rows(
        &state,
        &mut tx,
        source,
        &rows,
        Via::Subject,
        Some(&e.id),
        today,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        source = %source,
        duplicate = done.duplicates > 0,
        matched = done.matched > 0,
        household_changed = done.actions.household_changed,
        referrals = done.actions.referrals,
        warnings = done.actions.warnings,
        "Feed record compared."
    );
    Ok(Outcome::Applied)
}

/// `monitor.discovery.reported` → the same case as over HTTP.
pub async fn on_reported(
    state: State,
    e: mesh::Envelope<DiscoveryReport>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let today = state.mesh.today();
    let errors = crate::domain::discovery::validate(&e.data, &state.policy, today);
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
    let opened = ops::discovery::open_case(&state, &mut tx, &e.data, Via::Subject, today).await?;
    tx.commit().await?;
    tracing::info!(
        reporter = e.data.reporter.kind.as_str(),
        hardship = e.data.hardship.as_str(),
        new = opened.new,
        "Active-discovery report received."
    );
    Ok(Outcome::Applied)
}
