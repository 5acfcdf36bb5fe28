//! The first chain, end to end, against real NATS and PostgreSQL: application → verification →
//! determination → enrolment and referrals → department feedback → payment instruction.

use mesh_tests::{demo_household, Options, TestMesh};
use policy::{PolicyBook, RegionCode};
use serde_json::{json, Value};
use simulator::{Figures, Fixtures};
use std::collections::HashMap;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

/// Fixtures where only the head of the demo household has income: 70,000 fen a month of
/// taxable income and 500 fen of interest, more than the 60,000 fen he declared.
fn demo_fixtures() -> Fixtures {
    let demo = demo_household();
    let head = demo["members"][0]["id_number"].as_str().unwrap().to_owned();
    let mut per_source = HashMap::new();
    per_source.insert(
        "tax".to_owned(),
        Figures {
            monthly_income_fen: Some(70_000),
            assets_fen: None,
        },
    );
    per_source.insert(
        "bank".to_owned(),
        Figures {
            monthly_income_fen: Some(500),
            assets_fen: Some(1_000_000),
        },
    );
    let mut f = Fixtures::new();
    f.insert(head, per_source);
    for m in demo["members"].as_array().unwrap().iter().skip(1) {
        f.insert(m["id_number"].as_str().unwrap().to_owned(), HashMap::new());
    }
    f
}

