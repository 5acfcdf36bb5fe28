//! The documents tell the truth about the code: every subject in AsyncAPI, every route in
//! OpenAPI, and every documented example parses as the payload type the services use.

use contract::*;
use mesh::{Envelope, EventKind};
use serde_json::Value;
use std::collections::BTreeSet;

fn yaml(path: &str) -> Value {
    let text =
        std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn every_subject_in_the_code_is_a_channel_of_the_asyncapi_document_and_no_other() {
    let doc = yaml("docs/asyncapi.yaml");
    assert_eq!(
        doc["asyncapi"].as_str().unwrap().split('.').next(),
        Some("3")
    );
    let channels: BTreeSet<String> = doc["channels"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|c| c["address"].as_str().map(str::to_owned))
        .collect();
    let catalog: BTreeSet<String> = mesh::subjects::CATALOG
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(channels, catalog);
}

/// Parses an example envelope as the type its `type` attribute names.
fn parse_example(payload: &Value) -> Result<(), String> {
    fn as_<T: mesh::EventKind>(v: &Value) -> Result<(), String> {
        let e: Envelope<T> = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        e.check(T::TYPE)
    }
    match payload["type"].as_str().unwrap_or_default() {
        t if t == ApplicationSubmitted::TYPE => as_::<ApplicationSubmitted>(payload),
        t if t == ManualReview::TYPE => as_::<ManualReview>(payload),
        t if t == ApplicationRejected::TYPE => as_::<ApplicationRejected>(payload),
        t if t == SourceQuery::TYPE => as_::<SourceQuery>(payload),
        t if t == SourceAnswer::TYPE => as_::<SourceAnswer>(payload),
        t if t == HouseholdVerified::TYPE => as_::<HouseholdVerified>(payload),
        t if t == HouseholdReverified::TYPE => as_::<HouseholdReverified>(payload),
        t if t == HouseholdDetermined::TYPE => as_::<HouseholdDetermined>(payload),
        t if t == EmergencyGranted::TYPE => as_::<EmergencyGranted>(payload),
        t if t == HouseholdEnrolled::TYPE => as_::<HouseholdEnrolled>(payload),
        t if t == HouseholdChanged::TYPE => as_::<HouseholdChanged>(payload),
        t if t == FeedRecord::TYPE => as_::<FeedRecord>(payload),
        t if t == DiscoveryReport::TYPE => as_::<DiscoveryReport>(payload),
        t if t == ReferralPush::TYPE => as_::<ReferralPush>(payload),
        t if t == ReferralFeedback::TYPE => as_::<ReferralFeedback>(payload),
        t if t == InstructionCreated::TYPE => as_::<InstructionCreated>(payload),
        t if t == InstructionStatusChanged::TYPE => as_::<InstructionStatusChanged>(payload),
        t if t == BankStatusReport::TYPE => as_::<BankStatusReport>(payload),
        t if t == RunCompleted::TYPE => as_::<RunCompleted>(payload),
        t if t == RunAlert::TYPE => as_::<RunAlert>(payload),
        t if t == RecoveryOpened::TYPE => as_::<RecoveryOpened>(payload),
        other => Err(format!("unknown type {other}")),
    }
}

#[test]
fn every_asyncapi_example_parses_as_the_payload_the_services_use() {
    let doc = yaml("docs/asyncapi.yaml");
    let mut checked = 0;
    for (name, message) in doc["components"]["messages"].as_object().unwrap() {
        for example in message["examples"].as_array().into_iter().flatten() {
            if name == "DeadLetter" {
                // A dead letter carries any payload; its headers are what matter.
                for h in [
                    "Relief-Original-Subject",
                    "Relief-Reason",
                    "Relief-Consumer",
                    "Relief-Deliveries",
                ] {
                    assert!(
                        example["headers"][h].is_string(),
                        "dead-letter example lacks {h}"
                    );
                }
                continue;
            }
            parse_example(&example["payload"]).unwrap_or_else(|e| panic!("example of {name}: {e}"));
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} examples");
}

/// Every `.route("…")` path in the services and the shared HTTP basics.
fn routes_in_code() -> BTreeSet<String> {
    let root = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![
        format!("{root}/services"),
        format!("{root}/shared/mesh/src"),
    ];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p.to_string_lossy().into_owned());
            } else if p.extension().is_some_and(|e| e == "rs") {
                files.push(p);
            }
        }
    }
    let mut routes = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        for part in text.split(".route(").skip(1) {
            if let Some(rest) = part.trim_start().strip_prefix('"') {
                routes.insert(rest.split('"').next().unwrap().to_owned());
            }
        }
    }
    routes
}

#[test]
fn every_route_in_the_code_is_in_the_openapi_document_and_no_other() {
    let doc = yaml("docs/openapi.yaml");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let code = routes_in_code();
    assert!(code.len() >= 10, "{code:?}");
    assert_eq!(documented, code);
}

#[test]
fn the_openapi_application_example_is_the_demo_household_and_is_accepted_by_the_schema_of_the_code()
{
    let doc = yaml("docs/openapi.yaml");
    let body =
        &doc["paths"]["/v1/applications"]["post"]["requestBody"]["content"]["application/json"];
    let example = body["examples"]
        .as_object()
        .and_then(|m| m.values().next())
        .map(|e| e["value"].clone())
        .unwrap_or(body["example"].clone());
    let demo: Value =
        serde_json::from_str(include_str!("../../deploy/demo/household.json")).unwrap();
    assert_eq!(example, demo);
    for m in demo["members"].as_array().unwrap() {
        policy::ResidentId::parse(m["id_number"].as_str().unwrap()).unwrap();
    }
}
