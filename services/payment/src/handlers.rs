//! Payment's consumers: determinations and emergency grants enter the entitlements register and
//! are instructed for the months already due; changes stop payments and open recovery cases.

use crate::app::State;
use crate::entitlements::Facts;
use crate::run::{self, Household};
use contract::{EmergencyGranted, HouseholdChanged, HouseholdDetermined};
use mesh::consumer::Outcome;
use mesh::{ChainRef, Delivery, HandlerError};
use policy::{Month, Tier};
use sqlx::types::Json;

pub use crate::entitlements::instruction_id;

/// `eligibility.household.determined` → the household's facts in the register, and its
/// instructions (`payment.instruction.created`) for its effective month and any month whose run
/// has already begun: the same instructions, with the same ids, as that month's run makes.
pub async fn on_determined(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<HouseholdDetermined>()?;
    let det = &e.data;
    let effective =
        Month::parse(&det.effective_month).map_err(|e| HandlerError::Poison(e.to_string()))?;
    let facts = Facts::of(det, &state.policy).map_err(HandlerError::Poison)?;
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    run::lock_household(&mut tx, e.household_id).await?;
    let household: Household = sqlx::query_as(
        "INSERT INTO entitlements (household_id, chain_id, region_code, effective_month, facts, policy_version, source_event_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (household_id) DO UPDATE SET chain_id = EXCLUDED.chain_id, region_code = EXCLUDED.region_code,
             effective_month = LEAST(entitlements.effective_month, EXCLUDED.effective_month),
             facts = EXCLUDED.facts, policy_version = EXCLUDED.policy_version,
             source_event_id = EXCLUDED.source_event_id, updated_at = now()
         RETURNING household_id, chain_id, region_code, effective_month, facts, source_event_id",
    )
    .bind(e.household_id)
    .bind(e.chain_id)
    .bind(&det.region_code)
    .bind(effective.to_string())
    .bind(Json(&facts))
    .bind(&det.policy_version)
    .bind(&e.id)
    .fetch_one(&mut *tx)
    .await?;
    let paid = matches!(
        det.tier,
        Tier::Dibao | Tier::Destitute | Tier::SinglePersonDibao
    );
    if paid {
        let today = state.mesh.today();
        for month in run::months_to_instruct(&mut tx, effective).await? {
            let t = run::instruct(
                &state,
                &mut tx,
                std::slice::from_ref(&household),
                month,
                today,
            )
            .await?;
            if t.skipped > 0 {
                return Err(HandlerError::Poison(format!(
                    "the payments for {month} could not be computed"
                )));
            }
            if month == effective && t.total_fen != det.monthly_amount_fen {
                tracing::warn!(
                    %month,
                    determined_fen = det.monthly_amount_fen,
                    computed_fen = t.total_fen,
                    "The month's payments differ from the determination's amount: payment's parameter sets differ from the determining service's."
                );
            }
            tracing::info!(%month, created = t.created, total_fen = t.total_fen, "Determined household instructed.");
        }
    }
    tx.commit().await?;
    Ok(Outcome::Applied)
}

/// `eligibility.emergency.granted` → the stages in the register, and one
/// `payment.instruction.created` per stage, due on the stage's date (the first, for an act-first
/// grant, at once). The run of a stage's month finds it instructed already.
pub async fn on_emergency(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<EmergencyGranted>()?;
    let g = &e.data;
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    run::lock_household(&mut tx, e.household_id).await?;
    let household: Household = sqlx::query_as(
        "INSERT INTO entitlements (household_id, chain_id, region_code, source_event_id)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (household_id) DO UPDATE SET updated_at = now()
         RETURNING household_id, chain_id, region_code, effective_month, facts, source_event_id",
    )
    .bind(e.household_id)
    .bind(e.chain_id)
    .bind(&g.region_code)
    .bind(&e.id)
    .fetch_one(&mut *tx)
    .await?;
    let mut months = Vec::new();
    for stage in &g.stages {
        sqlx::query(
            "INSERT INTO emergency_stages (emergency_id, stage, household_id, member_id, amount_fen, pay_on, policy_version)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(g.emergency_id)
        .bind(stage.stage as i32)
        .bind(e.household_id)
        .bind(g.member_id)
        .bind(stage.amount_fen)
        .bind(stage.pay_on)
        .bind(&g.policy_version)
        .execute(&mut *tx)
        .await?;
        let m = Month::of(stage.pay_on);
        if !months.contains(&m) {
            months.push(m);
        }
    }
    // The stages' instructions answer the grant.
    let answering = Household {
        source_event_id: e.id.clone(),
        ..household
    };
    let today = state.mesh.today();
    for month in months {
        // The household's monthly benefit (if any) is not this grant's to instruct.
        let only_stages = Household {
            facts: None,
            ..answering.clone()
        };
        run::instruct(
            &state,
            &mut tx,
            std::slice::from_ref(&only_stages),
            month,
            today,
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(
        stages = g.stages.len(),
        act_first = g.act_first,
        "Emergency grant instructed."
    );
    Ok(Outcome::Applied)
}

/// `monitor.household.changed` → a stop (or the end of a gradual exit) for a person or the whole
/// household from `stop_from_month`: later runs pay nothing for it, and what was already
/// instructed for those months is opened as recovery cases (`payment.recovery.opened`).
pub async fn on_changed(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<HouseholdChanged>()?;
    let c = &e.data;
    let from = Month::parse(&c.stop_from_month).map_err(|e| HandlerError::Poison(e.to_string()))?;
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    run::lock_household(&mut tx, e.household_id).await?;
    // The run's chunk holding this household finishes first (its rows are locked for share).
    sqlx::query("SELECT 1 FROM entitlements WHERE household_id = $1 FOR UPDATE")
        .bind(e.household_id)
        .execute(&mut *tx)
        .await?;
    let change = match c.change {
        contract::AssistanceChange::Stopped => "stopped",
        contract::AssistanceChange::GradualExit => "gradual_exit",
    };
    let fresh = sqlx::query(
        "INSERT INTO assistance_changes (change_id, household_id, member_id, change, reason, occurred_on,
             stop_from_month, exit_months, decided_by, source_event_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
    )
    .bind(c.change_id)
    .bind(e.household_id)
    .bind(c.member_id)
    .bind(change)
    .bind(&c.reason)
    .bind(c.occurred_on)
    .bind(from.to_string())
    .bind(c.exit_months.map(|m| m as i32))
    .bind(&c.decided_by)
    .bind(&e.id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    let opened = if fresh {
        run::open_recoveries(
            &state,
            &mut tx,
            e.household_id,
            from,
            &c.reason,
            c.change_id,
            &ChainRef::answering(&e),
        )
        .await?
    } else {
        0
    };
    tx.commit().await?;
    tracing::info!(
        change,
        reason = %c.reason,
        stop_from_month = %from,
        person = c.member_id.is_some(),
        recoveries = opened,
        "Assistance change recorded."
    );
    Ok(Outcome::Applied)
}
