//! What monitoring does in one transaction, shared by its consumers, its routes and its
//! sweeps: each takes the caller's transaction, decides by [`crate::domain`], writes by
//! [`crate::store`] and sends through the outbox.
//!
//! - `referrals::push`: the one referral push (determination, feed rules, warnings).
//! - `feeds::apply_rows`: feed records matched and acted on, chunk by chunk.
//! - `discovery::open_case`: an active-discovery report's warning.
//! - `warnings`: verification, the four dispositions and their effects, the warning sweep.
//! - `population`: the overdue re-verification sweep.
//! - `answers`: a department's feedback under the answer protocol, applied with its chain step
//!   or refused and told to the department.
//! - `complaints`: consultations, complaints and reports received, investigated, answered,
//!   escalated by the sweep.
//! - `dishonesty`: a confirmed report's dishonesty record lifted before it expires.
//! - `risk`: the warnings of the risk rules intake and payment hold their data to.
//! - `chain`: a chain step from a delivered event.

pub mod answers;
pub mod chain;
pub mod complaints;
pub mod discovery;
pub mod dishonesty;
pub mod feeds;
pub mod population;
pub mod redetermination;
pub mod referrals;
pub mod risk;
pub mod warnings;
