//! Warnings (预警): the one way every rule, report and deadline sweep asks a township to look.
//!
//! A warning is raised once per `dedupe_key`, assigned to a township, due for on-site
//! verification by `verify_due`, then disposed of in one of the four ways the texts name; open
//! past `verify_due` → escalated to the county by the sweep.

use crate::domain::referrals::{need_of, Cause, Referral};
use crate::domain::warnings::{circumstances_of, overlapping, DuplicateAssistance};
use crate::domain::{township_of, Disposition, WarningKind, WarningStatus};
use crate::state::State;
use crate::store;
use crate::store::warnings::{NewWarning, WarningView};
use axum::http::HeaderMap;
use chrono::NaiveDate;
use contract::channels::HOUSEHOLD_CHANGED;
use contract::{AssistanceChange, HouseholdChanged};
use mesh::audit::{self, Entry};
use mesh::http::{ApiError, FieldError};
use mesh::{Acting, Actor, ChainRef};
use policy::{Department, Month, RegionCode};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The audit entry of `action` on warning `w`, naming its household and person when it has them.
fn entry(action: &str, w: &WarningView, headers: &HeaderMap) -> Entry {
    let mut e = Entry::new(action, "warning", w.warning_id).purpose_from(headers);
    e.household_id = w.household_id;
    e.person_id = w.member_id;
    e.detail(json!({"kind": w.kind, "township_code": w.township_code}))
}

fn not_found() -> ApiError {
    ApiError::NotFound("no warning with this id".into())
}

