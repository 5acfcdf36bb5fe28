//! The end-to-end tests, in one test binary: every service in this process against the real
//! NATS and PostgreSQL on 127.0.0.1, each test with its own subject prefix and databases. One
//! binary links the services once, not once per file. `tests/tracing.rs` stays a binary of its
//! own: it installs a process-wide span collector.
//!
//! Run one area with a filter: `cargo test -p mesh-tests --test e2e payment_run::`.

mod answers;
mod bank;
mod bounds;
mod chain;
mod complaints;
mod consumer;
mod departments;
mod determination;
mod disclosure;
mod docs;
mod emergency;
mod errors;
mod faults;
mod foreign_department;
mod http_fuzz;
mod identity;
mod monitoring_feeds;
mod nats_permissions;
mod no_echo;
mod oidc;
mod outages;
mod payment_run;
mod poison;
mod relief_rules;
mod reverification;
mod risk;
mod staff_page;
mod tls;
mod warnings;
