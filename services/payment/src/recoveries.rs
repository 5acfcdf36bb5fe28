//! Overpayment recovery cases (`recoveries`) and top-ups: after a stop or a re-determination,
//! what was already instructed for the months it covers is compared with what is owed now,
//! payment by payment. What was overpaid becomes a recovery case, with
//! `payment.recovery.opened`; what is owed beyond what was instructed (a re-determination that
//! raised the amount) becomes a top-up instruction for the difference. The money coming back
//! is posted to the ledger ([`crate::ledger::post_recovery`]).

use crate::domain::{InstructionKind, RUN_NAMESPACE};
use crate::entitlements::{self, Payment, PriceRises, Stage};
use crate::instructions::{self, stops_of};
use crate::state::State;
use crate::store;
use crate::store::instructions::Made;
use crate::store::recoveries::{NewRecovery, RecoveryView};
use contract::channels::PAYMENT_RECOVERY_OPENED;
use contract::RecoveryOpened;
use mesh::ChainRef;
use policy::{Month, RegionCode};
use sqlx::PgConnection;
use std::collections::HashMap;
use uuid::Uuid;

/// The recovery cases of the households in the caller's areas.
pub async fn list(
    state: &State,
    acting: &mesh::auth::Acting,
    household_id: Option<Uuid>,
) -> sqlx::Result<Vec<RecoveryView>> {
    store::recoveries::list(&state.mesh.db, household_id, &acting.region_patterns()).await
}

/// What [`open`] did for the months already instructed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Recovery cases opened (what was overpaid).
    pub recoveries: usize,
    /// Top-up instructions made (what was underpaid).
    pub top_ups: usize,
}

/// Which payments of a month are compared together: a dibao household's monthly benefit (and a
/// household's price subsidy) is one payment a month to whoever heads the household now (the
/// head may be the one who died); a
/// person's monthly support is one per person and kind, whatever its reference (a top-up
/// belongs to the payment it tops up); an emergency stage is its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Household(InstructionKind),
    Monthly(Uuid, InstructionKind),
    Stage(Uuid),
}

fn key(kind: InstructionKind, beneficiary: Uuid, instruction_id: Uuid) -> Key {
    match kind {
        InstructionKind::DibaoMonthly | InstructionKind::PriceSubsidy => Key::Household(kind),
        InstructionKind::DestituteMonthly | InstructionKind::SinglePersonDibaoMonthly => {
            Key::Monthly(beneficiary, kind)
        }
        InstructionKind::EmergencyGrant => Key::Stage(instruction_id),
    }
}

/// The reference of the top-up that change `change_id` makes: one per change and payment.
pub fn top_up_reference(change_id: Uuid) -> String {
    format!("topped-up:{change_id}")
}

/// What one month's comparison found: the overpaid part of each instruction (the latest first,
/// none beyond what the instruction still holds), and the payments owed beyond what was
/// instructed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MonthSettled {
    pub over: Vec<(Uuid, i64)>,
    pub under: Vec<Payment>,
}

/// Compares a month's `made` instructions (with what is already being recovered of each, by
/// instruction id) with what is `owed` now. Pure: the tests below and [`open`] share it.
pub fn settle_month(
    made: &[Made],
    recovering: &HashMap<Uuid, i64>,
    owed: &[Payment],
    month: Month,
    change_id: Uuid,
) -> MonthSettled {
    let mut paid: HashMap<Key, Vec<(Uuid, i64)>> = HashMap::new();
    for m in made {
        let held = m
            .amount_fen
            .saturating_sub(recovering.get(&m.instruction_id).copied().unwrap_or(0))
            .max(0);
        paid.entry(key(m.kind, m.beneficiary_member_id, m.instruction_id))
            .or_default()
            .push((m.instruction_id, held));
    }
    let mut due: HashMap<Key, (i64, Vec<&Payment>)> = HashMap::new();
    for p in owed {
        let k = key(p.kind, p.beneficiary, p.instruction_id(month));
        let e = due.entry(k).or_default();
        e.0 = e.0.saturating_add(p.amount.0);
        e.1.push(p);
    }
    let mut out = MonthSettled::default();
    for (k, held) in &paid {
        let owed_now = due.get(k).map_or(0, |d| d.0);
        let total: i64 = held.iter().map(|h| h.1).sum();
        let mut over = total.saturating_sub(owed_now);
        // The latest instruction (a top-up after the first payment) gives back first.
        for (id, amount) in held.iter().rev() {
            if over <= 0 {
                break;
            }
            let part = over.min(*amount);
            if part > 0 {
                out.over.push((*id, part));
                over -= part;
            }
        }
    }
    for (k, (owed_now, pays)) in &due {
        if matches!(k, Key::Stage(_)) {
            // A stage is instructed by its grant or its month's run, never topped up.
            continue;
        }
        let Some(held) = paid.get(k) else {
            // A payment new to the month (a member become destitute, a household become dibao)
            // is instructed as it is, with the id its month's run would give it: made once.
            out.under.extend(pays.iter().map(|p| (*p).clone()));
            continue;
        };
        let total: i64 = held.iter().map(|h| h.1).sum();
        let short = owed_now.saturating_sub(total);
        if let (true, Some(p)) = (short > 0, pays.first()) {
            out.under.push(Payment {
                amount: policy::Fen(short),
                reference: top_up_reference(change_id),
                ..(*p).clone()
            });
        }
    }
    out.over.sort();
    out.under.sort_by_key(|p| p.instruction_id(month));
    out
}

