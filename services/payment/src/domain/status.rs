//! The states of payment's records, as their tables hold them and as the HTTP and NATS JSON
//! shows them (the same snake_case words).

use super::LedgerEvent;
use crate::iso20022::BankStatus;
use serde::{Deserialize, Serialize};

/// Where an instruction stands. It only moves forward: instructed → sent (in a live pain.001
/// file) → accepted → settled | rejected; settled → returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum InstructionStatus {
    Instructed,
    Sent,
    Accepted,
    Settled,
    Rejected,
    Returned,
}

impl InstructionStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Instructed => "instructed",
            Self::Sent => "sent",
            Self::Accepted => "accepted",
            Self::Settled => "settled",
            Self::Rejected => "rejected",
            Self::Returned => "returned",
        }
    }

    /// Where the status stands in the forward-only order; settled and rejected are level.
    pub const fn rank(self) -> u8 {
        match self {
            Self::Instructed => 0,
            Self::Sent => 1,
            Self::Accepted => 2,
            Self::Settled | Self::Rejected => 3,
            Self::Returned => 4,
        }
    }

    /// Whether an instruction in `from` may move to `self`.
    const fn may_follow(self, from: Self) -> bool {
        match self {
            Self::Returned => matches!(from, Self::Settled),
            Self::Rejected | Self::Settled => matches!(from, Self::Sent | Self::Accepted),
            Self::Accepted => matches!(from, Self::Sent),
            // Moved to by payment itself (a file), never by the bank.
            Self::Instructed | Self::Sent => false,
        }
    }

    /// The status an instruction moves to on the bank's `code`, or `None` when it stays (a
    /// late, repeated or backward status, or a payment in no file).
    pub fn after(self, code: BankStatus) -> Option<Self> {
        let to = match code {
            // A rejection after settlement is a return.
            BankStatus::Rejected if self == Self::Settled => Self::Returned,
            BankStatus::Rejected => Self::Rejected,
            BankStatus::Settled => Self::Settled,
            BankStatus::Accepted => Self::Accepted,
        };
        (to.may_follow(self) && to.rank() > self.rank()).then_some(to)
    }

    /// The ledger entry that moving to this status posts, if any.
    pub const fn ledger_event(self) -> Option<LedgerEvent> {
        match self {
            Self::Sent => Some(LedgerEvent::Instructed),
            Self::Settled => Some(LedgerEvent::Settled),
            Self::Rejected => Some(LedgerEvent::Rejected),
            Self::Returned => Some(LedgerEvent::Returned),
            Self::Instructed | Self::Accepted => None,
        }
    }

    /// The ledger events an instruction in this status must have, in order.
    pub const fn expected_entries(self) -> &'static [LedgerEvent] {
        use LedgerEvent::{Instructed, Rejected, Returned, Settled};
        match self {
            Self::Instructed => &[],
            Self::Sent | Self::Accepted => &[Instructed],
            Self::Settled => &[Instructed, Settled],
            Self::Rejected => &[Instructed, Rejected],
            Self::Returned => &[Instructed, Settled, Returned],
        }
    }

    /// Paid into a file, not yet settled or rejected.
    pub const fn in_transit(self) -> bool {
        match self {
            Self::Sent | Self::Accepted => true,
            Self::Instructed | Self::Settled | Self::Rejected | Self::Returned => false,
        }
    }

    /// The correction a move to this status opens: a rejected or returned payment waits for
    /// the township to correct the account.
    pub const fn correction(self) -> Option<CorrectionStatus> {
        match self {
            Self::Rejected => Some(CorrectionStatus::Rejected),
            Self::Returned => Some(CorrectionStatus::Returned),
            Self::Instructed | Self::Sent | Self::Accepted | Self::Settled => None,
        }
    }
}

impl std::fmt::Display for InstructionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A correction is opened by a rejected or returned payment (`corrections.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CorrectionStatus {
    Rejected,
    Returned,
}

/// A month's payment run (`payment_runs.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum RunStatus {
    Planned,
    Running,
    Completed,
    Failed,
}

impl RunStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An overpayment recovery case (`recoveries.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum RecoveryStatus {
    Open,
    Recovered,
    Waived,
}

#[cfg(test)]
mod tests {
    use super::InstructionStatus::*;
    use super::*;

    fn next_status(s: InstructionStatus, code: BankStatus) -> Option<InstructionStatus> {
        s.after(code)
    }

    #[test]
    fn statuses_only_move_forward() {
        use BankStatus::{Accepted as A, Rejected as R, Settled as S};
        assert_eq!(next_status(Sent, A), Some(Accepted));
        assert_eq!(next_status(Sent, S), Some(Settled));
        assert_eq!(next_status(Accepted, S), Some(Settled));
        assert_eq!(next_status(Accepted, R), Some(Rejected));
        assert_eq!(next_status(Settled, R), Some(Returned));
        // Late or repeated: no move back.
        assert_eq!(next_status(Settled, A), None);
        assert_eq!(next_status(Settled, S), None);
        assert_eq!(next_status(Rejected, S), None);
        assert_eq!(next_status(Rejected, A), None);
        assert_eq!(next_status(Returned, R), None);
        assert_eq!(next_status(Returned, S), None);
        // Not in a file: the bank cannot move it.
        assert_eq!(next_status(Instructed, S), None);
    }

    #[test]
    fn each_status_has_its_expected_entries() {
        use LedgerEvent as E;
        assert_eq!(Settled.expected_entries(), [E::Instructed, E::Settled]);
        assert_eq!(
            Returned.expected_entries(),
            [E::Instructed, E::Settled, E::Returned]
        );
        assert!(Instructed.expected_entries().is_empty());
    }

    #[test]
    fn the_words_are_those_of_the_tables_and_the_json() {
        for s in [Instructed, Sent, Accepted, Settled, Rejected, Returned] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        for s in [
            RunStatus::Planned,
            RunStatus::Running,
            RunStatus::Completed,
            RunStatus::Failed,
        ] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
    }
}
