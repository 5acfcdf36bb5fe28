//! Monitoring: the low-income population database, referral push, and one chain per household
//! (一户一条救助链).
//!
//! - Consumes `eligibility.household.determined`: enrols a low-income household and its members,
//!   pushes each member's relief lines on `referral.<dept>.push`, emits `monitor.household.enrolled`.
//! - Consumes `referral.<dept>.feedback`: records each department's answer on its referral.
//! - Keeps the population database over time (`population`): statuses with the months they hold
//!   from and a history of every change with its cause (table `population_history`); consumes
//!   `verify.household.reverified` (gradual exit when income reaches the standard) and
//!   `monitor.household.changed`; sweeps for overdue re-verifications.
//! - Compares departmental feeds with the database (`feeds`, `monitor.feed.{source}` and
//!   `POST /v1/feeds/{source}`, table `feed_records`) and turns matches into actions (`rules`);
//!   opens active-discovery cases from reports (`discovery`, `monitor.discovery.reported` and
//!   `POST /v1/discoveries`, table `discovery_reports`).
//! - Records every event of every stream that concerns a household (`chain-*` consumers), with
//!   its trace id, and serves `GET /v1/households/{id}/chain`: every step in order, referrals
//!   with their deadlines, and the omissions (referrals never answered past their deadline).
//!   The chain also flags duplicate assistance (two overlapping grants of one kind to one person)
//!   and lists the household's warnings; every push carries the person's running grants.
//! - Warnings (`warnings.rs`): verified on site by a township officer, disposed of in one of four
//!   ways, escalated to the county when overdue; a periodic sweep (also `POST /v1/sweeps`) raises
//!   warnings for referrals unanswered past their deadline. Supervision reports (`reports.rs`).
//! - Tables: `households`, `persons`, `referrals`, `chain_events`, `warnings`.

pub mod app;
pub mod config;
pub mod discovery;
pub mod feeds;
pub mod handlers;
pub mod http;
pub mod reports;
pub mod store;
pub mod warnings;

pub mod population;
pub mod rules;

pub use app::build;
pub use config::Settings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
