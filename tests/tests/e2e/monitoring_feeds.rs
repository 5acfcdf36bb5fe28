//! Data comparison and active discovery, end to end against real NATS and PostgreSQL:
//! departmental feed records (by subject and as streamed CSV) matched with the low-income
//! population database and turned into stops, referrals and warnings; gradual exit after a
//! re-verification above the standard; active-discovery reports by HTTP and by subject. A feed
//! file is the city supervisor's (孙丽), who is recorded with it, named in the events it causes
//! and in the audit trail; a discovery report is entered by an officer of its area (王芳).

use chrono::{Days, NaiveDate, Utc};
use contract::{AssistanceChange, HouseholdChanged};
use mesh::Envelope;
use mesh_tests::{demo_household, eventually, Options, TestMesh, Who};
use policy::{Department, Month, PolicyBook, RegionCode};
use serde_json::{json, Value};
use simulator::{Figures, Fixtures};
use sqlx::PgPool;
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

const WITHIN: Duration = Duration::from_secs(30);
/// A village of the demo household's county: its township is the first 9 digits.
const VILLAGE: &str = "410102001002";
const TOWNSHIP: &str = "410102001";

/// The business date of every test mesh (`Options::business_date`).
fn today() -> NaiveDate {
    mesh_tests::business_date()
}

async fn start(departments: Vec<Department>) -> TestMesh {
    TestMesh::start(Options {
        departments,
        // The declared incomes decide: the demo household is dibao.
        fixtures: mesh_tests::silent_fixtures(&demo_household()),
        ..Default::default()
    })
    .await
    .unwrap()
}

struct Member {
    member_id: Uuid,
    id_number: String,
}

struct Household {
    household_id: Uuid,
    chain_id: Uuid,
    members: Vec<Member>,
}

/// Submits the demo household and waits until monitoring has enrolled it.
async fn enrol(mesh: &TestMesh, db: &PgPool) -> Household {
    let (status, accepted) = mesh.submit(&demo_household()).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let household_id: Uuid = accepted["household_id"].as_str().unwrap().parse().unwrap();
    let path = format!("/v1/households/{household_id}");
    let enrolled = eventually(WITHIN, || async {
        mesh.get("monitoring", &path).await.unwrap().0 == 200
    })
    .await;
    assert!(enrolled, "the demo household was never enrolled");
    let (chain_id,): (Uuid,) =
        sqlx::query_as("SELECT chain_id FROM households WHERE household_id = $1")
            .bind(household_id)
            .fetch_one(db)
            .await
            .unwrap();
    let demo = demo_household();
    let mut members = Vec::new();
    for m in demo["members"].as_array().unwrap() {
        let id_number = m["id_number"].as_str().unwrap().to_owned();
        let (member_id,): (Uuid,) =
            sqlx::query_as("SELECT member_id FROM persons WHERE id_number = $1")
                .bind(&id_number)
                .fetch_one(db)
                .await
                .unwrap();
        members.push(Member {
            member_id,
            id_number,
        });
    }
    Household {
        household_id,
        chain_id,
        members,
    }
}

async fn monitoring_db(mesh: &TestMesh) -> PgPool {
    PgPool::connect(&mesh.database_url("monitoring"))
        .await
        .unwrap()
}

/// A feed record as a department's system publishes it.
async fn publish_feed(mesh: &TestMesh, source: &str, record: Value) {
    let id = Uuid::new_v4().to_string();
    let envelope = json!({
        "specversion": "1.0",
        "id": id,
        "source": format!("/department/{source}"),
        "type": "monitor.feed.record",
        "time": Utc::now(),
        "datacontenttype": "application/json",
        "household_id": Uuid::nil(),
        "chain_id": Uuid::nil(),
        "schema_version": 1,
        "data": record,
    });
    let duplicate = mesh
        .publish_raw(
            &format!("monitor.feed.{source}"),
            &id,
            serde_json::to_vec(&envelope).unwrap(),
        )
        .await
        .unwrap();
    assert!(!duplicate);
}

/// Posts a CSV feed file as the city's supervisor (the operation's role).
async fn post_csv(mesh: &TestMesh, source: &str, body: String) -> (u16, Value) {
    post_csv_as(mesh, Some(&Who::person("sun.li")), source, body).await
}

