//! The bank side of payment: beneficiaries' accounts, pain.001 batches, pain.002 status reports
//! and the corrections of rejected or returned payments.
//!
//! - An instruction goes into at most one live file (`batch_items_once`); it is `sent` then, and
//!   only moves forward: sent → accepted → settled | rejected; settled → returned.
//! - A report is taken in once per `MsgId`, whether it comes over HTTP or `payment.bank.status`.
//! - A rejected or returned payment opens a correction; when the township corrects the account,
//!   a NEW instruction pays it (reference = the original id); the original never pays again.
//! - Account numbers and names never reach logs: [`mask`].

use crate::app::State;
use crate::config::FundAccount;
use crate::iso20022::{self, BankStatus, FileHeader, Pain001Writer, Party, StatusReport, Transfer};
use crate::ledger::{self, Event};
use crate::{handlers, store};
use chrono::Utc;
use contract::{InstructionCreated, InstructionStatusChanged};
use mesh::http::{ApiError, FieldError};
use mesh::subjects::{PAYMENT_INSTRUCTION_CREATED, PAYMENT_INSTRUCTION_STATUS};
use mesh::ChainRef;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, Row};
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// `6222020200112233` → `************2233`; a name → its first character and `*`.
pub fn mask(s: &str) -> String {
    let n = s.chars().count();
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let keep = 4.min(n);
        format!("{}{}", "*".repeat(n - keep), &s[s.len() - keep..])
    } else {
        let first: String = s.chars().take(1).collect();
        format!("{first}{}", "*".repeat(n.saturating_sub(1).max(1)))
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts

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
    "person".into()
}

