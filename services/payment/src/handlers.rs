//! Payment's consumer: a determination in, the first monthly payment instruction out.

use crate::app::State;
use crate::store;
use contract::{DeterminedMember, EmergencyGranted, HouseholdDetermined, InstructionCreated};
use mesh::consumer::Outcome;
use mesh::subjects::PAYMENT_INSTRUCTION_CREATED;
use mesh::{ChainRef, Delivery, HandlerError};
use policy::{Month, RegionCode, Tier};
use uuid::Uuid;

/// Namespace of instruction ids: v5 of "beneficiary/month/kind".
const INSTRUCTION_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b1e_51b4_4c71_9a0e_3d5e_8a1f_0c42);

pub fn instruction_id(beneficiary: Uuid, month: &str, kind: &str, reference: &str) -> Uuid {
    let name = if reference.is_empty() {
        format!("{beneficiary}/{month}/{kind}")
    } else {
        format!("{beneficiary}/{month}/{kind}/{reference}")
    };
    Uuid::new_v5(&INSTRUCTION_NAMESPACE, name.as_bytes())
}

/// Who is paid what, by kind, for a determination: the household head for a dibao household;
/// each destitute person (or their care institution); each single-person dibao member.
pub fn payments(
    det: &HouseholdDetermined,
) -> Result<Vec<(&DeterminedMember, &'static str, i64)>, String> {
    let individual = |kind: &'static str, tier: Tier| {
        det.members
            .iter()
            .filter(|m| m.tiers.contains(&tier) && m.individual_benefit_fen > 0)
            .map(|m| (m, kind, m.individual_benefit_fen))
            .collect::<Vec<_>>()
    };
    Ok(match det.tier {
        Tier::Dibao if det.monthly_amount_fen > 0 => {
            let head = det
                .members
                .iter()
                .find(|m| m.relation == "head")
                .or_else(|| det.members.first())
                .ok_or("a determination without members")?;
            vec![(head, "dibao_monthly", det.monthly_amount_fen)]
        }
        Tier::Destitute => individual("destitute_monthly", Tier::Destitute),
        Tier::SinglePersonDibao => {
            individual("single_person_dibao_monthly", Tier::SinglePersonDibao)
        }
        Tier::Dibao | Tier::RigidExpenditure | Tier::Marginal | Tier::None => Vec::new(),
    })
}

/// `eligibility.household.determined` → one `payment.instruction.created` per beneficiary.
pub async fn on_determined(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<HouseholdDetermined>()?;
    let det = &e.data;
    let pay = payments(det).map_err(HandlerError::Poison)?;
    if pay.is_empty() {
        return Ok(Outcome::Applied);
    }
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
    for (beneficiary, kind, amount_fen) in pay {
        let created = InstructionCreated {
            instruction_id: instruction_id(beneficiary.member_id, &det.effective_month, kind, ""),
            beneficiary_member_id: beneficiary.member_id,
            month: det.effective_month.clone(),
            kind: kind.to_owned(),
            amount_fen,
            due_date,
            policy_version: det.policy_version.clone(),
            payee: beneficiary.payee,
            reference: String::new(),
        };
        if store::insert_instruction(&mut tx, &e.household_id, &e.chain_id, &e.id, &created).await?
        {
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
            tracing::info!(amount_fen, kind, month = %det.effective_month, "Payment instruction recorded.");
        } else {
            tracing::info!(
                kind,
                "An instruction for this beneficiary, month and kind exists; none added."
            );
        }
    }
    tx.commit().await?;
    Ok(Outcome::Applied)
}

/// `eligibility.emergency.granted` → one `payment.instruction.created` per stage, due on the
/// stage's date (the first, for an act-first grant, at once).
pub async fn on_emergency(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<EmergencyGranted>()?;
    let g = &e.data;
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    for stage in &g.stages {
        let month = Month::of(stage.pay_on).to_string();
        let reference = format!("{}/stage-{}", g.emergency_id, stage.stage);
        let created = InstructionCreated {
            instruction_id: instruction_id(g.member_id, &month, EMERGENCY_KIND, &reference),
            beneficiary_member_id: g.member_id,
            month,
            kind: EMERGENCY_KIND.to_owned(),
            amount_fen: stage.amount_fen,
            due_date: stage.pay_on,
            policy_version: g.policy_version.clone(),
            payee: policy::determination::Payee::Person,
            reference,
        };
        if store::insert_instruction(&mut tx, &e.household_id, &e.chain_id, &e.id, &created).await?
        {
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
        }
    }
    tx.commit().await?;
    tracing::info!(
        stages = g.stages.len(),
        act_first = g.act_first,
        "Emergency grant instructed."
    );
    Ok(Outcome::Applied)
}

const EMERGENCY_KIND: &str = "emergency_grant";
