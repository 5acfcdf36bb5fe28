//! The department answer protocol, end to end: one final answer per referral, changed only by a
//! correction or a revocation naming it; anything else refused and told to the department on
//! `referral.<dept>.refused`; the chain records only what the mesh applied, once per fact, and
//! no chain for a household the mesh does not know.

use chrono::Utc;
use futures::StreamExt;
use mesh_tests::{another_household, eventually, silent_fixtures, Options, TestMesh, Who};
use policy::Department;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

/// Every message of `stream` in this mesh, in order.
async fn stream_messages(mesh: &TestMesh, stream: mesh::Stream) -> Vec<(String, Value)> {
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let mut s = mesh.js.get_stream(stream.name(&subjects)).await.unwrap();
    let last = s.info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        if let Ok(m) = s.direct_get(seq).await {
            let bare = subjects.strip(m.subject.as_str()).unwrap_or("").to_owned();
            if let Ok(v) = serde_json::from_slice::<Value>(&m.payload) {
                out.push((bare, v));
            }
        }
    }
    out
}

/// The push of `household` to `dept`, once monitoring sent it.
async fn push_for(mesh: &TestMesh, dept: &str, household: &str) -> Value {
    let subject = format!("referral.{dept}.push");
    let deadline = std::time::Instant::now() + WITHIN;
    loop {
        let found = stream_messages(mesh, mesh::Stream::Referral)
            .await
            .into_iter()
            .find(|(s, v)| *s == subject && v["household_id"] == json!(household));
        if let Some((_, v)) = found {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {dept} push for {household}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A feedback envelope answering `push`, with `data` over the push's ids.
fn feedback(push: &Value, id: &str, data: Value) -> Value {
    let mut d = json!({
        "referral_id": push["data"]["referral_id"],
        "department": push["data"]["department"],
        "member_id": push["data"]["member_id"],
        "decided_by": "officer:Zhao Lei",
    });
    for (k, v) in data.as_object().unwrap() {
        d[k] = v.clone();
    }
    json!({
        "specversion": "1.0",
        "id": id,
        "source": "/medical-insurance-bureau/assistance-system",
        "type": "referral.feedback",
        "time": Utc::now(),
        "subject": push["data"]["referral_id"],
        "datacontenttype": "application/json",
        "household_id": push["household_id"],
        "chain_id": push["chain_id"],
        "causation_id": push["id"],
        "schema_version": 1,
        "data": d,
    })
}

async fn send(mesh: &TestMesh, subject: &str, e: &Value) {
    let id = e["id"].as_str().unwrap();
    let duplicate = mesh
        .publish_raw(subject, id, serde_json::to_vec(e).unwrap())
        .await
        .unwrap();
    assert!(!duplicate, "{id} was published before");
}

async fn referral_status(mesh: &TestMesh, referral: &Value) -> String {
    let (_, r) = mesh
        .get(
            "monitoring",
            &format!("/v1/referrals/{}", referral.as_str().unwrap()),
        )
        .await
        .unwrap();
    r["status"].as_str().unwrap_or_default().to_owned()
}

async fn becomes(mesh: &TestMesh, referral: &Value, status: &str) -> bool {
    eventually(WITHIN, || async {
        referral_status(mesh, referral).await == status
    })
    .await
}

async fn refused_list(mesh: &TestMesh, query: &str) -> Vec<Value> {
    let (status, v) = mesh
        .get("monitoring", &format!("/v1/refused-feedback?{query}"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    v.as_array().unwrap().clone()
}

async fn chain(mesh: &TestMesh, household: &str) -> (u16, Value) {
    mesh.get("monitoring", &format!("/v1/households/{household}/chain"))
        .await
        .unwrap()
}

fn feedback_steps(chain: &Value) -> Vec<Value> {
    chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["type"] == json!("referral.feedback"))
        .cloned()
        .collect()
}

/// The next refusal told on `sub`.
async fn told(sub: &mut async_nats::Subscriber) -> Value {
    let m = tokio::time::timeout(WITHIN, sub.next())
        .await
        .expect("a refusal within the time")
        .expect("the subscription is open");
    let v: Value = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(v["type"], json!("referral.refused"), "{v}");
    contract::channels::check_envelope(&v).unwrap();
    v["data"].clone()
}

/// Submits a household whose referrals nobody answers (the test is the department).
async fn enrolled(mesh: &TestMesh, h: &Value) -> String {
    let (status, accepted) = mesh.submit(h).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    accepted["household_id"].as_str().unwrap().to_owned()
}

fn premium_subsidy() -> Value {
    json!({"kind": "medical_premium_subsidy", "amount_fen": 38000, "from": "2026-11-16", "to": "2027-11-15"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_has_one_final_answer_changed_only_by_a_correction_that_names_it() {
    let h = another_household();
    let mesh = TestMesh::start(Options {
        departments: vec![],
        fixtures: silent_fixtures(&h),
        ..Default::default()
    })
    .await
    .unwrap();
    let household = enrolled(&mesh, &h).await;
    let push = push_for(&mesh, "medical", &household).await;
    let referral = push["data"]["referral_id"].clone();
    let subject = "referral.medical.feedback";
    let mut refusals = mesh
        .nats
        .subscribe(format!("{}.referral.medical.refused", mesh.prefix))
        .await
        .unwrap();

    send(
        &mesh,
        subject,
        &feedback(
            &push,
            "med-answer-1",
            json!({"outcome": "granted", "grant": premium_subsidy()}),
        ),
    )
    .await;
    assert!(becomes(&mesh, &referral, "granted").await);

    // A second final answer under a new id does not overwrite the first: it is refused, and
    // the department is told why, with the answer in force to name in a correction.
    send(
        &mesh,
        subject,
        &feedback(
            &push,
            "med-answer-2",
            json!({"outcome": "rejected", "reason": "changed our mind"}),
        ),
    )
    .await;
    mesh.settle(WITHIN).await.unwrap();
    assert_eq!(referral_status(&mesh, &referral).await, "granted");
    let r = told(&mut refusals).await;
    assert_eq!(r["event_id"], json!("med-answer-2"), "{r}");
    assert_eq!(r["referral_id"], referral);
    assert_eq!(r["code"], json!("already_answered"));
    assert_eq!(r["answer_in_force"], json!("med-answer-1"));

    // The same answer again under another id is the same answer: nothing recorded, nothing told.
    send(
        &mesh,
        subject,
        &feedback(
            &push,
            "med-answer-1-again",
            json!({"outcome": "granted", "grant": premium_subsidy()}),
        ),
    )
    .await;
    // A correction naming an answer that is not in force (the refused one) is refused.
    let correction = |id: &str, replaces: &str| {
        feedback(
            &push,
            id,
            json!({"outcome": "corrected", "replaces": replaces, "corrected_to": "rejected",
            "reason": "the person already has the subsidy from another referral"}),
        )
    };
    send(
        &mesh,
        subject,
        &correction("med-correction-0", "med-answer-2"),
    )
    .await;
    let r = told(&mut refusals).await;
    assert_eq!(
        (r["event_id"].clone(), r["code"].clone()),
        (json!("med-correction-0"), json!("not_in_force")),
        "the duplicate was not refused, the correction naming a refused answer was: {r}"
    );
    // The correction naming the answer in force replaces it.
    send(
        &mesh,
        subject,
        &correction("med-correction-1", "med-answer-1"),
    )
    .await;
    assert!(becomes(&mesh, &referral, "rejected").await);
    // A revocation of the answer it replaced is refused; of the correction, applied.
    let revoke = |id: &str, replaces: &str| {
        feedback(
            &push,
            id,
            json!({"outcome": "revoked", "replaces": replaces, "reason": "sent for the wrong person"}),
        )
    };
    send(&mesh, subject, &revoke("med-revoke-0", "med-answer-1")).await;
    let r = told(&mut refusals).await;
    assert_eq!(r["code"], json!("not_in_force"), "{r}");
    assert_eq!(r["answer_in_force"], json!("med-correction-1"));
    send(&mesh, subject, &revoke("med-revoke-1", "med-correction-1")).await;
    assert!(becomes(&mesh, &referral, "revoked").await);
    mesh.settle(WITHIN).await.unwrap();

    // The chain shows what was applied, in order; the referral waits for an answer again.
    let (_, c) = chain(&mesh, &household).await;
    let applied: Vec<(String, String)> = feedback_steps(&c)
        .iter()
        .map(|s| {
            (
                s["event_id"].as_str().unwrap().to_owned(),
                s["summary"]["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("med-answer-1", "granted"),
        ("med-correction-1", "corrected"),
        ("med-revoke-1", "revoked"),
    ]
    .map(|(a, b)| (a.to_owned(), b.to_owned()));
    assert_eq!(applied, expected);
    assert_eq!(
        feedback_steps(&c)[0]["summary"]["grant"]["period"],
        json!("once"),
        "the grant as applied names what its amount counts"
    );
    assert!(c["flags"]["awaiting_feedback"]
        .as_array()
        .unwrap()
        .contains(&referral));
    // Operators see every refusal, newest first; no dead letter for any of them.
    let refused: Vec<(String, String)> = refused_list(
        &mesh,
        &format!("referral_id={}", referral.as_str().unwrap()),
    )
    .await
    .iter()
    .map(|r| {
        (
            r["event_id"].as_str().unwrap().to_owned(),
            r["code"].as_str().unwrap().to_owned(),
        )
    })
    .collect();
    let expected = [
        ("med-revoke-0", "not_in_force"),
        ("med-correction-0", "not_in_force"),
        ("med-answer-2", "already_answered"),
    ]
    .map(|(a, b)| (a.to_owned(), b.to_owned()));
    assert_eq!(refused, expected);
    assert!(mesh.dead_letters("monitoring").await.unwrap().is_empty());

    // A department's officer and system read their own department's referrals and refusals
    // only; another department's referral is not found, as one that does not exist.
    let education = push_for(&mesh, "education", &household).await;
    let education = education["data"]["referral_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let medical = referral.as_str().unwrap().to_owned();
    let he_ping = Who::person("he.ping");
    let medical_system = Who::System("medical".into());
    for who in [&he_ping, &medical_system] {
        let (status, r) = mesh
            .get_as(Some(who), "monitoring", &format!("/v1/referrals/{medical}"))
            .await
            .unwrap();
        assert_eq!(
            (status, &r["department"]),
            (200, &json!("medical")),
            "{who:?}: {r}"
        );
        let (status, r) = mesh
            .get_as(
                Some(who),
                "monitoring",
                &format!("/v1/referrals/{education}"),
            )
            .await
            .unwrap();
        assert_eq!(status, 404, "{who:?}: {r}");
        let (status, list) = mesh
            .get_as(Some(who), "monitoring", "/v1/refused-feedback")
            .await
            .unwrap();
        assert_eq!(status, 200, "{list}");
        assert_eq!(list.as_array().unwrap().len(), 3, "{who:?}: {list}");
        let (_, other) = mesh
            .get_as(
                Some(who),
                "monitoring",
                "/v1/refused-feedback?department=education",
            )
            .await
            .unwrap();
        assert_eq!(other, json!([]), "{who:?}");
    }
    let (status, list) = mesh
        .get_as(
            Some(&Who::person("wu.hao")),
            "monitoring",
            "/v1/refused-feedback",
        )
        .await
        .unwrap();
    assert_eq!(
        (status, list),
        (200, json!([])),
        "education's officer sees none of medical's"
    );
    // A township officer reads referrals of the township only, and no refusals at all.
    let li = Who::person("li.qiang");
    let (status, _) = mesh
        .get_as(Some(&li), "monitoring", &format!("/v1/referrals/{medical}"))
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, _) = mesh
        .get_as(Some(&li), "monitoring", "/v1/refused-feedback")
        .await
        .unwrap();
    assert_eq!(status, 403);
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feedback_without_nats_msg_id_is_refused_not_applied() {
    let h = another_household();
    let mesh = TestMesh::start(Options {
        departments: vec![],
        fixtures: silent_fixtures(&h),
        ..Default::default()
    })
    .await
    .unwrap();
    let household = enrolled(&mesh, &h).await;
    let push = push_for(&mesh, "medical", &household).await;
    let referral = push["data"]["referral_id"].clone();
    let mut refusals = mesh
        .nats
        .subscribe(format!("{}.referral.medical.refused", mesh.prefix))
        .await
        .unwrap();
    // Core NATS, no headers: the stream keeps it, without Nats-Msg-Id.
    let e = feedback(
        &push,
        "med-no-msg-id",
        json!({"outcome": "granted", "grant": premium_subsidy()}),
    );
    let subject = mesh::Subjects::new(&mesh.prefix).of("referral.medical.feedback");
    mesh.nats
        .publish(subject, serde_json::to_vec(&e).unwrap().into())
        .await
        .unwrap();
    mesh.nats.flush().await.unwrap();
    mesh.settle(WITHIN).await.unwrap();
    assert_eq!(referral_status(&mesh, &referral).await, "pushed");
    let (_, c) = chain(&mesh, &household).await;
    assert!(feedback_steps(&c).is_empty(), "{c:#}");
    let r = told(&mut refusals).await;
    assert_eq!(r["code"], json!("missing_msg_id"), "{r}");
    assert_eq!(r["event_id"], json!("med-no-msg-id"));
    // The same answer with its header is applied.
    send(&mesh, "referral.medical.feedback", &e).await;
    assert!(becomes(&mesh, &referral, "granted").await);
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_records_only_what_the_mesh_applied_and_opens_no_chain_for_an_unknown_household()
{
    let h = another_household();
    let mesh = TestMesh::start(Options {
        departments: vec![],
        fixtures: silent_fixtures(&h),
        ..Default::default()
    })
    .await
    .unwrap();
    let household = enrolled(&mesh, &h).await;
    let push = push_for(&mesh, "medical", &household).await;
    assert!(
        eventually(WITHIN, || async {
            let (_, c) = chain(&mesh, &household).await;
            c["steps"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|s| s["type"] == json!("monitor.household.enrolled"))
            })
        })
        .await
    );
    mesh.settle(WITHIN).await.unwrap();
    let (_, before) = chain(&mesh, &household).await;
    let made_up = uuid::Uuid::new_v4().to_string();

    // Feedback monitoring cannot apply: an outcome it does not know, a fractional amount, and
    // an answer for a household it does not know.
    let mut approved = feedback(&push, "bad-outcome", json!({"outcome": "approved"}));
    approved["data"]["outcome"] = json!("approved");
    send(&mesh, "referral.medical.feedback", &approved).await;
    let mut fractional = feedback(
        &push,
        "bad-amount",
        json!({"outcome": "granted", "grant": premium_subsidy()}),
    );
    fractional["data"]["grant"]["amount_fen"] = json!(500.5);
    send(&mesh, "referral.medical.feedback", &fractional).await;
    let mut stranger = feedback(
        &push,
        "made-up-household",
        json!({"outcome": "granted", "grant": premium_subsidy()}),
    );
    stranger["household_id"] = json!(made_up);
    stranger["data"]["referral_id"] = json!(uuid::Uuid::new_v4());
    send(&mesh, "referral.medical.feedback", &stranger).await;
    // A push monitoring never made (a housing bureau's), for the household and for a made-up one.
    let mut forged = push.clone();
    forged["id"] = json!("housing-bureau-push-1");
    forged["source"] = json!("/housing-bureau/allocation-system");
    forged["data"]["referral_id"] = json!(uuid::Uuid::new_v4());
    send(&mesh, "referral.medical.push", &forged).await;
    let mut phantom = forged.clone();
    phantom["id"] = json!("housing-bureau-push-2");
    phantom["household_id"] = json!(made_up);
    send(&mesh, "referral.medical.push", &phantom).await;
    // Types no channel carries: on a chain subject, and on a subject of no channel.
    let enrolled_step = stream_messages(&mesh, mesh::Stream::Monitor)
        .await
        .into_iter()
        .find(|(s, v)| s == "monitor.household.enrolled" && v["household_id"] == json!(household))
        .unwrap()
        .1;
    let mut unknown = enrolled_step.clone();
    unknown["id"] = json!("unknown-type-1");
    unknown["type"] = json!("monitor.household.audited");
    send(&mesh, "monitor.household.enrolled", &unknown).await;
    unknown["id"] = json!("unknown-type-2");
    send(&mesh, "monitor.household.audited", &unknown).await;
    // A well-formed event of a household the mesh does not know.
    let mut stray = enrolled_step.clone();
    stray["id"] = json!("stray-household-1");
    stray["household_id"] = json!(made_up);
    send(&mesh, "monitor.household.enrolled", &stray).await;
    mesh.settle(WITHIN).await.unwrap();

    let (_, after) = chain(&mesh, &household).await;
    let ids = |c: &Value| -> Vec<String> {
        c["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["event_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&after),
        ids(&before),
        "nothing new in the household's chain"
    );
    let (status, _) = chain(&mesh, &made_up).await;
    assert_eq!(
        status, 404,
        "no chain for a household the mesh does not know"
    );
    // What was refused is for operators to see, with the reason.
    let refused: BTreeMap<String, String> = refused_list(&mesh, "department=medical")
        .await
        .iter()
        .map(|r| {
            (
                r["event_id"].as_str().unwrap().to_owned(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        ("bad-outcome", "invalid"),
        ("bad-amount", "invalid"),
        ("made-up-household", "unknown_referral"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(refused, expected);
    assert_eq!(
        referral_status(&mesh, &push["data"]["referral_id"]).await,
        "pushed"
    );
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_sent_again_under_a_new_id_adds_no_step_and_no_second_answer() {
    let h = another_household();
    let mesh = TestMesh::start(Options {
        departments: vec![Department::Medical, Department::Education],
        fixtures: silent_fixtures(&h),
        ..Default::default()
    })
    .await
    .unwrap();
    let household = enrolled(&mesh, &h).await;
    let before = mesh.complete_chain(&household, WITHIN).await.unwrap();
    mesh.settle(WITHIN).await.unwrap();
    let count = |c: &Value| -> BTreeMap<String, usize> {
        let mut n = BTreeMap::new();
        for s in c["steps"].as_array().unwrap() {
            *n.entry(s["type"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        n
    };
    assert!(count(&before)["referral.feedback"] >= 2, "{before:#}");

    // Every event of the household, sent again as a new event: same body, new id.
    let mut resent = BTreeSet::new();
    for stream in [
        mesh::Stream::Intake,
        mesh::Stream::Verify,
        mesh::Stream::Eligibility,
        mesh::Stream::Monitor,
        mesh::Stream::Referral,
        mesh::Stream::Payment,
    ] {
        for (subject, mut e) in stream_messages(&mesh, stream).await {
            if e["household_id"] != json!(household) {
                continue;
            }
            let id = format!("resent-{}", uuid::Uuid::new_v4());
            e["id"] = json!(id);
            send(&mesh, &subject, &e).await;
            resent.insert(id);
        }
    }
    assert!(resent.len() >= 9, "{resent:?}");
    mesh.settle(Duration::from_secs(60)).await.unwrap();

    let after = chain(&mesh, &household).await.1;
    assert_eq!(count(&after), count(&before), "{after:#}");
    // No department answered a second time.
    let answers: Vec<Value> = stream_messages(&mesh, mesh::Stream::Referral)
        .await
        .into_iter()
        .filter(|(s, e)| {
            s.ends_with(".feedback")
                && e["household_id"] == json!(household)
                && !resent.contains(e["id"].as_str().unwrap_or_default())
        })
        .map(|(_, e)| e)
        .collect();
    assert_eq!(
        answers.len(),
        count(&before)["referral.feedback"],
        "{answers:#?}"
    );
    mesh.teardown().await.unwrap();
}

/// An envelope id is one message: another answer under an id already applied (from this
/// department or another) is refused and the department told, not taken for the first and
/// dropped unseen; the same answer again under its id changes nothing and is not refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_answer_under_an_id_already_applied_is_refused_not_dropped() {
    let h = another_household();
    let mesh = TestMesh::start(Options {
        departments: vec![],
        fixtures: silent_fixtures(&h),
        ..Default::default()
    })
    .await
    .unwrap();
    let household = enrolled(&mesh, &h).await;
    let push = push_for(&mesh, "medical", &household).await;
    let referral = push["data"]["referral_id"].clone();
    let subject = "referral.medical.feedback";
    let mut refusals = mesh
        .nats
        .subscribe(format!("{}.referral.medical.refused", mesh.prefix))
        .await
        .unwrap();
    let granted = feedback(
        &push,
        "med-1",
        json!({"outcome": "granted", "grant": premium_subsidy()}),
    );
    send(&mesh, subject, &granted).await;
    assert!(becomes(&mesh, &referral, "granted").await);
    // The same message again, under another Nats-Msg-Id (as after JetStream's window): nothing.
    mesh.publish_raw(
        subject,
        "med-1-sent-again",
        serde_json::to_vec(&granted).unwrap(),
    )
    .await
    .unwrap();
    // Another answer under the envelope id already applied.
    let rejected = feedback(
        &push,
        "med-1",
        json!({"outcome": "rejected", "reason": "another answer, same id"}),
    );
    mesh.publish_raw(
        subject,
        "med-1-other",
        serde_json::to_vec(&rejected).unwrap(),
    )
    .await
    .unwrap();
    let r = told(&mut refusals).await;
    assert_eq!(r["event_id"], json!("med-1"), "{r}");
    assert_eq!(r["code"], json!("invalid"), "{r}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("already the id of another answer"),
        "{r}"
    );
    mesh.settle(WITHIN).await.unwrap();
    assert_eq!(referral_status(&mesh, &referral).await, "granted");
    let list = refused_list(&mesh, "department=medical").await;
    assert_eq!(list.len(), 1, "only the other answer is refused: {list:#?}");
    assert_eq!(list[0]["msg_id"], json!("med-1-other"));
    let (_, c) = chain(&mesh, &household).await;
    assert_eq!(feedback_steps(&c).len(), 1, "{c:#}");
    mesh.teardown().await.unwrap();
}
