//! Corrections of rejected or returned payments (`corrections`): when a corrected account of the
//! member is confirmed (maker-checker, [`crate::accounts`]), a NEW instruction pays it again
//! (reference = the original id) and the correction is closed; the original stays rejected or
//! returned and never pays again.

use crate::domain::Repaid;
use crate::entitlements::instruction_id;
use crate::state::State;
use crate::store;
use crate::store::corrections::Correction;
use contract::channels::PAYMENT_INSTRUCTION_CREATED;
use contract::InstructionCreated;
use mesh::auth::Acting;
use mesh::ChainRef;
use policy::Month;
use sqlx::PgConnection;
use uuid::Uuid;

/// Each open correction of the member → a new instruction for the same payment, referencing the
/// original, due no earlier than today; the correction is closed, by the officer who confirmed
/// the corrected account (`acting`), whom the new instructions' events name.
pub async fn resolve(
    state: &State,
    tx: &mut PgConnection,
    member_id: Uuid,
    acting: &Acting,
) -> anyhow::Result<Vec<Repaid>> {
    let actor = acting.actor();
    let open = store::corrections::lock_open_of(tx, member_id).await?;
    let mut repaid = Vec::new();
    let today = state.mesh.today();
    for r in open {
        let original = r.instruction_id;
        let reference = original.to_string();
        let created = InstructionCreated {
            instruction_id: instruction_id(member_id, &r.month, r.kind, &reference),
            beneficiary_member_id: member_id,
            month: Month::parse(&r.month)
                .map_err(|e| anyhow::anyhow!("stored month {:?}: {e}", r.month))?,
            kind: r.kind.as_str().to_owned(),
            amount_fen: r.amount_fen,
            due_date: r.due_date.max(today),
            policy_version: r.policy_version,
            payee: r.payee.into(),
            reference,
        };
        let source = format!("correction:{original}");
        let at = state.mesh.clock.now();
        if store::insert_instruction(tx, &r.household_id, &r.chain_id, &source, &created, at)
            .await?
        {
            let chain = ChainRef {
                household_id: r.household_id,
                chain_id: r.chain_id,
                causation_id: None,
            };
            let out = state
                .mesh
                .envelope(
                    &chain,
                    Some(created.instruction_id.to_string()),
                    created.clone(),
                )
                .by(actor.clone());
            mesh::outbox::enqueue_on(
                &mut *tx,
                &state.mesh.subjects,
                PAYMENT_INSTRUCTION_CREATED,
                &out,
            )
            .await?;
        }
        store::corrections::resolve(tx, original, &actor, created.instruction_id, at).await?;
        repaid.push(Repaid {
            instruction_id: original,
            new_instruction_id: created.instruction_id,
        });
    }
    Ok(repaid)
}

/// The open corrections (or all of them) of the households in the caller's areas.
pub async fn list(state: &State, acting: &Acting, all: bool) -> sqlx::Result<Vec<Correction>> {
    store::corrections::list(&state.mesh.db, all, &acting.region_patterns()).await
}
