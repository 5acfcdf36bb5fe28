//! Intake's consumer and its one human step: a verification report (or an officer's manual
//! verification) in, a classified determination out.

use crate::state::State;
use crate::store::{self, AppStatus, ApplicationRow, MemberRow, ProposalDecision};
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::Json;
use contract::channels::{
    APPLICATION_MANUALLY_VERIFIED, APPLICATION_MANUAL_REVIEW, APPLICATION_REJECTED,
    HOUSEHOLD_DETERMINED,
};
use contract::{
    ApplicationRejected, DeterminedMember, HouseholdDetermined, HouseholdVerified, ManualReview,
    ManuallyVerified, MemberBasis,
};
use mesh::audit::{self, Entry};
use mesh::consumer::Outcome;
use mesh::http::Path;
use mesh::http::{ApiError, FieldError, JsonBody};
use mesh::{Acting, Actor, ChainRef, Delivery, HandlerError};
use policy::determination::{HouseholdFacts, MemberFacts};
use policy::{Fen, Month, RegionCode, ResidentId};
use serde::Deserialize;
use sqlx::PgConnection;
use std::collections::HashMap;
use uuid::Uuid;

/// What verification (a report, or an officer) established about one member.
#[derive(Debug, Clone, Copy, Default)]
pub struct Verified {
    pub monthly_income_fen: i64,
    pub assets_fen: i64,
}

/// `verify.household.verified` → `eligibility.household.determined` or
/// `intake.application.manual_review`. A complete report for an application in manual
/// verification (a source that had not answered answered later) supersedes the manual
/// verification no officer has completed: the application is determined from it by rule. The
/// officer's completion and this report lock the application, so only the first counts.
/// Batched (group commit): the consumer claims the delivery and commits its batch.
pub async fn on_verified(
    state: State,
    tx: &mut PgConnection,
    e: mesh::Envelope<HouseholdVerified>,
    _d: Delivery,
) -> Result<Outcome, HandlerError> {
    let report = &e.data;
    let app = store::lock(&mut *tx, report.application_id)
        .await?
        .ok_or_else(|| HandlerError::Poison(format!("no application {}", report.application_id)))?;
    if app.household_id != e.household_id {
        return Err(HandlerError::Poison(
            "the report's household does not match the application's".into(),
        ));
    }
    let chain = ChainRef::answering(&e);
    let supersedes_manual = app.status == AppStatus::ManualVerification && report.complete;
    if app.status != AppStatus::Verifying && !supersedes_manual {
        // A further report for a decided application (or one an officer is to verify, with gaps
        // still) changes nothing; it is kept in the history.
        store::history(
            &mut *tx,
            app.application_id,
            app.status,
            "verification",
            &format!(
                "a further report arrived while the application is {}; ignored",
                app.status
            ),
            None,
        )
        .await?;
        return Ok(Outcome::Applied);
    }
    if supersedes_manual {
        store::history(
            &mut *tx,
            app.application_id,
            AppStatus::ManualVerification,
            "verification",
            "a complete report (the sources that had not answered answered later) supersedes the manual verification, which no officer had completed",
            None,
        )
        .await?;
    }
    // A declared income far below the sources' is a risk for the county to look at, whatever
    // the report decides.
    crate::risk::income_gap(&state, &mut *tx, &app, report)
        .await
        .map_err(HandlerError::Transient)?;
    if !report.complete {
        let note = format!("sources without an answer: {}", report.gaps.join(", "));
        store::set_status(
            &mut *tx,
            app.application_id,
            AppStatus::ManualVerification,
            state.mesh.clock.now(),
        )
        .await?;
        store::history(
            &mut *tx,
            app.application_id,
            AppStatus::ManualVerification,
            "verification",
            &note,
            None,
        )
        .await?;
        let out = state.mesh.envelope(
            &chain,
            Some(app.application_id.to_string()),
            ManualReview {
                application_id: app.application_id,
                reason: "household economic verification is incomplete".into(),
                gaps: report.gaps.clone(),
            },
        );
        store::set_manual_review_event(&mut *tx, app.application_id, &out.id).await?;
        mesh::outbox::enqueue_on(
            &mut *tx,
            &state.mesh.subjects,
            APPLICATION_MANUAL_REVIEW,
            &out,
        )
        .await?;
        tracing::info!(
            gaps = report.gaps.len(),
            "Application sent to manual verification."
        );
        return Ok(Outcome::Applied);
    }
    let verified: HashMap<Uuid, Verified> = report
        .members
        .iter()
        .map(|m| {
            (
                m.member_id,
                Verified {
                    monthly_income_fen: m.monthly_income_fen,
                    assets_fen: m.assets_fen,
                },
            )
        })
        .collect();
    let rule_version = determine_and_emit(&state, &mut *tx, &app, &chain, &verified, None)
        .await
        .map_err(|e| match e {
            DetermineError::Poison(reason) => HandlerError::Poison(reason),
            DetermineError::Store(e) => HandlerError::Transient(e),
        })?;
    tracing::info!(policy = %rule_version, "Household determined.");
    Ok(Outcome::Applied)
}

