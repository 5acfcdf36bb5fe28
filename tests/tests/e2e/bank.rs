//! Money out through the bank: accounts proposed by the township and confirmed by a second
//! officer (maker-checker), pain.001 files per dedicated fund account (valid against the official
//! XSD), the simulated bank's pain.002 reports (settlements, an AC01 rejection, a return, a
//! duplicate and a late report) over real NATS, corrections and re-payment under a new
//! instruction once the corrected account is confirmed, the ledger and a reconciliation with
//! nothing unexplained; every step for the roles and areas of its operation, audited.

use mesh_tests::{eventually, id_number, Options, TestMesh, Who};
use reqwest::Method;
use serde_json::{json, Value};
use simulator::bank::BankRules;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);
const DISTRICT: &str = "410102";
const TOWNSHIP: &str = "410102001";
const BANK: &str = "102491000018";
const INVALID: &str = "6222000000000001";
const RETURNING: &str = "6222000000000002";

fn root() -> String {
    format!("{}/..", env!("CARGO_MANIFEST_DIR"))
}

/// Validates `xml` against a vendored official XSD with the Python `xmlschema` package of
/// `.venv-tests` (installed by `deploy/scripts/ensure-infra.sh`).
fn validate(xml: &str, xsd: &str) -> Result<(), String> {
    let python = format!("{}/.venv-tests/bin/python3", root());
    let file = std::env::temp_dir().join(format!("relief-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&file, xml).unwrap();
    let out = std::process::Command::new(&python)
        .args([
            "-c",
            "import sys, xmlschema; xmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])",
            &format!("{}/services/payment/xsd/{xsd}", root()),
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("{python} could not run ({e}): run deploy/scripts/ensure-infra.sh")
        });
    let _ = std::fs::remove_file(&file);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn emergency(n: u32, amount_fen: i64) -> Value {
    json!({
        "region_code": TOWNSHIP,
        "urban": true,
        "person": {"name": format!("Person {n}"), "id_number": id_number(&format!("41010219800101{n:03}"))},
        "hardship": "house fire; belongings lost",
        "stages": [{"amount_fen": amount_fen}],
    })
}

fn person(login: &str) -> Who {
    Who::person(login)
}

/// Proposes an account for `member` as `who` (a township officer: the maker).
async fn propose_as(mesh: &TestMesh, who: &str, member: &str, body: &Value) -> (u16, Value) {
    mesh.send_as(
        Some(&person(who)),
        Method::PUT,
        "payment",
        &format!("/v1/accounts/{member}"),
        body,
    )
    .await
    .unwrap()
}

/// Confirms the change `change` of `member` as `who` (the checker).
async fn confirm_as(mesh: &TestMesh, who: &str, member: &str, change: &Value) -> (u16, Value) {
    mesh.post_as(
        Some(&person(who)),
        "payment",
        &format!("/v1/accounts/{member}/confirm"),
        &json!({ "change_id": change }),
    )
    .await
    .unwrap()
}

fn account(number: &str) -> Value {
    json!({
        "holder_name": "Zhang Wei",
        "account_number": number,
        "bank_code": BANK,
        "region_code": TOWNSHIP,
    })
}

/// A text body (XML, CSV) as the operation's default caller.
async fn text(mesh: &TestMesh, service: &str, path: &str) -> String {
    let r = mesh
        .request(Method::GET, service, path)
        .await
        .unwrap()
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.text().await.unwrap()
}

/// The actions of the service's audit trail by `actor`, as the city's auditor lists them.
async fn audited(mesh: &TestMesh, service: &str, actor: &str) -> Vec<String> {
    let (status, page) = mesh
        .get_as(
            Some(&person("qian.hui")),
            service,
            &format!("/v1/audit?actor={actor}&limit=1000"),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{page}");
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect()
}

/// Every message on `subject` (without prefix) in the payment stream, as published.
async fn published(mesh: &TestMesh, subject: &str) -> Vec<Value> {
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let mut stream = mesh
        .js
        .get_stream(mesh::Stream::Payment.name(&subjects))
        .await
        .unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        if let Ok(m) = stream.direct_get(seq).await {
            if subjects.strip(m.subject.as_str()) == Some(subject) {
                out.push(serde_json::from_slice(&m.payload).unwrap());
            }
        }
    }
    out
}

/// The statuses of the file's payments, by instruction id.
async fn statuses(mesh: &TestMesh, batch_id: &str) -> BTreeMap<String, String> {
    let (_, b) = mesh
        .get("payment", &format!("/v1/batches/{batch_id}"))
        .await
        .unwrap();
    b["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["instruction_id"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn reach(mesh: &TestMesh, batch_id: &str, want: &BTreeMap<String, String>) {
    let ok = eventually(WITHIN, || async { &statuses(mesh, batch_id).await == want }).await;
    assert!(
        ok,
        "file {batch_id}: {:?}, wanted {want:?}",
        statuses(mesh, batch_id).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_go_to_the_bank_once_and_every_one_is_settled_rejected_or_returned_and_reconciled()
{
    let mesh = TestMesh::start(Options {
        departments: vec![],
        bank: Some(BankRules {
            deliver: "nats".into(),
            settle_after_ms: 300,
            return_after_ms: 1000,
            duplicate_reports: true,
            late_reports: true,
            invalid_accounts: vec![INVALID.into()],
            returning_accounts: vec![RETURNING.into()],
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();

    // Four emergency grants, each an instruction at once (act first).
    let amounts = [80_000_i64, 65_050, 70_000, 50_001];
    let mut people = Vec::new(); // (household, member, instruction)
    for (n, amount) in amounts.iter().enumerate() {
        let (status, e) = mesh
            .post(
                "intake",
                "/v1/emergencies",
                &emergency(n as u32 + 1, *amount),
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
        people.push((
            household,
            found[0]["beneficiary_member_id"]
                .as_str()
                .unwrap()
                .to_owned(),
            found[0]["instruction_id"].as_str().unwrap().to_owned(),
        ));
    }
    let month = mesh.today().format("%Y-%m").to_string();
    let [good, bad, ret, late] = [0, 1, 2, 3].map(|i| people[i].clone());

    // Accounts: refused field by field when wrong, and when the body names an officer (the
    // officer is the token's); kept masked; D (late) has none yet.
    let (status, body) = propose_as(
        &mesh,
        "wang.fang",
        &good.1,
        &json!({"holder_name": "", "account_number": "CN12", "bank_code": "1", "region_code": "41"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["fields"].as_array().unwrap().len(), 4);
    let mut named = account("6222000000000100");
    named["officer"] = json!("Li Na");
    let (status, body) = propose_as(&mesh, "wang.fang", &good.1, &named).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], json!("officer"));
    // Only a township officer proposes; only in the township's area: another township's
    // officer does not find the person, and a region outside the token's areas is refused.
    for who in ["zhao.min", "qian.hui", "ma.chao"] {
        let (status, body) = propose_as(&mesh, who, &good.1, &account("6222000000000100")).await;
        assert_eq!(status, 403, "{who}: {body}");
    }
    let mut elsewhere = account("6222000000000100");
    elsewhere["region_code"] = json!("410102002");
    let (status, body) = propose_as(&mesh, "li.qiang", &good.1, &elsewhere).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = propose_as(&mesh, "li.qiang", &good.1, &account("6222000000000100")).await;
    assert_eq!(status, 403, "a region outside the token's areas: {body}");
    let (status, body) = propose_as(&mesh, "wang.fang", &good.1, &elsewhere).await;
    assert_eq!(status, 403, "{body}");

    // Maker-checker: the change is pending until a second officer confirms it.
    let (status, proposed) =
        propose_as(&mesh, "wang.fang", &good.1, &account("6222000000000100")).await;
    assert_eq!(status, 202, "{proposed}");
    assert_eq!(
        proposed["proposed_by"],
        json!({"sub": "wang.fang", "name": "王芳", "role": "township_officer"})
    );
    let change = proposed["change_id"].clone();
    let (_, shown) = mesh
        .get("payment", &format!("/v1/accounts/{}", good.1))
        .await
        .unwrap();
    assert_eq!(shown["account_number"], Value::Null, "{shown}");
    assert_eq!(
        shown["pending"]["account_number"],
        json!("6222********0100")
    );
    assert_eq!(shown["pending"]["proposed_by"]["name"], json!("王芳"));
    let (status, refused) = confirm_as(&mesh, "wang.fang", &good.1, &change).await;
    assert_eq!(status, 403, "the maker does not confirm: {refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("maker-checker"));
    let (status, _) = confirm_as(&mesh, "li.qiang", &good.1, &change).await;
    assert_eq!(
        status, 404,
        "another township's officer does not find the person"
    );
    let (status, _) = confirm_as(&mesh, "zhou.lei", &good.1, &change).await;
    assert_eq!(
        status, 404,
        "another county's officer does not find the person"
    );
    let (status, _) = confirm_as(&mesh, "chen.jing", &good.1, &change).await;
    assert_eq!(status, 403, "an approver is not a checker of accounts");
    let (status, _) = confirm_as(&mesh, "zhao.min", &good.1, &json!(uuid::Uuid::new_v4())).await;
    assert_eq!(status, 409, "a change that is not the one pending");
    let (status, confirmed) = confirm_as(&mesh, "zhao.min", &good.1, &change).await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["version"], json!(1));
    assert_eq!(confirmed["proposed_by"]["sub"], json!("wang.fang"));
    assert_eq!(
        confirmed["confirmed_by"],
        json!({"sub": "zhao.min", "name": "赵敏", "role": "county_officer"})
    );
    let (status, _) = confirm_as(&mesh, "zhao.min", &good.1, &change).await;
    assert_eq!(status, 409, "confirmed once");
    for (p, number) in [(&bad, INVALID), (&ret, RETURNING)] {
        let set = mesh.set_account(&p.1, &account(number)).await;
        assert_eq!(
            set["account_number"],
            json!(format!("{}********{}", &number[..4], &number[12..]))
        );
    }
    let (_, shown) = mesh
        .get("payment", &format!("/v1/accounts/{}", good.1))
        .await
        .unwrap();
    assert_eq!(shown["holder_name"], json!("Zhang **"));
    assert_eq!(shown["confirmed_by"]["name"], json!("赵敏"));
    assert_eq!(shown["proposed_by"]["name"], json!("王芳"));
    assert!(!shown.to_string().contains("6222000000000100"));
    // Read in the area only; the city's auditor reads.
    for (who, want) in [("li.qiang", 404), ("zhou.lei", 404), ("qian.hui", 200)] {
        let (status, body) = mesh
            .get_as(
                Some(&person(who)),
                "payment",
                &format!("/v1/accounts/{}", good.1),
            )
            .await
            .unwrap();
        assert_eq!(status, want, "{who}: {body}");
    }
    // A household's instructions likewise.
    let (status, _) = mesh
        .get_as(
            Some(&person("li.qiang")),
            "payment",
            &format!("/v1/households/{}/instructions", good.0),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);

    // One file for the district's fund account; D blocked for want of an account.
    let (status, made) = mesh
        .post(
            "payment",
            "/v1/batches",
            &json!({"month": month, "district": DISTRICT}),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{made}");
    let batches = made["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0]["nb_of_txs"], json!(3));
    assert_eq!(
        batches[0]["ctrl_sum_fen"],
        json!(amounts[0] + amounts[1] + amounts[2])
    );
    assert_eq!(
        made["blocked"],
        json!([{"instruction_id": late.2, "reason": "no account: the township must set one"}])
    );
    let first = batches[0]["batch_id"].as_str().unwrap().to_owned();
    // The file (full account numbers) is the county's and the auditors': not the operator's,
    // not another county's.
    for (who, want) in [("ma.chao", 403), ("zhou.lei", 404), ("qian.hui", 200)] {
        let (status, _) = mesh
            .get_as(
                Some(&person(who)),
                "payment",
                &format!("/v1/batches/{first}/file"),
            )
            .await
            .unwrap();
        assert_eq!(status, want, "{who}");
    }
    let (status, _) = mesh
        .get_as(
            Some(&person("zhou.lei")),
            "payment",
            &format!("/v1/batches/{first}"),
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "another county's file");
    let xml = text(&mesh, "payment", &format!("/v1/batches/{first}/file")).await;
    validate(&xml, "pain.001.001.03.xsd").unwrap();
    assert!(
        xml.contains("<NbOfTxs>3</NbOfTxs><CtrlSum>2150.50</CtrlSum>"),
        "{xml}"
    );
    for p in [&good, &bad, &ret] {
        let e2e = p.2.replace('-', "");
        assert_eq!(
            xml.matches(&format!("<EndToEndId>{e2e}</EndToEndId>"))
                .count(),
            1
        );
    }

    // Nothing goes into a second file, and the database refuses a payment in two live files.
    let (status, again) = mesh
        .post("payment", "/v1/batches", &json!({"month": month}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["batches"], json!([]));
    let db: sqlx::PgPool = sqlx::PgPool::connect(&mesh.database_url("payment"))
        .await
        .unwrap();
    let twice = sqlx::query(
        "WITH b AS (INSERT INTO batches (batch_id, msg_id, month, district, debtor_account, nb_of_txs, ctrl_sum_fen, xml)
                    VALUES (gen_random_uuid(), 'X-TWICE', $2, $3, '1', 1, 1, '') RETURNING batch_id)
         INSERT INTO batch_items (batch_id, instruction_id, end_to_end_id, amount_fen)
         SELECT batch_id, $1::uuid, 'x', 1 FROM b",
    )
    .bind(uuid::Uuid::parse_str(&good.2).unwrap())
    .bind(&month)
    .bind(DISTRICT)
    .execute(&db)
    .await;
    assert!(
        twice.unwrap_err().to_string().contains("batch_items_once"),
        "a payment in two live files"
    );

    // To the bank (twice: the bank takes a file once); its reports come back over NATS.
    for _ in 0..2 {
        let (status, sent) = mesh
            .post(
                "payment",
                &format!("/v1/batches/{first}/transmit"),
                &json!({}),
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{sent}");
    }
    let want: BTreeMap<String, String> = [
        (good.2.clone(), "settled"),
        (bad.2.clone(), "rejected"),
        (ret.2.clone(), "returned"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    reach(&mesh, &first, &want).await;

    // The bank sent an acceptance, a settlement, the same settlement again, a late acceptance and
    // a return, each valid pain.002; payment took four reports and the duplicate changed nothing.
    let bank_reports = || async {
        let (_, v) = mesh
            .get("bank-simulator", "/v1/status-reports")
            .await
            .unwrap();
        v.as_array().cloned().unwrap_or_default()
    };
    let reports = bank_reports().await;
    let kinds: Vec<&str> = reports
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["acceptance", "settlement", "duplicate", "late", "return"]
    );
    for r in &reports {
        validate(r["xml"].as_str().unwrap(), "pain.002.001.11.xsd")
            .unwrap_or_else(|e| panic!("{} report: {e}", r["kind"]));
    }
    assert!(
        eventually(WITHIN, || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM status_reports")
                .fetch_one(&db)
                .await
                .unwrap()
                == 4
        })
        .await
    );
    mesh.settle(WITHIN).await.unwrap();
    // The same reports over HTTP: taken before, nothing changes.
    for r in &reports {
        let resp = mesh
            .request(Method::POST, "payment", "/v1/bank/status-reports")
            .await
            .unwrap()
            .header("content-type", "application/xml")
            .body(r["xml"].as_str().unwrap().to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["duplicate"], json!(true), "{v}");
    }
    let (status, refused) = mesh
        .post("payment", "/v1/bank/status-reports", &json!({"not": "xml"}))
        .await
        .unwrap();
    assert_eq!(status, 422, "{refused}");
    reach(&mesh, &first, &want).await;

    // The rejected and the returned payment wait for the township.
    let (_, open) = mesh.get("payment", "/v1/corrections").await.unwrap();
    let open: BTreeMap<String, (String, String)> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["instruction_id"].as_str().unwrap().to_owned(),
                (
                    c["status"].as_str().unwrap().to_owned(),
                    c["reason"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    assert_eq!(
        open,
        BTreeMap::from([
            (bad.2.clone(), ("rejected".into(), "AC01".into())),
            (ret.2.clone(), ("returned".into(), "AC04".into())),
        ])
    );
    // Another township's officer has none of them.
    let (_, theirs) = mesh
        .get_as(Some(&person("li.qiang")), "payment", "/v1/corrections")
        .await
        .unwrap();
    assert_eq!(theirs, json!([]));

    // Corrected accounts: proposed, nothing is paid again until a second officer confirms;
    // then each pays again under a new instruction that names the first; D's account is set too.
    let mut body = account("6222000000000200");
    body["reason"] = json!("account corrected after the bank's answer");
    let (status, pending) = propose_as(&mesh, "wang.fang", &bad.1, &body).await;
    assert_eq!(status, 202, "{pending}");
    let (_, still) = mesh.get("payment", "/v1/corrections").await.unwrap();
    assert_eq!(
        still.as_array().unwrap().len(),
        2,
        "a proposal repays nothing"
    );
    let (status, confirmed) = confirm_as(&mesh, "zhao.min", &bad.1, &pending["change_id"]).await;
    assert_eq!(status, 200, "{confirmed}");
    let mut repaid = BTreeMap::new();
    for (p, number) in [(&bad, ""), (&ret, "6222000000000300")] {
        let set = if number.is_empty() {
            confirmed.clone()
        } else {
            let mut body = account(number);
            body["reason"] = json!("account corrected after the bank's answer");
            mesh.set_account(&p.1, &body).await
        };
        assert_eq!(set["version"], json!(2));
        assert_eq!(set["repaid"][0]["instruction_id"], json!(p.2));
        let new = set["repaid"][0]["new_instruction_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_ne!(new, p.2);
        repaid.insert(p.2.clone(), new);
    }
    let (_, open) = mesh.get("payment", "/v1/corrections").await.unwrap();
    assert_eq!(open, json!([]));
    let (_, history) = mesh
        .get("payment", &format!("/v1/accounts/{}", bad.1))
        .await
        .unwrap();
    assert_eq!(history["history"].as_array().unwrap().len(), 2);
    assert_eq!(
        history["history"][1]["confirmed_by"]["sub"],
        json!("zhao.min")
    );
    mesh.set_account(&late.1, &account("6222000000000400"))
        .await;
    // The new instructions' events name the officer who confirmed the account.
    let created = published(&mesh, "payment.instruction.created").await;
    for p in [&bad, &ret] {
        let e = created
            .iter()
            .find(|e| e["data"]["instruction_id"] == json!(repaid[&p.2]))
            .unwrap_or_else(|| panic!("no event for {}", repaid[&p.2]));
        assert_eq!(e["actor"]["sub"], json!("zhao.min"), "{e:#}");
    }
    for p in [&bad, &ret] {
        let list = mesh.instructions(&p.0).await.unwrap();
        assert_eq!(list.len(), 2, "{list:?}");
        let new = list
            .iter()
            .find(|i| i["instruction_id"] == json!(repaid[&p.2]))
            .unwrap();
        assert_eq!(new["reference"], json!(p.2));
        assert_eq!(new["status"], json!("instructed"));
    }

    // Two batches asked for at once: each payment goes into one file only.
    let body = json!({"month": month});
    let (one, two) = tokio::join!(
        mesh.post("payment", "/v1/batches", &body),
        mesh.post("payment", "/v1/batches", &body)
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    let ((status, made), (other_status, other)) =
        if one.0 == 201 { (one, two) } else { (two, one) };
    assert_eq!(status, 201, "{made}");
    assert!(
        (other_status == 200 && other["batches"] == json!([])) || other_status == 409,
        "{other_status} {other}"
    );
    assert_eq!(made["blocked"], json!([]));
    let second = made["batches"][0]["batch_id"].as_str().unwrap().to_owned();
    let xml = text(&mesh, "payment", &format!("/v1/batches/{second}/file")).await;
    validate(&xml, "pain.001.001.03.xsd").unwrap();
    let (_, sent) = mesh
        .post(
            "payment",
            &format!("/v1/batches/{second}/transmit"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(sent["nb_of_txs"], json!(3));
    let want2: BTreeMap<String, String> = [
        repaid[&bad.2].clone(),
        repaid[&ret.2].clone(),
        late.2.clone(),
    ]
    .into_iter()
    .map(|k| (k, "settled".to_owned()))
    .collect();
    reach(&mesh, &second, &want2).await;
    assert!(
        !xml.contains(&bad.2.replace('-', "")) && !xml.contains(&ret.2.replace('-', "")),
        "the first instructions never pay again"
    );
    mesh.settle(WITHIN).await.unwrap();

    // No payment made twice: each instruction in one file, settled at most once.
    let per_instruction: Vec<(uuid::Uuid, i64)> =
        sqlx::query_as("SELECT instruction_id, count(*) FROM batch_items GROUP BY instruction_id")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(per_instruction.len(), 6);
    assert!(per_instruction.iter().all(|(_, n)| *n == 1));
    let settled: Vec<(uuid::Uuid, i64)> = sqlx::query_as(
        "SELECT instruction_id, count(*) FROM journal WHERE event = 'settled' GROUP BY instruction_id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(settled.len(), 5, "A, C (then returned), B', C', D");
    assert!(settled.iter().all(|(_, n)| *n == 1));
    // Every instruction ended settled, rejected or returned.
    let mut ends = BTreeMap::new();
    for p in &people {
        for i in mesh.instructions(&p.0).await.unwrap() {
            ends.insert(
                i["instruction_id"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            );
        }
    }
    assert_eq!(ends.len(), 6);
    assert!(
        ends.values()
            .all(|s| matches!(s.as_str(), "settled" | "rejected" | "returned")),
        "{ends:?}"
    );

    // The chain shows the payment's way to the bank.
    let (_, chain) = mesh
        .get("monitoring", &format!("/v1/households/{}/chain", good.0))
        .await
        .unwrap();
    let moves: Vec<&str> = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["type"] == json!("payment.instruction.status"))
        .filter_map(|s| s["summary"]["status"].as_str())
        .collect();
    let moves: HashSet<&str> = moves.into_iter().collect();
    // `accepted` may be passed over when the settlement is taken in first: never backwards.
    assert!(
        moves.contains("sent")
            && moves.contains("settled")
            && moves.is_subset(&HashSet::from(["sent", "accepted", "settled"])),
        "{moves:?}"
    );

    // The ledger and the reconciliation: everything explained.
    let unbalanced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT journal_id FROM postings GROUP BY journal_id
                                HAVING sum(debit_fen) <> sum(credit_fen)) x",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(unbalanced, 0);
    // The database refuses an entry whose postings do not balance.
    let mut tx = db.begin().await.unwrap();
    let journal_id: i64 = sqlx::query_scalar(
        "INSERT INTO journal (fund_account, district, month, event, amount_fen, reference)
         VALUES ('4101020100000001', $1, $2, 'recovered', 100, 'unbalanced') RETURNING journal_id",
    )
    .bind(DISTRICT)
    .bind(&month)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO postings (journal_id, account, debit_fen) VALUES ($1, '4101020100000001:bank', 100)",
    )
    .bind(journal_id)
    .execute(&mut *tx)
    .await
    .unwrap();
    let refused = tx.commit().await.unwrap_err().to_string();
    assert!(refused.contains("does not balance"), "{refused}");
    let recovery =
        json!({"instruction_id": good.2, "amount_fen": 10_000, "reference": "recovery 2026-001"});
    for (who, want) in [("wang.fang", 403), ("zhou.lei", 404)] {
        let (status, body) = mesh
            .post_as(
                Some(&person(who)),
                "payment",
                "/v1/ledger/recoveries",
                &recovery,
            )
            .await
            .unwrap();
        assert_eq!(status, want, "{who}: {body}");
    }
    let (status, recovered) = mesh
        .post("payment", "/v1/ledger/recoveries", &recovery)
        .await
        .unwrap();
    assert_eq!(status, 201, "{recovered}");
    assert_eq!(
        recovered["actor"],
        json!({"sub": "zhao.min", "name": "赵敏", "role": "county_officer"})
    );
    let by: Option<String> = sqlx::query_scalar(
        "SELECT actor_sub FROM journal WHERE instruction_id = $1 AND event = 'recovered'",
    )
    .bind(uuid::Uuid::parse_str(&good.2).unwrap())
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(by.as_deref(), Some("zhao.min"));
    // The reconciliation is the district's: another county's officer is refused.
    let (status, _) = mesh
        .get_as(
            Some(&person("zhou.lei")),
            "payment",
            &format!("/v1/reconciliation?district={DISTRICT}&month={month}"),
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (_, rec) = mesh
        .get(
            "payment",
            &format!("/v1/reconciliation?district={DISTRICT}&month={month}"),
        )
        .await
        .unwrap();
    let total: i64 = amounts.iter().sum::<i64>() + amounts[1] + amounts[2];
    assert_eq!(
        rec["instructed"],
        json!({"count": 6, "amount_fen": total}),
        "{rec:#}"
    );
    assert_eq!(
        rec["settled"],
        json!({"count": 4, "amount_fen": amounts[0] + amounts[1] + amounts[2] + amounts[3]})
    );
    assert_eq!(
        rec["rejected"],
        json!({"count": 1, "amount_fen": amounts[1]})
    );
    assert_eq!(
        rec["returned"],
        json!({"count": 1, "amount_fen": amounts[2]})
    );
    assert_eq!(rec["pending"], json!({"count": 0, "amount_fen": 0}));
    assert_eq!(rec["recovered"], json!({"count": 1, "amount_fen": 10_000}));
    assert_eq!(rec["difference_fen"], json!(0));
    assert_eq!(rec["unexplained"], json!([]));
    assert_eq!(rec["balanced"], json!(true));
    let csv = text(
        &mesh,
        "payment",
        &format!("/v1/reconciliation?district={DISTRICT}&month={month}&format=csv"),
    )
    .await;
    assert!(
        csv.contains(&format!("{DISTRICT},{month},difference,0,0,0.00,balanced")),
        "{csv}"
    );
    assert!(csv.contains(&format!("{DISTRICT},{month},returned,1,{},", amounts[2])));

    // A ledger that no longer matches a payment is listed, not hidden.
    sqlx::query("DELETE FROM postings WHERE journal_id IN (SELECT journal_id FROM journal WHERE instruction_id = $1 AND event = 'settled')")
        .bind(uuid::Uuid::parse_str(&good.2).unwrap())
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM journal WHERE instruction_id = $1 AND event = 'settled'")
        .bind(uuid::Uuid::parse_str(&good.2).unwrap())
        .execute(&db)
        .await
        .unwrap();
    let (_, rec) = mesh
        .get(
            "payment",
            &format!("/v1/reconciliation?district={DISTRICT}&month={month}"),
        )
        .await
        .unwrap();
    assert_eq!(rec["unexplained"][0]["instruction_id"], json!(good.2));
    assert_eq!(
        rec["difference_fen"],
        json!(0),
        "pending absorbs it: {rec:#}"
    );

    // Everything is in the audit trail: who proposed and confirmed accounts, who made, sent
    // and exported the files, who posted money and read the reports.
    let maker = audited(&mesh, "payment", "wang.fang").await;
    for action in [
        "account.change.propose",
        "account.read",
        "instructions.read",
        "corrections.list",
    ] {
        assert!(maker.iter().any(|a| a == action), "{action}: {maker:?}");
    }
    let checker = audited(&mesh, "payment", "zhao.min").await;
    for action in [
        "account.change.confirm",
        "pain001.export",
        "ledger.recovery.post",
        "reconciliation.read",
    ] {
        assert!(checker.iter().any(|a| a == action), "{action}: {checker:?}");
    }
    let operator = audited(&mesh, "payment", "ma.chao").await;
    for action in ["pain001.make", "pain001.transmit", "status_report.ingest"] {
        assert!(
            operator.iter().any(|a| a == action),
            "{action}: {operator:?}"
        );
    }
    // The file's payments went out as the operator's.
    let sent: Vec<Value> = published(&mesh, "payment.instruction.status")
        .await
        .into_iter()
        .filter(|e| e["data"]["status"] == json!("sent"))
        .collect();
    assert!(!sent.is_empty());
    assert!(
        sent.iter().all(|e| e["actor"]["sub"] == json!("ma.chao")),
        "{sent:#?}"
    );
    let (_, verified) = mesh.get("payment", "/v1/audit/verify").await.unwrap();
    assert_eq!(verified["intact"], json!(true), "{verified}");
    db.close().await;
    mesh.teardown().await.unwrap();
}

/// `<ReqdExctnDt>` of a pain.001 file.
fn execution_date(xml: &str) -> &str {
    let from = xml.find("<ReqdExctnDt>").expect("a ReqdExctnDt") + "<ReqdExctnDt>".len();
    &xml[from..from + 10]
}

/// The files of a `POST /v1/batches` answer, by their execution date: (batch id, payments).
async fn files_by_date(mesh: &TestMesh, made: &Value) -> BTreeMap<String, (String, i64)> {
    let mut out = BTreeMap::new();
    for b in made["batches"].as_array().unwrap() {
        let id = b["batch_id"].as_str().unwrap().to_owned();
        let xml = text(mesh, "payment", &format!("/v1/batches/{id}/file")).await;
        validate(&xml, "pain.001.001.03.xsd").unwrap();
        let prior = out.insert(
            execution_date(&xml).to_owned(),
            (id, b["nb_of_txs"].as_i64().unwrap()),
        );
        assert!(prior.is_none(), "two files of one account for one date");
    }
    out
}

/// DOMAIN.md, Payments: dibao money "is paid monthly … to each recipient's 'one card' bank
/// account, by the 10th of each month (Zhengzhou)" — `payment_due_day = 10` in the parameter
/// sets. A file made on 16 November for December is executed on 10 December, not on the day it
/// is sent; a file for November, whose 10th has passed, on the day it is sent; an emergency
/// stage on its own date. What has no account is blocked, and the reconciliation says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_never_executed_before_the_months_pay_day_and_blocked_payments_are_reconciled() {
    let household = mesh_tests::another_household();
    let mesh = TestMesh::start(Options {
        departments: vec![],
        fixtures: mesh_tests::silent_fixtures(&household),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(mesh.today().to_string(), "2026-11-16");
    let (status, accepted) = mesh.submit(&household).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let h = accepted["household_id"].as_str().unwrap().to_owned();
    let trace_id = accepted["trace_id"].as_str().unwrap().to_owned();
    assert!(
        eventually(WITHIN, || async {
            !mesh.instructions(&h).await.unwrap().is_empty()
        })
        .await,
        "the household is determined and instructed"
    );
    let (status, run) = mesh
        .post("payment", "/v1/runs", &json!({"month": "2026-12"}))
        .await
        .unwrap();
    assert!(status == 202 || status == 200, "{run}");
    assert!(
        mesh.status_becomes("payment", "/v1/runs/2026-12", "completed", WITHIN)
            .await
    );
    let head = mesh.instructions(&h).await.unwrap()[0]["beneficiary_member_id"]
        .as_str()
        .unwrap()
        .to_owned();
    mesh.set_account(&head, &account("6222000000000500")).await;
    // A change nobody confirmed pays nothing: the files pay the account confirmed before.
    let (status, body) = propose_as(&mesh, "wang.fang", &head, &account("6222000000000501")).await;
    assert_eq!(status, 202, "{body}");

    // An emergency paid in two stages, today and on 20 December; the person has no account yet.
    let mut e = emergency(9, 50_000);
    e["stages"] = json!([{"amount_fen": 50_000}, {"amount_fen": 30_000, "pay_after_days": 34}]);
    let (status, e) = mesh.post("intake", "/v1/emergencies", &e).await.unwrap();
    assert_eq!(status, 201, "{e}");
    let person = e["household_id"].as_str().unwrap().to_owned();
    assert!(
        eventually(WITHIN, || async {
            mesh.instructions(&person).await.unwrap().len() == 2
        })
        .await
    );
    let stages = mesh.instructions(&person).await.unwrap();
    let member = stages[0]["beneficiary_member_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, nov) = mesh
        .post("payment", "/v1/batches", &json!({"month": "2026-11"}))
        .await
        .unwrap();
    assert_eq!(status, 201, "{nov}");
    let nov_files = files_by_date(&mesh, &nov).await;
    assert_eq!(
        nov_files.keys().collect::<Vec<_>>(),
        ["2026-11-16"],
        "November's 10th has passed: at once"
    );
    let nov_xml = text(
        &mesh,
        "payment",
        &format!("/v1/batches/{}/file", nov_files["2026-11-16"].0),
    )
    .await;
    assert!(
        nov_xml.contains("6222000000000500") && !nov_xml.contains("6222000000000501"),
        "the confirmed account is paid while the change waits"
    );
    let (status, dec) = mesh
        .post("payment", "/v1/batches", &json!({"month": "2026-12"}))
        .await
        .unwrap();
    assert_eq!(status, 201, "{dec}");
    let dec_files = files_by_date(&mesh, &dec).await;
    assert_eq!(
        dec_files.keys().collect::<Vec<_>>(),
        ["2026-12-10"],
        "December's benefit is not paid in November"
    );
    assert_eq!(dec["blocked"].as_array().unwrap().len(), 1, "{dec}");

    // The reconciliation of December counts the stage blocked for want of an account.
    let (_, rec) = mesh
        .get(
            "payment",
            &format!("/v1/reconciliation?district={DISTRICT}&month=2026-12"),
        )
        .await
        .unwrap();
    assert_eq!(
        rec["blocked"],
        json!({"count": 1, "amount_fen": 30_000}),
        "{rec:#}"
    );
    let csv = text(
        &mesh,
        "payment",
        &format!("/v1/reconciliation?district={DISTRICT}&month=2026-12&format=csv"),
    )
    .await;
    assert!(
        csv.contains(&format!("{DISTRICT},2026-12,blocked,1,30000,300.00,")),
        "{csv}"
    );

    // An account proposed and not yet confirmed pays nothing: the stage stays held.
    let (status, proposed) =
        propose_as(&mesh, "wang.fang", &member, &account("6222000000000600")).await;
    assert_eq!(status, 202, "{proposed}");
    let (status, held) = mesh
        .post("payment", "/v1/batches", &json!({"month": "2026-12"}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{held}");
    assert_eq!(
        held["blocked"][0]["reason"],
        json!("no confirmed account: the account change waits for a second officer's confirmation")
    );
    // Confirmed by a second officer, the stages go out: the second on its own day.
    let (status, body) = confirm_as(&mesh, "zhao.min", &member, &proposed["change_id"]).await;
    assert_eq!(status, 200, "{body}");
    let (status, dec) = mesh
        .post("payment", "/v1/batches", &json!({"month": "2026-12"}))
        .await
        .unwrap();
    assert_eq!(status, 201, "{dec}");
    assert_eq!(
        files_by_date(&mesh, &dec).await.keys().collect::<Vec<_>>(),
        ["2026-12-20"]
    );
    let (_, rec) = mesh
        .get(
            "payment",
            &format!("/v1/reconciliation?district={DISTRICT}&month=2026-12"),
        )
        .await
        .unwrap();
    assert_eq!(rec["blocked"], json!({"count": 0, "amount_fen": 0}));

    // The status steps of the household's first instruction continue the household's trace.
    mesh.settle(WITHIN).await.unwrap();
    let first = mesh
        .instructions(&h)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i["month"] == json!("2026-11"))
        .unwrap();
    let (_, chain) = mesh
        .get("monitoring", &format!("/v1/households/{h}/chain"))
        .await
        .unwrap();
    let sent: Vec<&Value> = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["type"] == json!("payment.instruction.status")
                && s["summary"]["instruction_id"] == first["instruction_id"]
        })
        .collect();
    assert_eq!(sent.len(), 1, "{chain:#}");
    assert_eq!(sent[0]["summary"]["status"], json!("sent"));
    assert_eq!(sent[0]["trace_id"], json!(trace_id), "{chain:#}");
    mesh.teardown().await.unwrap();
}
