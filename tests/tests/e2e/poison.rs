//! A poison corpus on every consumed subject: messages that can never be applied (not JSON, JSON
//! that is no envelope, an envelope of another channel's type, an envelope whose data is not the
//! payload, an internal event from a source that is not its producer). Each consumer of each
//! subject dead-letters every one of them, with a reason — department feedback is refused
//! instead, and the department told (the answer protocol) —; none opens a chain; no consumer
//! stops (a household submitted afterwards goes through its whole chain).

use mesh_tests::{demo_household, Options, TestMesh};
use policy::Department;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(60);

async fn letters(mesh: &TestMesh, service: &str) -> Vec<Value> {
    let (_, v) = mesh
        .get(service, "/v1/dead-letters?limit=1000")
        .await
        .unwrap_or_default();
    v.as_array().cloned().unwrap_or_default()
}

/// The typed consumers of the running mesh, by subject (before the prefix): service and durable.
fn consumers() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "intake.application.submitted",
            "verification",
            "verification-applications",
        ),
        (
            "intake.application.manually_verified",
            "verification",
            "verification-manual",
        ),
        ("verify.household.verified", "intake", "intake-verified"),
        (
            "verify.household.reverified",
            "monitoring",
            "monitoring-reverifications",
        ),
        (
            "eligibility.household.determined",
            "monitoring",
            "monitoring-determinations",
        ),
        (
            "eligibility.household.determined",
            "payment",
            "payment-determinations",
        ),
        (
            "eligibility.emergency.granted",
            "payment",
            "payment-emergencies",
        ),
        (
            "eligibility.household.redetermined",
            "payment",
            "payment-redeterminations",
        ),
        (
            "monitor.household.enrolled",
            "verification",
            "verification-enrolments",
        ),
        (
            "monitor.household.changed",
            "monitoring",
            "monitoring-population-changes",
        ),
        ("monitor.household.changed", "payment", "payment-changes"),
        (
            "monitor.feed.death",
            "monitoring",
            "monitoring-feed-records",
        ),
        (
            "monitor.discovery.reported",
            "monitoring",
            "monitoring-discoveries",
        ),
        (
            "referral.housing.push",
            "relief-housing",
            "department-housing",
        ),
        ("payment.bank.status", "payment", "payment-bank-status"),
    ]
}

/// The envelope `type` the catalogue gives `subject`.
fn kind_of(subject: &str) -> &'static str {
    contract::channels::channel_of(subject)
        .map(|c| c.kind)
        .unwrap_or_default()
}

/// The poison messages for `subject`: (message id, payload).
fn corpus(subject: &str, n: usize) -> Vec<(String, Vec<u8>)> {
    let kind = kind_of(subject);
    let other = if kind == "referral.push" {
        "payment.run.completed"
    } else {
        "referral.push"
    };
    let envelope = |id: &str, kind: &str, source: &str, data: Value| {
        serde_json::to_vec(&json!({
            "specversion": "1.0",
            "id": id,
            "source": source,
            "type": kind,
            "time": "2026-11-16T02:00:00Z",
            "datacontenttype": "application/json",
            "household_id": uuid::Uuid::new_v4(),
            "chain_id": uuid::Uuid::new_v4(),
            "data": data,
        }))
        .unwrap()
    };
    let id = |what: &str| format!("poison-{n}-{what}");
    let owner = contract::channels::CATALOG
        .iter()
        .find(|c| c.kind == kind)
        .and_then(|c| c.producers.first())
        .copied()
        .unwrap_or("intake");
    vec![
        (id("not-json"), b"{not json".to_vec()),
        (id("nul"), b"\0\0\0".to_vec()),
        (id("array"), b"[1, 2, 3]".to_vec()),
        (
            id("other-type"),
            envelope(
                &id("other-type"),
                other,
                &format!("/relief-mesh/{owner}"),
                json!({}),
            ),
        ),
        (
            id("bad-data"),
            envelope(
                &id("bad-data"),
                kind,
                &format!("/relief-mesh/{owner}"),
                json!({"amount_fen": 4611686018427387904u64, "name": "\u{0}"}),
            ),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_consumer_dead_letters_every_poison_message_and_goes_on() {
    let mesh = TestMesh::start(Options {
        departments: vec![Department::Housing],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut injected: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut households: BTreeMap<String, String> = BTreeMap::new();
    let mut subjects: Vec<&str> = consumers().iter().map(|(s, _, _)| *s).collect();
    subjects.push("referral.housing.feedback");
    subjects.dedup();
    for (n, subject) in subjects.iter().enumerate() {
        for (id, payload) in corpus(subject, n) {
            if let Ok(e) = serde_json::from_slice::<Value>(&payload) {
                if let Some(h) = e["household_id"].as_str() {
                    households.insert(id.clone(), h.to_owned());
                }
            }
            mesh.publish_raw(subject, &id, payload).await.unwrap();
            injected.entry(subject).or_default().push(id);
        }
    }
    // Each typed consumer dead-letters each message of its subject, once.
    for (subject, service, consumer) in consumers() {
        let ids = &injected[subject];
        let parked = mesh_tests::eventually(WITHIN, || async {
            let letters = letters(&mesh, service).await;
            ids.iter().all(|id| {
                letters
                    .iter()
                    .any(|l| l["consumer"] == json!(consumer) && l["original_msg_id"] == json!(id))
            })
        })
        .await;
        let letters = letters(&mesh, service).await;
        let mine: Vec<&Value> = letters
            .iter()
            .filter(|l| l["consumer"] == json!(consumer))
            .collect();
        assert!(
            parked,
            "{consumer} did not dead-letter every poison message of {subject}: {mine:#?}"
        );
        assert_eq!(
            mine.len(),
            ids.len(),
            "{consumer}: one dead letter per message: {mine:#?}"
        );
        for l in &mine {
            assert!(!l["reason"].as_str().unwrap_or_default().is_empty(), "{l}");
        }
    }
    // Department feedback that cannot be applied is refused, each message once, with a code.
    let feedback = &injected["referral.housing.feedback"];
    let refused = mesh_tests::eventually(WITHIN, || async {
        let (_, v) = mesh
            .get(
                "monitoring",
                "/v1/refused-feedback?department=housing&limit=1000",
            )
            .await
            .unwrap_or_default();
        let list = v.as_array().cloned().unwrap_or_default();
        feedback
            .iter()
            .all(|id| list.iter().any(|r| r["msg_id"] == json!(id)))
    })
    .await;
    assert!(refused, "not every poison feedback was refused");
    // Nothing of it opened a chain: none of the made-up households has one.
    for ids in injected.values() {
        for id in ids {
            let Some(household) = households.get(id) else {
                continue;
            };
            let (status, body) = mesh
                .get("monitoring", &format!("/v1/households/{household}/chain"))
                .await
                .unwrap();
            assert_eq!(status, 404, "{id} opened a chain: {body}");
        }
    }
    // No consumer stopped: a household goes through the whole chain.
    let (status, accepted) = mesh.submit(&demo_household()).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    mesh.complete_chain(accepted["household_id"].as_str().unwrap(), WITHIN)
        .await
        .unwrap();
    mesh.teardown().await.unwrap();
}
