//! Payment's consumer: a determination in, the first monthly payment instruction out.

use crate::app::State;
use crate::store;
use contract::{HouseholdDetermined, InstructionCreated};
use mesh::consumer::Outcome;
use mesh::subjects::PAYMENT_INSTRUCTION_CREATED;
use mesh::{ChainRef, Delivery, HandlerError};
use policy::{Month, RegionCode, Tier};
use uuid::Uuid;

/// Namespace of instruction ids: v5 of "beneficiary/month/kind".
const INSTRUCTION_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b1e_51b4_4c71_9a0e_3d5e_8a1f_0c42);

pub fn instruction_id(beneficiary: Uuid, month: &str, kind: &str) -> Uuid {
    Uuid::new_v5(
        &INSTRUCTION_NAMESPACE,
        format!("{beneficiary}/{month}/{kind}").as_bytes(),
    )
}

/// `eligibility.household.determined` → `payment.instruction.created`.
pub async fn on_determined(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<HouseholdDetermined>()?;
    let det = &e.data;
    let kind = match det.tier {
        Tier::Dibao => "dibao_monthly",
        Tier::Destitute => "destitute_monthly",
        Tier::Marginal | Tier::None => {
            return Ok(Outcome::Applied);
        }
    };
    if det.monthly_amount_fen <= 0 {
        return Ok(Outcome::Applied);
    }
    // The household head receives the household's benefit; else the first member listed.
    let beneficiary = det
        .members
        .iter()
        .find(|m| m.relation == "head")
        .or_else(|| det.members.first())
        .ok_or_else(|| HandlerError::Poison("a determination without members".into()))?;
    let month =
        Month::parse(&det.effective_month).map_err(|e| HandlerError::Poison(e.to_string()))?;
    let region =
        RegionCode::parse(&det.region_code).map_err(|e| HandlerError::Poison(e.to_string()))?;
    let params = state
        .policy
        .in_force(&region, month.first_day())
        .map_err(|e| HandlerError::Poison(e.to_string()))?;
    let today = chrono::Utc::now().date_naive();
    let due_date = month.day(params.payment_due_day).max(today);

    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let created = InstructionCreated {
        instruction_id: instruction_id(beneficiary.member_id, &det.effective_month, kind),
        beneficiary_member_id: beneficiary.member_id,
        month: det.effective_month.clone(),
        kind: kind.to_owned(),
        amount_fen: det.monthly_amount_fen,
        due_date,
        policy_version: det.policy_version.clone(),
    };
    if store::insert_instruction(&mut tx, &e, &created).await? {
        let out = state.mesh.envelope(
            &ChainRef::answering(&e),
            Some(created.instruction_id.to_string()),
            created,
        );
        mesh::outbox::enqueue(
            &mut tx,
            &state.mesh.subjects.of(PAYMENT_INSTRUCTION_CREATED),
            &out,
        )
        .await?;
        tracing::info!(amount_fen = out.data.amount_fen, month = %out.data.month, "Payment instruction recorded.");
    } else {
        tracing::info!("An instruction for this beneficiary, month and kind exists; none added.");
    }
    tx.commit().await?;
    Ok(Outcome::Applied)
}
