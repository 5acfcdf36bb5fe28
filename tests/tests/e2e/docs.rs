//! The documents tell the truth about the code: every subject in AsyncAPI, every route in
//! OpenAPI, and every documented example parses as the payload type the services use.

use contract::channels::SOURCE_QUERY;
use contract::*;
use mesh::EventKind;
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
    let catalog: BTreeSet<String> = contract::channels::CATALOG
        .iter()
        .map(|c| c.subject.to_string())
        .collect();
    assert_eq!(channels, catalog);
}

/// Parses an example envelope as the payload its `type` names, as a consumer would.
fn parse_example(payload: &Value) -> Result<(), String> {
    contract::channels::check_envelope(payload).map(|_| ())
}

/// Each channel of the document carries the catalogue's message type: its examples' `type` is
/// the one the catalogue declares for that subject.
#[test]
fn every_asyncapi_channel_carries_the_message_type_the_catalogue_declares() {
    let doc = yaml("docs/asyncapi.yaml");
    let messages = &doc["components"]["messages"];
    let mut checked = 0;
    for channel in doc["channels"].as_object().unwrap().values() {
        // The reply channel of a request has no address of its own.
        let Some(address) = channel["address"].as_str() else {
            continue;
        };
        let declared = contract::channels::CATALOG
            .iter()
            .find(|c| c.subject == address)
            .unwrap_or_else(|| panic!("{address} is not in the catalogue"));
        for m in channel["messages"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, m)| m)
        {
            // A message is a reference to a component or written inline.
            let (name, message) = match m["$ref"].as_str() {
                Some(r) => {
                    let name = r.rsplit('/').next().unwrap_or_default();
                    (name.to_owned(), &messages[name])
                }
                None => (m["name"].as_str().unwrap_or("inline").to_owned(), m),
            };
            for example in message["examples"].as_array().into_iter().flatten() {
                let kind = example["payload"]["type"].as_str();
                if declared.kind.is_empty() {
                    continue; // dead letters carry any message
                }
                // A data holder's answer is the reply of the query channel, not its own channel.
                if kind == Some(<SourceAnswer as EventKind>::TYPE)
                    && address == SOURCE_QUERY.subject
                {
                    continue;
                }
                assert_eq!(
                    kind,
                    Some(declared.kind),
                    "an example of {name} on {address}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} examples checked");
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
            if name == "AuditRecord" {
                // Not an envelope: the record, whose hash a reader can check as documented.
                let r: mesh::audit::Record = serde_json::from_value(example["payload"].clone())
                    .unwrap_or_else(|e| panic!("audit record example: {e}"));
                assert!(
                    r.hash_is_intact(),
                    "the audit example's hash is not its content's"
                );
                checked += 1;
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
        serde_json::from_str(include_str!("../../../deploy/demo/household.json")).unwrap();
    assert_eq!(example, demo);
    for m in demo["members"].as_array().unwrap() {
        policy::ResidentId::parse(m["id_number"].as_str().unwrap()).unwrap();
    }
}

/// The strings of an `enum` in the document at `path` (keys separated by `/`).
fn enum_at(doc: &Value, path: &str) -> BTreeSet<String> {
    let mut v = doc;
    for key in path.split('/') {
        v = &v[key];
    }
    v["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no enum at {path}"))
        .iter()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_envelope_type_enum_lists_every_type_the_mesh_publishes() {
    let doc = yaml("docs/asyncapi.yaml");
    let documented = enum_at(&doc, "components/schemas/Envelope/properties/type");
    let mut published: BTreeSet<String> = contract::channels::CATALOG
        .iter()
        .map(|c| c.kind.to_owned())
        .filter(|k| !k.is_empty())
        .collect();
    published.insert(<SourceAnswer as EventKind>::TYPE.to_owned());
    assert_eq!(documented, published);
}

#[test]
fn the_answer_protocol_of_the_document_is_the_contracts() {
    let doc = yaml("docs/asyncapi.yaml");
    let schemas = "components/schemas";
    let outcomes: BTreeSet<String> = FeedbackOutcome::ALL
        .iter()
        .map(|o| o.as_str().to_owned())
        .collect();
    assert_eq!(
        enum_at(&doc, &format!("{schemas}/FeedbackOutcome")),
        outcomes
    );
    let codes: BTreeSet<String> = RefusalCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    assert_eq!(
        enum_at(&doc, &format!("{schemas}/ReferralRefused/properties/code")),
        codes
    );
    let kinds: BTreeSet<String> = policy::Department::ALL
        .iter()
        .flat_map(|d| contract::answers::grant_kinds(*d))
        .map(|k| k.kind.to_owned())
        .collect();
    assert_eq!(
        enum_at(&doc, &format!("{schemas}/Grant/properties/kind")),
        kinds
    );
    // The document's table names each kind with its department and period.
    let description = doc["info"]["description"].as_str().unwrap();
    for d in policy::Department::ALL {
        for k in contract::answers::grant_kinds(d) {
            let row = description
                .lines()
                .find(|l| {
                    l.starts_with(&format!("| {d} |")) && l.contains(&format!("`{}`", k.kind))
                })
                .unwrap_or_else(|| panic!("no row of the grant table names {d} {}", k.kind));
            assert!(row.contains(k.period.as_str()), "{row}");
        }
    }
}

/// The platform creates each department's durable with the contract's settings.
#[test]
fn the_bootstrap_job_creates_the_departments_durables_as_the_contract_sets_them() {
    let job = std::fs::read_to_string(format!(
        "{}/../k8s/components/nats/bootstrap-job.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let d = contract::answers::DEPARTMENT_DURABLE;
    let medical = contract::answers::department_durable(policy::Department::Medical);
    assert_eq!(medical, "department-medical");
    for flag in [
        "nats consumer add RELIEF_REFERRAL \"department-$dept\" --pull".to_owned(),
        "--filter \"referral.$dept.push\"".to_owned(),
        "nats consumer add RELIEF_REFERRAL \"department-$dept-refused\" --pull".to_owned(),
        "--filter \"referral.$dept.refused\"".to_owned(),
        "--ack explicit".to_owned(),
        "--deliver all".to_owned(),
        format!("--max-deliver={}", d.max_deliver),
        format!("--max-pending {}", d.max_ack_pending),
        format!("--wait {}s", d.ack_wait_seconds),
    ] {
        assert!(job.contains(&flag), "the bootstrap job lacks {flag}");
    }
}
