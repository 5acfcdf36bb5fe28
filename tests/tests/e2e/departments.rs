//! The departments: a case the rules cannot settle waits for an officer of the department, whose
//! token names the decision (another department's officer is refused); a referral pushed again
//! (a new event id) is not answered again; the same referral id with another body is parked as
//! modified, its first answer standing.

use mesh_tests::{another_household, silent_fixtures, Options, TestMesh, Who};
use policy::{Department, PolicyBook, RegionCode};
use serde_json::{json, Value};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

/// A rural household above the dibao line and under the marginal one, whose head lives in a
/// dilapidated house: a housing referral the rules send to review.
fn rural_marginal_household() -> Value {
    let p = PolicyBook::builtin()
        .in_force(
            &RegionCode::parse("410102").unwrap(),
            mesh_tests::business_date(),
        )
        .unwrap()
        .clone();
    let mut h = another_household();
    h["urban"] = json!(false);
    h["members"] = json!([h["members"][0].clone(), h["members"][1].clone()]);
    h["members"][0]["declared_monthly_income_fen"] = json!(p.dibao_standard.rural.0 * 12 / 10 * 2);
    h["members"][0]["flags"] = json!({"housing_hardship": true});
    h["members"][1]["declared_monthly_income_fen"] = json!(0);
    h["members"][1]["flags"] = json!({});
    h
}