/// After a stop or a re-determination of `household_id` from `from`: every month already
/// instructed from then on is compared with what is owed for it now ([`settle_month`]). The
/// overpaid part of an instruction becomes a recovery case (one per instruction and change)
/// with `payment.recovery.opened` in the outbox; a payment owed beyond what was instructed
/// becomes a top-up instruction for the difference (one per payment and change) with its
/// `payment.instruction.created`. Months not yet instructed are left to their run.
pub async fn open(
    state: &State,
    tx: &mut PgConnection,
    household_id: Uuid,
    from: Month,
    reason: &str,
    change_id: Uuid,
    cause: &ChainRef,
) -> anyhow::Result<Settled> {
    let made = store::instructions::made_since(tx, household_id, &from.to_string()).await?;
    let mut settled = Settled::default();
    if made.is_empty() {
        return Ok(settled);
    }
    let household = store::entitlements::household(tx, household_id).await?;
    let stops = stops_of(tx, &[household_id])
        .await?
        .remove(&household_id)
        .unwrap_or_default();
    let stages: Vec<Stage> = store::entitlements::stages_of(tx, household_id).await?;
    let recovering = store::recoveries::recovering(tx, household_id, &from.to_string()).await?;
    let mut by_month: Vec<(String, Vec<Made>)> = Vec::new();
    for m in made {
        match by_month.last_mut() {
            Some((month, v)) if *month == m.month => v.push(m),
            _ => by_month.push((m.month.clone(), vec![m])),
        }
    }
    let today = state.mesh.today();
    for (month_text, made) in by_month {
        let month = Month::parse(&month_text).map_err(|e| anyhow::anyhow!(e))?;
        let mut owed: Vec<Payment> = Vec::new();
        let mut due_day = None;
        if let Some(h) = &household {
            if let (Some(facts), Some(effective)) = (&h.facts, &h.effective_month) {
                let region = RegionCode::parse(&h.region_code).map_err(|e| anyhow::anyhow!(e))?;
                let p = state.policy.in_force(&region, month.first_day())?;
                due_day = Some(p.payment_due_day);
                let effective = Month::parse(effective).map_err(|e| anyhow::anyhow!(e))?;
                owed.extend(
                    entitlements::monthly(facts, &h.region_code, effective, month, &stops, p)
                        .map_err(|e| anyhow::anyhow!(e))?,
                );
                let rises = PriceRises(store::prices::of_month(tx, &month_text).await?);
                owed.extend(
                    entitlements::price_subsidy_due(
                        facts,
                        effective,
                        month,
                        &stops,
                        p,
                        rises.for_region(&h.region_code),
                    )
                    .map_err(|e| anyhow::anyhow!(e))?,
                );
            }
        }
        owed.extend(entitlements::stages_due(&stages, month, &stops));
        let s = settle_month(&made, &recovering, &owed, month, change_id);
        for (instruction_id, over) in s.over {
            let Some(m) = made.iter().find(|m| m.instruction_id == instruction_id) else {
                continue;
            };
            if recovery(state, tx, household_id, m, over, reason, change_id, cause).await? {
                settled.recoveries += 1;
            }
        }
        if let (Some(h), Some(due_day)) = (&household, due_day) {
            if !s.under.is_empty() && state.window().contains(month) {
                let due = policy::dates::pay_by(month, due_day, today);
                let h = store::entitlements::Household {
                    source_event_id: cause.causation_id.clone().unwrap_or_default(),
                    ..h.clone()
                };
                let owed: Vec<_> = s.under.into_iter().map(|p| (&h, p, due)).collect();
                let t = instructions::write(state, tx, month, &owed).await?;
                for (_, p, _) in &owed {
                    tracing::info!(%month, kind = %p.kind, amount_fen = p.amount.0, reason, "Top-up instructed.");
                }
                settled.top_ups += usize::try_from(t.created).unwrap_or(0);
            }
        }
    }
    if settled.recoveries > 0 {
        if let Some(h) = &household {
            crate::repayments::open_plan(
                state,
                tx,
                household_id,
                &h.region_code,
                change_id,
                reason,
            )
            .await?;
        }
    }
    Ok(settled)
}