pub enum DetermineError {
    /// The application's own data cannot be determined (no parameter set, bad stored data).
    Poison(String),
    Store(anyhow::Error),
}

impl From<sqlx::Error> for DetermineError {
    fn from(e: sqlx::Error) -> Self {
        DetermineError::Store(e.into())
    }
}

impl From<anyhow::Error> for DetermineError {
    fn from(e: anyhow::Error) -> Self {
        DetermineError::Store(e)
    }
}

/// Determines the application from what was verified, records the decision and its author, and
/// enqueues `eligibility.household.determined`. `officer` is the township officer of a manual
/// verification (from the access token), `None` for a decision by rule.
async fn determine_and_emit(
    state: &State,
    tx: &mut PgConnection,
    app: &ApplicationRow,
    chain: &ChainRef,
    verified: &HashMap<Uuid, Verified>,
    officer: Option<&Actor>,
) -> Result<String, DetermineError> {
    let region =
        RegionCode::parse(&app.region_code).map_err(|e| DetermineError::Poison(e.to_string()))?;
    let today = state.mesh.today();
    let params = state
        .policy
        .in_force(&region, today)
        .map_err(|e| DetermineError::Poison(e.to_string()))?;
    let members = store::members(tx, app.application_id).await?;
    let facts = facts_of(&members, verified).map_err(DetermineError::Poison)?;
    let basis: Vec<MemberBasis> = facts.iter().map(MemberBasis::of).collect();
    let decision = policy::determine(
        &HouseholdFacts {
            urban: app.urban,
            on: today,
            members: facts,
        },
        params,
    )
    .map_err(|e| DetermineError::Poison(e.to_string()))?;
    let decided_by = match officer {
        Some(a) => format!("officer:{}", a.name),
        None => format!("rule:{}", decision.policy_version),
    };
    let members = members
        .iter()
        .zip(&decision.members)
        .zip(basis)
        .map(|((m, md), basis)| {
            DeterminedMember::undecided(
                m.member_id,
                m.id_number.clone(),
                m.name.clone(),
                m.relation.clone(),
                basis,
            )
            .with_decision(md)
        })
        .collect();
    let determined = HouseholdDetermined::decided(
        app.application_id,
        RegionCode::parse(&app.region_code)
            .map_err(|e| anyhow::anyhow!("stored region code {:?}: {e}", app.region_code))?,
        app.urban,
        &decision,
        Month::of(today),
        decided_by.clone(),
        app.integrity_flags.0.clone(),
        members,
    );
    if !app.integrity_flags.0.is_empty() {
        // No favour-based assistance: for a flagged application neither the rule nor the
        // township officer decides; they propose, and a county approver decides.
        let note = format!(
            "{decided_by} proposes {} ({}); a county decision is required: {}",
            decision.tier.as_str(),
            decision.monthly_amount,
            app.integrity_flags.0.join("; ")
        );
        store::insert_proposal(tx, &determined, chain.causation_id.as_deref(), officer).await?;
        store::set_status(
            tx,
            app.application_id,
            AppStatus::AwaitingCountyDecision,
            state.mesh.clock.now(),
        )
        .await?;
        store::history(
            tx,
            app.application_id,
            AppStatus::AwaitingCountyDecision,
            &decided_by,
            &note,
            officer,
        )
        .await?;
        let by = officer.cloned().unwrap_or_else(|| Actor::system("intake"));
        audit::append(
            tx,
            &state.mesh,
            &by,
            Entry::new("application.propose", "application", app.application_id)
                .household(app.household_id)
                .detail(serde_json::json!({
                    "tier": decision.tier.as_str(),
                    "monthly_amount_fen": decision.monthly_amount.0,
                    "decided_by": decided_by,
                    "integrity_flags": app.integrity_flags.0.len(),
                })),
        )
        .await?;
        tracing::info!(
            tier = decision.tier.as_str(),
            "Determination proposed; awaiting a county decision."
        );
        return Ok(decision.policy_version);
    }
    record_and_emit(state, tx, determined, chain, officer).await?;
    Ok(decision.policy_version)
}

