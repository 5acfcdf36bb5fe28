//! Monitoring: the low-income population database, referral push, warnings, and one chain per
//! household (一户一条救助链).
//!
//! - Consumes `eligibility.household.determined`: enrols a low-income household and its members,
//!   pushes each member's relief lines on `referral.<dept>.push`, emits `monitor.household.enrolled`.
//! - Consumes `referral.<dept>.feedback` under the department answer protocol
//!   (`domain::answers`, `contract::answers`): applies an answer to its referral with its chain
//!   step in one transaction, or refuses it (`refused_feedback`, `GET /v1/refused-feedback`) and
//!   tells the department on `referral.<dept>.refused`.
//! - Consumes `verify.household.reverified` (the last verification date; a gradual exit when a
//!   dibao household's income reaches the standard, emitting `monitor.household.changed`) and
//!   `monitor.household.changed` (statuses with the months they hold from); sweeps for overdue
//!   re-verifications (`reverification_overdue` warnings).
//! - Compares departmental feeds with the database (`monitor.feed.{source}` and
//!   `POST /v1/feeds/{source}`) and turns matches into actions: `monitor.household.changed`,
//!   `referral.<dept>.push`, warnings. Opens active-discovery cases from reports
//!   (`monitor.discovery.reported` and `POST /v1/discoveries`).
//! - Records every event of a chain channel that concerns a household (`chain-*` consumers on
//!   `intake.>`, `verify.household.>`, `eligibility.>`, `monitor.household.>`, `referral.>`,
//!   `payment.>`), with its trace id, once per fact, for a household whose chain its application
//!   or emergency grant opened (feedback is recorded by its consumer, as applied), and serves
//!   `GET /v1/households/{id}/chain`: every step in
//!   order, referrals with their deadlines, the omissions (referrals never answered past their
//!   deadline), duplicate assistance and the household's warnings.
//! - Warnings (`/v1/warnings`): verified on site by a township officer, disposed of in one of four
//!   ways, escalated to the county when overdue; a periodic sweep (also `POST /v1/sweeps`) raises
//!   warnings for referrals unanswered past their deadline. Supervision reports
//!   (`/v1/reports/monthly`, `/v1/reports/quarterly`). The staff page (`/staff`).
//! - Sign-in (`mesh::auth`): each route allows the roles of its operation (`x-roles` of
//!   docs/openapi.yaml); households, chains, referrals, warnings and reports are filtered by the
//!   token's areas in the queries (out of area is 404, as what does not exist), referrals also
//!   by the token's department; who verifies, disposes of, reports or posts is the token's
//!   officer, stored, shown and carried as the events' `actor`; every change and every read of
//!   personal data is in the audit trail (`mesh::audit`). The staff page is open, its data calls
//!   carry the token it is given.
//! - Tables: `households`, `persons`, `population_history`, `referrals`, `referral_answers`,
//!   `refused_feedback`, `chain_events`, `warnings`, `feed_records`, `discovery_reports`.
//! - Rules it owns: the feed rules (`domain::rules::decide`), the gradual exit after a
//!   re-verification (`domain::rules::after_reverification`), the department of a hardship
//!   (`domain::WarningKind::department_for_hardship`), the one referral push and its id
//!   (`domain::referrals`), duplicate assistance (`domain::warnings::overlapping`, by
//!   `policy::relief::duplicates`), the supervision score (`domain::reports::score`); every
//!   date by `policy::dates` (`deadline`, `stop_from_after_death`, `gradual_exit_stop`,
//!   `reverification_overdue_before`) with the parameter set in force for the region.
//!
//! Layout: `config` and `app` (wiring), `state`, `handlers` (one fn per consumed channel),
//! `http` (every route), `ops` (what a handler, a route or a sweep does in one transaction),
//! `domain` (pure types and rules), `store` (all SQL).

pub mod app;
pub mod config;
pub mod domain;
pub mod handlers;
pub mod http;
pub mod ops;
pub mod state;
pub mod store;

pub use app::build;
pub use config::Settings;
pub use state::State;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
