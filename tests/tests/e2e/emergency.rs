//! Emergency temporary assistance: act first within 3 × the monthly standard, a county case
//! conference above it, staged payments, papers completed afterwards; by the officers of the
//! tokens, in their areas, never deciding what they reported.

use mesh_tests::{id_number, Options, TestMesh, Who};
use policy::{PolicyBook, RegionCode};
use serde_json::{json, Value};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

fn limit_fen() -> i64 {
    let p = PolicyBook::builtin()
        .in_force(
            &RegionCode::parse("410102").unwrap(),
            mesh_tests::business_date(),
        )
        .unwrap()
        .clone();
    p.dibao_standard
        .urban
        .times_permille(p.act_first_multiple_permille)
        .unwrap()
        .0
}

/// A person registered in Shenzhen whose emergency happens in Zhengzhou, township 410102001
/// (wang.fang's).
fn report(stages: Value) -> Value {
    json!({
        "region_code": "410102001",
        "urban": true,
        "person": {"name": "Huang Lei", "id_number": id_number("44030519900101003")},
        "hardship": "house fire; belongings lost",
        "stages": stages,
    })
}

/// POSTs to intake as the operation's first role's demo person.
async fn post(mesh: &TestMesh, path: &str, body: &Value) -> (u16, Value) {
    mesh.post("intake", path, body).await.unwrap()
}

async fn post_as(mesh: &TestMesh, login: &str, path: &str, body: &Value) -> (u16, Value) {
    mesh.post_as(Some(&Who::person(login)), "intake", path, body)
        .await
        .unwrap()
}

