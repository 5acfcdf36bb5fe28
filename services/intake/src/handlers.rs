//! Intake's consumer: a verification report in, a determination (or manual verification) out.

use crate::app::State;
use crate::store;
use contract::{DeterminedMember, HouseholdDetermined, HouseholdVerified, ManualReview};
use mesh::consumer::Outcome;
use mesh::subjects::{APPLICATION_MANUAL_REVIEW, HOUSEHOLD_DETERMINED};
use mesh::{ChainRef, Delivery, HandlerError};
use policy::determination::{HouseholdFacts, MemberFacts};
use policy::{Fen, Month, RegionCode, ResidentId};
use std::collections::HashMap;

/// `verify.household.verified` → `eligibility.household.determined` or
/// `intake.application.manual_review`.
pub async fn on_verified(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<HouseholdVerified>()?;
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let report = &e.data;
    let app = store::lock(&mut tx, report.application_id)
        .await?
        .ok_or_else(|| HandlerError::Poison(format!("no application {}", report.application_id)))?;
    if app.household_id != e.household_id {
        return Err(HandlerError::Poison(
            "the report's household does not match the application's".into(),
        ));
    }
    let chain = ChainRef::answering(&e);
    if app.status != store::VERIFYING {
        // A second report for a decided application changes nothing; it is kept in the history.
        store::history(
            &mut tx,
            app.application_id,
            &app.status,
            "verification",
            "a further report arrived after the decision; ignored",
        )
        .await?;
        tx.commit().await?;
        return Ok(Outcome::Applied);
    }
    if !report.complete {
        let note = format!("sources without an answer: {}", report.gaps.join(", "));
        store::set_status(&mut tx, app.application_id, store::MANUAL_VERIFICATION).await?;
        store::history(
            &mut tx,
            app.application_id,
            store::MANUAL_VERIFICATION,
            "verification",
            &note,
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
        mesh::outbox::enqueue(
            &mut tx,
            &state.mesh.subjects.of(APPLICATION_MANUAL_REVIEW),
            &out,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            gaps = report.gaps.len(),
            "Application sent to manual verification."
        );
        return Ok(Outcome::Applied);
    }

    let region =
        RegionCode::parse(&app.region_code).map_err(|e| HandlerError::Poison(e.to_string()))?;
    let today = chrono::Utc::now().date_naive();
    let params = state
        .policy
        .in_force(&region, today)
        .map_err(|e| HandlerError::Poison(e.to_string()))?;
    let members = store::members(&mut tx, app.application_id).await?;
    let verified: HashMap<_, _> = report.members.iter().map(|m| (m.member_id, m)).collect();
    let mut facts = Vec::with_capacity(members.len());
    for m in &members {
        let id =
            ResidentId::parse(&m.id_number).map_err(|e| HandlerError::Poison(e.to_string()))?;
        // The higher of what was declared and what the sources found: a declaration cannot
        // hide income a source reports, and a source's silence on a person does not erase it.
        let found = verified
            .get(&m.member_id)
            .map(|v| v.monthly_income_fen)
            .unwrap_or(0);
        facts.push(MemberFacts {
            member_id: m.member_id.to_string(),
            id,
            monthly_income: Fen(m.declared_monthly_income_fen.max(found)),
            pension_base: Fen::ZERO,
            employment_costs: Fen::ZERO,
            flags: m.flags.0,
        });
    }
    let decision = policy::determine(
        &HouseholdFacts {
            urban: app.urban,
            on: today,
            members: facts,
        },
        params,
    );
    let determined = HouseholdDetermined {
        application_id: app.application_id,
        region_code: app.region_code.clone(),
        urban: app.urban,
        tier: decision.tier,
        monthly_amount_fen: decision.monthly_amount.0,
        per_capita_income_fen: decision.per_capita_income.0,
        standard_fen: decision.standard.0,
        policy_version: decision.policy_version.clone(),
        rule: decision.rule.clone(),
        effective_month: Month::of(today).to_string(),
        members: members
            .iter()
            .zip(&decision.members)
            .map(|(m, md)| DeterminedMember {
                member_id: m.member_id,
                id_number: m.id_number.clone(),
                name: m.name.clone(),
                relation: m.relation.clone(),
                addon_reason: md.addon_reason.clone(),
                relief_lines: md.relief_lines.clone(),
            })
            .collect(),
    };
    let actor = format!("rule:{}", decision.policy_version);
    store::insert_determination(&mut tx, &determined, &actor).await?;
    store::set_status(&mut tx, app.application_id, store::DETERMINED).await?;
    store::history(
        &mut tx,
        app.application_id,
        store::DETERMINED,
        &actor,
        &decision.rule,
    )
    .await?;
    let out = state
        .mesh
        .envelope(&chain, Some(app.application_id.to_string()), determined);
    mesh::outbox::enqueue(&mut tx, &state.mesh.subjects.of(HOUSEHOLD_DETERMINED), &out).await?;
    tx.commit().await?;
    tracing::info!(tier = decision.tier.as_str(), amount_fen = decision.monthly_amount.0, policy = %decision.policy_version, "Household determined.");
    Ok(Outcome::Applied)
}
