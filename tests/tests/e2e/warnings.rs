//! Warnings end to end, against real NATS and PostgreSQL: referrals left unanswered (the mesh
//! starts without departments) raise warnings when the sweep's "today" passes their feedback
//! deadline; a township officer verifies each on site, then disposes of it in one of the four
//! ways, each with its effect; one left unverified escalates to the county; the chain flags the
//! duplicate assistance a department system granted against a repeated push, and a later push
//! carries the person's prior assistance; the supervision reports count all of it, as JSON and
//! CSV. Who acts is the token's (王芳, the township officer of 410102001, and 赵敏 of the county);
//! an officer of another township sees none of it; each operation refuses the roles it is not
//! for; every verification, disposition and read is in the audit trail.

use chrono::{Datelike, NaiveDate, Utc};
use futures::StreamExt;
use mesh_tests::{another_household, eventually, silent_fixtures, Options, TestMesh, Who};
use policy::{PolicyBook, RegionCode};
use serde_json::{json, Value};
use simulator::Fixtures;
use std::collections::HashMap;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

fn date(v: &Value) -> NaiveDate {
    v.as_str().unwrap().parse().unwrap()
}

fn quarter_of(d: NaiveDate) -> String {
    format!("{}-Q{}", d.year(), (d.month() - 1) / 3 + 1)
}

/// `points × part / whole` rounded half up; full points when nothing fell due (README).
fn share(points: i64, part: i64, whole: i64) -> i64 {
    if whole == 0 {
        points
    } else {
        (2 * points * part + whole) / (2 * whole)
    }
}

/// A household's chain once monitoring has pushed its two referrals.
async fn referred(mesh: &TestMesh, household: &str) -> Value {
    let path = format!("/v1/households/{household}/chain");
    let ok = eventually(WITHIN, || async {
        matches!(mesh.get("monitoring", &path).await,
            Ok((200, v)) if v["referrals"].as_array().map(Vec::len) == Some(2))
    })
    .await;
    assert!(ok, "the household {household} was enrolled and referred");
    mesh.get("monitoring", &path).await.unwrap().1
}

/// The medical department as a system of its own that does not look at `prior_assistance`:
/// it takes pushes from the subject and answers on its feedback subject, as a foreign client
/// would. (Our own relief service refuses such a duplicate; `relief_rules.rs` tests that.)
struct ForeignMedical {
    pushes: async_nats::Subscriber,
    seen: HashMap<String, Value>,
}

impl ForeignMedical {
    async fn subscribe(mesh: &TestMesh) -> Self {
        let pushes = mesh
            .nats
            .subscribe(format!("{}.referral.medical.push", mesh.prefix))
            .await
            .unwrap();
        Self {
            pushes,
            seen: HashMap::new(),
        }
    }

    async fn push(&mut self, referral: &str) -> Value {
        tokio::time::timeout(WITHIN, async {
            loop {
                if let Some(p) = self.seen.get(referral) {
                    return p.clone();
                }
                let m = self.pushes.next().await.unwrap();
                let p: Value = serde_json::from_slice(&m.payload).unwrap();
                let id = p["data"]["referral_id"].as_str().unwrap().to_owned();
                self.seen.insert(id, p);
            }
        })
        .await
        .expect("the referral was pushed")
    }

    /// Grants this year's premium subsidy, or refuses it as already granted.
    async fn answer(&mut self, mesh: &TestMesh, referral: &str, grant: bool) {
        let push = self.push(referral).await;
        let year = mesh.today().year();
        let mut data = json!({
            "referral_id": referral,
            "department": "medical",
            "member_id": push["data"]["member_id"],
            "decided_by": "officer:medical-insurance-clerk",
        });
        if grant {
            data["outcome"] = json!("granted");
            data["grant"] = json!({
                "kind": "medical_premium_subsidy",
                "amount_fen": 38000,
                "from": format!("{year}-01-01"),
                "to": format!("{year}-12-31"),
            });
        } else {
            data["outcome"] = json!("rejected");
            data["reason"] = json!("premium subsidy already granted this year");
        }
        let id = uuid::Uuid::new_v4().to_string();
        let feedback = json!({
            "specversion": "1.0",
            "id": id,
            "source": "/medical-insurance-bureau",
            "type": "referral.feedback",
            "time": Utc::now(),
            "subject": referral,
            "datacontenttype": "application/json",
            "household_id": push["household_id"],
            "chain_id": push["chain_id"],
            "causation_id": push["id"],
            "schema_version": 1,
            "data": data,
        });
        let duplicate = mesh
            .publish_raw(
                "referral.medical.feedback",
                &id,
                serde_json::to_vec(&feedback).unwrap(),
            )
            .await
            .unwrap();
        assert!(!duplicate);
    }
}