/// The last event published on `subject` (without the prefix), as JSON, once there is one.
async fn last_event(mesh: &TestMesh, subject: &str) -> Value {
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let stream = mesh
        .js
        .get_stream(mesh::Stream::Eligibility.name(&subjects))
        .await
        .unwrap();
    // The outbox publishes after the commit: wait for it.
    let deadline = std::time::Instant::now() + WITHIN;
    loop {
        match stream
            .direct_get_last_for_subject(subjects.of(subject))
            .await
        {
            Ok(msg) => return serde_json::from_slice(&msg.payload).unwrap(),
            Err(e) if std::time::Instant::now() > deadline => panic!("nothing on {subject}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_act_first_grant_reaches_a_payment_instruction_with_no_human_step() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let amount = limit_fen(); // exactly at the limit: still act first
    let (status, e) = post(
        &mesh,
        "/v1/emergencies",
        &report(json!([{"amount_fen": amount}])),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(e["status"], json!("granted"));
    assert_eq!(e["act_first"], json!(true));
    let wang = json!({"sub": "wang.fang", "name": "王芳", "role": "township_officer"});
    assert_eq!(e["reported_by"], json!("王芳"));
    assert_eq!(e["reported_by_actor"], wang);
    assert_eq!(e["decided_by"], json!("township:王芳"));
    assert_eq!(e["decided_by_actor"], wang);
    let granted = last_event(&mesh, contract::channels::EMERGENCY_GRANTED.subject).await;
    assert_eq!(granted["actor"], wang);
    assert_eq!(granted["data"]["decided_by"], json!("township:王芳"));
    let household = e["household_id"].as_str().unwrap().to_owned();
    let chain = mesh.complete_chain(&household, WITHIN).await.unwrap();
    let types: Vec<&str> = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "eligibility.emergency.granted",
            "payment.instruction.created"
        ]
    );
    let today = mesh_tests::business_date();
    let instructions = mesh.instructions(&household).await.unwrap();
    assert_eq!(instructions.len(), 1);
    assert_eq!(instructions[0]["kind"], json!("emergency_grant"));
    assert_eq!(instructions[0]["amount_fen"], json!(amount));
    assert_eq!(instructions[0]["due_date"], json!(today.to_string()));

    // The papers come afterwards: overdue after their date, listed for a reminder until done.
    let due: chrono::NaiveDate = e["papers_due"].as_str().unwrap().parse().unwrap();
    let id = e["emergency_id"].as_str().unwrap().to_owned();
    let late = format!(
        "/v1/emergencies/papers-overdue?on={}",
        due + chrono::Days::new(1)
    );
    let (_, list) = mesh.get("intake", &late).await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    // The list holds only the caller's area: the county's, not another township's.
    let (_, county) = mesh
        .get_as(Some(&Who::person("zhao.min")), "intake", &late)
        .await
        .unwrap();
    assert_eq!(county.as_array().unwrap().len(), 1);
    for login in ["li.qiang", "gao.yan"] {
        let (status, other) = mesh
            .get_as(Some(&Who::person(login)), "intake", &late)
            .await
            .unwrap();
        assert_eq!((status, other), (200, json!([])), "{login}");
    }
    let (_, on_time) = mesh
        .get(
            "intake",
            &format!("/v1/emergencies/papers-overdue?on={due}"),
        )
        .await
        .unwrap();
    assert_eq!(on_time, json!([]));
    let papers = format!("/v1/emergencies/{id}/papers");
    let (status, body) = post(&mesh, &papers, &json!({"officer": "Ma Qiang"})).await;
    assert_eq!(status, 422, "the officer is the token's: {body}");
    let (status, _) = post_as(&mesh, "li.qiang", &papers, &json!({})).await;
    assert_eq!(status, 404, "another township's officer does not see it");
    let (status, _) = post(&mesh, &papers, &json!({})).await;
    assert_eq!(status, 204);
    let (_, list) = mesh.get("intake", &late).await.unwrap();
    assert_eq!(list, json!([]));
    // The report and the papers are in the audit trail, by the officer.
    let (_, page) = mesh
        .get("intake", &format!("/v1/audit?household_id={household}"))
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["actor"]["sub"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("emergency.report", "wang.fang")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("emergency.papers", "wang.fang")),
        "{actions:?}"
    );
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_larger_grant_waits_for_a_named_county_approver_and_is_paid_in_stages() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let first = limit_fen();
    let stages = json!([{"amount_fen": first, "pay_after_days": 0}, {"amount_fen": 50_000, "pay_after_days": 30}]);
    let (status, e) = post(&mesh, "/v1/emergencies", &report(stages)).await;
    assert_eq!(status, 201);
    assert_eq!(e["status"], json!("awaiting_case_conference"));
    assert_eq!(e["act_first"], json!(false));
    let household = e["household_id"].as_str().unwrap().to_owned();
    let id = e["emergency_id"].as_str().unwrap().to_owned();
    mesh.settle(WITHIN).await.unwrap();
    assert!(
        mesh.instructions(&household).await.unwrap().is_empty(),
        "nothing is paid before the decision"
    );

    let decision = format!("/v1/emergencies/{id}/decision");
    let approve = json!({"approve": true, "reason": "case conference of 22 November"});
    let (status, _) = post(&mesh, &decision, &json!({"approve": true, "reason": ""})).await;
    assert_eq!(status, 422);
    let (status, body) = post(
        &mesh,
        &decision,
        &json!({"approver": "Deputy Director Zhao", "approve": true, "reason": "x"}),
    )
    .await;
    assert_eq!(status, 422, "the approver is the token's: {body}");
    // Only a county approver of the county decides.
    let (status, _) = post_as(&mesh, "wang.fang", &decision, &approve).await;
    assert_eq!(status, 403);
    let (status, _) = post_as(&mesh, "gao.yan", &decision, &approve).await;
    assert_eq!(status, 404);
    // Maker-checker: who reported it does not decide it. No demo person holds both roles, so
    // the stored reporter is made chen.jing for the check.
    let db = sqlx::PgPool::connect(&mesh.database_url("intake"))
        .await
        .unwrap();
    sqlx::query("UPDATE emergencies SET reported_by_actor = jsonb_set(reported_by_actor, '{sub}', '\"chen.jing\"') WHERE emergency_id = $1")
        .bind(uuid::Uuid::parse_str(&id).unwrap())
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let (status, body) = post_as(&mesh, "chen.jing", &decision, &approve).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maker-checker"),
        "{body}"
    );
    let (status, decided) = post_as(&mesh, "liu.yang", &decision, &approve).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["decided_by"], json!("county:刘洋"));
    assert_eq!(
        decided["decided_by_actor"],
        json!({"sub": "liu.yang", "name": "刘洋", "role": "county_approver"})
    );
    let granted = last_event(&mesh, contract::channels::EMERGENCY_GRANTED.subject).await;
    assert_eq!(granted["actor"]["sub"], json!("liu.yang"));
    let (status, _) = post_as(
        &mesh,
        "liu.yang",
        &decision,
        &json!({"approve": false, "reason": "again"}),
    )
    .await;
    assert_eq!(status, 409, "decided once");

    mesh.complete_chain(&household, WITHIN).await.unwrap();
    let today = mesh_tests::business_date();
    let mut instructions = mesh.instructions(&household).await.unwrap();
    instructions.sort_by_key(|i| i["due_date"].as_str().unwrap().to_owned());
    assert_eq!(instructions.len(), 2, "{instructions:?}");
    assert_eq!(instructions[0]["amount_fen"], json!(first));
    assert_eq!(instructions[0]["due_date"], json!(today.to_string()));
    assert_eq!(instructions[1]["amount_fen"], json!(50_000));
    assert_eq!(
        instructions[1]["due_date"],
        json!((today + chrono::Days::new(30)).to_string())
    );
    assert_ne!(
        instructions[0]["instruction_id"],
        instructions[1]["instruction_id"]
    );
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_emergency_reports_are_refused_field_by_field() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut bad = report(json!([{"amount_fen": 0}, {"amount_fen": 100, "pay_after_days": 999}]));
    bad["person"]["id_number"] = json!("440305199001010031");
    let (status, body) = post(&mesh, "/v1/emergencies", &bad).await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"person.id_number"), "{fields:?}");
    assert!(fields.contains(&"stages[0].amount_fen"));
    assert!(fields.contains(&"stages[1].pay_after_days"));
    // A township officer reports for the townships of the token; a county officer not at all.
    let mut elsewhere = report(json!([{"amount_fen": 100}]));
    elsewhere["region_code"] = json!("410102002");
    let (status, body) = post(&mesh, "/v1/emergencies", &elsewhere).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = post_as(&mesh, "li.qiang", "/v1/emergencies", &elsewhere).await;
    assert_eq!(status, 201);
    let (status, _) = post_as(
        &mesh,
        "zhao.min",
        "/v1/emergencies",
        &report(json!([{"amount_fen": 100}])),
    )
    .await;
    assert_eq!(status, 403);
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_report_with_the_same_key_grants_once() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let send = || async {
        mesh.request(reqwest::Method::POST, "intake", "/v1/emergencies")
            .await
            .unwrap()
            .header("idempotency-key", "fire-2026-11-22-wang-fang")
            .json(&report(json!([{"amount_fen": 100_000}])))
            .send()
            .await
    };
    let first = send().await.unwrap();
    assert_eq!(first.status().as_u16(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status().as_u16(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["emergency_id"], again["emergency_id"]);
    let household = first["household_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(&household, WITHIN).await.unwrap();
    mesh.settle(WITHIN).await.unwrap();
    assert_eq!(
        mesh.instructions(&household).await.unwrap().len(),
        1,
        "paid once"
    );
    mesh.teardown().await.unwrap();
}
