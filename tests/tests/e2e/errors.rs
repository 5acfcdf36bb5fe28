//! Bad input over HTTP and on subjects: clear errors, dead letters, and the consumer goes on.

use mesh_tests::{demo_household, Options, TestMesh};
use serde_json::json;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_gets_400_and_invalid_fields_get_422_with_reasons() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let r = mesh
        .http
        .post(mesh.url("intake", "/v1/applications"))
        .header("content-type", "application/json")
        .body("{\"region_code\": \"410102\", \"members\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!("bad_request"));
    assert!(!body["error"]["message"].as_str().unwrap().is_empty());

    let mut bad = demo_household();
    bad["region_code"] = json!("41010");
    bad["members"][0]["id_number"] = json!("410102198305120313");
    bad["members"][1]["declared_monthly_income_fen"] = json!(-1);
    bad["members"][2]["pension_base_fen"] = json!(-5);
    let (status, body) = mesh.submit(&bad).await.unwrap();
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "region_code",
            "members[0].id_number",
            "members[1].declared_monthly_income_fen",
            "members[2].pension_base_fen"
        ]
    );
    let reason = body["error"]["fields"][1]["reason"].as_str().unwrap();
    assert!(reason.contains("check character"), "{reason}");

    let mut uncovered = demo_household();
    uncovered["region_code"] = json!("650102");
    let (status, body) = mesh.submit(&uncovered).await.unwrap();
    assert_eq!(status, 422);
    assert!(body["error"]["fields"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("no parameter set"));

    let (status, body) = mesh
        .get(
            "intake",
            "/v1/applications/00000000-0000-0000-0000-000000000000",
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], json!("not_found"));
    // Rejections axum makes itself come in the same JSON shape.
    for (path, code) in [
        ("/v1/applications/not-a-uuid", "bad_request"),
        ("/v1/no-such-route", "not_found"),
        ("/v1/disclosures?region_code=1&region_code=2", "bad_request"),
    ] {
        let (status, body) = mesh.get("intake", path).await.unwrap();
        assert!((400..500).contains(&status), "{path}: {status}");
        assert_eq!(body["error"]["code"], json!(code), "{path}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_returns_the_first_application() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let send = || {
        mesh.http
            .post(mesh.url("intake", "/v1/applications"))
            .header("idempotency-key", "retry-42")
            .json(&demo_household())
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status().as_u16(), 202);
    let first: serde_json::Value = first.json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status().as_u16(), 200);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(first["application_id"], again["application_id"]);
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_is_dead_lettered_and_the_consumer_goes_on() {
    let mesh = TestMesh::start(Options::default()).await.unwrap();
    let subject =
        mesh::Subjects::new(&mesh.prefix).of(contract::channels::APPLICATION_SUBMITTED.subject);
    mesh.publish_raw(
        contract::channels::APPLICATION_SUBMITTED.subject,
        "garbage-1",
        b"{not json".to_vec(),
    )
    .await
    .unwrap();

    // The next, valid application is processed all the same.
    let (_, accepted) = mesh.submit(&demo_household()).await.unwrap();
    mesh.complete_chain(accepted["household_id"].as_str().unwrap(), WITHIN)
        .await
        .unwrap();

    let letters = mesh.dead_letters("verification").await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["original_subject"], json!(subject));
    assert_eq!(letters[0]["original_msg_id"], json!("garbage-1"));
    assert_eq!(letters[0]["consumer"], json!("verification-applications"));
    assert!(
        letters[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not a valid"),
        "{}",
        letters[0]
    );
    assert_eq!(letters[0]["payload"], json!("{not json"));
    // Other services have none.
    assert!(mesh.dead_letters("payment").await.unwrap().is_empty());

    // Replay: it goes back to its subject, fails again, and is parked again with a new sequence.
    let seq = letters[0]["sequence"].as_u64().unwrap();
    let r = mesh
        .http
        .post(mesh.url("verification", &format!("/v1/dead-letters/{seq}/replay")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let replayed = mesh_tests::eventually(WITHIN, || async {
        let l = mesh.dead_letters("verification").await.unwrap();
        l.len() == 1 && l[0]["sequence"].as_u64() != Some(seq)
    })
    .await;
    assert!(replayed, "the replayed message was dead-lettered again");
    let r = mesh
        .http
        .post(mesh.url("verification", &format!("/v1/dead-letters/{seq}/replay")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        404,
        "a replayed letter is gone from the stream"
    );
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_answer_on_every_service() {
    let mesh = TestMesh::start(Options {
        departments: vec![policy::Department::Housing],
        ..Default::default()
    })
    .await
    .unwrap();
    for service in [
        "intake",
        "verification",
        "monitoring",
        "payment",
        "relief-housing",
    ] {
        let (status, _) = mesh.get(service, "/healthz").await.unwrap();
        assert_eq!(status, 200, "{service} /healthz");
        let (status, ready) = mesh.get(service, "/readyz").await.unwrap();
        assert_eq!(status, 200, "{service} /readyz: {ready}");
        assert_eq!(ready["nats"], json!("ok"));
        assert_eq!(ready["database"], json!("ok"));
        let (status, metrics) = mesh.get(service, "/metrics").await.unwrap();
        assert_eq!(status, 200);
        assert!(
            metrics
                .as_str()
                .unwrap()
                .contains(&format!("service=\"{service}\"")),
            "{service} metrics"
        );
    }
    let (status, _) = mesh.get("source-simulator", "/readyz").await.unwrap();
    assert_eq!(status, 200);
    // The streams were declared with the configured retention (the inbox outlives it).
    let subjects = mesh::Subjects::new(&mesh.prefix);
    for base in mesh::Stream::ALL {
        let mut stream = mesh.js.get_stream(base.name(&subjects)).await.unwrap();
        let info = stream.info().await.unwrap();
        assert_eq!(
            info.config.max_age,
            Duration::from_secs(400 * 24 * 3600),
            "{base:?}"
        );
        assert_eq!(
            info.config.storage,
            async_nats::jetstream::stream::StorageType::File,
            "{base:?}"
        );
    }
    mesh.teardown().await.unwrap();
}
