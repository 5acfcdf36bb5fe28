//! Monitoring's consumers, one per channel: decode, claim the event once, decide by
//! [`crate::domain`], write by [`crate::store`] (or an [`crate::ops`] step shared with the
//! routes), send through the outbox, commit.

use crate::domain::referrals::{need_of, Cause, Recipient, Referral};
use crate::domain::{rules, Via};
use crate::ops;
use crate::state::State;
use crate::store;
use contract::channels::{
    APPLICATION_SUBMITTED, EMERGENCY_GRANTED, FEED_RECORD, HOUSEHOLD_CHANGED, HOUSEHOLD_ENROLLED,
    REFERRAL_FEEDBACK, REFERRAL_PUSH,
};
use contract::{
    AssistanceChange, DiscoveryReport, FeedRecord, FeedSource, HouseholdChanged,
    HouseholdDetermined, HouseholdEnrolled, HouseholdReverified,
};
use mesh::consumer::Outcome;
use mesh::{ChainRef, Delivery, Envelope, HandlerError};
use policy::{Department, Fen, RegionCode};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// `eligibility.household.determined` → enrolment, `referral.<dept>.push` per relief line,
/// `monitor.household.enrolled`; for a low-income household, or one with a member in a
/// recognised group.
pub async fn on_determined(
    state: State,
    e: mesh::Envelope<HouseholdDetermined>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let det = &e.data;
    // A household in no tier is still followed when a member is in a recognised group
    // (return-to-poverty monitoring object, other hardship person, 002 一(一)): its members are
    // referred as their group's rule says.
    if !det.tier.is_low_income() && !det.members.iter().any(|m| !m.groups.is_empty()) {
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
            support: m.support,
            zero_employment_household: det.zero_employment_household,
            group: m.groups.first().copied(),
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
            let referral_id = ops::referrals::push(
                &state,
                &mut tx,
                &to,
                &referral,
                Some(&e.id),
                None,
                due,
                today,
            )
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

/// `referral.<dept>.feedback` → the referral's answer under the department answer protocol,
/// with its chain step, in one transaction; or a refusal, recorded for operators and told to
/// the department on `referral.<dept>.refused`. Read as it comes (not decoded first), so that
/// whatever a department sends is answered for.
pub async fn on_feedback(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let dept = REFERRAL_FEEDBACK
        .token(&state.mesh.subjects, &d.subject)
        .and_then(Department::parse)
        .ok_or_else(|| {
            HandlerError::Poison(format!(
                "{} is not a feedback subject of a known department",
                d.subject
            ))
        })?;
    let read = ops::answers::Read::of(&d);
    // An answer applied is handled once by its event id; a refusal by the message's place in
    // the stream, so that the same id sent again (now with its header, say) is judged afresh.
    let (applied_key, refused_key) = read.keys(&d);
    if mesh::outbox::handled(&state.mesh.db, &d.consumer, &refused_key).await? {
        return Ok(Outcome::Duplicate);
    }
    // An id applied before: the same answer again, or another message under its id.
    let mut reused = None;
    if mesh::outbox::handled(&state.mesh.db, &d.consumer, &applied_key).await? {
        match ops::answers::reused_id(&state, &d, dept, &read, &applied_key).await? {
            None => return Ok(Outcome::Duplicate),
            Some(refusal) => reused = Some(refusal),
        }
    }
    let mut tx = state.mesh.db.begin().await?;
    let judged = match (reused, ops::answers::check(&d, dept, &read)) {
        (Some(refusal), _) => ops::answers::Judged::Refused(refusal),
        (None, Ok((e, checked))) => {
            ops::answers::judge_and_apply(&state, &mut tx, &e, checked, &d, &read).await?
        }
        (None, Err(refusal)) => ops::answers::Judged::Refused(*refusal),
    };
    let refusal = match judged {
        ops::answers::Judged::Applied(outcome) => {
            return applied(tx, &d, &applied_key, Some(outcome), dept).await
        }
        ops::answers::Judged::Duplicate => return applied(tx, &d, &applied_key, None, dept).await,
        // What it builds on may still be on its way: again later, refused at the last delivery.
        ops::answers::Judged::Wait(r) if d.delivered < state.mesh.settings.nats.max_deliver => {
            return Err(HandlerError::Transient(anyhow::anyhow!(r.reason)));
        }
        ops::answers::Judged::Wait(r) | ops::answers::Judged::Refused(r) => r,
    };
    if !mesh::outbox::claim(&mut tx, &d.consumer, &refused_key, &d.subject).await? {
        return Ok(Outcome::Duplicate);
    }
    ops::answers::refuse(&state, &mut tx, &d, dept, &refusal).await?;
    tx.commit().await?;
    tracing::warn!(department = %dept, code = refusal.code.as_str(), reason = %refusal.reason, "Feedback refused; the department is told.");
    Ok(Outcome::Applied)
}

/// Claims the inbox for a feedback applied (`outcome`) or found the same as one applied, and
/// commits.
async fn applied(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    d: &Delivery,
    key: &str,
    outcome: Option<contract::FeedbackOutcome>,
    dept: Department,
) -> Result<Outcome, HandlerError> {
    if !mesh::outbox::claim(&mut tx, &d.consumer, key, &d.subject).await? {
        // Handled meanwhile by another delivery of the same event.
        return Ok(Outcome::Duplicate);
    }
    tx.commit().await?;
    match outcome {
        Some(outcome) => {
            tracing::info!(department = %dept, outcome = outcome.as_str(), "Referral answered.");
            Ok(Outcome::Applied)
        }
        None => {
            tracing::info!(department = %dept, "The same answer again; nothing changed.");
            Ok(Outcome::Duplicate)
        }
    }
}

/// Events that open a household's chain: an application, an emergency grant. Any other event
/// of a household whose chain is not open is not recorded.
const OPENS_A_CHAIN: [&str; 2] = [APPLICATION_SUBMITTED.subject, EMERGENCY_GRANTED.subject];

/// Events of chain channels → steps of their households' chains, a batch at a time (one
/// commit for the batch's steps), once per fact (the same event under a new id adds nothing).
/// Not recorded: events of channels that are not chain channels or of a `type` not their
/// channel's, feedback (its consumer records what it applies), a push that is not monitoring's
/// own, and any event of a household whose chain was never opened (a chain opens with an
/// application or an emergency grant, which may come earlier in the same batch).
pub async fn record_chain(state: State, batch: Vec<Delivery>) -> mesh::BatchResult {
    let mut results: Vec<Result<Outcome, HandlerError>> = Vec::with_capacity(batch.len());
    // The steps to record, and the position of each one's message in the batch.
    let (mut steps, mut at): (Vec<store::Step>, Vec<usize>) = (Vec::new(), Vec::new());
    let mut opened: HashMap<Uuid, Uuid> = HashMap::new();
    for (i, d) in batch.iter().enumerate() {
        match chain_step(&state, d, &opened).await {
            Ok(Some(step)) => {
                opened.entry(step.household_id).or_insert(step.chain_id);
                steps.push(step);
                at.push(i);
                results.push(Ok(Outcome::Applied));
            }
            Ok(None) => results.push(Ok(Outcome::Applied)),
            Err(e) => results.push(Err(e)),
        }
    }
    let recorded = store::chain::record_steps(&state.mesh.db, &steps).await?;
    for (step, i) in steps.iter().zip(at) {
        if !recorded.contains(&step.event_id) {
            results[i] = Ok(Outcome::Duplicate);
        }
    }
    Ok(results)
}

/// The step `d` makes of its household's chain, or none (not a step: logged). `opened` holds
/// the chains opened earlier in the same batch, by household.
async fn chain_step(
    state: &State,
    d: &Delivery,
    opened: &HashMap<Uuid, Uuid>,
) -> Result<Option<store::Step>, HandlerError> {
    let bare = state.mesh.subjects.strip(&d.subject).unwrap_or(&d.subject);
    let skip = |why: &str| {
        tracing::info!(subject = bare, why, "Not a step of a chain; not recorded.");
        Ok(None)
    };
    let Some(channel) = contract::channels::channel_of(bare).filter(|c| c.chain) else {
        return skip("no chain channel carries this subject");
    };
    if channel.subject == REFERRAL_FEEDBACK.subject {
        // Recorded by the feedback consumer, in the transaction that applies it.
        return Ok(None);
    }
    // Read once; its channel's consumers dead-letter what is not an event of its type.
    let Ok(whole) = serde_json::from_slice::<serde_json::Value>(&d.payload) else {
        return skip("not JSON");
    };
    if contract::channels::check_envelope(&whole).is_err() {
        return skip("not a valid event of its type");
    }
    let Ok(e) = serde_json::from_value::<Envelope<serde_json::Value>>(whole) else {
        return skip("not an envelope");
    };
    if e.kind != channel.kind || e.id.trim().is_empty() {
        return skip("not the type of its channel");
    }
    if channel.check_source(&e.source).is_err() {
        // Its channel's consumers dead-letter it as forged.
        return skip("not from a producer of its channel");
    }
    if e.household_id.is_nil() {
        // Not a household's event (a run's totals): the steps it causes carry their households.
        return Ok(None);
    }
    if channel.subject == REFERRAL_PUSH.subject {
        let referral = e.data["referral_id"]
            .as_str()
            .and_then(|r| Uuid::parse_str(r).ok());
        let own = match referral {
            Some(r) => store::referrals::is_own_push(&state.mesh.db, r, &e.id).await?,
            None => false,
        };
        if !own {
            return skip("not a push monitoring made");
        }
    }
    let chain = match store::chain::chain_of(&state.mesh.db, e.household_id).await? {
        Some(chain) => Some(chain),
        None => opened.get(&e.household_id).copied(),
    };
    match chain {
        Some(chain) if chain != e.chain_id => return skip("another chain than the household's"),
        Some(_) => {}
        None if OPENS_A_CHAIN.contains(&channel.subject) => {}
        // The event that opens it may still be on its way (another stream's recorder).
        None if d.delivered < state.mesh.settings.nats.max_deliver => {
            return Err(HandlerError::Transient(anyhow::anyhow!(
                "the household's chain is not open"
            )));
        }
        None => return skip("no chain is open for this household"),
    }
    Ok(Some(ops::chain::step(state, d, &e, e.chain_id)))
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

/// A re-verified household that leaves its tier: `monitor.household.changed`, a gradual exit or
/// a stop, once per report; `false` when it had already changed.
async fn reverified_exit(
    state: &State,
    tx: &mut sqlx::PgConnection,
    chain: &ChainRef,
    report_id: Uuid,
    exit: rules::Reverification,
    on: chrono::NaiveDate,
    params: &policy::ParameterSet,
) -> Result<bool, HandlerError> {
    let (change, stop_from_month, exit_months) = match exit {
        rules::Reverification::GradualExit {
            exit_months,
            stop_from_month,
        } => (
            AssistanceChange::GradualExit,
            stop_from_month,
            Some(exit_months),
        ),
        rules::Reverification::Exit { stop_from_month } => {
            (AssistanceChange::Stopped, stop_from_month, None)
        }
    };
    let change = HouseholdChanged {
        change_id: Uuid::new_v5(
            &chain.household_id,
            format!("reverified/{report_id}").as_bytes(),
        ),
        member_id: None,
        change,
        reason: "income_above_standard".into(),
        occurred_on: on,
        stop_from_month,
        exit_months,
        decided_by: format!("rule:{}", params.version),
    };
    let at = state.mesh.clock.now();
    if !store::households::apply_change(tx, chain.household_id, &change, at).await? {
        return Ok(false);
    }
    let out = state
        .mesh
        .envelope(chain, Some(change.change_id.to_string()), change);
    mesh::outbox::enqueue_on(tx, &state.mesh.subjects, HOUSEHOLD_CHANGED, &out).await?;
    Ok(true)
}

/// `verify.household.reverified` → the household's last verification date; a dibao household
/// whose complete re-verification puts its income no longer below the standard in force leaves
/// as the region's set says (`monitor.household.changed`, `gradual_exit` or `stopped`); one that
/// stays below it is determined again on the verified figures
/// (`eligibility.household.redetermined` when what is paid changes).
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
    // Bounded on decoding (bounds.max_amount_fen, bounds.max_members); checked all the same.
    let total = Fen::checked_sum(r.members.iter().map(|m| Fen(m.monthly_income_fen)))
        .map_err(|e| HandlerError::Poison(e.to_string()))?;
    let per_capita = policy::determination::Measure::new(params, r.members.len())
        .map_err(|e| HandlerError::Poison(e.to_string()))?
        .per_capita(total);
    let standard = params.standard(urban);
    // Once per report (its business key), whatever the event id it came under.
    store::households::record_reverified(
        &mut tx,
        e.household_id,
        &format!("report:{}", r.report_id),
        json!({"report_id": r.report_id, "complete": r.complete, "gaps": r.gaps, "per_capita_income_fen": per_capita.0, "standard_fen": standard.0, "policy_version": params.version}),
    )
    .await?;
    let decision = rules::after_reverification(
        &rules::Reverified {
            complete: r.complete,
            tier,
            status,
            urban,
            total_income: total,
            members: r.members.len(),
            on,
        },
        params,
    )
    .map_err(|e| HandlerError::Poison(e.to_string()))?;
    let chain = ChainRef {
        household_id: e.household_id,
        chain_id,
        causation_id: Some(e.id.clone()),
    };
    let (mut exits, mut redetermined) = (false, false);
    match decision {
        Some(exit) => {
            exits = reverified_exit(&state, &mut tx, &chain, r.report_id, exit, on, params).await?;
        }
        // Still in its tier: determined again on the verified figures, so a changed income or
        // asset changes what is paid from the month after.
        None if r.complete && status == crate::domain::Status::Active => {
            redetermined = crate::ops::redetermination::reverified(
                &state,
                &mut tx,
                &chain,
                r.report_id,
                &r.members,
                on,
            )
            .await?;
        }
        None => {}
    }
    tx.commit().await?;
    tracing::info!(
        complete = r.complete,
        redetermined,
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
        &ops::feeds::By::event(e.actor.as_ref()),
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
    let opened =
        ops::discovery::open_case(&state, &mut tx, &e.data, Via::Subject, None, today).await?;
    tx.commit().await?;
    tracing::info!(
        reporter = e.data.reporter.kind.as_str(),
        hardship = e.data.hardship.as_str(),
        new = opened.new,
        "Active-discovery report received."
    );
    Ok(Outcome::Applied)
}

/// `intake.disclosure.objected` → a report (举报) of the household's township
/// (`ops::complaints::receive_objection`), once per objection.
pub async fn on_objected(
    state: State,
    e: mesh::Envelope<contract::DisclosureObjected>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let new = ops::complaints::receive_objection(&state, &mut tx, e.household_id, &e.data).await?;
    tx.commit().await?;
    tracing::info!(new, "Disclosure objection taken in.");
    Ok(Outcome::Applied)
}

/// `intake.risk.detected` → one risk warning per detection, for the county.
pub async fn on_intake_risk(
    state: State,
    e: mesh::Envelope<contract::IntakeRiskDetected>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    on_risk(state, "intake", &e.id, &e.data.0, d).await
}

/// `payment.risk.detected` → one risk warning per detection, for the county.
pub async fn on_payment_risk(
    state: State,
    e: mesh::Envelope<contract::PaymentRiskDetected>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    on_risk(state, "payment", &e.id, &e.data.0, d).await
}

async fn on_risk(
    state: State,
    producer: &str,
    event_id: &str,
    detected: &contract::RiskDetected,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let Some(mut tx) = d.begin_once(&state.mesh.db, event_id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let new = ops::risk::raise(&state, &mut tx, producer, detected)
        .await?
        .map_err(HandlerError::Poison)?;
    tx.commit().await?;
    tracing::info!(rule = %detected.rule, new, "Risk detection received.");
    Ok(Outcome::Applied)
}
