//! Disclosure on the village and community notice boards, end to end. Jiangmen (004 三(二)3):
//! "在镇政府(街道办事处)、村(居)民委员会固定的政务公开栏、村(居)务公开栏等场所进行困难群众基本
//! 生活保障申请审核公示、审批公示" and (三(一)2) "依法作出审批决定,并对保障对象进行长期公示";
//! objections raised on the board are reports to investigate (004: "接受社会公众关于困难群众基本
//! 生活保障工作的咨询、投诉和举报", "建立健全举报核查制度,及时调查核实处理投诉和举报").
//!
//! The demo household, applying in a community of township 410102001, is determined: its
//! approval disclosure is on that community's notice (and the township's), masked, and on no
//! other village's; an objection holding an ID number is refused without repeating it; an
//! anonymous objection during the notice becomes a `report` of the township, which its officer
//! wang.fang sees in monitoring's complaints. After `disclosure_notice_days` the household is off
//! the notice and on the long-term list of current recipients, and an objection is 409; the
//! report, confirmed as fraud, stops the household, which then leaves the long-term list.

use chrono::Days;
use mesh_tests::{
    business_date, demo_household, error_fields, silent_fixtures, Options, TestMesh, Who,
};
use policy::{PolicyBook, RegionCode};
use serde_json::{json, Value};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

/// The community the demo household applies in, and another village of the same township.
const COMMUNITY: &str = "410102001001";
const OTHER_VILLAGE: &str = "410102001002";

fn on(list: &Value, application_id: &Value) -> Option<Value> {
    list.as_array()?
        .iter()
        .find(|e| e["application_id"] == *application_id)
        .cloned()
}