/// Records the determination as final, in the audit trail too, and enqueues
/// `eligibility.household.determined`, carrying `by` (the officer or approver from the access
/// token; `None` for a decision by rule).
async fn record_and_emit(
    state: &State,
    tx: &mut PgConnection,
    determined: HouseholdDetermined,
    chain: &ChainRef,
    by: Option<&Actor>,
) -> Result<(), DetermineError> {
    let application_id = determined.application_id;
    let actor = by.cloned().unwrap_or_else(|| Actor::system("intake"));
    store::insert_determination(tx, &determined, &determined.decided_by, &actor).await?;
    if determined.tier.is_low_income() {
        put_on_notice(state, tx, &determined).await?;
    }
    store::set_status(
        tx,
        application_id,
        AppStatus::Determined,
        state.mesh.clock.now(),
    )
    .await?;
    store::history(
        tx,
        application_id,
        AppStatus::Determined,
        &determined.decided_by,
        &determined.rule,
        by,
    )
    .await?;
    audit::append(
        tx,
        &state.mesh,
        &actor,
        Entry::new("application.determine", "application", application_id)
            .household(chain.household_id)
            .detail(serde_json::json!({
                "tier": determined.tier.as_str(),
                "monthly_amount_fen": determined.monthly_amount_fen,
                "policy_version": determined.policy_version,
                "decided_by": determined.decided_by,
            })),
    )
    .await?;
    tracing::info!(
        tier = determined.tier.as_str(),
        amount_fen = determined.monthly_amount_fen,
        decided_by = %determined.decided_by,
        "Determination recorded."
    );
    let mut out = state
        .mesh
        .envelope(chain, Some(application_id.to_string()), determined);
    if let Some(a) = by {
        out = out.by(a.clone());
    }
    mesh::outbox::enqueue_on(tx, &state.mesh.subjects, HOUSEHOLD_DETERMINED, &out).await?;
    Ok(())
}

