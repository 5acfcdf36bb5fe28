//! Enrolled households are verified again at least every 6 months and visited at least yearly,
//! on dates that come from the policy parameter sets: the due lists, the scheduler's
//! re-verification into the household's chain, home visits; and the simulator's generated data
//! set going through intake and verification. The due lists and reports are the caller's area's
//! only, and a visit is the token's officer's.

use chrono::{Days, Months, NaiveDate, Utc};
use contract::HouseholdReverified;
use mesh::Envelope;
use mesh_tests::{demo_household, Options, TestMesh, Who};
use policy::{ParameterSet, PolicyBook, RegionCode};
use serde_json::{json, Value};
use simulator::Fixtures;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

async fn start() -> TestMesh {
    TestMesh::start(Options {
        // No figures from the sources: the declared incomes decide, and the household is
        // enrolled (dibao).
        fixtures: mesh_tests::silent_fixtures(&demo_household()),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// The business date of every test mesh (`Options::business_date`).
fn today() -> NaiveDate {
    mesh_tests::business_date()
}

fn params_on(date: NaiveDate) -> ParameterSet {
    PolicyBook::builtin()
        .in_force(&RegionCode::parse("410102").unwrap(), date)
        .unwrap()
        .clone()
}

fn plus_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months)).unwrap()
}

/// The demo household, submitted and run through its whole chain.
struct Enrolled {
    household: String,
    application: String,
    chain: Value,
}

impl Enrolled {
    fn step(&self, kind: &str) -> &Value {
        self.chain["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["type"] == json!(kind))
            .unwrap_or_else(|| panic!("no {kind} step in {:#}", self.chain))
    }

    /// The enrolment date: the day (UTC) monitoring enrolled the household.
    fn enrolled_on(&self) -> NaiveDate {
        let time = self.step("monitor.household.enrolled")["time"]
            .as_str()
            .unwrap();
        chrono::DateTime::parse_from_rfc3339(time)
            .unwrap()
            .with_timezone(&Utc)
            .date_naive()
    }
}

async fn enrol_demo(mesh: &TestMesh) -> Enrolled {
    let (status, accepted) = mesh.submit(&demo_household()).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    let chain = mesh.complete_chain(&household, WITHIN).await.unwrap();
    Enrolled {
        household,
        application: accepted["application_id"].as_str().unwrap().to_owned(),
        chain,
    }
}

/// A due list of verification on `on`.
async fn due(mesh: &TestMesh, list: &str, on: NaiveDate) -> Vec<Value> {
    due_as(mesh, "wang.fang", list, on).await
}

/// A due list on `on` as the demo person `login` sees it.
async fn due_as(mesh: &TestMesh, login: &str, list: &str, on: NaiveDate) -> Vec<Value> {
    let (status, body) = mesh
        .get_as(
            Some(&Who::person(login)),
            "verification",
            &format!("/v1/{list}/due?on={on}"),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{login}: {body}");
    body.as_array().unwrap().clone()
}

fn entry<'a>(list: &'a [Value], household: &str) -> Option<&'a Value> {
    list.iter().find(|e| e["household_id"] == json!(household))
}

/// Waits until verification has scheduled the household (it reads the enrolment on its own
/// consumer, after the chain may already look complete), and returns its re-verification date.
async fn scheduled(mesh: &TestMesh, e: &Enrolled) -> NaiveDate {
    let on = plus_months(
        e.enrolled_on(),
        params_on(e.enrolled_on()).reverification_months,
    );
    let ok = mesh_tests::eventually(WITHIN, || async {
        entry(&due(mesh, "reverifications", on).await, &e.household).is_some()
    })
    .await;
    assert!(ok, "verification never scheduled the enrolled household");
    on
}

