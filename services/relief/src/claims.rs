//! Medical assistance on bills (one-stop settlement, 一站式结算): the hospital's settlement
//! system sends a bill of a person the medical department has a referral for; the department
//! assists the out-of-pocket amount within the policy scope above the yearly deductible at the
//! tier's ratio, up to the yearly cap, and answers on `referral.medical.feedback` so the
//! household's chain shows the assistance.

use crate::state::State;
use crate::store;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::Json;
use chrono::{Datelike, NaiveDate};
use contract::channels::REFERRAL_FEEDBACK;
use contract::{FeedbackOutcome, Grant, ReferralFeedback};
use mesh::http::{ApiError, FieldError, JsonBody};
use mesh::ChainRef;
use policy::relief::{assist_bill, medical_assistance_for, Bill, YearSoFar};
use policy::{Department, Fen, RegionCode, Tier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// `POST /v1/medical/claims`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The settlement system's id of the bill: the same id is assisted once.
    pub claim_id: Option<Uuid>,
    /// The medical referral of the person, or the person's member id.
    #[serde(default)]
    pub referral_id: Option<Uuid>,
    #[serde(default)]
    pub member_id: Option<Uuid>,
    /// `inpatient` or `outpatient_chronic` (long-term outpatient care for chronic or serious
    /// illness).
    pub kind: Option<String>,
    pub total_fen: Option<i64>,
    /// Paid by basic medical insurance.
    #[serde(default)]
    pub insurance_paid_fen: Option<i64>,
    /// Paid by critical-illness insurance.
    #[serde(default)]
    pub critical_illness_paid_fen: Option<i64>,
    /// Spent outside the policy scope; not assisted.
    #[serde(default)]
    pub out_of_scope_fen: Option<i64>,
    /// The day of discharge or of the outpatient bill, `YYYY-MM-DD`.
    pub date: Option<String>,
}

/// The department's answer to a bill.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimAnswer {
    pub claim_id: Uuid,
    pub referral_id: Uuid,
    pub member_id: Uuid,
    pub kind: String,
    pub date: NaiveDate,
    pub tier: String,
    /// `granted`, or `rejected` when nothing is assisted (within the deductible, cap reached).
    pub outcome: FeedbackOutcome,
    /// Out-of-pocket amount within the policy scope.
    pub eligible_fen: i64,
    /// Of it, what filled the yearly deductible.
    pub to_deductible_fen: i64,
    pub ratio_permille: i64,
    /// Assistance at the ratio, before the yearly cap.
    pub before_cap_fen: i64,
    /// Assistance granted on this bill.
    pub assisted_fen: i64,
    /// The person's calendar year after this bill.
    pub year: i32,
    pub year_assisted_fen: i64,
    pub year_deductible_used_fen: i64,
    pub annual_cap_fen: i64,
    pub policy_version: String,
    pub reason: String,
    /// The `referral.medical.feedback` event (`supplemented`) that carries the assistance to the
    /// chain; absent when nothing was assisted (no help, no feedback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_event_id: Option<String>,
    /// Who sent the bill: the department's system or officer of the token (absent on bills
    /// settled before sign-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<mesh::auth::Actor>,
}

const KINDS: [(&str, &str, &str); 2] = [
    ("inpatient", "medical_inpatient_assistance", "inpatient"),
    (
        "outpatient_chronic",
        "medical_outpatient_assistance",
        "chronic or serious-illness outpatient",
    ),
];

