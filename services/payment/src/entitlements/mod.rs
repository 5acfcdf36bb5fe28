//! The entitlements register: what payment keeps of each household it may pay
//! (`entitlements`, `emergency_stages`, `assistance_changes`), and what a household is owed for
//! any month ([`rules`]).
//!
//! - A determination's facts enter the register; a paid tier is instructed at once for its
//!   effective month and any month whose run has already begun: the same instructions, with
//!   the same ids, as that month's run makes.
//! - An emergency grant's stages enter the register and are instructed for their months.
//! - A stop or the end of a gradual exit is kept as a stop; what was already instructed for
//!   the months it covers opens recovery cases ([`crate::recoveries`]).
//! - A re-determination's facts join the register from its month; the months already
//!   instructed from then on are settled against the new amount: recovery cases for what was
//!   overpaid, top-up instructions for what was underpaid ([`crate::recoveries`]).

pub mod rules;

pub use rules::{
    instruction_id, monthly, price_subsidy_due, stages_due, Facts, Member, Payment, PriceRises,
    Stage, Stops,
};

use crate::domain::ChangeKind;
use crate::instructions;
use crate::recoveries::{self, Settled};
use crate::state::State;
use crate::store;
use crate::store::entitlements::{Determined, Household, NewChange, NewStage};
use contract::{
    AssistanceChange, EmergencyGranted, HouseholdChanged, HouseholdDetermined,
    HouseholdRedetermined,
};
use mesh::{ChainRef, Envelope, HandlerError};
use policy::redetermination::ExitDecision;
use policy::{Month, Tier};
use sqlx::types::Json;
use sqlx::PgConnection;

