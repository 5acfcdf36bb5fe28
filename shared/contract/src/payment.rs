//! Payloads of payment's monthly run and its recovery cases.

use chrono::{DateTime, NaiveDate, Utc};
use policy::Month;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `payment.run.completed`: the monthly run for `month` went through every enrolled household.
/// Carries the nil household id: a run belongs to no household's chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunCompleted {
    /// `YYYY-MM`.
    pub month: Month,
    /// Households looked at.
    pub households: i64,
    /// Instructions the run created.
    pub instructions_created: i64,
    /// Instructions for the month that already existed (made when the household was
    /// determined, or by an earlier attempt of the run); not created again.
    pub instructions_existing: i64,
    /// Amount of every instruction of the month the run found due (created and existing).
    pub total_fen: i64,
    /// Amount of the instructions the run created.
    pub created_fen: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// `payment.run.alert`: the run for `month` failed, or was not completed by its deadline day;
/// people may not be paid by `pay_by`. Carries the nil household id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunAlert {
    pub month: Month,
    /// `failed` or `not_completed_by_deadline`.
    pub reason: String,
    /// The run's status when the alert was raised (`missing` when it never started).
    pub status: String,
    /// The day by which the run must be completed (`payment_run_deadline_day`).
    pub deadline: NaiveDate,
    /// The day by which the month must be paid (`payment_due_day`).
    pub pay_by: NaiveDate,
    /// What went wrong, when the run recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `payment.recovery.opened`: money was instructed for a month in which the person or
/// household was no longer entitled to it (a death, a stop, the end of a gradual exit):
/// a recovery case is opened for the overpaid amount of that instruction.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecoveryOpened {
    pub recovery_id: Uuid,
    pub instruction_id: Uuid,
    pub beneficiary_member_id: Uuid,
    pub month: Month,
    pub kind: String,
    /// Overpaid: the instruction's amount less what is still due for that month.
    pub amount_fen: i64,
    /// The change's reason (`death`, `income_above_standard`, …).
    pub reason: String,
    /// The `monitor.household.changed` that showed the overpayment.
    pub change_id: Uuid,
}
