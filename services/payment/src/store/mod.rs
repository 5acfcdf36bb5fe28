//! Payment's SQL, all of it, one file per area. Every business timestamp written here is the
//! service clock's (`at`), never the database's `now()`.

pub mod accounts;
pub mod batches;
pub mod corrections;
pub mod entitlements;
pub mod instructions;
pub mod ledger;
pub mod prices;
pub mod recoveries;
pub mod repayments;
pub mod runs;
pub mod status_reports;

pub use instructions::{by_household, insert_instruction, InstructionView, Paid};
