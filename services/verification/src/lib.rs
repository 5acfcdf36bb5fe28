//! Verification: household economic verification (家庭经济状况核对).
//!
//! - Consumes `intake.application.submitted`; asks every configured data source on
//!   `verify.source.<source>.query` (request/reply) in parallel, each with a timeout and bounded
//!   retries; emits `verify.household.verified`.
//! - A source that does not answer, or answers an error, is a **gap**: named in the report,
//!   `complete = false`, never read as zero.
//! - Tables: `reports`, `report_sources` (which source said what, when).

pub mod app;
pub mod config;
pub mod handlers;
pub mod http;
pub mod store;

pub use app::build;
pub use config::Settings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
