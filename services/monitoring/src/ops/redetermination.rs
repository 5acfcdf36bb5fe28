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
    let done = again(state, tx, chain, &change, by, |before, on| {
        if !before.members.iter().any(|m| m.member_id == member) {
            return None;
        }
        let mut base = before.clone();
        base.members.retain(|m| m.member_id != member);
        let after = base.facts(on)?;
        (!after.members.is_empty()).then_some((base, after))
    })
    .await?;
    Ok(done.is_some())
}

/// Determines `p`'s household again after a departmental feed found a new circumstance of `p`
/// on `occurred_on` (`severe_disability` or `serious_illness`, the facts the classified add-on
/// and single-person dibao read); an event only when what is paid changes.
pub async fn circumstance_found(
    state: &State,
    tx: &mut PgConnection,
    p: &Recipient,
    fact: &str,
    occurred_on: NaiveDate,
    chain: &ChainRef,
    by: Option<&Actor>,
) -> Result<bool, HandlerError> {
    let set: fn(&mut policy::determination::MemberFlags) = match fact {
        "severe_disability" => |f| f.severe_disability = true,
        "serious_illness" => |f| f.serious_illness = true,
        _ => return Ok(false),
    };
    let change = Change {
        cause: RedeterminationCause::NewCircumstance,
        member_id: Some(p.member_id),
        occurred_on,
        key: format!("{}/{fact}", p.member_id),
    };
    let member = p.member_id;
    let done = again(state, tx, chain, &change, by, |before, on| {
        let mut base = before.clone();
        let basis = base
            .members
            .iter_mut()
            .find(|m| m.member_id == member)?
            .basis
            .as_mut()?;
        set(&mut basis.flags);
        let facts = base.facts(on)?;
        Some((base, facts))
    })
    .await?;
    Ok(done.is_some())
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
    let done = again(state, tx, chain, &change, None, |before, on| {
        let mut facts = before.facts(on)?;
        for m in &mut facts.members {
            let v = members
                .iter()
                .find(|v| v.member_id.to_string() == m.member_id)?;
            // As at determination, the higher of what was declared (kept in the basis) and
            // what the sources report: a rise counts at once, a fall needs a new declaration.
            m.monthly_income = m.monthly_income.max(policy::Fen(v.monthly_income_fen));
            m.assets = m.assets.max(policy::Fen(v.assets_fen));
        }
        // The basis kept takes the new figures.
        let mut base = before.clone();
        for (d, f) in base.members.iter_mut().zip(&facts.members) {
            if let Some(b) = d.basis.as_mut() {
                b.monthly_income_fen = f.monthly_income.0;
                b.assets_fen = f.assets.0;
            }
        }
        Some((base, facts))
    })
    .await?;
    Ok(done.is_some())
}