/// Records the on-site verification by the acting township officer of what they found; 404
/// for a warning outside the officer's townships (as for one that does not exist), 409 when the
/// warning is not open. The verification and its audit record commit together.
pub async fn verify(
    state: &State,
    acting: &Acting,
    headers: &HeaderMap,
    id: Uuid,
    finding: &str,
) -> Result<WarningView, ApiError> {
    let db = &state.mesh.db;
    let areas = acting.region_patterns();
    let today = state.mesh.today();
    let mut tx = db.begin().await?;
    let w = store::warnings::locked(&mut tx, id, &areas, today)
        .await?
        .ok_or_else(not_found)?;
    if w.status != WarningStatus::Open {
        return Err(ApiError::Conflict(format!(
            "the warning is already {} (by {})",
            w.status,
            w.verified_by
                .as_ref()
                .map(|a| a.name.as_str())
                .unwrap_or("?")
        )));
    }
    let officer = acting.actor();
    store::warnings::set_verified(&mut tx, id, &officer, finding, state.mesh.clock.now()).await?;
    audit::append(
        &mut tx,
        &state.mesh,
        &officer,
        entry("warning.verify", &w, headers),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(warning_id = %id, kind = %w.kind, "Warning verified on site.");
    store::warnings::get(db, id, &areas, today)
        .await?
        .ok_or_else(not_found)
}

/// A disposition with what its way needs, validated.
#[derive(Debug, Clone)]
pub enum Disposal {
    ApplyPolicy {
        policy: String,
    },
    /// The department given, if any.
    PushToDepartment {
        department: Option<Department>,
    },
    /// Proposed here; approved or refused by a county approver ([`decide_conference`]).
    CaseConference {
        decision: String,
    },
    ReverifyTerminate,
}

impl Disposal {
    pub fn disposition(&self) -> Disposition {
        match self {
            Disposal::ApplyPolicy { .. } => Disposition::ApplyPolicy,
            Disposal::PushToDepartment { .. } => Disposition::PushToDepartment,
            Disposal::CaseConference { .. } => Disposition::CaseConference,
            Disposal::ReverifyTerminate => Disposition::ReverifyTerminate,
        }
    }
}

/// Disposes of a verified warning in one of the four ways, as the acting officer, with its
/// effects and its audit record in the same transaction (a referral pushed, a change emitted,
/// through the outbox, each event carrying the officer as its actor). 404 for a warning outside
/// the officer's areas.
pub async fn dispose(
    state: &State,
    acting: &Acting,
    headers: &HeaderMap,
    id: Uuid,
    disposal: &Disposal,
) -> Result<WarningView, ApiError> {
    let areas = acting.region_patterns();
    let officer = acting.actor();
    let mut tx = state.mesh.db.begin().await?;
    let w = store::warnings::locked(&mut tx, id, &areas, state.mesh.today())
        .await?
        .ok_or_else(not_found)?;
    match w.status {
        WarningStatus::Open => {
            let why = "the warning has not been verified on site".to_owned();
            return Err(ApiError::Conflict(format!(
                "{why}: record its verification first"
            )));
        }
        WarningStatus::Disposed => {
            return Err(ApiError::Conflict(format!(
                "the warning was already disposed of ({})",
                w.disposition.map(Disposition::as_str).unwrap_or("?")
            )))
        }
        WarningStatus::AwaitingApproval => {
            return Err(ApiError::Conflict(
                "the warning awaits a county approver's decision on a case conference".to_owned(),
            ))
        }
        WarningStatus::Verified => {}
    }
    if let Disposal::CaseConference { decision } = disposal {
        let proposal = json!({
            "decision": decision,
            "proposed_by": officer,
            "proposed_at": state.mesh.clock.now(),
        });
        store::warnings::set_proposal(&mut tx, id, WarningStatus::AwaitingApproval, &proposal)
            .await?;
        let mut record = entry("warning.case_conference.propose", &w, headers);
        record.detail["disposition"] = json!(Disposition::CaseConference.as_str());
        audit::append(&mut tx, &state.mesh, &officer, record).await?;
        tx.commit().await?;
        tracing::info!(warning_id = %id, kind = %w.kind, "Case conference proposed; awaiting a county approver.");
        return store::warnings::get(&state.mesh.db, id, &areas, state.mesh.today())
            .await?
            .ok_or_else(not_found);
    }
    let today = state.mesh.today();
    let mut detail = serde_json::Map::new();
    match disposal {
        Disposal::ApplyPolicy { policy } => {
            detail.insert("policy".into(), json!(policy));
        }
        Disposal::CaseConference { .. } => {
            unreachable!("proposed above, approved by decide_conference")
        }
        Disposal::PushToDepartment { department } => {
            let dept = department
                .or_else(|| {
                    w.detail
                        .get("department")
                        .and_then(Value::as_str)
                        .and_then(Department::parse)
                })
                .or_else(|| w.kind.department_for_hardship())
                .ok_or_else(|| {
                    ApiError::Validation(vec![FieldError::new(
                        "department",
                        format!(
                            "a {} warning names no department by itself: give one",
                            w.kind
                        ),
                    )])
                })?;
            let referral_id = push_to_department(state, &mut tx, &w, dept, &officer, today).await?;
            detail.insert("department".into(), json!(dept.as_str()));
            detail.insert("referral_id".into(), json!(referral_id));
        }
        Disposal::ReverifyTerminate => {
            let change = reverify_terminate(state, &mut tx, &w, &officer, today).await?;
            detail.insert("change_id".into(), json!(change.change_id));
            detail.insert("reason".into(), json!(change.reason));
            detail.insert("stop_from_month".into(), json!(change.stop_from_month));
        }
    }
    let disposition = disposal.disposition();
    let mut record = entry("warning.dispose", &w, headers);
    record.detail["disposition"] = json!(disposition.as_str());
    for key in ["department", "referral_id", "change_id"] {
        if let Some(v) = detail.get(key) {
            record.detail[key] = v.clone();
        }
    }
    store::warnings::set_disposed(
        &mut tx,
        id,
        disposition,
        &officer,
        Value::Object(detail),
        state.mesh.clock.now(),
    )
    .await?;
    audit::append(&mut tx, &state.mesh, &officer, record).await?;
    tx.commit().await?;
    tracing::info!(warning_id = %id, kind = %w.kind, disposition = disposition.as_str(), "Warning disposed of.");
    store::warnings::get(&state.mesh.db, id, &areas, state.mesh.today())
        .await?
        .ok_or_else(not_found)
}

/// The county approver of the token decides a proposed case conference (一事一议): approved,
/// the warning is disposed of `case_conference` by the approver, with the decision and its
/// proposer in `disposal_detail`; refused, it is verified again (to be disposed of another way)
/// and the refusal is kept in `proposal`. The proposer never decides their own proposal
/// (maker-checker), 403; 404 outside the approver's areas; 409 when nothing awaits approval.
pub async fn decide_conference(
    state: &State,
    acting: &Acting,
    headers: &HeaderMap,
    id: Uuid,
    approve: bool,
    reason: &str,
) -> Result<WarningView, ApiError> {
    let areas = acting.region_patterns();
    let approver = acting.actor();
    let now = state.mesh.clock.now();
    let mut tx = state.mesh.db.begin().await?;
    let w = store::warnings::locked(&mut tx, id, &areas, state.mesh.today())
        .await?
        .ok_or_else(not_found)?;
    let proposal = match (&w.status, &w.proposal) {
        (WarningStatus::AwaitingApproval, Some(p)) => p.clone(),
        _ => {
            return Err(ApiError::Conflict(format!(
                "the warning is {}: no case conference awaits a decision",
                w.status
            )))
        }
    };
    let proposer_sub = proposal["proposed_by"]["sub"].as_str().unwrap_or_default();
    if proposer_sub == approver.sub {
        return Err(ApiError::Forbidden(
            "you proposed this case conference; another county approver must decide (maker-checker: the proposer does not approve)".into(),
        ));
    }
    let mut record = entry(
        if approve {
            "warning.case_conference.approve"
        } else {
            "warning.case_conference.refuse"
        },
        &w,
        headers,
    );
    record.detail["disposition"] = json!(Disposition::CaseConference.as_str());
    record.detail["approve"] = json!(approve);
    if approve {
        let detail = json!({
            "decision": proposal["decision"],
            "proposed_by": proposal["proposed_by"],
            "proposed_at": proposal["proposed_at"],
            "reason": reason,
        });
        store::warnings::set_disposed(
            &mut tx,
            id,
            Disposition::CaseConference,
            &approver,
            detail,
            now,
        )
        .await?;
    } else {
        let mut refused = proposal;
        refused["refused_by"] = json!(approver);
        refused["refused_at"] = json!(now);
        refused["reason"] = json!(reason);
        store::warnings::set_proposal(&mut tx, id, WarningStatus::Verified, &refused).await?;
    }
    audit::append(&mut tx, &state.mesh, &approver, record).await?;
    tx.commit().await?;
    tracing::info!(warning_id = %id, approve, "Case conference decided.");
    store::warnings::get(&state.mesh.db, id, &areas, state.mesh.today())
        .await?
        .ok_or_else(not_found)
}

/// `push_to_department`: the one referral push, for the warning's person; the referral id is
/// stable from the warning id.
async fn push_to_department(
    state: &State,
    tx: &mut PgConnection,
    w: &WarningView,
    dept: Department,
    officer: &Actor,
    today: NaiveDate,
) -> Result<Uuid, ApiError> {
    let (Some(household_id), Some(member_id)) = (w.household_id, w.member_id) else {
        return Err(ApiError::Conflict(
            "the warning names no enrolled person to push to a department".to_owned(),
        ));
    };
    let to = store::households::recipient(tx, household_id, member_id)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict(
                "the person of the warning is not enrolled in the population database".to_owned(),
            )
        })?;
    let params = params_for(state, to.region_code.as_str(), today)?;
    let referral = Referral {
        cause: Cause::Warning {
            warning_id: w.warning_id,
        },
        department: dept,
        need: need_of(dept).to_owned(),
        // A warning on an unanswered referral repeats the determination's need: no new facts.
        circumstances: (w.kind != WarningKind::ReferralOverdue)
            .then(|| circumstances_of(w.kind, &w.detail)),
    };
    let feedback_due = policy::dates::deadline(today, params.referral_feedback_days);
    let referral_id = crate::ops::referrals::push(
        state,
        tx,
        &to,
        &referral,
        None,
        Some(officer),
        feedback_due,
        today,
    )
    .await?;
    tracing::info!(warning_id = %w.warning_id, department = %dept, "Warning pushed to a department.");
    Ok(referral_id)
}