impl AccountInput {
    pub fn validate(&self) -> Result<(), ApiError> {
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
        if !matches!(self.holder_kind.as_str(), "person" | "care_institution") {
            errors.push(FieldError::new("holder_kind", "person or care_institution"));
        }
        if self.officer.trim().is_empty() {
            errors.push(FieldError::new("officer", "the officer's name is required"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(errors))
        }
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
    pub holder_kind: String,
    pub version: i32,
    pub updated_by: String,
    pub updated_at: chrono::DateTime<Utc>,
    pub history: Vec<AccountVersion>,
}

#[derive(Debug, Serialize)]
pub struct AccountVersion {
    pub version: i32,
    pub account_number: String,
    pub bank_code: String,
    pub officer: String,
    pub reason: String,
    pub changed_at: chrono::DateTime<Utc>,
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

#[derive(Debug, Serialize)]
pub struct Repaid {
    pub instruction_id: Uuid,
    pub new_instruction_id: Uuid,
}

/// `PUT /v1/accounts/{member_id}`: sets or corrects the account, keeps the history, and resolves
/// the member's open corrections with new instructions.
pub async fn set_account(
    state: &State,
    member_id: Uuid,
    a: &AccountInput,
) -> Result<AccountSet, ApiError> {
    a.validate()?;
    let mut tx = state.mesh.db.begin().await?;
    let version: i32 = sqlx::query_scalar(
        "INSERT INTO accounts (member_id, holder_name, account_number, bank_code, region_code, holder_kind, version, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7)
         ON CONFLICT (member_id) DO UPDATE SET holder_name = EXCLUDED.holder_name,
             account_number = EXCLUDED.account_number, bank_code = EXCLUDED.bank_code,
             region_code = EXCLUDED.region_code, holder_kind = EXCLUDED.holder_kind,
             version = accounts.version + 1, updated_by = EXCLUDED.updated_by, updated_at = now()
         RETURNING version",
    )
    .bind(member_id)
    .bind(a.holder_name.trim())
    .bind(&a.account_number)
    .bind(&a.bank_code)
    .bind(&a.region_code)
    .bind(&a.holder_kind)
    .bind(a.officer.trim())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO account_history (member_id, version, holder_name, account_number, bank_code, region_code, holder_kind, officer, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(member_id)
    .bind(version)
    .bind(a.holder_name.trim())
    .bind(&a.account_number)
    .bind(&a.bank_code)
    .bind(&a.region_code)
    .bind(&a.holder_kind)
    .bind(a.officer.trim())
    .bind(&a.reason)
    .execute(&mut *tx)
    .await?;
    let repaid = resolve_corrections(state, &mut tx, member_id, a.officer.trim()).await?;
    tx.commit().await?;
    tracing::info!(
        version,
        account = %mask(&a.account_number),
        repaid = repaid.len(),
        "Account set."
    );
    Ok(AccountSet {
        member_id,
        version,
        account_number: mask(&a.account_number),
        repaid,
    })
}

/// Each open correction of the member → a new instruction for the same payment, referencing the
/// original; the correction is closed. The original stays rejected or returned.
async fn resolve_corrections(
    state: &State,
    tx: &mut PgConnection,
    member_id: Uuid,
    officer: &str,
) -> Result<Vec<Repaid>, ApiError> {
    let open = sqlx::query(
        "SELECT i.instruction_id, i.household_id, i.chain_id, i.beneficiary_member_id, i.month, i.kind,
                i.amount_fen, i.due_date, i.policy_version, i.payee
         FROM corrections c JOIN instructions i USING (instruction_id)
         WHERE c.member_id = $1 AND c.resolved_at IS NULL
         ORDER BY c.opened_at FOR UPDATE OF c",
    )
    .bind(member_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut repaid = Vec::new();
    let today = state.mesh.today();
    for r in open {
        let original: Uuid = r.get("instruction_id");
        let reference = original.to_string();
        let month: String = r.get("month");
        let kind: String = r.get("kind");
        let due: chrono::NaiveDate = r.get("due_date");
        let payee: String = r.get("payee");
        let created = InstructionCreated {
            instruction_id: handlers::instruction_id(member_id, &month, &kind, &reference),
            beneficiary_member_id: member_id,
            month,
            kind,
            amount_fen: r.get("amount_fen"),
            due_date: due.max(today),
            policy_version: r.get("policy_version"),
            payee: if payee == "care_institution" {
                policy::determination::Payee::CareInstitution
            } else {
                policy::determination::Payee::Person
            },
            reference,
        };
        let household_id: Uuid = r.get("household_id");
        let chain_id: Uuid = r.get("chain_id");
        let source = format!("correction:{original}");
        if store::insert_instruction(&mut *tx, &household_id, &chain_id, &source, &created).await? {
            let chain = ChainRef {
                household_id,
                chain_id,
                causation_id: None,
            };
            let out = state.mesh.envelope(
                &chain,
                Some(created.instruction_id.to_string()),
                created.clone(),
            );
            mesh::outbox::enqueue(
                &mut *tx,
                &state.mesh.subjects.of(PAYMENT_INSTRUCTION_CREATED),
                &out,
            )
            .await?;
        }
        sqlx::query(
            "UPDATE corrections SET resolved_at = now(), resolved_by = $2, new_instruction_id = $3
             WHERE instruction_id = $1",
        )
        .bind(original)
        .bind(officer)
        .bind(created.instruction_id)
        .execute(&mut *tx)
        .await?;
        repaid.push(Repaid {
            instruction_id: original,
            new_instruction_id: created.instruction_id,
        });
    }
    Ok(repaid)
}

pub async fn account(state: &State, member_id: Uuid) -> Result<AccountView, ApiError> {
    let r = sqlx::query(
        "SELECT holder_name, account_number, bank_code, region_code, holder_kind, version, updated_by, updated_at
         FROM accounts WHERE member_id = $1",
    )
    .bind(member_id)
    .fetch_optional(&state.mesh.db)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("no account for member {member_id}")))?;
    let history = sqlx::query(
        "SELECT version, account_number, bank_code, officer, reason, changed_at
         FROM account_history WHERE member_id = $1 ORDER BY version",
    )
    .bind(member_id)
    .fetch_all(&state.mesh.db)
    .await?
    .into_iter()
    .map(|h| AccountVersion {
        version: h.get("version"),
        account_number: mask(h.get("account_number")),
        bank_code: h.get("bank_code"),
        officer: h.get("officer"),
        reason: h.get("reason"),
        changed_at: h.get("changed_at"),
    })
    .collect();
    Ok(AccountView {
        member_id,
        holder_name: mask(r.get("holder_name")),
        account_number: mask(r.get("account_number")),
        bank_code: r.get("bank_code"),
        region_code: r.get("region_code"),
        holder_kind: r.get("holder_kind"),
        version: r.get("version"),
        updated_by: r.get("updated_by"),
        updated_at: r.get("updated_at"),
        history,
    })
}

// ---------------------------------------------------------------------------------------------
// Status moves

/// Where a status stands; a move is allowed only forward.
fn rank(status: &str) -> u8 {
    match status {
        "instructed" => 0,
        "sent" => 1,
        "accepted" => 2,
        "settled" | "rejected" => 3,
        "returned" => 4,
        _ => 0,
    }
}

/// The status an instruction moves to on the bank's `code`, or `None` when it stays.
pub fn next_status(current: &str, code: BankStatus) -> Option<&'static str> {
    let to = match (code, current) {
        (BankStatus::Rejected, "settled") => "returned",
        (BankStatus::Rejected, _) => "rejected",
        (BankStatus::Settled, _) => "settled",
        (BankStatus::Accepted, _) => "accepted",
    };
    let allowed = match to {
        "returned" => current == "settled",
        "rejected" | "settled" => matches!(current, "sent" | "accepted"),
        "accepted" => current == "sent",
        _ => false,
    };
    (allowed && rank(to) > rank(current)).then_some(to)
}

/// An instruction as the bank side needs it.
struct Paid {
    instruction_id: Uuid,
    household_id: Uuid,
    chain_id: Uuid,
    member_id: Uuid,
    status: String,
    amount_fen: i64,
    month: String,
    kind: String,
}

/// Moves one instruction, with its history row, ledger entry, correction and event.
#[allow(clippy::too_many_arguments)]
async fn move_to(
    state: &State,
    tx: &mut PgConnection,
    p: &Paid,
    to: &str,
    reason: Option<&str>,
    file: &FileRef,
    report_msg_id: Option<&str>,
) -> Result<(), anyhow::Error> {
    sqlx::query("UPDATE instructions SET status = $2 WHERE instruction_id = $1")
        .bind(p.instruction_id)
        .bind(to)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO instruction_status_history (instruction_id, status, reason, report_msg_id)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(p.instruction_id)
    .bind(to)
    .bind(reason)
    .bind(report_msg_id)
    .execute(&mut *tx)
    .await?;
    let event = match to {
        "sent" => Some(Event::Instructed),
        "settled" => Some(Event::Settled),
        "rejected" => Some(Event::Rejected),
        "returned" => Some(Event::Returned),
        _ => None,
    };
    if let Some(event) = event {
        ledger::post(
            &mut *tx,
            &ledger::Entry {
                fund_account: &file.debtor_account,
                district: &file.district,
                month: &p.month,
                instruction_id: Some(p.instruction_id),
                event,
                amount_fen: p.amount_fen,
                reference: report_msg_id.unwrap_or(&file.msg_id),
            },
        )
        .await?;
    }
    if matches!(to, "rejected" | "returned") {
        sqlx::query(
            "INSERT INTO corrections (instruction_id, member_id, status, reason)
             VALUES ($1, $2, $3, $4) ON CONFLICT (instruction_id) DO UPDATE
             SET status = EXCLUDED.status, reason = EXCLUDED.reason",
        )
        .bind(p.instruction_id)
        .bind(p.member_id)
        .bind(to)
        .bind(reason.unwrap_or("NARR"))
        .execute(&mut *tx)
        .await?;
    }
    let changed = InstructionStatusChanged {
        instruction_id: p.instruction_id,
        status: to.to_owned(),
        previous_status: p.status.clone(),
        reason: reason.map(str::to_owned),
        amount_fen: p.amount_fen,
        month: p.month.clone(),
        kind: p.kind.clone(),
        file_msg_id: Some(file.msg_id.clone()),
        report_msg_id: report_msg_id.map(str::to_owned),
        at: state.mesh.clock.now(),
    };
    let chain = ChainRef {
        household_id: p.household_id,
        chain_id: p.chain_id,
        causation_id: None,
    };
    let out = state
        .mesh
        .envelope(&chain, Some(p.instruction_id.to_string()), changed);
    mesh::outbox::enqueue(
        &mut *tx,
        &state.mesh.subjects.of(PAYMENT_INSTRUCTION_STATUS),
        &out,
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Batches

#[derive(Debug, Deserialize)]
pub struct BatchRequest {
    pub month: String,
    #[serde(default)]
    pub district: Option<String>,
}

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
    pub transmitted_at: Option<chrono::DateTime<Utc>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<BatchItemView>,
}

#[derive(Debug, Serialize)]
pub struct BatchItemView {
    pub instruction_id: Uuid,
    pub end_to_end_id: String,
    pub amount_fen: i64,
    pub status: String,
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
    pub kind: String,
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

struct FileRef {
    msg_id: String,
    district: String,
    debtor_account: String,
}

fn new_msg_id(district: &str, today: chrono::NaiveDate) -> String {
    let id = Uuid::new_v4().simple().to_string();
    format!("RM{}-{district}-{}", today.format("%Y%m%d"), &id[..12])
}

/// `POST /v1/batches`: one pain.001 file per paying account for the month's instructed
/// payments that are in no live file and have an account.
pub async fn make_batches(state: &State, req: &BatchRequest) -> Result<BatchesMade, ApiError> {
    let month = policy::Month::parse(&req.month)
        .map_err(|e| ApiError::Validation(vec![FieldError::new("month", e.to_string())]))?
        .to_string();
    if let Some(d) = &req.district {
        if d.len() != 6 || !d.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::Validation(vec![FieldError::new(
                "district",
                "a 6-digit district code",
            )]));
        }
    }
    let rows = sqlx::query(
        "SELECT i.instruction_id, i.amount_fen, i.kind, a.holder_name, a.account_number, a.bank_code,
                left(a.region_code, 6) AS district
         FROM instructions i LEFT JOIN accounts a ON a.member_id = i.beneficiary_member_id
         WHERE i.status = 'instructed' AND i.month = $1
           AND NOT EXISTS (SELECT 1 FROM batch_items b WHERE b.instruction_id = i.instruction_id AND b.live)
           AND ($2::text IS NULL OR a.region_code IS NULL OR left(a.region_code, 6) = $2)
         ORDER BY i.instruction_id",
    )
    .bind(&month)
    .bind(&req.district)
    .fetch_all(&state.mesh.db)
    .await?;
    let mut blocked = Vec::new();
    let mut groups: BTreeMap<String, (String, FundAccount, Vec<Candidate>)> = BTreeMap::new();
    for r in rows {
        let instruction_id: Uuid = r.get("instruction_id");
        let Some(account_number) = r.get::<Option<String>, _>("account_number") else {
            blocked.push(Blocked {
                instruction_id,
                reason: "no account: the township must set one".into(),
            });
            continue;
        };
        let district: String = r.get("district");
        let Some(fund) = state.fund_accounts.get(&district) else {
            blocked.push(Blocked {
                instruction_id,
                reason: format!("no dedicated fund account for district {district}"),
            });
            continue;
        };
        groups
            .entry(fund.account.clone())
            .or_insert_with(|| (district.clone(), fund.clone(), Vec::new()))
            .2
            .push(Candidate {
                instruction_id,
                amount_fen: r.get("amount_fen"),
                kind: r.get("kind"),
                holder_name: r.get("holder_name"),
                account_number,
                bank_code: r.get("bank_code"),
            });
    }
    let mut batches = Vec::new();
    for (_, (district, fund, items)) in groups {
        if let Some(b) = write_batch(state, &month, &district, &fund, items).await? {
            batches.push(b);
        }
    }
    Ok(BatchesMade { batches, blocked })
}

async fn write_batch(
    state: &State,
    month: &str,
    district: &str,
    fund: &FundAccount,
    items: Vec<Candidate>,
) -> Result<Option<BatchSummary>, ApiError> {
    check_once(&items)
        .map_err(|id| ApiError::Conflict(format!("the file would carry instruction {id} twice")))?;
    let mut tx = state.mesh.db.begin().await?;
    // Lock the payments and keep those still instructed: a concurrent batch took the others.
    let ids: Vec<Uuid> = items.iter().map(|c| c.instruction_id).collect();
    let rows = sqlx::query(
        "SELECT instruction_id, household_id, chain_id, beneficiary_member_id, status, amount_fen, month, kind
         FROM instructions WHERE instruction_id = ANY($1) AND status = 'instructed'
         ORDER BY instruction_id FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let still: HashSet<Uuid> = rows.iter().map(|r| r.get("instruction_id")).collect();
    let items: Vec<Candidate> = items
        .into_iter()
        .filter(|c| still.contains(&c.instruction_id))
        .collect();
    if items.is_empty() {
        return Ok(None);
    }
    let batch_id = Uuid::new_v4();
    let msg_id = new_msg_id(district, state.mesh.today());
    let nb = items.len() as u64;
    let sum: i64 = items.iter().map(|c| c.amount_fen).sum();
    let header = FileHeader {
        msg_id: &msg_id,
        created: state.mesh.clock.now(),
        nb_of_txs: nb,
        ctrl_sum_fen: sum,
        initiating_party: &state.initiating_party,
        payment_info_id: &format!("{msg_id}-1"),
        execution_date: state.mesh.today(),
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
    sqlx::query(
        "INSERT INTO batches (batch_id, msg_id, month, district, debtor_account, nb_of_txs, ctrl_sum_fen, xml)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(batch_id)
    .bind(&msg_id)
    .bind(month)
    .bind(district)
    .bind(&fund.account)
    .bind(nb as i32)
    .bind(sum)
    .bind(&xml)
    .execute(&mut *tx)
    .await?;
    for c in &items {
        let r = sqlx::query(
            "INSERT INTO batch_items (batch_id, instruction_id, end_to_end_id, amount_fen) VALUES ($1, $2, $3, $4)",
        )
        .bind(batch_id)
        .bind(c.instruction_id)
        .bind(iso20022::end_to_end_id(c.instruction_id))
        .bind(c.amount_fen)
        .execute(&mut *tx)
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
    let file = FileRef {
        msg_id: msg_id.clone(),
        district: district.to_owned(),
        debtor_account: fund.account.clone(),
    };
    for r in &rows {
        let p = paid_of(r);
        move_to(state, &mut tx, &p, "sent", None, &file, None).await?;
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

fn paid_of(r: &sqlx::postgres::PgRow) -> Paid {
    Paid {
        instruction_id: r.get("instruction_id"),
        household_id: r.get("household_id"),
        chain_id: r.get("chain_id"),
        member_id: r.get("beneficiary_member_id"),
        status: r.get("status"),
        amount_fen: r.get("amount_fen"),
        month: r.get("month"),
        kind: r.get("kind"),
    }
}

pub async fn batch(state: &State, batch_id: Uuid) -> Result<BatchSummary, ApiError> {
    let b = sqlx::query(
        "SELECT msg_id, month, district, debtor_account, nb_of_txs, ctrl_sum_fen, transmitted_at FROM batches WHERE batch_id = $1",
    )
    .bind(batch_id)
    .fetch_optional(&state.mesh.db)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("no batch {batch_id}")))?;
    let items = sqlx::query(
        "SELECT b.instruction_id, b.end_to_end_id, b.amount_fen, i.status
         FROM batch_items b JOIN instructions i USING (instruction_id)
         WHERE b.batch_id = $1 ORDER BY b.end_to_end_id",
    )
    .bind(batch_id)
    .fetch_all(&state.mesh.db)
    .await?
    .into_iter()
    .map(|r| BatchItemView {
        instruction_id: r.get("instruction_id"),
        end_to_end_id: r.get("end_to_end_id"),
        amount_fen: r.get("amount_fen"),
        status: r.get("status"),
    })
    .collect();
    Ok(BatchSummary {
        batch_id,
        msg_id: b.get("msg_id"),
        month: b.get("month"),
        district: b.get("district"),
        debtor_account: mask(b.get("debtor_account")),
        nb_of_txs: b.get("nb_of_txs"),
        ctrl_sum_fen: b.get("ctrl_sum_fen"),
        file: format!("/v1/batches/{batch_id}/file"),
        transmitted_at: b.get("transmitted_at"),
        items,
    })
}

pub async fn batch_file(state: &State, batch_id: Uuid) -> Result<String, ApiError> {
    sqlx::query_scalar("SELECT xml FROM batches WHERE batch_id = $1")
        .bind(batch_id)
        .fetch_optional(&state.mesh.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no batch {batch_id}")))
}

/// `POST /v1/batches/{id}/transmit`: sends the file to the bank (`payment.bank_url`). The bank
/// takes a file once per MsgId, so sending it again is harmless.
pub async fn transmit(state: &State, batch_id: Uuid) -> Result<BatchSummary, ApiError> {
    let Some(url) = &state.bank_url else {
        return Err(ApiError::Conflict(
            "no bank is configured (payment.bank_url): fetch the file instead".into(),
        ));
    };
    let xml = batch_file(state, batch_id).await?;
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
        let body = r.text().await.unwrap_or_default();
        return Err(ApiError::Unavailable(format!(
            "the bank refused the file ({status}): {body}"
        )));
    }
    sqlx::query(
        "UPDATE batches SET transmitted_at = coalesce(transmitted_at, now()) WHERE batch_id = $1",
    )
    .bind(batch_id)
    .execute(&state.mesh.db)
    .await?;
    batch(state, batch_id).await
}

// ---------------------------------------------------------------------------------------------
// Status reports

#[derive(Debug, Serialize)]
pub struct Ingested {
    pub msg_id: String,
    pub original_msg_id: String,
    /// The same report (MsgId) was taken before: nothing changed.
    pub duplicate: bool,
    /// Instructions that moved forward.
    pub changes: u32,
    /// Statuses that did not move anything (late, repeated or backward).
    pub unchanged: u32,
    /// End-to-end ids the file does not carry.
    pub unknown: Vec<String>,
}

/// Takes in one pain.002 in the caller's transaction. Idempotent on the report's MsgId.
pub async fn ingest(
    state: &State,
    tx: &mut PgConnection,
    report: &StatusReport,
    xml: &str,
    via: &str,
) -> Result<Ingested, anyhow::Error> {
    let mut out = Ingested {
        msg_id: report.msg_id.clone(),
        original_msg_id: report.original_msg_id.clone(),
        duplicate: false,
        changes: 0,
        unchanged: 0,
        unknown: Vec::new(),
    };
    let claimed = sqlx::query(
        "INSERT INTO status_reports (msg_id, original_msg_id, group_status, transactions, changes, xml, received_via)
         VALUES ($1, $2, $3, $4, 0, $5, $6) ON CONFLICT (msg_id) DO NOTHING",
    )
    .bind(&report.msg_id)
    .bind(&report.original_msg_id)
    .bind(&report.group_status)
    .bind(report.transactions.len() as i32)
    .bind(xml)
    .bind(via)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        out.duplicate = true;
        return Ok(out);
    }
    let Some(b) =
        sqlx::query("SELECT batch_id, district, debtor_account FROM batches WHERE msg_id = $1")
            .bind(&report.original_msg_id)
            .fetch_optional(&mut *tx)
            .await?
    else {
        out.unknown.push(report.original_msg_id.clone());
        return Ok(out);
    };
    let batch_id: Uuid = b.get("batch_id");
    let file = FileRef {
        msg_id: report.original_msg_id.clone(),
        district: b.get("district"),
        debtor_account: b.get("debtor_account"),
    };
    // Per transaction; a group status without transactions speaks for every one of the file.
    let mut from_group = false;
    let mut moves: Vec<(String, BankStatus, Option<String>)> = report
        .transactions
        .iter()
        .filter_map(|t| {
            BankStatus::parse(&t.code).map(|s| (t.end_to_end_id.clone(), s, t.reason.clone()))
        })
        .collect();
    if moves.is_empty() {
        if let Some(g) = report.group_status.as_deref().and_then(BankStatus::parse) {
            let all: Vec<String> = sqlx::query_scalar(
                "SELECT end_to_end_id FROM batch_items WHERE batch_id = $1 AND live ORDER BY end_to_end_id",
            )
            .bind(batch_id)
            .fetch_all(&mut *tx)
            .await?;
            from_group = true;
            moves = all
                .into_iter()
                .map(|e| (e, g, report.group_reason.clone()))
                .collect();
        }
    }
    for (e2e, code, reason) in moves {
        let Some(r) = sqlx::query(
            "SELECT i.instruction_id, i.household_id, i.chain_id, i.beneficiary_member_id, i.status, i.amount_fen, i.month, i.kind
             FROM batch_items b JOIN instructions i USING (instruction_id)
             WHERE b.batch_id = $1 AND b.end_to_end_id = $2 AND b.live FOR UPDATE OF i",
        )
        .bind(batch_id)
        .bind(&e2e)
        .fetch_optional(&mut *tx)
        .await?
        else {
            out.unknown.push(e2e);
            continue;
        };
        let p = paid_of(&r);
        // A file's rejection speaks of payments not yet settled; a return names the payment.
        let code = if from_group && code == BankStatus::Rejected && p.status == "settled" {
            BankStatus::Settled
        } else {
            code
        };
        match next_status(&p.status, code) {
            Some(to) => {
                move_to(
                    state,
                    &mut *tx,
                    &p,
                    to,
                    reason.as_deref(),
                    &file,
                    Some(&report.msg_id),
                )
                .await?;
                out.changes += 1;
            }
            None => out.unchanged += 1,
        }
    }
    sqlx::query("UPDATE status_reports SET changes = $2 WHERE msg_id = $1")
        .bind(&report.msg_id)
        .bind(out.changes as i32)
        .execute(&mut *tx)
        .await?;
    tracing::info!(
        msg_id = %report.msg_id,
        original = %report.original_msg_id,
        changes = out.changes,
        unchanged = out.unchanged,
        unknown = out.unknown.len(),
        via,
        "Bank status report taken in."
    );
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Corrections

#[derive(Debug, Serialize)]
pub struct Correction {
    pub instruction_id: Uuid,
    pub member_id: Uuid,
    pub household_id: Uuid,
    pub month: String,
    pub kind: String,
    pub amount_fen: i64,
    /// `rejected` or `returned`.
    pub status: String,
    /// The bank's reason code (AC01 incorrect account number, AC04 closed account, …).
    pub reason: String,
    pub opened_at: chrono::DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<chrono::DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_instruction_id: Option<Uuid>,
}

pub async fn corrections(state: &State, all: bool) -> Result<Vec<Correction>, ApiError> {
    Ok(sqlx::query(
        "SELECT c.instruction_id, c.member_id, i.household_id, i.month, i.kind, i.amount_fen, c.status, c.reason,
                c.opened_at, c.resolved_at, c.resolved_by, c.new_instruction_id
         FROM corrections c JOIN instructions i USING (instruction_id)
         WHERE $1 OR c.resolved_at IS NULL ORDER BY c.opened_at, c.instruction_id",
    )
    .bind(all)
    .fetch_all(&state.mesh.db)
    .await?
    .into_iter()
    .map(|r| Correction {
        instruction_id: r.get("instruction_id"),
        member_id: r.get("member_id"),
        household_id: r.get("household_id"),
        month: r.get("month"),
        kind: r.get("kind"),
        amount_fen: r.get("amount_fen"),
        status: r.get("status"),
        reason: r.get("reason"),
        opened_at: r.get("opened_at"),
        resolved_at: r.get("resolved_at"),
        resolved_by: r.get("resolved_by"),
        new_instruction_id: r.get("new_instruction_id"),
    })
    .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_are_masked() {
        assert_eq!(mask("6222020200112233"), "************2233");
        assert_eq!(mask("123"), "123");
        assert_eq!(mask("Wang Fang"), "W********");
        assert_eq!(mask("王"), "王*");
    }

    #[test]
    fn statuses_only_move_forward() {
        use BankStatus::*;
        assert_eq!(next_status("sent", Accepted), Some("accepted"));
        assert_eq!(next_status("sent", Settled), Some("settled"));
        assert_eq!(next_status("accepted", Settled), Some("settled"));
        assert_eq!(next_status("accepted", Rejected), Some("rejected"));
        assert_eq!(next_status("settled", Rejected), Some("returned"));
        // Late or repeated: no move back.
        assert_eq!(next_status("settled", Accepted), None);
        assert_eq!(next_status("settled", Settled), None);
        assert_eq!(next_status("rejected", Settled), None);
        assert_eq!(next_status("rejected", Accepted), None);
        assert_eq!(next_status("returned", Rejected), None);
        assert_eq!(next_status("returned", Settled), None);
        // Not in a file: the bank cannot move it.
        assert_eq!(next_status("instructed", Settled), None);
    }

    #[test]
    fn a_file_with_the_same_payment_twice_is_refused() {
        let c = Candidate {
            instruction_id: Uuid::new_v4(),
            amount_fen: 100,
            kind: "dibao_monthly".into(),
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

// ---------------------------------------------------------------------------------------------
// Consumer and routes

/// `payment.bank.status` → the report taken in, once per envelope and once per report MsgId.
pub async fn on_status_report(
    state: State,
    d: mesh::Delivery,
) -> Result<mesh::consumer::Outcome, mesh::HandlerError> {
    use mesh::consumer::Outcome;
    use mesh::HandlerError;
    let e = d.envelope::<contract::BankStatusReport>()?;
    let report = iso20022::parse_pain002(&e.data.xml)
        .map_err(|why| HandlerError::Poison(format!("not a valid pain.002: {why}")))?;
    if report.msg_id != e.data.msg_id {
        return Err(HandlerError::Poison(format!(
            "the payload names report {} but the document is {}",
            e.data.msg_id, report.msg_id
        )));
    }
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let done = ingest(&state, &mut tx, &report, &e.data.xml, "nats").await?;
    tx.commit().await?;
    Ok(if done.duplicate {
        Outcome::Duplicate
    } else {
        Outcome::Applied
    })
}

pub fn routes(state: State) -> axum::Router<mesh::Mesh> {
    use axum::routing::{get, post, put};
    axum::Router::new()
        .route(
            "/v1/accounts/{member_id}",
            put(put_account).get(get_account),
        )
        .route("/v1/batches", post(post_batches))
        .route("/v1/batches/{batch_id}", get(get_batch))
        .route("/v1/batches/{batch_id}/file", get(get_batch_file))
        .route("/v1/batches/{batch_id}/transmit", post(post_transmit))
        .route("/v1/bank/status-reports", post(post_status_report))
        .route("/v1/corrections", get(get_corrections))
        .route("/v1/reconciliation", get(get_reconciliation))
        .route("/v1/ledger/recoveries", post(post_recovery))
        .with_state(state)
}

type S = axum::extract::State<State>;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mesh::http::JsonBody;

async fn put_account(
    axum::extract::State(state): S,
    Path(member_id): Path<Uuid>,
    JsonBody(a): JsonBody<AccountInput>,
) -> Result<Json<AccountSet>, ApiError> {
    Ok(Json(set_account(&state, member_id, &a).await?))
}

async fn get_account(
    axum::extract::State(state): S,
    Path(member_id): Path<Uuid>,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(account(&state, member_id).await?))
}

async fn post_batches(
    axum::extract::State(state): S,
    JsonBody(req): JsonBody<BatchRequest>,
) -> Result<Response, ApiError> {
    let made = make_batches(&state, &req).await?;
    let status = if made.batches.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(made)).into_response())
}

async fn get_batch(
    axum::extract::State(state): S,
    Path(batch_id): Path<Uuid>,
) -> Result<Json<BatchSummary>, ApiError> {
    Ok(Json(batch(&state, batch_id).await?))
}

async fn get_batch_file(
    axum::extract::State(state): S,
    Path(batch_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let xml = batch_file(&state, batch_id).await?;
    Ok(([(header::CONTENT_TYPE, "application/xml")], xml).into_response())
}

async fn post_transmit(
    axum::extract::State(state): S,
    Path(batch_id): Path<Uuid>,
) -> Result<Json<BatchSummary>, ApiError> {
    Ok(Json(transmit(&state, batch_id).await?))
}

async fn post_status_report(
    axum::extract::State(state): S,
    body: String,
) -> Result<Json<Ingested>, ApiError> {
    let report = iso20022::parse_pain002(&body).map_err(|why| {
        ApiError::Validation(vec![FieldError::new(
            "body",
            format!("not a valid pain.002: {why}"),
        )])
    })?;
    let mut tx = state.mesh.db.begin().await?;
    let done = ingest(&state, &mut tx, &report, &body, "http").await?;
    tx.commit().await?;
    Ok(Json(done))
}

#[derive(Debug, Deserialize)]
struct CorrectionsQuery {
    #[serde(default)]
    all: bool,
}

async fn get_corrections(
    axum::extract::State(state): S,
    Query(q): Query<CorrectionsQuery>,
) -> Result<Json<Vec<Correction>>, ApiError> {
    Ok(Json(corrections(&state, q.all).await?))
}

#[derive(Debug, Deserialize)]
struct ReconciliationQuery {
    district: String,
    month: String,
    #[serde(default)]
    format: Option<String>,
}

async fn get_reconciliation(
    axum::extract::State(state): S,
    headers: HeaderMap,
    Query(q): Query<ReconciliationQuery>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    if q.district.len() != 6 || !q.district.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(FieldError::new("district", "a 6-digit district code"));
    }
    if let Err(e) = policy::Month::parse(&q.month) {
        errors.push(FieldError::new("month", e.to_string()));
    }
    let csv = match q.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            errors.push(FieldError::new("format", format!("{other:?}: json or csv")));
            false
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let rec = ledger::reconcile(&state.mesh.db, &q.district, &q.month).await?;
    Ok(if csv {
        ([(header::CONTENT_TYPE, "text/csv")], ledger::to_csv(&rec)).into_response()
    } else {
        Json(rec).into_response()
    })
}

#[derive(Debug, Deserialize)]
struct RecoveryInput {
    instruction_id: Uuid,
    amount_fen: i64,
    reference: String,
}

async fn post_recovery(
    axum::extract::State(state): S,
    JsonBody(r): JsonBody<RecoveryInput>,
) -> Result<Response, ApiError> {
    let posted =
        ledger::post_recovery(&state.mesh.db, r.instruction_id, r.amount_fen, &r.reference).await?;
    Ok(if posted {
        (
            StatusCode::CREATED,
            Json(serde_json::json!({"posted": true})),
        )
            .into_response()
    } else {
        (StatusCode::OK, Json(serde_json::json!({"posted": false}))).into_response()
    })
}