/// The household of `chain` determined again, from the month after `change.occurred_on`: `after`
/// gives, from the determination kept, the household as it now is (the members still in it,
/// with their bases) and their facts (`None`: nothing to do). Returns the event published, if any (none
/// when nothing paid changes; the determination kept is updated either way).
pub async fn again(
    state: &State,
    tx: &mut PgConnection,
    chain: &ChainRef,
    change: &Change,
    by: Option<&Actor>,
    after: impl FnOnce(
        &contract::HouseholdDetermined,
        NaiveDate,
    ) -> Option<(contract::HouseholdDetermined, policy::HouseholdFacts)>,
) -> Result<Option<HouseholdRedetermined>, HandlerError> {
    let household_id = chain.household_id;
    let Some(before) = store::households::determination(tx, household_id).await? else {
        tracing::info!(%household_id, "No determination kept for the household: not determined again.");
        return Ok(None);
    };
    let from_month = Month::of(change.occurred_on).next();
    let on = from_month.first_day();
    let (Some(facts_before), Some((base, facts_after))) = (before.facts(on), after(&before, on))
    else {
        return Ok(None);
    };
    // The same members on the same bases (a fact already known, figures not higher): nothing to
    // determine, keep or publish; payment applies a new parameter set by itself.
    if base.members == before.members {
        return Ok(None);
    }
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
    let after = base.again(&r.after, r.from_month, decided_by);
    let now = state.mesh.clock.now();
    store::households::set_determination(tx, household_id, &after, now).await?;
    let unchanged = after.tier == before.tier
        && after.monthly_amount_fen == before.monthly_amount_fen
        && after.members.len() == before.members.len()
        && after.members.iter().zip(&before.members).all(|(a, b)| {
            a.individual_benefit_fen == b.individual_benefit_fen && a.tiers == b.tiers
        });
    if unchanged {
        return Ok(None);
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
    let mut out = state.mesh.envelope(
        chain,
        Some(event.redetermination_id.to_string()),
        event.clone(),
    );
    if let Some(a) = by {
        out = out.by(a.clone());
    }
    mesh::outbox::enqueue_on(tx, &state.mesh.subjects, HOUSEHOLD_REDETERMINED, &out).await?;
    Ok(Some(event))
}

/// A person who joins an enrolled household, as the township officer records them.
#[derive(Debug, Clone)]
pub struct Newcomer {
    pub name: String,
    pub id: policy::ResidentId,
    pub relation: String,
    pub monthly_income_fen: i64,
    pub assets_fen: i64,
    pub flags: policy::determination::MemberFlags,
}

/// A change of a household's members.
#[derive(Debug, Clone)]
pub enum Membership {
    /// `Birth` or `MemberJoined`.
    Joins(RedeterminationCause, Newcomer),
    Leaves(Uuid),
}

/// What a recorded change of members did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MembersChanged {
    pub household_id: Uuid,
    pub cause: RedeterminationCause,
    pub member_id: Uuid,
    pub occurred_on: NaiveDate,
    pub from_month: Month,
    /// The re-determination published; absent when what is paid did not change.
    pub redetermination: Option<HouseholdRedetermined>,
}

fn api(e: HandlerError) -> mesh::http::ApiError {
    match e {
        HandlerError::Poison(why) => mesh::http::ApiError::Conflict(why),
        HandlerError::Transient(e) => mesh::http::ApiError::Internal(e),
    }
}

