//! Payment: money out on time, once.
//!
//! - Consumes `eligibility.household.determined`: a dibao, destitute or single-person dibao
//!   household enters the entitlements register and is instructed at once for its effective
//!   month and any month whose run has begun; emits `payment.instruction.created`.
//! - Consumes `eligibility.emergency.granted`: each stage of the grant is instructed, due on
//!   its date.
//! - Consumes `monitor.household.changed`: a stop (or the end of a gradual exit) for a person or
//!   the household; what was already instructed for those months opens recovery cases
//!   (`payment.recovery.opened`).
//! - Consumes `payment.bank.status` (and takes `POST /v1/bank/status-reports`): pain.002 status
//!   reports, once per MsgId; each move emits `payment.instruction.status`.
//! - The monthly run (`POST /v1/runs`, and the scheduler on `payment_run_day`) instructs every
//!   household of the register for a month, resumably, in chunks; emits
//!   `payment.run.completed`, and `payment.run.alert` when a run failed or is not completed by
//!   `payment_run_deadline_day`.
//! - HTTP: a household's instructions, the runs, the recovery cases, beneficiaries' accounts,
//!   pain.001 files (`POST /v1/batches`, fetched or transmitted to the bank), corrections, the
//!   monthly reconciliation and recovered money posted to the ledger.
//! - Tables: `instructions`, `instruction_status_history`, `entitlements`,
//!   `assistance_changes`, `emergency_stages`, `payment_runs`, `run_alerts`, `recoveries`,
//!   `accounts`, `account_history`, `account_changes`, `members`, `batches`, `batch_items`,
//!   `status_reports`, `corrections`, `journal`, `postings`, `repayment_plans`, `repayments`,
//!   `repayment_allocations`.
//! - Sign-in: every route is for the roles of its operation's `x-roles`; staff of an area see
//!   its households, members, corrections, recoveries and files only (a record outside is "not
//!   found"); a bank account change is proposed by one township officer and in force only once
//!   another officer confirms it ([`accounts`]); decisions, changes and reads of personal or
//!   payment data are in the audit trail (`mesh::audit`).
//! - Rules:
//!   - one instruction per (beneficiary, month, kind, reference), with a stable id derived from
//!     those four: a redelivery, a duplicate or a rerun never creates a second one;
//!   - a month's amounts are `policy::determine` with the parameter set in force for that
//!     month ([`entitlements`]); nothing is paid from a stop's month on;
//!   - due by `policy::dates::pay_by` (the `payment_due_day` of the month, or today when that
//!     day has passed); the scheduler's days are `policy::dates::runs_due` and `run_is_late`;
//!   - an instruction's status only moves forward ([`domain::InstructionStatus::after`]); an
//!     instruction is in at most one live file; a rejected or returned payment is paid again
//!     only under a new instruction, once a corrected account is confirmed;
//!   - every ledger entry balances; the reconciliation checks
//!     `instructed = settled + rejected + returned + pending` ([`ledger`]);
//!   - account numbers and names never reach logs ([`domain::mask`]).
//!
//! Layout: [`config`], [`app`] (wiring), [`state`], [`http`] (routes by area), [`handlers`]
//! (one per consumed channel), [`domain`] and [`iso20022`] (pure), the work by what it is —
//! [`entitlements`], [`instructions`], [`runs`], [`recoveries`], [`accounts`], [`batches`],
//! [`status_reports`], [`corrections`], [`ledger`] — and [`store`], which holds all the SQL.

pub mod accounts;
pub mod app;
pub mod batches;
pub mod config;
pub mod corrections;
pub mod domain;
pub mod entitlements;
pub mod handlers;
pub mod http;
pub mod instructions;
pub mod iso20022;
pub mod ledger;
pub mod prices;
pub mod recoveries;
pub mod repayments;
pub mod risk;
pub mod runs;
pub mod state;
pub mod status_reports;
pub mod store;

pub use app::build;
pub use config::Settings;
pub use state::State;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