/// `reverify_terminate`: `monitor.household.changed` {stopped, no_longer_eligible} for the
/// person (or the household, when the warning names no person), from next month.
async fn reverify_terminate(
    state: &State,
    tx: &mut PgConnection,
    w: &WarningView,
    officer: &Actor,
    today: NaiveDate,
) -> Result<HouseholdChanged, ApiError> {
    let Some(household_id) = w.household_id else {
        return Err(ApiError::Conflict(
            "the warning names no enrolled household to terminate".to_owned(),
        ));
    };
    let change = HouseholdChanged {
        change_id: Uuid::new_v5(&w.warning_id, b"reverify_terminate"),
        member_id: w.member_id,
        change: AssistanceChange::Stopped,
        reason: "no_longer_eligible".into(),
        occurred_on: today,
        stop_from_month: Month::of(today).next(),
        exit_months: None,
        decided_by: format!("officer:{}", officer.name),
    };
    stop_by(state, tx, household_id, &change, officer).await?;
    Ok(change)
}

/// Sends `change` (a stop decided by `officer`) for the enrolled household through the outbox,
/// on its chain; a stop of the whole household also stops it in the population database at
/// once (monitoring's own change is a no-op when it comes back). 409 when the household is not
/// enrolled. The household's chain, for what else the caller sends on it.
pub(crate) async fn stop_by(
    state: &State,
    tx: &mut PgConnection,
    household_id: Uuid,
    change: &HouseholdChanged,
    officer: &Actor,
) -> Result<ChainRef, ApiError> {
    let chain_id = store::households::chain_id(tx, household_id)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict("the household is not enrolled: nothing to stop".to_owned())
        })?;
    let chain = ChainRef {
        household_id,
        chain_id,
        causation_id: None,
    };
    let subject = change.member_id.unwrap_or(household_id).to_string();
    let out = state
        .mesh
        .envelope(&chain, Some(subject), change.clone())
        .by(officer.clone());
    mesh::outbox::enqueue_on(&mut *tx, &state.mesh.subjects, HOUSEHOLD_CHANGED, &out).await?;
    if change.member_id.is_none() {
        store::households::set_stopped(tx, household_id, state.mesh.clock.now()).await?;
    }
    Ok(chain)
}

