//! Emergency temporary assistance: act first within 3 × the monthly standard, a county case
//! conference above it, staged payments, papers completed afterwards.

use mesh_tests::{id_number, Options, TestMesh};
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

/// A person registered in Shenzhen whose emergency happens in Zhengzhou.
fn report(stages: Value) -> Value {
    json!({
        "region_code": "410102",
        "person": {"name": "Huang Lei", "id_number": id_number("44030519900101003")},
        "hardship": "house fire; belongings lost",
        "stages": stages,
        "reported_by": "Ma Qiang",
    })
}

async fn post(mesh: &TestMesh, path: &str, body: &Value) -> (u16, Value) {
    let r = mesh
        .http
        .post(mesh.url("intake", path))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
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
    assert_eq!(e["decided_by"], json!("township:Ma Qiang"));
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
    let (_, on_time) = mesh
        .get(
            "intake",
            &format!("/v1/emergencies/papers-overdue?on={due}"),
        )
        .await
        .unwrap();
    assert_eq!(on_time, json!([]));
    let (status, _) = post(
        &mesh,
        &format!("/v1/emergencies/{id}/papers"),
        &json!({"officer": "Ma Qiang"}),
    )
    .await;
    assert_eq!(status, 204);
    let (_, list) = mesh.get("intake", &late).await.unwrap();
    assert_eq!(list, json!([]));
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

    let (status, _) = post(
        &mesh,
        &format!("/v1/emergencies/{id}/decision"),
        &json!({"approver": "", "approve": true, "reason": ""}),
    )
    .await;
    assert_eq!(status, 422);
    let (status, decided) = post(
        &mesh,
        &format!("/v1/emergencies/{id}/decision"),
        &json!({"approver": "Deputy Director Zhao", "approve": true, "reason": "case conference of 22 November"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(decided["decided_by"], json!("county:Deputy Director Zhao"));
    let (status, _) = post(
        &mesh,
        &format!("/v1/emergencies/{id}/decision"),
        &json!({"approver": "X", "approve": false, "reason": "again"}),
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
    let send = || {
        mesh.http
            .post(mesh.url("intake", "/v1/emergencies"))
            .header("idempotency-key", "fire-2026-11-22-ma-qiang")
            .json(&report(json!([{"amount_fen": 100_000}])))
            .send()
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
