//! Relief: one specialist department per process (`relief --department <dept>`), each deployable,
//! scalable and permissioned on its own.
//!
//! - Consumes `referral.<dept>.push`; decides with the department's rules
//!   (`policy::relief::decide`, amounts from the parameter set in force); answers on
//!   `referral.<dept>.feedback` with the referral id, the chain and `causation_id` = the push.
//! - The same referral pushed again is answered with the same outcome; the same referral id with
//!   a different body is rejected as a modified request and never applied.
//! - Tables: `cases`.

pub mod app;
pub mod care;
pub mod claims;
pub mod config;
pub mod handlers;
pub mod http;
pub mod store;

pub use app::build;
pub use config::Settings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