fn params_for<'a>(
    state: &'a State,
    region_code: &str,
    on: NaiveDate,
) -> Result<&'a policy::ParameterSet, ApiError> {
    let region = RegionCode::parse(region_code)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored region code: {e}")))?;
    state
        .policy
        .in_force(&region, on)
        .map_err(|e| ApiError::Conflict(e.to_string()))
}

/// The duplicate assistance of every member of the household, counting grants recorded for
/// the same person (by ID number) in other households too, by the same rule the departments
/// refuse duplicates with (`policy::relief::duplicates`), under the household's parameter set.
pub async fn duplicates(
    db: &PgPool,
    book: &policy::PolicyBook,
    household_id: Uuid,
    today: NaiveDate,
) -> anyhow::Result<Vec<DuplicateAssistance>> {
    let mut conn = db.acquire().await?;
    let Some(region) = store::households::region_of(&mut conn, household_id).await? else {
        return Ok(Vec::new());
    };
    let params = book.in_force(&RegionCode::parse(&region)?, today)?;
    let people = store::households::members(&mut conn, household_id).await?;
    let mut out = Vec::new();
    for (member_id, id_number) in people {
        let grants = store::referrals::grants_of_person(&mut conn, &id_number).await?;
        out.extend(overlapping(member_id, &grants, params));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The sweep: referrals past `feedback_due` raise warnings; warnings open past `verify_due`
// escalate to the county; complaints unanswered past `answer_due` go one level up.

/// What one sweep did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    pub as_of: NaiveDate,
    /// Warnings raised for referrals with no feedback past their deadline (new ones only).
    pub referral_overdue_raised: usize,
    /// Warnings newly escalated to the county.
    pub escalated: usize,
    /// Consultations, complaints and reports newly escalated one level up, unanswered past
    /// their deadline.
    pub complaints_escalated: usize,
    /// Risk supervision warnings raised for the county (applications approved in unusually
    /// short time).
    pub risk_raised: usize,
}

/// One sweep as of `as_of` ("today"): idempotent, safe with several replicas. `by` is the
/// operator who asked for it (`POST /v1/sweeps`), audited with what it did; none for the
/// periodic sweep.
pub async fn sweep(
    state: &State,
    as_of: NaiveDate,
    by: Option<&Actor>,
) -> anyhow::Result<SweepReport> {
    let mut report = SweepReport {
        as_of,
        ..Default::default()
    };
    let mut tx = state.mesh.db.begin().await?;
    let overdue = store::referrals::overdue_unwarned(&mut tx, as_of).await?;
    for r in overdue {
        let region = RegionCode::parse(&r.region_code)?;
        let params = state.policy.in_force(&region, as_of)?;
        let (_, new) = store::warnings::raise(
            &mut tx,
            &NewWarning {
                dedupe_key: format!("referral-overdue:{}", r.referral_id),
                kind: WarningKind::ReferralOverdue,
                household_id: Some(r.household_id),
                member_id: Some(r.member_id),
                township_code: township_of(&r.region_code),
                detail: json!({
                    "referral_id": r.referral_id,
                    "department": r.department,
                    "feedback_due": r.feedback_due,
                }),
                verify_due: policy::dates::deadline(as_of, params.warning_verify_days),
                raised_at: state.mesh.clock.now(),
            },
        )
        .await?;
        report.referral_overdue_raised += usize::from(new);
    }
    let escalated =
        store::warnings::escalate_overdue(&mut tx, as_of, state.mesh.clock.now()).await?;
    report.escalated = escalated as usize;
    report.complaints_escalated =
        crate::ops::complaints::escalate_overdue(state, &mut tx, as_of).await?;
    report.risk_raised = fast_approvals(state, &mut tx, as_of).await?;
    if let Some(operator) = by {
        let entry = Entry::new("sweep.run", "sweep", as_of).detail(json!({
            "as_of": as_of,
            "referral_overdue_raised": report.referral_overdue_raised,
            "escalated": report.escalated,
            "complaints_escalated": report.complaints_escalated,
            "risk_raised": report.risk_raised,
        }));
        audit::append(&mut tx, &state.mesh, operator, entry).await?;
    }
    tx.commit().await?;
    if report.referral_overdue_raised > 0
        || report.escalated > 0
        || report.complaints_escalated > 0
        || report.risk_raised > 0
    {
        tracing::info!(
            %as_of,
            raised = report.referral_overdue_raised,
            escalated = report.escalated,
            complaints_escalated = report.complaints_escalated,
            risk_raised = report.risk_raised,
            "Warning sweep."
        );
    }
    Ok(report)
}

/// How far back the sweep looks for decisions to hold to the risk rules: decisions are
/// recorded once, so a window longer than any outage of the sweep sees each.
const RISK_LOOKBACK_DAYS: u64 = 31;

/// Risk supervision (风险监督预警, 003): each application a person decided within the region's
/// `risk_rules.fast_approval_hours` of its submission raises one `risk_fast_approval` warning,
/// passed to the county at once (a township does not review its own decisions). Returns how
/// many were raised.
async fn fast_approvals(
    state: &State,
    tx: &mut PgConnection,
    as_of: NaiveDate,
) -> anyhow::Result<usize> {
    let since = crate::domain::reports::midnight(
        as_of
            .checked_sub_days(chrono::Days::new(RISK_LOOKBACK_DAYS))
            .unwrap_or(NaiveDate::MIN),
        &state.mesh.clock,
    );
    let mut raised = 0;
    for d in store::warnings::person_decided_since(tx, since).await? {
        let Some(region_code) = d.region_code.as_deref() else {
            continue;
        };
        let region = RegionCode::parse(region_code)?;
        let decided_on = state.mesh.clock.local_date(d.decided_at);
        let params = state.policy.in_force(&region, decided_on)?;
        let took = d.decided_at - d.submitted_at;
        let limit = chrono::Duration::hours(i64::from(params.risk_rules.fast_approval_hours));
        if took >= limit {
            continue;
        }
        let (id, new) = store::warnings::raise(
            tx,
            &NewWarning {
                dedupe_key: format!("risk:fast_approval:{}", d.event_id),
                kind: WarningKind::RiskFastApproval,
                household_id: Some(d.household_id),
                member_id: None,
                township_code: township_of(region_code),
                detail: json!({
                    "application_id": d.application_id,
                    "decided_by": d.decided_by,
                    "minutes_after_submission": took.num_minutes(),
                    "fast_approval_hours": params.risk_rules.fast_approval_hours,
                    "policy_version": params.version,
                }),
                verify_due: policy::dates::deadline(as_of, params.warning_verify_days),
                raised_at: state.mesh.clock.now(),
            },
        )
        .await?;
        if new {
            store::warnings::escalate_now(tx, id, state.mesh.clock.now()).await?;
            raised += 1;
        }
    }
    Ok(raised)
}

/// The periodic sweep, as of the real date, every `interval`, until the service stops. A failed
/// sweep is logged and tried again on the next tick.
pub async fn run(state: State, interval: std::time::Duration) -> anyhow::Result<()> {
    let stop = state.mesh.stopping.clone();
    let mut tick = tokio::time::interval(interval.max(std::time::Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(error) = sweep(&state, state.mesh.today(), None).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "Warning sweep failed; it is tried again on the next tick."
            );
        }
    }
    Ok(())
}
