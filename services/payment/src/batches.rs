//! pain.001 files (`batches`, `batch_items`): one file per paying (dedicated fund) account and
//! execution day for a month's instructed payments that are in no live file and have an account.
//!
//! - A file's `ReqdExctnDt` is never before its payments are due ([`policy::dates::execution_date`]):
//!   a month's benefit is executed on the month's pay-by day (`payment_due_day`, "by the 10th")
//!   or the day the file is made if that has passed; an emergency stage on its own day. A file
//!   made in November for December is executed in December.
//! - An instruction goes into at most one live file (`batch_items_once`); it is `sent` then.
//! - A file never carries the same payment twice ([`check_once`]).
//! - A file is fetched (`GET /v1/batches/{id}/file`, by a county officer or an auditor of the
//!   file's district) or sent to the bank (`payment.bank_url`, by the platform operator); both
//!   carry full account numbers and are audited before the file leaves. Making a file is audited
//!   in its transaction.

use crate::config::FundAccount;
use crate::domain::{mask, InstructionKind, InstructionStatus};
use crate::iso20022::{self, FileHeader, Pain001Writer, Party, Transfer};
use crate::state::State;
use crate::status_reports::{move_to, FileRef};
use crate::store;
use crate::store::batches::{BatchItemView, NewBatch};
use chrono::{DateTime, NaiveDate, Utc};
use mesh::audit::{self, Entry};
use mesh::auth::{Acting, Actor, Role};
use mesh::http::ApiError;
use policy::{Month, RegionCode};
use serde::Serialize;
use sqlx::PgConnection;
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

#[derive(Debug, Serialize)]
pub struct BatchesMade {
    pub batches: Vec<BatchSummary>,
    /// Instructed payments left out, with the reason (no account; no fund account).
    pub blocked: Vec<Blocked>,
}

#[derive(Debug, Serialize)]
pub struct BatchSummary {
    pub batch_id: Uuid,
    pub msg_id: String,
    pub month: String,
    pub district: String,
    pub debtor_account: String,
    pub nb_of_txs: i32,
    pub ctrl_sum_fen: i64,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transmitted_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<BatchItemView>,
}

#[derive(Debug, Serialize)]
pub struct Blocked {
    pub instruction_id: Uuid,
    pub reason: String,
}

/// A payment selected for a file.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub instruction_id: Uuid,
    pub amount_fen: i64,
    pub kind: InstructionKind,
    pub holder_name: String,
    pub account_number: String,
    pub bank_code: String,
}

/// Refuses a file that would carry the same payment twice.
pub fn check_once(items: &[Candidate]) -> Result<(), Uuid> {
    let mut seen = HashSet::with_capacity(items.len());
    for c in items {
        if !seen.insert(c.instruction_id) {
            return Err(c.instruction_id);
        }
    }
    Ok(())
}

fn new_msg_id(district: &str, today: NaiveDate) -> String {
    let id = Uuid::new_v4().simple().to_string();
    format!("RM{}-{district}-{}", today.format("%Y%m%d"), &id[..12])
}

