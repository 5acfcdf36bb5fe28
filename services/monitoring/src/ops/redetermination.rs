//! Re-determination (动态调整): when a member of an enrolled household dies, or a complete
//! re-verification finds other incomes or assets, the household is determined again from the
//! facts its determination rested on, changed, under the parameter set in force for the month
//! after (`policy::redetermine`), and `eligibility.household.redetermined` carries the before,
//! the after and the cause: payment pays the new amount from that month, or nothing when no cash
//! tier is left, or the amount before through a gradual exit when the income now exceeds the
//! standard.

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

/// What changed, for the event and its stable id.
pub struct Change {
    pub cause: RedeterminationCause,
    /// The member it is about, if one.
    pub member_id: Option<Uuid>,
    pub occurred_on: NaiveDate,
    /// What makes the id unique within the household and cause (the member, the report).
    pub key: String,
}

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
    let change = Change {
        cause,
        member_id: Some(p.member_id),
        occurred_on,
        key: p.member_id.to_string(),
    };
    let member = p.member_id;
    again(state, tx, chain, &change, by, |before, on| {
        if !before.members.iter().any(|m| m.member_id == member) {
            return None;
        }
        let after = before.facts(on, &[member])?;
        (!after.members.is_empty()).then_some(after)
    })
    .await
}

/// Determines the household of `chain` again after a complete re-verification (report
/// `report_id` on `on`): each member's income and assets are the higher of the basis and the
/// sources' figures now.
/// An event only when what is paid changes; the determination kept takes the new figures
/// either way.
pub async fn reverified(
    state: &State,
    tx: &mut PgConnection,
    chain: &ChainRef,
    report_id: Uuid,
    members: &[contract::VerifiedMember],
    on: NaiveDate,
) -> Result<bool, HandlerError> {
    let change = Change {
        cause: RedeterminationCause::Reverification,
        member_id: None,
        occurred_on: on,
        key: report_id.to_string(),
    };
    again(state, tx, chain, &change, None, |before, on| {
        let mut facts = before.facts(on, &[])?;
        for m in &mut facts.members {
            let v = members
                .iter()
                .find(|v| v.member_id.to_string() == m.member_id)?;
            // As at determination, the higher of what was declared (kept in the basis) and
            // what the sources report: a rise counts at once, a fall needs a new declaration.
            m.monthly_income = m.monthly_income.max(policy::Fen(v.monthly_income_fen));
            m.assets = m.assets.max(policy::Fen(v.assets_fen));
        }
        Some(facts)
    })
    .await
}

/// The household of `chain` determined again from the facts `after` makes of its determination
/// kept (`None`: nothing to do), from the month after `change.occurred_on`.
async fn again(
    state: &State,
    tx: &mut PgConnection,
    chain: &ChainRef,
    change: &Change,
    by: Option<&Actor>,
    after: impl FnOnce(&contract::HouseholdDetermined, NaiveDate) -> Option<policy::HouseholdFacts>,
) -> Result<bool, HandlerError> {
    let household_id = chain.household_id;
    let Some(before) = store::households::determination(tx, household_id).await? else {
        tracing::info!(%household_id, "No determination kept for the household: not determined again.");
        return Ok(false);
    };
    let from_month = Month::of(change.occurred_on).next();
    let on = from_month.first_day();
    let (Some(facts_before), Some(facts_after)) = (before.facts(on, &[]), after(&before, on))
    else {
        return Ok(false);
    };
    let poison = |e: String| HandlerError::Poison(e);
    let params = state
        .policy
        .in_force(&before.region_code, on)
        .map_err(|e| poison(e.to_string()))?;
    let r = policy::redetermine(
        &facts_before,
        &facts_after,
        params,
        Month::of(change.occurred_on),
    )
    .map_err(|e| poison(e.to_string()))?;
    let decided_by = format!("rule:{}", r.after.policy_version);
    let after = before.again(&r.after, r.from_month, decided_by);
    let now = state.mesh.clock.now();
    store::households::set_determination(tx, household_id, &after, now).await?;
    let unchanged = after.tier == before.tier
        && after.monthly_amount_fen == before.monthly_amount_fen
        && after.members.len() == before.members.len()
        && after.members.iter().zip(&before.members).all(|(a, b)| {
            a.individual_benefit_fen == b.individual_benefit_fen && a.tiers == b.tiers
        });
    if unchanged {
        return Ok(false);
    }
    let cause = change.cause;
    let event = HouseholdRedetermined {
        redetermination_id: Uuid::new_v5(
            &household_id,
            format!("redetermined/{}/{}", cause.as_str(), change.key).as_bytes(),
        ),
        cause,
        member_id: change.member_id,
        occurred_on: change.occurred_on,
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
    if r.stops {
        store::households::set_stopped(tx, household_id, now).await?;
    }
    let actor = by.cloned().unwrap_or_else(|| Actor::system("monitoring"));
    let mut entry = Entry::new(
        "household.redetermine",
        "household",
        event.redetermination_id,
    )
    .household(household_id);
    if let Some(m) = change.member_id {
        entry = entry.person(m);
    }
    audit::append(
        tx,
        &state.mesh,
        &actor,
        entry.detail(json!({
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
        %household_id,
        cause = cause.as_str(),
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
