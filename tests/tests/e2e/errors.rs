//! Bad input over HTTP and on subjects: clear errors, dead letters, and the consumer goes on.

use mesh_tests::{demo_household, Options, TestMesh};
use serde_json::json;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

/// 守信承诺 (003: "全面推行申请社会救助事项守信承诺和失信记录制度"): an application carries the
/// applicant's signed honesty commitment; without it, it is incomplete and the answer says so,
/// field by field. Accepted, the event carries it with the signer's member id, witnessed by the
/// submitting officer (the envelope's actor).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_without_the_signed_honesty_commitment_is_incomplete_and_says_so() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let fields = mesh_tests::error_fields;
    let mut without = mesh_tests::another_household();
    without.as_object_mut().unwrap().remove("commitment");
    let (status, body) = mesh.submit(&without).await.unwrap();
    assert_eq!(status, 422, "{body}");
    let f = fields(&body);
    assert_eq!(f.len(), 1, "{body}");
    assert_eq!(f[0].0, "commitment");
    assert!(f[0].1.contains("守信承诺"), "{body}");

    let mut wrong = mesh_tests::another_household();
    wrong["commitment"] = json!({"version": " ", "signed_on": "2026-11-17", "signer": 3});
    let (status, body) = mesh.submit(&wrong).await.unwrap();
    assert_eq!(status, 422, "{body}");
    let named: Vec<String> = fields(&body).into_iter().map(|f| f.0).collect();
    assert_eq!(
        named,
        [
            "commitment.version",
            "commitment.signed_on",
            "commitment.signer"
        ],
        "the day after the business date, and no fourth member: {body}"
    );
    wrong["commitment"]["signed_on"] = json!("16/11/2026");
    let (status, body) = mesh.submit(&wrong).await.unwrap();
    assert_eq!(status, 422);
    assert!(fields(&body)
        .iter()
        .any(|(f, r)| f == "commitment.signed_on" && r.contains("YYYY-MM-DD")));

    let mut signed = mesh_tests::another_household();
    signed["commitment"] = mesh_tests::commitment(1);
    let (status, accepted) = mesh.submit(&signed).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["application_id"].as_str().unwrap().to_owned();
    let subject = contract::channels::APPLICATION_SUBMITTED.subject;
    let mut found = None;
    for _ in 0..100 {
        found = mesh
            .stored("INTAKE", subject)
            .await
            .unwrap()
            .into_iter()
            .find(|(_, e)| e["data"]["application_id"] == json!(id));
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, e) = found.expect("the submission on the stream");
    let c = &e["data"]["commitment"];
    assert_eq!(c["version"], json!("410100-2024-1"));
    assert_eq!(c["signed_on"], json!("2026-11-10"));
    assert_eq!(
        c["signer_member_id"], e["data"]["members"][1]["member_id"],
        "the second member signed"
    );
    assert_eq!(
        e["actor"]["sub"],
        json!("wang.fang"),
        "witnessed by the officer"
    );
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_gets_400_and_invalid_fields_get_422_with_reasons() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let r = mesh
        .request(reqwest::Method::POST, "intake", "/v1/applications")
        .await
        .unwrap()
        .header("content-type", "application/json")
        .body("{\"region_code\": \"410102001\", \"members\": [")
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
        ("/v1/disclosures/notices?village=1&village=2", "bad_request"),
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
    let send = || async {
        mesh.request(reqwest::Method::POST, "intake", "/v1/applications")
            .await
            .unwrap()
            .header("idempotency-key", "retry-42")
            .json(&demo_household())
            .send()
            .await
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
    // The payload is masked for the platform operator; one who holds `unmask` reads it.
    assert_eq!(letters[0]["payload"], json!("(9 bytes, not JSON; masked)"));
    let (status, unmasked) = mesh
        .get_as(
            Some(&mesh_tests::Who::person("xu.ming")),
            "verification",
            "/v1/dead-letters?unmask=true",
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{unmasked}");
    assert_eq!(unmasked[0]["payload"], json!("{not json"));
    // Other services have none.
    assert!(mesh.dead_letters("payment").await.unwrap().is_empty());

    // Replay: the consumer that gave up refuses it again, says why, and the letter stays.
    let seq = letters[0]["sequence"].as_u64().unwrap();
    let replay = |service: &'static str, seq: u64| {
        let mesh = &mesh;
        async move {
            mesh.request(
                reqwest::Method::POST,
                service,
                &format!("/v1/dead-letters/{seq}/replay"),
            )
            .await
            .unwrap()
            .send()
            .await
            .unwrap()
        }
    };
    let r = replay("verification", seq).await;
    assert_eq!(r.status().as_u16(), 409);
    let body: serde_json::Value = r.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("refused it again") && message.contains("not a valid"),
        "{body}"
    );
    let again = mesh.dead_letters("verification").await.unwrap();
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(
        again[0]["sequence"].as_u64(),
        Some(seq),
        "the letter keeps its sequence"
    );
    // No sequence 0, no sequence of another service, and nothing past the end.
    for bad in [0, seq + 1000] {
        let r = replay("verification", bad).await;
        assert_eq!(r.status().as_u16(), 404, "sequence {bad}");
    }
    let r = replay("payment", seq).await;
    assert_eq!(
        r.status().as_u16(),
        404,
        "verification's letter is not payment's"
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

/// Issue finding: any client of a NATS without permissions could publish
/// `eligibility.household.determined`; one such event enrolled a made-up household reusing an
/// enrolled person's ID number, and payment instructed it. Only intake produces determinations:
/// its consumers refuse one whose `source` is another, with the reason, and nothing is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_determination_is_refused_by_every_consumer_and_nothing_is_paid() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&demo_household()).await.unwrap();
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(&household, WITHIN).await.unwrap();
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let channel = contract::channels::HOUSEHOLD_DETERMINED;
    let stream = mesh
        .js
        .get_stream(mesh::Stream::Eligibility.name(&subjects))
        .await
        .unwrap();
    let real = stream
        .direct_get_last_for_subject(subjects.of(channel.subject))
        .await
        .unwrap();
    let mut forged: serde_json::Value = serde_json::from_slice(&real.payload).unwrap();
    let made_up = uuid::Uuid::new_v4();
    forged["id"] = json!(uuid::Uuid::new_v4().to_string());
    forged["source"] = json!("/relief-mesh/monitoring");
    forged["household_id"] = json!(made_up);
    forged["chain_id"] = json!(uuid::Uuid::new_v4());
    forged["data"]["application_id"] = json!(uuid::Uuid::new_v4());
    let id = forged["id"].as_str().unwrap().to_owned();
    mesh.publish_raw(channel.subject, &id, serde_json::to_vec(&forged).unwrap())
        .await
        .unwrap();

    for service in ["payment", "monitoring"] {
        let refused = mesh_tests::eventually(WITHIN, || async {
            mesh.dead_letters(service)
                .await
                .map(|l| l.iter().any(|d| d["original_msg_id"] == json!(id)))
                .unwrap_or(false)
        })
        .await;
        assert!(refused, "{service} did not refuse the forged determination");
        let letters = mesh.dead_letters(service).await.unwrap();
        let letter = letters
            .iter()
            .find(|d| d["original_msg_id"] == json!(id))
            .unwrap();
        let reason = letter["reason"].as_str().unwrap();
        assert!(
            reason.contains("published by intake only") && reason.contains("monitoring"),
            "{service}: {reason}"
        );
    }
    mesh.settle(WITHIN).await.unwrap();
    let instructions = mesh.instructions(&made_up.to_string()).await.unwrap();
    assert!(instructions.is_empty(), "{instructions:?}");
    mesh.teardown().await.unwrap();
}
