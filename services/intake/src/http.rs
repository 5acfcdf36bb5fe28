//! Intake's HTTP API: submit an application, read one back, decide, register near relatives of
//! staff, emergencies; the public disclosure lists and objections (crate::disclosure).
//!
//! Every route but the disclosure lists and objections takes an access token (mesh::auth) and names its roles
//! (the `x-roles` of docs/openapi.yaml); what a caller reads or acts on is limited in the
//! queries to the token's areas, and a record outside them is "not found".

use crate::state::State;
use crate::store;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use contract::channels::APPLICATION_SUBMITTED;
use contract::{ApplicantMember, ApplicationSubmitted, HonestyCommitment};
use mesh::audit::{self, Entry};
use mesh::auth::REGIONAL_READ;
use mesh::http::Path;
use mesh::http::{check_text, ApiError, FieldError, JsonBody};
use mesh::{Acting, Actor, ChainRef, Mesh, Role};
use policy::determination::MemberFlags;
use policy::{RegionCode, ResidentId};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use uuid::Uuid;

/// The routes that take a token, each with its roles.
pub fn routes(state: State) -> Router<Mesh> {
    use crate::{emergency, handlers};
    use mesh::auth::allow;
    Router::new()
        .route(
            "/v1/applications",
            post(submit).layer(allow(&[Role::TownshipOfficer])),
        )
        .route(
            "/v1/applications/{application_id}",
            get(show).layer(allow(REGIONAL_READ)),
        )
        .route(
            "/v1/applications/{application_id}/manual-verification",
            post(handlers::complete_manual_verification).layer(allow(&[Role::TownshipOfficer])),
        )
        .route(
            "/v1/applications/{application_id}/county-decision",
            post(handlers::county_decision).layer(allow(&[Role::CountyApprover])),
        )
        .route(
            "/v1/staff-relatives",
            post(register_relative).layer(allow(&[Role::CountyOfficer])),
        )
        .route(
            "/v1/emergencies",
            post(emergency::report).layer(allow(&[Role::TownshipOfficer])),
        )
        .route(
            "/v1/emergencies/papers-overdue",
            get(emergency::overdue).layer(allow(REGIONAL_READ)),
        )
        .route(
            "/v1/emergencies/{emergency_id}/decision",
            post(emergency::decide).layer(allow(&[Role::CountyApprover])),
        )
        .route(
            "/v1/emergencies/{emergency_id}/papers",
            post(emergency::papers).layer(allow(&[Role::TownshipOfficer])),
        )
        .with_state(state)
}

/// The routes anyone may call without a token: the notice board (公示) and objections to it.
pub fn public_routes(state: State) -> Router<Mesh> {
    use crate::disclosure;
    Router::new()
        .route("/v1/disclosures/notices", get(disclosure::notices))
        .route("/v1/disclosures/recipients", get(disclosure::recipients))
        .route(
            "/v1/disclosures/{application_id}/objections",
            post(disclosure::object),
        )
        .with_state(state)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    pub region_code: String,
    pub urban: bool,
    #[serde(default)]
    pub address: Option<String>,
    pub members: Vec<MemberRequest>,
    /// The applicant's signed honesty commitment (守信承诺): required.
    #[serde(default)]
    pub commitment: Option<CommitmentRequest>,
}

/// The honesty commitment as the form gives it: the version of its text, the day it was
/// signed, and which member signed it (an index into `members`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitmentRequest {
    pub version: String,
    pub signed_on: String,
    pub signer: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRequest {
    pub name: String,
    pub id_number: String,
    pub relation: String,
    pub declared_monthly_income_fen: i64,
    /// Residents' basic pension base included in the income (not counted).
    #[serde(default)]
    pub pension_base_fen: i64,
    /// Necessary employment costs (deducted).
    #[serde(default)]
    pub employment_costs_fen: i64,
    /// Unavoidable monthly spending: medical, education, disaster, accident.
    #[serde(default)]
    pub rigid_expenditure_fen: i64,
    #[serde(default)]
    pub declared_assets_fen: i64,
    #[serde(default)]
    pub flags: MemberFlags,
}

#[derive(Debug, Serialize)]
pub struct Accepted {
    pub application_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub status: store::AppStatus,
    pub trace_id: Option<String>,
    /// The township officer who submitted it, from the access token (on an idempotent repeat,
    /// the one who submitted it first; none for an application from before sign-in).
    pub submitted_by: Option<Actor>,
}

