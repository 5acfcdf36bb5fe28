//! pain.002 status reports, and the status moves of instructions.
//!
//! - A report is taken in once per `MsgId`, whether it comes over HTTP or `payment.bank.status`.
//! - An instruction only moves forward ([`InstructionStatus::after`]): sent → accepted →
//!   settled | rejected; settled → returned. Each move writes its history row, its ledger entry,
//!   the correction of a rejected or returned payment, and `payment.instruction.status`, in the
//!   trace the instruction was made in: a household's payment steps are in its one trace, not
//!   in the trace of the file or report that moved them.

use crate::domain::{InstructionStatus, ReceivedVia};
use crate::iso20022::{BankStatus, StatusReport};
use crate::ledger;
use crate::state::State;
use crate::store;
use crate::store::ledger::Entry;
use crate::store::Paid;
use contract::channels::PAYMENT_INSTRUCTION_STATUS;
use contract::InstructionStatusChanged;
use mesh::auth::Actor;
use mesh::ChainRef;
use policy::Month;
use serde::Serialize;
use sqlx::PgConnection;
use tracing::Instrument;

/// The file a move is made for.
pub struct FileRef {
    pub msg_id: String,
    pub district: String,
    pub debtor_account: String,
}

/// Moves one instruction, with its history row, ledger entry, correction and event; the event
/// names `actor` when a person's request made the move (a file made, a report posted by hand).
#[allow(
    clippy::too_many_arguments,
    reason = "one move of one instruction: what moves, where to, why, by which file and report, on whose request"
)]
pub async fn move_to(
    state: &State,
    tx: &mut PgConnection,
    p: &Paid,
    to: InstructionStatus,
    reason: Option<&str>,
    file: &FileRef,
    report_msg_id: Option<&str>,
    actor: Option<&Actor>,
) -> Result<(), anyhow::Error> {
    let at = state.mesh.clock.now();
    store::instructions::set_status(tx, p.instruction_id, to, reason, report_msg_id, at).await?;
    if let Some(event) = to.ledger_event() {
        ledger::post(
            tx,
            &Entry {
                fund_account: &file.debtor_account,
                district: &file.district,
                month: &p.month,
                instruction_id: Some(p.instruction_id),
                event,
                amount_fen: p.amount_fen,
                reference: report_msg_id.unwrap_or(&file.msg_id),
                actor: None,
            },
            at,
        )
        .await?;
    }
    if let Some(correction) = to.correction() {
        store::corrections::open(
            tx,
            p.instruction_id,
            p.member_id,
            correction,
            reason.unwrap_or("NARR"),
            at,
        )
        .await?;
    }
    let changed = InstructionStatusChanged {
        instruction_id: p.instruction_id,
        status: to.as_str().to_owned(),
        previous_status: p.status.as_str().to_owned(),
        reason: reason.map(str::to_owned),
        amount_fen: p.amount_fen,
        month: Month::parse(&p.month)
            .map_err(|e| anyhow::anyhow!("stored month {:?}: {e}", p.month))?,
        kind: p.kind.as_str().to_owned(),
        file_msg_id: Some(file.msg_id.clone()),
        report_msg_id: report_msg_id.map(str::to_owned),
        at,
    };
    let chain = ChainRef {
        household_id: p.household_id,
        chain_id: p.chain_id,
        causation_id: None,
    };
    let mut out = state
        .mesh
        .envelope(&chain, Some(p.instruction_id.to_string()), changed);
    if let Some(actor) = actor {
        out = out.by(actor.clone());
    }
    let span = tracing::info_span!(
        "instruction status",
        otel.name = "payment.instruction.status",
        instruction_id = %p.instruction_id,
        status = to.as_str(),
    );
    if p.traceparent.is_some() {
        mesh::telemetry::set_parent(
            &span,
            mesh::telemetry::context_from(p.traceparent.as_deref(), p.tracestate.as_deref()),
        );
    }
    mesh::outbox::enqueue_on(
        &mut *tx,
        &state.mesh.subjects,
        PAYMENT_INSTRUCTION_STATUS,
        &out,
    )
    .instrument(span)
    .await?;
    Ok(())
}

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

/// Takes in one pain.002 in the caller's transaction. Idempotent on the report's MsgId. `actor`
/// is the person who posted it (over HTTP), whom the status events name.
pub async fn ingest(
    state: &State,
    tx: &mut PgConnection,
    report: &StatusReport,
    xml: &str,
    via: ReceivedVia,
    actor: Option<&Actor>,
) -> Result<Ingested, anyhow::Error> {
    let mut out = Ingested {
        msg_id: report.msg_id.clone(),
        original_msg_id: report.original_msg_id.clone(),
        duplicate: false,
        changes: 0,
        unchanged: 0,
        unknown: Vec::new(),
    };
    if !store::status_reports::claim(tx, report, xml, via, state.mesh.clock.now()).await? {
        out.duplicate = true;
        return Ok(out);
    }
    let Some(b) = store::batches::by_msg_id(tx, &report.original_msg_id).await? else {
        out.unknown.push(report.original_msg_id.clone());
        return Ok(out);
    };
    let batch_id = b.batch_id;
    let file = FileRef {
        msg_id: report.original_msg_id.clone(),
        district: b.district,
        debtor_account: b.debtor_account,
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
            let all = store::batches::live_end_to_end_ids(tx, batch_id).await?;
            from_group = true;
            moves = all
                .into_iter()
                .map(|e| (e, g, report.group_reason.clone()))
                .collect();
        }
    }
    for (e2e, code, reason) in moves {
        let Some(p) = store::batches::lock_live_item(tx, batch_id, &e2e).await? else {
            out.unknown.push(e2e);
            continue;
        };
        // A file's rejection speaks of payments not yet settled; a return names the payment.
        let code =
            if from_group && code == BankStatus::Rejected && p.status == InstructionStatus::Settled
            {
                BankStatus::Settled
            } else {
                code
            };
        match p.status.after(code) {
            Some(to) => {
                move_to(
                    state,
                    tx,
                    &p,
                    to,
                    reason.as_deref(),
                    &file,
                    Some(&report.msg_id),
                    actor,
                )
                .await?;
                out.changes += 1;
            }
            None => out.unchanged += 1,
        }
    }
    store::status_reports::set_changes(tx, &report.msg_id, out.changes).await?;
    tracing::info!(
        msg_id = %report.msg_id,
        original = %report.original_msg_id,
        changes = out.changes,
        unchanged = out.unchanged,
        unknown = out.unknown.len(),
        via = via.as_str(),
        "Bank status report taken in."
    );
    Ok(out)
}
