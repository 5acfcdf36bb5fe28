//! The department's consumer: a referral in, feedback out.

use crate::app::State;
use crate::store;
use contract::{FeedbackOutcome, Grant, ReferralFeedback, ReferralPush};
use mesh::consumer::Outcome;
use mesh::subjects::REFERRAL_FEEDBACK;
use mesh::{ChainRef, Delivery, Envelope, HandlerError};
use policy::relief::{decide, Decision, ReferralFacts};
use policy::RegionCode;
use sha2::{Digest, Sha256};

/// A digest of the push body: the same referral pushed again has the same digest.
pub fn digest(p: &ReferralPush) -> String {
    let bytes = serde_json::to_vec(p).unwrap_or_default();
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `referral.<dept>.push` → `referral.<dept>.feedback`.
pub async fn on_push(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<ReferralPush>()?;
    let push = &e.data;
    if push.department != state.department {
        return Err(HandlerError::Poison(format!(
            "a push for {} arrived at the {} department",
            push.department, state.department
        )));
    }
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let chain = ChainRef::answering(&e);
    let subject = state
        .mesh
        .subjects
        .fill(REFERRAL_FEEDBACK, state.department.as_str());
    let digest = digest(push);

    if let Some(case) = store::case(&mut tx, push.referral_id).await? {
        let feedback = if case.push_digest == digest {
            // The same referral again: the same answer again.
            case.feedback.0
        } else {
            ReferralFeedback {
                referral_id: push.referral_id,
                department: state.department,
                member_id: push.member_id,
                outcome: FeedbackOutcome::Rejected,
                reason: Some("modified request: this referral id was pushed before with a different body; the first is kept".into()),
                grant: None,
                decided_by: "rule:modified-request".into(),
            }
        };
        let out = state
            .mesh
            .envelope(&chain, Some(push.referral_id.to_string()), feedback);
        mesh::outbox::enqueue(&mut tx, &subject, &out).await?;
        tx.commit().await?;
        tracing::info!(department = %state.department, "Repeated referral answered.");
        return Ok(Outcome::Applied);
    }

    let region =
        RegionCode::parse(&push.region_code).map_err(|e| HandlerError::Poison(e.to_string()))?;
    let today = chrono::Utc::now().date_naive();
    let params = state
        .policy
        .in_force(&region, today)
        .map_err(|e| HandlerError::Poison(e.to_string()))?;
    let decided_by = format!("rule:{}", params.version);
    let mut review = None;
    let feedback = match decide(
        state.department,
        ReferralFacts {
            tier: push.tier,
            urban: push.urban,
            school_stage: push.school_stage,
            zero_employment_household: push.zero_employment_household,
        },
        params,
    ) {
        Decision::Granted {
            kind,
            amount,
            months,
            rule,
        } => ReferralFeedback {
            referral_id: push.referral_id,
            department: state.department,
            member_id: push.member_id,
            outcome: FeedbackOutcome::Granted,
            reason: Some(rule),
            grant: Some(Grant {
                kind,
                amount_fen: amount.0,
                from: today,
                to: (months > 0)
                    .then(|| today + chrono::Months::new(months) - chrono::Days::new(1)),
            }),
            decided_by: decided_by.clone(),
        },
        Decision::Review { reason } => ReferralFeedback {
            // Answered at once, decided later by a named officer (`POST /v1/reviews/{id}`).
            referral_id: push.referral_id,
            department: state.department,
            member_id: push.member_id,
            outcome: FeedbackOutcome::Accepted,
            reason: Some(format!(
                "in review by the department: {}",
                review.insert(reason)
            )),
            grant: None,
            decided_by: decided_by.clone(),
        },
        Decision::Rejected { reason } => ReferralFeedback {
            referral_id: push.referral_id,
            department: state.department,
            member_id: push.member_id,
            outcome: FeedbackOutcome::Rejected,
            reason: Some(reason),
            grant: None,
            decided_by: decided_by.clone(),
        },
    };
    let out: Envelope<ReferralFeedback> =
        state
            .mesh
            .envelope(&chain, Some(push.referral_id.to_string()), feedback);
    store::insert_case(&mut tx, &e, &digest, &out.data, review.as_deref()).await?;
    mesh::outbox::enqueue(&mut tx, &subject, &out).await?;
    tx.commit().await?;
    tracing::info!(department = %state.department, outcome = ?out.data.outcome, "Referral decided.");
    Ok(Outcome::Applied)
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecision {
    /// The department's officer deciding; recorded as the decision's author.
    pub officer: String,
    /// `grant` or `reject`.
    pub outcome: String,
    /// What is granted, e.g. `medical_inpatient_assistance`; required for a grant.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub amount_fen: Option<i64>,
    /// Months the grant covers; 0 for a one-off payment.
    #[serde(default)]
    pub months: Option<u32>,
    pub reason: String,
}

/// Most months one grant may cover.
const MAX_GRANT_MONTHS: u32 = 60;

/// `POST /v1/reviews/{referral_id}`: a named officer settles a case the rules could not, and
/// the department's feedback goes out under their name.
pub async fn decide_review(
    axum::extract::State(state): axum::extract::State<State>,
    axum::extract::Path(referral_id): axum::extract::Path<uuid::Uuid>,
    mesh::http::JsonBody(req): mesh::http::JsonBody<ReviewDecision>,
) -> Result<axum::Json<ReferralFeedback>, mesh::http::ApiError> {
    use mesh::http::{ApiError, FieldError};
    let mut errors = Vec::new();
    let officer = req.officer.trim();
    if officer.is_empty() || officer.chars().count() > 64 {
        errors.push(FieldError::new("officer", "must be 1 to 64 characters"));
    }
    if req.reason.trim().is_empty() {
        errors.push(FieldError::new("reason", "a decision says why"));
    }
    let grant = match req.outcome.as_str() {
        "grant" => {
            let kind = req.kind.as_deref().map(str::trim).unwrap_or_default();
            if kind.is_empty() {
                errors.push(FieldError::new("kind", "a grant says what is given"));
            }
            let amount = req.amount_fen.unwrap_or(-1);
            if amount < 0 {
                errors.push(FieldError::new(
                    "amount_fen",
                    "a grant needs an amount of 0 or more",
                ));
            }
            let months = req.months.unwrap_or(0);
            if months > MAX_GRANT_MONTHS {
                errors.push(FieldError::new(
                    "months",
                    format!("at most {MAX_GRANT_MONTHS}"),
                ));
            }
            let today = chrono::Utc::now().date_naive();
            Some(Grant {
                kind: kind.to_owned(),
                amount_fen: amount,
                from: today,
                to: (months > 0)
                    .then(|| today + chrono::Months::new(months) - chrono::Days::new(1)),
            })
        }
        "reject" => None,
        _ => {
            errors.push(FieldError::new("outcome", "must be grant or reject"));
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut tx = state.mesh.db.begin().await?;
    let case = store::lock_case(&mut tx, referral_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no case for referral {referral_id}")))?;
    if case.outcome != store::IN_REVIEW {
        return Err(ApiError::Conflict(format!(
            "the case is {}, not in review",
            case.outcome
        )));
    }
    let feedback = ReferralFeedback {
        referral_id,
        department: state.department,
        member_id: case.member_id,
        outcome: if grant.is_some() {
            FeedbackOutcome::Granted
        } else {
            FeedbackOutcome::Rejected
        },
        reason: Some(req.reason.trim().to_owned()),
        grant,
        decided_by: format!("officer:{officer}"),
    };
    store::record_review(&mut tx, referral_id, &feedback).await?;
    let chain = ChainRef {
        household_id: case.household_id,
        chain_id: case.chain_id,
        causation_id: Some(case.push_event_id),
    };
    let out = state
        .mesh
        .envelope(&chain, Some(referral_id.to_string()), feedback);
    let subject = state
        .mesh
        .subjects
        .fill(REFERRAL_FEEDBACK, state.department.as_str());
    mesh::outbox::enqueue(&mut tx, &subject, &out).await?;
    tx.commit().await?;
    tracing::info!(department = %state.department, outcome = ?out.data.outcome, "Review decided.");
    Ok(axum::Json(out.data))
}
