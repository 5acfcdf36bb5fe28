//! Payment: money out on time, once.
//!
//! - Consumes `eligibility.household.determined`: a dibao or destitute household with an amount
//!   gets its first monthly payment instruction; emits `payment.instruction.created`.
//! - One instruction per (beneficiary, month, kind), with a stable id derived from those three:
//!   a redelivery, a duplicate or a rerun can never create a second one.
//! - The due date is the policy's payment day (by the 10th) of the month paid for, or today when
//!   the determination comes after it.
//! - Tables: `instructions`.
//! - The bank side ([`bank`], [`iso20022`], [`ledger`]): beneficiaries' accounts, pain.001 files
//!   per dedicated fund account, pain.002 status reports (HTTP or `payment.bank.status`),
//!   corrections and re-payment under a new instruction, the fund accounts' double-entry ledger
//!   and the monthly reconciliation. Tables: `accounts`, `account_history`, `batches`,
//!   `batch_items`, `status_reports`, `instruction_status_history`, `corrections`, `journal`,
//!   `postings`.
//! - Keeps an entitlements register (`entitlements`, `assistance_changes`, `emergency_stages`)
//!   from determinations, `monitor.household.changed` and emergency grants; the monthly run
//!   (`payment_runs`, [`run`]) instructs every household for a month from the parameter set in
//!   force for that month, resumably, in chunks; a stop opens recovery cases (`recoveries`) for
//!   months already instructed. See [`entitlements`] and [`run`].
//! - Tables: `instructions`, `entitlements`, `assistance_changes`, `emergency_stages`,
//!   `payment_runs`, `run_alerts`, `recoveries`.

pub mod app;
pub mod bank;
pub mod config;
pub mod entitlements;
pub mod handlers;
pub mod http;
pub mod iso20022;
pub mod ledger;
pub mod run;
pub mod store;

pub use app::build;
pub use config::Settings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
