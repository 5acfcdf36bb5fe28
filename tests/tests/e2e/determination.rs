//! One application, classified determination, end to end: duplicates, near relatives of staff,
//! manual verification by the officer of the token, public disclosure, and the tiers that pay
//! people other than the household head; who may submit, read and decide (roles, areas,
//! maker-checker, near relatives), the actor in responses and events, and the audit trail.

use mesh_tests::{another_household, demo_household, silent_fixtures, Options, TestMesh, Who};
use policy::{PolicyBook, RegionCode};
use serde_json::{json, Value};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

fn zhengzhou() -> policy::ParameterSet {
    PolicyBook::builtin()
        .in_force(
            &RegionCode::parse("410102").unwrap(),
            mesh_tests::business_date(),
        )
        .unwrap()
        .clone()
}

fn id_of(h: &Value, i: usize) -> String {
    h["members"][i]["id_number"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_in_an_open_or_enrolled_case_cannot_apply_again() {
    let demo = demo_household();
    let mesh = TestMesh::start(Options {
        departments: vec![],
        fixtures: silent_fixtures(&demo),
        ..Default::default()
    })
    .await
    .unwrap();
    let (status, first) = mesh.submit(&demo).await.unwrap();
    assert_eq!(status, 202);
    let first_id = first["application_id"].as_str().unwrap();

    // The spouse, in another household's application, while the first is open.
    let mut other = another_household();
    other["members"][1]["id_number"] = json!(id_of(&demo, 1));
    let (status, body) = mesh.submit(&other).await.unwrap();
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], json!("duplicate"));
    assert_eq!(
        body["error"]["fields"][0]["field"],
        json!("members[1].id_number")
    );
    let reason = body["error"]["fields"][0]["reason"].as_str().unwrap();
    assert!(reason.contains(first_id), "{reason}");

    // Once determined as dibao the household is enrolled: still refused, now as enrolled.
    let path = format!("/v1/applications/{first_id}");
    assert!(
        mesh.status_becomes("intake", &path, "determined", WITHIN)
            .await
    );
    let (status, body) = mesh.submit(&other).await.unwrap();
    assert_eq!(status, 409);
    assert!(body["error"]["fields"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("enrolled"));
    // Somebody else entirely is welcome.
    let (status, _) = mesh.submit(&another_household()).await.unwrap();
    assert_eq!(status, 202);
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_naming_a_near_relative_of_staff_is_flagged_through_to_the_chain() {
    let demo = demo_household();
    let mesh = TestMesh::start(Options {
        fixtures: silent_fixtures(&demo),
        ..Default::default()
    })
    .await
    .unwrap();
    // The spouse is the sister of the county approver chen.jing, registered by her token's subject.
    let relative =
        json!({"id_number": id_of(&demo, 1), "staff_sub": "chen.jing", "relation": "sister"});
    let (r, registered) = mesh
        .post("intake", "/v1/staff-relatives", &relative)
        .await
        .unwrap();
    assert_eq!(r, 201, "{registered}");
    assert_eq!(
        registered["registered_by"],
        json!({"sub": "zhao.min", "name": "赵敏", "role": "county_officer"})
    );
    assert_eq!(registered["staff_sub"], json!("chen.jing"));
    assert_eq!(registered["id_number_masked"], json!("410102********0421"));
    let (bad, _) = mesh
        .post(
            "intake",
            "/v1/staff-relatives",
            &json!({"id_number": "123", "staff_sub": "", "relation": "sister"}),
        )
        .await
        .unwrap();
    assert_eq!(bad, 422);
    // Who registered it is the token's county officer, never a name in the body.
    let (status, body) = mesh
        .post(
            "intake",
            "/v1/staff-relatives",
            &json!({"id_number": id_of(&demo, 1), "staff_sub": "chen.jing", "relation": "sister", "registered_by": "township office"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], json!("registered_by"));
    // The registry is the county officers'.
    let (status, _) = mesh
        .post_as(
            Some(&Who::person("wang.fang")),
            "intake",
            "/v1/staff-relatives",
            &relative,
        )
        .await
        .unwrap();
    assert_eq!(status, 403);

    let (_, accepted) = mesh.submit(&demo).await.unwrap();
    let application = accepted["application_id"].as_str().unwrap().to_owned();
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/applications/{application}");
    // The rule proposes; it does not decide for a relative of staff.
    assert!(
        mesh.status_becomes("intake", &path, "awaiting_county_decision", WITHIN)
            .await
    );
    let (_, app) = mesh.get("intake", &path).await.unwrap();
    let flags = app["integrity_flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1);
    assert!(flags[0]
        .as_str()
        .unwrap()
        .starts_with("near_relative_of_staff: members[1]"));
    assert!(app["history"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["note"].as_str().unwrap().starts_with("flagged")));
    assert_eq!(app["determination"], Value::Null);
    assert!(mesh.instructions(&household).await.unwrap().is_empty());

    let decision = format!("{path}/county-decision");
    let approve =
        json!({"decision": "approve", "reason": "verified independently by the county centre"});
    let (status, _) = mesh
        .post(
            "intake",
            &decision,
            &json!({"decision": "maybe", "reason": ""}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422);
    // A body that names the officer is refused: the approver is the token's.
    let (status, body) = mesh
        .post(
            "intake",
            &decision,
            &json!({"officer": "Chen Jun", "decision": "approve", "reason": "x"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], json!("officer"));
    // Only a county approver decides; the township officer who submitted it cannot.
    let (status, _) = mesh
        .post_as(
            Some(&Who::person("wang.fang")),
            "intake",
            &decision,
            &approve,
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    // An approver of another county does not see it.
    let (status, body) = mesh
        .post_as(Some(&Who::person("gao.yan")), "intake", &decision, &approve)
        .await
        .unwrap();
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body["error"]["message"],
        json!("no application with this id")
    );
    // chen.jing is the registered near relative's staff member: she may not decide.
    let (status, body) = mesh
        .post_as(
            Some(&Who::person("chen.jing")),
            "intake",
            &decision,
            &approve,
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("near relative"),
        "{body}"
    );
    // Maker-checker: whoever proposed (submitted) it does not approve it. No demo person holds
    // both roles, so the stored submitter is made liu.yang for the check, then put back.
    let db = sqlx::PgPool::connect(&mesh.database_url("intake"))
        .await
        .unwrap();
    let set_submitter = |sub: &str| {
        sqlx::query("UPDATE applications SET submitted_by = jsonb_set(submitted_by, '{sub}', to_jsonb($2::text)) WHERE application_id = $1")
            .bind(uuid::Uuid::parse_str(&application).unwrap())
            .bind(sub.to_owned())
    };
    set_submitter("liu.yang").execute(&db).await.unwrap();
    let (status, body) = mesh
        .post_as(
            Some(&Who::person("liu.yang")),
            "intake",
            &decision,
            &approve,
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maker-checker"),
        "{body}"
    );
    set_submitter("wang.fang").execute(&db).await.unwrap();
    db.close().await;
    let (status, app) = mesh
        .post_as(
            Some(&Who::person("liu.yang")),
            "intake",
            &decision,
            &approve,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["determination"]["decided_by"], json!("county:刘洋"));
    assert_eq!(
        app["determination"]["decided_by_actor"],
        json!({"sub": "liu.yang", "name": "刘洋", "role": "county_approver"})
    );
    assert_eq!(
        app["history"].as_array().unwrap().last().unwrap()["by"]["sub"],
        json!("liu.yang")
    );

    let chain = mesh.complete_chain(&household, WITHIN).await.unwrap();
    let steps = chain["steps"].as_array().unwrap();
    let determined = steps
        .iter()
        .find(|s| s["type"] == json!("eligibility.household.determined"))
        .unwrap();
    assert_eq!(
        determined["summary"]["integrity_flags"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(determined["summary"]["decided_by"], json!("county:刘洋"));
    let verified = steps
        .iter()
        .find(|s| s["type"] == json!("verify.household.verified"))
        .unwrap();
    assert_eq!(determined["causation_id"], verified["event_id"]);
    // The determination event carries the approver of the token.
    let event = last_event(&mesh, contract::channels::HOUSEHOLD_DETERMINED.subject).await;
    assert_eq!(
        event["actor"],
        json!({"sub": "liu.yang", "name": "刘洋", "role": "county_approver"})
    );
    // The decision is in intake's audit trail, by the approver.
    let decided = audit_of(&mesh, &household).await;
    assert!(
        decided
            .iter()
            .any(|r| r["action"] == json!("application.county_decision")
                && r["actor"]["sub"] == json!("liu.yang")),
        "{decided:#?}"
    );
    // Decided once: a second decision is refused.
    let (status, _) = mesh
        .post_as(
            Some(&Who::person("liu.yang")),
            "intake",
            &decision,
            &json!({"decision": "reject", "reason": "again"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 409);
    mesh.teardown().await.unwrap();
}

/// The last event published on `subject` (without the prefix), as JSON, once there is one.
async fn last_event(mesh: &TestMesh, subject: &str) -> Value {
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let stream_name = contract::channels::CATALOG
        .iter()
        .find(|c| c.subject == subject)
        .and_then(|c| c.stream)
        .map(|stream| stream.name(&subjects))
        .unwrap_or_else(|| panic!("{subject} is not in the catalogue"));
    let stream = mesh.js.get_stream(stream_name).await.unwrap();
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

/// Intake's audit records about a household, as the auditor lists them.
async fn audit_of(mesh: &TestMesh, household: &str) -> Vec<Value> {
    let (status, page) = mesh
        .get("intake", &format!("/v1/audit?household_id={household}"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{page}");
    page["records"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_township_officer_of_the_area_submits_and_only_the_area_reads_with_every_step_audited(
) {
    let demo = demo_household();
    let mesh = TestMesh::start(Options {
        departments: vec![],
        fixtures: silent_fixtures(&demo),
        ..Default::default()
    })
    .await
    .unwrap();
    // Submitting is a township officer's, for a township of the token.
    let (status, body) = mesh
        .post_as(
            Some(&Who::person("zhao.min")),
            "intake",
            "/v1/applications",
            &demo,
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("township_officer"));
    let mut elsewhere = demo.clone();
    elsewhere["region_code"] = json!("410102002");
    let (status, body) = mesh.submit(&elsewhere).await.unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("region_code"));
    let (status, _) = mesh
        .post_as(None, "intake", "/v1/applications", &demo)
        .await
        .unwrap();
    assert_eq!(status, 401);

    let (status, accepted) = mesh.submit(&demo).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let wang = json!({"sub": "wang.fang", "name": "王芳", "role": "township_officer"});
    assert_eq!(accepted["submitted_by"], wang);
    let application = accepted["application_id"].as_str().unwrap().to_owned();
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/applications/{application}");
    assert!(
        mesh.status_becomes("intake", &path, "determined", WITHIN)
            .await
    );
    let (_, app) = mesh.get("intake", &path).await.unwrap();
    assert_eq!(app["submitted_by"], wang);
    assert_eq!(app["history"][0]["actor"], json!("officer:王芳"));
    assert_eq!(app["history"][0]["by"], wang);
    assert_eq!(
        app["determination"]["decided_by_actor"]["role"],
        json!("system")
    );
    let submitted = last_event(&mesh, contract::channels::APPLICATION_SUBMITTED.subject).await;
    assert_eq!(submitted["actor"], wang);

    // The county and the city see it; another township, another county and a department do not.
    for (login, expected) in [
        ("zhao.min", 200),
        ("chen.jing", 200),
        ("sun.li", 200),
        ("qian.hui", 200),
        ("li.qiang", 404),
        ("gao.yan", 404),
        ("he.ping", 403),
        ("ma.chao", 403),
    ] {
        let (status, body) = mesh
            .get_as(Some(&Who::person(login)), "intake", &path)
            .await
            .unwrap();
        assert_eq!(status, expected, "{login}: {body}");
        if status == 404 {
            // Out of area reads as a record that does not exist.
            assert_eq!(
                body["error"]["message"],
                json!("no application with this id")
            );
        }
    }
    // The public notice board needs no token.
    let (status, _) = mesh
        .get_as(None, "intake", "/v1/disclosures/notices?village=410102001")
        .await
        .unwrap();
    assert_eq!(status, 200);

    // The submission, the decision by rule and every read are in the audit trail.
    let records = audit_of(&mesh, &household).await;
    let has = |action: &str, sub: &str| {
        records
            .iter()
            .any(|r| r["action"] == json!(action) && r["actor"]["sub"] == json!(sub))
    };
    assert!(has("application.submit", "wang.fang"), "{records:#?}");
    assert!(
        has("application.determine", "system:intake"),
        "{records:#?}"
    );
    assert!(has("application.read", "zhao.min"), "{records:#?}");
    assert!(has("application.read", "qian.hui"), "{records:#?}");
    assert!(
        !has("application.read", "li.qiang"),
        "a refused read leaves nothing: {records:#?}"
    );
    let (status, verified) = mesh.get("intake", "/v1/audit/verify").await.unwrap();
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["intact"], json!(true));
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_officer_completes_a_verification_with_gaps_and_the_chain_goes_on() {
    let demo = demo_household();
    let mesh = TestMesh::start(Options {
        fixtures: silent_fixtures(&demo),
        silent_sources: vec!["bank".into()],
        verification_timeout_ms: 300,
        verification_attempts: 1,
        // No hold: the gap goes to manual verification at once (tests/tests/e2e/outages.rs
        // holds for the source).
        verification: vec![("verification.source_hold_seconds".into(), "0".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&demo).await.unwrap();
    let application = accepted["application_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/applications/{application}");
    assert!(
        mesh.status_becomes("intake", &path, "manual_verification", WITHIN)
            .await
    );
    let (_, app) = mesh.get("intake", &path).await.unwrap();
    let members: Vec<String> = app["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["member_id"].as_str().unwrap().to_owned())
        .collect();

    let manual = format!("{path}/manual-verification");
    // Incomplete figures are refused, naming what is missing.
    let (status, _) = mesh
        .post(
            "intake",
            &manual,
            &json!({"note": "visited", "members": [{"member_id": members[0], "monthly_income_fen": 0, "assets_fen": 0}]}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422);
    let figures: Vec<Value> = members
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"member_id": m, "monthly_income_fen": if i == 0 { 90_000 } else { 0 }, "assets_fen": 500_000}))
        .collect();
    let body =
        json!({"note": "bank statements checked at the township office", "members": figures});
    // The officer of another township does not see the application; a county officer may not
    // verify by hand.
    let (status, _) = mesh
        .post_as(Some(&Who::person("li.qiang")), "intake", &manual, &body)
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, _) = mesh
        .post_as(Some(&Who::person("zhao.min")), "intake", &manual, &body)
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, app) = mesh.post("intake", &manual, &body).await.unwrap();
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["status"], json!("determined"));
    assert_eq!(app["determination"]["decided_by"], json!("officer:王芳"));
    assert_eq!(
        app["determination"]["decided_by_actor"],
        json!({"sub": "wang.fang", "name": "王芳", "role": "township_officer"})
    );
    // 900 yuan verified beats the 600 declared: pc 300, gap (870 - 300) x 3 + 2 add-ons.
    let p = zhengzhou();
    let expected = (p.dibao_standard.urban.0 - 30_000) * 3 + 2 * p.classified_addon.0;
    assert_eq!(app["determination"]["monthly_amount_fen"], json!(expected));
    let history: Vec<&str> = app["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["actor"].as_str().unwrap())
        .collect();
    assert!(history.contains(&"officer:王芳"), "{history:?}");

    // A second completion is refused: the application is no longer waiting for one.
    let (status, _) = mesh
        .post("intake", &manual, &json!({"note": "again", "members": []}))
        .await
        .unwrap();
    assert_eq!(status, 409);
    // Verification stored who did it, from the actor of intake's event.
    let verification = format!("/v1/verifications/{application}");
    assert!(
        mesh.status_becomes("verification", &verification, "manually_verified", WITHIN)
            .await
    );
    let (_, v) = mesh.get("verification", &verification).await.unwrap();
    assert_eq!(v["manually_verified_by"], json!("officer:王芳"));
    assert_eq!(v["manually_verified_by_actor"]["sub"], json!("wang.fang"));

    let chain = mesh
        .complete_chain(accepted["household_id"].as_str().unwrap(), WITHIN)
        .await
        .unwrap();
    let steps = chain["steps"].as_array().unwrap();
    let review = steps
        .iter()
        .find(|s| s["type"] == json!("intake.application.manual_review"))
        .unwrap();
    let determined = steps
        .iter()
        .find(|s| s["type"] == json!("eligibility.household.determined"))
        .unwrap();
    assert_eq!(
        determined["causation_id"], review["event_id"],
        "the determination answers the manual review"
    );
    assert_eq!(determined["summary"]["decided_by"], json!("officer:王芳"));
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_disclosure_list_masks_names_and_id_numbers() {
    let demo = demo_household();
    let mesh = TestMesh::start(Options {
        fixtures: silent_fixtures(&demo),
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&demo).await.unwrap();
    mesh.complete_chain(accepted["household_id"].as_str().unwrap(), WITHIN)
        .await
        .unwrap();
    let (status, list) = mesh
        .get("intake", "/v1/disclosures/notices?village=410102001")
        .await
        .unwrap();
    assert_eq!(status, 200);
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["application_id"] == accepted["application_id"])
        .unwrap()
        .clone();
    assert_eq!(entry["tier"], json!("dibao"));
    assert_eq!(entry["members"], json!(3));
    // Surname kept, given name masked without its length (vault::mask, public style).
    assert_eq!(entry["head_name_masked"], json!("Zhang **"));
    assert_eq!(entry["head_id_number_masked"], json!("410102********0312"));
    let text = list.to_string();
    for i in 0..3 {
        assert!(!text.contains(&id_of(&demo, i)));
        assert!(!text.contains(demo["members"][i]["name"].as_str().unwrap()));
    }
    let (_, elsewhere) = mesh
        .get("intake", "/v1/disclosures/notices?village=440300001")
        .await
        .unwrap();
    assert_eq!(elsewhere, json!([]));
    let (status, _) = mesh
        .get("intake", "/v1/disclosures/notices?village=44x")
        .await
        .unwrap();
    assert_eq!(status, 422);
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destitute_person_in_a_care_institution_is_paid_to_the_institution() {
    let person = json!({
        "region_code": "410102001",
        "urban": true,
        "members": [{
            "name": "Zhao Lao",
            "id_number": mesh_tests::id_number("41010219400101005"),
            "relation": "head",
            "declared_monthly_income_fen": 0,
            "flags": {"no_work_ability": true, "no_legal_supporter": true, "self_care": "none", "in_care_institution": true}
        }],
        "commitment": mesh_tests::commitment(0),
    });
    let mesh = TestMesh::start(Options {
        departments: vec![],
        fixtures: silent_fixtures(&person),
        ..Default::default()
    })
    .await
    .unwrap();
    let (status, accepted) = mesh.submit(&person).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(&household, WITHIN).await.unwrap();
    let p = zhengzhou();
    let expected = p
        .dibao_standard
        .urban
        .times_permille(p.destitute_multiple_permille)
        .and_then(|basic| basic.checked_add(p.care_standard.no_self_care))
        .unwrap();
    let instructions = mesh.instructions(&household).await.unwrap();
    assert_eq!(instructions.len(), 1, "{instructions:?}");
    assert_eq!(instructions[0]["kind"], json!("destitute_monthly"));
    assert_eq!(instructions[0]["payee"], json!("care_institution"));
    assert_eq!(instructions[0]["amount_fen"], json!(expected.0));
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seriously_ill_member_of_a_marginal_household_is_paid_single_person_dibao() {
    let p = zhengzhou();
    // Per-capita income 1.2 x the standard: marginal; the ill member has no income of their own.
    let income = p.dibao_standard.urban.0 * 12 / 10 * 2;
    let mut h = another_household();
    h["members"] = json!([h["members"][0].clone(), h["members"][1].clone()]);
    h["members"][0]["declared_monthly_income_fen"] = json!(income);
    h["members"][1]["declared_monthly_income_fen"] = json!(0);
    h["members"][1]["flags"] = json!({"serious_illness": true});
    let mesh = TestMesh::start(Options {
        departments: vec![policy::Department::Medical],
        fixtures: silent_fixtures(&h),
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&h).await.unwrap();
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    let chain = mesh.complete_chain(&household, WITHIN).await.unwrap();
    let determined = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == json!("eligibility.household.determined"))
        .unwrap();
    assert_eq!(determined["summary"]["tier"], json!("single_person_dibao"));
    assert_eq!(
        determined["summary"]["classifications"],
        json!(["single_person_dibao", "marginal"])
    );
    let instructions = mesh.instructions(&household).await.unwrap();
    assert_eq!(instructions.len(), 1);
    assert_eq!(
        instructions[0]["kind"],
        json!("single_person_dibao_monthly")
    );
    assert_eq!(
        instructions[0]["amount_fen"],
        json!(p.dibao_standard.urban.0 + p.classified_addon.0)
    );
    let (_, app) = mesh
        .get(
            "intake",
            &format!(
                "/v1/applications/{}",
                accepted["application_id"].as_str().unwrap()
            ),
        )
        .await
        .unwrap();
    let ill = &app["members"][1]["member_id"];
    assert_eq!(&instructions[0]["beneficiary_member_id"], ill);
    mesh.teardown().await.unwrap();
}

/// 002 一(一): the low-income population includes "防止返贫监测对象" and "其他困难人员", and
/// 002 三: "对防止返贫监测对象,同时按照现行防止返贫动态监测和帮扶机制给予针对性帮扶措施". A
/// household above every tier's line with a return-to-poverty monitoring object is still
/// followed: the member is referred to the departments the group's rule names (employment, in
/// Zhengzhou's set), the department decides by the group, and nothing is paid monthly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_to_poverty_monitoring_object_in_no_tier_is_referred_by_the_groups_rule() {
    let p = zhengzhou();
    assert!(p
        .recognised_groups
        .return_to_poverty
        .contains(&policy::Department::Employment));
    // Per-capita income 3 x the standard: above the marginal line, so in no tier.
    let income = p.dibao_standard.urban.0 * 3 * 2;
    let mut h = another_household();
    h["members"] = json!([h["members"][0].clone(), h["members"][1].clone()]);
    h["members"][0]["declared_monthly_income_fen"] = json!(income);
    h["members"][0]["flags"] =
        json!({"return_to_poverty_monitoring": true, "registered_unemployed": true});
    // Ill, but in no group: a household in no tier is not referred for them.
    h["members"][1]["declared_monthly_income_fen"] = json!(0);
    h["members"][1]["flags"] = json!({"serious_illness": true});
    let mesh = TestMesh::start(Options {
        departments: vec![policy::Department::Employment, policy::Department::Medical],
        fixtures: silent_fixtures(&h),
        ..Default::default()
    })
    .await
    .unwrap();
    let (status, accepted) = mesh.submit(&h).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    let chain = mesh.complete_chain(&household, WITHIN).await.unwrap();
    let steps = chain["steps"].as_array().unwrap();
    let of =
        |kind: &str| -> Vec<&Value> { steps.iter().filter(|s| s["type"] == json!(kind)).collect() };
    let determined = of("eligibility.household.determined");
    assert_eq!(determined[0]["summary"]["tier"], json!("none"), "{chain:#}");
    assert_eq!(of("monitor.household.enrolled").len(), 1, "{chain:#}");
    let pushes = of("referral.push");
    assert_eq!(pushes.len(), 1, "only the group member's line: {chain:#}");
    assert_eq!(pushes[0]["summary"]["department"], json!("employment"));
    assert_eq!(pushes[0]["summary"]["tier"], json!("none"));
    assert_eq!(pushes[0]["summary"]["group"], json!("return_to_poverty"));
    let feedback = of("referral.feedback");
    assert_eq!(feedback.len(), 1, "{chain:#}");
    assert_ne!(
        feedback[0]["summary"]["outcome"],
        json!("rejected"),
        "decided by the group's rule, not refused as not low-income: {chain:#}"
    );
    assert!(mesh.instructions(&household).await.unwrap().is_empty());
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_officer_can_reject_a_flagged_application_and_its_chain_ends_there() {
    let demo = another_household();
    let mesh = TestMesh::start(Options {
        departments: vec![],
        fixtures: silent_fixtures(&demo),
        ..Default::default()
    })
    .await
    .unwrap();
    let (r, _) = mesh
        .post(
            "intake",
            "/v1/staff-relatives",
            &json!({"id_number": id_of(&demo, 0), "staff_sub": "sun.li", "relation": "father"}),
        )
        .await
        .unwrap();
    assert_eq!(r, 201);
    let (_, accepted) = mesh.submit(&demo).await.unwrap();
    let path = format!(
        "/v1/applications/{}",
        accepted["application_id"].as_str().unwrap()
    );
    assert!(
        mesh.status_becomes("intake", &path, "awaiting_county_decision", WITHIN)
            .await
    );
    let (r, r_body) = mesh.post("intake", &format!("{path}/county-decision"), &json!({"decision": "reject", "reason": "undeclared business income found on the home visit"})).await.unwrap();
    assert_eq!(r, 200);
    let app: Value = r_body;
    assert_eq!(app["status"], json!("rejected"));
    let last = app["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["actor"], json!("county:陈静"));
    assert_eq!(last["by"]["sub"], json!("chen.jing"));
    let rejected = last_event(&mesh, contract::channels::APPLICATION_REJECTED.subject).await;
    assert_eq!(rejected["data"]["decided_by"], json!("county:陈静"));
    assert_eq!(rejected["actor"]["sub"], json!("chen.jing"));
    let chain = mesh
        .complete_chain(accepted["household_id"].as_str().unwrap(), WITHIN)
        .await
        .unwrap();
    let types: Vec<&str> = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.last(), Some(&"intake.application.rejected"));
    assert!(!types.contains(&"eligibility.household.determined"));
    assert!(mesh
        .instructions(accepted["household_id"].as_str().unwrap())
        .await
        .unwrap()
        .is_empty());
    // A rejected applicant may apply again.
    let (status, _) = mesh.submit(&demo).await.unwrap();
    assert_eq!(status, 202);
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_township_officer_cannot_decide_a_flagged_application_alone() {
    let demo = another_household();
    let mesh = TestMesh::start(Options {
        departments: vec![],
        fixtures: silent_fixtures(&demo),
        silent_sources: vec!["tax".into()],
        verification_timeout_ms: 300,
        verification_attempts: 1,
        // No hold: the gap goes to manual verification at once (tests/tests/e2e/outages.rs
        // holds for the source).
        verification: vec![("verification.source_hold_seconds".into(), "0".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let (r, _) = mesh
        .post(
            "intake",
            "/v1/staff-relatives",
            &json!({"id_number": id_of(&demo, 2), "staff_sub": "zhou.lei", "relation": "aunt"}),
        )
        .await
        .unwrap();
    assert_eq!(r, 201);
    let (_, accepted) = mesh.submit(&demo).await.unwrap();
    let path = format!(
        "/v1/applications/{}",
        accepted["application_id"].as_str().unwrap()
    );
    assert!(
        mesh.status_becomes("intake", &path, "manual_verification", WITHIN)
            .await
    );
    let (r, r_body) = mesh
        .verify_by_hand(&path, "tax records checked by hand")
        .await;
    assert_eq!(r, 200);
    let app: Value = r_body;
    assert_eq!(app["status"], json!("awaiting_county_decision"));
    assert_eq!(app["determination"], Value::Null);
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_cannot_look_after_themselves_gets_a_care_service_order_from_the_referral() {
    // A seriously ill destitute person who cannot look after themselves needs care as well as
    // money: the determination carries it to the medical referral, and the medical department
    // opens a care service order.
    let person = json!({
        "region_code": "410102001",
        "urban": true,
        "members": [{
            "name": "Qian Lao",
            "id_number": mesh_tests::id_number("41010219410101005"),
            "relation": "head",
            "declared_monthly_income_fen": 0,
            "flags": {"no_work_ability": true, "no_legal_supporter": true, "self_care": "partial", "serious_illness": true}
        }],
        "commitment": mesh_tests::commitment(0),
    });
    let mesh = TestMesh::start(Options {
        departments: vec![policy::Department::Medical],
        fixtures: silent_fixtures(&person),
        ..Default::default()
    })
    .await
    .unwrap();
    let (status, accepted) = mesh.submit(&person).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    let chain = mesh.complete_chain(&household, WITHIN).await.unwrap();
    let medical = chain["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["department"] == json!("medical"))
        .unwrap_or_else(|| panic!("no medical referral: {chain:#}"))["referral_id"]
        .clone();
    assert!(
        mesh_tests::eventually(WITHIN, || async {
            let (_, orders) = mesh
                .get("relief-medical", "/v1/service-orders")
                .await
                .unwrap();
            orders
                .as_array()
                .is_some_and(|o| o.len() == 1 && o[0]["referral_id"] == medical)
        })
        .await,
        "one care service order for the medical referral"
    );
    mesh.teardown().await.unwrap();
}
