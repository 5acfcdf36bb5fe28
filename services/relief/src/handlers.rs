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
    let feedback = match decide(
        state.department,
        ReferralFacts {
            tier: push.tier,
            urban: push.urban,
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
    store::insert_case(&mut tx, &e, &digest, &out.data).await?;
    mesh::outbox::enqueue(&mut tx, &subject, &out).await?;
    tx.commit().await?;
    tracing::info!(department = %state.department, outcome = ?out.data.outcome, "Referral decided.");
    Ok(Outcome::Applied)
}
