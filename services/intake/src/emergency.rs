//! Emergency temporary assistance (急难社会救助 / 临时救助), over HTTP.
//!
//! Accepted where the emergency happens, whatever the person's household registration. Whether
//! the township grants it at once is `policy::act_first`, by the region's rule: by amount (at
//! most `act_first_multiple_permille` × the local monthly dibao standard, Zhengzhou) or by type
//! (emergency-type first, expenditure-type by approval, Shenzhen). A report that does not say
//! urban or rural (or, by type, the type) is refused. Granted at once,
//! `eligibility.emergency.granted` goes out for payment; the
//! papers are completed afterwards, by `emergency_papers_days`, and overdue papers are listed
//! for reminders. Larger amounts wait for a county case conference decided by a county approver,
//! never the officer who reported it. One approval may pay in stages. The officer is the access
//! token's person; a staff member registered as a near relative of the person helped neither
//! grants it act first nor decides it.

use crate::state::State;
use crate::store::{self, Emergency, EmergencyStatus, StageRequest};
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use contract::channels::EMERGENCY_GRANTED;
use contract::{EmergencyGranted, EmergencyStage};
use mesh::audit::{self, Entry};
use mesh::http::{check_text, ApiError, FieldError, JsonBody};
use mesh::http::{Path, Query};
use mesh::{Acting, Actor, ChainRef};
use policy::{ActFirstRefusal, AidType, Fen, RegionCode};
use serde::Deserialize;
use sqlx::types::Json as Stored;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyRequest {
    /// Where the emergency happened.
    pub region_code: String,
    /// Urban or rural: required, never assumed (the limit of act first depends on it).
    #[serde(default)]
    pub urban: Option<bool>,
    /// Emergency-type (急难型) or expenditure-type (支出型) aid; required where the region's
    /// act-first rule is by type.
    #[serde(default)]
    pub aid_type: Option<AidType>,
    pub person: Person,
    pub hardship: String,
    pub stages: Vec<StageRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub name: String,
    pub id_number: String,
}

