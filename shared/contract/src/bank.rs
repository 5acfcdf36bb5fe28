//! Payloads of payment's bank side: status reports from the bank, instruction status changes.

use chrono::{DateTime, Utc};
use policy::Month;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `payment.bank.status`: an ISO 20022 pain.002 status report from the bank, as the document.
/// The same report (same `msg_id`) taken twice changes nothing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BankStatusReport {
    /// The report's `GrpHdr/MsgId`.
    pub msg_id: String,
    /// The pain.001 file it answers (`OrgnlGrpInfAndSts/OrgnlMsgId`).
    pub original_msg_id: String,
    /// The pain.002 XML document (pain.002.001.11).
    pub xml: String,
}

/// `payment.instruction.status`: an instruction moved forward: `sent` (in a file for the bank),
/// `accepted`, `settled`, `rejected` (with the bank's reason code), `returned` (after settling).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InstructionStatusChanged {
    pub instruction_id: Uuid,
    pub status: String,
    pub previous_status: String,
    /// ISO reason code of a rejection or return (`AC01`, `AC04`, `AM05`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub amount_fen: i64,
    pub month: Month,
    pub kind: String,
    /// The pain.001 file (`MsgId`) that carries the payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_msg_id: Option<String>,
    /// The pain.002 report (`MsgId`) that moved it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_msg_id: Option<String>,
    pub at: DateTime<Utc>,
}
