//! The departments' rules end to end, on real NATS and PostgreSQL: no duplicate assistance,
//! medical assistance on bills, disaster aid from the circumstances. Pushes are taken from the
//! stream as monitoring sent them and published again with what the test changes (a new
//! referral, prior assistance, circumstances), as monitoring or a departmental feed would.

use mesh_tests::{another_household, silent_fixtures, Options, TestMesh};
use policy::{Department, PolicyBook, RegionCode};
use serde_json::{json, Value};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

fn params() -> policy::ParameterSet {
    PolicyBook::builtin()
        .in_force(
            &RegionCode::parse("410102").unwrap(),
            chrono::Utc::now().date_naive(),
        )
        .unwrap()
        .clone()
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Submits `h` and waits for its chain; returns the household id.
async fn enrol(mesh: &TestMesh, h: &Value) -> String {
    let (status, accepted) = mesh.submit(h).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(&household, WITHIN).await.unwrap();
    household
}

/// Monitoring's pushes to `dept`, as they sit in the REFERRAL stream.
async fn pushes(mesh: &TestMesh, dept: &str) -> Vec<Value> {
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let stream = mesh
        .js
        .get_stream(mesh::streams::stream_name(&subjects, "REFERRAL"))
        .await
        .unwrap();
    let subject = subjects.fill(mesh::subjects::REFERRAL_PUSH, dept);
    let mut out = Vec::new();
    let mut seq = None;
    while let Ok(m) = stream
        .direct_get_next_for_subject(subject.clone(), seq)
        .await
    {
        seq = Some(m.sequence + 1);
        out.push(serde_json::from_slice(&m.payload).unwrap());
    }
    out
}

/// `base` as a new push (a new event, a new referral) with `edit` applied; published `copies`
/// times under distinct message ids (a redelivery JetStream cannot deduplicate). Returns the
/// new referral id.
async fn push_again(
    mesh: &TestMesh,
    dept: &str,
    base: &Value,
    copies: usize,
    edit: impl FnOnce(&mut Value),
) -> String {
    let mut push = base.clone();
    push["id"] = json!(uuid::Uuid::new_v4().to_string());
    let referral = uuid::Uuid::new_v4().to_string();
    push["data"]["referral_id"] = json!(referral);
    push["subject"] = json!(referral);
    edit(&mut push["data"]);
    for _ in 0..copies {
        let duplicate = mesh
            .publish_raw(
                &format!("referral.{dept}.push"),
                &uuid::Uuid::new_v4().to_string(),
                serde_json::to_vec(&push).unwrap(),
            )
            .await
            .unwrap();
        assert!(!duplicate);
    }
    referral
}

/// The feedback steps of the household's chain for one referral.
async fn feedback_for(mesh: &TestMesh, household: &str, referral: &str) -> Vec<Value> {
    let (_, chain) = mesh
        .get("monitoring", &format!("/v1/households/{household}/chain"))
        .await
        .unwrap();
    chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["type"] == json!("referral.feedback")
                && s["summary"]["referral_id"] == json!(referral)
        })
        .map(|s| s["summary"].clone())
        .collect()
}

/// Waits for `n` feedback steps of the referral, lets every consumer settle, and returns them
/// all (so a feedback sent twice would show).
async fn settled_feedback(
    mesh: &TestMesh,
    household: &str,
    referral: &str,
    n: usize,
) -> Vec<Value> {
    let arrived = mesh_tests::eventually(WITHIN, || async {
        feedback_for(mesh, household, referral).await.len() >= n
    })
    .await;
    assert!(arrived, "{n} feedback for referral {referral}");
    mesh.settle(WITHIN).await.unwrap();
    feedback_for(mesh, household, referral).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_refuses_help_the_person_already_has_and_names_the_earlier_grant() {
    let mut h = another_household();
    h["members"][1]["flags"] = json!({"serious_illness": true});
    let mesh = TestMesh::start(Options {
        departments: vec![Department::Medical, Department::Education],
        fixtures: silent_fixtures(&h),
        ..Default::default()
    })
    .await
    .unwrap();
    let household = enrol(&mesh, &h).await;
    let base = pushes(&mesh, "medical").await.remove(0);
    let first_referral = base["data"]["referral_id"].as_str().unwrap().to_owned();
    let member = base["data"]["member_id"].clone();

    // The premium subsidy granted by another office under another referral, still running:
    // the new referral is refused, naming it. Sent twice, decided once.
    let earlier = uuid::Uuid::new_v4().to_string();
    let from = today() - chrono::Days::new(40);
    let to = from + chrono::Months::new(12) - chrono::Days::new(1);
    let refused = push_again(&mesh, "medical", &base, 2, |d| {
        d["prior_assistance"] = json!([
            {"referral_id": uuid::Uuid::new_v4(), "department": "housing", "kind": "housing_rent_subsidy", "amount_fen": 50000, "from": from, "to": to},
            {"referral_id": earlier, "department": "medical", "kind": "medical_premium_subsidy", "amount_fen": 20000, "from": from, "to": to},
        ]);
    })
    .await;
    let answers = settled_feedback(&mesh, &household, &refused, 1).await;
    assert_eq!(answers.len(), 1, "decided once: {answers:?}");
    assert_eq!(answers[0]["outcome"], json!("rejected"));
    let reason = answers[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("duplicate assistance"), "{reason}");
    assert!(
        reason.contains(&earlier),
        "names the earlier referral: {reason}"
    );
    assert!(
        reason.contains("by medical"),
        "names the department: {reason}"
    );
    assert_eq!(answers[0]["grant"], Value::Null);

    // Prior help of another kind, or of the same kind that ended before today: no duplicate.
    // But the department's own grant under the first referral is: refused, naming it.
    let again = push_again(&mesh, "medical", &base, 1, |d| {
        d["prior_assistance"] = json!([
            {"referral_id": uuid::Uuid::new_v4(), "department": "medical", "kind": "medical_premium_subsidy", "amount_fen": 20000,
             "from": today() - chrono::Days::new(400), "to": today() - chrono::Days::new(1)},
        ]);
    })
    .await;
    let answers = settled_feedback(&mesh, &household, &again, 1).await;
    assert_eq!(answers[0]["outcome"], json!("rejected"), "{answers:?}");
    assert!(answers[0]["reason"]
        .as_str()
        .unwrap()
        .contains(&first_referral));

    // Another member, whose help ended yesterday: granted.
    let other = push_again(&mesh, "medical", &base, 1, |d| {
        d["member_id"] = json!(uuid::Uuid::new_v4());
        d["prior_assistance"] = json!([
            {"referral_id": uuid::Uuid::new_v4(), "department": "medical", "kind": "medical_premium_subsidy", "amount_fen": 20000,
             "from": today() - chrono::Days::new(400), "to": today() - chrono::Days::new(1)},
        ]);
    })
    .await;
    let answers = settled_feedback(&mesh, &household, &other, 1).await;
    assert_eq!(answers[0]["outcome"], json!("granted"), "{answers:?}");
    assert_ne!(answers[0]["grant"], Value::Null);
    assert_ne!(member, json!(null));
    let (status, case) = mesh
        .get("relief-medical", &format!("/v1/cases/{refused}"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(case["outcome"], json!("rejected"));
    mesh.teardown().await.unwrap();
}
