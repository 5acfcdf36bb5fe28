//! `PUT /v1/accounts/{member_id}` (a township officer proposes an account change),
//! `POST /v1/accounts/{member_id}/confirm` (another officer puts it in force),
//! `GET /v1/accounts/{member_id}`: beneficiaries' accounts, shown masked.

use crate::accounts;
use crate::domain::{mask, PayeeKind, Repaid};
use crate::state::State;
use crate::store::accounts::{actor_of, NewAccount, PendingRow};
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use mesh::auth::{Acting, Actor};
use mesh::http::Path;
use mesh::http::{ApiError, FieldError, JsonBody};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A proposed account. The officer is the token's: a body naming one is refused (422).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    pub holder_name: String,
    pub account_number: String,
    /// 12-digit CNAPS code of the account's bank branch.
    pub bank_code: String,
    /// The township's administrative code (its first 6 digits: the district that pays); within
    /// the token's areas.
    pub region_code: String,
    /// `person` (a "one card" account) or `care_institution` (a collective account).
    #[serde(default = "person")]
    pub holder_kind: String,
    #[serde(default)]
    pub reason: String,
}

fn person() -> String {
    PayeeKind::Person.as_str().into()
}

impl AccountInput {
    /// Everything wrong with the account at once; the account to propose when nothing is.
    pub fn validate(&self) -> Result<NewAccount<'_>, ApiError> {
        let mut errors = Vec::new();
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if self.holder_name.trim().is_empty() || self.holder_name.chars().count() > 140 {
            errors.push(FieldError::new("holder_name", "1 to 140 characters"));
        }
        if !digits(&self.account_number) || !(8..=32).contains(&self.account_number.len()) {
            errors.push(FieldError::new(
                "account_number",
                "8 to 32 digits (no IBAN)",
            ));
        }
        if !digits(&self.bank_code) || self.bank_code.len() != 12 {
            errors.push(FieldError::new("bank_code", "the 12-digit CNAPS code"));
        }
        if !digits(&self.region_code) || !(6..=12).contains(&self.region_code.len()) {
            errors.push(FieldError::new(
                "region_code",
                "6 to 12 digits: the township's code",
            ));
        }
        let holder_kind = PayeeKind::parse(&self.holder_kind);
        if holder_kind.is_none() {
            errors.push(FieldError::new("holder_kind", "person or care_institution"));
        }
        if self.reason.chars().count() > 500 {
            errors.push(FieldError::new("reason", "at most 500 characters"));
        }
        let (Some(holder_kind), true) = (holder_kind, errors.is_empty()) else {
            return Err(ApiError::Validation(errors));
        };
        Ok(NewAccount {
            holder_name: self.holder_name.trim(),
            account_number: &self.account_number,
            bank_code: &self.bank_code,
            region_code: &self.region_code,
            holder_kind,
            reason: &self.reason,
        })
    }
}

/// A change waiting for a second officer, masked.
#[derive(Debug, Serialize)]
pub struct PendingChange {
    pub change_id: Uuid,
    pub status: &'static str,
    pub holder_name: String,
    pub account_number: String,
    pub bank_code: String,
    pub region_code: String,
    pub holder_kind: PayeeKind,
    pub reason: String,
    pub proposed_by: Actor,
    pub proposed_at: DateTime<Utc>,
}

impl From<&PendingRow> for PendingChange {
    fn from(p: &PendingRow) -> Self {
        PendingChange {
            change_id: p.change_id,
            status: "pending",
            holder_name: mask(&p.holder_name),
            account_number: mask(&p.account_number),
            bank_code: p.bank_code.clone(),
            region_code: p.region_code.clone(),
            holder_kind: p.holder_kind,
            reason: p.reason.clone(),
            proposed_by: p.proposed_by(),
            proposed_at: p.proposed_at,
        }
    }
}

/// An account as shown: masked. The fields of the account in force are absent while the
/// member has none confirmed (only a `pending` change).
#[derive(Debug, Serialize)]
pub struct AccountView {
    pub member_id: Uuid,
    pub holder_name: Option<String>,
    pub account_number: Option<String>,
    pub bank_code: Option<String>,
    pub region_code: Option<String>,
    pub holder_kind: Option<PayeeKind>,
    pub version: Option<i32>,
    /// The name of the officer who proposed the account in force.
    pub updated_by: Option<String>,
    /// The officers who proposed (maker) and confirmed (checker) it; absent for an account set
    /// before sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_by: Option<Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<Actor>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The change waiting for a second officer: it pays nothing until confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingChange>,
    pub history: Vec<AccountVersion>,
}

#[derive(Debug, Serialize)]
pub struct AccountVersion {
    pub version: i32,
    pub account_number: String,
    pub bank_code: String,
    /// The maker's name.
    pub officer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_by: Option<Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<Actor>,
    pub reason: String,
    pub changed_at: DateTime<Utc>,
}

/// The answer to a proposal: pending, not yet paying.
#[derive(Debug, Serialize)]
pub struct AccountProposed {
    pub member_id: Uuid,
    pub change_id: Uuid,
    pub status: &'static str,
    pub account_number: String,
    pub proposed_by: Actor,
    pub proposed_at: DateTime<Utc>,
    /// The pending change this one replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<Uuid>,
}

/// `POST /v1/accounts/{member_id}/confirm`: which change the checker confirms (the one they
/// checked: a later proposal is not confirmed in its place).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmInput {
    pub change_id: Uuid,
}