#[allow(
    clippy::too_many_lines,
    reason = "one request or message checked, decided and recorded in one transaction; to be split into check, decide and store"
)]
pub async fn post_claim(
    AxState(state): AxState<State>,
    acting: mesh::auth::Acting,
    headers: axum::http::HeaderMap,
    JsonBody(req): JsonBody<ClaimRequest>,
) -> Result<(StatusCode, Json<ClaimAnswer>), ApiError> {
    crate::http::scope(&state, &acting)?;
    let actor = acting.actor();
    if state.department != Department::Medical {
        return Err(ApiError::NotFound(format!(
            "bills are settled by the medical department, not {}",
            state.department
        )));
    }
    let today = state.mesh.today();
    let bounds = &state.mesh.settings.bounds;
    let mut errors = Vec::new();
    if req.claim_id.is_none() {
        errors.push(FieldError::new(
            "claim_id",
            "required: the bill's id, so that it is assisted once",
        ));
    }
    if req.referral_id.is_none() && req.member_id.is_none() {
        errors.push(FieldError::new(
            "referral_id",
            "give the person's medical referral_id or member_id",
        ));
    }
    let kind = KINDS
        .iter()
        .find(|(k, _, _)| Some(*k) == req.kind.as_deref());
    if kind.is_none() {
        errors.push(FieldError::new(
            "kind",
            "must be inpatient or outpatient_chronic",
        ));
    }
    let total = req.total_fen.unwrap_or(-1);
    let total_ok = match req.total_fen {
        None => {
            errors.push(FieldError::new(
                "total_fen",
                "required: the bill's total in fen, more than 0",
            ));
            false
        }
        Some(t) => match bounds.positive_amount(t) {
            Ok(()) => true,
            Err(rule) => {
                errors.push(FieldError::new("total_fen", rule));
                false
            }
        },
    };
    // Each part within the bounds, so their sum (at most three of them) cannot overflow.
    let mut parts_ok = true;
    let mut paid = 0i64;
    for (field, v) in [
        ("insurance_paid_fen", req.insurance_paid_fen),
        ("critical_illness_paid_fen", req.critical_illness_paid_fen),
        ("out_of_scope_fen", req.out_of_scope_fen),
    ] {
        let v = v.unwrap_or(0);
        match bounds.amount(v) {
            Ok(()) => paid = paid.saturating_add(v),
            Err(rule) => {
                errors.push(FieldError::new(field, rule));
                parts_ok = false;
            }
        }
    }
    if total_ok && parts_ok && paid > total {
        errors.push(FieldError::new(
            "total_fen",
            "insurance, critical-illness insurance and the out-of-scope amount together exceed the total",
        ));
    }
    let date = match req.date.as_deref().map(str::parse::<NaiveDate>) {
        Some(Ok(d)) if d <= today => Some(d),
        Some(Ok(_)) => {
            errors.push(FieldError::new("date", "must not be in the future"));
            None
        }
        Some(Err(_)) => {
            errors.push(FieldError::new("date", "must be a date, YYYY-MM-DD"));
            None
        }
        None => {
            errors.push(FieldError::new("date", "required: the day of the bill"));
            None
        }
    };
    let (Some(claim_id), Some(&(_, grant_kind, words)), Some(date), true) =
        (req.claim_id, kind, date, errors.is_empty())
    else {
        return Err(ApiError::Validation(errors));
    };
    // The bill as settled: an amount left out and the same amount given as 0 are one bill.
    let digest = {
        let bytes = serde_json::to_vec(&(
            req.referral_id,
            req.member_id,
            grant_kind,
            total,
            req.insurance_paid_fen.unwrap_or(0),
            req.critical_illness_paid_fen.unwrap_or(0),
            req.out_of_scope_fen.unwrap_or(0),
            date,
        ))
        .unwrap_or_default();
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };

    let mut tx = state.mesh.db.begin().await?;
    store::lock_key(&mut tx, &claim_id.to_string()).await?;
    if let Some((seen, answer)) = store::claim(&mut tx, claim_id).await? {
        if seen != digest {
            return Err(ApiError::Conflict(
                "this claim was settled before with another bill; the first is kept".into(),
            ));
        }
        return Ok((StatusCode::OK, Json(answer.0)));
    }
    let case = store::medical_case(&mut tx, req.referral_id, req.member_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(
                "the medical department has no referral for this person: bills are assisted for referred people".into(),
            )
        })?;
    if let (Some(m), Some(r)) = (req.member_id, req.referral_id) {
        if m != case.member_id {
            return Err(ApiError::Validation(vec![FieldError::new(
                "member_id",
                format!("is not the person of referral {r}"),
            )]));
        }
    }
    if case.outcome != store::CaseOutcome::Granted {
        return Err(ApiError::Conflict(format!(
            "the medical referral is {}: bills are assisted under a granted referral",
            case.outcome
        )));
    }
    let tier: Tier = case.tier.0;
    let region = case
        .region_code
        .as_deref()
        .and_then(|r| RegionCode::parse(r).ok())
        .ok_or_else(|| ApiError::Conflict("the referral does not name its region".into()))?;
    let params = state
        .policy
        .in_force(&region, date)
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    let Some(figures) = medical_assistance_for(tier, params) else {
        return Err(ApiError::Conflict(
            "the person's household is not low-income: no medical assistance".into(),
        ));
    };
    // One person's bills of one year are settled one at a time: the deductible and the cap
    // are shared by all of them.
    let year = date.year();
    let so_far = store::lock_medical_year(&mut tx, case.member_id, year).await?;
    let a = assist_bill(
        Bill {
            total: Fen(total),
            insurance_paid: Fen(req.insurance_paid_fen.unwrap_or(0)),
            critical_illness_paid: Fen(req.critical_illness_paid_fen.unwrap_or(0)),
            out_of_scope: Fen(req.out_of_scope_fen.unwrap_or(0)),
        },
        figures,
        YearSoFar {
            deductible_used: Fen(so_far.0),
            assisted: Fen(so_far.1),
        },
    )
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("the bill's assistance: {e}")))?;
    let figures_text = format!(
        "eligible {} fen, {} fen to the yearly deductible of {} fen, {}‰ of the rest = {} fen, {} fen left of the yearly cap of {} fen before this bill",
        a.eligible.0,
        a.to_deductible.0,
        figures.deductible.0,
        figures.ratio_permille,
        a.before_cap.0,
        figures.annual_cap.0.saturating_sub(so_far.1).max(0),
        figures.annual_cap.0
    );
    let (outcome, reason, grant) = if a.amount.0 > 0 {
        (
            FeedbackOutcome::Granted,
            format!(
                "medical: {words} assistance for a {} member on claim {claim_id}: {figures_text} (parameter set {})",
                tier.as_str(),
                params.version
            ),
            Some(Grant {
                kind: grant_kind.to_owned(),
                amount_fen: a.amount.0,
                from: date,
                to: None,
                period: Some(contract::GrantPeriod::Once),
            }),
        )
    } else {
        (
            FeedbackOutcome::Rejected,
            format!(
                "medical: no {words} assistance on claim {claim_id}: {figures_text} (parameter set {})",
                params.version
            ),
            None,
        )
    };
    // Help given on a bill is more help under the granted referral (`supplemented`); a bill
    // with nothing assisted gives nothing, and the chain has no step for it. Caused by a bill,
    // not by an event.
    let out = grant.map(|g| {
        let feedback = ReferralFeedback {
            reason: Some(reason.clone()),
            grant: Some(g),
            ..ReferralFeedback::new(
                case.referral_id,
                Department::Medical,
                case.member_id,
                FeedbackOutcome::Supplemented,
                format!("rule:{}", params.version),
            )
        };
        let chain = ChainRef {
            household_id: case.household_id,
            chain_id: case.chain_id,
            causation_id: None,
        };
        state
            .mesh
            .envelope(&chain, Some(case.referral_id.to_string()), feedback)
            .by(actor.clone())
    });
    let answer = ClaimAnswer {
        claim_id,
        referral_id: case.referral_id,
        member_id: case.member_id,
        kind: req.kind.clone().unwrap_or_default(),
        date,
        tier: tier.as_str().to_owned(),
        outcome,
        eligible_fen: a.eligible.0,
        to_deductible_fen: a.to_deductible.0,
        ratio_permille: figures.ratio_permille,
        before_cap_fen: a.before_cap.0,
        assisted_fen: a.amount.0,
        year,
        year_assisted_fen: a.year.assisted.0,
        year_deductible_used_fen: a.year.deductible_used.0,
        annual_cap_fen: figures.annual_cap.0,
        policy_version: params.version.clone(),
        reason,
        feedback_event_id: out.as_ref().map(|o| o.id.clone()),
        actor: Some(actor.clone()),
    };
    store::record_medical_year(&mut tx, case.member_id, year, a.year).await?;
    store::insert_claim(&mut tx, &digest, &req, &answer, &actor).await?;
    mesh::audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        mesh::audit::Entry::new("medical_claim.settle", "medical_claim", claim_id)
            .household(case.household_id)
            .person(case.member_id)
            .purpose_from(&headers)
            .detail(serde_json::json!({
                "referral_id": case.referral_id,
                "outcome": outcome.as_str(),
                "assisted_fen": a.amount.0,
            })),
    )
    .await?;
    if let Some(out) = &out {
        if let Some(g) = &out.data.grant {
            store::insert_grant(&mut tx, &out.id, case.household_id, &out.data, g).await?;
        }
        mesh::outbox::enqueue_to(
            &mut tx,
            &state.mesh.subjects,
            REFERRAL_FEEDBACK,
            Department::Medical.as_str(),
            out,
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(outcome = ?outcome, assisted_fen = a.amount.0, "Medical bill settled.");
    Ok((StatusCode::CREATED, Json(answer)))
}
