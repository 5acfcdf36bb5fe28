//! The departments' rules end to end, on real NATS and PostgreSQL: no duplicate assistance,
//! medical assistance on bills, disaster aid from the circumstances. Pushes are taken from the
//! stream as monitoring sent them and published again with what the test changes (a new
//! referral, prior assistance, circumstances), as monitoring or a departmental feed would.

use mesh_tests::{another_household, silent_fixtures, Options, TestMesh, Who};
use policy::{Department, PolicyBook, RegionCode};
use serde_json::{json, Value};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

fn params() -> policy::ParameterSet {
    PolicyBook::builtin()
        .in_force(
            &RegionCode::parse("410102").unwrap(),
            mesh_tests::business_date(),
        )
        .unwrap()
        .clone()
}

fn today() -> chrono::NaiveDate {
    mesh_tests::business_date()
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
        .get_stream(mesh::Stream::Referral.name(&subjects))
        .await
        .unwrap();
    let subject = subjects.fill(contract::channels::REFERRAL_PUSH.subject, dept);
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

/// What the department answered for one referral: its feedback as it sits in the REFERRAL
/// stream (the data of each message, in order). Most referrals here are made up by the test, so
/// monitoring refuses their answers and the chain does not show them; the stream does.
async fn feedback_for(mesh: &TestMesh, household: &str, referral: &str) -> Vec<Value> {
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let mut stream = mesh
        .js
        .get_stream(mesh::Stream::Referral.name(&subjects))
        .await
        .unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        let Ok(m) = stream.direct_get(seq).await else {
            continue;
        };
        if !m.subject.as_str().ends_with(".feedback") {
            continue;
        }
        let e: Value = serde_json::from_slice(&m.payload).unwrap();
        if e["household_id"] == json!(household) && e["data"]["referral_id"] == json!(referral) {
            out.push(e["data"].clone());
        }
    }
    out
}

