//! Overpayment recovery cases (`recoveries`): after a stop, what was already instructed for the
//! months it covers is compared with what is still owed; the overpaid part of each instruction
//! becomes a case, with `payment.recovery.opened`. The money coming back is posted to the
//! ledger ([`crate::ledger::post_recovery`]).

use crate::domain::{InstructionKind, RUN_NAMESPACE};
use crate::entitlements::{self, Stage};
use crate::instructions::stops_of;
use crate::state::State;
use crate::store;
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

/// The key of a household's dibao of a month among what is owed.
fn household_dibao(household_id: Uuid) -> Uuid {
    Uuid::new_v5(&RUN_NAMESPACE, format!("{household_id}/dibao").as_bytes())
}

/// After a stop for `household_id` from `from`: every instruction already made for that month or
/// later is compared with what is still owed for its month; the overpaid part of each becomes a
/// recovery case (one per instruction) with `payment.recovery.opened` in the outbox. A dibao
/// household's monthly payment is compared with what the household is still owed that month,
/// whoever it now goes to (the head may be the one who died); the rest is owed for later months
/// by the run as usual. A month already instructed is not topped up to a new beneficiary: its
/// instruction stands, less the recovery.
pub async fn open(
    state: &State,
    tx: &mut PgConnection,
    household_id: Uuid,
    from: Month,
    reason: &str,
    change_id: Uuid,
    cause: &ChainRef,
) -> anyhow::Result<usize> {
    let made = store::instructions::made_since(tx, household_id, &from.to_string()).await?;
    if made.is_empty() {
        return Ok(0);
    }
    let household = store::entitlements::household(tx, household_id).await?;
    let stops = stops_of(tx, &[household_id])
        .await?
        .remove(&household_id)
        .unwrap_or_default();
    let stages: Vec<Stage> = store::entitlements::stages_of(tx, household_id).await?;
    // What is still owed per month: by instruction id, and the household's dibao (one payment
    // a month, to whoever heads the household now) by kind.
    let mut owed_by_month: HashMap<String, HashMap<Uuid, i64>> = HashMap::new();
    let mut opened = 0;
    for m in made {
        let month_text = m.month;
        let month = Month::parse(&month_text).map_err(|e| anyhow::anyhow!(e))?;
        if !owed_by_month.contains_key(&month_text) {
            let mut owed: HashMap<Uuid, i64> = HashMap::new();
            if let Some(h) = &household {
                if let (Some(facts), Some(effective)) = (&h.facts, &h.effective_month) {
                    let region =
                        RegionCode::parse(&h.region_code).map_err(|e| anyhow::anyhow!(e))?;
                    let p = state.policy.in_force(&region, month.first_day())?;
                    let effective = Month::parse(effective).map_err(|e| anyhow::anyhow!(e))?;
                    for pay in
                        entitlements::monthly(facts, &h.region_code, effective, month, &stops, p)
                            .map_err(|e| anyhow::anyhow!(e))?
                    {
                        owed.insert(pay.instruction_id(month), pay.amount.0);
                        if pay.kind == InstructionKind::DibaoMonthly {
                            owed.insert(household_dibao(household_id), pay.amount.0);
                        }
                    }
                }
            }
            for pay in entitlements::stages_due(&stages, month, &stops) {
                owed.insert(pay.instruction_id(month), pay.amount.0);
            }
            owed_by_month.insert(month_text.clone(), owed);
        }
        let owed = &owed_by_month[&month_text];
        let still = if m.kind == InstructionKind::DibaoMonthly {
            owed.get(&household_dibao(household_id))
        } else {
            owed.get(&m.instruction_id)
        }
        .copied()
        .unwrap_or(0);
        // Both are amounts of one payment (bounded, not negative): no overflow either way.
        let over = m.amount_fen.saturating_sub(still);
        if over <= 0 {
            continue;
        }
        let instruction_id = m.instruction_id;
        let recovery_id = Uuid::new_v5(&RUN_NAMESPACE, instruction_id.as_bytes());
        let fresh = store::recoveries::insert(
            tx,
            &NewRecovery {
                recovery_id,
                instruction_id,
                household_id,
                beneficiary_member_id: m.beneficiary_member_id,
                month: &month_text,
                kind: m.kind,
                amount_fen: over,
                reason,
                change_id,
            },
            state.mesh.clock.now(),
        )
        .await?;
        if !fresh {
            continue;
        }
        opened += 1;
        tracing::info!(%instruction_id, month = %month_text, kind = %m.kind, amount_fen = over, reason, "Recovery case opened.");
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
        mesh::outbox::enqueue_on(&mut *tx, &state.mesh.subjects, PAYMENT_RECOVERY_OPENED, &e)
            .await?;
    }
    Ok(opened)
}
