//! Instructing: what households are owed for a month becomes instructions, once each, with
//! their `payment.instruction.created` in the outbox. The monthly run, a determination and an
//! emergency grant all instruct through [`instruct`], so the same payment always gets the same
//! instruction (the stable id of beneficiary, month, kind and reference).

use crate::entitlements::{self, Payment, PriceRises, Stage, Stops};
use crate::state::{State, Window};
use crate::store;
use crate::store::entitlements::Household;
use crate::store::instructions::NewInstructions;
use chrono::NaiveDate;
use contract::channels::PAYMENT_INSTRUCTION_CREATED;
use contract::InstructionCreated;
use mesh::{ChainRef, Envelope};
use policy::{Month, ParameterSet, RegionCode};
use sqlx::PgConnection;
use std::collections::HashMap;
use uuid::Uuid;

pub use crate::domain::Totals;

/// Instructs what `households` are owed for `month` in `tx`: one instruction per payment, made
/// once, each new one with its `payment.instruction.created` in the outbox. A household whose
/// payments cannot be computed is logged (by id) and counted as skipped. A month outside
/// payment's window ([`State::window`]) is refused: nothing is instructed for it.
#[allow(
    clippy::too_many_lines,
    reason = "recomputes, dedupes and writes a whole chunk in set operations; to be split into compute and store"
)]
pub async fn instruct(
    state: &State,
    tx: &mut PgConnection,
    households: &[Household],
    month: Month,
    today: NaiveDate,
) -> anyhow::Result<Totals> {
    let mut totals = Totals {
        households: households.len() as i64,
        ..Totals::default()
    };
    let window = state.window();
    anyhow::ensure!(
        window.contains(month),
        "nothing is instructed for {month}: the month {}",
        window.rule()
    );
    if households.is_empty() {
        return Ok(totals);
    }
    let ids: Vec<Uuid> = households.iter().map(|h| h.household_id).collect();
    let mut stops = stops_of(tx, &ids).await?;
    let mut stages: HashMap<Uuid, Vec<Stage>> = HashMap::new();
    let rows =
        store::entitlements::stages_between(tx, &ids, month.first_day(), month.next().first_day())
            .await?;
    for (h, s) in rows {
        stages.entry(h).or_default().push(s);
    }

    let rises = PriceRises(store::prices::of_month(tx, &month.to_string()).await?);
    let mut sets: HashMap<String, Result<ParameterSet, String>> = HashMap::new();
    let mut owed: Vec<(&Household, Payment, NaiveDate)> = Vec::new();
    for h in households {
        let household_stops = stops.remove(&h.household_id).unwrap_or_default();
        let mut pays: Vec<(Payment, NaiveDate)> = Vec::new();
        if let (Some(facts), Some(effective)) = (&h.facts, &h.effective_month) {
            let p = sets.entry(h.region_code.clone()).or_insert_with(|| {
                RegionCode::parse(&h.region_code)
                    .map_err(|e| e.to_string())
                    .and_then(|r| {
                        state
                            .policy
                            .in_force(&r, month.first_day())
                            .cloned()
                            .map_err(|e| e.to_string())
                    })
            });
            // Borrowed from the chunk's cache: a parameter set is not copied per household.
            let computed = p.as_ref().map_err(Clone::clone).and_then(|p| {
                let effective = Month::parse(effective).map_err(|e| e.to_string())?;
                let due = policy::dates::pay_by(month, p.payment_due_day, today);
                let mut v = entitlements::monthly(
                    facts,
                    &h.region_code,
                    effective,
                    month,
                    &household_stops,
                    p,
                )?;
                v.extend(entitlements::price_subsidy_due(
                    facts,
                    effective,
                    month,
                    &household_stops,
                    p,
                    rises.for_region(&h.region_code),
                )?);
                Ok::<_, String>(v.into_iter().map(|x| (x, due)).collect::<Vec<_>>())
            });
            match computed {
                Ok(v) => pays.extend(v),
                Err(problem) => {
                    tracing::warn!(household_id = %h.household_id, %month, problem, "A household's payments could not be computed; it is skipped.");
                    totals.skipped += 1;
                    continue;
                }
            }
        }
        if let Some(s) = stages.get(&h.household_id) {
            pays.extend(
                entitlements::stages_due(s, month, &household_stops)
                    .into_iter()
                    .zip(s.iter().filter(|s| {
                        Month::of(s.pay_on) == month && !household_stops.stopped(s.member_id, month)
                    }))
                    .map(|(p, s)| (p, s.pay_on)),
            );
        }
        owed.extend(pays.into_iter().map(|(p, due)| (h, p, due)));
    }
    let written = write(state, tx, month, &owed).await?;
    totals.total_fen = written.total_fen;
    totals.existing = written.existing;
    totals.created = written.created;
    totals.created_fen = written.created_fen;
    Ok(totals)
}

