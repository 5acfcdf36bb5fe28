//! The one referral push: `referral.<dept>.push` through the outbox and a row of `referrals`,
//! whatever raised it.

use crate::domain::referrals::{self, Recipient, Referral};
use crate::state::State;
use crate::store;
use chrono::NaiveDate;
use contract::channels::REFERRAL_PUSH;
use mesh::{Actor, ChainRef};
use sqlx::PgConnection;
use uuid::Uuid;

/// Pushes `r` for `to` in the caller's transaction, with the person's running grants (any
/// department, any household) as `prior_assistance`; returns the referral id.
/// `causation_id` is the event that raised it, when an event did; `by` the person whose request
/// raised it (an officer's disposition, a feed file posted), when a person's did.
#[allow(clippy::too_many_arguments)]
pub async fn push(
    state: &State,
    tx: &mut PgConnection,
    to: &Recipient,
    r: &Referral<'_>,
    causation_id: Option<&str>,
    by: Option<&Actor>,
    feedback_due: NaiveDate,
    today: NaiveDate,
) -> anyhow::Result<Uuid> {
    let prior = prior_assistance(tx, &to.id_number, today).await?;
    let push = referrals::build(to, r, feedback_due, prior);
    let referral_id = push.referral_id;
    let chain = ChainRef {
        household_id: to.household_id,
        chain_id: to.chain_id,
        causation_id: causation_id.map(str::to_owned),
    };
    let mut out = state
        .mesh
        .envelope(&chain, Some(referral_id.to_string()), push);
    if let Some(actor) = by {
        out = out.by(actor.clone());
    }
    store::referrals::insert_referral(tx, &out, r.cause.warning_id()).await?;
    mesh::outbox::enqueue_to(
        tx,
        &state.mesh.subjects,
        REFERRAL_PUSH,
        r.department.as_str(),
        &out,
    )
    .await?;
    Ok(referral_id)
}

/// What the person already has from any department, still running on `today`, so a department
/// can refuse a duplicate.
pub async fn prior_assistance(
    tx: &mut PgConnection,
    id_number: &str,
    today: NaiveDate,
) -> sqlx::Result<Vec<contract::PriorAssistance>> {
    let grants = store::referrals::grants_of_person(tx, id_number).await?;
    Ok(crate::domain::warnings::running(grants, today))
}