/// The answer to a confirmation: the account's new version in force, masked, and the
/// corrections it resolved.
#[derive(Debug, Serialize)]
pub struct AccountSet {
    pub member_id: Uuid,
    pub change_id: Uuid,
    pub status: &'static str,
    pub version: i32,
    pub account_number: String,
    pub proposed_by: Actor,
    pub confirmed_by: Actor,
    /// Corrections this account resolved: the rejected or returned instruction and the new one
    /// that pays it again.
    pub repaid: Vec<Repaid>,
}

/// Records the proposed account as pending: 202; it is in force once another officer
/// confirms it.
pub(super) async fn put(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(member_id): Path<Uuid>,
    JsonBody(a): JsonBody<AccountInput>,
) -> Result<(StatusCode, Json<AccountProposed>), ApiError> {
    let account = a.validate()?;
    let p = accounts::propose(&state, &acting, member_id, &account, &headers).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(AccountProposed {
            member_id,
            change_id: p.change_id,
            status: "pending",
            account_number: mask(account.account_number),
            proposed_by: acting.actor(),
            proposed_at: p.at,
            supersedes: p.superseded,
        }),
    ))
}

/// Puts the pending change in force (another officer than its maker).
pub(super) async fn confirm(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(member_id): Path<Uuid>,
    JsonBody(c): JsonBody<ConfirmInput>,
) -> Result<Json<AccountSet>, ApiError> {
    let done = accounts::confirm(&state, &acting, member_id, c.change_id, &headers).await?;
    Ok(Json(AccountSet {
        member_id,
        change_id: done.change.change_id,
        status: "confirmed",
        version: done.version,
        account_number: mask(&done.change.account_number),
        proposed_by: done.change.proposed_by(),
        confirmed_by: acting.actor(),
        repaid: done.repaid,
    }))
}

pub(super) async fn show(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(member_id): Path<Uuid>,
) -> Result<Json<AccountView>, ApiError> {
    let shown = accounts::show(&state, &acting, member_id, &headers).await?;
    let pending = shown.pending.as_ref().map(PendingChange::from);
    let history = shown
        .history
        .into_iter()
        .map(|h| AccountVersion {
            version: h.version,
            account_number: mask(&h.account_number),
            bank_code: h.bank_code,
            proposed_by: actor_of(h.officer_sub, Some(h.officer.clone()), h.officer_role),
            confirmed_by: actor_of(h.confirmed_by_sub, h.confirmed_by_name, h.confirmed_by_role),
            officer: h.officer,
            reason: h.reason,
            changed_at: h.changed_at,
        })
        .collect();
    let view = match shown.account {
        Some(r) => AccountView {
            member_id,
            holder_name: Some(mask(&r.holder_name)),
            account_number: Some(mask(&r.account_number)),
            bank_code: Some(r.bank_code),
            region_code: Some(r.region_code),
            holder_kind: Some(r.holder_kind),
            version: Some(r.version),
            proposed_by: actor_of(
                r.updated_by_sub,
                Some(r.updated_by.clone()),
                r.updated_by_role,
            ),
            confirmed_by: actor_of(r.confirmed_by_sub, r.confirmed_by_name, r.confirmed_by_role),
            updated_by: Some(r.updated_by),
            updated_at: Some(r.updated_at),
            pending,
            history,
        },
        None => AccountView {
            member_id,
            holder_name: None,
            account_number: None,
            bank_code: None,
            region_code: None,
            holder_kind: None,
            version: None,
            updated_by: None,
            proposed_by: None,
            confirmed_by: None,
            updated_at: None,
            pending,
            history,
        },
    };
    Ok(Json(view))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: serde_json::Value) -> AccountInput {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn every_wrong_field_is_named_and_the_officer_is_not_a_field() {
        let bad = input(serde_json::json!({
            "holder_name": "", "account_number": "CN12", "bank_code": "1", "region_code": "41",
            "holder_kind": "company", "reason": "x".repeat(501),
        }));
        let Err(ApiError::Validation(fields)) = bad.validate() else {
            panic!("refused");
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            names,
            [
                "holder_name",
                "account_number",
                "bank_code",
                "region_code",
                "holder_kind",
                "reason"
            ]
        );
        assert!(
            serde_json::from_value::<AccountInput>(serde_json::json!({
                "holder_name": "Zhang Wei", "account_number": "6222000000000100",
                "bank_code": "102491000018", "region_code": "410102001", "officer": "Li Na",
            }))
            .is_err(),
            "a body naming an officer is not an account"
        );
    }

    #[test]
    fn a_pending_change_is_shown_masked_with_its_maker() {
        let row = PendingRow {
            change_id: Uuid::nil(),
            holder_name: "Zhang Wei".into(),
            account_number: "6222000000000100".into(),
            bank_code: "102491000018".into(),
            region_code: "410102001".into(),
            holder_kind: PayeeKind::Person,
            reason: String::new(),
            proposed_by_sub: "wang.fang".into(),
            proposed_by_name: "王芳".into(),
            proposed_by_role: "township_officer".into(),
            proposed_at: chrono::DateTime::UNIX_EPOCH,
        };
        let shown = serde_json::to_value(PendingChange::from(&row)).unwrap();
        assert_eq!(shown["account_number"], "6222********0100");
        assert_eq!(shown["holder_name"], "Zhang **");
        assert_eq!(shown["status"], "pending");
        assert_eq!(shown["proposed_by"]["sub"], "wang.fang");
        assert!(!shown.to_string().contains("6222000000000100"));
    }
}
