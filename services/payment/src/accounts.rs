//! Beneficiaries' accounts (`accounts`, `account_history`): a person's "one card" account or a
//! care institution's collective account, set and corrected by the township, every version
//! kept. Setting an account resolves the member's open corrections ([`crate::corrections`]).
//! Account numbers and names never reach logs: [`mask`].

use crate::corrections;
use crate::domain::{mask, Repaid};
use crate::state::State;
use crate::store;
use crate::store::accounts::{AccountRow, HistoryRow, NewAccount};
use mesh::http::ApiError;
use uuid::Uuid;

/// Sets or corrects the account (a new version, kept in the history) and resolves the member's
/// open corrections with new instructions. Returns the version and the corrections resolved.
pub async fn set(
    state: &State,
    member_id: Uuid,
    a: &NewAccount<'_>,
) -> Result<(i32, Vec<Repaid>), ApiError> {
    let mut tx = state.mesh.db.begin().await?;
    let version = store::accounts::set(&mut tx, member_id, a, state.mesh.clock.now()).await?;
    let repaid = corrections::resolve(state, &mut tx, member_id, a.officer).await?;
    tx.commit().await?;
    tracing::info!(
        version,
        account = %mask(a.account_number),
        repaid = repaid.len(),
        "Account set."
    );
    Ok((version, repaid))
}

/// The member's account and its history, unmasked (the caller masks).
pub async fn get(
    state: &State,
    member_id: Uuid,
) -> sqlx::Result<Option<(AccountRow, Vec<HistoryRow>)>> {
    let Some(account) = store::accounts::get(&state.mesh.db, member_id).await? else {
        return Ok(None);
    };
    let history = store::accounts::history(&state.mesh.db, member_id).await?;
    Ok(Some((account, history)))
}
