//! Payment's pure types and rules: the states and kinds of its records, the ledger's events,
//! masking. No SQL, no HTTP, no NATS here (the enums only derive how they are stored).

mod kinds;
mod status;

pub use kinds::{AlertReason, ChangeKind, InstructionKind, PayeeKind, ReceivedVia};
pub use status::{CorrectionStatus, InstructionStatus, RecoveryStatus, RunStatus};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Namespace of the ids payment derives for its runs and recoveries.
pub const RUN_NAMESPACE: Uuid = Uuid::from_u128(0x1b7e_40c2_8d0f_4a57_b3c6_5f02_91d4_e7a8);

/// An entry of the fund accounts' double-entry ledger (`journal.event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum LedgerEvent {
    Instructed,
    Settled,
    Rejected,
    Returned,
    Recovered,
}

impl LedgerEvent {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Instructed => "instructed",
            Self::Settled => "settled",
            Self::Rejected => "rejected",
            Self::Returned => "returned",
            Self::Recovered => "recovered",
        }
    }

    /// (debit, credit) ledger accounts.
    pub const fn accounts(self) -> (&'static str, &'static str) {
        match self {
            Self::Instructed => ("expenditure", "in_transit"),
            Self::Settled => ("in_transit", "bank"),
            Self::Rejected => ("in_transit", "expenditure"),
            Self::Returned => ("bank", "expenditure"),
            Self::Recovered => ("bank", "recoveries"),
        }
    }
}

/// What instructing some households for a month came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub households: i64,
    pub skipped: i64,
    pub created: i64,
    pub existing: i64,
    pub total_fen: i64,
    pub created_fen: i64,
}

/// A corrected payment: the rejected or returned instruction and the new one that pays it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Repaid {
    pub instruction_id: Uuid,
    pub new_instruction_id: Uuid,
}

/// An account number (`6222020200112233` → `6222********2233`) or a name (`王芳` → `王**`,
/// `Wang Fang` → `Wang **`) as responses show them (`vault::mask`, public style): account
/// numbers and names never reach logs or responses unmasked.
pub fn mask(s: &str) -> String {
    use vault::mask::{account, name, Style};
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        account(s, Style::Public)
    } else {
        name(s, Style::Public)
    }
}

/// Whether `s` is a 6-digit district code.
pub fn is_district(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_are_masked() {
        assert_eq!(mask("6222020200112233"), "6222********2233");
        assert_eq!(mask("123"), "***");
        assert_eq!(mask("Wang Fang"), "Wang **");
        assert_eq!(mask("王芳"), "王**");
        assert_eq!(mask("王"), "***");
    }

    #[test]
    fn every_event_moves_money_between_two_different_accounts() {
        for e in [
            LedgerEvent::Instructed,
            LedgerEvent::Settled,
            LedgerEvent::Rejected,
            LedgerEvent::Returned,
            LedgerEvent::Recovered,
        ] {
            let (d, c) = e.accounts();
            assert_ne!(d, c, "{e:?}");
        }
        // instructed − settled − rejected leaves in_transit at zero for a settled payment.
        assert_eq!(
            LedgerEvent::Instructed.accounts().1,
            LedgerEvent::Settled.accounts().0
        );
        assert_eq!(
            LedgerEvent::Instructed.accounts().1,
            LedgerEvent::Rejected.accounts().0
        );
    }
}
