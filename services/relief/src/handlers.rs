//! The department's consumer: a referral in, feedback out.

use crate::state::State;
use crate::store;
use contract::channels::REFERRAL_FEEDBACK;
use contract::{
    Circumstances, FeedbackOutcome, Grant, HouseDamage, PushCare, ReferralFeedback, ReferralPush,
};
use mesh::consumer::Outcome;
use mesh::{ChainRef, Delivery, Envelope, HandlerError};
use policy::relief::{
    decide_all, duplicates, once_per_household, period, Decision, DisasterFacts, Help,
    ReferralFacts,
};
use policy::Department;
use sha2::{Digest, Sha256};

/// A digest of the push body: the same referral pushed again has the same digest.
pub fn digest(p: &ReferralPush, care: &PushCare) -> String {
    let mut bytes = serde_json::to_vec(p).unwrap_or_default();
    if care != &PushCare::default() {
        bytes.extend(serde_json::to_vec(care).unwrap_or_default());
    }
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `referral.<dept>.push` → `referral.<dept>.feedback`.
#[allow(
    clippy::too_many_lines,
    reason = "one request or message checked, decided and recorded in one transaction; to be split into check, decide and store"
)]
pub async fn on_push(
    state: State,
    e: mesh::Envelope<ReferralPush>,
    d: Delivery,
) -> Result<Outcome, HandlerError> {
    let push = &e.data;
    // Fields of the push that `ReferralPush` does not name (the care level).
    let care = serde_json::from_slice::<Envelope<PushCare>>(&d.payload)
        .map(|c| c.data)
        .unwrap_or_default();
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
    let digest = digest(push, &care);

    // A referral is answered once (its business key is the referral id, not the push's event
    // id): pushed again, it gets no second answer; the first stands in the mesh.
    if let Some(case) = store::case(&mut tx, push.referral_id).await? {
        if case.push_digest != digest {
            return Err(HandlerError::Poison(format!(
                "modified request: referral {} was pushed before with another body and answered ({}); the first is kept",
                push.referral_id, case.feedback.0.outcome.as_str()
            )));
        }
        tx.commit().await?;
        tracing::info!(department = %state.department, "Referral pushed again; answered before, not again.");
        return Ok(Outcome::Duplicate);
    }

    // Checked when the push was decoded.
    let region = push.region_code.clone();
    let today = state.mesh.today();
    let params = state
        .policy
        .in_force(&region, today)
        .map_err(|e| HandlerError::Poison(e.to_string()))?;
    let decided_by = format!("rule:{}", params.version);
    // One household's referrals are decided one at a time: its once-per-household grants and a
    // person's earlier grants are then seen by the next decision.
    store::lock_household(&mut tx, e.household_id).await?;
    let decisions = decide_all(
        state.department,
        ReferralFacts {
            tier: push.tier,
            urban: push.urban,
            school_stage: push.school_stage,
            zero_employment_household: push.zero_employment_household,
            disaster: push.circumstances.as_ref().map(disaster_facts),
            on: today,
            support: push.support,
            group: push.group,
        },
        params,
    );
    let feedback = |outcome, reason: String, grant| ReferralFeedback {
        reason: Some(reason),
        grant,
        ..ReferralFeedback::new(
            push.referral_id,
            state.department,
            push.member_id,
            outcome,
            decided_by.clone(),
        )
    };
    let mut grants = Vec::new();
    let mut review = None;
    let mut answer = None;
    for decision in decisions {
        match decision {
            Decision::Granted {
                kind,
                amount,
                months,
                rule,
            } => grants.push((
                Grant {
                    period: grant_period(state.department, &kind),
                    kind,
                    amount_fen: amount.0,
                    from: today,
                    to: period(today, months),
                },
                rule,
            )),
            // Answered at once, decided later by a named officer (`POST /v1/reviews/{id}`).
            Decision::Review { reason } => {
                answer.get_or_insert(feedback(
                    FeedbackOutcome::Accepted,
                    format!("in review by the department: {reason}"),
                    None,
                ));
                review.get_or_insert(reason);
            }
            Decision::Rejected { reason } => {
                answer.get_or_insert(feedback(FeedbackOutcome::Rejected, reason, None));
            }
        }
    }
    // No duplicate assistance: a grant the person (or, for a once-per-household grant, the
    // household) already has for an overlapping period is not made again.
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    if answer.is_none() {
        let own = store::member_grants(&mut tx, push.member_id).await?;
        for (grant, rule) in grants {
            match earlier_grant(&mut tx, &state, &e, &own, &grant, params).await? {
                Some(earlier) => refused.push(format!("{} not granted, {earlier}", grant.kind)),
                None => kept.push((grant, rule)),
            }
        }
    }
    let mut kept = kept.into_iter();
    let main = match (answer, kept.next()) {
        (Some(answer), _) => answer,
        (None, Some((grant, rule))) => {
            let reason = if refused.is_empty() {
                rule
            } else {
                format!(
                    "{rule}; not granted again (duplicate assistance): {}",
                    refused.join("; ")
                )
            };
            feedback(FeedbackOutcome::Granted, reason, Some(grant))
        }
        (None, None) => feedback(
            FeedbackOutcome::Rejected,
            format!("duplicate assistance: {}", refused.join("; ")),
            None,
        ),
    };
    let out: Envelope<ReferralFeedback> =
        state
            .mesh
            .envelope(&chain, Some(push.referral_id.to_string()), main);
    store::insert_case(&mut tx, &e, &digest, &out.data, review.as_deref()).await?;
    if let Some(g) = &out.data.grant {
        store::insert_grant(&mut tx, &out.id, e.household_id, &out.data, g).await?;
    }
    mesh::outbox::enqueue_to(
        &mut tx,
        &state.mesh.subjects,
        REFERRAL_FEEDBACK,
        state.department.as_str(),
        &out,
    )
    .await?;
    // Further grants of the same decision (disaster aid of several kinds): one `supplemented`
    // each, caused by the first, so the chain shows every grant and the referral keeps its answer.
    let mut extras = 0;
    for (grant, rule) in kept {
        let follow = ChainRef {
            household_id: e.household_id,
            chain_id: e.chain_id,
            causation_id: Some(out.id.clone()),
        };
        let more = state.mesh.envelope(
            &follow,
            Some(push.referral_id.to_string()),
            feedback(FeedbackOutcome::Supplemented, rule, Some(grant.clone())),
        );
        store::insert_grant(&mut tx, &more.id, e.household_id, &more.data, &grant).await?;
        mesh::outbox::enqueue_to(
            &mut tx,
            &state.mesh.subjects,
            REFERRAL_FEEDBACK,
            state.department.as_str(),
            &more,
        )
        .await?;
        extras += 1;
    }
    // Service-type assistance under a granted referral: a care service order, and charity
    // matching.
    if out.data.outcome == FeedbackOutcome::Granted {
        extras += crate::care::after_push(&mut tx, &state, &e, care.self_care, &out).await?;
    }
    tx.commit().await?;
    tracing::info!(department = %state.department, outcome = ?out.data.outcome, further_grants = extras, "Referral decided.");
    Ok(Outcome::Applied)
}