fn feedback_outcomes(chain: &Value, department: &str) -> Vec<String> {
    chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["type"] == json!("referral.feedback")
                && s["summary"]["department"] == json!(department)
        })
        .map(|s| s["summary"]["outcome"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_the_rules_cannot_settle_is_decided_by_a_named_officer() {
    let h = rural_marginal_household();
    let mesh = TestMesh::start(Options {
        departments: vec![Department::Housing],
        fixtures: silent_fixtures(&h),
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&h).await.unwrap();
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    // Answered at once (accepted), then waiting for an officer.
    let chain = mesh.complete_chain(&household, WITHIN).await.unwrap();
    assert_eq!(feedback_outcomes(&chain, "housing"), ["accepted"]);
    let (_, pending) = mesh.get("relief-housing", "/v1/reviews").await.unwrap();
    let pending = pending.as_array().unwrap().clone();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(pending[0]["review_reason"]
        .as_str()
        .unwrap()
        .contains("case by case"));
    let referral = pending[0]["referral_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/reviews/{referral}");
    let decide = |body: Value| {
        let path = path.clone();
        let mesh = &mesh;
        async move { mesh.post("relief-housing", &path, &body).await.unwrap() }
    };

    let (status, _) = decide(json!({"outcome": "grant", "reason": "roof collapsed"})).await;
    assert_eq!(status, 422, "a grant without kind and amount is refused");
    // The officer is the token's: a body that names one is refused, naming the field.
    let (status, named) = decide(json!({"officer": "Guo Hua", "outcome": "grant", "kind": "housing_renovation_grant", "amount_fen": 1_500_000, "reason": "roof collapsed"})).await;
    assert_eq!(status, 422, "{named}");
    assert_eq!(named["error"]["fields"][0]["field"], json!("officer"));
    // Above the contract's bound of one grant, or for more months than a grant covers (once a
    // date overflow that closed the connection): refused field by field, nothing sent.
    let (status, body) = decide(json!({"outcome": "grant", "kind": "housing_renovation_grant", "amount_fen": 2_000_000_000i64, "months": 11_164_818, "reason": "roof collapsed"})).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["amount_fen", "months"], "{body}");
    let grant = json!({"outcome": "grant", "kind": "housing_renovation_grant", "amount_fen": 1_500_000, "months": 0, "reason": "roof collapsed; inspected on site"});
    // Another department's officer is not this department's, and an auditor decides nothing.
    for who in ["he.ping", "qian.hui"] {
        let (status, refused) = mesh
            .post_as(Some(&Who::person(who)), "relief-housing", &path, &grant)
            .await
            .unwrap();
        assert_eq!(status, 403, "{who}: {refused}");
    }
    // The answer goes out as the officer's: on the wire, the envelope names the actor.
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let mut wire = mesh
        .nats
        .subscribe(subjects.fill(contract::channels::REFERRAL_FEEDBACK.subject, "housing"))
        .await
        .unwrap();
    mesh.nats.flush().await.unwrap();
    let (status, decided) = decide(grant.clone()).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["decided_by"], json!("officer:zheng.jie"));
    assert_eq!(
        decided["actor"],
        json!({"sub": "zheng.jie", "name": "郑洁", "role": "department_officer"})
    );
    let sent = tokio::time::timeout(WITHIN, futures::StreamExt::next(&mut wire))
        .await
        .expect("the feedback is published")
        .unwrap();
    let sent: Value = serde_json::from_slice(&sent.payload).unwrap();
    assert_eq!(sent["data"]["decided_by"], json!("officer:zheng.jie"));
    assert_eq!(sent["actor"]["sub"], json!("zheng.jie"), "{sent:#}");
    assert_eq!(sent["actor"]["role"], json!("department_officer"));
    let (status, _) = decide(json!({"outcome": "reject", "reason": "x"})).await;
    assert_eq!(status, 409, "decided once");
    // The case names its officer; the decision is in the department's audit trail.
    let (status, case) = mesh
        .get("relief-housing", &format!("/v1/cases/{referral}"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["reviewed_by"]["name"], json!("郑洁"));
    let (_, audit) = mesh
        .get("relief-housing", "/v1/audit?actor=zheng.jie")
        .await
        .unwrap();
    let actions: Vec<&str> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert!(actions.contains(&"review.decide"), "{audit:#}");
    assert!(actions.contains(&"reviews.list") && actions.contains(&"case.read"));

    let path = format!("/v1/households/{household}/chain");
    let granted = mesh_tests::eventually(WITHIN, || async {
        // The chain's steps and the referral's status are written by two consumers: wait for both.
        let (_, c) = mesh.get("monitoring", &path).await.unwrap();
        let status = c["referrals"].as_array().and_then(|r| {
            r.iter()
                .find(|r| r["referral_id"] == json!(referral))
                .map(|r| r["status"].clone())
        });
        feedback_outcomes(&c, "housing") == ["accepted", "granted"]
            && status == Some(json!("granted"))
    })
    .await;
    assert!(
        granted,
        "the officer's grant reached the chain after the acceptance"
    );
    let (_, c) = mesh.get("monitoring", &path).await.unwrap();
    let last = c["steps"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|s| s["type"] == json!("referral.feedback"))
        .unwrap()
        .clone();
    assert_eq!(last["summary"]["decided_by"], json!("officer:zheng.jie"));
    assert_eq!(last["summary"]["grant"]["amount_fen"], json!(1_500_000));
    let referral_row = c["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["referral_id"] == json!(referral))
        .unwrap()
        .clone();
    assert_eq!(referral_row["status"], json!("granted"));
    let (_, pending) = mesh.get("relief-housing", "/v1/reviews").await.unwrap();
    assert_eq!(pending, json!([]));

    // Who reads the case: the department's own system and the city's auditor; not another
    // department's system, nor a township officer (no role here).
    let case_path = format!("/v1/cases/{referral}");
    for (who, want) in [
        (Who::System("housing".into()), 200),
        (Who::person("qian.hui"), 200),
        (Who::System("medical".into()), 403),
        (Who::person("wang.fang"), 403),
    ] {
        let (status, body) = mesh
            .get_as(Some(&who), "relief-housing", &case_path)
            .await
            .unwrap();
        assert_eq!(status, want, "{who:?}: {body}");
    }
    let (status, _) = mesh
        .get_as(None, "relief-housing", &case_path)
        .await
        .unwrap();
    assert_eq!(status, 401);
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_pushed_again_is_not_answered_again_and_a_modified_one_is_parked() {
    let mut h = another_household();
    h["members"][1]["flags"] = json!({"serious_illness": true});
    let mesh = TestMesh::start(Options {
        departments: vec![Department::Medical, Department::Education],
        fixtures: silent_fixtures(&h),
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&h).await.unwrap();
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(&household, WITHIN).await.unwrap();
    mesh.settle(WITHIN).await.unwrap();

    // The push as it sits in the stream, sent again as a new event (a department asked for it
    // again): same referral id, same body.
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let stream = mesh
        .js
        .get_stream(mesh::Stream::Referral.name(&subjects))
        .await
        .unwrap();
    let original = stream
        .direct_get_next_for_subject(
            subjects.fill(contract::channels::REFERRAL_PUSH.subject, "medical"),
            None,
        )
        .await
        .unwrap();
    let mut push: Value = serde_json::from_slice(&original.payload).unwrap();
    let referral = push["data"]["referral_id"].clone();
    push["id"] = json!(uuid::Uuid::new_v4().to_string());
    let id = push["id"].as_str().unwrap().to_owned();
    mesh.publish_raw(
        "referral.medical.push",
        &id,
        serde_json::to_vec(&push).unwrap(),
    )
    .await
    .unwrap();
    // And once more with the same referral id but another body.
    push["id"] = json!(uuid::Uuid::new_v4().to_string());
    push["data"]["need"] = json!("something else");
    let id = push["id"].as_str().unwrap().to_owned();
    mesh.publish_raw(
        "referral.medical.push",
        &id,
        serde_json::to_vec(&push).unwrap(),
    )
    .await
    .unwrap();
    mesh.settle(WITHIN).await.unwrap();

    let (_, chain) = mesh
        .get("monitoring", &format!("/v1/households/{household}/chain"))
        .await
        .unwrap();
    // One answer, given once: the copy is not answered again, the modified one is parked.
    assert_eq!(feedback_outcomes(&chain, "medical"), ["granted"]);
    let pushes = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["type"] == json!("referral.push") && s["summary"]["department"] == json!("medical")
        })
        .count();
    assert_eq!(pushes, 1, "the copies are not monitoring's pushes");
    let parked = mesh.dead_letters("relief-medical").await.unwrap();
    assert_eq!(parked.len(), 1, "{parked:#?}");
    assert!(parked[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("modified request"));
    // Monitoring's referral keeps its answer.
    let row = chain["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["referral_id"] == referral)
        .unwrap()
        .clone();
    assert_eq!(row["status"], json!("granted"));
    // The case itself was decided once and is unchanged.
    let (status, case) = mesh
        .get(
            "relief-medical",
            &format!("/v1/cases/{}", referral.as_str().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(case["outcome"], json!("granted"));
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn education_support_follows_the_students_stage_from_application_to_feedback() {
    let p = PolicyBook::builtin()
        .in_force(
            &RegionCode::parse("410102").unwrap(),
            mesh_tests::business_date(),
        )
        .unwrap()
        .clone();
    let mut h = another_household();
    h["members"][1]["flags"] = json!({});
    h["members"][2]["flags"] = json!({"school_stage": "senior_secondary"});
    let mesh = TestMesh::start(Options {
        departments: vec![Department::Education],
        fixtures: silent_fixtures(&h),
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&h).await.unwrap();
    let chain = mesh
        .complete_chain(accepted["household_id"].as_str().unwrap(), WITHIN)
        .await
        .unwrap();
    let feedback = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["type"] == json!("referral.feedback")
                && s["summary"]["department"] == json!("education")
        })
        .expect("the student was referred to education and answered")
        .clone();
    assert_eq!(
        feedback["summary"]["grant"]["kind"],
        json!("education_grant_and_fee_waiver")
    );
    assert_eq!(
        feedback["summary"]["grant"]["amount_fen"],
        json!(p.relief.education_stage_support.senior_secondary.0)
    );
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_welfare_posts_go_first_to_households_with_nobody_in_work() {
    let mut nobody_in_work = another_household();
    nobody_in_work["members"][0]["declared_monthly_income_fen"] = json!(0);
    nobody_in_work["members"][0]["flags"] = json!({"registered_unemployed": true});
    nobody_in_work["members"][1]["flags"] = json!({"registered_unemployed": true});
    let mut someone_in_work = another_household();
    someone_in_work["members"][0]["flags"] = json!({"registered_unemployed": true});
    someone_in_work["members"][1]["declared_monthly_income_fen"] = json!(50_000);
    someone_in_work["members"][1]["flags"] = json!({});
    let mut fixtures = silent_fixtures(&nobody_in_work);
    fixtures.extend(silent_fixtures(&someone_in_work));
    let mesh = TestMesh::start(Options {
        departments: vec![Department::Employment, Department::Education],
        fixtures,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut kinds = Vec::new();
    for h in [&nobody_in_work, &someone_in_work] {
        let (status, accepted) = mesh.submit(h).await.unwrap();
        assert_eq!(status, 202, "{accepted}");
        let chain = mesh
            .complete_chain(accepted["household_id"].as_str().unwrap(), WITHIN)
            .await
            .unwrap();
        let granted: Vec<String> = chain["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                s["type"] == json!("referral.feedback")
                    && s["summary"]["department"] == json!("employment")
            })
            .map(|s| s["summary"]["grant"]["kind"].as_str().unwrap().to_owned())
            .collect();
        kinds.push(granted);
    }
    assert_eq!(
        kinds[0],
        [
            "employment_public_welfare_post",
            "employment_public_welfare_post"
        ]
    );
    assert_eq!(kinds[1], ["employment_training_subsidy"]);
    mesh.teardown().await.unwrap();
}