/// The rules' view of each member: the higher of declared and verified income and assets (a
/// declaration cannot hide what a source reports, and a source's silence on a person does not
/// erase what they declared), with the declared exclusions and rigid spending.
fn facts_of(
    members: &[MemberRow],
    verified: &HashMap<Uuid, Verified>,
) -> Result<Vec<MemberFacts>, String> {
    members
        .iter()
        .map(|m| {
            let v = verified.get(&m.member_id).copied().unwrap_or_default();
            Ok(MemberFacts {
                member_id: m.member_id.to_string(),
                id: ResidentId::parse(&m.id_number).map_err(|e| e.to_string())?,
                monthly_income: Fen(m.declared_monthly_income_fen.max(v.monthly_income_fen)),
                pension_base: Fen(m.pension_base_fen),
                employment_costs: Fen(m.employment_costs_fen),
                assets: Fen(m.declared_assets_fen.max(v.assets_fen)),
                rigid_expenditure: Fen(m.rigid_expenditure_fen),
                flags: m.flags.0,
            })
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualVerification {
    pub note: String,
    /// Every member's verified figures.
    pub members: Vec<ManualMember>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualMember {
    pub member_id: Uuid,
    pub monthly_income_fen: i64,
    pub assets_fen: i64,
}

fn no_application() -> ApiError {
    ApiError::NotFound("no application with this id".into())
}

fn internal(e: DetermineError) -> ApiError {
    match e {
        DetermineError::Poison(reason) => ApiError::Internal(anyhow::anyhow!(reason)),
        DetermineError::Store(e) => ApiError::Internal(e),
    }
}

/// 403 when the officer acting is registered as a near relative (近亲属备案) of a member of the
/// application: they may not verify or decide the case of a relative.
async fn refuse_near_relative(
    tx: &mut PgConnection,
    acting: &Acting,
    members: &[MemberRow],
) -> Result<(), ApiError> {
    let numbers: Vec<String> = members.iter().map(|m| m.id_number.clone()).collect();
    if store::is_near_relative(tx, &acting.caller.sub, &numbers).await? {
        return Err(ApiError::Forbidden(
            "you are registered as a near relative of a member of this application (近亲属回避): another officer must act on it".into(),
        ));
    }
    Ok(())
}

/// `POST /v1/applications/{id}/manual-verification`: the township officer of the token completes
/// a verification that had gaps; the application is then determined from the officer's figures.
/// The figures an officer verified for each member of the application (`members`), checked:
/// every member once, none other, each amount in range, a note saying how.
fn verified_figures(
    req: &ManualVerification,
    members: &[Uuid],
    bounds: &policy::Bounds,
) -> Result<HashMap<Uuid, Verified>, ApiError> {
    if let Err(rule) = bounds.members(req.members.len()) {
        return Err(ApiError::Validation(vec![FieldError::new("members", rule)]));
    }
    let mut errors = Vec::new();
    if req.note.trim().is_empty() {
        errors.push(FieldError::new("note", "say what was verified and how"));
    } else if req.note.chars().count() > 2000 {
        errors.push(FieldError::new("note", "at most 2000 characters"));
    }
    let mut verified = HashMap::new();
    for (i, m) in req.members.iter().enumerate() {
        if !members.contains(&m.member_id) {
            errors.push(FieldError::new(
                format!("members[{i}].member_id"),
                "not a member of this application",
            ));
        }
        for (field, fen) in [
            ("monthly_income_fen", m.monthly_income_fen),
            ("assets_fen", m.assets_fen),
        ] {
            if let Err(rule) = bounds.amount(fen) {
                errors.push(FieldError::new(format!("members[{i}].{field}"), rule));
            }
        }
        if verified
            .insert(
                m.member_id,
                Verified {
                    monthly_income_fen: m.monthly_income_fen,
                    assets_fen: m.assets_fen,
                },
            )
            .is_some()
        {
            errors.push(FieldError::new(
                format!("members[{i}].member_id"),
                "listed twice",
            ));
        }
    }
    if verified.len() != members.len() && errors.is_empty() {
        errors.push(FieldError::new(
            "members",
            "every member's verified figures are required",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(verified)
}

pub async fn complete_manual_verification(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(application_id): Path<Uuid>,
    JsonBody(req): JsonBody<ManualVerification>,
) -> Result<Json<store::ApplicationView>, ApiError> {
    let areas = acting.region_patterns();
    let mut tx = state.mesh.db.begin().await?;
    let app = store::lock_in_area(&mut tx, application_id, &areas)
        .await?
        .ok_or_else(no_application)?;
    let members = store::members(&mut tx, application_id).await?;
    refuse_near_relative(&mut tx, &acting, &members).await?;
    if app.status != AppStatus::ManualVerification {
        return Err(ApiError::Conflict(format!(
            "the application is {}, not awaiting manual verification",
            app.status
        )));
    }
    let member_ids: Vec<Uuid> = members.iter().map(|x| x.member_id).collect();
    let verified = verified_figures(&req, &member_ids, &state.mesh.settings.bounds)?;
    let actor = acting.actor();
    let officer_actor = format!("officer:{}", actor.name);
    store::history(
        &mut tx,
        application_id,
        AppStatus::ManualVerification,
        &officer_actor,
        req.note.trim(),
        Some(&actor),
    )
    .await?;
    audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        Entry::new(
            "application.manual_verification",
            "application",
            application_id,
        )
        .household(app.household_id)
        .purpose_from(&headers)
        .detail(serde_json::json!({"members": verified.len()})),
    )
    .await?;
    let chain = ChainRef {
        household_id: app.household_id,
        chain_id: app.chain_id,
        causation_id: app.manual_review_event_id.clone(),
    };
    // Verification stops asking the sources that had not answered.
    let done = state
        .mesh
        .envelope(
            &chain,
            Some(application_id.to_string()),
            ManuallyVerified {
                application_id,
                verified_by: officer_actor.clone(),
            },
        )
        .by(actor.clone());
    mesh::outbox::enqueue_on(
        &mut tx,
        &state.mesh.subjects,
        APPLICATION_MANUALLY_VERIFIED,
        &done,
    )
    .await
    .map_err(ApiError::Internal)?;
    determine_and_emit(&state, &mut tx, &app, &chain, &verified, Some(&actor))
        .await
        .map_err(internal)?;
    tx.commit().await?;
    store::view(&state.mesh.db, application_id, &areas)
        .await?
        .map(Json)
        .ok_or_else(no_application)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountyDecision {
    /// `approve` the rule's proposal, or `reject` the application.
    pub decision: String,
    pub reason: String,
}

/// Maker-checker: 403 when the approver is the one who proposed what they would decide.
fn refuse_own(acting: &Acting, proposer: Option<&Actor>, what: &str) -> Result<(), ApiError> {
    match proposer {
        Some(p) if p.sub == acting.caller.sub => Err(ApiError::Forbidden(format!(
            "you {what}; another county approver must decide (maker-checker: the proposer does not approve)"
        ))),
        Some(_) | None => Ok(()),
    }
}

/// `POST /v1/applications/{id}/county-decision`: the county approver of the token approves the
/// rule's proposal (the determination goes out under their name) or rejects the application.
/// Nobody decides an application they submitted or whose figures they verified, nor one naming
/// their registered near relative.
pub async fn county_decision(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(application_id): Path<Uuid>,
    JsonBody(req): JsonBody<CountyDecision>,
) -> Result<Json<store::ApplicationView>, ApiError> {
    let mut errors = Vec::new();
    if req.decision != "approve" && req.decision != "reject" {
        errors.push(FieldError::new("decision", "must be approve or reject"));
    }
    if req.reason.trim().is_empty() {
        errors.push(FieldError::new("reason", "a decision says why"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let areas = acting.region_patterns();
    let mut tx = state.mesh.db.begin().await?;
    let app = store::lock_in_area(&mut tx, application_id, &areas)
        .await?
        .ok_or_else(no_application)?;
    let members = store::members(&mut tx, application_id).await?;
    refuse_near_relative(&mut tx, &acting, &members).await?;
    refuse_own(
        &acting,
        app.submitted_by.as_ref().map(|a| &a.0),
        "submitted this application",
    )?;
    if app.status != AppStatus::AwaitingCountyDecision {
        return Err(ApiError::Conflict(format!(
            "the application is {}, not awaiting a county decision",
            app.status
        )));
    }
    let proposal = store::proposal(&mut tx, application_id)
        .await?
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "application {application_id} awaits a decision without a proposal"
            ))
        })?;
    refuse_own(
        &acting,
        proposal.proposed_by.as_ref(),
        "verified the figures this proposal rests on",
    )?;
    let mut determined = proposal.determination;
    let actor = acting.actor();
    let author = format!("county:{}", actor.name);
    let chain = ChainRef {
        household_id: app.household_id,
        chain_id: app.chain_id,
        causation_id: proposal.cause_event_id,
    };
    let reason = req.reason.trim();
    let decision = if req.decision == "approve" {
        ProposalDecision::Approved
    } else {
        ProposalDecision::Rejected
    };
    store::decide_proposal(
        &mut tx,
        application_id,
        &author,
        &actor,
        decision,
        reason,
        state.mesh.clock.now(),
    )
    .await?;
    audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        Entry::new("application.county_decision", "application", application_id)
            .household(app.household_id)
            .purpose_from(&headers)
            .detail(serde_json::json!({"decision": req.decision})),
    )
    .await?;
    if decision == ProposalDecision::Approved {
        determined.rule = format!("{}; approved by {author}: {reason}", determined.rule);
        determined.decided_by = author;
        record_and_emit(&state, &mut tx, determined, &chain, Some(&actor))
            .await
            .map_err(internal)?;
    } else {
        store::set_status(
            &mut tx,
            application_id,
            AppStatus::Rejected,
            state.mesh.clock.now(),
        )
        .await?;
        store::history(
            &mut tx,
            application_id,
            AppStatus::Rejected,
            &author,
            reason,
            Some(&actor),
        )
        .await?;
        let out = state
            .mesh
            .envelope(
                &chain,
                Some(application_id.to_string()),
                ApplicationRejected {
                    application_id,
                    decided_by: author,
                    reason: reason.to_owned(),
                },
            )
            .by(actor.clone());
        mesh::outbox::enqueue_on(&mut tx, &state.mesh.subjects, APPLICATION_REJECTED, &out).await?;
    }
    tx.commit().await?;
    tracing::info!(decision = %req.decision, "County decision recorded.");
    store::view(&state.mesh.db, application_id, &areas)
        .await?
        .map(Json)
        .ok_or_else(no_application)
}

/// The approval disclosure (审批公示) of a determination with a tier: on its village's notice
/// from today (Beijing time) for the region's `disclosure_notice_days` in force today (004:
/// "在镇政府(街道办事处)、村(居)民委员会固定的政务公开栏、村(居)务公开栏等场所进行…审核公示、
/// 审批公示").
async fn put_on_notice(
    state: &State,
    tx: &mut PgConnection,
    determined: &HouseholdDetermined,
) -> Result<(), DetermineError> {
    let today = state.mesh.today();
    let params = state
        .policy
        .in_force(&determined.region_code, today)
        .map_err(|e| DetermineError::Poison(e.to_string()))?;
    let until = policy::dates::deadline(today, params.disclosure_notice_days);
    store::insert_notice(tx, determined, today, until).await?;
    Ok(())
}

/// `monitor.household.changed` of a whole household (no member named), stopped or winding
/// down: from its `stop_from_month` the household is no longer a current recipient and leaves
/// the long-term disclosure list (长期公示). A member's own stop leaves the household on it.
pub async fn on_changed(
    state: State,
    e: mesh::Envelope<contract::HouseholdChanged>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    if e.data.member_id.is_some() {
        return Ok(Outcome::Applied);
    }
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    store::record_stop(&mut tx, e.household_id, &e.data, state.mesh.clock.now()).await?;
    tx.commit().await?;
    tracing::info!(stop_from_month = %e.data.stop_from_month, "Household's stop kept for the disclosure lists.");
    Ok(Outcome::Applied)
}

/// `monitor.household.dishonesty_recorded` → the household's members' dishonesty records,
/// which new applications of theirs are held to (`POST /v1/applications`).
pub async fn on_dishonesty(
    state: State,
    e: mesh::Envelope<contract::DishonestyRecorded>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    store::record_dishonesty(&mut tx, e.household_id, &e.data, state.mesh.clock.now()).await?;
    tx.commit().await?;
    tracing::info!(
        members = e.data.members.len(),
        waiting_until = %e.data.waiting_until,
        expires_on = %e.data.expires_on,
        "Dishonesty record kept."
    );
    Ok(Outcome::Applied)
}

/// `monitor.household.dishonesty_lifted` → the record no longer holds new applications, from
/// the day it was lifted.
pub async fn on_dishonesty_lifted(
    state: State,
    e: mesh::Envelope<contract::DishonestyLifted>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let people = store::lift_dishonesty(&mut tx, e.data.record_id, e.data.lifted_on).await?;
    tx.commit().await?;
    tracing::info!(record_id = %e.data.record_id, people, lifted_on = %e.data.lifted_on, "Dishonesty record lifted.");
    Ok(Outcome::Applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh::{Caller, Role};

    fn approver(sub: &str) -> Acting {
        Caller {
            sub: sub.into(),
            name: "陈静".into(),
            roles: vec![Role::CountyApprover],
            areas: vec!["410102".into()],
            department: None,
            rights: Vec::new(),
        }
        .acting_as(&[Role::CountyApprover])
        .unwrap()
    }

    #[test]
    fn the_proposer_does_not_approve_their_own() {
        let proposer = Actor {
            sub: "chen.jing".into(),
            name: "陈静".into(),
            role: "township_officer".into(),
        };
        let err = refuse_own(
            &approver("chen.jing"),
            Some(&proposer),
            "submitted this application",
        )
        .unwrap_err();
        assert!(
            matches!(err, ApiError::Forbidden(ref m) if m.contains("maker-checker") && m.contains("submitted")),
            "{err}"
        );
        assert!(refuse_own(&approver("liu.yang"), Some(&proposer), "x").is_ok());
        assert!(refuse_own(&approver("chen.jing"), None, "x").is_ok());
    }
}