/// What a grant of `kind` counts, as the contract fixes it for the department.
pub fn grant_period(department: Department, kind: &str) -> Option<contract::GrantPeriod> {
    contract::answers::grant_kind(department, kind).map(|k| k.period)
}

/// The disaster facts of a referral's circumstances.
fn disaster_facts(c: &Circumstances) -> DisasterFacts {
    DisasterFacts {
        house_damage: match c.house_damage {
            None | Some(HouseDamage::None) => policy::relief::HouseDamage::None,
            Some(HouseDamage::Damaged) => policy::relief::HouseDamage::Damaged,
            Some(HouseDamage::SeverelyDamaged) => policy::relief::HouseDamage::SeverelyDamaged,
            Some(HouseDamage::Collapsed) => policy::relief::HouseDamage::Collapsed,
        },
        displaced: c.displaced,
    }
}

/// The earlier grant that `grant` would duplicate, in words naming its department and
/// referral: from the push's prior assistance (any department), this department's own grants
/// to the person, or for a once-per-household grant, to anyone of the household.
async fn earlier_grant(
    tx: &mut sqlx::PgConnection,
    state: &State,
    e: &Envelope<ReferralPush>,
    own: &[store::GrantRow],
    grant: &Grant,
    params: &policy::ParameterSet,
) -> Result<Option<String>, HandlerError> {
    let new = Help {
        kind: &grant.kind,
        from: grant.from,
        to: grant.to,
    };
    let describe = |dept: Department, referral: uuid::Uuid, kind: &str, from, to: Option<_>| {
        let when = match to {
            Some(to) => format!("{from} to {to}"),
            None => format!("one-off on {from}"),
        };
        format!("{kind} already granted by {dept} for referral {referral} ({when})")
    };
    let push = &e.data;
    if let Some(p) = push.prior_assistance.iter().find(|p| {
        p.referral_id != push.referral_id
            && duplicates(
                new,
                Help {
                    kind: &p.kind,
                    from: p.from,
                    to: p.to,
                },
                params,
            )
    }) {
        return Ok(Some(describe(
            p.department,
            p.referral_id,
            &p.kind,
            p.from,
            p.to,
        )));
    }
    let row_dup = |g: &&store::GrantRow| {
        duplicates(
            new,
            Help {
                kind: &g.kind,
                from: g.from_date,
                to: g.to_date,
            },
            params,
        )
    };
    if let Some(g) = own.iter().find(row_dup) {
        return Ok(Some(describe(
            state.department,
            g.referral_id,
            &g.kind,
            g.from_date,
            g.to_date,
        )));
    }
    if once_per_household(&grant.kind) {
        let household = store::household_grants(tx, e.household_id, &grant.kind).await?;
        if let Some(g) = household.iter().find(row_dup) {
            return Ok(Some(format!(
                "{} (once per household)",
                describe(
                    state.department,
                    g.referral_id,
                    &g.kind,
                    g.from_date,
                    g.to_date
                )
            )));
        }
    }
    Ok(None)
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecision {
    /// `grant` or `reject`. The officer deciding is the token's (`officer:<sub>` in the
    /// answer's `decided_by`); a body naming one is refused.
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

/// The answer to a review: the feedback sent, and the officer who decided (the token's).
#[derive(Debug, serde::Serialize)]
pub struct ReviewDecided {
    #[serde(flatten)]
    pub feedback: ReferralFeedback,
    pub actor: mesh::auth::Actor,
}

/// `POST /v1/reviews/{referral_id}`: an officer of the department settles a case the rules
/// could not; the department's feedback goes out as theirs (`decided_by` `officer:<sub>`, the
/// envelope's `actor`), audited in the same transaction.
#[allow(
    clippy::too_many_lines,
    reason = "one request checked, decided and recorded in one transaction"
)]
pub async fn decide_review(
    axum::extract::State(state): axum::extract::State<State>,
    acting: mesh::auth::Acting,
    headers: axum::http::HeaderMap,
    mesh::http::Path(referral_id): mesh::http::Path<uuid::Uuid>,
    mesh::http::JsonBody(req): mesh::http::JsonBody<ReviewDecision>,
) -> Result<axum::Json<ReviewDecided>, mesh::http::ApiError> {
    use mesh::http::{ApiError, FieldError};
    crate::http::scope(&state, &acting)?;
    let actor = acting.actor();
    let mut errors = Vec::new();
    if req.reason.trim().is_empty() {
        errors.push(FieldError::new("reason", "a decision says why"));
    }
    let bounds = &state.mesh.settings.bounds;
    let grant = match req.outcome.as_str() {
        "grant" => {
            let kind = req.kind.as_deref().map(str::trim).unwrap_or_default();
            if kind.is_empty() {
                errors.push(FieldError::new("kind", "a grant says what is given"));
            }
            let amount = req.amount_fen.unwrap_or(-1);
            if let Err(rule) = bounds.amount(amount) {
                errors.push(FieldError::new(
                    "amount_fen",
                    format!("a grant needs an amount: {rule}"),
                ));
            } else if amount > contract::answers::MAX_GRANT_FEN {
                // The contract's bound of one grant, which monitoring holds every answer to.
                errors.push(FieldError::new(
                    "amount_fen",
                    format!(
                        "a grant is at most {} fen",
                        contract::answers::MAX_GRANT_FEN
                    ),
                ));
            }
            let months = req.months.unwrap_or(0);
            if months > MAX_GRANT_MONTHS {
                errors.push(FieldError::new(
                    "months",
                    format!("at most {MAX_GRANT_MONTHS}"),
                ));
            }
            let today = state.mesh.today();
            if grant_period(state.department, kind).is_none() && !kind.is_empty() {
                let allowed: Vec<&str> = contract::answers::grant_kinds(state.department)
                    .iter()
                    .map(|k| k.kind)
                    .collect();
                errors.push(FieldError::new(
                    "kind",
                    format!("one of {}", allowed.join(", ")),
                ));
            }
            Some(Grant {
                period: grant_period(state.department, kind),
                kind: kind.to_owned(),
                amount_fen: amount,
                from: today,
                // Checked date arithmetic: an out-of-range `months` is refused above.
                to: period(today, months),
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
    let grant_given = grant.is_some();
    let mut tx = state.mesh.db.begin().await?;
    let case = store::lock_case(&mut tx, referral_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no case for referral with this id".into()))?;
    if case.outcome != store::CaseOutcome::InReview {
        return Err(ApiError::Conflict(format!(
            "the case is {}, not in review",
            case.outcome
        )));
    }
    let feedback = ReferralFeedback {
        reason: Some(req.reason.trim().to_owned()),
        grant,
        ..ReferralFeedback::new(
            referral_id,
            state.department,
            case.member_id,
            if grant_given {
                FeedbackOutcome::Granted
            } else {
                FeedbackOutcome::Rejected
            },
            format!("officer:{}", actor.sub),
        )
    };
    store::record_review(
        &mut tx,
        referral_id,
        &feedback,
        &actor,
        state.mesh.clock.now(),
    )
    .await?;
    let chain = ChainRef {
        household_id: case.household_id,
        chain_id: case.chain_id,
        causation_id: Some(case.push_event_id),
    };
    let out = state
        .mesh
        .envelope(&chain, Some(referral_id.to_string()), feedback)
        .by(actor.clone());
    if let Some(g) = &out.data.grant {
        store::insert_grant(&mut tx, &out.id, case.household_id, &out.data, g).await?;
    }
    mesh::outbox::enqueue_to(
        &mut tx,
        &state.mesh.subjects,
        REFERRAL_FEEDBACK,
        state.department.as_str(),
        &out,
    )
    .await?;
    mesh::audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        mesh::audit::Entry::new("review.decide", "case", referral_id)
            .household(case.household_id)
            .person(case.member_id)
            .purpose_from(&headers)
            .detail(serde_json::json!({
                "department": state.department.as_str(),
                "outcome": out.data.outcome.as_str(),
                "feedback_event_id": out.id,
            })),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(department = %state.department, outcome = ?out.data.outcome, "Review decided.");
    Ok(axum::Json(ReviewDecided {
        feedback: out.data,
        actor,
    }))
}
