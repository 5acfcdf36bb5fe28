//! The monthly payment run: households enrolled through the whole chain, a run that fails part
//! way and is run again, stops (a death, a household that leaves, a gradual exit) and their
//! recovery cases, a later parameter set, the scheduler's alert.

use chrono::NaiveDate;
use contract::{AssistanceChange, HouseholdChanged};
use mesh::{ChainRef, Envelope};
use mesh_tests::{another_household, eventually, silent_fixtures, Options, TestMesh};
use policy::{Month, ParameterSet, PolicyBook, RegionCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use uuid::Uuid;

const WITHIN: Duration = Duration::from_secs(30);

fn this_month() -> Month {
    Month::of(mesh_tests::business_date())
}

fn zhengzhou(book: &PolicyBook, month: Month) -> ParameterSet {
    book.in_force(&RegionCode::parse("410102").unwrap(), month.first_day())
        .unwrap()
        .clone()
}

/// The demo-like household's dibao for a month, by hand: per-capita counted income 200.00 yuan
/// (600.00 over three), the gap to the urban standard times three members, plus the classified
/// add-on for the seriously ill spouse and for the child (a minor).
fn demo_dibao(p: &ParameterSet, members: i64, addons: i64) -> i64 {
    (p.dibao_standard.urban.0 - 20000) * members + p.classified_addon.0 * addons
}

/// Submits `n` households like the demo one and waits for each chain to complete; returns each
/// household's id, chain id and member ids by relation.
async fn enrol(
    mesh: &TestMesh,
    households: &[Value],
) -> Vec<(String, Uuid, BTreeMap<String, Uuid>)> {
    let mut ids = Vec::new();
    for h in households {
        let (status, accepted) = mesh.submit(h).await.unwrap();
        assert_eq!(status, 202, "{accepted}");
        ids.push(accepted["household_id"].as_str().unwrap().to_owned());
    }
    let mut out = Vec::new();
    for id in ids {
        let chain = mesh.complete_chain(&id, WITHIN).await.unwrap();
        let chain_id: Uuid = chain["chain_id"].as_str().unwrap().parse().unwrap();
        let (_, household) = mesh
            .get("monitoring", &format!("/v1/households/{id}"))
            .await
            .unwrap();
        let members = household["members"]
            .as_array()
            .unwrap_or_else(|| panic!("{household}"))
            .iter()
            .map(|m| {
                (
                    m["relation"].as_str().unwrap().to_owned(),
                    m["member_id"].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect();
        out.push((id, chain_id, members));
    }
    out
}

fn households(n: usize) -> (Vec<Value>, simulator::Fixtures) {
    let hs: Vec<Value> = (0..n).map(|_| another_household()).collect();
    let mut fixtures = simulator::Fixtures::new();
    for h in &hs {
        fixtures.extend(silent_fixtures(h));
    }
    (hs, fixtures)
}

/// Every message on `subject` in its stream: (Nats-Msg-Id, envelope).
async fn messages(mesh: &TestMesh, base: &str, subject: &str) -> Vec<(String, Value)> {
    mesh.stored(base, subject).await.unwrap()
}

/// A household's instructions of `month`: (the instruction's `key` field, beneficiary, amount).
async fn instructed_by(
    mesh: &TestMesh,
    household: &str,
    month: Month,
    key: &str,
) -> BTreeSet<(String, String, i64)> {
    mesh.instructions(household)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i["month"] == json!(month.to_string()))
        .map(|i| {
            (
                i[key].as_str().unwrap_or_default().to_owned(),
                i["beneficiary_member_id"].as_str().unwrap().to_owned(),
                i["amount_fen"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Instructions of `month` over `households`, by instruction id: (beneficiary, kind, amount).
async fn month_instructions(
    mesh: &TestMesh,
    households: &[(String, Uuid, BTreeMap<String, Uuid>)],
    month: Month,
) -> BTreeMap<String, (String, String, i64)> {
    let mut out = BTreeMap::new();
    for (h, _, _) in households {
        for i in mesh.instructions(h).await.unwrap() {
            if i["month"] == json!(month.to_string()) {
                let prior = out.insert(
                    i["instruction_id"].as_str().unwrap().to_owned(),
                    (
                        i["beneficiary_member_id"].as_str().unwrap().to_owned(),
                        i["kind"].as_str().unwrap().to_owned(),
                        i["amount_fen"].as_i64().unwrap(),
                    ),
                );
                assert!(prior.is_none(), "an instruction listed twice");
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_fails_part_way_is_run_again_and_pays_everyone_once() {
    let (hs, fixtures) = households(5);
    let mesh = TestMesh::start(Options {
        fixtures,
        payment: vec![
            ("payment.run.chunk_size".into(), "1".into()),
            ("payment.run.fail_after_chunks".into(), "2".into()),
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    let enrolled = enrol(&mesh, &hs).await;
    let book = PolicyBook::builtin();
    let now = this_month();
    let month = now.next();

    // The first attempt stops after two chunks (two households) and says so.
    let (status, run) = mesh
        .post("payment", "/v1/runs", &json!({"month": month.to_string()}))
        .await
        .unwrap();
    assert_eq!(status, 202, "{run}");
    let path = format!("/v1/runs/{month}");
    assert!(
        mesh.status_becomes("payment", &path, "failed", WITHIN)
            .await
    );
    let (_, failed) = mesh.get("payment", &path).await.unwrap();
    assert_eq!(failed["chunks"], json!(2), "{failed}");
    assert_eq!(failed["households"], json!(2));
    assert!(failed["error"].as_str().unwrap().contains("injected fault"));
    assert_eq!(month_instructions(&mesh, &enrolled, month).await.len(), 2);
    assert!(
        eventually(WITHIN, || async {
            messages(
                &mesh,
                "PAYMENT",
                contract::channels::PAYMENT_RUN_ALERT.subject,
            )
            .await
            .iter()
            .any(|(_, e)| {
                e["data"]["reason"] == json!("failed")
                    && e["data"]["month"] == json!(month.to_string())
            })
        })
        .await,
        "a failed run raises payment.run.alert"
    );

    // Run again: it resumes after the second household.
    let done = mesh.run_month(month, WITHIN).await;
    assert_eq!(done["households"], json!(5), "{done}");
    assert_eq!(done["instructions_created"], json!(5));
    assert_eq!(done["instructions_existing"], json!(0));
    assert_eq!(done["attempts"], json!(2));
    let p = zhengzhou(&book, month);
    let each = demo_dibao(&p, 3, 2);
    assert_eq!(done["total_fen"], json!(each * 5));

    // One instruction per household, to its head, for the amount computed by hand, under the id
    // derived from (head, month, kind).
    let made = month_instructions(&mesh, &enrolled, month).await;
    assert_eq!(made.len(), 5);
    for (_, _, members) in &enrolled {
        let head = members["head"];
        let id = payment::entitlements::instruction_id(
            head,
            &month.to_string(),
            payment::domain::InstructionKind::DibaoMonthly,
            "",
        );
        assert_eq!(
            made.get(&id.to_string()),
            Some(&(head.to_string(), "dibao_monthly".to_owned(), each)),
            "{made:#?}"
        );
    }

    // Running the completed month again creates nothing.
    let (status, again) = mesh
        .post("payment", "/v1/runs", &json!({"month": month.to_string()}))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(again["instructions_created"], json!(5));
    assert_eq!(again["attempts"], json!(2));

    // The determination's month: the run finds every instruction made already (same ids).
    let first = mesh.run_month(now, WITHIN).await;
    assert_eq!(first["instructions_created"], json!(0), "{first}");
    assert_eq!(first["instructions_existing"], json!(5));

    // On the wire: one payment.instruction.created per instruction, none doubled or missing.
    let expected: BTreeSet<String> = made
        .keys()
        .cloned()
        .chain(month_instructions(&mesh, &enrolled, now).await.into_keys())
        .collect();
    assert_eq!(expected.len(), 10);
    let want = expected.len();
    assert!(
        eventually(WITHIN, || async {
            messages(
                &mesh,
                "PAYMENT",
                contract::channels::PAYMENT_INSTRUCTION_CREATED.subject,
            )
            .await
            .len()
                >= want
        })
        .await
    );
    mesh.settle(WITHIN).await.unwrap();
    let seen = messages(
        &mesh,
        "PAYMENT",
        contract::channels::PAYMENT_INSTRUCTION_CREATED.subject,
    )
    .await;
    let msg_ids: BTreeSet<&String> = seen.iter().map(|(id, _)| id).collect();
    assert_eq!(msg_ids.len(), seen.len(), "a Nats-Msg-Id twice");
    let instructed: Vec<String> = seen
        .iter()
        .map(|(_, e)| e["data"]["instruction_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        instructed.len(),
        expected.len(),
        "an instruction published twice"
    );
    assert_eq!(instructed.into_iter().collect::<BTreeSet<_>>(), expected);
    let completed = messages(
        &mesh,
        "PAYMENT",
        contract::channels::PAYMENT_RUN_COMPLETED.subject,
    )
    .await;
    assert_eq!(completed.len(), 2, "one payment.run.completed per month");
    mesh.teardown().await.unwrap();
}

fn change(
    household: &(String, Uuid, BTreeMap<String, Uuid>),
    member: Option<&str>,
    change: AssistanceChange,
    reason: &str,
    stop_from: Month,
    exit_months: Option<u32>,
) -> Vec<u8> {
    let (household_id, chain_id, members) = household;
    let e = Envelope::new(
        "monitoring",
        &ChainRef {
            household_id: household_id.parse().unwrap(),
            chain_id: *chain_id,
            causation_id: None,
        },
        Some(household_id.clone()),
        HouseholdChanged {
            change_id: Uuid::new_v4(),
            member_id: member.map(|r| members[r]),
            change,
            reason: reason.into(),
            occurred_on: stop_from.first_day() - chrono::Days::new(3),
            stop_from_month: stop_from,
            exit_months,
            decided_by: "rule:test".into(),
        },
    );
    serde_json::to_vec(&e).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_end_payments_from_their_month_and_what_was_paid_after_is_recovered() {
    let (hs, fixtures) = households(3);
    let mesh = TestMesh::start(Options {
        fixtures,
        // Three months ahead are run from today (the window is one month ahead by default).
        payment: vec![("payment.run.months_ahead".into(), "3".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let enrolled = enrol(&mesh, &hs).await;
    let (a, b, c) = (&enrolled[0], &enrolled[1], &enrolled[2]);
    let book = PolicyBook::builtin();
    let m1 = this_month().next();
    let (m2, m3) = (m1.next(), m1.next().next());
    mesh.run_month(m1, WITHIN).await;

    // A: the spouse died before m1, reported after m1 was instructed. B: the household leaves
    // from m2. C: income rose above the standard; two exit months (m1, m2), nothing from m3.
    let publish = |body: Vec<u8>| {
        let mesh = &mesh;
        async move {
            mesh.publish_raw(
                contract::channels::HOUSEHOLD_CHANGED.subject,
                &Uuid::new_v4().to_string(),
                body,
            )
            .await
            .unwrap()
        }
    };
    publish(change(
        a,
        Some("spouse"),
        AssistanceChange::Stopped,
        "death",
        m1,
        None,
    ))
    .await;
    publish(change(
        b,
        None,
        AssistanceChange::Stopped,
        "moved_away",
        m2,
        None,
    ))
    .await;
    publish(change(
        c,
        None,
        AssistanceChange::GradualExit,
        "income_above_standard",
        m3,
        Some(2),
    ))
    .await;

    // A's m1 was paid for three; the household was owed it for two (the child still a minor).
    let p1 = zhengzhou(&book, m1);
    let full = demo_dibao(&p1, 3, 2);
    let without_spouse = demo_dibao(&p1, 2, 1);
    assert!(
        eventually(WITHIN, || async {
            mesh.get("payment", "/v1/recoveries")
                .await
                .map(|(_, c)| c.as_array().is_some_and(|c| !c.is_empty()))
                .unwrap_or(false)
        })
        .await
    );
    mesh.settle(WITHIN).await.unwrap();
    let cases = mesh.get("payment", "/v1/recoveries").await.unwrap().1;
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 1, "{cases:#?}");
    let head = a.2["head"];
    assert_eq!(cases[0]["household_id"], json!(a.0));
    assert_eq!(cases[0]["month"], json!(m1.to_string()));
    assert_eq!(cases[0]["reason"], json!("death"));
    assert_eq!(cases[0]["status"], json!("open"));
    assert_eq!(cases[0]["amount_fen"], json!(full - without_spouse));
    assert_eq!(
        cases[0]["instruction_id"],
        json!(payment::entitlements::instruction_id(
            head,
            &m1.to_string(),
            payment::domain::InstructionKind::DibaoMonthly,
            ""
        )
        .to_string())
    );
    let opened = messages(
        &mesh,
        "PAYMENT",
        contract::channels::PAYMENT_RECOVERY_OPENED.subject,
    )
    .await;
    assert_eq!(opened.len(), 1);
    assert_eq!(
        opened[0].1["data"]["amount_fen"],
        json!(full - without_spouse)
    );

    mesh.run_month(m2, WITHIN).await;
    mesh.run_month(m3, WITHIN).await;
    let paid = |h: &(String, Uuid, BTreeMap<String, Uuid>), m: Month| {
        let mesh = &mesh;
        let h = h.clone();
        async move {
            month_instructions(mesh, std::slice::from_ref(&h), m)
                .await
                .into_values()
                .map(|(_, _, amount)| amount)
                .sum::<i64>()
        }
    };
    for m in [m2, m3] {
        let p = zhengzhou(&book, m);
        assert_eq!(paid(a, m).await, demo_dibao(&p, 2, 1), "A in {m}");
        assert_eq!(paid(b, m).await, 0, "B in {m}");
    }
    assert_eq!(
        paid(a, m1).await,
        full,
        "an instruction made stands; the recovery takes the rest"
    );
    assert_eq!(paid(b, m1).await, full);
    assert_eq!(paid(c, m1).await, full);
    assert_eq!(
        paid(c, m2).await,
        demo_dibao(&zhengzhou(&book, m2), 3, 2),
        "the last exit month"
    );
    assert_eq!(paid(c, m3).await, 0, "the gradual exit ended");
    // Nothing more to recover: the stops came before the months were run.
    let cases = mesh.get("payment", "/v1/recoveries").await.unwrap().1;
    assert_eq!(cases.as_array().unwrap().len(), 1);
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_parameter_set_changes_the_months_from_its_date_only() {
    let m1 = this_month().next();
    let m2 = m1.next();
    // Payment's parameter sets: the built-in ones and a higher Zhengzhou standard from m2.
    let raised = 95000;
    let text = format!(
        "{}\n{}",
        policy::params::BUILTIN,
        include_str!("../../../shared/policy/data/test-set.toml")
            .replace("{region}", "410100")
            .replace("{version}", "zz-test-raised")
            .replace("{effective_from}", &m2.first_day().to_string())
            .replace("{urban}", &raised.to_string())
            .replace("{rural}", "70000")
    );
    let file = std::env::temp_dir().join(format!("payment-sets-{}.toml", Uuid::new_v4()));
    std::fs::write(&file, &text).unwrap();
    let book = PolicyBook::from_toml(&text).unwrap();
    let (hs, fixtures) = households(1);
    let mesh = TestMesh::start(Options {
        fixtures,
        payment: vec![
            (
                "payment.policy_file".into(),
                file.to_string_lossy().into_owned(),
            ),
            ("payment.run.months_ahead".into(), "2".into()),
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    let enrolled = enrol(&mesh, &hs).await;
    mesh.run_month(m1, WITHIN).await;
    mesh.run_month(m2, WITHIN).await;
    let now = this_month();
    let before = zhengzhou(&book, m1);
    let after = zhengzhou(&book, m2);
    assert_eq!(after.version, "zz-test-raised");
    assert_ne!(before.version, after.version);
    for (m, p) in [(now, &before), (m1, &before), (m2, &after)] {
        let made: Vec<Value> = mesh
            .instructions(&enrolled[0].0)
            .await
            .unwrap()
            .into_iter()
            .filter(|i| i["month"] == json!(m.to_string()))
            .collect();
        assert_eq!(made.len(), 1, "{m}: {made:#?}");
        assert_eq!(made[0]["amount_fen"], json!(demo_dibao(p, 3, 2)), "{m}");
        assert_eq!(made[0]["policy_version"], json!(p.version), "{m}");
    }
    mesh.teardown().await.unwrap();
    let _ = std::fs::remove_file(file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_starts_the_next_month_and_alerts_once_when_a_month_is_late() {
    // The 26th: past the run day (25) and this month's deadline day (5) of the built-in sets.
    let today: NaiveDate = "2027-03-26".parse().unwrap();
    let book = PolicyBook::builtin();
    let (run_day, deadline_day, _) = payment::runs::schedule_days(&book, today).unwrap();
    assert!(run_day <= 26 && deadline_day <= 26);
    let mesh = TestMesh::start(Options {
        departments: vec![],
        payment: vec![("payment.run.schedule_interval_ms".into(), "200".into())],
        business_date: today,
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(
        mesh.status_becomes("payment", "/v1/runs/2027-04", "completed", WITHIN)
            .await
    );
    assert!(
        mesh.status_becomes("payment", "/v1/runs/2027-03", "completed", WITHIN)
            .await
    );
    // Several more looks: the alert stays one.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    mesh.settle(WITHIN).await.unwrap();
    let alerts = messages(
        &mesh,
        "PAYMENT",
        contract::channels::PAYMENT_RUN_ALERT.subject,
    )
    .await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0].1["data"];
    assert_eq!(a["month"], json!("2027-03"));
    assert_eq!(a["reason"], json!("not_completed_by_deadline"));
    assert_eq!(a["status"], json!("missing"));
    assert_eq!(a["pay_by"], json!("2027-03-10"));
    assert_eq!(alerts[0].1["household_id"], json!(Uuid::nil().to_string()));
    let metrics = mesh
        .http
        .get(mesh.url("payment", "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("relief_payment_run_alerts_total")
                && l.contains("not_completed_by_deadline")
                && l.ends_with(" 1")),
        "{metrics}"
    );
    let completed = messages(
        &mesh,
        "PAYMENT",
        contract::channels::PAYMENT_RUN_COMPLETED.subject,
    )
    .await;
    assert_eq!(completed.len(), 2);
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_a_run_loses_nothing_and_doubles_nothing() {
    let (hs, fixtures) = households(4);
    let mut mesh = TestMesh::start(Options {
        fixtures,
        payment: vec![("payment.run.chunk_size".into(), "1".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let enrolled = enrol(&mesh, &hs).await;
    let month = this_month().next();
    let (status, _) = mesh
        .post("payment", "/v1/runs", &json!({"month": month.to_string()}))
        .await
        .unwrap();
    assert_eq!(status, 202);
    // The service dies wherever the run is (before, within or after its chunks).
    mesh.crash("payment").await;
    mesh.launch("payment").await.unwrap();
    let path = format!("/v1/runs/{month}");
    let (_, found) = mesh.get("payment", &path).await.unwrap();
    eprintln!("after the crash: {found}");
    let done = mesh.run_month(month, WITHIN).await;
    assert_eq!(done["households"], json!(4), "{done}");
    assert_eq!(
        done["instructions_created"].as_i64().unwrap()
            + done["instructions_existing"].as_i64().unwrap(),
        4
    );
    let each = demo_dibao(&zhengzhou(&PolicyBook::builtin(), month), 3, 2);
    let made = month_instructions(&mesh, &enrolled, month).await;
    assert_eq!(made.len(), 4);
    assert!(made.values().all(|(_, _, amount)| *amount == each));
    mesh.settle(WITHIN).await.unwrap();
    let on_wire: Vec<String> = messages(
        &mesh,
        "PAYMENT",
        contract::channels::PAYMENT_INSTRUCTION_CREATED.subject,
    )
    .await
    .into_iter()
    .filter(|(_, e)| e["data"]["month"] == json!(month.to_string()))
    .map(|(_, e)| e["data"]["instruction_id"].as_str().unwrap().to_owned())
    .collect();
    assert_eq!(on_wire.len(), 4, "{on_wire:#?}");
    assert_eq!(
        on_wire.into_iter().collect::<BTreeSet<_>>(),
        made.into_keys().collect::<BTreeSet<_>>()
    );
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_household_determined_after_a_month_was_run_is_instructed_for_that_month_too() {
    let (hs, fixtures) = households(1);
    let mesh = TestMesh::start(Options {
        fixtures,
        ..Default::default()
    })
    .await
    .unwrap();
    let now = this_month();
    let next = now.next();
    let early = mesh.run_month(next, WITHIN).await;
    assert_eq!(early["households"], json!(0));
    let enrolled = enrol(&mesh, &hs).await;
    let book = PolicyBook::builtin();
    for m in [now, next] {
        let made = month_instructions(&mesh, &enrolled, m).await;
        assert_eq!(made.len(), 1, "{m}: {made:#?}");
        let (_, kind, amount) = made.values().next().unwrap();
        assert_eq!(kind, "dibao_monthly");
        assert_eq!(*amount, demo_dibao(&zhengzhou(&book, m), 3, 2), "{m}");
    }
    // The completed run is not run again, and nothing is doubled if it were asked.
    let (status, again) = mesh
        .post("payment", "/v1/runs", &json!({"month": next.to_string()}))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(again["households"], json!(0));
    assert_eq!(month_instructions(&mesh, &enrolled, next).await.len(), 1);
    mesh.teardown().await.unwrap();
}

/// Re-determination (动态调整; issue "policy as the texts write it"): the spouse of a dibao
/// household of three dies. Monitoring determines the household again without her, from the
/// month after the death, and payment pays that month the two-person amount: the head's
/// 600.00 yuan now over two people, 300.00 yuan per capita, the gap to the urban standard for
/// two and the child's add-on (she had the other one) — not the old per-capita income for the
/// two left. The month of the death keeps the amount for three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_death_in_a_dibao_household_of_three_is_determined_again_and_the_next_month_pays_two() {
    let (hs, fixtures) = households(1);
    let mesh = TestMesh::start(Options {
        fixtures,
        payment: vec![("payment.run.months_ahead".into(), "2".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let enrolled = enrol(&mesh, &hs).await;
    let a = &enrolled[0];
    let spouse_id_number = hs[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["relation"] == json!("spouse"))
        .and_then(|m| m["id_number"].as_str())
        .unwrap()
        .to_owned();
    let died_on = mesh_tests::business_date();
    let now = this_month();
    let next = now.next();

    let id = Uuid::new_v4().to_string();
    let record = json!({
        "specversion": "1.0",
        "id": id,
        "source": "/department/death",
        "type": "monitor.feed.record",
        "time": "2026-11-16T02:00:00Z",
        "datacontenttype": "application/json",
        "household_id": Uuid::nil(),
        "chain_id": Uuid::nil(),
        "schema_version": 1,
        "data": {
            "record_id": "D-REDET-1",
            "id_number": spouse_id_number,
            "region_code": "410102001002",
            "occurred_on": died_on,
        },
    });
    mesh.publish_raw(
        "monitor.feed.death",
        &id,
        serde_json::to_vec(&record).unwrap(),
    )
    .await
    .unwrap();

    let subject = contract::channels::HOUSEHOLD_REDETERMINED.subject;
    assert!(
        eventually(WITHIN, || async {
            !messages(&mesh, "ELIGIBILITY", subject).await.is_empty()
        })
        .await,
        "no eligibility.household.redetermined"
    );
    let book = PolicyBook::builtin();
    let p = zhengzhou(&book, next);
    let standard = p.dibao_standard.urban.0;
    let for_two = (standard - 30000) * 2 + p.classified_addon.0;
    let redetermined = messages(&mesh, "ELIGIBILITY", subject).await;
    assert_eq!(redetermined.len(), 1);
    let e = &redetermined[0].1;
    assert_eq!(e["household_id"], json!(a.0));
    assert_eq!(e["chain_id"], json!(a.1));
    let r = &e["data"];
    assert_eq!(r["cause"], json!("death"));
    assert_eq!(r["member_id"], json!(a.2["spouse"]));
    assert_eq!(r["from_month"], json!(next.to_string()));
    assert_eq!(
        r["before"]["monthly_amount_fen"],
        json!(demo_dibao(&p, 3, 2))
    );
    assert_eq!(r["after"]["monthly_amount_fen"], json!(for_two), "{r:#}");
    assert_eq!(r["after"]["per_capita_income_fen"], json!(30000));
    assert_eq!(r["after"]["members"].as_array().unwrap().len(), 2);
    assert_eq!(r["stops"], json!(false));
    assert!(r["after"]["decided_by"]
        .as_str()
        .unwrap()
        .starts_with("rule:"));

    mesh.settle(WITHIN).await.unwrap();
    mesh.run_month(next, WITHIN).await;
    let paid = month_instructions(&mesh, &enrolled[..1], next).await;
    let amounts: Vec<(String, i64)> = paid
        .values()
        .map(|(to, kind, fen)| {
            assert_eq!(to, &a.2["head"].to_string());
            (kind.clone(), *fen)
        })
        .collect();
    assert_eq!(amounts, [("dibao_monthly".to_owned(), for_two)]);
    // The month of the death was instructed at determination, for three.
    let this = month_instructions(&mesh, &enrolled[..1], now).await;
    let this: Vec<i64> = this.values().map(|(_, _, fen)| *fen).collect();
    assert_eq!(this, [demo_dibao(&zhengzhou(&book, now), 3, 2)]);
    mesh.teardown().await.unwrap();
}

/// 动态调整 recorded by the township officer: a baby is born into the household, then the
/// child moves out, both this month. From next month the household is paid as it then is —
/// head, spouse and baby, 600.00 yuan over three — and each change was determined again when it
/// was recorded (four members, then three), the later one from the same month replacing the
/// earlier in payment's register.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn births_and_members_leaving_are_recorded_by_the_township_and_paid_from_the_next_month() {
    let (hs, fixtures) = households(1);
    let mesh = TestMesh::start(Options {
        fixtures,
        payment: vec![("payment.run.months_ahead".into(), "2".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let enrolled = enrol(&mesh, &hs).await;
    let a = &enrolled[0];
    let today = mesh_tests::business_date();
    let next = this_month().next();
    let path = format!("/v1/households/{}/members", a.0);
    let baby = mesh_tests::id_number(&format!("410102{}071", today.format("%Y%m%d")));
    let birth = json!({
        "kind": "birth",
        "occurred_on": today,
        "member": {"name": "Zhang Xiaohong", "id_number": baby, "relation": "child"},
    });
    let p = zhengzhou(&PolicyBook::builtin(), next);
    let (standard, addon) = (p.dibao_standard.urban.0, p.classified_addon.0);

    // Another township's officer does not see the household.
    let (status, e) = mesh
        .post_as(
            Some(&mesh_tests::Who::person("li.qiang")),
            "monitoring",
            &path,
            &birth,
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "{e}");
    // A birth on another day than the ID number's, and a newcomer without a name: 422.
    let (status, e) = mesh
        .post(
            "monitoring",
            &path,
            &json!({"kind": "birth", "occurred_on": today - chrono::Days::new(1),
                    "member": {"name": " ", "id_number": baby, "relation": "child"}}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{e}");
    let fields: Vec<&str> = e["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["member.name", "member.id_number"], "{e}");
    assert!(
        !e.to_string().contains(&baby),
        "the value is not echoed: {e}"
    );

    let (status, born) = mesh.post("monitoring", &path, &birth).await.unwrap();
    assert_eq!(status, 200, "{born}");
    let r = &born["redetermination"];
    assert_eq!(born["cause"], json!("birth"));
    assert_eq!(born["from_month"], json!(next.to_string()));
    assert_eq!(
        r["before"]["monthly_amount_fen"],
        json!(demo_dibao(&p, 3, 2))
    );
    // 600.00 yuan over four: 150.00 per capita; add-ons for the ill spouse and two minors.
    assert_eq!(r["after"]["per_capita_income_fen"], json!(15000));
    assert_eq!(
        r["after"]["monthly_amount_fen"],
        json!((standard - 15000) * 4 + 3 * addon),
        "{r:#}"
    );
    let (status, e) = mesh.post("monitoring", &path, &birth).await.unwrap();
    assert_eq!(status, 409, "the same birth again: {e}");

    let child = a.2["child"];
    let (status, left) = mesh
        .post(
            "monitoring",
            &path,
            &json!({"kind": "member_left", "occurred_on": today, "member_id": child}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{left}");
    let three = demo_dibao(&p, 3, 2);
    assert_eq!(
        left["redetermination"]["after"]["monthly_amount_fen"],
        json!(three)
    );
    assert_eq!(
        left["redetermination"]["after"]["members"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // The outbox publishes after the commit: wait for the stop to reach the stream.
    let changed = contract::channels::HOUSEHOLD_CHANGED.subject;
    let has_stop = |changes: &[(String, Value)]| {
        changes
            .iter()
            .any(|(_, e)| e["data"]["reason"] == json!("member_left"))
    };
    assert!(
        eventually(WITHIN, || async {
            has_stop(&messages(&mesh, "MONITOR", changed).await)
        })
        .await
    );
    let changes = messages(&mesh, "MONITOR", changed).await;
    let stop = changes
        .iter()
        .map(|(_, e)| &e["data"])
        .find(|d| d["reason"] == json!("member_left"))
        .expect("the child's stop");
    assert_eq!(stop["member_id"], json!(child));
    assert_eq!(stop["stop_from_month"], json!(next.to_string()));

    mesh.settle(WITHIN).await.unwrap();
    mesh.run_month(next, WITHIN).await;
    let paid: Vec<(String, String, i64)> = month_instructions(&mesh, &enrolled[..1], next)
        .await
        .into_values()
        .collect();
    assert_eq!(
        paid,
        [(a.2["head"].to_string(), "dibao_monthly".to_owned(), three)]
    );
    mesh.teardown().await.unwrap();
}

/// 动态调整 of a month already instructed: next month has been run when a baby is born (the
/// household is owed more from next month: a top-up of the difference, once), then the child
/// moves out (owed less again: the top-up is recovered). What next month pays less what is
/// recovered of it is always what the household is owed for it as it now is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_already_instructed_is_topped_up_after_a_birth_and_recovered_after_a_member_leaves()
{
    let (hs, fixtures) = households(1);
    let mesh = TestMesh::start(Options {
        fixtures,
        payment: vec![("payment.run.months_ahead".into(), "2".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let enrolled = enrol(&mesh, &hs).await;
    let a = &enrolled[0];
    let today = mesh_tests::business_date();
    let next = this_month().next();
    let p = zhengzhou(&PolicyBook::builtin(), next);
    let (standard, addon) = (p.dibao_standard.urban.0, p.classified_addon.0);
    let three = demo_dibao(&p, 3, 2);
    let four = (standard - 15000) * 4 + 3 * addon;
    mesh.run_month(next, WITHIN).await;
    let head = a.2["head"].to_string();
    let instructed = |m: Month| instructed_by(&mesh, &a.0, m, "reference");
    assert_eq!(
        instructed(next).await,
        BTreeSet::from([(String::new(), head.clone(), three)])
    );

    let path = format!("/v1/households/{}/members", a.0);
    let baby = mesh_tests::id_number(&format!("410102{}071", today.format("%Y%m%d")));
    let (status, born) = mesh
        .post(
            "monitoring",
            &path,
            &json!({"kind": "birth", "occurred_on": today,
                    "member": {"name": "Zhang Xiaohong", "id_number": baby, "relation": "child"}}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{born}");
    assert_eq!(born["from_month"], json!(next.to_string()));
    let r = &born["redetermination"];
    assert_eq!(r["after"]["monthly_amount_fen"], json!(four), "{r:#}");
    let top_up = (
        format!("topped-up:{}", r["redetermination_id"].as_str().unwrap()),
        head.clone(),
        four - three,
    );
    let want = BTreeSet::from([(String::new(), head.clone(), three), top_up.clone()]);
    assert!(
        eventually(WITHIN, || async { instructed(next).await == want }).await,
        "{:?}",
        instructed(next).await
    );
    // The top-up went out like any instruction, on the household's chain.
    let created = messages(
        &mesh,
        "PAYMENT",
        contract::channels::PAYMENT_INSTRUCTION_CREATED.subject,
    )
    .await;
    let topped: Vec<&Value> = created
        .iter()
        .map(|(_, e)| e)
        .filter(|e| e["data"]["reference"] == json!(top_up.0))
        .collect();
    assert_eq!(topped.len(), 1, "{created:#?}");
    assert_eq!(topped[0]["chain_id"], json!(a.1));
    assert_eq!(topped[0]["data"]["amount_fen"], json!(four - three));
    assert_eq!(topped[0]["data"]["kind"], json!("dibao_monthly"));
    // This month (before the birth's month) is as it was.
    let this: Vec<i64> = instructed(this_month())
        .await
        .into_iter()
        .map(|i| i.2)
        .collect();
    assert_eq!(
        this,
        [demo_dibao(
            &zhengzhou(&PolicyBook::builtin(), this_month()),
            3,
            2
        )]
    );

    let (status, left) = mesh
        .post(
            "monitoring",
            &path,
            &json!({"kind": "member_left", "occurred_on": today, "member_id": a.2["child"]}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{left}");
    let now_owed = left["redetermination"]["after"]["monthly_amount_fen"]
        .as_i64()
        .unwrap();
    assert_eq!(now_owed, three, "{left:#}");
    let recovered = || async {
        let cases = mesh.get("payment", "/v1/recoveries").await.unwrap().1;
        cases
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["month"] == json!(next.to_string()))
            .map(|c| c["amount_fen"].as_i64().unwrap())
            .sum::<i64>()
    };
    let paid = || async { instructed(next).await.iter().map(|i| i.2).sum::<i64>() };
    assert!(
        eventually(WITHIN, || async {
            recovered().await > 0 && paid().await - recovered().await == three
        })
        .await,
        "paid {} recovered {}",
        paid().await,
        recovered().await
    );
    mesh.settle(WITHIN).await.unwrap();
    assert_eq!(paid().await - recovered().await, three);
    // Running the month again changes nothing.
    mesh.run_month(next, WITHIN).await;
    mesh.settle(WITHIN).await.unwrap();
    assert_eq!(paid().await - recovered().await, three);
    mesh.teardown().await.unwrap();
}

/// 价格临时补贴 (001: "落实好社会救助保障标准与物价上涨挂钩的联动机制,确保及时足额向困难群众
/// 发放价格临时补贴"): the city supervisor records the consumer-price rise before the month's
/// run; the run pays each dibao household of the city the subsidy per member with its benefit
/// when the rise reaches the set's trigger, and nothing for a month below it. Payment's sets
/// here are the built-in ones with Zhengzhou's subsidy switched on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_price_rise_pays_the_temporary_subsidy_with_the_months_benefit() {
    let builtin = policy::params::BUILTIN;
    let start = builtin.find("version = \"zz-2024-01\"").unwrap();
    let end = builtin[start..]
        .find("[[set]]")
        .map_or(builtin.len(), |e| start + e);
    let on = "price_subsidy = { enabled = true";
    let zz = builtin[start..end].replacen("price_subsidy = { enabled = false", on, 1);
    assert!(zz.contains(on), "Zhengzhou's set names the subsidy");
    let text = format!("{}{zz}{}", &builtin[..start], &builtin[end..]);
    let book = PolicyBook::from_toml(&text).unwrap();
    let file = std::env::temp_dir().join(format!("payment-sets-{}.toml", Uuid::new_v4()));
    std::fs::write(&file, &text).unwrap();
    let (hs, fixtures) = households(1);
    let mesh = TestMesh::start(Options {
        fixtures,
        payment: vec![
            (
                "payment.policy_file".into(),
                file.to_string_lossy().into_owned(),
            ),
            ("payment.run.months_ahead".into(), "2".into()),
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    let enrolled = enrol(&mesh, &hs).await;
    let a = &enrolled[0];
    let now = this_month();
    let (m1, m2) = (now.next(), now.next().next());
    let p = zhengzhou(&book, m1);
    let s = &p.other_support.price_subsidy;
    assert!(s.enabled && s.tiers.contains(&policy::Tier::Dibao));
    let rise = |area: &str, month: Month, permille: i64| {
        json!({"area_code": area, "month": month.to_string(), "cpi_month": now.to_string(),
               "cpi_rise_permille": permille, "source": "郑州市统计局 居民消费价格指数"})
    };
    let trigger = s.trigger_cpi_rise_permille;

    let (status, e) = mesh
        .post(
            "payment",
            "/v1/price-rises",
            &json!({"area_code": "41x1", "month": m1.to_string(), "cpi_month": m1.to_string(),
                    "cpi_rise_permille": 5000, "source": " "}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{e}");
    let fields: Vec<String> = mesh_tests::error_fields(&e)
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(
        fields,
        ["area_code", "cpi_month", "cpi_rise_permille", "source"],
        "{e}"
    );
    assert!(!e.to_string().contains("41x1"), "not echoed: {e}");
    // Shenzhen is not the Zhengzhou supervisor's to record.
    let (status, e) = mesh
        .post("payment", "/v1/price-rises", &rise("4403", m1, trigger))
        .await
        .unwrap();
    assert_eq!(status, 403, "{e}");

    let (status, recorded) = mesh
        .post("payment", "/v1/price-rises", &rise("4101", m1, trigger))
        .await
        .unwrap();
    assert_eq!(status, 201, "{recorded}");
    assert_eq!(recorded["recorded_by"], json!("sun.li"));
    assert_eq!(recorded["recorded_by_name"], json!("孙丽"));
    let (status, _) = mesh
        .post("payment", "/v1/price-rises", &rise("4101", m1, trigger))
        .await
        .unwrap();
    assert_eq!(status, 200, "the same rise again");
    let (status, e) = mesh
        .post("payment", "/v1/price-rises", &rise("4101", m1, trigger + 5))
        .await
        .unwrap();
    assert_eq!(status, 409, "a different rise for the month: {e}");
    let (status, _) = mesh
        .post("payment", "/v1/price-rises", &rise("4101", m2, trigger - 1))
        .await
        .unwrap();
    assert_eq!(status, 201);

    mesh.run_month(m1, WITHIN).await;
    mesh.run_month(m2, WITHIN).await;
    let kinds = |m: Month| instructed_by(&mesh, &a.0, m, "kind");
    let head = a.2["head"].to_string();
    assert_eq!(
        kinds(m1).await,
        BTreeSet::from([
            (
                "dibao_monthly".to_owned(),
                head.clone(),
                demo_dibao(&p, 3, 2)
            ),
            (
                "price_subsidy".to_owned(),
                head.clone(),
                s.monthly_per_person.0 * 3
            ),
        ])
    );
    let p2 = zhengzhou(&book, m2);
    assert_eq!(
        kinds(m2).await,
        BTreeSet::from([(
            "dibao_monthly".to_owned(),
            head.clone(),
            demo_dibao(&p2, 3, 2)
        )]),
        "below the trigger: no subsidy"
    );
    assert!(
        kinds(now)
            .await
            .iter()
            .all(|(kind, _, _)| kind == "dibao_monthly"),
        "no rise recorded for this month"
    );
    // The month's run has begun: a rise for it now would pay some households and not others.
    let (status, e) = mesh
        .post("payment", "/v1/price-rises", &rise("410102", m1, trigger))
        .await
        .unwrap();
    assert_eq!(status, 409, "{e}");
    let (status, listed) = mesh.get("payment", "/v1/price-rises").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed:#}");
    assert_eq!(listed[0]["month"], json!(m2.to_string()));
    mesh.teardown().await.unwrap();
    let _ = std::fs::remove_file(file);
}