fn step_types(chain: &Value) -> Vec<String> {
    chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_runs_through_the_whole_chain_in_one_trace() {
    let mesh = TestMesh::start(Options {
        fixtures: demo_fixtures(),
        ..Default::default()
    })
    .await
    .unwrap();
    // Every message this run puts on the wire, to compare with the contract.
    let mut wire = mesh
        .nats
        .subscribe(format!("{}.>", mesh.prefix))
        .await
        .unwrap();

    let (status, accepted) = mesh.submit(&demo_household()).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    let trace_id = accepted["trace_id"]
        .as_str()
        .expect("the response names its trace")
        .to_owned();

    let chain = mesh.complete_chain(&household, WITHIN).await.unwrap();
    let types = step_types(&chain);
    assert_eq!(
        &types[..3],
        [
            "intake.application.submitted",
            "verify.household.verified",
            "eligibility.household.determined"
        ]
    );
    for t in ["monitor.household.enrolled", "payment.instruction.created"] {
        assert_eq!(
            types.iter().filter(|x| *x == t).count(),
            1,
            "{t} in {types:?}"
        );
    }
    assert_eq!(
        types.iter().filter(|x| *x == "referral.push").count(),
        2,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|x| *x == "referral.feedback").count(),
        2,
        "{types:?}"
    );
    // Feedback answers a push, and comes after it.
    let pos = |t: &str| types.iter().position(|x| x == t).unwrap();
    assert!(pos("referral.push") < pos("referral.feedback"));

    // One trace from the HTTP request to the payment instruction.
    assert_eq!(chain["trace_ids"], json!([trace_id]), "{chain:#}");
    let mut previous_time = String::new();
    for step in chain["steps"].as_array().unwrap() {
        assert!(!step["event_id"].as_str().unwrap().is_empty());
        assert!(!step["service"].as_str().unwrap().is_empty());
        assert_eq!(step["trace_id"], json!(trace_id));
        let time = step["time"].as_str().unwrap().to_owned();
        assert!(time >= previous_time, "steps are in time order");
        previous_time = time;
    }
    let services: Vec<&str> = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    for s in [
        "intake",
        "verification",
        "monitoring",
        "relief-medical",
        "relief-education",
        "payment",
    ] {
        assert!(services.contains(&s), "{s} missing from {services:?}");
    }

    // The amount is the policy's: verified income (70,500) is above the declared 60,000, so it
    // counts; gap × 3 members, plus the classified add-on for the seriously ill spouse and the minor.
    let params = PolicyBook::builtin()
        .in_force(
            &RegionCode::parse("410102").unwrap(),
            mesh_tests::business_date(),
        )
        .unwrap()
        .clone();
    let per_capita = 70_500 / 3;
    let expected = (params.dibao_standard.urban.0 - per_capita) * 3 + 2 * params.classified_addon.0;
    let instructions = mesh.instructions(&household).await.unwrap();
    assert_eq!(instructions.len(), 1, "{instructions:?}");
    assert_eq!(instructions[0]["amount_fen"], json!(expected));
    assert_eq!(instructions[0]["kind"], json!("dibao_monthly"));

    let (_, application) = mesh
        .get(
            "intake",
            &format!(
                "/v1/applications/{}",
                accepted["application_id"].as_str().unwrap()
            ),
        )
        .await
        .unwrap();
    assert_eq!(application["status"], json!("determined"));
    assert_eq!(
        application["determination"]["policy_version"],
        json!(params.version)
    );
    assert!(application["determination"]["rule"]
        .as_str()
        .unwrap()
        .starts_with("dibao"));
    // Names and ID numbers are masked when read back.
    let body = application.to_string();
    assert!(!body.contains(
        demo_household()["members"][0]["id_number"]
            .as_str()
            .unwrap()
    ));

    // Every subject on the wire is one of the contract's; no message carries an empty
    // tracestate.
    let mut seen = Vec::new();
    while let Ok(Some(msg)) = tokio::time::timeout(
        Duration::from_millis(200),
        futures::StreamExt::next(&mut wire),
    )
    .await
    {
        let tracestate = msg
            .headers
            .as_ref()
            .and_then(|h| h.get("tracestate"))
            .map(|v| v.as_str().to_owned());
        assert_ne!(tracestate.as_deref(), Some(""), "{}", msg.subject);
        let bare = msg
            .subject
            .as_str()
            .strip_prefix(&format!("{}.", mesh.prefix))
            .unwrap()
            .to_owned();
        seen.push(bare);
    }
    assert!(seen.len() >= 10, "{seen:?}");
    // The audit trail's records (`audit.<service>.recorded`, stream RELIEF_AUDIT: every read of
    // the chain above appends one) are the mesh's own (mesh::audit), not a channel between
    // services.
    for s in seen.iter().filter(|s| !s.starts_with("audit.")) {
        assert!(
            contract::channels::CATALOG
                .iter()
                .any(|c| mesh::subjects::matches_template(c.subject, s)),
            "{s} is not in the contract"
        );
    }
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_delivered_twice_changes_state_once() {
    let mesh = TestMesh::start(Options {
        fixtures: demo_fixtures(),
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&demo_household()).await.unwrap();
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(&household, WITHIN).await.unwrap();

    // The determination as it sits in the stream, published again: once with its own
    // Nats-Msg-Id (JetStream drops it), once with another (as a redelivery after a crash between
    // commit and ack would look to a consumer).
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let stream = mesh
        .js
        .get_stream(mesh::Stream::Eligibility.name(&subjects))
        .await
        .unwrap();
    let original = stream
        .direct_get_next_for_subject(
            subjects.of(contract::channels::HOUSEHOLD_DETERMINED.subject),
            None,
        )
        .await
        .unwrap();
    let ack = mesh
        .js
        .publish_with_headers(
            original.subject.to_string(),
            original.headers.clone(),
            original.payload.clone(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(ack.duplicate, "JetStream de-duplicates on Nats-Msg-Id");
    let mut headers = original.headers.clone();
    headers.insert("Nats-Msg-Id", "redelivered-copy");
    let ack = mesh
        .js
        .publish_with_headers(
            original.subject.to_string(),
            headers,
            original.payload.clone(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(!ack.duplicate);
    mesh.settle(WITHIN).await.unwrap();

    let instructions = mesh.instructions(&household).await.unwrap();
    assert_eq!(instructions.len(), 1, "one payment instruction");
    let chain = mesh.complete_chain(&household, WITHIN).await.unwrap();
    let types = step_types(&chain);
    assert_eq!(
        types.iter().filter(|t| *t == "referral.push").count(),
        2,
        "one referral per line"
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "monitor.household.enrolled")
            .count(),
        1,
        "one enrolment"
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "payment.instruction.created")
            .count(),
        1
    );
    // Both consumers saw the copy and recognised it.
    for service in ["monitoring", "payment"] {
        let (_, metrics) = mesh.get(service, "/metrics").await.unwrap();
        let text = metrics.as_str().unwrap();
        let dup = text
            .lines()
            .find(|l| {
                l.starts_with("relief_messages_total")
                    && l.contains("-determinations\"")
                    && l.contains("outcome=\"duplicate\"")
            })
            .unwrap_or_else(|| panic!("{service} counted no duplicate:\n{text}"));
        assert!(dup.ends_with(" 1"), "{dup}");
    }
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_killed_mid_flow_resume_and_complete_the_chain() {
    let mut mesh = TestMesh::start(Options {
        fixtures: demo_fixtures(),
        ..Default::default()
    })
    .await
    .unwrap();
    // Payment and the medical department die before the application arrives.
    mesh.crash("payment").await;
    mesh.crash("relief-medical").await;
    let (_, accepted) = mesh.submit(&demo_household()).await.unwrap();
    let household = accepted["household_id"].as_str().unwrap().to_owned();

    // The rest of the chain goes on without them: monitoring enrols and pushes.
    let path = format!("/v1/households/{household}");
    assert!(
        mesh_tests::eventually(WITHIN, || async {
            mesh.get("monitoring", &path)
                .await
                .map(|(s, _)| s == 200)
                .unwrap_or(false)
        })
        .await
    );
    let (_, chain) = mesh
        .get("monitoring", &format!("{path}/chain"))
        .await
        .unwrap();
    assert_eq!(chain["complete"], json!(false));

    // Verification crashes too, with nothing in flight, and comes back.
    mesh.crash("verification").await;
    mesh.launch("verification").await.unwrap();
    mesh.launch("payment").await.unwrap();
    mesh.launch("relief-medical").await.unwrap();
    let chain = mesh.complete_chain(&household, WITHIN).await.unwrap();
    assert_eq!(
        step_types(&chain)
            .iter()
            .filter(|t| *t == "payment.instruction.created")
            .count(),
        1
    );

    // A second application while intake is stopped gracefully and restarted between submit and
    // relay: what intake committed is published after the restart.
    let (status, second) = mesh.submit(&mesh_tests::another_household()).await.unwrap();
    assert_eq!(status, 202, "{second}");
    mesh.stop("intake").await.unwrap();
    mesh.launch("intake").await.unwrap();
    let second_household = second["household_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(&second_household, WITHIN)
        .await
        .unwrap();
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_does_not_answer_sends_the_application_to_manual_verification() {
    let mesh = TestMesh::start(Options {
        fixtures: demo_fixtures(),
        silent_sources: vec!["bank".into()],
        verification_timeout_ms: 300,
        verification_attempts: 2,
        // No hold: the gap goes to manual verification at once (tests/tests/e2e/outages.rs
        // holds for the source).
        verification: vec![("verification.source_hold_seconds".into(), "0".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&demo_household()).await.unwrap();
    let application = accepted["application_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/applications/{application}");
    let reached = mesh_tests::eventually(WITHIN, || async {
        mesh.get("intake", &path)
            .await
            .map(|(_, v)| v["status"] == json!("manual_verification"))
            .unwrap_or(false)
    })
    .await;
    assert!(reached, "the application went to manual verification");
    let (_, report) = mesh
        .get("verification", &format!("/v1/reports/{application}"))
        .await
        .unwrap();
    assert_eq!(report["complete"], json!(false));
    assert_eq!(report["gaps"], json!(["bank"]));
    let bank = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == json!("bank"))
        .unwrap();
    assert_eq!(bank["outcome"], json!("no_answer"));
    let answered = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["outcome"] == json!("answered"))
        .count();
    assert_eq!(answered, 7);
    // No determination, no payment: the gap was not read as zero.
    let (_, app) = mesh.get("intake", &path).await.unwrap();
    assert_eq!(app["determination"], Value::Null);
    let household = accepted["household_id"].as_str().unwrap();
    let ok = mesh_tests::eventually(WITHIN, || async {
        mesh.get("monitoring", &format!("/v1/households/{household}/chain"))
            .await
            .map(|(_, c)| step_types(&c).contains(&"intake.application.manual_review".to_owned()))
            .unwrap_or(false)
    })
    .await;
    assert!(ok, "the chain shows the manual review");
    mesh.teardown().await.unwrap();
}
