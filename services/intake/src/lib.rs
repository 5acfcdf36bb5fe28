//! Intake: where a household applies, and where its application is determined.
//!
//! - HTTP `POST /v1/applications` validates the household (resident ID checksums, region code
//!   covered by a parameter set) and emits `intake.application.submitted`.
//! - Consumes `verify.household.verified`: a complete report is determined against every tier at
//!   once (one application, classified determination) and `eligibility.household.determined` is
//!   emitted; a report with gaps sends the case to manual verification
//!   (`intake.application.manual_review`), never reading a missing source as zero.
//! - HTTP `/v1/emergencies`: emergency temporary assistance, act first within 3 × the monthly
//!   standard, a county case conference above it (`eligibility.emergency.granted`).
//! - Public `/v1/disclosures/…`: the village's notice of approval disclosures (审批公示) for the
//!   region's `disclosure_notice_days`, the long-term list of current recipients (长期公示),
//!   objections during the notice (`intake.disclosure.objected`, a report for monitoring).
//!   Consumes `monitor.household.changed` to take a stopped household off the long-term list.
//! - Tables: `disclosure_notices`, `disclosure_objections`, `household_stops`, `emergencies`, `applications`, `application_members`, `determinations`, `application_history`.
//! - Rules: `policy::determine` with the parameter set in force for the region and date.

pub mod app;
pub mod config;
pub mod disclosure;
pub mod emergency;
pub mod handlers;
pub mod http;
pub mod risk;
pub mod state;
pub mod store;

pub use app::build;
pub use config::Settings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
