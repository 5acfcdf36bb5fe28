//! Payment: money out on time, once.
//!
//! - Consumes `eligibility.household.determined`: a dibao or destitute household with an amount
//!   gets its first monthly payment instruction; emits `payment.instruction.created`.
//! - One instruction per (beneficiary, month, kind), with a stable id derived from those three:
//!   a redelivery, a duplicate or a rerun can never create a second one.
//! - The due date is the policy's payment day (by the 10th) of the month paid for, or today when
//!   the determination comes after it.
//! - Tables: `instructions`.

pub mod app;
pub mod config;
pub mod handlers;
pub mod http;
pub mod store;

pub use app::build;
pub use config::Settings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