/// `POST /v1/emergencies`
#[allow(
    clippy::too_many_lines,
    reason = "one request or message checked, decided and recorded in one transaction; to be split into check, decide and store"
)]
pub async fn report(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    JsonBody(req): JsonBody<EmergencyRequest>,
) -> Result<(StatusCode, Json<Emergency>), ApiError> {
    let key = crate::http::idempotency_key(&headers)?;
    if let Some(k) = &key {
        if let Some(existing) = store::emergency_by_key(&state.mesh.db, k).await? {
            return Ok((StatusCode::OK, Json(existing)));
        }
    }
    let bounds = &state.mesh.settings.bounds;
    if let Err(rule) = bounds.stages(req.stages.len()) {
        return Err(ApiError::Validation(vec![FieldError::new("stages", rule)]));
    }
    let mut errors = Vec::new();
    let today = state.mesh.today();
    let params = match RegionCode::parse(&req.region_code) {
        Ok(r) => match state.policy.in_force(&r, today) {
            Ok(p) => Some(p.clone()),
            Err(e) => {
                errors.push(FieldError::new("region_code", e.rule()));
                None
            }
        },
        Err(e) => {
            errors.push(FieldError::new("region_code", e.to_string()));
            None
        }
    };
    let id = crate::http::person_id(&req.person.id_number, today)
        .map_err(|rule| errors.push(FieldError::new("person.id_number", rule)))
        .ok();
    errors.extend(check_text("person.name", &req.person.name, 64));
    if req.hardship.trim().is_empty() || req.hardship.chars().count() > 500 {
        errors.push(FieldError::new("hardship", "must be 1 to 500 characters"));
    }
    for (i, s) in req.stages.iter().enumerate() {
        if let Err(rule) = bounds.positive_amount(s.amount_fen) {
            errors.push(FieldError::new(format!("stages[{i}].amount_fen"), rule));
        }
        if let Err(rule) = bounds.stage_days(s.pay_after_days) {
            errors.push(FieldError::new(format!("stages[{i}].pay_after_days"), rule));
        }
    }
    // The stages together are one amount too.
    let total = Fen::checked_sum(req.stages.iter().map(|s| Fen(s.amount_fen)));
    match total {
        Ok(t) if errors.is_empty() && bounds.positive_amount(t.0).is_err() => {
            errors.push(FieldError::new(
                "stages",
                format!("together {}", bounds.amount_rule()),
            ));
        }
        Ok(_) | Err(_) => {}
    }
    let decision = match (&params, &total) {
        (Some(p), Ok(t)) => match policy::act_first(p, req.urban, req.aid_type, *t) {
            Ok(d) => Some(d),
            Err(e @ ActFirstRefusal::UrbanRuralMissing) => {
                errors.push(FieldError::new("urban", e.to_string()));
                None
            }
            Err(e @ ActFirstRefusal::AidTypeMissing) => {
                errors.push(FieldError::new("aid_type", e.to_string()));
                None
            }
            Err(e @ ActFirstRefusal::Overflow) => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "the act-first limit: {e}"
                )));
            }
        },
        _ => None,
    };
    let (Some(params), Some(id), Ok(total), Some(decision), true) =
        (params, id, total, decision, errors.is_empty())
    else {
        return Err(ApiError::Validation(errors));
    };
    // A township officer reports what happens in the townships of their token.
    acting.require_area("region_code", &req.region_code)?;
    let total = total.0;
    // By type there is no limit: 0 is recorded.
    let limit = decision.limit.unwrap_or(Fen::ZERO);
    let act_first = decision.act_first;
    let actor = acting.actor();
    let officer = actor.name.clone();
    let mut e = Emergency {
        emergency_id: Uuid::new_v4(),
        household_id: Uuid::new_v4(),
        chain_id: Uuid::new_v4(),
        member_id: Uuid::new_v4(),
        id_number: id.as_str().to_owned(),
        name: req.person.name.trim().to_owned(),
        region_code: req.region_code.clone(),
        hardship: req.hardship.trim().to_owned(),
        total_amount_fen: total,
        stages: sqlx::types::Json(req.stages.clone()),
        status: if act_first {
            EmergencyStatus::Granted
        } else {
            EmergencyStatus::AwaitingCaseConference
        },
        act_first,
        limit_fen: limit.0,
        policy_version: params.version.clone(),
        reported_by: officer.clone(),
        reported_by_actor: Some(Stored(actor.clone())),
        decided_by: act_first.then(|| format!("township:{officer}")),
        decided_by_actor: act_first.then(|| Stored(actor.clone())),
        decision_reason: act_first.then(|| decision.reason.clone()),
        papers_due: act_first
            .then(|| today + chrono::Days::new(u64::from(params.emergency_papers_days))),
        papers_completed_by: None,
        papers_completed_by_actor: None,
        created_at: state.mesh.clock.now(),
    };
    let mut tx = state.mesh.db.begin().await?;
    if act_first && store::is_near_relative(&mut tx, &actor.sub, &[e.id_number.clone()]).await? {
        // Act first is the township's own grant: not one of a relative's.
        return Err(ApiError::Forbidden(
            "you are registered as a near relative of this person (近亲属回避): another officer must report and grant it".into(),
        ));
    }
    store::insert_emergency(&mut tx, &e).await?;
    if let Some(k) = &key {
        match store::set_emergency_key(&mut tx, e.emergency_id, k).await {
            Ok(()) => {}
            // A concurrent retry with the same key won: answer with its report.
            Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                drop(tx);
                let existing = store::emergency_by_key(&state.mesh.db, k)
                    .await?
                    .ok_or_else(|| ApiError::Conflict("the Idempotency-Key is in use".into()))?;
                return Ok((StatusCode::OK, Json(existing)));
            }
            Err(err) => return Err(err.into()),
        }
    }
    audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        Entry::new("emergency.report", "emergency", e.emergency_id)
            .household(e.household_id)
            .person(e.member_id)
            .purpose_from(&headers)
            .detail(serde_json::json!({
                "region_code": e.region_code,
                "total_amount_fen": e.total_amount_fen,
                "act_first": act_first,
                "status": e.status.as_str(),
            })),
    )
    .await?;
    if act_first {
        emit_granted(&state, &mut tx, &e, &actor).await?;
    }
    tx.commit().await?;
    e.created_at = state.mesh.clock.now();
    tracing::info!(act_first, total_fen = total, "Emergency reported.");
    Ok((StatusCode::CREATED, Json(e)))
}

