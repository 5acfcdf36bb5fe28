//! A department's own system, written with another language's NATS client from the AsyncAPI
//! document alone (tests/python/department_system.py, nats-py), takes a referral and answers it;
//! the household's chain shows the answer, in the same trace.

use mesh_tests::{another_household, silent_fixtures, Options, TestMesh, NATS};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_housing_bureau_system_in_python_answers_its_referral_into_the_chain() {
    let root = env!("CARGO_MANIFEST_DIR");
    let python = format!("{root}/../.venv-tests/bin/python3");
    assert!(
        std::path::Path::new(&python).exists(),
        "{python} is missing: `make test` (deploy/scripts/ensure-infra.sh) creates it with nats-py"
    );
    let mut household = another_household();
    household["members"][0]["flags"] = json!({"housing_hardship": true});
    // The mesh runs medical and education; housing is the bureau's own system.
    let mesh = TestMesh::start(Options {
        fixtures: silent_fixtures(&household),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut bureau = Command::new(&python)
        .arg(format!("{root}/python/department_system.py"))
        .args([
            "--nats",
            NATS,
            "--prefix",
            &mesh.prefix,
            "--department",
            "housing",
            "--count",
            "1",
            "--timeout",
            "40",
        ])
        .spawn()
        .expect("python runs");

    let (status, accepted) = mesh.submit(&household).await.unwrap();
    assert_eq!(status, 202);
    let chain = mesh
        .complete_chain(
            accepted["household_id"].as_str().unwrap(),
            Duration::from_secs(40),
        )
        .await
        .unwrap();
    let exit = tokio::task::spawn_blocking(move || bureau.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        exit.success(),
        "the bureau's system answered its referral and exited cleanly"
    );

    let steps = chain["steps"].as_array().unwrap();
    let push = steps
        .iter()
        .find(|s| {
            s["type"] == json!("referral.push") && s["summary"]["department"] == json!("housing")
        })
        .expect("a housing referral was pushed");
    let answer = steps
        .iter()
        .find(|s| {
            s["type"] == json!("referral.feedback")
                && s["summary"]["department"] == json!("housing")
        })
        .expect("the bureau's feedback is in the chain");
    assert_eq!(
        answer["service"],
        json!("/housing-bureau/allocation-system")
    );
    assert_eq!(answer["causation_id"], push["event_id"]);
    assert_eq!(answer["summary"]["outcome"], json!("granted"));
    assert_eq!(
        answer["summary"]["grant"]["kind"],
        json!("public_rental_housing")
    );
    // The bureau carried the trace context: still one trace from application to payment.
    assert_eq!(
        chain["trace_ids"].as_array().unwrap().len(),
        1,
        "{}",
        chain["trace_ids"]
    );
    let housing = chain["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["department"] == json!("housing"))
        .unwrap();
    assert_eq!(housing["status"], json!("granted"));
    mesh.teardown().await.unwrap();
}