/// Waits for `n` answers to the referral, lets every consumer settle, and returns them all (so a
/// feedback sent twice would show).
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medical_bills_are_assisted_above_the_deductible_up_to_the_yearly_cap_once_per_claim() {
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
    let push = pushes(&mesh, "medical").await.remove(0);
    let referral = push["data"]["referral_id"].as_str().unwrap().to_owned();
    let member = push["data"]["member_id"].as_str().unwrap().to_owned();
    let tier: policy::Tier = serde_json::from_value(push["data"]["tier"].clone()).unwrap();
    let m = policy::relief::medical_assistance_for(tier, &params()).unwrap();
    let day = today().to_string();

    // Per-field reasons.
    let (status, body) = mesh
        .post(
            "relief-medical",
            "/v1/medical/claims",
            &json!({"kind": "dental", "total_fen": 100, "insurance_paid_fen": 200, "date": "2025-02-30"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for f in ["claim_id", "referral_id", "kind", "total_fen", "date"] {
        assert!(fields.contains(&f), "{f} in {body}");
    }
    // Education settles no bills; nobody unknown is assisted.
    let (status, _) = mesh
        .post("relief-education", "/v1/medical/claims", &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, _) = mesh
        .post(
            "relief-medical",
            "/v1/medical/claims",
            &json!({"claim_id": uuid::Uuid::new_v4(), "member_id": uuid::Uuid::new_v4(), "kind": "inpatient", "total_fen": 1000, "date": day}),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);

    // 10 000 yuan in hospital: 6 000 basic insurance, 1 000 critical illness, 500 out of scope;
    // 2 500 yuan eligible, the deductible first, the rest at the tier's ratio.
    let first = uuid::Uuid::new_v4();
    let bill = json!({"claim_id": first, "referral_id": referral, "kind": "inpatient", "total_fen": 1_000_000,
        "insurance_paid_fen": 600_000, "critical_illness_paid_fen": 100_000, "out_of_scope_fen": 50_000, "date": day});
    let to_deductible = 250_000.min(m.deductible.0);
    let first_amount = ((250_000 - to_deductible) * m.ratio_permille + 500) / 1000;
    let sent = (0..3).map(|_| mesh.post("relief-medical", "/v1/medical/claims", &bill));
    let answers = futures::future::join_all(sent).await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.as_ref().unwrap().0).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 200, 201],
        "settled once, answered the same thrice"
    );
    for a in &answers {
        let a = &a.as_ref().unwrap().1;
        assert_eq!(a["assisted_fen"], json!(first_amount), "{a}");
        assert_eq!(a["eligible_fen"], json!(250_000));
        assert_eq!(a["to_deductible_fen"], json!(to_deductible));
        assert_eq!(a["member_id"], json!(member));
        // Sent by the department's system of the token: recorded with the bill.
        assert_eq!(
            a["actor"],
            json!({"sub": "dept-medical", "name": a["actor"]["name"], "role": "department_system"}),
            "{a}"
        );
    }
    // Another department's system does not settle the medical department's bills.
    let (status, refused) = mesh
        .post_as(
            Some(&Who::System("education".into())),
            "relief-medical",
            "/v1/medical/claims",
            &bill,
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{refused}");
    let (status, _) = mesh
        .post(
            "relief-medical",
            "/v1/medical/claims",
            &json!({"claim_id": first, "referral_id": referral, "kind": "inpatient", "total_fen": 2_000_000, "date": day}),
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "the same claim id with another bill");

    // A large outpatient bill by member id, sent by the department's officer: the rest of the
    // yearly cap, no more.
    let (status, big) = mesh
        .post_as(
            Some(&Who::person("he.ping")),
            "relief-medical",
            "/v1/medical/claims",
            &json!({"claim_id": uuid::Uuid::new_v4(), "member_id": member, "kind": "outpatient_chronic", "total_fen": m.annual_cap.0 * 3, "date": day}),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{big}");
    assert_eq!(big["actor"]["sub"], json!("he.ping"));
    assert_eq!(big["actor"]["role"], json!("department_officer"));
    assert_eq!(
        big["assisted_fen"],
        json!(m.annual_cap.0 - first_amount),
        "{big}"
    );
    assert_eq!(big["year_assisted_fen"], json!(m.annual_cap.0));
    // The cap is reached: nothing more this year.
    let (status, none) = mesh
        .post(
            "relief-medical",
            "/v1/medical/claims",
            &json!({"claim_id": uuid::Uuid::new_v4(), "member_id": member, "kind": "inpatient", "total_fen": 500_000, "date": day}),
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    assert_eq!(none["assisted_fen"], json!(0));
    assert_eq!(none["outcome"], json!("rejected"));
    assert_eq!(
        none.get("feedback_event_id"),
        None,
        "nothing given, nothing fed back"
    );

    // The chain: the referral's answer, then one `supplemented` per bill assisted.
    let steps = settled_feedback(&mesh, &household, &referral, 3).await;
    let grants: Vec<(String, i64)> = steps
        .iter()
        .filter(|s| s["outcome"] == json!("supplemented"))
        .map(|s| {
            (
                s["grant"]["kind"].as_str().unwrap().to_owned(),
                s["grant"]["amount_fen"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(steps.len(), 3, "{steps:?}");
    assert_eq!(steps[0]["outcome"], json!("granted"));
    assert!(grants.contains(&("medical_inpatient_assistance".into(), first_amount)));
    assert!(grants.contains(&(
        "medical_outpatient_assistance".into(),
        m.annual_cap.0 - first_amount
    )));
    // The referral keeps the answer to its push; the chain shows every help given.
    let (_, chain) = mesh
        .get("monitoring", &format!("/v1/households/{household}/chain"))
        .await
        .unwrap();
    let in_chain = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["summary"]["referral_id"] == json!(referral)
                && s["type"] == json!("referral.feedback")
        })
        .count();
    assert_eq!(in_chain, 3, "{chain:#}");
    let row = chain["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["referral_id"] == json!(referral))
        .unwrap()
        .clone();
    assert_eq!(row["status"], json!("granted"));
    assert!(mesh.dead_letters("monitoring").await.unwrap().is_empty());
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disaster_aid_follows_the_circumstances_one_feedback_per_kind_rebuilding_once_per_household(
) {
    let p = params();
    let a = p.disaster_aid;
    let mut h = another_household();
    h["members"][0]["flags"] = json!({"disaster_victim": true});
    h["members"][1]["flags"] = json!({"disaster_victim": true});
    let mesh = TestMesh::start(Options {
        departments: vec![Department::Disaster, Department::Education],
        fixtures: silent_fixtures(&h),
        ..Default::default()
    })
    .await
    .unwrap();
    let household = enrol(&mesh, &h).await;
    let referred = pushes(&mesh, "disaster").await;
    assert_eq!(referred.len(), 2, "both victims referred");
    let tier: policy::Tier = serde_json::from_value(referred[0]["data"]["tier"].clone()).unwrap();
    assert!(tier.is_low_income());
    let circumstances = json!({"source": "disaster_victim", "occurred_on": today() - chrono::Days::new(3),
        "house_damage": "collapsed", "displaced": true});
    let in_season = policy::relief::winter_spring_season_end(today(), &p).is_some();

    // The first victim again, now with what the flood did (sent twice: decided once).
    let first = push_again(&mesh, "disaster", &referred[0], 2, |d| {
        d["circumstances"] = circumstances.clone();
    })
    .await;
    let expected = 2 + usize::from(in_season);
    let steps = settled_feedback(&mesh, &household, &first, expected).await;
    assert_eq!(
        steps.len(),
        expected,
        "one feedback per kind, once: {steps:?}"
    );
    // The first answers the referral; the others are further help under it.
    assert_eq!(steps[0]["outcome"], json!("granted"), "{steps:?}");
    assert!(steps[1..]
        .iter()
        .all(|s| s["outcome"] == json!("supplemented")));
    let grants: Vec<(String, i64)> = steps
        .iter()
        .map(|s| {
            (
                s["grant"]["kind"].as_str().unwrap().to_owned(),
                s["grant"]["amount_fen"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(grants.contains(&(
        "disaster_transitional_living_aid".into(),
        a.transitional_monthly_per_person.0 * i64::from(a.transitional_months)
    )));
    assert!(grants.contains(&(
        "disaster_rebuilding_aid".into(),
        a.rebuild_low_income_collapsed.0
    )));
    assert_eq!(
        grants
            .iter()
            .any(|(k, _)| k == "disaster_winter_spring_aid"),
        in_season
    );
    // The emergency relief was granted under the first referral: not again.
    let original = referred[0]["data"]["referral_id"].as_str().unwrap();
    let main = steps
        .iter()
        .find(|s| {
            s["reason"]
                .as_str()
                .unwrap()
                .contains("duplicate assistance")
        })
        .expect("the main feedback says what was not granted again");
    assert!(main["reason"].as_str().unwrap().contains(original));
    assert!(!grants.iter().any(|(k, _)| k == "disaster_emergency_relief"));

    // The second victim of the same household: transitional aid per person, rebuilding once
    // per household, named.
    let second = push_again(&mesh, "disaster", &referred[1], 1, |d| {
        d["circumstances"] = circumstances.clone();
    })
    .await;
    let expected = 1 + usize::from(in_season);
    let steps = settled_feedback(&mesh, &household, &second, expected).await;
    assert_eq!(steps.len(), expected, "{steps:?}");
    let kinds: Vec<&str> = steps
        .iter()
        .map(|s| s["grant"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"disaster_transitional_living_aid"),
        "{kinds:?}"
    );
    assert!(!kinds.contains(&"disaster_rebuilding_aid"), "{kinds:?}");
    let reasons: String = steps
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains("once per household") && reasons.contains(&first),
        "{reasons}"
    );
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_who_cannot_look_after_themselves_get_care_orders_matched_with_charity_offers() {
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
    let person = |self_care: &'static str, region: &'static str| {
        move |d: &mut Value| {
            d["member_id"] = json!(uuid::Uuid::new_v4());
            d["self_care"] = json!(self_care);
            d["region_code"] = json!(region);
        }
    };
    // Two people who need care (one sent twice: one order), one who looks after themselves.
    let first = push_again(&mesh, "medical", &base, 2, person("none", "410102")).await;
    let second = push_again(&mesh, "medical", &base, 1, person("partial", "410105")).await;
    let able = push_again(&mesh, "medical", &base, 1, person("full", "410102")).await;
    for r in [&first, &second] {
        let steps = settled_feedback(&mesh, &household, r, 2).await;
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert!(steps
            .iter()
            .any(|s| s["grant"]["kind"] == json!("care_service_order")));
    }
    assert_eq!(settled_feedback(&mesh, &household, &able, 1).await.len(), 1);
    let (_, orders) = mesh
        .get("relief-medical", "/v1/service-orders?status=open")
        .await
        .unwrap();
    let orders = orders.as_array().unwrap().clone();
    assert_eq!(orders.len(), 2, "{orders:?}");
    let order_of = |referral: &str| {
        orders
            .iter()
            .find(|o| o["referral_id"] == json!(referral))
            .unwrap()["order_id"]
            .clone()
    };
    let (first_order, second_order) = (order_of(&first), order_of(&second));
    let (status, _) = mesh
        .get("relief-education", "/v1/service-orders")
        .await
        .unwrap();
    assert_eq!(status, 404, "care services are the medical department's");

    // Per-field reasons.
    let (status, body) = mesh
        .post(
            "relief-medical",
            "/v1/charity/offers",
            &json!({"organisation": "", "kind": "money", "capacity": 0, "area": "41x"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["offer_id", "organisation", "kind", "capacity", "area"]
    );

    // A county offer serves the need in its county only; sent again, registered once.
    let county = json!({"offer_id": uuid::Uuid::new_v4(), "organisation": "Zhongyuan Charity Federation",
        "kind": "home_care", "capacity": 2, "area": "410102"});
    let (status, a) = mesh
        .post("relief-medical", "/v1/charity/offers", &county)
        .await
        .unwrap();
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["orders"], json!([first_order]));
    assert_eq!(a["matched"], json!(1));
    assert_eq!(
        a["registered_by"],
        json!({"sub": "he.ping", "name": "何平", "role": "department_officer"})
    );
    // Registered by the medical department's officer only.
    let other = json!({"offer_id": uuid::Uuid::new_v4(), "organisation": "Elsewhere",
        "kind": "home_care", "capacity": 1, "area": "410102"});
    for who in [Who::person("wu.hao"), Who::person("qian.hui")] {
        let (status, refused) = mesh
            .post_as(Some(&who), "relief-medical", "/v1/charity/offers", &other)
            .await
            .unwrap();
        assert_eq!(status, 403, "{who:?}: {refused}");
    }
    let (status, again) = mesh
        .post("relief-medical", "/v1/charity/offers", &county)
        .await
        .unwrap();
    assert_eq!((status, &again["orders"]), (200, &json!([first_order])));
    let mut changed = county.clone();
    changed["capacity"] = json!(3);
    let (status, _) = mesh
        .post("relief-medical", "/v1/charity/offers", &changed)
        .await
        .unwrap();
    assert_eq!(status, 409);
    // A city-wide offer takes the other county's need.
    let (status, city) = mesh
        .post(
            "relief-medical",
            "/v1/charity/offers",
            &json!({"offer_id": uuid::Uuid::new_v4(), "organisation": "Zhengzhou Volunteers",
                "kind": "care_visit", "capacity": 1, "area": "4101"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    assert_eq!(city["orders"], json!([second_order]));
    // A new need in the county is matched at once with the county offer's last place.
    let third = push_again(&mesh, "medical", &base, 1, person("none", "410102")).await;
    let steps = settled_feedback(&mesh, &household, &third, 3).await;
    let kinds: Vec<&str> = steps
        .iter()
        .map(|s| s["grant"]["kind"].as_str().unwrap_or(""))
        .collect();
    assert!(
        kinds.contains(&"care_service_order") && kinds.contains(&"charity_match"),
        "{kinds:?}"
    );

    // Every match is fed back once.
    let steps = settled_feedback(&mesh, &household, &first, 3).await;
    let matches: Vec<&Value> = steps
        .iter()
        .filter(|s| s["grant"]["kind"] == json!("charity_match"))
        .collect();
    assert_eq!(matches.len(), 1, "{steps:?}");
    assert!(matches[0]["reason"]
        .as_str()
        .unwrap()
        .contains("Zhongyuan Charity Federation"));
    let (_, open) = mesh
        .get("relief-medical", "/v1/service-orders?status=open")
        .await
        .unwrap();
    assert_eq!(open, json!([]));
    let (_, all) = mesh
        .get("relief-medical", "/v1/service-orders")
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 3);
    // The city's auditor reads the orders of the city; the reads are audited.
    let (status, seen) = mesh
        .get_as(
            Some(&Who::person("qian.hui")),
            "relief-medical",
            "/v1/service-orders",
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen.as_array().unwrap().len(), 3);
    let (_, audit) = mesh.get("relief-medical", "/v1/audit").await.unwrap();
    let actions: Vec<&str> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"charity_offer.register") && actions.contains(&"service_orders.list"),
        "{actions:?}"
    );
    mesh.teardown().await.unwrap();
}