/// Writes `owed` (household, payment, due date) as `month`'s instructions in `tx`: each made
/// once, each new one with its `payment.instruction.created` in the outbox.
pub async fn write(
    state: &State,
    tx: &mut PgConnection,
    month: Month,
    owed: &[(&Household, Payment, NaiveDate)],
) -> anyhow::Result<Totals> {
    let mut totals = Totals::default();
    if owed.is_empty() {
        return Ok(totals);
    }
    let month_text = month.to_string();
    let mut rows = NewInstructions::with_capacity(owed.len());
    for (h, p, d) in owed {
        rows.instruction_id.push(p.instruction_id(month));
        rows.household_id.push(h.household_id);
        rows.chain_id.push(h.chain_id);
        rows.beneficiary.push(p.beneficiary);
        rows.kind.push(p.kind.as_str().to_owned());
        rows.amount_fen.push(p.amount.0);
        rows.due_date.push(*d);
        rows.policy_version.push(p.policy_version.clone());
        rows.source_event_id.push(h.source_event_id.clone());
        rows.payee
            .push(crate::domain::PayeeKind::from(p.payee).as_str().to_owned());
        rows.reference.push(p.reference.clone());
    }
    let created =
        store::instructions::insert_instructions(tx, &month_text, &rows, state.mesh.clock.now())
            .await?;

    let iid = &rows.instruction_id;
    let mut envelopes: Vec<Envelope<InstructionCreated>> = Vec::with_capacity(created.len());
    let add = |sum: i64, fen: i64| {
        sum.checked_add(fen)
            .ok_or_else(|| anyhow::anyhow!("the month's total for {month} is out of range"))
    };
    for (i, (h, p, d)) in owed.iter().enumerate() {
        totals.total_fen = add(totals.total_fen, p.amount.0)?;
        if !created.contains(&iid[i]) {
            totals.existing += 1;
            continue;
        }
        totals.created += 1;
        totals.created_fen = add(totals.created_fen, p.amount.0)?;
        let chain = ChainRef {
            household_id: h.household_id,
            chain_id: h.chain_id,
            causation_id: Some(h.source_event_id.clone()),
        };
        envelopes.push(state.mesh.envelope(
            &chain,
            Some(iid[i].to_string()),
            InstructionCreated {
                instruction_id: iid[i],
                beneficiary_member_id: p.beneficiary,
                month,
                kind: p.kind.as_str().to_owned(),
                amount_fen: p.amount.0,
                due_date: *d,
                policy_version: p.policy_version.clone(),
                payee: p.payee,
                reference: p.reference.clone(),
            },
        ));
    }
    mesh::outbox::enqueue_many_on(
        tx,
        &state.mesh.subjects,
        PAYMENT_INSTRUCTION_CREATED,
        &envelopes,
    )
    .await?;
    Ok(totals)
}

/// The stops of `ids`, by household.
pub async fn stops_of(tx: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<HashMap<Uuid, Stops>> {
    let mut out: HashMap<Uuid, Stops> = HashMap::new();
    for (h, member, from) in store::entitlements::stops(tx, ids).await? {
        if let Ok(from) = Month::parse(&from) {
            out.entry(h).or_default().add(member, from);
        }
    }
    Ok(out)
}

/// The months a newly determined household must be instructed for at once: from its effective
/// month to the latest month whose run exists (a run past the household's place in the order,
/// or already completed, will not come back to it), within payment's `window` only: a run
/// recorded for a month past it instructs nothing, and months before it are left to a run.
/// Takes the run lock shared.
pub async fn months_to_instruct(
    tx: &mut PgConnection,
    effective: Month,
    window: Window,
) -> sqlx::Result<Vec<Month>> {
    store::runs::lock_runs_shared(tx).await?;
    let latest = store::runs::latest_month(tx).await?;
    Ok(months_between(
        effective,
        latest.and_then(|m| Month::parse(&m).ok()),
        window,
    ))
}

/// The months from `effective` to `latest_run` (at least `effective`), within `window`.
pub fn months_between(effective: Month, latest_run: Option<Month>, window: Window) -> Vec<Month> {
    let last = latest_run
        .filter(|m| *m > effective)
        .unwrap_or(effective)
        .min(window.last);
    let mut out = Vec::new();
    let mut m = effective.max(window.first);
    while m <= last {
        out.push(m);
        m = m.next();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    #[test]
    fn a_determination_instructs_the_months_already_run_within_the_window_only() {
        let window = Window {
            first: m("2025-11"),
            last: m("2026-12"),
        };
        assert_eq!(months_between(m("2026-11"), None, window), [m("2026-11")]);
        assert_eq!(
            months_between(m("2026-11"), Some(m("2026-12")), window),
            [m("2026-11"), m("2026-12")]
        );
        // A run recorded for 4450-09 made every month up to it due: the window ends in 2026-12.
        assert_eq!(
            months_between(m("2026-11"), Some(m("4450-09")), window),
            [m("2026-11"), m("2026-12")]
        );
        // An effective month past the window instructs nothing; one before it starts at its start.
        assert!(months_between(m("2027-03"), Some(m("2027-03")), window).is_empty());
        assert_eq!(
            months_between(m("2025-01"), Some(m("2025-12")), window),
            [m("2025-11"), m("2025-12")]
        );
    }
}
