//! Double-entry ledger of the dedicated fund accounts, and the monthly reconciliation.
//!
//! Each fund account has four ledger accounts, named `<fund account>:<name>`:
//! `bank` (the money in the dedicated account), `in_transit` (paid into a file, not yet
//! settled), `expenditure` (assistance paid) and `recoveries` (money recovered).
//!
//! | event      | debit       | credit      |
//! |------------|-------------|-------------|
//! | instructed | expenditure | in_transit  |
//! | settled    | in_transit  | bank        |
//! | rejected   | in_transit  | expenditure |
//! | returned   | bank        | expenditure |
//! | recovered  | bank        | recoveries  |
//!
//! Every journal entry's postings balance; the database refuses a transaction that leaves one
//! unbalanced (a deferred constraint trigger). The reconciliation of a district and month
//! checks `instructed = settled + rejected + returned + pending` and compares the ledger, payment
//! by payment, with the instructions' statuses: each difference is listed. Payments instructed
//! but in no file for want of an account are not in the ledger yet; the reconciliation counts
//! them on a line of their own (`blocked`), so that nothing owed is out of sight.

use crate::domain::LedgerEvent;
use crate::store;
use crate::store::ledger::Entry;
use chrono::{DateTime, Utc};
use mesh::audit;
use mesh::auth::Acting;
use mesh::http::{ApiError, FieldError};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// Posts one balanced entry; `false` when this instruction already has an entry for the event.
pub async fn post(tx: &mut PgConnection, e: &Entry<'_>, at: DateTime<Utc>) -> sqlx::Result<bool> {
    let Some(id) = store::ledger::insert_journal(tx, e, at).await? else {
        return Ok(false);
    };
    let (debit, credit) = e.event.accounts();
    store::ledger::insert_postings(
        tx,
        id,
        &format!("{}:{debit}", e.fund_account),
        &format!("{}:{credit}", e.fund_account),
        e.amount_fen,
    )
    .await?;
    Ok(true)
}

