//! A department's own system, written with another language's NATS client from the AsyncAPI
//! document alone (tests/python/department_system.py, nats-py): it takes referrals and answers
//! them into the household's chain, in the same trace; it takes over from the mesh's own
//! department service on the contract's durable, corrects an answer, is told on its refused
//! subject that a contradicting answer was refused; and the service, started again, answers
//! nothing it had missed a second time.

use mesh_tests::{another_household, silent_fixtures, Options, TestMesh, NATS};
use policy::Department;
use serde_json::{json, Value};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(40);

/// The bureau's system, running; its stdout line by line.
struct Bureau {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Bureau {
    fn spawn(mesh: &TestMesh, args: &[&str]) -> Bureau {
        let root = env!("CARGO_MANIFEST_DIR");
        let python = format!("{root}/../.venv-tests/bin/python3");
        assert!(
            std::path::Path::new(&python).exists(),
            "{python} is missing: `make test` (deploy/scripts/ensure-infra.sh) creates it with nats-py"
        );
        let mut child = Command::new(&python)
            .arg(format!("{root}/python/department_system.py"))
            .args([
                "--nats",
                NATS,
                "--prefix",
                &mesh.prefix,
                "--department",
                "housing",
            ])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python runs");
        let out = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Bureau {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line `line`.
    async fn wait_for(mut self, line: &str) -> Bureau {
        let line = line.to_owned();
        tokio::task::spawn_blocking(move || {
            loop {
                match self.lines.recv_timeout(WITHIN) {
                    Ok(l) if l == line => break,
                    Ok(l) => self.seen.push(l),
                    Err(e) => panic!(
                        "the bureau's system never printed {line:?} ({e}); it printed {:?}",
                        self.seen
                    ),
                }
            }
            self
        })
        .await
        .unwrap()
    }

    /// Waits for it to exit; its exit success and its last line, as JSON.
    async fn finish(self) -> (bool, Value) {
        tokio::task::spawn_blocking(move || {
            let Bureau {
                mut child,
                lines,
                mut seen,
            } = self;
            let status = child.wait().expect("python ran");
            seen.extend(lines.try_iter());
            let last = seen.last().cloned().unwrap_or_default();
            (
                status.success(),
                serde_json::from_str(&last).unwrap_or(Value::String(seen.join("\n"))),
            )
        })
        .await
        .unwrap()
    }
}

async fn submit(mesh: &TestMesh, h: &Value) -> String {
    let (status, accepted) = mesh.submit(h).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    accepted["household_id"].as_str().unwrap().to_owned()
}

fn housing_household() -> Value {
    let mut h = another_household();
    h["members"][0]["flags"] = json!({"housing_hardship": true});
    h
}

fn housing_steps(chain: &Value) -> Vec<Value> {
    chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["type"] == json!("referral.feedback")
                && s["summary"]["department"] == json!("housing")
        })
        .cloned()
        .collect()
}

fn housing_referral(chain: &Value) -> Value {
    chain["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["department"] == json!("housing"))
        .expect("a housing referral")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_housing_bureau_system_in_python_answers_its_referral_into_the_chain() {
    let household = housing_household();
    // The mesh runs medical and education; housing is the bureau's own system, starting fresh
    // with a durable of its own that delivers only referrals pushed from now on.
    let mesh = TestMesh::start(Options {
        fixtures: silent_fixtures(&household),
        ..Default::default()
    })
    .await
    .unwrap();
    let bureau = Bureau::spawn(
        &mesh,
        &[
            "--durable",
            "housing-bureau-fresh",
            "--create",
            "new",
            "--count",
            "1",
            "--timeout",
            "40",
        ],
    )
    .wait_for("ready")
    .await;

    let (status, accepted) = mesh.submit(&household).await.unwrap();
    assert_eq!(status, 202);
    let chain = mesh
        .complete_chain(accepted["household_id"].as_str().unwrap(), WITHIN)
        .await
        .unwrap();
    let (ok, summary) = bureau.finish().await;
    assert!(
        ok,
        "the bureau's system answered its referral and exited cleanly: {summary}"
    );

    let steps = chain["steps"].as_array().unwrap();
    let push = steps
        .iter()
        .find(|s| {
            s["type"] == json!("referral.push") && s["summary"]["department"] == json!("housing")
        })
        .expect("a housing referral was pushed");
    let answers = housing_steps(&chain);
    assert_eq!(answers.len(), 1, "{answers:#?}");
    let answer = &answers[0];
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
    assert_eq!(housing_referral(&chain)["status"], json!("granted"));
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bureau_takes_over_from_the_relief_service_and_hands_back_without_a_second_answer() {
    let households: Vec<Value> = (0..7).map(|_| housing_household()).collect();
    let mut fixtures = simulator::Fixtures::new();
    for h in &households {
        fixtures.extend(silent_fixtures(h));
    }
    let mut mesh = TestMesh::start(Options {
        departments: vec![
            Department::Medical,
            Department::Education,
            Department::Housing,
        ],
        fixtures,
        ..Default::default()
    })
    .await
    .unwrap();
    // The mesh's own housing service answers the first household, then stops.
    let first = submit(&mesh, &households[0]).await;
    let chain = mesh.complete_chain(&first, WITHIN).await.unwrap();
    assert_eq!(housing_steps(&chain)[0]["service"], json!("relief-housing"));
    mesh.settle(WITHIN).await.unwrap();
    mesh.stop("relief-housing").await.unwrap();

    // The bureau's system takes over on the contract's durable: the five referrals pushed
    // meanwhile are its own to answer. It corrects its first answer and answers the second
    // again, differently: refused, and told so on its refused subject.
    let bureau = Bureau::spawn(
        &mesh,
        // The contract's durable, bound as it is; created (only referrals from now on) where
        // no platform made it (a test deployment that never ran the mesh's housing service).
        &[
            "--create",
            "new",
            "--count",
            "5",
            "--correct",
            "--contradict",
            "--timeout",
            "90",
        ],
    )
    .wait_for("ready")
    .await;
    let mut taken_over = Vec::new();
    for h in &households[1..6] {
        taken_over.push(submit(&mesh, h).await);
    }
    let (ok, summary) = bureau.finish().await;
    assert!(ok, "the bureau answered five referrals: {summary:#}");
    let answered = summary["answered"].as_object().unwrap().clone();
    assert_eq!(answered.len(), 5, "{summary:#}");
    let refused = &summary["refused"];
    assert_eq!(refused["code"], json!("already_answered"), "{summary:#}");
    let contradicted = refused["referral_id"].as_str().unwrap();
    assert_eq!(refused["answer_in_force"], answered[contradicted]);
    let corrected = summary["corrected"]["referral_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Handed back: the service reads the same durable from where the bureau left it, and
    // answers only what is pushed from now on.
    mesh.launch("relief-housing").await.unwrap();
    let last = submit(&mesh, &households[6]).await;
    let chain = mesh.complete_chain(&last, WITHIN).await.unwrap();
    let steps = housing_steps(&chain);
    assert_eq!(steps.len(), 1, "{steps:#?}");
    assert_eq!(steps[0]["service"], json!("relief-housing"));
    mesh.settle(WITHIN).await.unwrap();

    for household in &taken_over {
        let chain = mesh.complete_chain(household, WITHIN).await.unwrap();
        let referral = housing_referral(&chain);
        let id = referral["referral_id"].as_str().unwrap().to_owned();
        assert!(
            answered.contains_key(&id),
            "{id} was answered by the bureau"
        );
        let steps = housing_steps(&chain);
        let by: Vec<(&str, &str)> = steps
            .iter()
            .map(|s| {
                (
                    s["service"].as_str().unwrap(),
                    s["summary"]["outcome"].as_str().unwrap(),
                )
            })
            .collect();
        let bureau = "/housing-bureau/allocation-system";
        if id == corrected {
            assert_eq!(by, [(bureau, "granted"), (bureau, "corrected")]);
            assert_eq!(
                steps[1]["summary"]["grant"]["kind"],
                json!("housing_rent_subsidy")
            );
            assert_eq!(steps[1]["summary"]["grant"]["period"], json!("monthly"));
        } else {
            assert_eq!(by, [(bureau, "granted")], "{id}");
        }
        assert_eq!(referral["status"], json!("granted"));
        // The service has no case of it: it never answered it.
        let (status, _) = mesh
            .get("relief-housing", &format!("/v1/cases/{id}"))
            .await
            .unwrap();
        assert_eq!(status, 404, "relief-housing answered {id}");
    }
    let (_, refusals) = mesh
        .get("monitoring", "/v1/refused-feedback?department=housing")
        .await
        .unwrap();
    let refusals = refusals.as_array().unwrap();
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert_eq!(refusals[0]["referral_id"], json!(contradicted));
    mesh.teardown().await.unwrap();
}
