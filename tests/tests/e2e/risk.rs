//! Risk supervision (风险监督预警, 003: "建立社会救助风险监督预警机制"): the rules intake and
//! payment hold their own data to, each in the transaction of the change that may trip it, and
//! the warning monitoring raises for the county from each detection. For each rule a fixture
//! built to trip it raises exactly one warning of its kind, escalated to the county; the same
//! input again raises no second one; the demo household's flow raises none.

use mesh_tests::{
    another_household, demo_household, eventually, id_number, silent_fixtures, Options, TestMesh,
    Who,
};
use serde_json::{json, Value};
use simulator::Figures;
use std::collections::HashMap;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);
const TOWNSHIP: &str = "410102001";
const BANK: &str = "102491000018";

fn zhao() -> Who {
    Who::person("zhao.min")
}

/// The risk warnings the county officer zhao.min sees escalated to the county, of `kind`.
async fn risk_warnings(mesh: &TestMesh, kind: &str) -> Vec<Value> {
    let (status, list) = mesh
        .get_as(
            Some(&zhao()),
            "monitoring",
            &format!("/v1/warnings?kind={kind}&escalated=true"),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{list}");
    list.as_array().cloned().unwrap_or_default()
}

/// Every warning of a risk kind the county officer sees.
async fn all_risk_warnings(mesh: &TestMesh) -> Vec<Value> {
    let mut all = Vec::new();
    for kind in [
        "risk_fast_approval",
        "risk_shared_account",
        "risk_account_changes",
        "risk_relative_decision",
        "risk_income_gap",
    ] {
        all.extend(risk_warnings(mesh, kind).await);
    }
    all
}

/// Waits for one warning of `kind` and returns it; fails when there is none or more than one.
async fn one_warning(mesh: &TestMesh, kind: &str) -> Value {
    assert!(
        eventually(WITHIN, || async {
            !risk_warnings(mesh, kind).await.is_empty()
        })
        .await,
        "a {kind} warning is raised"
    );
    mesh.settle(WITHIN).await.unwrap();
    let list = risk_warnings(mesh, kind).await;
    assert_eq!(list.len(), 1, "{kind}: {list:#?}");
    let w = list[0].clone();
    assert_eq!(w["escalated_to"], json!("410102"), "{w}");
    assert_eq!(w["status"], json!("open"), "{w}");
    w
}

/// Nothing of the detail is a name, an ID number or an account number.
fn holds_no_personal_data(w: &Value, numbers: &[&str]) {
    let text = w.to_string();
    for n in numbers {
        assert!(!text.contains(n), "{n} in {text}");
    }
}

/// The demo household's fixtures (as the chain test's: the head's tax and bank income, 705
/// yuan against 600 declared), and a household whose head the tax office reports earning 2,000
/// yuan a month against the 600 declared.
fn fixtures(gap: &Value) -> simulator::Fixtures {
    let mut f = crate::chain::demo_fixtures();
    f.extend(silent_fixtures(gap));
    let head = gap["members"][0]["id_number"].as_str().unwrap().to_owned();
    f.insert(
        head,
        HashMap::from([(
            "tax".to_owned(),
            Figures {
                monthly_income_fen: Some(200_000),
                assets_fen: None,
            },
        )]),
    );
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intakes_rules_raise_one_warning_each_for_the_county_and_none_on_the_demo_household() {
    let gap = another_household();
    let related = another_household();
    let mut f = fixtures(&gap);
    f.extend(silent_fixtures(&related));
    let mesh = TestMesh::start(Options {
        fixtures: f,
        ..Default::default()
    })
    .await
    .unwrap();

    // The clean demo flow: determined by rule, enrolled, referred; no risk rule fires, nor
    // the sweep's.
    let (status, accepted) = mesh.submit(&demo_household()).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let demo = accepted["household_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(&demo, WITHIN).await.unwrap();
    mesh.settle(WITHIN).await.unwrap();
    let (_, swept) = mesh
        .post(
            "monitoring",
            "/v1/sweeps",
            &json!({"as_of": mesh_tests::business_date()}),
        )
        .await
        .unwrap();
    assert_eq!(swept["risk_raised"], json!(0), "{swept}");
    assert!(
        all_risk_warnings(&mesh).await.is_empty(),
        "{:#?}",
        all_risk_warnings(&mesh).await
    );

    // A declared income far below the sources': 600 yuan declared, 2,000 reported.
    let (status, accepted) = mesh.submit(&gap).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let gap_household = accepted["household_id"].as_str().unwrap().to_owned();
    let w = one_warning(&mesh, "risk_income_gap").await;
    assert_eq!(w["household_id"], json!(gap_household));
    assert_eq!(w["detail"]["application_id"], accepted["application_id"]);
    assert_eq!(w["detail"]["declared_monthly_income_fen"], json!(60_000));
    assert_eq!(w["detail"]["sources_monthly_income_fen"], json!(200_000));
    assert_eq!(w["detail"]["gap_fen"], json!(140_000));
    holds_no_personal_data(
        &w,
        &[
            gap["members"][0]["id_number"].as_str().unwrap(),
            "Zhang Wei",
        ],
    );
    // The same detection delivered again (another event id, the same rule and key): no second.
    let stored = mesh
        .stored("INTAKE", contract::channels::INTAKE_RISK_DETECTED.subject)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "one detection: {stored:#?}");
    let mut again = stored[0].1.clone();
    again["id"] = json!(uuid::Uuid::new_v4().to_string());
    mesh.publish_raw(
        contract::channels::INTAKE_RISK_DETECTED.subject,
        again["id"].as_str().unwrap(),
        serde_json::to_vec(&again).unwrap(),
    )
    .await
    .unwrap();
    mesh.settle(WITHIN).await.unwrap();
    assert_eq!(risk_warnings(&mesh, "risk_income_gap").await.len(), 1);

    // A decision by a near relative registered afterwards: the household's spouse is
    // registered as the sister of chen.jing, so liu.yang decides the flagged application;
    // then the spouse is registered as liu.yang's cousin too.
    let relative = |staff: &str, relation: &str| json!({"id_number": related["members"][1]["id_number"], "staff_sub": staff, "relation": relation});
    let (status, body) = mesh
        .post(
            "intake",
            "/v1/staff-relatives",
            &relative("chen.jing", "sister"),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let (status, accepted) = mesh.submit(&related).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let related_household = accepted["household_id"].as_str().unwrap().to_owned();
    let path = format!(
        "/v1/applications/{}",
        accepted["application_id"].as_str().unwrap()
    );
    assert!(
        mesh.status_becomes("intake", &path, "awaiting_county_decision", WITHIN)
            .await
    );
    let (status, decided) = mesh
        .post_as(
            Some(&Who::person("liu.yang")),
            "intake",
            &format!("{path}/county-decision"),
            &json!({"decision": "approve", "reason": "checked at the county centre"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{decided}");
    mesh.settle(WITHIN).await.unwrap();
    assert!(risk_warnings(&mesh, "risk_relative_decision")
        .await
        .is_empty());
    for _ in 0..2 {
        // Registered, then registered again: one warning.
        let (status, body) = mesh
            .post(
                "intake",
                "/v1/staff-relatives",
                &relative("liu.yang", "cousin"),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let w = one_warning(&mesh, "risk_relative_decision").await;
    assert_eq!(w["household_id"], json!(related_household));
    assert_eq!(w["detail"]["decided_by"], json!("liu.yang"));
    assert_eq!(w["detail"]["application_id"], accepted["application_id"]);
    holds_no_personal_data(
        &w,
        &[
            related["members"][1]["id_number"].as_str().unwrap(),
            "Li Na",
        ],
    );
    assert_eq!(
        mesh.stored("INTAKE", contract::channels::INTAKE_RISK_DETECTED.subject)
            .await
            .unwrap()
            .len(),
        4,
        "the income gap, its redelivery and the relation registered twice: one warning each rule"
    );
    assert!(mesh.dead_letters("monitoring").await.unwrap().is_empty());
    mesh.teardown().await.unwrap();
}

/// An emergency grant paid at once: a household payment knows with one beneficiary.
async fn beneficiary(mesh: &TestMesh, n: u32) -> (String, String) {
    let (status, e) = mesh
        .post(
            "intake",
            "/v1/emergencies",
            &json!({
                "region_code": TOWNSHIP,
                "urban": true,
                "person": {"name": format!("Person {n}"), "id_number": id_number(&format!("41010219800101{n:03}"))},
                "hardship": "house fire; belongings lost",
                "stages": [{"amount_fen": 50_000}],
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{e}");
    let household = e["household_id"].as_str().unwrap().to_owned();
    assert!(
        eventually(WITHIN, || async {
            mesh.instructions(&household).await.unwrap().len() == 1
        })
        .await
    );
    let found = mesh.instructions(&household).await.unwrap();
    let member = found[0]["beneficiary_member_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (household, member)
}

/// The account `number` put in force for `member`: proposed by wang.fang, confirmed by zhao.min.
async fn set_account(mesh: &TestMesh, member: &str, number: &str, holder_kind: &str) {
    let body = json!({
        "holder_name": "Zhang Wei",
        "account_number": number,
        "bank_code": BANK,
        "region_code": TOWNSHIP,
        "holder_kind": holder_kind,
    });
    mesh.set_account(member, &body).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_rules_raise_one_warning_each_for_the_county() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut people = Vec::new();
    for n in 1..=6 {
        people.push(beneficiary(&mesh, 600 + n).await);
    }
    // Today (2026-11-16) lies in the 30 days before the run of the 25th.
    assert_eq!(mesh.today().to_string(), "2026-11-16");

    // A care institution's collective account receives for several households: no risk.
    let care = "6222000000000300";
    set_account(&mesh, &people[2].1, care, "care_institution").await;
    set_account(&mesh, &people[3].1, care, "care_institution").await;
    // One household's account alone: no risk.
    set_account(&mesh, &people[0].1, "6222000000000311", "person").await;
    mesh.settle(WITHIN).await.unwrap();
    assert!(
        all_risk_warnings(&mesh).await.is_empty(),
        "{:#?}",
        all_risk_warnings(&mesh).await
    );

    // One person's account confirmed for a second household; later for a third: one warning.
    set_account(&mesh, &people[1].1, "6222000000000311", "person").await;
    let w = one_warning(&mesh, "risk_shared_account").await;
    assert_eq!(w["household_id"], json!(people[1].0));
    assert_eq!(w["detail"]["households"], json!(2));
    assert_eq!(w["detail"]["account_masked"], json!("****0311"));
    let mut named: Vec<Value> = w["detail"]["household_ids"].as_array().unwrap().clone();
    named.sort_by_key(|v| v.as_str().unwrap().to_owned());
    let mut want = vec![json!(people[0].0), json!(people[1].0)];
    want.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(named, want);
    holds_no_personal_data(&w, &["6222000000000311", "Zhang Wei"]);
    set_account(&mesh, &people[4].1, "6222000000000311", "person").await;
    mesh.settle(WITHIN).await.unwrap();
    assert_eq!(risk_warnings(&mesh, "risk_shared_account").await.len(), 1);
    assert!(risk_warnings(&mesh, "risk_account_changes")
        .await
        .is_empty());

    // Repeated changes just before the run: the second confirmed change of one household
    // raises one warning; a third before the same run none more.
    set_account(&mesh, &people[5].1, "6222000000000321", "person").await;
    mesh.settle(WITHIN).await.unwrap();
    assert!(risk_warnings(&mesh, "risk_account_changes")
        .await
        .is_empty());
    set_account(&mesh, &people[5].1, "6222000000000322", "person").await;
    let w = one_warning(&mesh, "risk_account_changes").await;
    assert_eq!(w["household_id"], json!(people[5].0));
    assert_eq!(w["detail"]["changes"], json!(2));
    assert_eq!(w["detail"]["run_on"], json!("2026-11-25"));
    holds_no_personal_data(&w, &["6222000000000321", "6222000000000322"]);
    set_account(&mesh, &people[5].1, "6222000000000323", "person").await;
    mesh.settle(WITHIN).await.unwrap();
    assert_eq!(risk_warnings(&mesh, "risk_account_changes").await.len(), 1);
    assert_eq!(risk_warnings(&mesh, "risk_shared_account").await.len(), 1);
    let detected = mesh
        .stored("PAYMENT", contract::channels::PAYMENT_RISK_DETECTED.subject)
        .await
        .unwrap();
    // The shared account detected for two households then three, the changes after the second
    // and the third: four detections, two warnings.
    assert_eq!(detected.len(), 4, "{detected:#?}");
    for (_, e) in &detected {
        holds_no_personal_data(e, &["6222000000000311", "6222000000000322", "Zhang Wei"]);
    }
    assert!(mesh.dead_letters("monitoring").await.unwrap().is_empty());
    mesh.teardown().await.unwrap();
}