/// Posts money recovered for an instruction (fraud, overpayment) into its fund account, by a
/// county officer of the household's area (`acting`, recorded with the entry and in the audit
/// trail). The recoveries themselves are opened by a stop ([`crate::recoveries`]); this records
/// the money coming back. An instruction outside the caller's areas is not found.
pub async fn post_recovery(
    state: &crate::state::State,
    acting: &Acting,
    instruction_id: Uuid,
    amount_fen: i64,
    reference: &str,
    purpose: &axum::http::HeaderMap,
) -> Result<bool, ApiError> {
    if amount_fen <= 0 {
        return Err(ApiError::Validation(vec![FieldError::new(
            "amount_fen",
            "a positive amount in fen",
        )]));
    }
    if reference.trim().is_empty() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "reference",
            "the recovery's reference (receipt, case) is required",
        )]));
    }
    let actor = acting.actor();
    let at = state.mesh.clock.now();
    let mut tx = state.mesh.db.begin().await?;
    let paid = store::ledger::paid_from(&mut tx, instruction_id, &acting.region_patterns())
        .await?
        .ok_or_else(|| {
            ApiError::NotFound("this instruction was never paid from a fund account".into())
        })?;
    if store::ledger::recovery_posted(&mut tx, instruction_id, reference).await? {
        return Ok(false);
    }
    post(
        &mut tx,
        &Entry {
            fund_account: &paid.fund_account,
            district: &paid.district,
            month: &paid.month,
            instruction_id: Some(instruction_id),
            event: LedgerEvent::Recovered,
            amount_fen,
            reference,
            actor: Some(&actor),
        },
        at,
    )
    .await?;
    audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        audit::Entry::new("ledger.recovery.post", "instruction", instruction_id)
            .household(paid.household_id)
            .person(paid.member_id)
            .purpose_from(purpose)
            .detail(serde_json::json!({
                "amount_fen": amount_fen,
                "district": paid.district,
                "month": paid.month,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Line {
    pub count: i64,
    pub amount_fen: i64,
}

impl Line {
    fn add(&mut self, amount_fen: i64) -> anyhow::Result<()> {
        self.count += 1;
        self.amount_fen = sum(self.amount_fen, amount_fen)?;
        Ok(())
    }
}

/// Money adds up checked: a district's month that overflows 64-bit fen is an error, not a
/// wrong figure.
fn sum(a: i64, b: i64) -> anyhow::Result<i64> {
    a.checked_add(b)
        .ok_or_else(|| anyhow::anyhow!("the reconciliation's sums are out of range"))
}

fn less(a: i64, b: i64) -> anyhow::Result<i64> {
    a.checked_sub(b)
        .ok_or_else(|| anyhow::anyhow!("the reconciliation's sums are out of range"))
}

#[derive(Debug, Serialize)]
pub struct Difference {
    pub instruction_id: Uuid,
    pub status: String,
    pub ledger_events: Vec<String>,
    pub explanation: String,
}

#[derive(Debug, Serialize)]
pub struct Reconciliation {
    pub district: String,
    pub month: String,
    /// Paid into files (from the ledger).
    pub instructed: Line,
    /// Settled and not returned.
    pub settled: Line,
    pub rejected: Line,
    pub returned: Line,
    /// In a file, not yet settled or rejected: the `in_transit` balance.
    pub pending: Line,
    pub recovered: Line,
    /// Instructed for the month and in no file for want of an account (not in the ledger yet):
    /// the township must set the beneficiary's account.
    pub blocked: Line,
    /// `instructed − (settled + rejected + returned + pending)`: zero when everything is explained.
    pub difference_fen: i64,
    /// Each payment whose ledger entries do not match its status.
    pub unexplained: Vec<Difference>,
    /// Sum of debits = sum of credits over every entry of the district and month.
    pub balanced: bool,
}

pub async fn reconcile(db: &PgPool, district: &str, month: &str) -> anyhow::Result<Reconciliation> {
    let mut rec = Reconciliation {
        district: district.to_owned(),
        month: month.to_owned(),
        instructed: Line::default(),
        settled: Line::default(),
        rejected: Line::default(),
        returned: Line::default(),
        pending: Line::default(),
        recovered: Line::default(),
        blocked: Line::default(),
        difference_fen: 0,
        unexplained: Vec::new(),
        balanced: true,
    };
    // The ledger, per instruction.
    let mut ledger: BTreeMap<Uuid, Vec<(LedgerEvent, i64)>> = BTreeMap::new();
    for (instruction_id, event, amount) in store::ledger::entries(db, district, month).await? {
        let line = match event {
            LedgerEvent::Instructed => &mut rec.instructed,
            LedgerEvent::Settled => &mut rec.settled,
            LedgerEvent::Rejected => &mut rec.rejected,
            LedgerEvent::Returned => &mut rec.returned,
            LedgerEvent::Recovered => &mut rec.recovered,
        };
        line.add(amount)?;
        if event != LedgerEvent::Recovered {
            if let Some(id) = instruction_id {
                ledger.entry(id).or_default().push((event, amount));
            }
        }
    }
    // Settled and later returned counts as returned.
    rec.settled.count -= rec.returned.count;
    rec.settled.amount_fen = less(rec.settled.amount_fen, rec.returned.amount_fen)?;
    let (debits, credits) = store::ledger::totals(db, district, month).await?;
    rec.balanced = debits == credits;
    let (transit_debit, transit_credit) = store::ledger::in_transit(db, district, month).await?;
    rec.pending.amount_fen = less(transit_credit, transit_debit)?;
    let (count, amount_fen) = store::ledger::blocked_for_account(db, district, month).await?;
    rec.blocked = Line { count, amount_fen };

    // The payments of the district's files for the month, by status.
    let mut in_files = HashSet::new();
    for (id, status, amount) in store::ledger::in_files(db, district, month).await? {
        in_files.insert(id);
        if status.in_transit() {
            rec.pending.count += 1;
        }
        let have = ledger.get(&id).cloned().unwrap_or_default();
        let events: Vec<LedgerEvent> = have.iter().map(|(e, _)| *e).collect();
        let want = status.expected_entries();
        let amounts_ok = have.iter().all(|(_, a)| *a == amount);
        if events != want || !amounts_ok {
            rec.unexplained.push(Difference {
                instruction_id: id,
                status: status.as_str().to_owned(),
                ledger_events: names(&events),
                explanation: if amounts_ok {
                    format!(
                        "a {status} payment should have the entries {:?}",
                        names(want)
                    )
                } else {
                    format!("an entry's amount differs from the payment's {amount} fen")
                },
            });
        }
    }
    for (id, have) in &ledger {
        if !in_files.contains(id) {
            let events: Vec<LedgerEvent> = have.iter().map(|(e, _)| *e).collect();
            rec.unexplained.push(Difference {
                instruction_id: *id,
                status: "in no file".into(),
                ledger_events: names(&events),
                explanation: "ledger entries for a payment in no live file of this district and month"
                    .into(),
            });
        }
    }
    let explained = [
        rec.rejected.amount_fen,
        rec.returned.amount_fen,
        rec.pending.amount_fen,
    ]
    .into_iter()
    .try_fold(rec.settled.amount_fen, sum)?;
    rec.difference_fen = less(rec.instructed.amount_fen, explained)?;
    Ok(rec)
}

fn names(events: &[LedgerEvent]) -> Vec<String> {
    events.iter().map(|e| e.as_str().to_owned()).collect()
}

/// The reconciliation as CSV: one line per figure, then one per unexplained difference.
pub fn to_csv(r: &Reconciliation) -> String {
    let mut out = String::from("district,month,line,count,amount_fen,amount_yuan,detail\n");
    for (name, l) in [
        ("instructed", r.instructed),
        ("settled", r.settled),
        ("rejected", r.rejected),
        ("returned", r.returned),
        ("pending", r.pending),
        ("recovered", r.recovered),
        ("blocked", r.blocked),
    ] {
        out.push_str(&format!(
            "{},{},{name},{},{},{},\n",
            r.district,
            r.month,
            l.count,
            l.amount_fen,
            crate::iso20022::yuan(l.amount_fen)
        ));
    }
    out.push_str(&format!(
        "{},{},difference,{},{},{},{}\n",
        r.district,
        r.month,
        r.unexplained.len(),
        r.difference_fen,
        crate::iso20022::yuan(r.difference_fen),
        if r.balanced { "balanced" } else { "UNBALANCED" }
    ));
    for d in &r.unexplained {
        out.push_str(&format!(
            "{},{},unexplained,1,,,{} {} [{}]: {}\n",
            r.district,
            r.month,
            d.instruction_id,
            d.status,
            d.ledger_events.join(" "),
            d.explanation.replace(',', ";")
        ));
    }
    out
}