/// One pain.001 file per paying account and execution day for the month's instructed payments
/// that are in no live file and have an account (of `district`, when given).
pub async fn make(
    state: &State,
    actor: &Actor,
    month: Month,
    district: Option<&str>,
) -> Result<BatchesMade, ApiError> {
    let today = state.mesh.today();
    let month_text = month.to_string();
    let rows = store::instructions::unbatched(&state.mesh.db, &month_text, district).await?;
    let mut blocked = Vec::new();
    let mut groups: BTreeMap<(String, NaiveDate), (String, FundAccount, Vec<Candidate>)> =
        BTreeMap::new();
    for r in rows {
        let instruction_id = r.instruction_id;
        if r.withheld {
            blocked.push(Blocked {
                instruction_id,
                reason: "withheld: the assistance stopped for its month before it was paid, and the whole payment is under recovery".into(),
            });
            continue;
        }
        // Only a confirmed account pays: a change waiting for its checker leaves the account
        // confirmed before in force, and a member without one held.
        let Some(account_number) = r.account_number else {
            blocked.push(Blocked {
                instruction_id,
                reason: if r.pending_change {
                    "no confirmed account: the account change waits for a second officer's confirmation".into()
                } else {
                    "no account: the township must set one".into()
                },
            });
            continue;
        };
        let district = r.district.unwrap_or_default();
        let Some(fund) = state.fund_accounts.get(&district) else {
            blocked.push(Blocked {
                instruction_id,
                reason: format!("no dedicated fund account for district {district}"),
            });
            continue;
        };
        // A month's benefit is paid by the pay-by day of the district's parameter set.
        let due_day = if r.kind.is_monthly() {
            let Some(day) = RegionCode::parse(&district)
                .ok()
                .and_then(|region| state.policy.in_force(&region, month.first_day()).ok())
                .map(|p| p.payment_due_day)
            else {
                blocked.push(Blocked {
                    instruction_id,
                    reason: format!("no parameter set gives district {district}'s pay-by day"),
                });
                continue;
            };
            Some(day)
        } else {
            None
        };
        let execution_date = policy::dates::execution_date(month, r.due_date, due_day, today);
        groups
            .entry((fund.account.clone(), execution_date))
            .or_insert_with(|| (district.clone(), fund.clone(), Vec::new()))
            .2
            .push(Candidate {
                instruction_id,
                amount_fen: r.amount_fen,
                kind: r.kind,
                holder_name: r.holder_name.unwrap_or_default(),
                account_number,
                bank_code: r.bank_code.unwrap_or_default(),
            });
    }
    let mut batches = Vec::new();
    for ((_, execution_date), (district, fund, items)) in groups {
        let file = FileOf {
            month: &month_text,
            district: &district,
            fund: &fund,
            execution_date,
        };
        if let Some(b) = write(state, actor, &file, items).await? {
            batches.push(b);
        }
    }
    Ok(BatchesMade { batches, blocked })
}

/// What the payments of one file share.
struct FileOf<'a> {
    month: &'a str,
    district: &'a str,
    fund: &'a FundAccount,
    execution_date: NaiveDate,
}