/// A resident ID number of a person born by `today`; the rule when it is not one.
pub fn person_id(raw: &str, today: chrono::NaiveDate) -> Result<ResidentId, String> {
    let id = ResidentId::parse(raw).map_err(|e| e.to_string())?;
    if id.birth_date() > today {
        return Err("the birth date in characters 7 to 14 is in the future".into());
    }
    Ok(id)
}

/// Everything wrong with the request at once, each with the field it concerns. The number of
/// members is checked first: a list over `bounds.max_members` is refused before any member is
/// looked at.
fn validate(
    req: &ApplicationRequest,
    state: &State,
) -> Result<(RegionCode, Vec<ResidentId>, SignedCommitment), ApiError> {
    let bounds = &state.mesh.settings.bounds;
    if let Err(rule) = bounds.members(req.members.len()) {
        return Err(ApiError::Validation(vec![FieldError::new("members", rule)]));
    }
    let today = state.mesh.today();
    let mut errors = Vec::new();
    let region = match RegionCode::parse(&req.region_code) {
        Ok(r) => {
            if let Err(e) = state.policy.in_force(&r, state.mesh.today()) {
                errors.push(FieldError::new("region_code", e.rule()));
            }
            Some(r)
        }
        Err(e) => {
            errors.push(FieldError::new("region_code", e.to_string()));
            None
        }
    };
    if let Some(e) = req
        .address
        .as_deref()
        .and_then(|a| check_text("address", a, 200))
    {
        errors.push(e);
    }
    let mut ids = Vec::with_capacity(req.members.len());
    let mut seen = HashSet::with_capacity(req.members.len());
    for (i, m) in req.members.iter().enumerate() {
        let at = |f: &str| format!("members[{i}].{f}");
        errors.extend(check_text(at("name"), &m.name, 64));
        errors.extend(check_text(at("relation"), &m.relation, 32));
        for (field, value) in [
            ("declared_monthly_income_fen", m.declared_monthly_income_fen),
            ("pension_base_fen", m.pension_base_fen),
            ("employment_costs_fen", m.employment_costs_fen),
            ("rigid_expenditure_fen", m.rigid_expenditure_fen),
            ("declared_assets_fen", m.declared_assets_fen),
        ] {
            if let Err(rule) = bounds.amount(value) {
                errors.push(FieldError::new(at(field), rule));
            }
        }
        match person_id(&m.id_number, today) {
            Ok(id) if !seen.insert(id.clone()) => errors.push(FieldError::new(
                at("id_number"),
                "the same person is listed twice",
            )),
            Ok(id) => ids.push(id),
            Err(rule) => errors.push(FieldError::new(at("id_number"), rule)),
        }
    }
    let signed = commitment(req.commitment.as_ref(), req.members.len(), today)
        .map_err(|mut e| errors.append(&mut e))
        .ok();
    match (region, signed) {
        (Some(r), Some(c)) if errors.is_empty() => Ok((r, ids, c)),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// A commitment that passed [`commitment`]: its version, day and signer's index.
struct SignedCommitment {
    version: String,
    signed_on: chrono::NaiveDate,
    signer: usize,
}

/// The honesty commitment checked (003: "全面推行申请社会救助事项守信承诺和失信记录制度"): an
/// application without it is incomplete.
fn commitment(
    c: Option<&CommitmentRequest>,
    members: usize,
    today: chrono::NaiveDate,
) -> Result<SignedCommitment, Vec<FieldError>> {
    let Some(c) = c else {
        return Err(vec![FieldError::new(
            "commitment",
            "the applicant's signed honesty commitment (守信承诺) is required: the version of its text, the day it was signed and the member who signed it",
        )]);
    };
    let mut errors = Vec::new();
    errors.extend(check_text("commitment.version", &c.version, 32));
    let signed_on = match chrono::NaiveDate::parse_from_str(c.signed_on.trim(), "%Y-%m-%d") {
        Ok(d) if d > today => {
            errors.push(FieldError::new(
                "commitment.signed_on",
                "the day it was signed is not after today",
            ));
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(FieldError::new(
                "commitment.signed_on",
                "a date, YYYY-MM-DD",
            ));
            None
        }
    };
    if c.signer >= members {
        errors.push(FieldError::new(
            "commitment.signer",
            "the index in members of the person who signed it",
        ));
    }
    match signed_on {
        Some(signed_on) if errors.is_empty() => Ok(SignedCommitment {
            version: c.version.trim().to_owned(),
            signed_on,
            signer: c.signer,
        }),
        _ => Err(errors),
    }
}

#[tracing::instrument(skip_all, fields(application_id = tracing::field::Empty, household_id = tracing::field::Empty))]
/// The members of a request as the submitted event carries them, each with a new member id.
fn applicants(req: &ApplicationRequest, ids: &[ResidentId]) -> Vec<ApplicantMember> {
    req.members
        .iter()
        .zip(ids)
        .map(|(m, id)| ApplicantMember {
            member_id: Uuid::new_v4(),
            id_number: id.as_str().to_owned(),
            name: m.name.trim().to_owned(),
            relation: m.relation.trim().to_owned(),
            declared_monthly_income_fen: m.declared_monthly_income_fen,
            pension_base_fen: m.pension_base_fen,
            employment_costs_fen: m.employment_costs_fen,
            rigid_expenditure_fen: m.rigid_expenditure_fen,
            declared_assets_fen: m.declared_assets_fen,
            flags: m.flags,
        })
        .collect()
}

async fn submit(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ApplicationRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let (region, ids, signed) = validate(&req, &state)?;
    // A township officer submits for the townships of their token only.
    acting.require_area("region_code", region.as_str())?;
    let actor = acting.actor();
    let key = idempotency_key(&headers)?;
    let db = &state.mesh.db;
    if let Some(k) = &key {
        if let Some(existing) = store::by_idempotency_key(db, k).await? {
            return Ok((StatusCode::OK, Json(accepted(existing))));
        }
    }
    let application_id = Uuid::new_v4();
    let chain = ChainRef {
        household_id: Uuid::new_v4(),
        chain_id: Uuid::new_v4(),
        causation_id: None,
    };
    let span = tracing::Span::current();
    span.record("application_id", tracing::field::display(application_id));
    span.record("household_id", tracing::field::display(chain.household_id));
    let members = applicants(&req, &ids);
    let commitment = members.get(signed.signer).map(|m| HonestyCommitment {
        version: signed.version,
        signed_on: signed.signed_on,
        signer_member_id: m.member_id,
    });
    let event = ApplicationSubmitted {
        application_id,
        region_code: region.clone(),
        urban: req.urban,
        members,
        commitment,
    };
    let envelope = state
        .mesh
        .envelope(&chain, Some(application_id.to_string()), event)
        .by(actor.clone());
    let mut tx = db.begin().await?;
    // One person, one open case: serialise on each person's ID number, then look for them in
    // open applications and among the enrolled.
    let numbers: Vec<String> = ids.iter().map(|i| i.as_str().to_owned()).collect();
    store::lock_people(&mut tx, &numbers).await?;
    let existing = store::open_cases_of(&mut tx, &numbers).await?;
    if !existing.is_empty() {
        let fields = existing
            .iter()
            .filter_map(|c| {
                let i = numbers.iter().position(|n| *n == c.id_number)?;
                Some(FieldError::new(
                    format!("members[{i}].id_number"),
                    format!(
                        "this person is already in application {} ({})",
                        c.application_id, c.state
                    ),
                ))
            })
            .collect();
        return Err(ApiError::Duplicate(fields));
    }
    let mut flags = store::integrity_flags(&mut tx, &numbers).await?;
    flags.extend(dishonesty_flags(&mut tx, &numbers, state.mesh.today()).await?);
    let inserted = store::insert_application(
        &mut tx,
        &envelope,
        req.address.as_deref(),
        key.as_deref(),
        &flags,
        &actor,
    )
    .await;
    match inserted {
        Ok(()) => {}
        // A concurrent request with the same key won the race: answer with its application.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() && key.is_some() => {
            drop(tx);
            let existing = store::by_idempotency_key(db, key.as_deref().unwrap_or_default())
                .await?
                .ok_or_else(|| ApiError::Conflict("the Idempotency-Key is in use".into()))?;
            return Ok((StatusCode::OK, Json(accepted(existing))));
        }
        Err(e) => return Err(e.into()),
    }
    audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        Entry::new("application.submit", "application", application_id)
            .household(chain.household_id)
            .purpose_from(&headers)
            .detail(serde_json::json!({
                "region_code": region.as_str(),
                "members": ids.len(),
                "integrity_flags": flags.len(),
            })),
    )
    .await?;
    mesh::outbox::enqueue_on(
        &mut tx,
        &state.mesh.subjects,
        APPLICATION_SUBMITTED,
        &envelope,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(members = ids.len(), region = %region, flags = flags.len(), "Application accepted.");
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            application_id,
            household_id: chain.household_id,
            chain_id: chain.chain_id,
            status: store::AppStatus::Verifying,
            trace_id: mesh::telemetry::current_trace_id(),
            submitted_by: Some(actor),
        }),
    ))
}