/// Neither a member's full name nor their ID number appears in `body`.
fn masked(body: &Value, household: &Value) {
    let text = body.to_string();
    for m in household["members"].as_array().unwrap() {
        assert!(!text.contains(m["id_number"].as_str().unwrap()), "{text}");
        assert!(!text.contains(m["name"].as_str().unwrap()), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notice_board_shows_the_approval_then_the_current_recipients_and_takes_objections_during_the_notice(
) {
    let mut demo = demo_household();
    demo["region_code"] = json!(COMMUNITY);
    let mesh = TestMesh::start(Options {
        fixtures: silent_fixtures(&demo),
        ..Default::default()
    })
    .await
    .unwrap();
    let today = business_date();
    mesh.clock.set_local_date(today, 10);
    let (status, accepted) = mesh.submit(&demo).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let app = accepted["application_id"].clone();
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(&household, WITHIN).await.unwrap();

    // On notice from the decision day through the decision day + disclosure_notice_days.
    let days = PolicyBook::builtin()
        .in_force(&RegionCode::parse(COMMUNITY).unwrap(), today)
        .unwrap()
        .disclosure_notice_days;
    let until = today.checked_add_days(Days::new(days.into())).unwrap();
    let notices = |village: &str| format!("/v1/disclosures/notices?village={village}");
    let recipients = |village: &str| format!("/v1/disclosures/recipients?village={village}");
    let (status, list) = mesh
        .get_as(None, "intake", &notices(COMMUNITY))
        .await
        .unwrap();
    assert_eq!(status, 200, "{list}");
    let notice = on(&list, &app).expect("the household is on its community's notice");
    assert_eq!(notice["tier"], json!("dibao"));
    assert_eq!(notice["members"], json!(3));
    assert_eq!(notice["region_code"], json!(COMMUNITY));
    // Surname kept, given name masked without its length; the ID number to its first 6 and
    // last 4 (vault::mask, public style).
    assert_eq!(notice["head_name_masked"], json!("Zhang **"));
    assert_eq!(notice["head_id_number_masked"], json!("410102********0312"));
    assert!(notice["monthly_amount_fen"].as_i64().unwrap() > 0);
    assert_eq!(notice["decided_on"], json!(today.to_string()));
    assert_eq!(notice["notice_until"], json!(until.to_string()));
    let objections = format!("/v1/disclosures/{}/objections", app.as_str().unwrap());
    assert_eq!(notice["objections_to"], json!(objections));
    assert!(notice["how_to_object"].as_str().unwrap().contains("异议"));
    masked(&list, &demo);
    // The township's board shows its villages' notices; another village's does not.
    let (_, township) = mesh
        .get_as(None, "intake", &notices("410102001"))
        .await
        .unwrap();
    assert!(on(&township, &app).is_some());
    let (status, elsewhere) = mesh
        .get_as(None, "intake", &notices(OTHER_VILLAGE))
        .await
        .unwrap();
    assert_eq!((status, on(&elsewhere, &app)), (200, None));
    // Not yet on the long-term list while on notice.
    let (_, current) = mesh
        .get_as(None, "intake", &recipients(COMMUNITY))
        .await
        .unwrap();
    assert_eq!(on(&current, &app), None);
    // A county is not a notice board.
    let (status, _) = mesh
        .get_as(None, "intake", &notices("410102"))
        .await
        .unwrap();
    assert_eq!(status, 422);

    // An objection naming a person by ID number is refused, and the refusal does not repeat it.
    let id = demo["members"][1]["id_number"].as_str().unwrap().to_owned();
    let (status, refused) = mesh
        .post_as(
            None,
            "intake",
            &objections,
            &json!({"summary": format!("{id} 有工作收入")}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{refused}");
    assert_eq!(error_fields(&refused)[0].0, "summary");
    assert!(!refused.to_string().contains(&id));
    // Unknown application: 404.
    let (status, _) = mesh
        .post_as(
            None,
            "intake",
            "/v1/disclosures/00000000-0000-0000-0000-000000000001/objections",
            &json!({"summary": "不符合条件"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);

    // Two days into the notice, an anonymous objection: a report of the township.
    mesh.clock
        .set_local_date(today.checked_add_days(Days::new(2)).unwrap(), 10);
    let (status, taken) = mesh
        .post_as(
            None,
            "intake",
            &objections,
            &json!({"summary": "户主在镇上开了一家店,收入未申报"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{taken}");
    assert_eq!(taken["anonymous"], json!(true));
    let objection_id = taken["objection_id"].as_str().unwrap().to_owned();
    let wang = Who::person("wang.fang");
    let path = format!("/v1/complaints?household_id={household}");
    let deadline = std::time::Instant::now() + WITHIN;
    let report = loop {
        if let Ok((200, list)) = mesh.get_as(Some(&wang), "monitoring", &path).await {
            if let Some(c) = list
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["reference"] == json!(objection_id))
            {
                break c.clone();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no complaint for the objection"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(report["category"], json!("report"));
    assert_eq!(report["received_via"], json!("disclosure_objection"));
    assert_eq!(report["region_code"], json!("410102001"));
    assert_eq!(report["household_id"], json!(household));
    assert_eq!(report["application_id"], app);
    assert_eq!(report["anonymous"], json!(true));
    assert_eq!(report["status"], json!("received"));
    assert!(report["summary"].as_str().unwrap().contains("收入未申报"));

    // After the notice period: off the notice, on the long-term list; objections are 409.
    mesh.clock.set_local_date(until.succ_opt().unwrap(), 10);
    let (_, list) = mesh
        .get_as(None, "intake", &notices(COMMUNITY))
        .await
        .unwrap();
    assert_eq!(on(&list, &app), None);
    let (status, current) = mesh
        .get_as(None, "intake", &recipients(COMMUNITY))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let line = on(&current, &app).expect("the household is on the long-term list");
    assert_eq!(line["head_name_masked"], json!("Zhang **"));
    assert_eq!(line["tier"], json!("dibao"));
    masked(&current, &demo);
    let (_, elsewhere) = mesh
        .get_as(None, "intake", &recipients(OTHER_VILLAGE))
        .await
        .unwrap();
    assert_eq!(on(&elsewhere, &app), None);
    let (status, late) = mesh
        .post_as(
            None,
            "intake",
            &objections,
            &json!({"summary": "不符合条件"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "{late}");
    assert!(late["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&until.to_string()));

    // The objection, investigated and confirmed as fraud, stops the household: it leaves the
    // list of current recipients (intake learns the stop from monitor.household.changed).
    let investigation = format!(
        "/v1/complaints/{}/investigation",
        report["complaint_id"].as_str().unwrap()
    );
    let (status, confirmed) = mesh
        .post_as(
            Some(&Who::person("zhao.min")),
            "monitoring",
            &investigation,
            &json!({
                "finding": "substantiated",
                "findings": "经核查:户主经营小店,收入高于当地低保标准,申请时未申报。",
                "fraud_from_month": line["effective_month"],
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{confirmed}");
    let gone = mesh_tests::eventually(WITHIN, || async {
        mesh.get_as(None, "intake", &recipients(COMMUNITY))
            .await
            .map(|(_, current)| on(&current, &app).is_none())
            .unwrap_or(false)
    })
    .await;
    assert!(
        gone,
        "a household stopped for fraud is still on the long-term list"
    );
    mesh.teardown().await.unwrap();
}