async fn post_csv_as(
    mesh: &TestMesh,
    who: Option<&Who>,
    source: &str,
    body: String,
) -> (u16, Value) {
    let r = mesh
        .request_as(
            who,
            reqwest::Method::POST,
            "monitoring",
            &format!("/v1/feeds/{source}"),
        )
        .await
        .unwrap()
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[derive(Debug, sqlx::FromRow)]
struct Warning {
    kind: String,
    household_id: Option<Uuid>,
    member_id: Option<Uuid>,
    township_code: String,
    detail: Value,
    verify_due: NaiveDate,
    status: String,
}

async fn warnings(db: &PgPool) -> Vec<Warning> {
    sqlx::query_as(
        "SELECT kind, household_id, member_id, township_code, detail, verify_due, status FROM warnings ORDER BY raised_at",
    )
    .fetch_all(db)
    .await
    .unwrap()
}

async fn warning_of_kind(db: &PgPool, kind: &str) -> Vec<Warning> {
    let kind = kind.to_owned();
    let found = eventually(WITHIN, || async {
        warnings(db).await.iter().any(|w| w.kind == kind)
    })
    .await;
    let all = warnings(db).await;
    assert!(found, "no {kind} warning; warnings: {all:?}");
    all.into_iter().filter(|w| w.kind == kind).collect()
}

fn verify_days() -> u64 {
    PolicyBook::builtin()
        .in_force(&RegionCode::parse(VILLAGE).unwrap(), today())
        .unwrap()
        .warning_verify_days
        .into()
}

/// Every message this mesh publishes on `subject` (before the prefix).
async fn on_the_wire(mesh: &TestMesh, subject: &str) -> async_nats::Subscriber {
    mesh.nats
        .subscribe(format!("{}.{subject}", mesh.prefix))
        .await
        .unwrap()
}

/// Every `monitor.household.changed` this mesh publishes.
async fn changes(mesh: &TestMesh) -> async_nats::Subscriber {
    on_the_wire(mesh, contract::channels::HOUSEHOLD_CHANGED.subject).await
}

/// Every `eligibility.household.redetermined` this mesh publishes.
async fn redeterminations(mesh: &TestMesh) -> async_nats::Subscriber {
    on_the_wire(mesh, contract::channels::HOUSEHOLD_REDETERMINED.subject).await
}

/// The next re-determination on `wire`, within the test's patience.
async fn next_redetermination(
    wire: &mut async_nats::Subscriber,
) -> Envelope<contract::HouseholdRedetermined> {
    let msg = tokio::time::timeout(WITHIN, futures::StreamExt::next(wire))
        .await
        .expect("a re-determination was published")
        .unwrap();
    serde_json::from_slice(&msg.payload).unwrap()
}

/// The last `monitor.household.changed` stored in the MONITOR stream.
async fn last_change_on_the_stream(mesh: &TestMesh) -> Option<Envelope<HouseholdChanged>> {
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let stream = mesh
        .js
        .get_stream(mesh::Stream::Monitor.name(&subjects))
        .await
        .unwrap();
    let msg = stream
        .direct_get_last_for_subject(subjects.of(contract::channels::HOUSEHOLD_CHANGED.subject))
        .await
        .ok()?;
    Some(serde_json::from_slice(&msg.payload).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_death_stops_assistance_from_the_next_month_and_warns_once_however_often_it_arrives() {
    let mesh = start(vec![Department::Medical, Department::Education]).await;
    let db = monitoring_db(&mesh).await;
    let h = enrol(&mesh, &db).await;
    let mut wire = changes(&mesh).await;
    let head = &h.members[0];
    let died_on = today() - Days::new(3);
    let record = json!({
        "record_id": "D-0001",
        "id_number": head.id_number,
        "region_code": VILLAGE,
        "occurred_on": died_on,
    });
    publish_feed(&mesh, "death", record).await;

    // The stop is on the stream, in the household's chain, from the month after the death.
    let found = eventually(WITHIN, || async {
        last_change_on_the_stream(&mesh).await.is_some()
    })
    .await;
    assert!(found, "no monitor.household.changed on the stream");
    let e = last_change_on_the_stream(&mesh).await.unwrap();
    assert_eq!(e.household_id, h.household_id);
    assert_eq!(e.chain_id, h.chain_id);
    assert_eq!(e.data.member_id, Some(head.member_id));
    assert_eq!(e.data.change, AssistanceChange::Stopped);
    assert_eq!(e.data.reason, "death");
    assert_eq!(e.data.occurred_on, died_on);
    assert_eq!(e.data.stop_from_month, Month::of(died_on).next());
    assert!(
        e.data.decided_by.starts_with("rule:"),
        "{}",
        e.data.decided_by
    );

    // A death warning for the township of the record's village, due by the parameter.
    let death = warning_of_kind(&db, "death").await;
    assert_eq!(death.len(), 1);
    assert_eq!(death[0].township_code, TOWNSHIP);
    assert_eq!(death[0].household_id, Some(h.household_id));
    assert_eq!(death[0].member_id, Some(head.member_id));
    assert_eq!(death[0].status, "open");
    assert_eq!(death[0].verify_due, today() + Days::new(verify_days()));
    assert_eq!(death[0].detail["record_id"], json!("D-0001"));
    assert!(
        !death[0].detail.to_string().contains(&head.id_number),
        "a warning holds no ID number"
    );

    // The population database: the person stopped from that month, with its cause in history.
    let (status, stop_from, tier, active_from): (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT status, stop_from_month, tier, active_from_month FROM persons WHERE member_id = $1",
    )
    .bind(head.member_id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(status, "stopped");
    assert_eq!(tier.as_deref(), Some("dibao"));
    assert!(active_from.is_some());
    assert_eq!(stop_from, Some(e.data.stop_from_month.to_string()));
    let (household_status,): (String,) =
        sqlx::query_as("SELECT status FROM households WHERE household_id = $1")
            .bind(h.household_id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        household_status, "active",
        "the other members are still assisted"
    );
    let history: Vec<(String, Option<Uuid>, String)> = sqlx::query_as(
        "SELECT change, member_id, cause FROM population_history WHERE household_id = $1 ORDER BY seq",
    )
    .bind(h.household_id)
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(history
        .iter()
        .any(|(c, m, _)| c == "enrolled" && m.is_none()));
    assert_eq!(
        history
            .iter()
            .filter(|(c, m, cause)| c == "stopped"
                && *m == Some(head.member_id)
                && *cause == e.data.change_id.to_string())
            .count(),
        1,
        "{history:?}"
    );

    // The same record again, in a file with another: nothing more happens for it.
    let spouse = &h.members[1];
    let csv = format!(
        "record_id,id_number,region_code,occurred_on\nD-0001,{},{VILLAGE},{died_on}\nD-0002,{},{VILLAGE},{died_on}\n",
        head.id_number, spouse.id_number
    );
    let (status, report) = post_csv(&mesh, "death", csv.clone()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["rows_read"], json!(2), "{report}");
    assert_eq!(report["duplicates"], json!(1), "{report}");
    assert_eq!(report["applied"], json!(1), "{report}");
    assert_eq!(report["actions"]["household_changed"], json!(1), "{report}");
    assert_eq!(report["actions"]["warnings"], json!(1), "{report}");
    // And the whole file once more: both records were applied before.
    let (_, again) = post_csv(&mesh, "death", csv).await;
    assert_eq!(again["duplicates"], json!(2), "{again}");
    assert_eq!(again["actions"]["household_changed"], json!(0), "{again}");

    mesh.settle(WITHIN).await.unwrap();
    let mut published = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(
        Duration::from_millis(500),
        futures::StreamExt::next(&mut wire),
    )
    .await
    {
        let e: Envelope<HouseholdChanged> = serde_json::from_slice(&m.payload).unwrap();
        published.push(e.data.member_id);
    }
    published.sort();
    let mut expected = vec![Some(head.member_id), Some(spouse.member_id)];
    expected.sort();
    assert_eq!(published, expected, "one stop per death, each once");
    assert_eq!(warning_of_kind(&db, "death").await.len(), 2);
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serious_illness_is_referred_to_the_medical_department_which_answers_and_warns_for_review(
) {
    let mesh = start(vec![Department::Medical]).await;
    let db = monitoring_db(&mesh).await;
    let h = enrol(&mesh, &db).await;
    let child = &h.members[2];
    let diagnosed = today() - Days::new(10);
    publish_feed(
        &mesh,
        "serious_illness",
        json!({
            "record_id": "SI-77",
            "id_number": child.id_number,
            "region_code": VILLAGE,
            "occurred_on": diagnosed,
            "illness": "leukaemia",
        }),
    )
    .await;

    // The referral has a stable id, goes through the same push path, and is answered.
    let referral_id = Uuid::new_v5(
        &h.household_id,
        "feed:serious_illness:SI-77/medical".as_bytes(),
    );
    let path = format!("/v1/referrals/{referral_id}");
    let answered = eventually(WITHIN, || async {
        let (status, v) = mesh.get("monitoring", &path).await.unwrap();
        status == 200 && !v["answered_at"].is_null()
    })
    .await;
    let (_, referral) = mesh.get("monitoring", &path).await.unwrap();
    assert!(
        answered,
        "the medical department never answered: {referral}"
    );
    assert_eq!(referral["department"], json!("medical"));
    assert_eq!(referral["household_id"], json!(h.household_id));
    assert_ne!(referral["status"], json!("pushed"));

    // The chain shows the push with its circumstances' need, and the department's answer.
    let (_, chain) = mesh
        .get(
            "monitoring",
            &format!("/v1/households/{}/chain", h.household_id),
        )
        .await
        .unwrap();
    let steps = chain["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["type"] == json!("referral.push")
        && s["summary"]["referral_id"] == json!(referral_id)
        && s["summary"]["need"] == json!("serious illness")));
    assert!(steps.iter().any(|s| s["type"] == json!("referral.feedback")
        && s["summary"]["referral_id"] == json!(referral_id)));
    // The push carried what the health feed said.
    let (need, member): (String, Uuid) =
        sqlx::query_as("SELECT need, member_id FROM referrals WHERE referral_id = $1")
            .bind(referral_id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(need, "serious illness");
    assert_eq!(member, child.member_id);

    let review = warning_of_kind(&db, "rigid_expenditure_review").await;
    assert_eq!(review.len(), 1);
    assert_eq!(review[0].member_id, Some(child.member_id));
    assert_eq!(review[0].township_code, TOWNSHIP);
    // The department's answer is in the person's history.
    let outcome = eventually(WITHIN, || async {
        let n: (i64,) = sqlx::query_as(
            "SELECT count(*) FROM population_history WHERE member_id = $1 AND change LIKE 'referral_%' AND detail->>'referral_id' = $2",
        )
        .bind(child.member_id)
        .bind(referral_id.to_string())
        .fetch_one(&db)
        .await
        .unwrap();
        n.0 >= 1
    })
    .await;
    assert!(outcome, "the feedback is not in the person's history");

    // A second illness record: its push carries what the person was granted meanwhile, so the
    // department does not grant the same help twice.
    let granted: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT referral_id FROM referrals WHERE member_id = $1 AND status = 'granted' ORDER BY referral_id",
    )
    .bind(child.member_id)
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(
        !granted.is_empty(),
        "the first illness referral was granted"
    );
    let mut pushes = mesh
        .nats
        .subscribe(format!("{}.referral.medical.push", mesh.prefix))
        .await
        .unwrap();
    publish_feed(
        &mesh,
        "serious_illness",
        json!({
            "record_id": "SI-78",
            "id_number": child.id_number,
            "region_code": VILLAGE,
            "occurred_on": diagnosed,
            "illness": "leukaemia",
        }),
    )
    .await;
    let second = Uuid::new_v5(
        &h.household_id,
        "feed:serious_illness:SI-78/medical".as_bytes(),
    );
    let push = tokio::time::timeout(WITHIN, async {
        loop {
            let m = futures::StreamExt::next(&mut pushes).await.unwrap();
            let p: Value = serde_json::from_slice(&m.payload).unwrap();
            if p["data"]["referral_id"] == json!(second) {
                return p;
            }
        }
    })
    .await
    .expect("the second referral was pushed");
    let mut prior: Vec<Uuid> = push["data"]["prior_assistance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["referral_id"].as_str().unwrap().parse().unwrap())
        .collect();
    prior.sort();
    prior.dedup();
    assert_eq!(prior, granted.iter().map(|g| g.0).collect::<Vec<_>>());
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_file_applies_its_good_rows_rejects_the_bad_ones_with_reasons_and_finds_people_not_covered(
) {
    let mesh = start(vec![Department::Medical]).await;
    let db = monitoring_db(&mesh).await;
    let h = enrol(&mesh, &db).await;
    let head = &h.members[0];
    let outsider = mesh_tests::id_number("41010219700101123");
    let yesterday = today() - Days::new(1);
    let tomorrow = today() + Days::new(1);
    let csv = [
        "record_id,id_number,region_code,occurred_on".to_owned(),
        format!("U-1,{},{VILLAGE},{yesterday}", head.id_number),
        format!("U-2,410102198305120313,{VILLAGE},{yesterday}"),
        format!("U-3,{outsider},{VILLAGE},2026-02-30"),
        format!("U-4,{outsider},{VILLAGE},{tomorrow}"),
        format!("U-5,{outsider},410102,{yesterday}"),
        "U-6,too,few".to_owned(),
        String::new(),
        format!("U-7,{outsider},{VILLAGE},{yesterday}"),
        // Tianjin: a parameter set covers it, the supervisor's city (410100) does not.
        format!("U-8,{outsider},120101001001,{yesterday}"),
    ]
    .join("\r\n");
    let (status, report) = post_csv(&mesh, "unemployment", csv).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["source"], json!("unemployment"));
    assert_eq!(report["rows_read"], json!(8), "{report}");
    assert_eq!(report["applied"], json!(2), "{report}");
    assert_eq!(report["matched"], json!(1), "{report}");
    assert_eq!(report["not_covered"], json!(1), "{report}");
    assert_eq!(report["actions"]["referrals"], json!(1), "{report}");
    assert_eq!(report["actions"]["warnings"], json!(1), "{report}");
    assert_eq!(report["rejected_count"], json!(6), "{report}");
    let rejected: Vec<(u64, String, String)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["record_id"].as_str().unwrap_or_default().to_owned(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = [
        (3, "U-2", "id_number: the check character"),
        (4, "U-3", "occurred_on: is not a date (YYYY-MM-DD)"),
        (5, "U-4", "occurred_on:"),
        (6, "U-5", "region_code: must name the township"),
        (7, "U-6", "has 3 fields where the header has 4"),
        (
            10,
            "U-8",
            "region_code: outside the areas of the access token",
        ),
    ];
    assert_eq!(rejected.len(), expect.len(), "{rejected:?}");
    for ((line, id, reason), (l, i, r)) in rejected.iter().zip(expect) {
        assert_eq!((*line, id.as_str()), (l, i));
        assert!(
            reason.starts_with(r),
            "line {line}: {reason} should start with {r}"
        );
    }
    // No ID number in the report.
    assert!(!report.to_string().contains(&outsider));

    // The enrolled person is pushed to employment, with the circumstances.
    let referral_id = Uuid::new_v5(
        &h.household_id,
        "feed:unemployment:U-1/employment".as_bytes(),
    );
    let (status, referral) = mesh
        .get("monitoring", &format!("/v1/referrals/{referral_id}"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{referral}");
    assert_eq!(referral["department"], json!("employment"));

    // The supervisor who posted the file is recorded with its records, is the actor of the push
    // it caused (on the household's chain), and of the audit records of its chunk.
    let sun = json!({"sub": "sun.li", "name": "孙丽", "role": "city_supervisor"});
    let posted: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT record_id, posted_by_sub, posted_by_name FROM feed_records WHERE source = 'unemployment' ORDER BY record_id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(posted.len(), 2, "{posted:?}");
    for (id, sub, name) in &posted {
        assert_eq!(
            (sub.as_deref(), name.as_deref()),
            (Some("sun.li"), Some("孙丽")),
            "{id}"
        );
    }
    let chain_path = format!("/v1/households/{}/chain", h.household_id);
    let pushed = eventually(WITHIN, || async {
        let (_, c) = mesh.get("monitoring", &chain_path).await.unwrap();
        c["steps"].as_array().is_some_and(|s| {
            s.iter().any(|s| {
                s["type"] == "referral.push"
                    && s["summary"]["referral_id"] == json!(referral_id)
                    && s["actor"] == sun
            })
        })
    })
    .await;
    assert!(
        pushed,
        "the push is on the chain with the supervisor as its actor"
    );
    let audited: Vec<(String, String, Option<Uuid>, Option<Uuid>)> = sqlx::query_as(
        "SELECT action, actor_sub, household_id, person_id FROM mesh_audit WHERE action LIKE 'feed.%' ORDER BY seq",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        audited,
        vec![
            (
                "feed.act".to_owned(),
                "sun.li".to_owned(),
                Some(h.household_id),
                Some(head.member_id)
            ),
            ("feed.compare".to_owned(), "sun.li".to_owned(), None, None),
        ]
    );
    // Only the city's supervisor posts feeds.
    let (status, err) = post_csv_as(
        &mesh,
        Some(&Who::person("wang.fang")),
        "unemployment",
        "record_id,id_number,region_code,occurred_on\n".into(),
    )
    .await;
    assert_eq!(status, 403, "{err}");

    // The person not in the database is a case for active discovery in their township.
    let found = warning_of_kind(&db, "active_discovery").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].household_id, None);
    assert_eq!(found[0].township_code, TOWNSHIP);
    assert_eq!(found[0].detail["source"], json!("unemployment"));
    assert_eq!(found[0].detail["record_id"], json!("U-7"));

    // A wrong header fails before anything is applied; an unknown feed is not found.
    let (status, err) = post_csv(&mesh, "unemployment", "record_id,id_number,name\n".into()).await;
    assert_eq!(status, 400, "{err}");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown column"));
    let (status, _) = post_csv(&mesh, "deaths", "record_id\n".into()).await;
    assert_eq!(status, 404);
    let (status, _) = post_csv_as(&mesh, None, "unemployment", "record_id\n".into()).await;
    assert_eq!(status, 401, "a feed file without a token");
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_household_reverified_above_the_standard_begins_its_gradual_exit() {
    let mut mesh = start(vec![Department::Medical, Department::Education]).await;
    let db = monitoring_db(&mesh).await;
    let h = enrol(&mesh, &db).await;
    let mut wire = changes(&mesh).await;

    // The head's pay has risen: the tax office now reports it.
    reverify_with_head_income(&mut mesh, &h, 1_500_000).await;

    let msg = tokio::time::timeout(WITHIN, futures::StreamExt::next(&mut wire))
        .await
        .expect("a gradual exit was published")
        .unwrap();
    let e: Envelope<HouseholdChanged> = serde_json::from_slice(&msg.payload).unwrap();
    let params = PolicyBook::builtin()
        .in_force(&RegionCode::parse("410102").unwrap(), today())
        .unwrap()
        .clone();
    assert_eq!(e.household_id, h.household_id);
    assert_eq!(e.chain_id, h.chain_id);
    assert_eq!(e.data.change, AssistanceChange::GradualExit);
    assert_eq!(e.data.member_id, None);
    assert_eq!(e.data.reason, "income_above_standard");
    assert_eq!(e.data.exit_months, Some(params.gradual_exit_months));
    let mut stop = Month::of(e.data.occurred_on).next();
    for _ in 0..params.gradual_exit_months {
        stop = stop.next();
    }
    assert_eq!(e.data.stop_from_month, stop);
    assert_eq!(e.data.decided_by, format!("rule:{}", params.version));

    let (status, exit_months, stop_from, last_verified): (String, Option<i32>, Option<String>, NaiveDate) =
        sqlx::query_as(
            "SELECT status, exit_months, stop_from_month, last_verified_on FROM households WHERE household_id = $1",
        )
        .bind(h.household_id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(status, "exiting");
    assert_eq!(exit_months, Some(params.gradual_exit_months as i32));
    assert_eq!(stop_from, Some(stop.to_string()));
    assert_eq!(last_verified, e.data.occurred_on);
    let (reverified,): (Value,) = sqlx::query_as(
        "SELECT detail FROM population_history WHERE household_id = $1 AND change = 'reverified'",
    )
    .bind(h.household_id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(reverified["per_capita_income_fen"], json!(500_000));
    assert_eq!(reverified["standard_fen"], json!(params.standard(true).0));
    mesh.teardown().await.unwrap();
}

/// 动态调整 on a departmental feed: the disability federation reports the head's new severe
/// disability. In Zhengzhou a severely disabled member of a dibao household gets the classified
/// add-on (002 三(一): "对低保对象中的重度残疾人…每人每月增发100元低保金"): the household is
/// determined again with it from the month after, and the township is still asked to look.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_severe_disability_from_a_feed_determines_the_household_again_with_the_add_on() {
    let mesh = start(vec![Department::Medical, Department::Education]).await;
    let db = monitoring_db(&mesh).await;
    let h = enrol(&mesh, &db).await;
    let mut wire = redeterminations(&mesh).await;
    let head = &h.members[0];
    let record = json!({
        "record_id": "SD-0001",
        "id_number": head.id_number,
        "region_code": VILLAGE,
        "occurred_on": today(),
        "disability_grade": 1,
    });
    publish_feed(&mesh, "severe_disability", record.clone()).await;
    let e = next_redetermination(&mut wire).await;
    let params = PolicyBook::builtin()
        .in_force(&RegionCode::parse("410102").unwrap(), today())
        .unwrap()
        .clone();
    let (standard, addon) = (params.standard(true).0, params.classified_addon.0);
    let r = &e.data;
    assert_eq!(e.household_id, h.household_id);
    assert_eq!(r.cause, contract::RedeterminationCause::NewCircumstance);
    assert_eq!(r.member_id, Some(head.member_id));
    assert_eq!(
        r.before.monthly_amount_fen,
        (standard - 20_000) * 3 + 2 * addon
    );
    assert_eq!(
        r.after.monthly_amount_fen,
        (standard - 20_000) * 3 + 3 * addon
    );
    let after_head = r
        .after
        .members
        .iter()
        .find(|m| m.member_id == head.member_id)
        .unwrap();
    assert_eq!(
        after_head.addon_reason.as_deref(),
        Some("severe disability")
    );
    // The township still verifies it; the same fact again changes nothing more.
    assert_eq!(warning_of_kind(&db, "severe_disability").await.len(), 1);
    publish_feed(
        &mesh,
        "severe_disability",
        json!({"record_id": "SD-0002", "id_number": head.id_number, "region_code": VILLAGE,
               "occurred_on": today(), "disability_grade": 1}),
    )
    .await;
    assert!(
        tokio::time::timeout(Duration::from_secs(3), futures::StreamExt::next(&mut wire))
            .await
            .is_err(),
        "a known disability determines nothing again"
    );
    mesh.teardown().await.unwrap();
}

/// The tax office now reports the head's monthly income as `monthly_income_fen`, and the
/// household's re-verification was due yesterday: verification re-verifies it.
async fn reverify_with_head_income(mesh: &mut TestMesh, h: &Household, monthly_income_fen: i64) {
    let demo = demo_household();
    let mut fixtures: Fixtures = mesh_tests::silent_fixtures(&demo);
    let mut tax = HashMap::new();
    tax.insert(
        "tax".to_owned(),
        Figures {
            monthly_income_fen: Some(monthly_income_fen),
            assets_fen: None,
        },
    );
    fixtures.insert(h.members[0].id_number.clone(), tax);
    mesh.stop("source-simulator").await.unwrap();
    mesh.opts.fixtures = fixtures;
    mesh.launch("source-simulator").await.unwrap();

    // Six months pass: the re-verification was due yesterday.
    let verification = PgPool::connect(&mesh.database_url("verification"))
        .await
        .unwrap();
    let yesterday = today() - Days::new(1);
    let moved = eventually(WITHIN, || async {
        sqlx::query(
            "UPDATE register SET next_reverification_due = $2 WHERE household_id = $1 AND enrolled",
        )
        .bind(h.household_id)
        .bind(yesterday)
        .execute(&verification)
        .await
        .unwrap()
        .rows_affected()
            == 1
    })
    .await;
    assert!(moved, "verification never scheduled the household");
}

/// 动态调整 on re-verification: the head's pay has risen from 600.00 to 900.00 yuan, still
/// below the standard for three (300.00 yuan per capita): the household is determined again and
/// paid the smaller gap from the month after; no exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_household_reverified_with_a_higher_income_below_the_standard_is_determined_again() {
    let mut mesh = start(vec![Department::Medical, Department::Education]).await;
    let db = monitoring_db(&mesh).await;
    let h = enrol(&mesh, &db).await;
    let mut wire = redeterminations(&mesh).await;
    reverify_with_head_income(&mut mesh, &h, 90_000).await;
    let e = next_redetermination(&mut wire).await;
    let params = PolicyBook::builtin()
        .in_force(&RegionCode::parse("410102").unwrap(), today())
        .unwrap()
        .clone();
    let standard = params.standard(true).0;
    let addon = params.classified_addon.0;
    assert_eq!(e.household_id, h.household_id);
    assert_eq!(e.chain_id, h.chain_id);
    let r = &e.data;
    assert_eq!(r.cause, contract::RedeterminationCause::Reverification);
    assert_eq!(r.member_id, None);
    assert_eq!(r.from_month, Month::of(r.occurred_on).next());
    assert_eq!(
        r.before.monthly_amount_fen,
        (standard - 20_000) * 3 + 2 * addon
    );
    assert_eq!(r.after.per_capita_income_fen, 30_000);
    assert_eq!(
        r.after.monthly_amount_fen,
        (standard - 30_000) * 3 + 2 * addon
    );
    assert_eq!(r.after.members.len(), 3);
    assert!(!r.stops);
    assert!(r.gradual_exit.is_none());
    // The household's tier and amount follow; no stop or exit was published.
    let (status, amount): (String, i64) =
        sqlx::query_as("SELECT status, monthly_amount_fen FROM households WHERE household_id = $1")
            .bind(h.household_id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(status, "active");
    assert_eq!(amount, r.after.monthly_amount_fen);
    assert!(last_change_on_the_stream(&mesh).await.is_none());
    mesh.teardown().await.unwrap();
}

fn discovery(report_id: Uuid, kind: &str) -> Value {
    json!({
        "report_id": report_id,
        "reporter": {"kind": kind, "name": "Li Ming (grid 12)"},
        "name": "Zhao Liu",
        "id_number": mesh_tests::id_number("41010219500505123"),
        "region_code": VILLAGE,
        "hardship": "illness",
        "description": "Lives alone, bedridden since a stroke, no income.",
        "reported_on": today(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovery_report_by_http_or_by_subject_opens_one_case_each() {
    let mesh = start(vec![Department::Medical]).await;
    let db = monitoring_db(&mesh).await;

    let by_http = Uuid::new_v4();
    let (status, opened) = mesh
        .post(
            "monitoring",
            "/v1/discoveries",
            &discovery(by_http, "grid_worker"),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{opened}");
    assert_eq!(opened["township_code"], json!(TOWNSHIP));
    assert_eq!(opened["new"], json!(true));
    assert_eq!(
        opened["verify_due"],
        json!((today() + Days::new(verify_days())).to_string())
    );
    // The same report again opens nothing new.
    let (status, again) = mesh
        .post(
            "monitoring",
            "/v1/discoveries",
            &discovery(by_http, "grid_worker"),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["warning_id"], opened["warning_id"]);
    assert_eq!(again["new"], json!(false));

    // Invalid reports are refused with every field named.
    let mut bad = discovery(Uuid::new_v4(), "social_organisation");
    bad["reporter"]["name"] = json!("");
    bad["region_code"] = json!("410102");
    let (status, err) = mesh
        .post("monitoring", "/v1/discoveries", &bad)
        .await
        .unwrap();
    assert_eq!(status, 422, "{err}");
    let fields: Vec<&str> = err["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["reporter.name", "reporter.organisation", "region_code"]
    );

    // By subject, from the hotline's system.
    let by_subject = Uuid::new_v4();
    let id = Uuid::new_v4().to_string();
    let envelope = json!({
        "specversion": "1.0",
        "id": id,
        "source": "/hotline-12345",
        "type": "monitor.discovery.reported",
        "time": Utc::now(),
        "datacontenttype": "application/json",
        "household_id": Uuid::nil(),
        "chain_id": Uuid::nil(),
        "schema_version": 1,
        "data": discovery(by_subject, "hotline_12345"),
    });
    mesh.publish_raw(
        "monitor.discovery.reported",
        &id,
        serde_json::to_vec(&envelope).unwrap(),
    )
    .await
    .unwrap();
    let both = eventually(WITHIN, || async {
        warnings(&db)
            .await
            .iter()
            .filter(|w| w.kind == "active_discovery")
            .count()
            == 2
    })
    .await;
    let all = warnings(&db).await;
    assert!(both, "{all:?}");
    assert_eq!(all.len(), 2, "one case per report: {all:?}");
    for w in &all {
        assert_eq!(w.township_code, TOWNSHIP);
        assert!(
            !w.detail.to_string().contains("Zhao Liu"),
            "no names in a warning"
        );
    }
    let reporters: Vec<&str> = all
        .iter()
        .map(|w| w.detail["reporter"].as_str().unwrap())
        .collect();
    assert!(reporters.contains(&"grid_worker") && reporters.contains(&"hotline_12345"));
    let (via,): (String,) =
        sqlx::query_as("SELECT via FROM discovery_reports WHERE report_id = $1")
            .bind(by_subject)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(via, "subject");

    // The officer who entered a report over HTTP is the token's, recorded with it and in the
    // audit trail; a report by subject names none.
    let received: Vec<(Uuid, Option<String>)> = sqlx::query_as(
        "SELECT report_id, received_by_sub || '/' || received_by_name || '/' || received_by_role FROM discovery_reports",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(received.len(), 2, "{received:?}");
    for (id, by) in &received {
        let expected = (*id == by_http).then_some("wang.fang/王芳/township_officer");
        assert_eq!(by.as_deref(), expected, "{id}");
    }
    let audited: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT action, actor_sub, record_id FROM mesh_audit WHERE action = 'discovery.report' ORDER BY seq",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        audited,
        vec![
            (
                "discovery.report".to_owned(),
                "wang.fang".to_owned(),
                by_http.to_string()
            ),
            (
                "discovery.report".to_owned(),
                "wang.fang".to_owned(),
                by_http.to_string()
            ),
        ],
        "each report entered is audited, the repeated one too"
    );
    // An officer may enter a report only for a person of the officer's areas (李强 works in
    // 410102002); a department's officer enters none; a body naming an officer is refused.
    let (status, err) = mesh
        .post_as(
            Some(&Who::person("li.qiang")),
            "monitoring",
            "/v1/discoveries",
            &discovery(Uuid::new_v4(), "grid_worker"),
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{err}");
    let (status, err) = mesh
        .post_as(
            Some(&Who::person("he.ping")),
            "monitoring",
            "/v1/discoveries",
            &discovery(Uuid::new_v4(), "grid_worker"),
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{err}");
    let mut named = discovery(Uuid::new_v4(), "grid_worker");
    named["reported_by"] = json!("王芳");
    let (status, err) = mesh
        .post("monitoring", "/v1/discoveries", &named)
        .await
        .unwrap();
    assert_eq!(status, 422, "{err}");
    // The county's officer enters one for a village of the county.
    let by_county = Uuid::new_v4();
    let (status, opened) = mesh
        .post_as(
            Some(&Who::person("zhao.min")),
            "monitoring",
            "/v1/discoveries",
            &discovery(by_county, "village_assistant"),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{opened}");
    mesh.teardown().await.unwrap();
}

/// Monitoring's state on this mesh's database and subjects, to run a sweep now rather than at
/// its interval (hourly by default).
async fn monitoring_state(mesh: &TestMesh) -> monitoring::state::State {
    let db = mesh.database_url("monitoring");
    let settings: monitoring::Settings = mesh::settings::load_with(
        monitoring::config::DEFAULTS,
        &[
            ("nats.url", mesh_tests::NATS),
            ("nats.prefix", &mesh.prefix),
            ("database.url", &db),
            ("database.max_connections", "2"),
        ],
    )
    .unwrap();
    monitoring::state::State {
        mesh: mesh::Mesh::connect(
            settings.mesh,
            &monitoring::MIGRATOR,
            mesh.clock.clone(),
            contract::channels::CATALOG,
        )
        .await
        .unwrap(),
        policy: std::sync::Arc::new(PolicyBook::builtin()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_household_not_reverified_past_the_interval_and_grace_raises_one_warning() {
    let mesh = start(vec![Department::Medical, Department::Education]).await;
    let db = monitoring_db(&mesh).await;
    let h = enrol(&mesh, &db).await;
    let state = monitoring_state(&mesh).await;
    let params = PolicyBook::builtin()
        .in_force(&RegionCode::parse("410102").unwrap(), today())
        .unwrap()
        .clone();

    // Just verified: the sweep finds nothing.
    assert_eq!(
        monitoring::ops::population::sweep_once(&state, today())
            .await
            .unwrap(),
        0
    );

    // Last verified on the latest day that is overdue today (`policy::dates`, whose rule is
    // proved for every day of 2024–2028 in shared/policy/tests/dates.rs).
    let (months, grace) = (
        params.reverification_months,
        params.reverification_grace_days,
    );
    let last = policy::dates::reverification_overdue_before(today(), months, grace) - Days::new(1);
    assert!(policy::dates::reverification_overdue(
        last,
        today(),
        months,
        grace
    ));
    assert!(!policy::dates::reverification_overdue(
        last + Days::new(1),
        today(),
        months,
        grace
    ));
    sqlx::query("UPDATE households SET last_verified_on = $2 WHERE household_id = $1")
        .bind(h.household_id)
        .bind(last)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(
        monitoring::ops::population::sweep_once(&state, today())
            .await
            .unwrap(),
        1
    );
    let overdue = warning_of_kind(&db, "reverification_overdue").await;
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].household_id, Some(h.household_id));
    assert_eq!(overdue[0].township_code, TOWNSHIP);
    assert_eq!(overdue[0].detail["last_verified_on"], json!(last));
    assert_eq!(overdue[0].verify_due, today() + Days::new(verify_days()));
    // A later sweep does not raise it again; one day less overdue would not have raised it.
    assert_eq!(
        monitoring::ops::population::sweep_once(&state, today())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        monitoring::ops::population::sweep_once(&state, today() - Days::new(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(warnings(&db).await.len(), 1);
    mesh.teardown().await.unwrap();
}
