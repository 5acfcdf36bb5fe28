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
    "group",
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
    "complaint_id",
    "step",
    "category",
    "received_via",
    "answer_due",
    "finding",
    "on_time",
    "objection_id",
    "notice_until",
];

/// The step `e` (delivered as `d`) makes in the chain `chain_id`, with the actor the event
/// carries (`envelope.actor`) and the region its data names.
pub fn step(
    state: &State,
    d: &Delivery,
    e: &Envelope<serde_json::Value>,
    chain_id: Uuid,
) -> store::Step {
    // A payload that is no object has nothing to summarise.
    let mut summary: serde_json::Map<String, serde_json::Value> = e
        .data
        .as_object()
        .map(|map| {
            SUMMARY_KEYS
                .iter()
                .filter_map(|k| map.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                .collect()
        })
        .unwrap_or_default();
    if let Some(groups) = members_groups(&e.data) {
        summary.insert("groups".into(), groups);
    }
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
        actor: e.actor.clone(),
        region_code: region_of(&e.data),
    }
}

/// The recognised groups the members of a determination are in (`members[].groups`), once
/// each, when any is: the chain of a household in no tier but with such a member expects its
/// enrolment and referrals.
fn members_groups(data: &serde_json::Value) -> Option<serde_json::Value> {
    let mut groups: Vec<&str> = data
        .get("members")?
        .as_array()?
        .iter()
        .filter_map(|m| m.get("groups").and_then(serde_json::Value::as_array))
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .collect();
    groups.sort_unstable();
    groups.dedup();
    (!groups.is_empty()).then(|| serde_json::json!(groups))
}

/// The region an event's data names (`region_code`, when it is a region code).
fn region_of(data: &serde_json::Value) -> Option<String> {
    data.get("region_code")
        .and_then(serde_json::Value::as_str)
        .and_then(|r| policy::RegionCode::parse(r).ok())
        .map(|r| r.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_step_keeps_the_region_its_data_names_when_it_is_one() {
        assert_eq!(
            region_of(&json!({"region_code": "410102001", "urban": true})),
            Some("410102001".to_owned())
        );
        assert_eq!(region_of(&json!({"region_code": "41x"})), None);
        assert_eq!(region_of(&json!({"region_code": 410102})), None);
        assert_eq!(region_of(&json!({"referral_id": "r"})), None);
        assert_eq!(region_of(&json!([1, 2])), None);
    }

    #[test]
    fn a_determination_summarises_its_members_recognised_groups_once_each() {
        let data = json!({"tier": "none", "members": [
            {"groups": ["return_to_poverty"]},
            {"tiers": []},
            {"groups": ["other_hardship", "return_to_poverty"]},
        ]});
        assert_eq!(
            members_groups(&data),
            Some(json!(["other_hardship", "return_to_poverty"]))
        );
        assert_eq!(
            members_groups(&json!({"members": [{"tiers": ["dibao"]}]})),
            None
        );
        assert_eq!(members_groups(&json!({"referral_id": "r"})), None);
    }
}