/// Records a determination and instructs a paid household for the months already due.
pub async fn determined(
    state: &State,
    tx: &mut PgConnection,
    e: &Envelope<HouseholdDetermined>,
    effective: Month,
    facts: &Facts,
) -> Result<(), HandlerError> {
    let det = &e.data;
    let window = state.window();
    if effective > window.last {
        // Intake determines for its today's month: one later than payment's window is forged
        // or from a clock gone wrong, and would pay a future month early.
        return Err(HandlerError::Poison(format!(
            "effective_month {effective}: the month {}",
            window.rule()
        )));
    }
    store::entitlements::lock_household(tx, e.household_id).await?;
    let household = store::entitlements::upsert_determined(
        tx,
        &Determined {
            household_id: e.household_id,
            chain_id: e.chain_id,
            region_code: det.region_code.as_str(),
            effective_month: &effective.to_string(),
            facts,
            policy_version: &det.policy_version,
            source_event_id: &e.id,
        },
        state.mesh.clock.now(),
    )
    .await?;
    let members: Vec<uuid::Uuid> = facts.members.iter().map(|m| m.member_id).collect();
    store::accounts::record_members(tx, e.household_id, &members, state.mesh.clock.now()).await?;
    let paid = match det.tier {
        Tier::Dibao | Tier::Destitute | Tier::SinglePersonDibao => true,
        Tier::RigidExpenditure | Tier::Marginal | Tier::None => false,
    };
    if !paid {
        return Ok(());
    }
    let today = state.mesh.today();
    for month in instructions::months_to_instruct(tx, effective, window).await? {
        let t = instructions::instruct(state, tx, std::slice::from_ref(&household), month, today)
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
    Ok(())
}

/// Records an emergency grant's stages and instructs each stage's month (the stages only: the
/// household's monthly benefit, if any, is not this grant's to instruct).
pub async fn granted(
    state: &State,
    tx: &mut PgConnection,
    e: &Envelope<EmergencyGranted>,
) -> anyhow::Result<()> {
    let g = &e.data;
    store::entitlements::lock_household(tx, e.household_id).await?;
    let household = store::entitlements::upsert_granted(
        tx,
        e.household_id,
        e.chain_id,
        g.region_code.as_str(),
        &e.id,
        state.mesh.clock.now(),
    )
    .await?;
    store::accounts::record_members(tx, e.household_id, &[g.member_id], state.mesh.clock.now())
        .await?;
    let mut months = Vec::new();
    for stage in &g.stages {
        store::entitlements::insert_stage(
            tx,
            &NewStage {
                emergency_id: g.emergency_id,
                stage: stage.stage as i32,
                household_id: e.household_id,
                member_id: g.member_id,
                amount_fen: stage.amount_fen,
                pay_on: stage.pay_on,
                policy_version: &g.policy_version,
            },
        )
        .await?;
        let m = Month::of(stage.pay_on);
        if !months.contains(&m) {
            months.push(m);
        }
    }
    // The stages' instructions answer the grant. A stage of a month after payment's window is
    // instructed by that month's run, not now: nothing is paid early.
    let only_stages = Household {
        source_event_id: e.id.clone(),
        facts: None,
        ..household
    };
    let today = state.mesh.today();
    let window = state.window();
    for month in months.into_iter().filter(|m| window.contains(*m)) {
        instructions::instruct(state, tx, std::slice::from_ref(&only_stages), month, today).await?;
    }
    Ok(())
}

/// Records a stop (or the end of a gradual exit) from `from`; a new one opens the recovery
/// cases of what was already instructed for those months. Returns what it settled.
pub async fn changed(
    state: &State,
    tx: &mut PgConnection,
    e: &Envelope<HouseholdChanged>,
    from: Month,
) -> anyhow::Result<Settled> {
    store::entitlements::lock_household(tx, e.household_id).await?;
    // The run's chunk holding this household finishes first (its rows are locked for share).
    store::entitlements::lock_entitlement(tx, e.household_id).await?;
    record_change(state, tx, &e.data, from, &e.id, &ChainRef::answering(e)).await
}

/// A household determined again: its facts from `from_month` on join the register (the months
/// before keep theirs), or, when no cash tier is left, a stop of the household from that month;
/// or, for a gradual exit, the amount before for the exit months and a stop after them. The
/// months already instructed from then on are settled against what is owed now: the recovery
/// cases and top-ups made are returned.
pub async fn redetermined(
    state: &State,
    tx: &mut PgConnection,
    e: &Envelope<HouseholdRedetermined>,
) -> Result<Settled, HandlerError> {
    let r = &e.data;
    store::entitlements::lock_household(tx, e.household_id).await?;
    store::entitlements::lock_entitlement(tx, e.household_id).await?;
    let Some(household) = store::entitlements::household(tx, e.household_id).await? else {
        // Never determined here: nothing was or will be paid on the old facts.
        return Ok(Settled::default());
    };
    let Some(Json(mut facts)) = household.facts else {
        return Ok(Settled::default());
    };
    let stop = |change, from_month, exit_months| HouseholdChanged {
        change_id: r.redetermination_id,
        member_id: None,
        change,
        reason: format!("redetermined:{}", r.cause.as_str()),
        occurred_on: r.occurred_on,
        stop_from_month: from_month,
        exit_months,
        decided_by: r.after.decided_by.clone(),
    };
    let chain = ChainRef::answering(e);
    match r.gradual_exit {
        Some(ExitDecision::Gradual {
            months,
            stop_from_month,
        }) => {
            let c = stop(AssistanceChange::GradualExit, stop_from_month, Some(months));
            return Ok(record_change(state, tx, &c, stop_from_month, &e.id, &chain).await?);
        }
        _ if r.stops => {
            let c = stop(AssistanceChange::Stopped, r.from_month, None);
            return Ok(record_change(state, tx, &c, r.from_month, &e.id, &chain).await?);
        }
        _ => {}
    }
    let after = Facts::of(&r.after, &state.policy).map_err(HandlerError::Poison)?;
    facts.redetermined(r.from_month, after);
    store::entitlements::set_facts(tx, e.household_id, &facts, &e.id, state.mesh.clock.now())
        .await?;
    // The months already instructed from `from_month` on are settled against the new amount:
    // a lower one opens recovery cases, a higher one a top-up of the difference.
    let reason = format!("redetermined:{}", r.cause.as_str());
    Ok(recoveries::open(
        state,
        tx,
        e.household_id,
        r.from_month,
        &reason,
        r.redetermination_id,
        &chain,
    )
    .await?)
}

/// Records the change `c` from `from`, which came in event `source_event_id`; a new one opens
/// the recovery cases of what was already instructed for those months.
async fn record_change(
    state: &State,
    tx: &mut PgConnection,
    c: &HouseholdChanged,
    from: Month,
    source_event_id: &str,
    chain: &ChainRef,
) -> anyhow::Result<Settled> {
    let household_id = chain.household_id;
    let fresh = store::entitlements::insert_change(
        tx,
        &NewChange {
            change_id: c.change_id,
            household_id,
            member_id: c.member_id,
            change: ChangeKind::from(c.change),
            reason: &c.reason,
            occurred_on: c.occurred_on,
            stop_from_month: &from.to_string(),
            exit_months: c.exit_months.map(|m| m as i32),
            decided_by: &c.decided_by,
            source_event_id,
        },
        state.mesh.clock.now(),
    )
    .await?;
    if !fresh {
        return Ok(Settled::default());
    }
    recoveries::open(state, tx, household_id, from, &c.reason, c.change_id, chain).await
}
