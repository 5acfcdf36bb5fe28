//! Monitoring's consumers.

use crate::app::State;
use crate::store;
use contract::{HouseholdDetermined, HouseholdEnrolled, ReferralFeedback, ReferralPush};
use mesh::consumer::Outcome;
use mesh::envelope::service_of;
use mesh::subjects::{HOUSEHOLD_ENROLLED, REFERRAL_FEEDBACK, REFERRAL_PUSH};
use mesh::{ChainRef, Delivery, Envelope, HandlerError};
use policy::{Department, RegionCode};
use uuid::Uuid;

/// The need a relief line answers, in words, for the push.
pub(crate) fn need_of(dept: Department) -> &'static str {
    match dept {
        Department::Medical => "serious illness",
        Department::Education => "a student in a low-income household",
        Department::Housing => "housing hardship",
        Department::Employment => "registered unemployed",
        Department::Disaster => "disaster victim",
    }
}

/// `eligibility.household.determined` → enrolment, `referral.<dept>.push` per relief line,
/// `monitor.household.enrolled`.
pub async fn on_determined(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<HouseholdDetermined>()?;
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let det = &e.data;
    if !det.tier.is_low_income() {
        tx.commit().await?;
        return Ok(Outcome::Applied);
    }
    let region =
        RegionCode::parse(&det.region_code).map_err(|e| HandlerError::Poison(e.to_string()))?;
    let today = state.mesh.today();
    let params = state
        .policy
        .in_force(&region, today)
        .map_err(|e| HandlerError::Poison(e.to_string()))?;
    if !store::enrol(&mut tx, &e, today).await? {
        // Enrolled by an earlier determination of the same household: nothing more to do here.
        tx.commit().await?;
        return Ok(Outcome::Applied);
    }
    crate::population::record_enrolment(&mut tx, &e).await?;
    let chain = ChainRef::answering(&e);
    let due = policy::dates::deadline(today, params.referral_feedback_days);
    let mut referrals = Vec::new();
    for m in &det.members {
        // What the person already has from any department, so a department can refuse a duplicate.
        let prior = crate::warnings::prior_assistance(&mut tx, &m.id_number, today).await?;
        for dept in &m.relief_lines {
            // Stable: the same member, line and application always give the same referral id.
            let referral_id = Uuid::new_v5(
                &e.household_id,
                format!("{}/{}/{}", det.application_id, m.member_id, dept).as_bytes(),
            );
            let push = ReferralPush {
                referral_id,
                department: *dept,
                member_id: m.member_id,
                id_number: m.id_number.clone(),
                name: m.name.clone(),
                region_code: det.region_code.clone(),
                urban: det.urban,
                // The member's own tier: a member may be single-person dibao in a marginal household.
                tier: m.tiers.first().copied().unwrap_or(det.tier),
                need: need_of(*dept).to_owned(),
                feedback_due: due,
                school_stage: if *dept == Department::Education {
                    m.school_stage
                } else {
                    None
                },
                zero_employment_household: det.zero_employment_household,
                prior_assistance: prior.clone(),
                circumstances: None,
                self_care: m.self_care,
            };
            let out = state
                .mesh
                .envelope(&chain, Some(referral_id.to_string()), push);
            store::insert_referral(&mut tx, &out).await?;
            mesh::outbox::enqueue(
                &mut tx,
                &state.mesh.subjects.fill(REFERRAL_PUSH, dept.as_str()),
                &out,
            )
            .await?;
            referrals.push(referral_id);
        }
    }
    let enrolled = HouseholdEnrolled {
        application_id: det.application_id,
        tier: det.tier,
        effective_month: det.effective_month.clone(),
        members: det.members.len(),
        referrals: referrals.clone(),
    };
    let out = state
        .mesh
        .envelope(&chain, Some(e.household_id.to_string()), enrolled);
    mesh::outbox::enqueue(&mut tx, &state.mesh.subjects.of(HOUSEHOLD_ENROLLED), &out).await?;
    tx.commit().await?;
    tracing::info!(
        tier = det.tier.as_str(),
        referrals = referrals.len(),
        "Household enrolled."
    );
    Ok(Outcome::Applied)
}

/// `referral.<dept>.feedback` → the referral's status.
pub async fn on_feedback(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<ReferralFeedback>()?;
    let dept = state
        .mesh
        .subjects
        .token(REFERRAL_FEEDBACK, &d.subject)
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
    match store::answer_referral(&mut tx, &e, state.mesh.clock.now()).await? {
        store::Answered::Updated => crate::population::record_feedback(&mut tx, &e).await?,
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
    "complete",
    "gaps",
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
    let summary: serde_json::Map<String, serde_json::Value> = match &e.data {
        serde_json::Value::Object(map) => SUMMARY_KEYS
            .iter()
            .filter_map(|k| map.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect(),
        _ => serde_json::Map::new(),
    };
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