async fn chain(mesh: &TestMesh, household: &str) -> Value {
    mesh.get("monitoring", &format!("/v1/households/{household}/chain"))
        .await
        .unwrap()
        .1
}

async fn referral_status(mesh: &TestMesh, referral: &str) -> String {
    mesh.get("monitoring", &format!("/v1/referrals/{referral}"))
        .await
        .map(|(_, v)| v["status"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_are_verified_disposed_of_escalated_and_reported() {
    let households: Vec<Value> = (0..3).map(|_| another_household()).collect();
    let mut fixtures = Fixtures::new();
    for h in &households {
        fixtures.extend(silent_fixtures(h));
    }
    // No department runs: every referral stays unanswered.
    let mesh = TestMesh::start(Options {
        departments: vec![],
        fixtures,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut department = ForeignMedical::subscribe(&mesh).await;
    let mut ids = Vec::new();
    for h in &households {
        let (status, accepted) = mesh.submit(h).await.unwrap();
        assert_eq!(status, 202, "{accepted}");
        ids.push(accepted["household_id"].as_str().unwrap().to_owned());
    }
    // Per household: its medical referral (the ill spouse) and its education referral (the child).
    let mut medical = Vec::new();
    let mut education = Vec::new();
    let mut feedback_due = None;
    for h in &ids {
        let c = referred(&mesh, h).await;
        for r in c["referrals"].as_array().unwrap() {
            let id = r["referral_id"].as_str().unwrap().to_owned();
            match r["department"].as_str().unwrap() {
                "medical" => medical.push(id),
                "education" => education.push(id),
                other => panic!("unexpected department {other}"),
            }
            feedback_due = Some(date(&r["feedback_due"]));
        }
    }
    assert_eq!((medical.len(), education.len()), (3, 3));
    let feedback_due = feedback_due.unwrap();

    // On the deadline itself nothing is overdue; the day after, each referral raises one warning,
    // once however often the sweep runs.
    let (status, swept) = mesh
        .post("monitoring", "/v1/sweeps", &json!({"as_of": feedback_due}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{swept}");
    assert_eq!(swept["referral_overdue_raised"], json!(0), "{swept}");
    let as_of = feedback_due.succ_opt().unwrap();
    let (_, swept) = mesh
        .post("monitoring", "/v1/sweeps", &json!({"as_of": as_of}))
        .await
        .unwrap();
    assert_eq!(swept["referral_overdue_raised"], json!(6), "{swept}");
    assert_eq!(swept["escalated"], json!(0), "{swept}");
    let (_, again) = mesh
        .post("monitoring", "/v1/sweeps", &json!({"as_of": as_of}))
        .await
        .unwrap();
    assert_eq!(again["referral_overdue_raised"], json!(0), "{again}");
    let (status, bad) = mesh
        .post("monitoring", "/v1/sweeps", &json!({"as_of": "someday"}))
        .await
        .unwrap();
    assert_eq!(status, 422, "{bad}");

    let params = PolicyBook::builtin()
        .in_force(&RegionCode::parse("410102").unwrap(), as_of)
        .unwrap()
        .clone();
    let verify_due = as_of + chrono::Days::new(u64::from(params.warning_verify_days));
    let (status, list) = mesh
        .get("monitoring", "/v1/warnings?township=410102&status=open")
        .await
        .unwrap();
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 6, "{list:#?}");
    let body = serde_json::to_string(&list).unwrap();
    for h in &households {
        for m in h["members"].as_array().unwrap() {
            assert!(
                !body.contains(m["id_number"].as_str().unwrap()),
                "no ID numbers"
            );
            assert!(!body.contains(m["name"].as_str().unwrap()), "no names");
        }
    }
    // The warning of each referral, by referral id.
    let warning_of = |referral: &str| -> String {
        let w = list
            .iter()
            .find(|w| w["detail"]["referral_id"] == json!(referral))
            .unwrap_or_else(|| panic!("a warning for referral {referral}"));
        assert_eq!(w["kind"], json!("referral_overdue"));
        assert_eq!(date(&w["verify_due"]), verify_due);
        assert_eq!(w["township_code"], json!("410102001"));
        w["warning_id"].as_str().unwrap().to_owned()
    };
    let w_med: Vec<String> = medical.iter().map(|r| warning_of(r)).collect();
    let w_edu: Vec<String> = education.iter().map(|r| warning_of(r)).collect();
    let (status, bad) = mesh
        .get("monitoring", "/v1/warnings?township=41x&overdue=maybe")
        .await
        .unwrap();
    assert_eq!(status, 422, "{bad}");
    let (status, _) = mesh
        .get(
            "monitoring",
            "/v1/warnings/00000000-0000-0000-0000-000000000000",
        )
        .await
        .unwrap();
    assert_eq!(status, 404);

    let verification = |w: &str| format!("/v1/warnings/{w}/verification");
    let disposition = |w: &str| format!("/v1/warnings/{w}/disposition");
    let verified = json!({"finding": "visited the home; the need is real"});
    let wang = json!({"sub": "wang.fang", "name": "王芳", "role": "township_officer"});
    let zhao = json!({"sub": "zhao.min", "name": "赵敏", "role": "county_officer"});
    let li = Who::person("li.qiang");

    // Wrong order and bad requests are refused with the reason.
    let (status, e) = mesh
        .post(
            "monitoring",
            &disposition(&w_edu[0]),
            &json!({"disposition": "apply_policy", "policy": "education_living_subsidy"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "dispose before verify: {e}");
    // The officer is the token's: a body that names one is refused, and so is one without a
    // finding.
    let (status, e) = mesh
        .post(
            "monitoring",
            &verification(&w_edu[0]),
            &json!({"officer": "township:Wang", "finding": "visited"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["fields"][0]["field"], json!("officer"), "{e}");
    let (status, e) = mesh
        .post("monitoring", &verification(&w_edu[0]), &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["fields"][0]["field"], json!("finding"), "{e}");
    // Personal data stays off the warning: a finding naming an ID number is refused.
    let id_number = households[0]["members"][1]["id_number"].as_str().unwrap();
    let (status, e) = mesh
        .post(
            "monitoring",
            &verification(&w_edu[0]),
            &json!({"finding": format!("visited {id_number}")}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["fields"][0]["field"], json!("finding"), "{e}");
    // An officer of another township (李强, 410102002) sees none of these warnings, verifies
    // none (404 as for a warning that does not exist), and sees nothing of their households.
    let (status, v) = mesh
        .get_as(Some(&li), "monitoring", "/v1/warnings?township=410102")
        .await
        .unwrap();
    assert_eq!((status, &v), (200, &json!([])), "{v}");
    let (status, v) = mesh
        .get_as(
            Some(&li),
            "monitoring",
            &format!("/v1/warnings/{}", w_med[2]),
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "{v}");
    let (status, v) = mesh
        .post_as(Some(&li), "monitoring", &verification(&w_med[2]), &verified)
        .await
        .unwrap();
    assert_eq!(status, 404, "{v}");
    assert_eq!(
        v["error"]["message"],
        json!("no warning with this id"),
        "the same answer as for a warning that does not exist"
    );
    for path in [
        format!("/v1/households/{}", ids[0]),
        format!("/v1/households/{}/chain", ids[0]),
        format!("/v1/referrals/{}", medical[0]),
    ] {
        let (status, v) = mesh.get_as(Some(&li), "monitoring", &path).await.unwrap();
        assert_eq!(status, 404, "{path}: {v}");
    }
    // Roles an operation is not for are refused before anything is read.
    let he_ping = Who::person("he.ping");
    let (status, v) = mesh
        .get_as(Some(&he_ping), "monitoring", "/v1/warnings")
        .await
        .unwrap();
    assert_eq!(status, 403, "a department officer lists no warnings: {v}");
    let (status, v) = mesh
        .post_as(
            Some(&Who::person("zhao.min")),
            "monitoring",
            &verification(&w_med[2]),
            &verified,
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "the county does not verify on site: {v}");
    let (status, v) = mesh
        .post_as(
            Some(&Who::person("wang.fang")),
            "monitoring",
            "/v1/sweeps",
            &json!({"as_of": as_of}),
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "a sweep is the platform operator's: {v}");
    let (status, v) = mesh
        .get_as(None, "monitoring", "/v1/warnings")
        .await
        .unwrap();
    assert_eq!(status, 401, "no token: {v}");

    // Every warning but the third medical one, which nobody verifies.
    for w in w_med[..2].iter().chain(&w_edu) {
        let (status, v) = mesh
            .post("monitoring", &verification(w), &verified)
            .await
            .unwrap();
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["status"], json!("verified"));
        assert_eq!(v["verified_by"], wang, "the officer of the token: {v}");
        assert!(v["verified_at"].is_string());
    }
    let (status, e) = mesh
        .post("monitoring", &verification(&w_med[0]), &verified)
        .await
        .unwrap();
    assert_eq!(status, 409, "verified twice: {e}");
    let (status, e) = mesh
        .post(
            "monitoring",
            &disposition(&w_edu[0]),
            &json!({"disposition": "ignore_it"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{e}");
    assert_eq!(
        e["error"]["fields"][0]["field"],
        json!("disposition"),
        "{e}"
    );
    let (status, e) = mesh
        .post(
            "monitoring",
            &disposition(&w_edu[0]),
            &json!({"disposed_by": "township:Wang", "disposition": "apply_policy", "policy": "education_living_subsidy"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "an officer named in the body: {e}");
    assert_eq!(
        e["error"]["fields"][0]["field"],
        json!("disposed_by"),
        "{e}"
    );

    // 1. A policy not applied → apply it; by the county's officer this time.
    let (status, v) = mesh
        .post_as(
            Some(&Who::person("zhao.min")),
            "monitoring",
            &disposition(&w_edu[0]),
            &json!({"disposition": "apply_policy", "policy": "education_living_subsidy"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], json!("disposed"));
    assert_eq!(v["disposition"], json!("apply_policy"));
    assert_eq!(v["disposed_by"], zhao, "{v}");
    assert_eq!(v["verified_by"], wang, "{v}");
    assert_eq!(
        v["disposal_detail"]["policy"],
        json!("education_living_subsidy")
    );
    let (status, e) = mesh
        .post(
            "monitoring",
            &disposition(&w_edu[0]),
            &json!({"disposition": "case_conference", "decision": "x"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "disposed twice: {e}");

    // 2. A complex case → the county's joint meeting (一事一议), proposed by one officer and
    // decided by a county approver who is not the proposer (maker-checker).
    let decision = |w: &str| format!("/v1/warnings/{w}/decision");
    let tian = Who::person("tian.yu");
    let chen = Who::person("chen.jing");
    let (status, e) = mesh
        .post(
            "monitoring",
            &disposition(&w_edu[1]),
            &json!({"disposition": "case_conference", "decision": "grant a one-off aid", "county_approver": "county:Liu"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "the approver named in the body: {e}");
    assert_eq!(e["error"]["fields"][0]["field"], json!("county_approver"));
    let (status, e) = mesh
        .post(
            "monitoring",
            &disposition(&w_edu[1]),
            &json!({"disposition": "case_conference"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["fields"][0]["field"], json!("decision"));
    // 田雨 is a county officer and a county approver of 410102: proposes, then may not decide.
    let (status, v) = mesh
        .post_as(
            Some(&tian),
            "monitoring",
            &disposition(&w_edu[1]),
            &json!({"disposition": "case_conference", "decision": "grant a one-off aid"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], json!("awaiting_approval"), "{v}");
    assert_eq!(v["disposition"], Value::Null, "{v}");
    assert_eq!(v["proposal"]["decision"], json!("grant a one-off aid"));
    assert_eq!(v["proposal"]["proposed_by"]["sub"], json!("tian.yu"), "{v}");
    let (status, e) = mesh
        .post(
            "monitoring",
            &disposition(&w_edu[1]),
            &json!({"disposition": "apply_policy", "policy": "education_living_subsidy"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "disposed while awaiting approval: {e}");
    let approve = json!({"approve": true, "reason": "joint meeting agreed"});
    let (status, e) = mesh
        .post_as(Some(&tian), "monitoring", &decision(&w_edu[1]), &approve)
        .await
        .unwrap();
    assert_eq!(status, 403, "the proposer approves: {e}");
    assert!(e.to_string().contains("maker-checker"), "{e}");
    let (status, e) = mesh
        .post_as(
            Some(&Who::person("wang.fang")),
            "monitoring",
            &decision(&w_edu[1]),
            &approve,
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "a township officer decides: {e}");
    let (status, e) = mesh
        .post_as(
            Some(&Who::person("gao.yan")),
            "monitoring",
            &decision(&w_edu[1]),
            &approve,
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "an approver of another county: {e}");
    let (status, e) = mesh
        .post_as(
            Some(&chen),
            "monitoring",
            &decision(&w_edu[1]),
            &json!({"approve": true, "reason": " "}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["fields"][0]["field"], json!("reason"));
    // Refused: verified again, the refusal kept; proposed again by the township, approved.
    let (status, v) = mesh
        .post_as(
            Some(&chen),
            "monitoring",
            &decision(&w_edu[1]),
            &json!({"approve": false, "reason": "ask the school first"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], json!("verified"), "{v}");
    assert_eq!(
        v["proposal"]["refused_by"]["sub"],
        json!("chen.jing"),
        "{v}"
    );
    assert_eq!(v["proposal"]["reason"], json!("ask the school first"));
    let (status, v) = mesh
        .post(
            "monitoring",
            &disposition(&w_edu[1]),
            &json!({"disposition": "case_conference", "decision": "grant a one-off aid"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["proposal"]["proposed_by"], wang, "{v}");
    let (status, v) = mesh
        .post_as(Some(&chen), "monitoring", &decision(&w_edu[1]), &approve)
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], json!("disposed"));
    assert_eq!(v["disposition"], json!("case_conference"));
    assert_eq!(v["disposed_by"]["sub"], json!("chen.jing"), "{v}");
    assert_eq!(v["disposed_by"]["role"], json!("county_approver"), "{v}");
    assert_eq!(v["disposal_detail"]["proposed_by"], wang, "{v}");
    assert_eq!(
        v["disposal_detail"]["decision"],
        json!("grant a one-off aid")
    );
    assert_eq!(
        v["disposal_detail"]["reason"],
        json!("joint meeting agreed")
    );
    let (status, e) = mesh
        .post_as(Some(&chen), "monitoring", &decision(&w_edu[1]), &approve)
        .await
        .unwrap();
    assert_eq!(status, 409, "decided twice: {e}");

    // 3. No longer eligible → re-verify and terminate: monitor.household.changed on the stream.
    let mut changes = mesh
        .nats
        .subscribe(format!("{}.monitor.household.changed", mesh.prefix))
        .await
        .unwrap();
    let (status, v) = mesh
        .post(
            "monitoring",
            &disposition(&w_edu[2]),
            &json!({"disposition": "reverify_terminate"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    let msg = tokio::time::timeout(WITHIN, changes.next())
        .await
        .expect("monitor.household.changed was published")
        .unwrap();
    let changed: Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(changed["type"], json!("monitor.household.changed"));
    assert_eq!(changed["household_id"], json!(ids[2]));
    assert_eq!(changed["data"]["change"], json!("stopped"));
    assert_eq!(changed["data"]["reason"], json!("no_longer_eligible"));
    assert_eq!(changed["data"]["member_id"], v["member_id"]);
    assert_eq!(changed["data"]["decided_by"], json!("officer:王芳"));
    assert_eq!(changed["actor"], wang, "the event carries its actor");
    assert_eq!(
        changed["data"]["change_id"],
        v["disposal_detail"]["change_id"]
    );
    let today = mesh.today();
    let next_month = policy::Month::of(today).next().to_string();
    assert_eq!(changed["data"]["stop_from_month"], json!(next_month));
    assert!(
        eventually(WITHIN, || async {
            chain(&mesh, &ids[2]).await["steps"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["type"] == "monitor.household.changed"))
        })
        .await,
        "the change is on the household's chain"
    );
    let steps = chain(&mesh, &ids[2]).await["steps"].clone();
    let step = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "monitor.household.changed")
        .unwrap()
        .clone();
    assert_eq!(
        step["actor"], wang,
        "the chain step shows its actor: {step:#}"
    );

    // 4. Not covered but likely eligible → a push to the department: a referral like any other.
    let (status, v) = mesh
        .post(
            "monitoring",
            &disposition(&w_med[0]),
            &json!({"disposition": "push_to_department"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["disposal_detail"]["department"], json!("medical"));
    let pushed = v["disposal_detail"]["referral_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(referral_status(&mesh, &pushed).await, "pushed");
    let (status, e) = mesh
        .post(
            "monitoring",
            &disposition(&w_med[1]),
            &json!({"disposition": "push_to_department", "department": "fishing"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{e}");

    // The medical department's system answers the pushes waiting for it, the determination's
    // and the warning's, and grants the same premium subsidy for the same year twice: duplicate
    // assistance, flagged on the chain.
    for r in medical.iter().chain([&pushed]) {
        department.answer(&mesh, r, true).await;
    }
    for r in medical.iter().chain([&pushed]) {
        assert!(
            eventually(WITHIN, || async {
                referral_status(&mesh, r).await == "granted"
            })
            .await,
            "referral {r} was granted"
        );
    }
    let c = chain(&mesh, &ids[0]).await;
    assert!(
        c["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["type"] == "referral.feedback"
                && s["summary"]["referral_id"] == json!(pushed)),
        "the department's feedback to the warning's push is on the chain"
    );
    let dups = c["flags"]["duplicates"].as_array().unwrap();
    assert_eq!(dups.len(), 1, "{dups:#?}");
    assert_eq!(dups[0]["kind"], json!("medical_premium_subsidy"));
    let mut pair: Vec<String> = dups[0]["referral_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    pair.sort();
    let mut expected = vec![medical[0].clone(), pushed.clone()];
    expected.sort();
    assert_eq!(pair, expected);
    assert_eq!(c["warnings"].as_array().unwrap().len(), 2, "{c:#}");
    // The other households have one grant each: no duplicate.
    assert_eq!(
        chain(&mesh, &ids[1]).await["flags"]["duplicates"],
        json!([])
    );

    // A later push for a person who already has a grant carries it as prior assistance.
    let (status, v) = mesh
        .post(
            "monitoring",
            &disposition(&w_med[1]),
            &json!({"disposition": "push_to_department", "department": "medical"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    let second = v["disposal_detail"]["referral_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let push = department.push(&second).await;
    assert_eq!(
        push["actor"], wang,
        "the push carries the officer who disposed: {push:#}"
    );
    let prior = push["data"]["prior_assistance"].as_array().unwrap();
    assert_eq!(prior.len(), 1, "{push:#}");
    assert_eq!(prior[0]["referral_id"], json!(medical[1]));
    assert_eq!(prior[0]["department"], json!("medical"));
    assert_eq!(prior[0]["kind"], json!("medical_premium_subsidy"));
    // This time the department reads `prior_assistance` and refuses.
    department.answer(&mesh, &second, false).await;
    assert!(
        eventually(WITHIN, || async {
            referral_status(&mesh, &second).await == "rejected"
        })
        .await,
        "the department refused the second push"
    );

    // The one warning nobody verified escalates to the county once its deadline has passed.
    let later = verify_due.succ_opt().unwrap();
    let (_, swept) = mesh
        .post("monitoring", "/v1/sweeps", &json!({"as_of": later}))
        .await
        .unwrap();
    assert_eq!(swept["escalated"], json!(1), "{swept}");
    for path in [
        "/v1/warnings?escalated=true".to_owned(),
        "/v1/warnings?county=410102&escalated=true".to_owned(),
        format!("/v1/warnings?overdue=true&as_of={later}"),
    ] {
        let (_, v) = mesh.get("monitoring", &path).await.unwrap();
        let v = v.as_array().unwrap();
        assert_eq!(v.len(), 1, "{path}: {v:#?}");
        assert_eq!(v[0]["warning_id"], json!(w_med[2]));
        assert_eq!(v[0]["escalated_to"], json!("410102"));
    }
    let (_, none) = mesh
        .get("monitoring", "/v1/warnings?county=120101")
        .await
        .unwrap();
    assert_eq!(none, json!([]));

    // The month's report: 6 warnings raised, 5 verified, disposed of 1 + 3 + 1 ways… counted by
    // hand from what this test did.
    let month = policy::Month::of(today).to_string();
    let (status, report) = mesh
        .get(
            "monitoring",
            &format!("/v1/reports/monthly?district=410102&month={month}"),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{report}");
    let row = &report["rows"][0];
    let expected_monthly = json!({
        "district": "410102",
        "month": month,
        "active_discovery_warnings": 0,
        "feed_warnings": 0,
        "warnings_raised": 6,
        "warnings_verified": 5,
        "disposed_apply_policy": 1,
        "disposed_push_to_department": 2,
        "disposed_case_conference": 1,
        "disposed_reverify_terminate": 1,
        "warnings_escalated": 1,
        // 6 at determination, 2 from warnings; the 5 medical ones answered.
        "referrals_pushed": 8,
        "referrals_answered": 5,
    });
    assert_eq!(row, &expected_monthly, "{report:#}");
    let r = mesh
        .request(
            reqwest::Method::GET,
            "monitoring",
            &format!("/v1/reports/monthly?district=410102&month={month}"),
        )
        .await
        .unwrap()
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("district,month,active_discovery_warnings"));
    assert_eq!(lines[1], format!("410102,{month},0,0,6,5,1,2,1,1,1,8,5"));
    // Without a district: every district with activity, here the one.
    let (_, all) = mesh
        .get("monitoring", &format!("/v1/reports/monthly?month={month}"))
        .await
        .unwrap();
    assert_eq!(all["rows"], json!([expected_monthly]), "{all:#}");

    // The quarter's review, as of the day after the escalation: warnings due in the quarter of
    // their deadline, referrals in the quarter of theirs.
    let (wq, rq) = (quarter_of(verify_due), quarter_of(feedback_due));
    let quarterly = |q: String| {
        let mesh = &mesh;
        async move {
            let (status, v) = mesh
                .get(
                    "monitoring",
                    &format!("/v1/reports/quarterly?district=410102&quarter={q}&as_of={later}"),
                )
                .await
                .unwrap();
            assert_eq!(status, 200, "{v}");
            v["rows"][0].clone()
        }
    };
    let w_row = quarterly(wq.clone()).await;
    let r_row = if rq == wq {
        w_row.clone()
    } else {
        quarterly(rq.clone()).await
    };
    // Five verified today, before their deadline; one never verified.
    assert_eq!(w_row["warnings_due"], json!(6), "{w_row:#}");
    assert_eq!(w_row["warnings_on_time"], json!(5));
    assert_eq!(w_row["warnings_overdue"], json!(1));
    assert_eq!(w_row["warnings_pending"], json!(0));
    assert_eq!(w_row["warnings_escalated"], json!(1));
    // Eight referrals due the same day: five answered today, three (education) never.
    assert_eq!(r_row["referrals_due"], json!(8), "{r_row:#}");
    assert_eq!(r_row["referrals_on_time"], json!(5));
    assert_eq!(r_row["referrals_late"], json!(0));
    assert_eq!(r_row["referrals_never"], json!(3));
    assert_eq!(r_row["referrals_pending"], json!(0));
    if rq == wq {
        let last_day = {
            let q = (verify_due.month() - 1) / 3;
            let next = if q == 3 {
                NaiveDate::from_ymd_opt(verify_due.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(verify_due.year(), q * 3 + 4, 1)
            };
            next.unwrap().pred_opt().unwrap()
        };
        let s = PolicyBook::builtin()
            .in_force(&RegionCode::parse("410102").unwrap(), last_day)
            .unwrap()
            .supervision_score;
        // No complaint fell due: their full points.
        let expected = (share(s.warning_points, 5, 6)
            + share(s.referral_points, 5, 8)
            + share(s.complaint_points, 0, 0)
            - s.escalation_penalty_points)
            .max(0);
        assert_eq!(w_row["score"], json!(expected), "{w_row:#}");
        let text = mesh
            .request(
                reqwest::Method::GET,
                "monitoring",
                &format!(
                    "/v1/reports/quarterly?district=410102&quarter={wq}&as_of={later}&format=csv"
                ),
            )
            .await
            .unwrap()
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let row = text.lines().nth(1).unwrap_or_default().to_owned();
        assert!(
            row.starts_with(&format!("410102,{wq},6,5,1,0,1,8,5,0,3,0,"))
                && row.ends_with(&format!(",{expected}")),
            "{text}"
        );
    }
    let (status, bad) = mesh
        .get("monitoring", "/v1/reports/quarterly?quarter=2026-Q5")
        .await
        .unwrap();
    assert_eq!(status, 422, "{bad}");
    // The reports count only the caller's areas: another county's officer (周磊, 410105) may
    // not ask for 410102, and counts nothing of it without a district; a township officer
    // reads no report.
    let zhou = Who::person("zhou.lei");
    let (status, v) = mesh
        .get_as(
            Some(&zhou),
            "monitoring",
            &format!("/v1/reports/monthly?district=410102&month={month}"),
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{v}");
    let (status, v) = mesh
        .get_as(
            Some(&zhou),
            "monitoring",
            &format!("/v1/reports/monthly?month={month}"),
        )
        .await
        .unwrap();
    assert_eq!((status, &v["rows"]), (200, &json!([])), "{v}");
    let (status, v) = mesh
        .get_as(
            Some(&Who::person("wang.fang")),
            "monitoring",
            &format!("/v1/reports/monthly?month={month}"),
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{v}");

    // The audit trail holds who did and read what: the auditor reads it.
    let auditor = Who::person("qian.hui");
    let mut records = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = mesh
            .get_as(
                Some(&auditor),
                "monitoring",
                &format!("/v1/audit?after={after}&limit=1000"),
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{page}");
        let got = page["records"].as_array().unwrap().clone();
        if got.is_empty() {
            break;
        }
        after = got.last().unwrap()["seq"].as_i64().unwrap();
        records.extend(got);
    }
    let count = |action: &str, sub: &str| {
        records
            .iter()
            .filter(|r| r["action"] == action && r["actor"]["sub"] == sub)
            .count()
    };
    assert_eq!(count("warning.verify", "wang.fang"), 5, "{records:#?}");
    assert_eq!(count("warning.dispose", "wang.fang"), 3);
    assert_eq!(count("warning.dispose", "zhao.min"), 1);
    // The case conference: proposed by 田雨, refused by 陈静, proposed by 王芳, approved by 陈静.
    assert_eq!(count("warning.case_conference.propose", "tian.yu"), 1);
    assert_eq!(count("warning.case_conference.propose", "wang.fang"), 1);
    assert_eq!(count("warning.case_conference.refuse", "chen.jing"), 1);
    assert_eq!(count("warning.case_conference.approve", "chen.jing"), 1);
    assert_eq!(count("warning.case_conference.approve", "tian.yu"), 0);
    assert_eq!(count("sweep.run", "ma.chao"), 4);
    assert!(count("chain.read", "wang.fang") > 0);
    assert!(count("referral.read", "wang.fang") > 0);
    assert!(count("warning.list", "wang.fang") > 0);
    assert!(count("report.read", "chen.jing") + count("report.read", "zhao.min") > 0);
    assert!(
        count("report.export", "zhao.min") >= 1,
        "the CSV export is audited"
    );
    let dispose = records
        .iter()
        .find(|r| r["action"] == "warning.dispose" && r["actor"]["sub"] == "zhao.min")
        .unwrap();
    assert_eq!(dispose["record_id"], json!(w_edu[0]));
    assert!(dispose["household_id"].is_string(), "{dispose:#}");
    // Reads out of area and refused calls leave nothing: 李强's one record is his empty list.
    let of_li: Vec<&Value> = records
        .iter()
        .filter(|r| r["actor"]["sub"] == "li.qiang")
        .collect();
    assert_eq!(of_li.len(), 1, "{of_li:#?}");
    assert_eq!(of_li[0]["action"], json!("warning.list"));
    let detail: Value = serde_json::from_str(of_li[0]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["count"], json!(0), "{detail}");
    let chain_read = records
        .iter()
        .find(|r| r["action"] == "chain.read" && r["household_id"] == json!(ids[0]))
        .expect("the chain's read is audited with its household");
    assert_eq!(chain_read["actor"]["name"], json!("王芳"));
    let (status, v) = mesh
        .get_as(Some(&auditor), "monitoring", "/v1/audit/verify")
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["intact"], json!(true), "{v}");
    mesh.teardown().await.unwrap();
}