/// What the people's dishonesty records (失信记录) in force on `today` do to their new
/// application: 409 in a record's waiting period; after it, until the record expires, an
/// integrity flag (a county decides the application).
async fn dishonesty_flags(
    tx: &mut sqlx::PgConnection,
    numbers: &[String],
    today: chrono::NaiveDate,
) -> Result<Vec<String>, ApiError> {
    let records = store::dishonesty_of(tx, numbers, today).await?;
    let waiting: Vec<String> = records
        .iter()
        .filter(|r| r.waiting_until >= today)
        .map(|r| {
            format!(
                "members[{}] has a dishonesty record (失信记录): no new application before {}",
                r.position,
                r.waiting_until.succ_opt().unwrap_or(r.waiting_until)
            )
        })
        .collect();
    if !waiting.is_empty() {
        return Err(ApiError::Conflict(waiting.join("; ")));
    }
    Ok(records
        .iter()
        .map(|r| {
            format!(
                "dishonesty_record: members[{}] has a dishonesty record until {}",
                r.position, r.expires_on
            )
        })
        .collect())
}

fn accepted(a: store::ApplicationRow) -> Accepted {
    Accepted {
        application_id: a.application_id,
        household_id: a.household_id,
        chain_id: a.chain_id,
        status: a.status,
        trace_id: None,
        submitted_by: a.submitted_by.map(|by| by.0),
    }
}