async fn write(
    state: &State,
    actor: &Actor,
    f: &FileOf<'_>,
    items: Vec<Candidate>,
) -> Result<Option<BatchSummary>, ApiError> {
    let (month, district, fund) = (f.month, f.district, f.fund);
    check_once(&items)
        .map_err(|id| ApiError::Conflict(format!("the file would carry instruction {id} twice")))?;
    let mut tx = state.mesh.db.begin().await?;
    // Lock the payments and keep those still instructed: a concurrent batch took the others.
    let ids: Vec<Uuid> = items.iter().map(|c| c.instruction_id).collect();
    let rows = store::instructions::lock_instructed(&mut tx, &ids).await?;
    let still: HashSet<Uuid> = rows.iter().map(|r| r.instruction_id).collect();
    let items: Vec<Candidate> = items
        .into_iter()
        .filter(|c| still.contains(&c.instruction_id))
        .collect();
    if items.is_empty() {
        return Ok(None);
    }
    let batch_id = Uuid::new_v4();
    let today = state.mesh.today();
    let msg_id = new_msg_id(district, today);
    let nb = items.len() as u64;
    let sum = policy::Fen::checked_sum(items.iter().map(|c| policy::Fen(c.amount_fen)))
        .map_err(|e| anyhow::anyhow!("the file's control sum: {e}"))?
        .0;
    let created = state.mesh.clock.now();
    let header = FileHeader {
        msg_id: &msg_id,
        created,
        nb_of_txs: nb,
        ctrl_sum_fen: sum,
        initiating_party: &state.initiating_party,
        payment_info_id: &format!("{msg_id}-1"),
        execution_date: f.execution_date,
        debtor: Party {
            name: &fund.name,
            account: &fund.account,
            bank_code: &fund.bank_code,
        },
    };
    let mut w = Pain001Writer::begin(Vec::new(), &header).map_err(anyhow::Error::from)?;
    for c in &items {
        let e2e = iso20022::end_to_end_id(c.instruction_id);
        w.transfer(&Transfer {
            end_to_end_id: &e2e,
            amount_fen: c.amount_fen,
            creditor: Party {
                name: &c.holder_name,
                account: &c.account_number,
                bank_code: &c.bank_code,
            },
            remittance: &format!("{} {month}", c.kind),
        })
        .map_err(anyhow::Error::from)?;
    }
    let xml =
        String::from_utf8(w.finish().map_err(anyhow::Error::from)?).map_err(anyhow::Error::from)?;
    let batch = NewBatch {
        batch_id,
        msg_id: &msg_id,
        month,
        district,
        debtor_account: &fund.account,
        nb_of_txs: nb as i32,
        ctrl_sum_fen: sum,
        xml: &xml,
    };
    record_file(&mut tx, state, actor, &batch, &items, created).await?;
    let file = FileRef {
        msg_id: msg_id.clone(),
        district: district.to_owned(),
        debtor_account: fund.account.clone(),
    };
    for p in &rows {
        move_to(
            state,
            &mut tx,
            p,
            InstructionStatus::Sent,
            None,
            &file,
            None,
            Some(actor),
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(%msg_id, district, nb_of_txs = nb, ctrl_sum_fen = sum, "pain.001 file written.");
    Ok(Some(BatchSummary {
        batch_id,
        msg_id,
        month: month.to_owned(),
        district: district.to_owned(),
        debtor_account: mask(&fund.account),
        nb_of_txs: nb as i32,
        ctrl_sum_fen: sum,
        file: format!("/v1/batches/{batch_id}/file"),
        transmitted_at: None,
        items: Vec::new(),
    }))
}

/// Stores the file and its payments, and the file's audit record, in the file's transaction.
async fn record_file(
    tx: &mut PgConnection,
    state: &State,
    actor: &Actor,
    b: &NewBatch<'_>,
    items: &[Candidate],
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    store::batches::insert(tx, b, at).await?;
    for c in items {
        let r = store::batches::insert_item(
            tx,
            b.batch_id,
            c.instruction_id,
            &iso20022::end_to_end_id(c.instruction_id),
            c.amount_fen,
        )
        .await;
        if let Err(sqlx::Error::Database(e)) = &r {
            if e.is_unique_violation() {
                return Err(ApiError::Conflict(format!(
                    "instruction {} is already in a live file",
                    c.instruction_id
                )));
            }
        }
        r?;
    }
    audit::append(
        tx,
        &state.mesh,
        actor,
        Entry::new("pain001.make", "pain001", b.batch_id).detail(serde_json::json!({
            "msg_id": b.msg_id,
            "month": b.month,
            "district": b.district,
            "nb_of_txs": b.nb_of_txs,
            "ctrl_sum_fen": b.ctrl_sum_fen,
        })),
    )
    .await?;
    Ok(())
}

/// The districts `acting` sees files of: every one for the platform operator (who makes and
/// sends them), the areas of the token for a county officer or an auditor.
fn scope(acting: &Acting) -> Option<Vec<String>> {
    (acting.role != Role::PlatformOperator).then(|| acting.region_patterns())
}

fn no_batch() -> ApiError {
    ApiError::NotFound("no batch with this id".into())
}

pub async fn get(state: &State, acting: &Acting, batch_id: Uuid) -> Result<BatchSummary, ApiError> {
    let scope = scope(acting);
    let b = store::batches::get(&state.mesh.db, batch_id, scope.as_deref())
        .await?
        .ok_or_else(no_batch)?;
    let items = store::batches::items(&state.mesh.db, batch_id).await?;
    Ok(BatchSummary {
        batch_id,
        msg_id: b.msg_id,
        month: b.month,
        district: b.district,
        debtor_account: mask(&b.debtor_account),
        nb_of_txs: b.nb_of_txs,
        ctrl_sum_fen: b.ctrl_sum_fen,
        file: format!("/v1/batches/{batch_id}/file"),
        transmitted_at: b.transmitted_at,
        items,
    })
}

/// The stored pain.001 of a file of the caller's districts, its export audited before it
/// leaves: the file holds the beneficiaries' names and full account numbers.
pub async fn file(
    state: &State,
    acting: &Acting,
    batch_id: Uuid,
    purpose: &axum::http::HeaderMap,
) -> Result<String, ApiError> {
    let scope = scope(acting);
    let b = store::batches::get(&state.mesh.db, batch_id, scope.as_deref())
        .await?
        .ok_or_else(no_batch)?;
    let xml = store::batches::xml(&state.mesh.db, batch_id)
        .await?
        .ok_or_else(no_batch)?;
    audit::record(
        &state.mesh,
        &acting.actor(),
        Entry::new("pain001.export", "pain001", batch_id)
            .purpose_from(purpose)
            .detail(serde_json::json!({
                "msg_id": b.msg_id,
                "district": b.district,
                "month": b.month,
                "nb_of_txs": b.nb_of_txs,
            })),
    )
    .await?;
    Ok(xml)
}

/// Sends the file to the bank (`payment.bank_url`); the sending is audited before the file
/// leaves. The bank takes a file once per MsgId, so sending it again is harmless.
pub async fn transmit(
    state: &State,
    acting: &Acting,
    batch_id: Uuid,
) -> Result<BatchSummary, ApiError> {
    let Some(url) = &state.bank_url else {
        return Err(ApiError::Conflict(
            "no bank is configured (payment.bank_url): fetch the file instead".into(),
        ));
    };
    let scope = scope(acting);
    let b = store::batches::get(&state.mesh.db, batch_id, scope.as_deref())
        .await?
        .ok_or_else(no_batch)?;
    let xml = store::batches::xml(&state.mesh.db, batch_id)
        .await?
        .ok_or_else(no_batch)?;
    audit::record(
        &state.mesh,
        &acting.actor(),
        Entry::new("pain001.transmit", "pain001", batch_id).detail(serde_json::json!({
            "msg_id": b.msg_id,
            "district": b.district,
            "month": b.month,
            "nb_of_txs": b.nb_of_txs,
        })),
    )
    .await?;
    let r = state
        .http
        .post(format!("{}/v1/pain001", url.trim_end_matches('/')))
        .header("content-type", "application/xml")
        .body(xml)
        .send()
        .await
        .map_err(|e| ApiError::Unavailable(format!("the bank is not reachable: {e}")))?;
    if !r.status().is_success() {
        let status = r.status();
        // The bank's reply may quote the file (names, accounts): it is not passed on, only its
        // status; its length goes to the log for the operators.
        let length = r.bytes().await.map(|b| b.len()).unwrap_or_default();
        tracing::warn!(%status, reply_bytes = length, "the bank refused a pain.001 file");
        return Err(ApiError::Unavailable(format!(
            "the bank refused the file (HTTP {}); the file stays untransmitted",
            status.as_u16()
        )));
    }
    store::batches::mark_transmitted(&state.mesh.db, batch_id, state.mesh.clock.now()).await?;
    get(state, acting, batch_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_the_same_payment_twice_is_refused() {
        let c = Candidate {
            instruction_id: Uuid::new_v4(),
            amount_fen: 100,
            kind: InstructionKind::DibaoMonthly,
            holder_name: "x".into(),
            account_number: "12345678".into(),
            bank_code: "102491000018".into(),
        };
        let other = Candidate {
            instruction_id: Uuid::new_v4(),
            ..c.clone()
        };
        assert!(check_once(&[c.clone(), other.clone()]).is_ok());
        assert_eq!(
            check_once(&[c.clone(), other, c.clone()]),
            Err(c.instruction_id)
        );
    }
}