/// Enqueues `eligibility.emergency.granted`, carrying the officer or approver who granted it.
async fn emit_granted(
    state: &State,
    tx: &mut PgConnection,
    e: &Emergency,
    by: &Actor,
) -> Result<(), ApiError> {
    let today = state.mesh.today();
    let granted = EmergencyGranted {
        emergency_id: e.emergency_id,
        member_id: e.member_id,
        id_number: e.id_number.clone(),
        name: e.name.clone(),
        region_code: RegionCode::parse(&e.region_code)
            .map_err(|err| anyhow::anyhow!("stored region code {:?}: {err}", e.region_code))?,
        hardship: e.hardship.clone(),
        total_amount_fen: e.total_amount_fen,
        stages: e
            .stages
            .0
            .iter()
            .enumerate()
            .map(|(i, s)| EmergencyStage {
                stage: i as u32 + 1,
                amount_fen: s.amount_fen,
                pay_on: today + chrono::Days::new(u64::from(s.pay_after_days)),
            })
            .collect(),
        act_first: e.act_first,
        decided_by: e.decided_by.clone().unwrap_or_default(),
        rule: e.decision_reason.clone().unwrap_or_default(),
        policy_version: e.policy_version.clone(),
        papers_due: e.papers_due,
    };
    let chain = ChainRef {
        household_id: e.household_id,
        chain_id: e.chain_id,
        causation_id: None,
    };
    let out = state
        .mesh
        .envelope(&chain, Some(e.emergency_id.to_string()), granted)
        .by(by.clone());
    mesh::outbox::enqueue_on(tx, &state.mesh.subjects, EMERGENCY_GRANTED, &out).await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConferenceDecision {
    pub approve: bool,
    pub reason: String,
}

fn no_emergency() -> ApiError {
    ApiError::NotFound("no emergency with this id".into())
}

/// `POST /v1/emergencies/{id}/decision`: the county case conference (一事一议) on a large amount,
/// decided by the county approver of the token: not the officer who reported it, nor a staff
/// member registered as a near relative of the person.
pub async fn decide(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    JsonBody(req): JsonBody<ConferenceDecision>,
) -> Result<Json<Emergency>, ApiError> {
    if req.reason.trim().is_empty() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "reason",
            "a decision says why",
        )]));
    }
    let mut tx = state.mesh.db.begin().await?;
    let mut e = store::lock_emergency(&mut tx, id, &acting.region_patterns())
        .await?
        .ok_or_else(no_emergency)?;
    let actor = acting.actor();
    if store::is_near_relative(&mut tx, &actor.sub, &[e.id_number.clone()]).await? {
        return Err(ApiError::Forbidden(
            "you are registered as a near relative of this person (近亲属回避): another county approver must decide".into(),
        ));
    }
    if e.reported_by_actor
        .as_ref()
        .is_some_and(|r| r.0.sub == actor.sub)
    {
        return Err(ApiError::Forbidden(
            "you reported this emergency; another county approver must decide (maker-checker: the proposer does not approve)".into(),
        ));
    }
    if e.status != EmergencyStatus::AwaitingCaseConference {
        return Err(ApiError::Conflict(format!(
            "the emergency is {}, not awaiting a case conference",
            e.status
        )));
    }
    let by = format!("county:{}", actor.name);
    let status = if req.approve {
        EmergencyStatus::Granted
    } else {
        EmergencyStatus::Refused
    };
    store::decide_emergency(
        &mut tx,
        id,
        status,
        &by,
        &actor,
        req.reason.trim(),
        state.mesh.clock.now(),
    )
    .await?;
    audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        Entry::new("emergency.decide", "emergency", id)
            .household(e.household_id)
            .person(e.member_id)
            .purpose_from(&headers)
            .detail(
                serde_json::json!({"approve": req.approve, "total_amount_fen": e.total_amount_fen}),
            ),
    )
    .await?;
    e.status = status;
    e.decided_by = Some(by);
    e.decided_by_actor = Some(Stored(actor.clone()));
    e.decision_reason = Some(req.reason.trim().to_owned());
    if req.approve {
        emit_granted(&state, &mut tx, &e, &actor).await?;
    }
    tx.commit().await?;
    tracing::info!(
        status = status.as_str(),
        "Emergency case conference decided."
    );
    Ok(Json(e))
}

/// The body of `POST /v1/emergencies/{id}/papers`: an empty object (the officer is the token's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Papers {}

/// `POST /v1/emergencies/{id}/papers`: the papers of an act-first grant in the officer's
/// townships are complete, by the officer of the token.
pub async fn papers(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    JsonBody(Papers {}): JsonBody<Papers>,
) -> Result<StatusCode, ApiError> {
    let actor = acting.actor();
    let mut tx = state.mesh.db.begin().await?;
    let Some(household_id) = store::complete_papers(
        &mut tx,
        id,
        &actor,
        &acting.region_patterns(),
        state.mesh.clock.now(),
    )
    .await?
    else {
        return Err(ApiError::NotFound(
            "no act-first emergency with papers open".into(),
        ));
    };
    audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        Entry::new("emergency.papers", "emergency", id)
            .household(household_id)
            .purpose_from(&headers),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct OnQuery {
    #[serde(default)]
    pub on: Option<chrono::NaiveDate>,
}

/// `GET /v1/emergencies/papers-overdue?on=YYYY-MM-DD`: act-first grants in the caller's areas
/// whose papers are late; the list is in the audit trail before it leaves.
pub async fn overdue(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Query(q): Query<OnQuery>,
) -> Result<Json<Vec<Emergency>>, ApiError> {
    let on = q.on.unwrap_or_else(|| state.mesh.today());
    let list = store::papers_overdue(&state.mesh.db, on, &acting.region_patterns()).await?;
    audit::record(
        &state.mesh,
        &acting.actor(),
        Entry::new("emergency.list_overdue", "emergency_list", on)
            .purpose_from(&headers)
            .detail(serde_json::json!({"on": on, "count": list.len()})),
    )
    .await?;
    Ok(Json(list))
}
