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
//! by payment, with the instructions' statuses: each difference is listed.

use serde::Serialize;
use sqlx::{PgConnection, PgPool, Row};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Instructed,
    Settled,
    Rejected,
    Returned,
    Recovered,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Instructed => "instructed",
            Event::Settled => "settled",
            Event::Rejected => "rejected",
            Event::Returned => "returned",
            Event::Recovered => "recovered",
        }
    }

    /// (debit, credit) ledger accounts.
    pub fn accounts(self) -> (&'static str, &'static str) {
        match self {
            Event::Instructed => ("expenditure", "in_transit"),
            Event::Settled => ("in_transit", "bank"),
            Event::Rejected => ("in_transit", "expenditure"),
            Event::Returned => ("bank", "expenditure"),
            Event::Recovered => ("bank", "recoveries"),
        }
    }
}

pub struct Entry<'a> {
    pub fund_account: &'a str,
    pub district: &'a str,
    pub month: &'a str,
    pub instruction_id: Option<Uuid>,
    pub event: Event,
    pub amount_fen: i64,
    pub reference: &'a str,
}

/// Posts one balanced entry; `false` when this instruction already has an entry for the event.
pub async fn post(tx: &mut PgConnection, e: &Entry<'_>) -> sqlx::Result<bool> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO journal (fund_account, district, month, instruction_id, event, amount_fen, reference)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (instruction_id, event) WHERE event <> 'recovered' DO NOTHING RETURNING journal_id",
    )
    .bind(e.fund_account)
    .bind(e.district)
    .bind(e.month)
    .bind(e.instruction_id)
    .bind(e.event.as_str())
    .bind(e.amount_fen)
    .bind(e.reference)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else {
        return Ok(false);
    };
    let (debit, credit) = e.event.accounts();
    sqlx::query(
        "INSERT INTO postings (journal_id, account, debit_fen, credit_fen)
         VALUES ($1, $2, $4, 0), ($1, $3, 0, $4)",
    )
    .bind(id)
    .bind(format!("{}:{debit}", e.fund_account))
    .bind(format!("{}:{credit}", e.fund_account))
    .bind(e.amount_fen)
    .execute(&mut *tx)
    .await?;
    Ok(true)
}

/// Posts money recovered for an instruction (fraud, overpayment) into its fund account. The
/// recoveries themselves are opened by the monthly run; this records the money coming back.
pub async fn post_recovery(
    db: &PgPool,
    instruction_id: Uuid,
    amount_fen: i64,
    reference: &str,
) -> Result<bool, mesh::http::ApiError> {
    use mesh::http::{ApiError, FieldError};
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
    let mut tx = db.begin().await?;
    let r = sqlx::query(
        "SELECT j.fund_account, j.district, j.month FROM journal j
         WHERE j.instruction_id = $1 AND j.event = 'instructed'",
    )
    .bind(instruction_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        ApiError::NotFound(format!(
            "instruction {instruction_id} was never paid from a fund account"
        ))
    })?;
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM journal WHERE instruction_id = $1 AND event = 'recovered' AND reference = $2)",
    )
    .bind(instruction_id)
    .bind(reference)
    .fetch_one(&mut *tx)
    .await?;
    if exists {
        return Ok(false);
    }
    let fund: String = r.get("fund_account");
    let district: String = r.get("district");
    let month: String = r.get("month");
    post(
        &mut tx,
        &Entry {
            fund_account: &fund,
            district: &district,
            month: &month,
            instruction_id: Some(instruction_id),
            event: Event::Recovered,
            amount_fen,
            reference,
        },
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
    fn add(&mut self, amount_fen: i64) {
        self.count += 1;
        self.amount_fen += amount_fen;
    }
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
    /// `instructed − (settled + rejected + returned + pending)`: zero when everything is explained.
    pub difference_fen: i64,
    /// Each payment whose ledger entries do not match its status.
    pub unexplained: Vec<Difference>,
    /// Sum of debits = sum of credits over every entry of the district and month.
    pub balanced: bool,
}

/// The ledger events an instruction in `status` must have, in order.
fn expected(status: &str) -> &'static [&'static str] {
    match status {
        "sent" | "accepted" => &["instructed"],
        "settled" => &["instructed", "settled"],
        "rejected" => &["instructed", "rejected"],
        "returned" => &["instructed", "settled", "returned"],
        _ => &[],
    }
}

