//! Payment: money out on time, once.
//!
//! - Consumes `eligibility.household.determined`: a dibao or destitute household with an amount
//!   gets its first monthly payment instruction; emits `payment.instruction.created`.
//! - One instruction per (beneficiary, month, kind), with a stable id derived from those three:
//!   a redelivery, a duplicate or a rerun can never create a second one.
//! - The due date is the policy's payment day (by the 10th) of the month paid for, or today when
//!   the determination comes after it.
//! - Keeps an entitlements register (`entitlements`, `assistance_changes`, `emergency_stages`)
//!   from determinations, `monitor.household.changed` and emergency grants; the monthly run
//!   (`payment_runs`, [`run`]) instructs every household for a month from the parameter set in
//!   force for that month, resumably, in chunks; a stop opens recovery cases (`recoveries`) for
//!   months already instructed. See [`entitlements`] and [`run`].
//! - Tables: `instructions`, `entitlements`, `assistance_changes`, `emergency_stages`,
//!   `payment_runs`, `run_alerts`, `recoveries`.

pub mod app;
pub mod config;
pub mod entitlements;
pub mod handlers;
pub mod http;
pub mod run;
pub mod store;

pub use app::build;
pub use config::Settings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
