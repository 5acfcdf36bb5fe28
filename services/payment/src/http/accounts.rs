//! `PUT /v1/accounts/{member_id}`, `GET /v1/accounts/{member_id}`: beneficiaries' accounts,
//! shown masked.

use crate::accounts;
use crate::domain::{mask, PayeeKind, Repaid};
use crate::state::State;
use crate::store::accounts::NewAccount;
use axum::extract::{Path, State as AxState};
use axum::Json;
use chrono::{DateTime, Utc};
use mesh::http::{ApiError, FieldError, JsonBody};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize)]
pub struct AccountInput {
    pub holder_name: String,
    pub account_number: String,
    /// 12-digit CNAPS code of the account's bank branch.
    pub bank_code: String,
    /// The township's administrative code (its first 6 digits: the district that pays).
    pub region_code: String,
    /// `person` (a "one card" account) or `care_institution` (a collective account).
    #[serde(default = "person")]
    pub holder_kind: String,
    /// The township officer who sets or corrects the account.
    pub officer: String,
    #[serde(default)]
    pub reason: String,
}

fn person() -> String {
    PayeeKind::Person.as_str().into()
}

impl AccountInput {
    /// Everything wrong with the account at once; the account to set when nothing is.
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
        if self.officer.trim().is_empty() {
            errors.push(FieldError::new("officer", "the officer's name is required"));
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
            officer: self.officer.trim(),
            reason: &self.reason,
        })
    }
}

/// An account as shown: masked.
#[derive(Debug, Serialize)]
pub struct AccountView {
    pub member_id: Uuid,
    pub holder_name: String,
    pub account_number: String,
    pub bank_code: String,
    pub region_code: String,
    pub holder_kind: PayeeKind,
    pub version: i32,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
    pub history: Vec<AccountVersion>,
}

#[derive(Debug, Serialize)]
pub struct AccountVersion {
    pub version: i32,
    pub account_number: String,
    pub bank_code: String,
    pub officer: String,
    pub reason: String,
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct AccountSet {
    pub member_id: Uuid,
    pub version: i32,
    pub account_number: String,
    /// Corrections this account resolved: the rejected or returned instruction and the new one
    /// that pays it again.
    pub repaid: Vec<Repaid>,
}

/// Sets or corrects the account, keeps the history, and resolves the member's open
/// corrections with new instructions.
pub(super) async fn put(
    AxState(state): AxState<State>,
    Path(member_id): Path<Uuid>,
    JsonBody(a): JsonBody<AccountInput>,
) -> Result<Json<AccountSet>, ApiError> {
    let account = a.validate()?;
    let (version, repaid) = accounts::set(&state, member_id, &account).await?;
    Ok(Json(AccountSet {
        member_id,
        version,
        account_number: mask(account.account_number),
        repaid,
    }))
}

pub(super) async fn show(
    AxState(state): AxState<State>,
    Path(member_id): Path<Uuid>,
) -> Result<Json<AccountView>, ApiError> {
    let (r, history) = accounts::get(&state, member_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no account for member {member_id}")))?;
    Ok(Json(AccountView {
        member_id,
        holder_name: mask(&r.holder_name),
        account_number: mask(&r.account_number),
        bank_code: r.bank_code,
        region_code: r.region_code,
        holder_kind: r.holder_kind,
        version: r.version,
        updated_by: r.updated_by,
        updated_at: r.updated_at,
        history: history
            .into_iter()
            .map(|h| AccountVersion {
                version: h.version,
                account_number: mask(&h.account_number),
                bank_code: h.bank_code,
                officer: h.officer,
                reason: h.reason,
                changed_at: h.changed_at,
            })
            .collect(),
    }))
}
