//! A step of a household's chain from a delivered event: what the chain keeps of it.

use crate::state::State;
use crate::store;
use mesh::envelope::service_of;
use mesh::{Delivery, Envelope};
use uuid::Uuid;

/// Keys of an event's `data` that the chain keeps: ids, amounts, outcomes. Never names or
/// ID numbers.
const SUMMARY_KEYS: &[&str] = &[
    "application_id",
    "report_id",
    "supersedes_report_id",
    "complete",
    "gaps",
    "verified_by",
    "tier",
    "classifications",
    "monthly_amount_fen",
    "integrity_flags",
    "payee",
    "policy_version",
    "rule",
    "effective_month",
    "referrals",
    "referral_id",
    "department",
    "need",
    "feedback_due",
    "outcome",
    "reason",
    "grant",
    "replaces",
    "corrected_to",
    "decided_by",
    "instruction_id",
    "beneficiary_member_id",
    "month",
    "kind",
    "amount_fen",
    "emergency_id",
    "total_amount_fen",
    "stages",
    "act_first",
    "papers_due",
    "reference",
    "due_date",
    "status",
];

/// The step `e` (delivered as `d`) makes in the chain `chain_id`.
pub fn step(
    state: &State,
    d: &Delivery,
    e: &Envelope<serde_json::Value>,
    chain_id: Uuid,
) -> store::Step {
    // A payload that is no object has nothing to summarise.
    let summary: serde_json::Map<String, serde_json::Value> = e
        .data
        .as_object()
        .map(|map| {
            SUMMARY_KEYS
                .iter()
                .filter_map(|k| map.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                .collect()
        })
        .unwrap_or_default();
    let trace_id = d
        .header("traceparent")
        .and_then(mesh::telemetry::trace_id_of_traceparent);
    store::Step {
        event_id: e.id.clone(),
        household_id: e.household_id,
        chain_id,
        kind: e.kind.clone(),
        subject: state
            .mesh
            .subjects
            .strip(&d.subject)
            .unwrap_or(&d.subject)
            .to_owned(),
        service: service_of(&e.source).to_owned(),
        time: e.time,
        trace_id,
        causation_id: e.causation_id.clone(),
        summary: serde_json::Value::Object(summary),
        digest: store::chain::digest(&e.kind, e.household_id, e.subject.as_deref(), &e.data),
    }
}