/// Opens the case of `over` fen of instruction `m`, with its `payment.recovery.opened`;
/// `false` when change `change_id` opened it already.
#[allow(
    clippy::too_many_arguments,
    reason = "one case's fields, from its caller's loop"
)]
async fn recovery(
    state: &State,
    tx: &mut PgConnection,
    household_id: Uuid,
    m: &Made,
    over: i64,
    reason: &str,
    change_id: Uuid,
    cause: &ChainRef,
) -> anyhow::Result<bool> {
    let instruction_id = m.instruction_id;
    let recovery_id = Uuid::new_v5(
        &RUN_NAMESPACE,
        format!("{instruction_id}/recovery/{change_id}").as_bytes(),
    );
    let month = Month::parse(&m.month).map_err(|e| anyhow::anyhow!(e))?;
    let fresh = store::recoveries::insert(
        tx,
        &NewRecovery {
            recovery_id,
            instruction_id,
            household_id,
            beneficiary_member_id: m.beneficiary_member_id,
            month: &m.month,
            kind: m.kind,
            amount_fen: over,
            reason,
            change_id,
        },
        state.mesh.clock.now(),
    )
    .await?;
    if !fresh {
        return Ok(false);
    }
    tracing::info!(%instruction_id, month = %m.month, kind = %m.kind, amount_fen = over, reason, "Recovery case opened.");
    let e = state.mesh.envelope(
        cause,
        Some(recovery_id.to_string()),
        RecoveryOpened {
            recovery_id,
            instruction_id,
            beneficiary_member_id: m.beneficiary_member_id,
            month,
            kind: m.kind.as_str().to_owned(),
            amount_fen: over,
            reason: reason.to_owned(),
            change_id,
        },
    );
    mesh::outbox::enqueue_on(&mut *tx, &state.mesh.subjects, PAYMENT_RECOVERY_OPENED, &e).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entitlements::instruction_id;
    use policy::determination::Payee;
    use policy::Fen;

    const MONTH: &str = "2026-11";

    fn month() -> Month {
        Month::parse(MONTH).unwrap()
    }

    fn person(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn change() -> Uuid {
        Uuid::from_u128(0xc4a9)
    }

    fn owed(beneficiary: Uuid, kind: InstructionKind, fen: i64, reference: &str) -> Payment {
        Payment {
            beneficiary,
            kind,
            amount: Fen(fen),
            payee: Payee::Person,
            reference: reference.to_owned(),
            policy_version: "test-1".to_owned(),
        }
    }

    fn made(p: &Payment) -> Made {
        Made {
            instruction_id: p.instruction_id(month()),
            beneficiary_member_id: p.beneficiary,
            month: MONTH.to_owned(),
            kind: p.kind,
            amount_fen: p.amount.0,
        }
    }

    fn settle(made: &[Made], recovering: &[(Uuid, i64)], now: &[Payment]) -> MonthSettled {
        settle_month(
            made,
            &recovering.iter().copied().collect(),
            now,
            month(),
            change(),
        )
    }

    const DIBAO: InstructionKind = InstructionKind::DibaoMonthly;

    // 动态调整: a month already paid at the three-person amount and owed at the two-person one
    // after a member died: the difference is recovered from that month's instruction.
    #[test]
    fn a_lower_amount_for_a_month_already_instructed_opens_a_recovery_of_the_difference() {
        let before = owed(person(1), DIBAO, 240000, "");
        let s = settle(&[made(&before)], &[], &[owed(person(1), DIBAO, 160000, "")]);
        assert_eq!(s.over, [(before.instruction_id(month()), 80000)]);
        assert!(s.under.is_empty());
    }

    #[test]
    fn a_higher_amount_for_a_month_already_instructed_is_topped_up_once_per_change() {
        let before = owed(person(1), DIBAO, 160000, "");
        let s = settle(&[made(&before)], &[], &[owed(person(1), DIBAO, 240000, "")]);
        assert!(s.over.is_empty());
        assert_eq!(s.under.len(), 1);
        let top_up = &s.under[0];
        assert_eq!(top_up.amount, Fen(80000));
        assert_eq!(top_up.kind, DIBAO);
        assert_eq!(top_up.reference, format!("topped-up:{}", change()));
        assert_ne!(
            top_up.instruction_id(month()),
            before.instruction_id(month())
        );
        assert_eq!(
            top_up.instruction_id(month()),
            instruction_id(person(1), MONTH, DIBAO, &top_up_reference(change()))
        );
    }

    #[test]
    fn a_month_paid_and_topped_up_then_lowered_gives_back_from_the_top_up_first() {
        let base = owed(person(1), DIBAO, 100000, "");
        let top_up = owed(person(1), DIBAO, 50000, "topped-up:earlier");
        let s = settle(
            &[made(&base), made(&top_up)],
            &[],
            &[owed(person(1), DIBAO, 80000, "")],
        );
        let mut want = vec![
            (top_up.instruction_id(month()), 50000),
            (base.instruction_id(month()), 20000),
        ];
        want.sort();
        assert_eq!(s.over, want);
        assert!(s.under.is_empty());
    }

    #[test]
    fn what_an_earlier_case_recovers_is_not_recovered_again() {
        let base = owed(person(1), DIBAO, 150000, "");
        let id = base.instruction_id(month());
        let s = settle(
            &[made(&base)],
            &[(id, 50000)],
            &[owed(person(1), DIBAO, 80000, "")],
        );
        assert_eq!(s.over, [(id, 20000)]);
        // Lowered by 500 already, raised back to the full amount: the 500 is owed again.
        let s = settle(
            &[made(&base)],
            &[(id, 50000)],
            &[owed(person(1), DIBAO, 150000, "")],
        );
        assert!(s.over.is_empty());
        assert_eq!(s.under.len(), 1);
        assert_eq!(s.under[0].amount, Fen(50000));
    }

    // The head died: the household's one dibao payment now goes to another member. The month
    // already paid to the head is the household's: only the difference is recovered, nothing is
    // paid again to the new head.
    #[test]
    fn the_households_dibao_is_compared_whoever_heads_it_now() {
        let before = owed(person(1), DIBAO, 240000, "");
        let s = settle(&[made(&before)], &[], &[owed(person(2), DIBAO, 160000, "")]);
        assert_eq!(s.over, [(before.instruction_id(month()), 80000)]);
        assert!(s.under.is_empty());
    }

    #[test]
    fn a_payment_new_to_the_month_is_instructed_with_the_id_its_run_would_give_it() {
        let dibao = owed(person(1), DIBAO, 160000, "");
        let support = owed(person(2), InstructionKind::DestituteMonthly, 190000, "");
        let s = settle(&[made(&dibao)], &[], &[dibao.clone(), support.clone()]);
        assert!(s.over.is_empty());
        assert_eq!(s.under, [support]);
    }

    #[test]
    fn an_emergency_stage_is_never_topped_up_and_a_stage_no_longer_owed_is_recovered() {
        let stage = owed(
            person(3),
            InstructionKind::EmergencyGrant,
            300000,
            "e/stage-1",
        );
        let s = settle(&[], &[], std::slice::from_ref(&stage));
        assert!(s.under.is_empty());
        let s = settle(&[made(&stage)], &[], &[]);
        assert_eq!(s.over, [(stage.instruction_id(month()), 300000)]);
    }
}
