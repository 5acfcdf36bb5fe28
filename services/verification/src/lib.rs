//! Verification: household economic verification (家庭经济状况核对).
//!
//! - Consumes `intake.application.submitted`; asks every configured data source on
//!   `verify.source.<source>.query` (request/reply) in parallel, each with a timeout and bounded
//!   retries; emits `verify.household.verified`.
//! - A source that does not answer, or answers an error, is a **gap**: named in the report,
//!   `complete = false`, never read as zero.
//! - Keeps a register of the households it verified. Consumes `monitor.household.enrolled`: an
//!   enrolled household is due for re-verification `reverification_months` after enrolment and
//!   for a home visit `home_visit_months` after it (the parameter set in force for its region).
//! - A scheduler re-verifies due households with the same fan-out to the sources and emits
//!   `verify.household.reverified`; the next one is due `reverification_months` later.
//! - HTTP: the re-verification and home-visit due lists, and recording a home visit, which moves
//!   the next one to `home_visit_months` after it.
//! - Tables: `reports`, `report_sources` (which source said what, when), `register`,
//!   `home_visits`.

pub mod app;
pub mod config;
pub mod handlers;
pub mod http;
pub mod schedule;
pub mod sources;
pub mod state;
pub mod store;

pub use app::build;
pub use config::Settings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
