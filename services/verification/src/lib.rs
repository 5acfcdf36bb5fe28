//! Verification: household economic verification (家庭经济状况核对).
//!
//! - Consumes `intake.application.submitted`; asks every configured data source on
//!   `verify.source.<source>.query` (request/reply) in parallel, each with a timeout and bounded
//!   retries; emits `verify.household.verified`. An application it has already (reported or
//!   held), sent again under a new event id, is a duplicate: no source is asked again.
//! - A source that does not answer, or answers an error, is a **gap**: named in the report,
//!   `complete = false`, never read as zero.
//! - **Outages heal** ([`hold`]): a source that does not answer holds the application
//!   (`waiting_for_source`) for `source_hold_seconds` while it is probed with backoff; the report
//!   goes out when it answers, or with the gap after the hold. A report with a gap is superseded
//!   by a complete one when the source answers later, unless an officer completed the
//!   verification by hand (consumes `intake.application.manually_verified`).
//! - Keeps a register of the households it verified. Consumes `monitor.household.enrolled`: an
//!   enrolled household is due for re-verification `reverification_months` after enrolment and
//!   for a home visit `home_visit_months` after it (the parameter set in force for its region).
//! - A scheduler re-verifies due households with the same fan-out to the sources and emits
//!   `verify.household.reverified`; the next one is due `reverification_months` later.
//! - HTTP: an application's report and where its verification stands; the re-verification and
//!   home-visit due lists, and recording a home visit, which moves the next one to
//!   `home_visit_months` after it.
//! - Tables: `reports`, `report_sources` (which source said what, when), `register`,
//!   `home_visits`; `held_verifications`, `held_sources`, `source_outages`,
//!   `manual_verifications` (see [`hold`]).

pub mod app;
pub mod config;
pub mod handlers;
pub mod held;
pub mod hold;
pub mod http;
pub mod schedule;
pub mod sources;
pub mod state;
pub mod store;

pub use app::build;
pub use config::Settings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
