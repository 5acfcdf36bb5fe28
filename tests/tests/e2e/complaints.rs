//! Consultations, complaints and reports (咨询、投诉、举报) end to end, against real NATS,
//! PostgreSQL and the OpenID Provider. Jiangmen (004): "设置和公开监督咨询电话,接受社会公众关于
//! 困难群众基本生活保障工作的咨询、投诉和举报" and "建立健全举报核查制度,及时调查核实处理投诉和
//! 举报".
//!
//! A report taken by the city's hotline desk about an assisted household is routed to its
//! township, investigated by a county officer (not by the township officer it is about),
//! answered, and each step is on the household's chain; a complaint left unanswered past its
//! deadline escalates to the county and costs the district points in the quarterly score. The
//! household's file (一户一档) holds every step of its chain, in Chinese. An application decided
//! by hand in unusually short time raises a risk warning for the county; none on the demo data.

use chrono::{Datelike, Days, NaiveDate};
use mesh_tests::{business_date, demo_household, error_fields, Options, TestMesh, Who};
use policy::{PolicyBook, RegionCode};
use serde_json::{json, Value};
use simulator::bank::BankRules;
use std::collections::BTreeSet;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

fn params_on(d: NaiveDate) -> policy::ParameterSet {
    PolicyBook::builtin()
        .in_force(&RegionCode::parse("410102").unwrap(), d)
        .unwrap()
        .clone()
}

fn date(v: &Value) -> NaiveDate {
    v.as_str().unwrap().parse().unwrap()
}

/// `points × part / whole` rounded half up; full points when nothing fell due (README).
fn share(points: i64, part: i64, whole: i64) -> i64 {
    if whole == 0 {
        points
    } else {
        (2 * points * part + whole) / (2 * whole)
    }
}