/// Records a birth, a member joining or a member leaving an enrolled household of the
/// officer's townships (404 outside them), on `occurred_on`, and determines the household
/// again from the month after, in one transaction with its audit record
/// (`household.members.change`) and, for a member leaving, the member's stop
/// (`monitor.household.changed`, `member_left`). 409: a household stopped, determined before
/// its basis was kept, a newcomer already assisted, a member not in the household, or the last
/// member leaving (the household stops instead).
pub async fn members_change(
    state: &State,
    acting: &mesh::Acting,
    headers: &axum::http::HeaderMap,
    household_id: Uuid,
    change: Membership,
    occurred_on: NaiveDate,
) -> Result<MembersChanged, mesh::http::ApiError> {
    use mesh::http::ApiError;
    let not_found = || ApiError::NotFound("no enrolled household with this id".into());
    let mut tx = state.mesh.db.begin().await?;
    let row = store::households::lock_for_reverification(&mut tx, household_id)
        .await?
        .filter(|r| acting.covers(&r.region_code))
        .ok_or_else(not_found)?;
    if !row.status.assisted() {
        return Err(ApiError::Conflict(format!(
            "the household is {}: its assistance has stopped",
            row.status.as_str()
        )));
    }
    let before = store::households::determination(&mut tx, household_id)
        .await?
        .filter(|d| d.members.iter().all(|m| m.basis.is_some()))
        .ok_or_else(|| {
            ApiError::Conflict("the household was determined before its facts were kept: it cannot be determined again here; the township takes a new application".to_owned())
        })?;
    let chain = ChainRef {
        household_id,
        chain_id: row.chain_id,
        causation_id: None,
    };
    let officer = acting.actor();
    let from_month = Month::of(occurred_on).next();
    let (cause, member_id) = match &change {
        Membership::Joins(cause, n) => {
            let member_id = Uuid::new_v5(&household_id, n.id.as_str().as_bytes());
            if before.members.iter().any(|m| m.id_number == n.id.as_str())
                || store::households::id_number_assisted(&mut tx, n.id.as_str()).await?
            {
                return Err(ApiError::Conflict(
                    "member.id_number: the person is already assisted in an enrolled household"
                        .into(),
                ));
            }
            (*cause, member_id)
        }
        Membership::Leaves(member_id) => {
            if !before.members.iter().any(|m| m.member_id == *member_id) {
                return Err(ApiError::Conflict(
                    "the member is not a member of the household now".to_owned(),
                ));
            }
            if before.members.len() == 1 {
                return Err(ApiError::Conflict(
                    "the last member cannot leave: the household's assistance stops instead".into(),
                ));
            }
            (RedeterminationCause::MemberLeft, *member_id)
        }
    };
    let what = Change {
        cause,
        member_id: Some(member_id),
        occurred_on,
        key: member_id.to_string(),
    };
    let event = match change {
        Membership::Joins(_, n) => {
            join(state, &mut tx, &chain, &what, &officer, n, from_month).await?
        }
        Membership::Leaves(_) => leave(state, &mut tx, &chain, &what, &officer, from_month).await?,
    };
    audit::append(
        &mut tx,
        &state.mesh,
        &officer,
        Entry::new("household.members.change", "household", household_id)
            .household(household_id)
            .person(member_id)
            .purpose_from(headers)
            .detail(json!({
                "cause": cause.as_str(),
                "occurred_on": occurred_on,
                "from_month": from_month,
                "redetermined": event.is_some(),
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(MembersChanged {
        household_id,
        cause,
        member_id,
        occurred_on,
        from_month,
        redetermination: event,
    })
}

/// A newcomer in the population database from `from_month`, and the household determined again
/// with them (their basis: what the officer declared).
async fn join(
    state: &State,
    tx: &mut PgConnection,
    chain: &ChainRef,
    what: &Change,
    officer: &Actor,
    n: Newcomer,
    from_month: Month,
) -> Result<Option<HouseholdRedetermined>, mesh::http::ApiError> {
    let member_id = what.member_id.unwrap_or_default();
    let newcomer = contract::DeterminedMember::undecided(
        member_id,
        n.id.as_str().to_owned(),
        n.name.clone(),
        n.relation.clone(),
        contract::MemberBasis {
            monthly_income_fen: n.monthly_income_fen,
            pension_base_fen: 0,
            employment_costs_fen: 0,
            assets_fen: n.assets_fen,
            rigid_expenditure_fen: 0,
            flags: n.flags,
        },
    );
    let now = state.mesh.clock.now();
    store::households::add_person(
        tx,
        chain.household_id,
        &newcomer,
        &from_month.to_string(),
        now,
    )
    .await?;
    again(state, tx, chain, what, Some(officer), |before, on| {
        let mut base = before.clone();
        base.members.push(newcomer);
        let facts = base.facts(on)?;
        Some((base, facts))
    })
    .await
    .map_err(api)
}

/// The member's stop from `from_month` (`monitor.household.changed`, `member_left`, by the
/// officer), and the household determined again without them.
async fn leave(
    state: &State,
    tx: &mut PgConnection,
    chain: &ChainRef,
    what: &Change,
    officer: &Actor,
    from_month: Month,
) -> Result<Option<HouseholdRedetermined>, mesh::http::ApiError> {
    let member_id = what.member_id.unwrap_or_default();
    let household_id = chain.household_id;
    let stop = contract::HouseholdChanged {
        change_id: Uuid::new_v5(&household_id, format!("left/{member_id}").as_bytes()),
        member_id: Some(member_id),
        change: contract::AssistanceChange::Stopped,
        reason: "member_left".into(),
        occurred_on: what.occurred_on,
        stop_from_month: from_month,
        exit_months: None,
        decided_by: format!("officer:{}", officer.name),
    };
    let now = state.mesh.clock.now();
    if store::households::apply_change(tx, household_id, &stop, now).await? {
        let out = state
            .mesh
            .envelope(chain, Some(stop.change_id.to_string()), stop)
            .by(officer.clone());
        mesh::outbox::enqueue_on(
            tx,
            &state.mesh.subjects,
            contract::channels::HOUSEHOLD_CHANGED,
            &out,
        )
        .await?;
    }
    again(state, tx, chain, what, Some(officer), |before, on| {
        let mut base = before.clone();
        base.members.retain(|m| m.member_id != member_id);
        let facts = base.facts(on)?;
        Some((base, facts))
    })
    .await
    .map_err(api)
}
