//! Outages heal themselves: a data holder that does not answer holds the application
//! (`waiting_for_source`) instead of sending it to manual verification; an application that went
//! to manual verification for want of a source is verified again, automatically, when the source
//! answers, unless an officer has completed it; an application verification already has is not
//! verified again when its submitted event comes back under a new event id.

use futures::StreamExt;
use mesh_tests::{another_household, eventually, silent_fixtures, Options, TestMesh};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

const WITHIN: Duration = Duration::from_secs(30);

/// Quick to notice that a silent source is silent, quick to notice it is back: one attempt of
/// 300 ms per query; a silent source is asked again after 200 ms, then at most every 500 ms; a
/// claim left by a crash runs out after 2 s.
fn patient_mesh(silent: &[&str], fixtures: simulator::Fixtures) -> Options {
    Options {
        fixtures,
        silent_sources: silent.iter().map(|s| (*s).to_owned()).collect(),
        verification_timeout_ms: 300,
        verification_attempts: 1,
        verification: vec![
            ("verification.source_retry_initial_ms".into(), "200".into()),
            ("verification.source_retry_max_ms".into(), "500".into()),
            ("verification.hold_poll_interval_ms".into(), "100".into()),
            // A claim cut short by a crash runs out within 2 s.
            ("verification.hold_lease_seconds".into(), "2".into()),
        ],
        ..Default::default()
    }
}

async fn intake_status(mesh: &TestMesh, application: &str) -> Value {
    let (_, app) = mesh
        .get("intake", &format!("/v1/applications/{application}"))
        .await
        .unwrap();
    app
}

async fn verification_of(mesh: &TestMesh, application: &str) -> (u16, Value) {
    mesh.get("verification", &format!("/v1/verifications/{application}"))
        .await
        .unwrap()
}

/// Waits until verification shows `status` for the application; on failure says what intake
/// and verification show instead.
async fn verification_becomes(mesh: &TestMesh, application: &str, status: &str) {
    let ok = eventually(WITHIN, || async {
        verification_of(mesh, application).await.1["status"] == status
    })
    .await;
    if !ok {
        let (code, v) = verification_of(mesh, application).await;
        let app = intake_status(mesh, application).await;
        panic!(
            "verification did not show {status}: verification {code} {v}; intake {}",
            app["status"]
        );
    }
}

fn steps_of<'a>(chain: &'a Value, kind: &str) -> Vec<&'a Value> {
    chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["type"] == kind)
        .collect()
}

