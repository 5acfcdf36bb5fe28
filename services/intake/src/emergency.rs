//! Emergency temporary assistance (急难社会救助 / 临时救助), over HTTP.
//!
//! Accepted where the emergency happens, whatever the person's household registration. When the
//! total is at most `act_first_multiple_permille` × the local monthly dibao standard (3 ×), the
//! township grants it at once and `eligibility.emergency.granted` goes out for payment; the
//! papers are completed afterwards, by `emergency_papers_days`, and overdue papers are listed
//! for reminders. Larger amounts wait for a county case conference decided by a named approver.
//! One approval may pay in stages.

use crate::state::State;
use crate::store::{self, Emergency, EmergencyStatus, StageRequest};
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::Json;
use contract::channels::EMERGENCY_GRANTED;
use contract::{EmergencyGranted, EmergencyStage};
use mesh::http::{check_text, ApiError, FieldError, JsonBody};
use mesh::ChainRef;
use policy::{Fen, RegionCode};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyRequest {
    /// Where the emergency happened.
    pub region_code: String,
    #[serde(default = "yes")]
    pub urban: bool,
    pub person: Person,
    pub hardship: String,
    pub stages: Vec<StageRequest>,
    /// The township officer reporting it.
    pub reported_by: String,
}

fn yes() -> bool {
    true
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
    headers: axum::http::HeaderMap,
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
                errors.push(FieldError::new("region_code", e.to_string()));
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
    errors.extend(check_text("reported_by", &req.reported_by, 64));
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
    let (Some(params), Some(id), Ok(total), true) = (params, id, total, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let total = total.0;
    let limit = params
        .standard(req.urban)
        .times_permille(params.act_first_multiple_permille)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("the act-first limit: {e}")))?;
    let act_first = Fen(total) <= limit;
    let officer = req.reported_by.trim().to_owned();
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
        decided_by: act_first.then(|| format!("township:{officer}")),
        decision_reason: act_first.then(|| {
            format!(
                "act first: {} within {limit} ({}‰ of the monthly standard)",
                Fen(total),
                params.act_first_multiple_permille
            )
        }),
        papers_due: act_first
            .then(|| today + chrono::Days::new(u64::from(params.emergency_papers_days))),
        papers_completed_by: None,
        created_at: state.mesh.clock.now(),
    };
    let mut tx = state.mesh.db.begin().await?;
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
    if act_first {
        emit_granted(&state, &mut tx, &e).await?;
    }
    tx.commit().await?;
    e.created_at = state.mesh.clock.now();
    tracing::info!(act_first, total_fen = total, "Emergency reported.");
    Ok((StatusCode::CREATED, Json(e)))
}

async fn emit_granted(state: &State, tx: &mut PgConnection, e: &Emergency) -> Result<(), ApiError> {
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
        .envelope(&chain, Some(e.emergency_id.to_string()), granted);
    mesh::outbox::enqueue_on(tx, &state.mesh.subjects, EMERGENCY_GRANTED, &out).await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConferenceDecision {
    /// The county approver; recorded as the decision's author.
    pub approver: String,
    pub approve: bool,
    pub reason: String,
}

/// `POST /v1/emergencies/{id}/decision`: the county case conference (一事一议) on a large amount.
pub async fn decide(
    AxState(state): AxState<State>,
    Path(id): Path<Uuid>,
    JsonBody(req): JsonBody<ConferenceDecision>,
) -> Result<Json<Emergency>, ApiError> {
    let approver = req.approver.trim();
    let mut errors = Vec::new();
    errors.extend(check_text("approver", &req.approver, 64));
    if req.reason.trim().is_empty() {
        errors.push(FieldError::new("reason", "a decision says why"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut tx = state.mesh.db.begin().await?;
    let mut e = store::lock_emergency(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no emergency {id}")))?;
    if e.status != EmergencyStatus::AwaitingCaseConference {
        return Err(ApiError::Conflict(format!(
            "the emergency is {}, not awaiting a case conference",
            e.status
        )));
    }
    let by = format!("county:{approver}");
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
        req.reason.trim(),
        state.mesh.clock.now(),
    )
    .await?;
    e.status = status;
    e.decided_by = Some(by);
    e.decision_reason = Some(req.reason.trim().to_owned());
    if req.approve {
        emit_granted(&state, &mut tx, &e).await?;
    }
    tx.commit().await?;
    tracing::info!(
        status = status.as_str(),
        "Emergency case conference decided."
    );
    Ok(Json(e))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Papers {
    pub officer: String,
}

/// `POST /v1/emergencies/{id}/papers`: the papers of an act-first grant are complete.
pub async fn papers(
    AxState(state): AxState<State>,
    Path(id): Path<Uuid>,
    JsonBody(req): JsonBody<Papers>,
) -> Result<StatusCode, ApiError> {
    if let Some(e) = check_text("officer", &req.officer, 64) {
        return Err(ApiError::Validation(vec![e]));
    }
    if store::complete_papers(
        &state.mesh.db,
        id,
        req.officer.trim(),
        state.mesh.clock.now(),
    )
    .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "no act-first emergency {id} with papers open"
        )))
    }
}

#[derive(Debug, Deserialize)]
pub struct OnQuery {
    #[serde(default)]
    pub on: Option<chrono::NaiveDate>,
}

/// `GET /v1/emergencies/papers-overdue?on=YYYY-MM-DD`: act-first grants whose papers are late.
pub async fn overdue(
    AxState(state): AxState<State>,
    Query(q): Query<OnQuery>,
) -> Result<Json<Vec<Emergency>>, ApiError> {
    let on = q.on.unwrap_or_else(|| state.mesh.today());
    Ok(Json(store::papers_overdue(&state.mesh.db, on).await?))
}