/// The text a reader sees of an HTML page: tags dropped, entities of the five escaped characters
/// read back.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_routed_to_the_township_investigated_answered_and_on_the_chain() {
    let mesh = TestMesh::start(Options::default()).await.unwrap();
    let (status, accepted) = mesh.submit(&demo_household()).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(&household, WITHIN).await.unwrap();

    let desk = Who::person("sun.li");
    let wang = Who::person("wang.fang");
    let zhao = Who::person("zhao.min");
    let other_township = Who::person("li.qiang");

    // The demo household was determined by rule: no risk rule fires on it.
    let (status, swept) = mesh
        .post(
            "monitoring",
            "/v1/sweeps",
            &json!({"as_of": business_date()}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{swept}");
    assert_eq!(swept["risk_raised"], json!(0), "{swept}");

    // Every fault named, none of the values echoed.
    let (status, refused) = mesh
        .post_as(
            Some(&desk),
            "monitoring",
            "/v1/complaints",
            &json!({
                "received_via": "fax",
                "category": "report",
                "summary": "该户户主 410102198305120312 有车",
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{refused}");
    let fields: Vec<String> = error_fields(&refused).into_iter().map(|(f, _)| f).collect();
    for f in [
        "reference",
        "received_via",
        "summary",
        "region_code",
        "filer",
    ] {
        assert!(fields.contains(&f.to_owned()), "{f} in {refused}");
    }
    let text = refused.to_string();
    assert!(
        !text.contains("410102198305120312") && !text.contains("fax"),
        "{text}"
    );

    // The report names the household only: routed to its township, due by the report deadline.
    let report = json!({
        "reference": "12345-20261116-0042",
        "received_via": "hotline_12345",
        "category": "report",
        "household_id": household,
        "officer_concerned": "wang.fang",
        "summary": "来电举报:该户有未申报的经营收入,户主经营一家小超市。",
        "anonymous": false,
        "filer": {"name": "张伟", "phone": "13800138000"},
    });
    let (status, received) = mesh
        .post_as(Some(&desk), "monitoring", "/v1/complaints", &report)
        .await
        .unwrap();
    assert_eq!(status, 201, "{received}");
    let id = received["complaint_id"].as_str().unwrap().to_owned();
    let today = business_date();
    let days = params_on(today).complaint_answer_days;
    assert_eq!(received["region_code"], json!("410102001"), "{received}");
    assert_eq!(
        date(&received["answer_due"]),
        today + Days::new(u64::from(days.report))
    );
    assert_eq!(received["status"], json!("received"));
    assert_eq!(received["received_by"]["name"], json!("孙丽"));
    assert_eq!(received["filer"]["name"], json!("张**"), "masked");
    assert_eq!(received["filer"]["phone"], json!("138****8000"), "masked");
    // The same ticket again is the same complaint.
    let (status, again) = mesh
        .post_as(Some(&desk), "monitoring", "/v1/complaints", &report)
        .await
        .unwrap();
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["complaint_id"], json!(id));

    // Another township sees nothing of it.
    let (status, list) = mesh
        .get_as(Some(&other_township), "monitoring", "/v1/complaints")
        .await
        .unwrap();
    assert_eq!((status, list), (200, json!([])));
    let one = format!("/v1/complaints/{id}");
    let (status, _) = mesh
        .get_as(Some(&other_township), "monitoring", &one)
        .await
        .unwrap();
    assert_eq!(status, 404);

    // The officer it is about does not investigate it; nobody answers it before it is.
    let investigation = format!("/v1/complaints/{id}/investigation");
    let answer = format!("/v1/complaints/{id}/answer");
    let finding = json!({"finding": "substantiated", "findings": "入户核查:户主经营小超市,月经营收入约三千元,申请时未申报。"});
    let (status, body) = mesh
        .post_as(Some(&wang), "monitoring", &investigation, &finding)
        .await
        .unwrap();
    assert_eq!(status, 403, "{body}");
    let reply = json!({"answer": "经核查,举报情况属实,已依规处理。"});
    let (status, body) = mesh
        .post_as(Some(&zhao), "monitoring", &answer, &reply)
        .await
        .unwrap();
    assert_eq!(status, 409, "{body}");
    let (status, investigated) = mesh
        .post_as(Some(&zhao), "monitoring", &investigation, &finding)
        .await
        .unwrap();
    assert_eq!(status, 200, "{investigated}");
    assert_eq!(investigated["status"], json!("investigated"));
    assert_eq!(investigated["finding"], json!("substantiated"));
    assert_eq!(investigated["investigated_by"]["name"], json!("赵敏"));
    let (status, _) = mesh
        .post_as(Some(&zhao), "monitoring", &investigation, &finding)
        .await
        .unwrap();
    assert_eq!(status, 409, "investigated once");
    let (status, answered) = mesh
        .post_as(Some(&zhao), "monitoring", &answer, &reply)
        .await
        .unwrap();
    assert_eq!(status, 200, "{answered}");
    assert_eq!(answered["status"], json!("answered"));
    assert_eq!(answered["on_time"], json!(true));

    // Read in full by an officer of its area, to call the person back.
    let (status, full) = mesh.get_as(Some(&zhao), "monitoring", &one).await.unwrap();
    assert_eq!(status, 200, "{full}");
    assert_eq!(full["filer"]["name"], json!("张伟"));

    // Each step is a step of the household's chain, without the filer or the words.
    let path = format!("/v1/households/{household}/chain");
    let steps_of = |chain: &Value| -> Vec<String> {
        chain["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["type"] == json!("monitor.complaint.progress"))
            .map(|s| s["summary"]["step"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let ok = mesh_tests::eventually(WITHIN, || async {
        matches!(mesh.get_as(Some(&zhao), "monitoring", &path).await,
            Ok((200, c)) if steps_of(&c).len() == 3)
    })
    .await;
    let (_, chain) = mesh.get_as(Some(&zhao), "monitoring", &path).await.unwrap();
    assert!(ok, "three complaint steps on the chain: {chain:#}");
    assert_eq!(steps_of(&chain), ["received", "investigated", "answered"]);
    assert_eq!(
        chain["complaints"].as_array().unwrap().len(),
        1,
        "{chain:#}"
    );
    assert_eq!(chain["complaints"][0]["filer"]["name"], json!("张**"));
    let text = chain.to_string();
    assert!(
        !text.contains("张伟") && !text.contains("13800138000"),
        "{text}"
    );

    // The household file (一户一档) holds every step of the chain, in Chinese, masked.
    mesh.settle(WITHIN).await.unwrap();
    let (_, chain) = mesh.get_as(Some(&zhao), "monitoring", &path).await.unwrap();
    let file = format!("/v1/households/{household}/file");
    let (status, page) = mesh.get_as(Some(&zhao), "monitoring", &file).await.unwrap();
    assert_eq!(status, 200, "{page}");
    let html = page.as_str().expect("an HTML page");
    let text = text_of(html);
    let n = chain["steps"].as_array().unwrap().len();
    assert!(text.contains("一户一档"), "{text}");
    assert!(text.contains(&format!("办理过程(共 {n} 项)")), "{text}");
    assert_eq!(html.matches("<tr class=\"step\">").count(), n);
    for words in [
        "申请受理",
        "家庭经济状况核对",
        "审核确认",
        "咨询投诉举报",
        "举报",
        "属实",
        "赵敏",
    ] {
        assert!(text.contains(words), "{words} in {text}");
    }
    for m in demo_household()["members"].as_array().unwrap() {
        assert!(
            !text.contains(m["id_number"].as_str().unwrap()),
            "no ID number"
        );
        assert!(!text.contains(m["name"].as_str().unwrap()), "no name");
    }
    let (status, _) = mesh
        .get_as(Some(&other_township), "monitoring", &file)
        .await
        .unwrap();
    assert_eq!(status, 404, "another township's officer gets no file");

    // The events carry ids and outcomes, never the person who filed it.
    let stored = mesh
        .stored("MONITOR", "monitor.complaint.answered")
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    let (_, event) = &stored[0];
    assert_eq!(event["household_id"], json!(household));
    assert_eq!(event["actor"]["sub"], json!("zhao.min"));
    assert_eq!(event["data"]["on_time"], json!(true));
    let text = event.to_string();
    assert!(!text.contains("张伟") && !text.contains("小超市"), "{text}");
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_left_unanswered_escalates_and_lowers_the_districts_score() {
    let mesh = TestMesh::start(Options::default()).await.unwrap();
    let wang = Who::person("wang.fang");
    let zhao = Who::person("zhao.min");
    let today = business_date();
    let days = params_on(today).complaint_answer_days;

    // An anonymous complaint at the township's window, and a consultation answered at once.
    let (status, complaint) = mesh
        .post_as(
            Some(&wang),
            "monitoring",
            "/v1/complaints",
            &json!({
                "reference": "window-0001",
                "received_via": "in_person",
                "category": "complaint",
                "region_code": "410102001",
                "summary": "投诉:申请递交后迟迟没有回复。",
                "anonymous": true,
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{complaint}");
    assert!(complaint["filer"].is_null());
    let id = complaint["complaint_id"].as_str().unwrap().to_owned();
    let due = date(&complaint["answer_due"]);
    assert_eq!(due, today + Days::new(u64::from(days.complaint)));
    let (status, consultation) = mesh
        .post_as(
            Some(&wang),
            "monitoring",
            "/v1/complaints",
            &json!({
                "reference": "window-0002",
                "received_via": "in_person",
                "category": "consultation",
                "region_code": "410102001",
                "summary": "咨询低保申请需要哪些材料。",
                "anonymous": false,
                "filer": {"name": "李娜"},
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{consultation}");
    let cid = consultation["complaint_id"].as_str().unwrap();
    let (status, body) = mesh
        .post_as(
            Some(&wang),
            "monitoring",
            &format!("/v1/complaints/{cid}/investigation"),
            &json!({"finding": "unsubstantiated", "findings": "无"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "a consultation is not investigated: {body}");
    let (status, answered) = mesh
        .post_as(
            Some(&wang),
            "monitoring",
            &format!("/v1/complaints/{cid}/answer"),
            &json!({"answer": "已告知所需材料清单。"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{answered}");
    assert_eq!(answered["on_time"], json!(true));

    // On its deadline nothing escalates; the day after, the complaint goes to the county, once.
    let (_, swept) = mesh
        .post("monitoring", "/v1/sweeps", &json!({"as_of": due}))
        .await
        .unwrap();
    assert_eq!(swept["complaints_escalated"], json!(0), "{swept}");
    let after = due.succ_opt().unwrap();
    let (_, swept) = mesh
        .post("monitoring", "/v1/sweeps", &json!({"as_of": after}))
        .await
        .unwrap();
    assert_eq!(swept["complaints_escalated"], json!(1), "{swept}");
    let (_, again) = mesh
        .post("monitoring", "/v1/sweeps", &json!({"as_of": after}))
        .await
        .unwrap();
    assert_eq!(again["complaints_escalated"], json!(0), "{again}");
    let (status, overdue) = mesh
        .get_as(
            Some(&zhao),
            "monitoring",
            &format!("/v1/complaints?overdue=true&as_of={after}"),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{overdue}");
    let overdue = overdue.as_array().unwrap();
    assert_eq!(overdue.len(), 1, "{overdue:#?}");
    assert_eq!(overdue[0]["complaint_id"], json!(id));
    assert_eq!(overdue[0]["escalated_to"], json!("410102"));
    let stored = mesh
        .stored("MONITOR", "monitor.complaint.escalated")
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1["data"]["region_code"], json!("410102"));

    // The quarter's score: the consultation on time, the complaint overdue and escalated.
    let quarter = format!("{}-Q{}", due.year(), (due.month() - 1) / 3 + 1);
    let (status, report) = mesh
        .get_as(
            Some(&zhao),
            "monitoring",
            &format!("/v1/reports/quarterly?district=410102&quarter={quarter}&as_of={after}"),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{report}");
    let row = &report["rows"][0];
    let consultation_due = date(&consultation["answer_due"]);
    let both_in_quarter = consultation_due.month0() / 3 == due.month0() / 3;
    assert!(
        both_in_quarter,
        "the business date puts both in one quarter"
    );
    assert_eq!(row["complaints_due"], json!(2), "{row:#}");
    assert_eq!(row["complaints_on_time"], json!(1));
    assert_eq!(row["complaints_overdue"], json!(1));
    assert_eq!(row["complaints_pending"], json!(0));
    assert_eq!(row["complaints_escalated"], json!(1));
    let last_day = {
        let next_q = NaiveDate::from_ymd_opt(due.year(), due.month0() / 3 * 3 + 1, 1).unwrap();
        next_q
            .checked_add_months(chrono::Months::new(3))
            .unwrap()
            .pred_opt()
            .unwrap()
    };
    let s = params_on(last_day).supervision_score;
    // Nothing else fell due in this mesh: full warning and referral points.
    let expected = (s.warning_points + s.referral_points + share(s.complaint_points, 1, 2)
        - s.escalation_penalty_points)
        .max(0);
    assert_eq!(row["score"], json!(expected), "{row:#}");
    assert!(expected < s.warning_points + s.referral_points + s.complaint_points);

    // Still answered, late, by the county it was escalated to, the day after its deadline.
    mesh.clock.set_local_date(after, 10);
    let (status, _) = mesh
        .post_as(
            Some(&zhao),
            "monitoring",
            &format!("/v1/complaints/{id}/investigation"),
            &json!({"finding": "partly_substantiated", "findings": "申请材料在乡镇滞留超过规定时限。"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, late) = mesh
        .post_as(
            Some(&zhao),
            "monitoring",
            &format!("/v1/complaints/{id}/answer"),
            &json!({"answer": "已督促乡镇限期办结并向您致歉。"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{late}");
    assert_eq!(late["on_time"], json!(false));
    mesh.teardown().await.unwrap();
}

/// The household's account set by wang.fang and confirmed by zhao.min, `month`'s file made,
/// sent and settled by the bank; what was settled, in fen.
async fn pay_at_the_bank(mesh: &TestMesh, household_id: &str, month: policy::Month) -> i64 {
    let of_month = |all: Vec<Value>| -> Vec<Value> {
        all.into_iter()
            .filter(|i| i["month"] == json!(month.to_string()))
            .collect()
    };
    let due = of_month(mesh.instructions(household_id).await.unwrap());
    let mut members: Vec<&str> = due
        .iter()
        .filter_map(|i| i["beneficiary_member_id"].as_str())
        .collect();
    members.dedup();
    for (n, member) in members.iter().enumerate() {
        mesh.set_account(
            member,
            &json!({
                "holder_name": "Zhang Wei",
                "account_number": format!("62220000000007{n:02}"),
                "bank_code": "102491000018",
                "region_code": "410102001",
            }),
        )
        .await;
    }
    let (status, made) = mesh
        .post(
            "payment",
            "/v1/batches",
            &json!({"month": month.to_string(), "district": "410102"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{made}");
    for b in made["batches"].as_array().unwrap() {
        let path = format!("/v1/batches/{}/transmit", b["batch_id"].as_str().unwrap());
        let (status, sent) = mesh.post("payment", &path, &json!({})).await.unwrap();
        assert_eq!(status, 200, "{sent}");
    }
    let all_settled = mesh_tests::eventually(WITHIN, || async {
        let now = of_month(mesh.instructions(household_id).await.unwrap_or_default());
        !now.is_empty() && now.iter().all(|i| i["status"] == json!("settled"))
    })
    .await;
    assert!(
        all_settled,
        "{month} settled: {:?}",
        mesh.instructions(household_id).await
    );
    due.iter().map(|i| i["amount_fen"].as_i64().unwrap()).sum()
}

/// The recovery of a confirmed fraud from `settled_month` (its payments settled for `settled`
/// fen) while `unsent` was instructed and never sent: the plan owes what was settled, in the
/// region's fraud instalments; the unsent month is withheld from every file; a repayment books
/// a `recovered` entry in the settled month's ledger, and that month's reconciliation still has
/// nothing unexplained.
async fn repay_what_was_obtained(
    mesh: &TestMesh,
    household_id: &str,
    (settled_month, settled): (policy::Month, i64),
    unsent: policy::Month,
) {
    let plans_path = format!("/v1/recoveries/plans?household_id={household_id}");
    let (status, plans) = mesh.get("payment", &plans_path).await.unwrap();
    assert_eq!(status, 200, "{plans}");
    assert_eq!(plans.as_array().unwrap().len(), 1, "{plans:#}");
    let plan = &plans[0];
    let instalments = PolicyBook::builtin()
        .in_force(&RegionCode::parse("410102").unwrap(), unsent.first_day())
        .unwrap()
        .repayment_instalments
        .fraud;
    assert_eq!(plan["reason"], json!("fraud"));
    assert_eq!(plan["instalments"], json!(instalments));
    assert_eq!(
        plan["owed_fen"],
        json!(settled),
        "what was settled: {plan:#}"
    );
    assert_eq!(plan["in_transit_fen"], json!(0), "{plan:#}");
    let part = (settled + i64::from(instalments) - 1) / i64::from(instalments);
    assert_eq!(plan["instalment_fen"], json!(part));
    assert_eq!(
        plan["schedule"].as_array().unwrap().len(),
        instalments as usize
    );
    let obtained = plan["obtained"].as_array().unwrap();
    assert!(obtained
        .iter()
        .all(|o| o["months"] == json!([settled_month.to_string()])));
    // The unsent month goes into no file.
    let (status, made) = mesh
        .post(
            "payment",
            "/v1/batches",
            &json!({"month": unsent.to_string()}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "no file made: {made}");
    assert!(made["batches"].as_array().unwrap().is_empty(), "{made}");
    assert!(made["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| b["reason"].as_str().unwrap().starts_with("withheld")));

    let repay = format!(
        "/v1/recoveries/plans/{}/repayments",
        plan["plan_id"].as_str().unwrap()
    );
    let receipt = json!({"amount_fen": part, "reference": "追回收据 2027-0001", "received_on": unsent.first_day()});
    for (who, want) in [("wang.fang", 403), ("zhou.lei", 404)] {
        let (status, body) = mesh
            .post_as(Some(&Who::person(who)), "payment", &repay, &receipt)
            .await
            .unwrap();
        assert_eq!(status, want, "{who}: {body}");
    }
    let zhao = Who::person("zhao.min");
    let (status, after) = mesh
        .post_as(Some(&zhao), "payment", &repay, &receipt)
        .await
        .unwrap();
    assert_eq!(status, 201, "{after}");
    assert_eq!(after["repaid_fen"], json!(part));
    assert_eq!(after["outstanding_fen"], json!(settled - part));
    assert_eq!(after["repayments"][0]["posted_by"]["name"], json!("赵敏"));
    let (status, again) = mesh
        .post_as(Some(&zhao), "payment", &repay, &receipt)
        .await
        .unwrap();
    assert_eq!(
        (status, &again["repaid_fen"]),
        (200, &json!(part)),
        "{again}"
    );
    let mut changed = receipt.clone();
    changed["amount_fen"] = json!(part + 1);
    let (status, _) = mesh
        .post_as(Some(&zhao), "payment", &repay, &changed)
        .await
        .unwrap();
    assert_eq!(status, 409, "the same receipt with another amount");
    let too_much = json!({"amount_fen": settled, "reference": "追回收据 2027-0002", "received_on": unsent.first_day()});
    let (status, body) = mesh
        .post_as(Some(&zhao), "payment", &repay, &too_much)
        .await
        .unwrap();
    assert_eq!(status, 422, "{body}");
    let fields = error_fields(&body);
    assert_eq!(fields.len(), 1, "{body}");
    assert_eq!(fields[0].0, "amount_fen");

    let (status, rec) = mesh
        .get(
            "payment",
            &format!("/v1/reconciliation?district=410102&month={settled_month}"),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["recovered"]["amount_fen"], json!(part), "{rec:#}");
    assert_eq!(rec["unexplained"], json!([]), "{rec:#}");
    assert_eq!(rec["difference_fen"], json!(0));
    assert_eq!(rec["balanced"], json!(true));
}

/// Zhengzhou (002): "加大对骗取救助资金、物资或服务行为的查处力度,依法依规追回非法获取的物资、
/// 救助金". A report confirmed as fraud from a month stops the household from that month, and
/// payment recovers every payment made for the months since, payment by payment; the household
/// gets a dishonesty record that holds up its members' new applications.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_confirmed_as_fraud_stops_the_household_and_recovers_what_was_paid_since() {
    let household = mesh_tests::another_household();
    let mesh = TestMesh::start(Options {
        fixtures: mesh_tests::silent_fixtures(&household),
        payment: vec![("payment.run.months_ahead".into(), "3".into())],
        bank: Some(BankRules {
            deliver: "nats".into(),
            settle_after_ms: 200,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let (status, accepted) = mesh.submit(&household).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["household_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(&id, WITHIN).await.unwrap();
    let m1 = policy::Month::of(business_date()).next();
    let m2 = m1.next();
    mesh.run_month(m1, WITHIN).await;
    mesh.run_month(m2, WITHIN).await;
    let paid: i64 = mesh
        .instructions(&id)
        .await
        .unwrap()
        .iter()
        .filter(|i| i["month"] == json!(m1.to_string()) || i["month"] == json!(m2.to_string()))
        .map(|i| i["amount_fen"].as_i64().unwrap())
        .sum();
    assert!(paid > 0, "the household was paid for {m1} and {m2}");
    // The bank settles the first month; the second is instructed and in no file yet.
    let settled = pay_at_the_bank(&mesh, &id, m1).await;
    // The report is investigated in the second month.
    mesh.clock.set_local_date(m2.first_day(), 10);

    let desk = Who::person("sun.li");
    let zhao = Who::person("zhao.min");
    let (status, report) = mesh
        .post_as(
            Some(&desk),
            "monitoring",
            "/v1/complaints",
            &json!({
                "reference": "12345-fraud-0007",
                "received_via": "hotline_12345",
                "category": "report",
                "household_id": id,
                "summary": "举报:该户申请时隐瞒了在外务工的工资收入。",
                "anonymous": true,
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{report}");
    let investigation = format!(
        "/v1/complaints/{}/investigation",
        report["complaint_id"].as_str().unwrap()
    );
    let later = m2.next().to_string();
    let (status, body) = mesh
        .post_as(
            Some(&zhao),
            "monitoring",
            &investigation,
            &json!({"finding": "substantiated", "findings": "经核查属实。", "fraud_from_month": later}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "a month not begun: {body}");
    let (status, confirmed) = mesh
        .post_as(
            Some(&zhao),
            "monitoring",
            &investigation,
            &json!({
                "finding": "substantiated",
                "findings": "经核查:户主自上月起在外务工,月工资收入高于当地低保标准,申请时未申报。",
                "fraud_from_month": m1.to_string(),
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["fraud_from_month"], json!(m1.to_string()));
    assert!(confirmed["stop_change_id"].is_string(), "{confirmed}");

    // Payment recovers each payment of both months, as fraud.
    let recovered = || async {
        let (_, cases) = mesh
            .get("payment", &format!("/v1/recoveries?household_id={id}"))
            .await
            .unwrap();
        cases.as_array().cloned().unwrap_or_default()
    };
    let ok = mesh_tests::eventually(WITHIN, || async {
        recovered()
            .await
            .iter()
            .map(|c| c["amount_fen"].as_i64().unwrap_or(0))
            .sum::<i64>()
            == paid
    })
    .await;
    let cases = recovered().await;
    assert!(
        ok,
        "what was paid since {m1} ({paid}) is recovered: {cases:#?}"
    );
    for c in &cases {
        assert_eq!(c["reason"], json!("fraud"), "{c}");
        assert_eq!(c["household_id"], json!(id));
    }
    let months: BTreeSet<&str> = cases.iter().filter_map(|c| c["month"].as_str()).collect();
    assert_eq!(
        months,
        BTreeSet::from([m1.to_string().as_str(), m2.to_string().as_str()])
    );
    let (_, enrolled) = mesh
        .get("monitoring", &format!("/v1/households/{id}"))
        .await
        .unwrap();
    assert_eq!(enrolled["status"], json!("stopped"), "{enrolled}");
    repay_what_was_obtained(&mesh, &id, (m1, settled), m2).await;

    // The household's dishonesty record (失信记录, 003): in its waiting period no member may
    // apply again; after it, a new application needs a county decision.
    let record = mesh_tests::eventually(WITHIN, || async {
        let stored = mesh
            .stored("MONITOR", "monitor.household.dishonesty_recorded")
            .await
            .unwrap_or_default();
        stored.len() == 1
    })
    .await;
    assert!(record, "one dishonesty record");
    let (_, event) = mesh
        .stored("MONITOR", "monitor.household.dishonesty_recorded")
        .await
        .unwrap()
        .remove(0);
    let rule = PolicyBook::builtin()
        .in_force(&RegionCode::parse("410102").unwrap(), m2.first_day())
        .unwrap()
        .dishonesty_record;
    let recorded_on = m2.first_day();
    let waiting_until = recorded_on
        .checked_add_months(chrono::Months::new(rule.waiting_months))
        .unwrap();
    assert_eq!(date(&event["data"]["waiting_until"]), waiting_until);
    assert_eq!(event["data"]["members"].as_array().unwrap().len(), 3);
    let refused = mesh_tests::eventually(WITHIN, || async {
        matches!(mesh.submit(&household).await,
            Ok((409, body)) if body.to_string().contains("失信记录"))
    })
    .await;
    assert!(refused, "no new application in the waiting period");
    let (_, body) = mesh.submit(&household).await.unwrap();
    for m in household["members"].as_array().unwrap() {
        assert!(!body.to_string().contains(m["id_number"].as_str().unwrap()));
    }
    mesh.clock
        .set_local_date(waiting_until.succ_opt().unwrap(), 10);
    let (status, again) = mesh.submit(&household).await.unwrap();
    assert_eq!(status, 202, "after the waiting period: {again}");
    let path = format!(
        "/v1/applications/{}",
        again["application_id"].as_str().unwrap()
    );
    assert!(
        mesh.status_becomes("intake", &path, "awaiting_county_decision", WITHIN)
            .await,
        "a county decides it: {:?}",
        mesh.get("intake", &path).await
    );
    let (_, application) = mesh.get("intake", &path).await.unwrap();
    assert!(
        application.to_string().contains("dishonesty_record"),
        "{application}"
    );
    assert!(
        mesh.chain_step_types(&id)
            .await
            .iter()
            .any(|t| t == "monitor.household.dishonesty_recorded"),
        "the record is a step of the chain"
    );
    mesh.teardown().await.unwrap();
}

/// Yicheng (003): "建立社会救助风险监督预警机制". An application an officer decided by hand within
/// `risk_rules.fast_approval_hours` of its submission raises one risk warning, for the county.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_decided_by_hand_in_unusually_short_time_raises_one_risk_warning() {
    let mesh = TestMesh::start(Options {
        fixtures: crate::chain::demo_fixtures(),
        silent_sources: vec!["bank".into()],
        verification_timeout_ms: 300,
        verification_attempts: 2,
        verification: vec![("verification.source_hold_seconds".into(), "0".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&demo_household()).await.unwrap();
    let path = format!(
        "/v1/applications/{}",
        accepted["application_id"].as_str().unwrap()
    );
    assert!(
        mesh.status_becomes("intake", &path, "manual_verification", WITHIN)
            .await
    );
    let (status, decided) = mesh
        .verify_by_hand(&path, "bank statements checked at the township office")
        .await;
    assert_eq!(status, 200, "{decided}");
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    let recorded = mesh_tests::eventually(WITHIN, || async {
        matches!(mesh.get("monitoring", &format!("/v1/households/{household}/chain")).await,
            Ok((200, c)) if c["steps"].as_array().is_some_and(|s| s.iter().any(|s|
                s["type"] == json!("eligibility.household.determined"))))
    })
    .await;
    assert!(recorded, "the determination is on the chain");

    let today = business_date();
    let (_, swept) = mesh
        .post("monitoring", "/v1/sweeps", &json!({"as_of": today}))
        .await
        .unwrap();
    assert_eq!(swept["risk_raised"], json!(1), "{swept}");
    let (_, again) = mesh
        .post("monitoring", "/v1/sweeps", &json!({"as_of": today}))
        .await
        .unwrap();
    assert_eq!(again["risk_raised"], json!(0), "once: {again}");
    let (status, list) = mesh
        .get_as(
            Some(&Who::person("zhao.min")),
            "monitoring",
            "/v1/warnings?kind=risk_fast_approval&escalated=true",
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["household_id"], json!(household));
    assert_eq!(list[0]["escalated_to"], json!("410102"));
    assert_eq!(list[0]["detail"]["decided_by"], json!("wang.fang"));
    let hours = params_on(today).risk_rules.fast_approval_hours;
    assert!(
        list[0]["detail"]["minutes_after_submission"]
            .as_i64()
            .unwrap()
            < i64::from(hours) * 60
    );
    mesh.teardown().await.unwrap();
}

/// Yicheng (003): "全面推行申请社会救助事项守信承诺和失信记录制度". A dishonesty record expires
/// by itself; before that, a county officer who did not investigate the report may lift it on
/// review, and from then no new application of the household is held to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dishonesty_record_lifted_on_review_no_longer_holds_a_new_application() {
    let household = mesh_tests::another_household();
    let mesh = TestMesh::start(Options {
        fixtures: mesh_tests::silent_fixtures(&household),
        ..Default::default()
    })
    .await
    .unwrap();
    let (status, accepted) = mesh.submit(&household).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["household_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(&id, WITHIN).await.unwrap();
    let (status, report) = mesh
        .post_as(
            Some(&Who::person("sun.li")),
            "monitoring",
            "/v1/complaints",
            &json!({
                "reference": "12345-fraud-0011",
                "received_via": "hotline_12345",
                "category": "report",
                "household_id": id,
                "summary": "举报:该户隐瞒了经营收入。",
                "anonymous": true,
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{report}");
    let complaint = report["complaint_id"].as_str().unwrap().to_owned();
    let lift = format!("/v1/complaints/{complaint}/dishonesty-lift");
    let reason = json!({"reason": "复核查明该收入系一次性劳务报酬,已另行申报,撤销失信记录。"});
    let (status, _) = mesh
        .post_as(Some(&Who::person("tian.yu")), "monitoring", &lift, &reason)
        .await
        .unwrap();
    assert_eq!(status, 409, "nothing recorded before a fraud is confirmed");
    let (status, confirmed) = mesh
        .post_as(
            Some(&Who::person("zhao.min")),
            "monitoring",
            &format!("/v1/complaints/{complaint}/investigation"),
            &json!({
                "finding": "substantiated",
                "findings": "经核查属实。",
                "fraud_from_month": policy::Month::of(business_date()).to_string(),
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{confirmed}");
    let held = mesh_tests::eventually(WITHIN, || async {
        matches!(mesh.submit(&household).await,
            Ok((409, body)) if body.to_string().contains("失信记录"))
    })
    .await;
    assert!(
        held,
        "the record holds a new application in its waiting period"
    );

    for (who, want) in [("wang.fang", 403), ("zhao.min", 403), ("zhou.lei", 404)] {
        let (status, body) = mesh
            .post_as(Some(&Who::person(who)), "monitoring", &lift, &reason)
            .await
            .unwrap();
        assert_eq!(status, want, "{who}: {body}");
    }
    let named = json!({"reason": "复核 410102198305120312 的收入"});
    let (status, body) = mesh
        .post_as(Some(&Who::person("tian.yu")), "monitoring", &lift, &named)
        .await
        .unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(!body.to_string().contains("410102198305120312"));
    let (status, lifted) = mesh
        .post_as(Some(&Who::person("tian.yu")), "monitoring", &lift, &reason)
        .await
        .unwrap();
    assert_eq!(status, 201, "{lifted}");
    assert_eq!(
        lifted["lifted_by"],
        json!({"sub": "tian.yu", "name": "田雨", "role": "county_officer"})
    );
    assert_eq!(lifted["lifted_on"], json!(business_date().to_string()));
    let (status, _) = mesh
        .post_as(Some(&Who::person("tian.yu")), "monitoring", &lift, &reason)
        .await
        .unwrap();
    assert_eq!(status, 409, "lifted once");

    // Intake no longer holds the household's new application to it: accepted, and not flagged.
    let mut again = None;
    let until = std::time::Instant::now() + WITHIN;
    while again.is_none() && std::time::Instant::now() < until {
        match mesh.submit(&household).await {
            Ok((202, body)) => again = Some(body),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let again = again.expect("a new application after the lift");
    let path = format!(
        "/v1/applications/{}",
        again["application_id"].as_str().unwrap()
    );
    let (_, application) = mesh.get("intake", &path).await.unwrap();
    assert!(
        !application["integrity_flags"]
            .to_string()
            .contains("dishonesty_record"),
        "{application}"
    );
    assert!(
        mesh.chain_step_types(&id)
            .await
            .iter()
            .any(|t| t == "monitor.household.dishonesty_lifted"),
        "the lift is a step of the chain"
    );
    mesh.teardown().await.unwrap();
}