fn members_of(app: &Value) -> Vec<Uuid> {
    app["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["member_id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_down_for_a_while_holds_the_application_which_completes_when_it_is_back() {
    let h = another_household();
    let mut mesh = TestMesh::start(patient_mesh(&["tax"], silent_fixtures(&h)))
        .await
        .unwrap();
    let queries = mesh.watch_queries().await.unwrap();
    let (status, accepted) = mesh.submit(&h).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let application = accepted["application_id"].as_str().unwrap().to_owned();
    let household = accepted["household_id"].as_str().unwrap().to_owned();

    // Held, not sent to an officer: verification waits for the tax office.
    verification_becomes(&mesh, &application, "waiting_for_source").await;
    let (_, held) = verification_of(&mesh, &application).await;
    assert_eq!(held["waiting_for"], json!(["tax"]), "{held}");
    assert_eq!(held["report_id"], Value::Null, "{held}");
    // Asked again while it is down, and still held (the hold is 300 s by default).
    assert!(
        eventually(WITHIN, || async { queries.count(Some("tax")) >= 3 }).await,
        "the tax office was asked again: {} queries",
        queries.count(Some("tax"))
    );
    assert_eq!(
        verification_of(&mesh, &application).await.1["status"],
        "waiting_for_source"
    );
    assert_eq!(
        intake_status(&mesh, &application).await["status"],
        "verifying"
    );
    // The hold is in verification's database, not in an unacknowledged message: a crash loses
    // nothing of it.
    mesh.crash("verification").await;
    mesh.launch("verification").await.unwrap();
    assert_eq!(
        verification_of(&mesh, &application).await.1["waiting_for"],
        json!(["tax"])
    );
    let asked_before = queries.count(None);

    // The tax office answers again: the application is determined by rule, with no officer.
    mesh.silence_sources(&[]).await.unwrap();
    let path = format!("/v1/applications/{application}");
    assert!(
        mesh.status_becomes("intake", &path, "determined", WITHIN)
            .await,
        "{}",
        intake_status(&mesh, &application).await
    );
    let app = intake_status(&mesh, &application).await;
    assert!(
        app["determination"]["decided_by"]
            .as_str()
            .unwrap()
            .starts_with("rule:"),
        "{app}"
    );
    assert!(
        app["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["status"] != "manual_verification"),
        "{app}"
    );
    let (_, v) = verification_of(&mesh, &application).await;
    assert_eq!(v["status"], "verified", "{v}");
    let (_, report) = mesh
        .get("verification", &format!("/v1/reports/{application}"))
        .await
        .unwrap();
    assert_eq!(report["complete"], json!(true), "{report}");
    assert_eq!(v["report_id"], report["report_id"]);
    // Only the source that had not answered was asked again: the seven that answered at first
    // were asked once.
    let again: Vec<String> = queries.all()[asked_before..]
        .iter()
        .map(|q| q.source.clone())
        .collect();
    assert!(again.iter().all(|s| s == "tax"), "{again:?}");
    for source in simulator::SOURCES.iter().filter(|s| **s != "tax") {
        assert_eq!(queries.count(Some(source)), 1, "{source}");
    }

    let chain = mesh
        .complete_chain(&household, WITHIN)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(steps_of(&chain, "verify.household.verified").len(), 1);
    assert!(steps_of(&chain, "intake.application.manual_review").is_empty());
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_hold_a_manual_verification_is_superseded_when_the_source_answers_unless_an_officer_acted(
) {
    let (a, b) = (another_household(), another_household());
    let mut fixtures = silent_fixtures(&a);
    fixtures.extend(silent_fixtures(&b));
    let mut mesh = TestMesh::start(patient_mesh(&["tax"], fixtures))
        .await
        .unwrap();
    let (_, first) = mesh.submit(&a).await.unwrap();
    let (_, second) = mesh.submit(&b).await.unwrap();
    let officer_done = first["application_id"].as_str().unwrap().to_owned();
    let automatic = second["application_id"].as_str().unwrap().to_owned();
    for app in [&officer_done, &automatic] {
        verification_becomes(&mesh, app, "waiting_for_source").await;
    }

    // The hold (300 s by default) runs out with the tax office still silent: both go to manual
    // verification, with the gap named.
    mesh.clock.advance(chrono::Duration::seconds(301));
    for app in [&officer_done, &automatic] {
        let path = format!("/v1/applications/{app}");
        assert!(
            mesh.status_becomes("intake", &path, "manual_verification", WITHIN)
                .await,
            "{}",
            intake_status(&mesh, app).await
        );
        verification_becomes(&mesh, app, "reported_with_gaps").await;
        assert_eq!(
            verification_of(&mesh, app).await.1["waiting_for"],
            json!(["tax"])
        );
    }
    let (_, gap_report) = mesh
        .get("verification", &format!("/v1/reports/{automatic}"))
        .await
        .unwrap();
    assert_eq!(gap_report["gaps"], json!(["tax"]));

    // An officer completes the first; verification learns of it and stops waiting for it.
    let app = intake_status(&mesh, &officer_done).await;
    let officer_members = members_of(&app);
    let figures: Vec<Value> = officer_members
        .iter()
        .map(|m| json!({"member_id": m, "monthly_income_fen": 0, "assets_fen": 0}))
        .collect();
    let (code, done) = mesh
        .post(
            "intake",
            &format!("/v1/applications/{officer_done}/manual-verification"),
            &json!({"note": "tax records checked by hand", "members": figures}),
        )
        .await
        .unwrap();
    assert_eq!(code, 200, "{done}");
    verification_becomes(&mesh, &officer_done, "manually_verified").await;
    let (_, verified) = verification_of(&mesh, &officer_done).await;
    assert_eq!(verified["manually_verified_by"], "officer:王芳");
    // The officer of the token, as intake's event named them.
    assert_eq!(
        verified["manually_verified_by_actor"],
        json!({"sub": "wang.fang", "name": "王芳", "role": "township_officer"})
    );

    // The tax office answers again.
    let queries = mesh.watch_queries().await.unwrap();
    mesh.silence_sources(&[]).await.unwrap();
    let path = format!("/v1/applications/{automatic}");
    assert!(
        mesh.status_becomes("intake", &path, "determined", WITHIN)
            .await,
        "{}",
        intake_status(&mesh, &automatic).await
    );
    let app = intake_status(&mesh, &automatic).await;
    assert!(
        app["determination"]["decided_by"]
            .as_str()
            .unwrap()
            .starts_with("rule:"),
        "{app}"
    );
    let notes: Vec<&str> = app["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["note"].as_str().unwrap())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("supersedes")),
        "the history says the complete report replaced the manual verification: {notes:?}"
    );
    let (_, report) = mesh
        .get("verification", &format!("/v1/reports/{automatic}"))
        .await
        .unwrap();
    assert_eq!(report["complete"], json!(true), "{report}");
    assert_eq!(report["supersedes"], gap_report["report_id"], "{report}");
    assert_eq!(
        verification_of(&mesh, &automatic).await.1["status"],
        "verified"
    );

    // The chain shows both reports, the second naming the first, and the determination
    // answering the second.
    let household = second["household_id"].as_str().unwrap();
    let chain = mesh.complete_chain(household, WITHIN).await.unwrap();
    let reports = steps_of(&chain, "verify.household.verified");
    assert_eq!(reports.len(), 2, "{chain:#}");
    assert_eq!(reports[0]["summary"]["complete"], json!(false));
    assert_eq!(reports[1]["summary"]["complete"], json!(true));
    assert_eq!(
        reports[1]["summary"]["supersedes_report_id"],
        reports[0]["summary"]["report_id"]
    );
    let determined = steps_of(&chain, "eligibility.household.determined");
    assert_eq!(determined.len(), 1);
    assert_eq!(determined[0]["causation_id"], reports[1]["event_id"]);

    // The officer's decision stands, and nobody asked the tax office about that household again.
    let app = intake_status(&mesh, &officer_done).await;
    assert_eq!(app["determination"]["decided_by"], "officer:王芳");
    for m in &officer_members {
        assert_eq!(queries.about("tax", *m), 0, "tax asked about {m}");
    }
    assert_eq!(
        verification_of(&mesh, &officer_done).await.1["status"],
        "manually_verified"
    );
    mesh.teardown().await.unwrap();
}

/// The last `intake.application.submitted` on the stream, as JSON.
async fn last_submitted(mesh: &TestMesh) -> Value {
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let stream = mesh
        .js
        .get_stream(mesh::Stream::Intake.name(&subjects))
        .await
        .unwrap();
    let msg = stream
        .get_last_raw_message_by_subject(
            &contract::channels::APPLICATION_SUBMITTED.subject(&subjects),
        )
        .await
        .unwrap();
    serde_json::from_slice(&msg.payload).unwrap()
}

fn consumed(metrics: &Value, consumer: &str, outcome: &str) -> u64 {
    metrics
        .as_str()
        .unwrap_or_default()
        .lines()
        .find(|l| {
            l.starts_with("relief_messages_total")
                && l.contains(&format!("consumer=\"{consumer}\""))
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// `event` under a new event id, published as a producer re-sending it would.
async fn resend(mesh: &TestMesh, mut event: Value) {
    let id = Uuid::new_v4().to_string();
    event["id"] = json!(id);
    let duplicate = mesh
        .publish_raw(
            contract::channels::APPLICATION_SUBMITTED.subject,
            &id,
            serde_json::to_vec(&event).unwrap(),
        )
        .await
        .unwrap();
    assert!(!duplicate, "a new event id is new to JetStream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_event_sent_again_under_a_new_id_asks_no_data_holder() {
    let (first, second) = (another_household(), another_household());
    let mut fixtures = silent_fixtures(&first);
    fixtures.extend(silent_fixtures(&second));
    let mesh = TestMesh::start(Options {
        departments: vec![],
        fixtures,
        // Every answer takes 300 ms: time for a second delivery to arrive while the first asks.
        simulator_latency_ms: 300,
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&first).await.unwrap();
    let application = accepted["application_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/applications/{application}");
    assert!(
        mesh.status_becomes("intake", &path, "determined", WITHIN)
            .await
    );

    // Sent again once verified: recognised by its application id before anyone is asked.
    let queries = mesh.watch_queries().await.unwrap();
    resend(&mesh, last_submitted(&mesh).await).await;
    mesh.settle(WITHIN).await.unwrap();
    let (_, metrics) = mesh.get("verification", "/metrics").await.unwrap();
    assert_eq!(
        queries.count(None),
        0,
        "data holders asked again: {:?}",
        queries.all()
    );
    assert_eq!(
        consumed(&metrics, "verification-applications", "duplicate"),
        1
    );
    let (_, report) = mesh
        .get("verification", &format!("/v1/reports/{application}"))
        .await
        .unwrap();
    assert_eq!(report["complete"], json!(true));

    // Sent again while the first delivery is still asking: both ask, the second finds the
    // report recorded by the first (the unique constraint) and is a duplicate, not a failure
    // to retry.
    let (_, accepted) = mesh.submit(&second).await.unwrap();
    let application = accepted["application_id"].as_str().unwrap().to_owned();
    let member: Uuid = members_of(&intake_status(&mesh, &application).await)[0];
    assert!(eventually(WITHIN, || async { queries.about("bank", member) == 1 }).await);
    resend(&mesh, last_submitted(&mesh).await).await;
    let path = format!("/v1/applications/{application}");
    assert!(
        mesh.status_becomes("intake", &path, "determined", WITHIN)
            .await
    );
    mesh.settle(WITHIN).await.unwrap();
    assert_eq!(
        queries.about("bank", member),
        2,
        "both deliveries asked: the second met the first's report in its transaction"
    );
    let (_, metrics) = mesh.get("verification", "/metrics").await.unwrap();
    assert_eq!(
        consumed(&metrics, "verification-applications", "duplicate"),
        2
    );
    assert_eq!(consumed(&metrics, "verification-applications", "nak"), 0);
    assert!(mesh.dead_letters("verification").await.unwrap().is_empty());
    let reports = format!("SELECT count(*) FROM reports WHERE application_id = '{application}'");
    assert_eq!(count(&mesh, "verification", &reports).await, 1);
    mesh.teardown().await.unwrap();
}

/// Counts one SQL figure in a service's database.
async fn count(mesh: &TestMesh, service: &str, sql: &str) -> i64 {
    let mut db: sqlx::PgConnection = sqlx::Connection::connect(&mesh.database_url(service))
        .await
        .unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_holder_down_for_60_s_during_200_applications_leaves_none_in_manual_verification() {
    const APPLICATIONS: usize = 200;
    let outage = Duration::from_secs(60);
    let mut opts = patient_mesh(&["tax"], simulator::Fixtures::new());
    // The hold outlasts the outage; the tax office is asked again at most every 2 s.
    opts.verification.extend([
        ("verification.source_hold_seconds".into(), "120".into()),
        ("verification.source_retry_max_ms".into(), "2000".into()),
    ]);
    opts.departments = vec![];
    opts.max_connections = 5;
    let started = Instant::now();
    let mut mesh = TestMesh::start(opts).await.unwrap();
    let down_since = Instant::now();

    let households: Vec<Value> = (0..APPLICATIONS).map(|_| another_household()).collect();
    let accepted: Vec<Value> = futures::stream::iter(households.iter())
        .map(|h| {
            let mesh = &mesh;
            async move {
                let (status, body) = mesh.submit(h).await.unwrap();
                assert_eq!(status, 202, "{body}");
                body
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let submitted_in = down_since.elapsed();

    // While the tax office is down none goes to an officer: every application waits for it.
    let manual = "SELECT count(*) FROM applications WHERE status = 'manual_verification'";
    tokio::time::sleep_until((down_since + outage).into()).await;
    let in_manual = count(&mesh, "intake", manual).await;
    assert_eq!(
        in_manual, 0,
        "{in_manual} of {APPLICATIONS} in manual verification after the 60 s outage"
    );
    let held = "SELECT count(*) FROM held_verifications WHERE state = 'waiting_for_source'";
    assert!(
        eventually(WITHIN, || async {
            count(&mesh, "verification", held).await == APPLICATIONS as i64
        })
        .await,
        "{} of {APPLICATIONS} held",
        count(&mesh, "verification", held).await
    );

    // Back after 60 s: every application is determined by rule.
    mesh.silence_sources(&[]).await.unwrap();
    let back = Instant::now();
    let determined = "SELECT count(*) FROM determinations";
    assert!(
        eventually(Duration::from_secs(60), || async {
            count(&mesh, "intake", determined).await == APPLICATIONS as i64
        })
        .await,
        "{} of {APPLICATIONS} determined",
        count(&mesh, "intake", determined).await
    );
    let healed_in = back.elapsed();
    let steps = |kind: &str| format!("SELECT count(*) FROM chain_events WHERE type = '{kind}'");
    let verified_steps = steps("verify.household.verified");
    let determined_steps = steps("eligibility.household.determined");
    assert!(
        eventually(WITHIN, || async {
            count(&mesh, "monitoring", &verified_steps).await == APPLICATIONS as i64
                && count(&mesh, "monitoring", &determined_steps).await == APPLICATIONS as i64
        })
        .await,
        "the chains recorded every report and determination"
    );
    mesh.settle(WITHIN).await.unwrap();

    // Nothing lost, nothing doubled.
    let n = APPLICATIONS as i64;
    assert_eq!(count(&mesh, "intake", manual).await, 0);
    assert_eq!(count(&mesh, "intake", determined).await, n);
    assert_eq!(
        count(
            &mesh,
            "intake",
            "SELECT count(*) FROM applications WHERE status = 'verifying'"
        )
        .await,
        0
    );
    for (sql, what) in [
        (
            "SELECT count(*) FROM reports WHERE purpose = 'application'",
            "reports",
        ),
        (
            "SELECT count(*) FROM reports WHERE purpose = 'application' AND complete",
            "complete reports",
        ),
        (
            "SELECT count(DISTINCT application_id) FROM reports WHERE purpose = 'application'",
            "applications reported",
        ),
    ] {
        assert_eq!(count(&mesh, "verification", sql).await, n, "{what}");
    }
    assert_eq!(
        count(
            &mesh,
            "verification",
            "SELECT count(*) FROM held_verifications"
        )
        .await,
        0
    );
    assert_eq!(count(&mesh, "monitoring", &verified_steps).await, n);
    assert_eq!(count(&mesh, "monitoring", &determined_steps).await, n);
    assert_eq!(
        count(
            &mesh,
            "monitoring",
            "SELECT count(DISTINCT household_id) FROM chain_events WHERE type = 'eligibility.household.determined'"
        )
        .await,
        n
    );
    assert_eq!(
        count(
            &mesh,
            "monitoring",
            "SELECT count(*) FROM chain_events WHERE type = 'intake.application.manual_review'"
        )
        .await,
        0
    );
    for service in ["verification", "intake", "monitoring", "payment"] {
        assert!(
            mesh.dead_letters(service).await.unwrap().is_empty(),
            "{service} has dead letters"
        );
    }
    let households: std::collections::BTreeSet<&str> = accepted
        .iter()
        .map(|a| a["household_id"].as_str().unwrap())
        .collect();
    assert_eq!(households.len(), APPLICATIONS);
    eprintln!(
        "200 applications: submitted in {submitted_in:?}, outage {outage:?}, all determined {healed_in:?} after the source was back; {:?} in all",
        started.elapsed()
    );
    mesh.teardown().await.unwrap();
}
