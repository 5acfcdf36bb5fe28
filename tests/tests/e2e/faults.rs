//! Faults: a crash with work in flight, a store that keeps failing, feedback nobody asked for
//! (refused, and told to the department).

use mesh_tests::{demo_household, Options, TestMesh};
use serde_json::json;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(40);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_while_a_message_is_in_flight_loses_nothing() {
    // Every data holder takes 1.5 s to answer, so verification is mid-message when it dies.
    let mut mesh = TestMesh::start(Options {
        simulator_latency_ms: 1500,
        verification_timeout_ms: 3000,
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&demo_household()).await.unwrap();
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    let application = accepted["application_id"].as_str().unwrap().to_owned();
    // Wait until the query is on its way to the data holders, then crash.
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let stream = mesh
        .js
        .get_stream(mesh::Stream::Intake.name(&subjects))
        .await
        .unwrap();
    let in_flight = mesh_tests::eventually(WITHIN, || async {
        stream
            .consumer_info("verification-applications")
            .await
            .map(|i| i.num_ack_pending == 1)
            .unwrap_or(false)
    })
    .await;
    assert!(in_flight, "verification took the message");
    mesh.crash("verification").await;
    let (status, _) = mesh
        .get("intake", &format!("/v1/applications/{application}"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    mesh.launch("verification").await.unwrap();
    // Redelivered after the ack wait, verified once, and the chain completes.
    let chain = mesh.complete_chain(&household, WITHIN).await.unwrap();
    let verified = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["type"] == json!("verify.household.verified"))
        .count();
    assert_eq!(verified, 1);
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_keeps_failing_is_retried_with_backoff_then_dead_lettered() {
    let mesh = TestMesh::start(Options {
        // The demo household with no figures from the sources: a dibao household, so payment
        // has an instruction to record.
        fixtures: mesh_tests::silent_fixtures(&demo_household()),
        ..Default::default()
    })
    .await
    .unwrap();
    // Payment's store breaks: every attempt to record an instruction fails.
    let mut db: sqlx::PgConnection = sqlx::Connection::connect(&mesh.database_url("payment"))
        .await
        .unwrap();
    sqlx::query("ALTER TABLE instructions RENAME TO instructions_away")
        .execute(&mut db)
        .await
        .unwrap();

    let (_, accepted) = mesh.submit(&demo_household()).await.unwrap();
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    let parked = mesh_tests::eventually(WITHIN, || async {
        mesh.dead_letters("payment").await.unwrap().len() == 1
    })
    .await;
    assert!(parked, "the message was dead-lettered");
    let letters = mesh.dead_letters("payment").await.unwrap();
    let letter = &letters[0];
    assert_eq!(
        letter["deliveries"],
        json!(4),
        "max_deliver in the test settings is 4"
    );
    assert!(
        letter["reason"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 4 deliveries"),
        "{letter}"
    );
    let (_, metrics) = mesh.get("payment", "/metrics").await.unwrap();
    let naks = metrics
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.starts_with("relief_messages_total") && l.contains("outcome=\"nak\""))
        .unwrap()
        .to_owned();
    assert!(
        naks.ends_with(" 3"),
        "three redeliveries before giving up: {naks}"
    );

    // The store is mended; the operator replays the dead letter; the chain completes, once.
    sqlx::query("ALTER TABLE instructions_away RENAME TO instructions")
        .execute(&mut db)
        .await
        .unwrap();
    let seq = letter["sequence"].as_u64().unwrap();
    let r = mesh
        .request(
            reqwest::Method::POST,
            "payment",
            &format!("/v1/dead-letters/{seq}/replay"),
        )
        .await
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let replayed: serde_json::Value = r.json().await.unwrap();
    assert_eq!(replayed["outcome"], "applied", "{replayed}");
    assert_eq!(replayed["consumer"], letter["consumer"], "{replayed}");
    mesh.complete_chain(&household, WITHIN).await.unwrap();
    let instructions = mesh.instructions(&household).await.unwrap();
    assert_eq!(instructions.len(), 1);
    assert!(mesh.dead_letters("payment").await.unwrap().is_empty());
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_for_an_unknown_referral_is_refused_with_the_reason() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let chain = mesh::ChainRef {
        household_id: uuid::Uuid::new_v4(),
        chain_id: uuid::Uuid::new_v4(),
        causation_id: Some("push-1".into()),
    };
    let feedback = contract::ReferralFeedback {
        reason: Some("on the waiting list".into()),
        ..contract::ReferralFeedback::new(
            uuid::Uuid::new_v4(),
            policy::Department::Housing,
            uuid::Uuid::new_v4(),
            contract::FeedbackOutcome::Accepted,
            "officer:wang",
        )
    };
    let e = mesh::Envelope::new("housing-bureau", &chain, None, feedback);
    mesh.publish_raw(
        "referral.housing.feedback",
        &e.id,
        serde_json::to_vec(&e).unwrap(),
    )
    .await
    .unwrap();
    let refused = mesh_tests::eventually(WITHIN, || async {
        let (_, list) = mesh
            .get("monitoring", "/v1/refused-feedback?department=housing")
            .await
            .unwrap();
        list.as_array().is_some_and(|l| {
            l.iter().any(|r| {
                r["event_id"] == json!(e.id)
                    && r["code"] == json!("unknown_referral")
                    && r["reason"].as_str().unwrap_or("").contains("no referral")
            })
        })
    })
    .await;
    assert!(refused);
    assert!(mesh.dead_letters("monitoring").await.unwrap().is_empty());
    mesh.teardown().await.unwrap();
}
