//! Re-determination (动态调整): when a member of an enrolled household dies, the household is
//! determined again from the facts its determination rested on, without that member, under the
//! parameter set in force for the month after the death (`policy::redetermine`), and
//! `eligibility.household.redetermined` carries the before, the after and the cause: payment
//! pays the new amount from that month, or nothing when no cash tier is left, or the amount
//! before through a gradual exit when the income now exceeds the standard.

use crate::domain::referrals::Recipient;
use crate::state::State;
use crate::store;
use chrono::NaiveDate;
use contract::channels::HOUSEHOLD_REDETERMINED;
use contract::{DeterminedBefore, HouseholdRedetermined, RedeterminationCause};
use mesh::audit::{self, Entry};
use mesh::{Actor, ChainRef, HandlerError};
use policy::Month;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

/// Determines `p`'s household again without `p`, who left it on `occurred_on` for `cause`, in
/// the caller's transaction. Nothing happens (`false`) when the household's determination was
/// not kept with its basis (enrolled before it was), when `p` is no longer in it (the same
/// record again), or when nobody is left.
pub async fn member_left(
    state: &State,
    tx: &mut PgConnection,
    p: &Recipient,
    cause: RedeterminationCause,
    occurred_on: NaiveDate,
    chain: &ChainRef,
    by: Option<&Actor>,
) -> Result<bool, HandlerError> {
    let Some(before) = store::households::determination(tx, p.household_id).await? else {
        tracing::info!(household_id = %p.household_id, "No determination kept for the household: not determined again.");
        return Ok(false);
    };
    if !before.members.iter().any(|m| m.member_id == p.member_id) {
        return Ok(false);
    }
    let from_month = Month::of(occurred_on).next();
    let on = from_month.first_day();
    let (Some(facts_before), Some(facts_after)) =
        (before.facts(on, &[]), before.facts(on, &[p.member_id]))
    else {
        tracing::info!(household_id = %p.household_id, "The determination kept has no basis: not determined again.");
        return Ok(false);
    };
    if facts_after.members.is_empty() {
        return Ok(false);
    }
    let poison = |e: String| HandlerError::Poison(e);
    let params = state
        .policy
        .in_force(&before.region_code, on)
        .map_err(|e| poison(e.to_string()))?;
    let r = policy::redetermine(&facts_before, &facts_after, params, Month::of(occurred_on))
        .map_err(|e| poison(e.to_string()))?;
    let decided_by = format!("rule:{}", r.after.policy_version);
    let after = before.again(&r.after, r.from_month, decided_by);
    let event = HouseholdRedetermined {
        redetermination_id: Uuid::new_v5(
            &p.household_id,
            format!("redetermined/{}/{}", cause.as_str(), p.member_id).as_bytes(),
        ),
        cause,
        member_id: Some(p.member_id),
        occurred_on,
        from_month: r.from_month,
        before: DeterminedBefore {
            tier: before.tier,
            monthly_amount_fen: before.monthly_amount_fen,
            per_capita_income_fen: before.per_capita_income_fen,
            policy_version: before.policy_version.clone(),
            member_ids: before.members.iter().map(|m| m.member_id).collect(),
        },
        after: after.clone(),
        stops: r.stops,
        gradual_exit: r.gradual_exit,
    };
    let now = state.mesh.clock.now();
    store::households::set_determination(tx, p.household_id, &after, now).await?;
    if r.stops {
        store::households::set_stopped(tx, p.household_id, now).await?;
    }
    let actor = by.cloned().unwrap_or_else(|| Actor::system("monitoring"));
    audit::append(
        tx,
        &state.mesh,
        &actor,
        Entry::new(
            "household.redetermine",
            "household",
            event.redetermination_id,
        )
        .household(p.household_id)
        .person(p.member_id)
        .detail(json!({
            "cause": cause.as_str(),
            "from_month": event.from_month,
            "tier_before": event.before.tier,
            "monthly_amount_fen_before": event.before.monthly_amount_fen,
            "tier_after": after.tier,
            "monthly_amount_fen_after": after.monthly_amount_fen,
            "stops": event.stops,
            "policy_version": after.policy_version,
        })),
    )
    .await
    .map_err(HandlerError::Transient)?;
    tracing::info!(
        household_id = %p.household_id,
        from_month = %event.from_month,
        before = event.before.monthly_amount_fen,
        after = after.monthly_amount_fen,
        stops = event.stops,
        "Household determined again."
    );
    let mut out = state
        .mesh
        .envelope(chain, Some(event.redetermination_id.to_string()), event);
    if let Some(a) = by {
        out = out.by(a.clone());
    }
    mesh::outbox::enqueue_on(tx, &state.mesh.subjects, HOUSEHOLD_REDETERMINED, &out).await?;
    Ok(true)
}