pub async fn reconcile(db: &PgPool, district: &str, month: &str) -> sqlx::Result<Reconciliation> {
    let mut rec = Reconciliation {
        district: district.to_owned(),
        month: month.to_owned(),
        instructed: Line::default(),
        settled: Line::default(),
        rejected: Line::default(),
        returned: Line::default(),
        pending: Line::default(),
        recovered: Line::default(),
        difference_fen: 0,
        unexplained: Vec::new(),
        balanced: true,
    };
    // The ledger, per instruction.
    let mut ledger: BTreeMap<Uuid, Vec<(String, i64)>> = BTreeMap::new();
    for r in sqlx::query(
        "SELECT instruction_id, event, amount_fen FROM journal
         WHERE district = $1 AND month = $2 ORDER BY journal_id",
    )
    .bind(district)
    .bind(month)
    .fetch_all(db)
    .await?
    {
        let event: String = r.get("event");
        let amount: i64 = r.get("amount_fen");
        match event.as_str() {
            "instructed" => rec.instructed.add(amount),
            "settled" => rec.settled.add(amount),
            "rejected" => rec.rejected.add(amount),
            "returned" => rec.returned.add(amount),
            "recovered" => rec.recovered.add(amount),
            _ => {}
        }
        if event != "recovered" {
            if let Some(id) = r.get::<Option<Uuid>, _>("instruction_id") {
                ledger.entry(id).or_default().push((event, amount));
            }
        }
    }
    // Settled and later returned counts as returned.
    rec.settled.count -= rec.returned.count;
    rec.settled.amount_fen -= rec.returned.amount_fen;
    let (debits, credits): (i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(p.debit_fen), 0)::bigint, coalesce(sum(p.credit_fen), 0)::bigint
         FROM postings p JOIN journal j USING (journal_id) WHERE j.district = $1 AND j.month = $2",
    )
    .bind(district)
    .bind(month)
    .fetch_one(db)
    .await?;
    rec.balanced = debits == credits;
    let (transit_debit, transit_credit): (i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(p.debit_fen), 0)::bigint, coalesce(sum(p.credit_fen), 0)::bigint
         FROM postings p JOIN journal j USING (journal_id)
         WHERE j.district = $1 AND j.month = $2 AND p.account LIKE '%:in_transit'",
    )
    .bind(district)
    .bind(month)
    .fetch_one(db)
    .await?;
    rec.pending.amount_fen = transit_credit - transit_debit;

    // The payments of the district's files for the month, by status.
    let rows = sqlx::query(
        "SELECT i.instruction_id, i.status, b.amount_fen
         FROM batch_items b JOIN batches f USING (batch_id) JOIN instructions i USING (instruction_id)
         WHERE f.district = $1 AND f.month = $2 AND b.live ORDER BY i.instruction_id",
    )
    .bind(district)
    .bind(month)
    .fetch_all(db)
    .await?;
    let mut in_files = std::collections::HashSet::new();
    for r in rows {
        let id: Uuid = r.get("instruction_id");
        let status: String = r.get("status");
        let amount: i64 = r.get("amount_fen");
        in_files.insert(id);
        if matches!(status.as_str(), "sent" | "accepted") {
            rec.pending.count += 1;
        }
        let have = ledger.get(&id).cloned().unwrap_or_default();
        let events: Vec<String> = have.iter().map(|(e, _)| e.clone()).collect();
        let want = expected(&status);
        let amounts_ok = have.iter().all(|(_, a)| *a == amount);
        if events != want || !amounts_ok {
            rec.unexplained.push(Difference {
                instruction_id: id,
                status: status.clone(),
                ledger_events: events,
                explanation: if amounts_ok {
                    format!("a {status} payment should have the entries {want:?}")
                } else {
                    format!("an entry's amount differs from the payment's {amount} fen")
                },
            });
        }
    }
    for (id, have) in &ledger {
        if !in_files.contains(id) {
            rec.unexplained.push(Difference {
                instruction_id: *id,
                status: "in no file".into(),
                ledger_events: have.iter().map(|(e, _)| e.clone()).collect(),
                explanation: "ledger entries for a payment in no live file of this district and month"
                    .into(),
            });
        }
    }
    rec.difference_fen = rec.instructed.amount_fen
        - (rec.settled.amount_fen
            + rec.rejected.amount_fen
            + rec.returned.amount_fen
            + rec.pending.amount_fen);
    Ok(rec)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_moves_money_between_two_different_accounts() {
        for e in [
            Event::Instructed,
            Event::Settled,
            Event::Rejected,
            Event::Returned,
            Event::Recovered,
        ] {
            let (d, c) = e.accounts();
            assert_ne!(d, c, "{e:?}");
        }
        // instructed − settled − rejected leaves in_transit at zero for a settled payment.
        assert_eq!(Event::Instructed.accounts().1, Event::Settled.accounts().0);
        assert_eq!(Event::Instructed.accounts().1, Event::Rejected.accounts().0);
    }

    #[test]
    fn each_status_has_its_expected_entries() {
        assert_eq!(expected("settled"), ["instructed", "settled"]);
        assert_eq!(expected("returned"), ["instructed", "settled", "returned"]);
        assert!(expected("instructed").is_empty());
    }
}
