//! Beneficiaries' accounts (`accounts`, `account_history`, `account_changes`): a person's "one
//! card" account or a care institution's collective account, under maker-checker.
//!
//! - A township officer proposes a change ([`propose`]): it is recorded as *pending* and pays
//!   nothing. A newer proposal supersedes a pending one.
//! - Another officer (a township officer or a county officer of the member's area, another
//!   token subject than the maker: the maker is refused) confirms it ([`confirm`]): only then is
//!   it the account in force, a new version kept in the history, and only then are the member's
//!   open corrections paid again ([`crate::corrections`]).
//! - Until then runs and files go on paying the account confirmed before, which two officers
//!   stand behind; a member with no confirmed account is held (blocked in every file, "no
//!   account"), as a member without an account always was. A change nobody confirmed never
//!   reaches the bank.
//! - A confirmation is held to the risk rules over accounts ([`crate::risk`]) in its own
//!   transaction.
//! - Both steps and every read are in the audit trail. Account numbers and names never reach
//!   logs and are shown masked: [`mask`].

use crate::corrections;
use crate::domain::Repaid;
use crate::state::State;
use crate::store;
use crate::store::accounts::{AccountRow, HistoryRow, MemberArea, NewAccount, PendingRow};
use mesh::audit::{self, Entry};
use mesh::auth::Acting;
use mesh::http::ApiError;
use uuid::Uuid;

/// The answer for a member payment does not know and for one outside the caller's areas alike.
pub fn unknown_member() -> ApiError {
    ApiError::NotFound("no beneficiary known to payment".into())
}

fn entry(action: &str, member_id: Uuid, area: &MemberArea) -> Entry {
    let e = Entry::new(action, "account", member_id).person(member_id);
    match area.household_id {
        Some(h) => e.household(h),
        None => e,
    }
}

/// A proposal recorded: the change, and the one it superseded.
#[derive(Debug)]
pub struct Proposed {
    pub change_id: Uuid,
    pub superseded: Option<Uuid>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Records the change as pending (in force only once another officer confirms it), audited.
pub async fn propose(
    state: &State,
    acting: &Acting,
    member_id: Uuid,
    a: &NewAccount<'_>,
    purpose: &axum::http::HeaderMap,
) -> Result<Proposed, ApiError> {
    acting.require_area("region_code", a.region_code)?;
    let actor = acting.actor();
    let mut tx = state.mesh.db.begin().await?;
    store::accounts::lock_member(&mut tx, member_id).await?;
    let area = store::accounts::member_in_area(&mut tx, member_id, &acting.region_patterns())
        .await?
        .ok_or_else(unknown_member)?;
    let change_id = Uuid::new_v4();
    let at = state.mesh.clock.now();
    let superseded = store::accounts::propose(&mut tx, change_id, member_id, a, &actor, at).await?;
    audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        entry("account.change.propose", member_id, &area)
            .purpose_from(purpose)
            .detail(serde_json::json!({
                "change_id": change_id,
                "supersedes": superseded,
                "holder_kind": a.holder_kind.as_str(),
            })),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(%change_id, account = %vault::mask::account(a.account_number, vault::mask::Style::Log), "Account change proposed; it waits for another officer.");
    Ok(Proposed {
        change_id,
        superseded,
        at,
    })
}

/// A change put in force.
#[derive(Debug)]
pub struct Confirmed {
    pub version: i32,
    pub change: PendingRow,
    pub repaid: Vec<Repaid>,
}

/// Puts the member's pending change `change_id` in force, by another officer than its maker,
/// and resolves the member's open corrections with new instructions; audited.
pub async fn confirm(
    state: &State,
    acting: &Acting,
    member_id: Uuid,
    change_id: Uuid,
    purpose: &axum::http::HeaderMap,
) -> Result<Confirmed, ApiError> {
    let actor = acting.actor();
    let mut tx = state.mesh.db.begin().await?;
    store::accounts::lock_member(&mut tx, member_id).await?;
    let area = store::accounts::member_in_area(&mut tx, member_id, &acting.region_patterns())
        .await?
        .ok_or_else(unknown_member)?;
    let change = store::accounts::pending(&mut tx, member_id)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict(
                "no account change of the beneficiary waits for confirmation".to_owned(),
            )
        })?;
    if change.change_id != change_id {
        return Err(ApiError::Conflict(format!(
            "the change waiting for confirmation is {}, not {change_id}: a later proposal replaced it; check that one",
            change.change_id
        )));
    }
    if change.proposed_by_sub == actor.sub {
        return Err(ApiError::Forbidden(
            "maker-checker: the officer who proposed an account change cannot confirm it; another officer must"
                .into(),
        ));
    }
    acting.require_area("region_code", &change.region_code)?;
    let at = state.mesh.clock.now();
    let version = store::accounts::confirm(&mut tx, member_id, &change, &actor, at).await?;
    let repaid = corrections::resolve(state, &mut tx, member_id, acting).await?;
    let risks = crate::risk::after_confirmation(state, &mut tx, member_id, &change)
        .await
        .map_err(ApiError::Internal)?;
    audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        entry("account.change.confirm", member_id, &area)
            .purpose_from(purpose)
            .detail(serde_json::json!({
                "change_id": change_id,
                "version": version,
                "proposed_by": change.proposed_by_sub,
                "repaid": repaid.len(),
                "risk_rules_tripped": risks.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            })),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        version,
        %change_id,
        account = %vault::mask::account(&change.account_number, vault::mask::Style::Log),
        repaid = repaid.len(),
        "Account change confirmed; the account is in force."
    );
    Ok(Confirmed {
        version,
        change,
        repaid,
    })
}

/// What is on record of a member's account, unmasked (the caller masks).
pub struct Shown {
    pub account: Option<AccountRow>,
    pub pending: Option<PendingRow>,
    pub history: Vec<HistoryRow>,
}

/// The member's account in force, its pending change and its history, for a caller whose areas
/// hold the member; the read is audited before anything is returned.
pub async fn show(
    state: &State,
    acting: &Acting,
    member_id: Uuid,
    purpose: &axum::http::HeaderMap,
) -> Result<Shown, ApiError> {
    let mut conn = state.mesh.db.acquire().await?;
    let area = store::accounts::member_in_area(&mut conn, member_id, &acting.region_patterns())
        .await?
        .ok_or_else(unknown_member)?;
    let account = store::accounts::get(&mut conn, member_id).await?;
    let pending = store::accounts::pending(&mut conn, member_id).await?;
    if account.is_none() && pending.is_none() {
        return Err(unknown_member());
    }
    let history = store::accounts::history(&mut conn, member_id).await?;
    drop(conn);
    audit::record(
        &state.mesh,
        &acting.actor(),
        entry("account.read", member_id, &area)
            .purpose_from(purpose)
            .detail(serde_json::json!({"masked": true})),
    )
    .await?;
    Ok(Shown {
        account,
        pending,
        history,
    })
}