async fn verification_db(mesh: &TestMesh) -> sqlx::PgPool {
    sqlx::PgPool::connect(&mesh.database_url("verification"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_household_is_due_for_reverification_and_a_home_visit_by_the_policy_intervals()
{
    let mesh = start().await;
    let e = enrol_demo(&mesh).await;
    let enrolled_on = e.enrolled_on();
    let params = params_on(enrolled_on);
    // The rules: economic re-verification at least every 6 months, a home visit at least yearly.
    assert!((1..=6).contains(&params.reverification_months));
    assert!((1..=12).contains(&params.home_visit_months));

    let reverify_on = scheduled(&mesh, &e).await;
    assert_eq!(
        reverify_on,
        plus_months(enrolled_on, params.reverification_months)
    );
    let list = due(&mesh, "reverifications", reverify_on).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(
        list[0],
        json!({
            "household_id": e.household,
            "application_id": e.application,
            "region_code": "410102001",
            "due_on": reverify_on.to_string(),
        })
    );
    // The county and the city see it; another township and another county do not.
    for login in ["zhao.min", "sun.li", "qian.hui"] {
        assert_eq!(
            due_as(&mesh, login, "reverifications", reverify_on)
                .await
                .len(),
            1,
            "{login}"
        );
    }
    for login in ["li.qiang", "zhou.lei"] {
        assert!(
            due_as(&mesh, login, "reverifications", reverify_on)
                .await
                .is_empty(),
            "{login}"
        );
        assert!(
            due_as(&mesh, login, "home-visits", plus_months(enrolled_on, 12))
                .await
                .is_empty()
        );
    }
    // An approver has no due list; a department none either.
    for login in ["chen.jing", "he.ping"] {
        let (status, _) = mesh
            .get_as(
                Some(&Who::person(login)),
                "verification",
                "/v1/reverifications/due",
            )
            .await
            .unwrap();
        assert_eq!(status, 403, "{login}");
    }
    assert_eq!(
        due(&mesh, "reverifications", today()).await,
        Vec::<Value>::new()
    );
    assert!(due(&mesh, "reverifications", reverify_on - Days::new(1))
        .await
        .is_empty());
    // Without `on`, the list is today's.
    let (_, default) = mesh
        .get("verification", "/v1/reverifications/due")
        .await
        .unwrap();
    assert_eq!(default, json!([]));

    let visit_on = plus_months(enrolled_on, params.home_visit_months);
    let visits = due(&mesh, "home-visits", visit_on).await;
    assert_eq!(visits.len(), 1, "{visits:?}");
    assert_eq!(visits[0]["household_id"], json!(e.household));
    assert_eq!(visits[0]["due_on"], json!(visit_on.to_string()));
    assert!(due(&mesh, "home-visits", today()).await.is_empty());
    assert!(due(&mesh, "home-visits", visit_on - Days::new(1))
        .await
        .is_empty());

    let (status, body) = mesh
        .get("verification", "/v1/home-visits/due?on=22-11-2026")
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], json!("bad_request"));
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_household_due_is_reverified_by_the_scheduler_into_its_chain() {
    let mesh = start().await;
    let e = enrol_demo(&mesh).await;
    scheduled(&mesh, &e).await;
    let mut wire = mesh
        .nats
        .subscribe(format!(
            "{}.{}",
            mesh.prefix,
            contract::channels::HOUSEHOLD_REVERIFIED.subject
        ))
        .await
        .unwrap();

    // Six months pass: the household was due yesterday.
    let yesterday = today() - Days::new(1);
    let db = verification_db(&mesh).await;
    let moved =
        sqlx::query("UPDATE register SET next_reverification_due = $2 WHERE household_id = $1")
            .bind(uuid::Uuid::parse_str(&e.household).unwrap())
            .bind(yesterday)
            .execute(&db)
            .await
            .unwrap()
            .rows_affected();
    assert_eq!(moved, 1);
    assert_eq!(
        entry(&due(&mesh, "reverifications", today()).await, &e.household)
            .map(|x| x["due_on"].clone()),
        Some(json!(yesterday.to_string()))
    );

    // The scheduler re-verifies it, and the chain shows it.
    let path = format!("/v1/households/{}/chain", e.household);
    let has_step = |chain: &Value| {
        chain["steps"].as_array().is_some_and(|s| {
            s.iter()
                .any(|s| s["type"] == json!("verify.household.reverified"))
        })
    };
    let found = mesh_tests::eventually(WITHIN, || async {
        has_step(&mesh.get("monitoring", &path).await.unwrap().1)
    })
    .await;
    let (_, chain) = mesh.get("monitoring", &path).await.unwrap();
    assert!(found, "no re-verification in the chain: {chain:#}");
    let enrolment = e.step("monitor.household.enrolled");
    let step = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == json!("verify.household.reverified"))
        .unwrap();
    assert_eq!(step["service"], json!("verification"));
    assert_eq!(step["subject"], json!("verify.household.reverified"));
    assert_eq!(step["summary"]["complete"], json!(true), "{step:#}");
    assert_eq!(step["summary"]["gaps"], json!([]));
    assert_eq!(step["summary"]["application_id"], json!(e.application));
    assert_eq!(step["causation_id"], enrolment["event_id"]);
    assert_eq!(chain["chain_id"], e.chain["chain_id"]);

    // On the wire: the household's chain, answering its enrolment, due yesterday, next due one
    // interval after that.
    let msg = tokio::time::timeout(WITHIN, futures::StreamExt::next(&mut wire))
        .await
        .expect("the re-verification was published")
        .unwrap();
    let env: Envelope<HouseholdReverified> = serde_json::from_slice(&msg.payload).unwrap();
    env.check(<HouseholdReverified as mesh::EventKind>::TYPE)
        .unwrap();
    assert_eq!(json!(env.chain_id), e.chain["chain_id"]);
    assert_eq!(env.household_id.to_string(), e.household);
    assert_eq!(
        env.causation_id.as_ref(),
        enrolment["event_id"].as_str().map(str::to_owned).as_ref()
    );
    assert_eq!(json!(env.id), step["event_id"]);
    let next_due = plus_months(yesterday, params_on(yesterday).reverification_months);
    assert_eq!(env.data.due_on, yesterday);
    assert_eq!(env.data.next_due_on, next_due);
    assert_eq!(env.data.application_id.to_string(), e.application);
    assert_eq!(env.data.sources.len(), 8);
    assert_eq!(env.data.members.len(), 3);

    // No longer due today; due again one interval after the date it was due.
    assert!(entry(&due(&mesh, "reverifications", today()).await, &e.household).is_none());
    assert_eq!(
        entry(&due(&mesh, "reverifications", next_due).await, &e.household)
            .map(|x| x["due_on"].clone()),
        Some(json!(next_due.to_string()))
    );

    // Once: after everything settled there is one re-verification, stored with its provenance,
    // the lease is given back, and the application's own report is still the one it was.
    mesh.settle(WITHIN).await.unwrap();
    let (_, chain) = mesh.get("monitoring", &path).await.unwrap();
    let count = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["type"] == json!("verify.household.reverified"))
        .count();
    assert_eq!(count, 1, "{chain:#}");
    let (purpose, due_on, sources): (String, Option<NaiveDate>, i64) = sqlx::query_as(
        "SELECT r.purpose, r.due_on, (SELECT count(*) FROM report_sources s WHERE s.report_id = r.report_id)
         FROM reports r WHERE r.report_id = $1",
    )
    .bind(env.data.report_id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        (purpose.as_str(), due_on, sources),
        ("reverification", Some(yesterday), 8)
    );
    let lease: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT lease_until FROM register WHERE household_id = $1")
            .bind(env.household_id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(lease, None);
    let report_path = format!("/v1/reports/{}", e.application);
    let (status, report) = mesh.get("verification", &report_path).await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["report_id"],
        e.step("verify.household.verified")["summary"]["report_id"]
    );
    // Out of area is not found, as if there were no report; the read in area is audited.
    let (status, body) = mesh
        .get_as(Some(&Who::person("li.qiang")), "verification", &report_path)
        .await
        .unwrap();
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body["error"]["message"],
        json!("no report for application with this id")
    );
    let (status, _) = mesh
        .get_as(
            Some(&Who::person("li.qiang")),
            "verification",
            &format!("/v1/verifications/{}", e.application),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (_, page) = mesh
        .get(
            "verification",
            &format!("/v1/audit?household_id={}", e.household),
        )
        .await
        .unwrap();
    assert!(
        page["records"].as_array().unwrap().iter().any(|r| r["action"]
            == json!("report.read")
            && r["actor"]["sub"] == json!("wang.fang")),
        "{page:#}"
    );
    db.close().await;
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_visit_by_a_named_officer_moves_the_next_one_on() {
    let mesh = start().await;
    let e = enrol_demo(&mesh).await;
    scheduled(&mesh, &e).await;
    let months = params_on(today()).home_visit_months;

    // The visit is overdue: due yesterday.
    let yesterday = today() - Days::new(1);
    let db = verification_db(&mesh).await;
    sqlx::query("UPDATE register SET next_home_visit_due = $2 WHERE household_id = $1")
        .bind(uuid::Uuid::parse_str(&e.household).unwrap())
        .bind(yesterday)
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    assert!(entry(&due(&mesh, "home-visits", today()).await, &e.household).is_some());

    let m = &mesh;
    let post = move |body: Value| async move {
        m.post("verification", "/v1/home-visits", &body)
            .await
            .unwrap()
    };
    let visit_body = json!({
        "household_id": e.household,
        "visited_on": today(),
        "note": "Household at home; circumstances as declared.",
    });
    // Another township's officer does not see the household; a county officer does not visit.
    let (status, body) = mesh
        .post_as(
            Some(&Who::person("li.qiang")),
            "verification",
            "/v1/home-visits",
            &visit_body,
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "{body}");
    let (status, _) = mesh
        .post_as(
            Some(&Who::person("zhao.min")),
            "verification",
            "/v1/home-visits",
            &visit_body,
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, visit) = post(visit_body.clone()).await;
    assert_eq!(status, 201, "{visit}");
    assert_eq!(visit["household_id"], json!(e.household));
    assert_eq!(visit["visited_on"], json!(today().to_string()));
    assert_eq!(visit["visitor"], json!("王芳"));
    assert_eq!(
        visit["visitor_actor"],
        json!({"sub": "wang.fang", "name": "王芳", "role": "township_officer"})
    );
    assert_eq!(
        visit["note"],
        json!("Household at home; circumstances as declared.")
    );
    assert!(visit["visit_id"].is_string() && visit["recorded_at"].is_string());
    let next = plus_months(today(), months);
    assert_eq!(visit["next_home_visit_due"], json!(next.to_string()));
    let (_, page) = mesh
        .get(
            "verification",
            &format!("/v1/audit?household_id={}", e.household),
        )
        .await
        .unwrap();
    assert!(
        page["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == json!("home_visit.record")
                && r["record_id"] == visit["visit_id"]
                && r["actor"]["sub"] == json!("wang.fang")),
        "{page:#}"
    );

    // It leaves the list: not due today, nor on any day up to one interval from the visit.
    assert!(entry(&due(&mesh, "home-visits", today()).await, &e.household).is_none());
    assert!(entry(
        &due(&mesh, "home-visits", next - Days::new(1)).await,
        &e.household
    )
    .is_none());
    assert_eq!(
        entry(&due(&mesh, "home-visits", next).await, &e.household).map(|x| x["due_on"].clone()),
        Some(json!(next.to_string()))
    );
    // The re-verification schedule is not the home visit's.
    assert!(entry(&due(&mesh, "reverifications", today()).await, &e.household).is_none());

    // Who visited is the token's officer: a body that names a visitor is refused; and a visit
    // cannot be recorded before it happens.
    let (status, body) = post(json!({
        "household_id": e.household, "visited_on": today(), "visitor": "Officer Wang Fang", "note": ""
    }))
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], json!("validation_failed"));
    assert_eq!(body["error"]["fields"][0]["field"], json!("visitor"));
    assert_eq!(body["error"]["fields"].as_array().unwrap().len(), 1);
    let (status, body) = post(json!({
        "household_id": e.household,
        "visited_on": today() + Days::new(1),
        "note": ""
    }))
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], json!("visited_on"));

    // Only an enrolled household can be visited.
    let (status, body) = post(json!({
        "household_id": uuid::Uuid::new_v4(),
        "visited_on": today(),
        "note": ""
    }))
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], json!("not_found"));

    // Malformed JSON is a 400.
    let r = mesh
        .request(reqwest::Method::POST, "verification", "/v1/home-visits")
        .await
        .unwrap()
        .header("content-type", "application/json")
        .body("{\"household_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // The refused requests changed nothing.
    assert_eq!(
        entry(&due(&mesh, "home-visits", next).await, &e.household).map(|x| x["due_on"].clone()),
        Some(json!(next.to_string()))
    );
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_generated_applications_are_accepted_and_verified() {
    let data = simulator::generate::generate(3, 77);
    let fixtures: Fixtures = data
        .fixtures
        .iter()
        .map(|(id, per_source)| {
            (
                id.clone(),
                per_source.iter().map(|(s, f)| (s.clone(), *f)).collect(),
            )
        })
        .collect();
    let mesh = TestMesh::start(Options {
        fixtures,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut applications = Vec::new();
    for body in &data.applications {
        // Generated in the county; submitted by wang.fang, for her township.
        let mut body = body.clone();
        body["region_code"] = json!("410102001");
        let (status, accepted) = mesh.submit(&body).await.unwrap();
        assert_eq!(status, 202, "{accepted} for {body}");
        applications.push(accepted["application_id"].as_str().unwrap().to_owned());
    }
    for application in &applications {
        let path = format!("/v1/reports/{application}");
        let ok = mesh_tests::eventually(WITHIN, || async {
            mesh.get("verification", &path)
                .await
                .map(|(s, r)| s == 200 && r["complete"] == json!(true))
                .unwrap_or(false)
        })
        .await;
        assert!(ok, "application {application} was not verified completely");
    }
    mesh.teardown().await.unwrap();
}