/// `GET /v1/applications/{id}`: in the caller's areas only; the read is in the audit trail
/// before the application leaves.
async fn show(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(application_id): Path<Uuid>,
) -> Result<Json<store::ApplicationView>, ApiError> {
    let view = store::view(&state.mesh.db, application_id, &acting.region_patterns())
        .await?
        .ok_or_else(|| ApiError::NotFound("no application with this id".into()))?;
    audit::record(
        &state.mesh,
        &acting.actor(),
        Entry::new("application.read", "application", application_id)
            .household(view.household_id)
            .purpose_from(&headers),
    )
    .await?;
    Ok(Json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelativeRequest {
    /// The relative's resident ID number.
    pub id_number: String,
    /// The staff member or village cadre they are related to, by the subject (`sub`) of their
    /// access token: the officer who may then not act on the relative's case.
    pub staff_sub: String,
    pub relation: String,
}

/// What a registration answers: no staff name, the ID number masked.
#[derive(Debug, Serialize)]
pub struct Registered {
    pub id_number_masked: String,
    pub staff_sub: String,
    pub relation: String,
    /// The county officer who registered it, from the access token.
    pub registered_by: Actor,
}

/// Near-relative registration (近亲属备案) by the county officer of the token: later
/// applications naming this person are flagged, and the staff member may not act on their case.
async fn register_relative(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    JsonBody(req): JsonBody<RelativeRequest>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let mut errors = Vec::new();
    let id = match person_id(&req.id_number, state.mesh.today()) {
        Ok(id) => Some(id),
        Err(rule) => {
            errors.push(FieldError::new("id_number", rule));
            None
        }
    };
    match check_text("staff_sub", &req.staff_sub, 128) {
        Some(e) => errors.push(e),
        None if req.staff_sub.trim().chars().any(char::is_whitespace) => errors.push(
            FieldError::new("staff_sub", "a token subject has no spaces"),
        ),
        None => {}
    }
    errors.extend(check_text("relation", &req.relation, 64));
    let Some(id) = id.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let actor = acting.actor();
    let mut tx = state.mesh.db.begin().await?;
    store::register_relative(
        &mut tx,
        id.as_str(),
        &req.staff_sub,
        &req.relation,
        &actor,
        state.mesh.clock.now(),
    )
    .await?;
    // Decisions the staff member made before the relation was registered are risks.
    let risks = crate::risk::relative_decisions(&state, &mut tx, id.as_str(), &req.staff_sub)
        .await
        .map_err(ApiError::Internal)?;
    audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        Entry::new("staff_relative.register", "staff_relative", id.masked())
            .purpose_from(&headers)
            .detail(serde_json::json!({
                "staff_sub": req.staff_sub.trim(),
                "risk_decisions": risks,
            })),
    )
    .await?;
    tx.commit().await?;
    tracing::info!("Near relative of staff registered.");
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            id_number_masked: id.masked(),
            staff_sub: req.staff_sub.trim().to_owned(),
            relation: req.relation.trim().to_owned(),
            registered_by: actor,
        }),
    ))
}

/// The `Idempotency-Key` header, if any: 1 to 128 visible characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        Some(v) => Ok(Some(
            v.to_str()
                .ok()
                .filter(|s| !s.is_empty() && s.len() <= 128)
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "Idempotency-Key must be 1 to 128 visible characters".into(),
                    )
                })?
                .to_owned(),
        )),
        None => Ok(None),
    }
}
