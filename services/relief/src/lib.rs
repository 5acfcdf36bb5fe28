//! Relief: one specialist department per process (`relief --department <dept>`), each deployable,
//! scalable and permissioned on its own.
//!
//! - Consumes `referral.<dept>.push`; decides with the department's rules
//!   (`policy::relief::decide`, amounts from the parameter set in force); answers on
//!   `referral.<dept>.feedback` with the referral id, the chain and `causation_id` = the push.
//! - The same referral pushed again is answered with the same outcome; the same referral id with
//!   a different body is rejected as a modified request and never applied.
//! - No duplicate assistance: a grant the person already has for an overlapping period (the
//!   push's prior assistance, the department's own grants) is not made again; the answer names
//!   the earlier grant. Disaster aid: one feedback per kind of aid.
//! - Medical only: bills (`POST /v1/medical/claims`, [`claims`]) and care service orders with
//!   charity matching ([`care`]).
//! - Sign-in: a department's officer or system works at its own department's instance only (403
//!   otherwise, [`http::scope`]); auditors read the records of their areas. A review's answer is
//!   the officer's of the token (`decided_by` `officer:<sub>`, the envelope's actor); bills and
//!   charity offers record who sent them; decisions, changes and reads are in the audit trail.
//! - Tables: `cases`, `grants`, `medical_claims`, `medical_years`, `service_orders`,
//!   `charity_offers`.

pub mod app;
pub mod care;
pub mod claims;
pub mod config;
pub mod handlers;
pub mod http;
pub mod state;
pub mod store;

pub use app::build;
pub use config::Settings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
