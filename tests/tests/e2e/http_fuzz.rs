//! Schemathesis (property-based API testing, from PyPI) against `docs/openapi.yaml`, for every
//! service of a running mesh: requests generated from each operation's schema (valid ones and
//! ones that break it), with two checks — no answer is a server error (5xx), and every status
//! code answered is one the document lists for that operation. Bounded: a fixed number of
//! examples per operation and a fixed seed, so a run is repeatable and its length known. Each
//! operation is called with the token of the demo person of its first `x-roles` role (a real
//! token of the dev provider), so that generated requests get past sign-in to the handlers.
//!
//! `deploy/scripts/ensure-infra.sh` (run by `make test`) installs schemathesis, pinned, into
//! `.venv-tests`.

use mesh_tests::{roles, Options, TestMesh, Who};
use policy::Department;
use std::collections::BTreeMap;

/// Examples per operation and phase; with the seed, the run is the same each time.
const EXAMPLES: &str = "12";
const SEED: &str = "20261202";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_get_no_server_error_and_only_documented_status_codes() {
    let root = env!("CARGO_MANIFEST_DIR");
    let st = format!("{root}/../.venv-tests/bin/schemathesis");
    assert!(
        std::path::Path::new(&st).exists(),
        "{st} is missing: `make test` (deploy/scripts/ensure-infra.sh) installs it"
    );
    let mesh = TestMesh::start(Options {
        departments: vec![Department::Housing],
        ..Default::default()
    })
    .await
    .unwrap();
    let document = format!("{root}/../docs/openapi.yaml");
    let mut failed = Vec::new();
    for (service, tag) in [
        ("intake", "intake"),
        ("verification", "verification"),
        ("monitoring", "monitoring"),
        ("payment", "payment"),
        ("relief-housing", "relief"),
    ] {
        // One run per caller: the operations whose first x-role is the same demo person, with
        // that person's token (and one run without a token for the open operations).
        let mut groups: BTreeMap<Option<Who>, Vec<String>> = BTreeMap::new();
        for op in roles::operations()
            .iter()
            .filter(|op| op.tags.iter().any(|t| t == tag || t == "every service"))
        {
            let who = if op.open {
                None
            } else {
                op.roles.iter().find_map(|r| roles::default_for(r, service))
            };
            groups.entry(who).or_default().push(op.id.clone());
        }
        for (who, ids) in groups {
            let bearer = match &who {
                Some(w) => Some(mesh.token_of(w, service).await.unwrap()),
                None => None,
            };
            let url = format!("http://127.0.0.1:{}", mesh.port(service));
            let report = std::env::temp_dir().join(format!("{}-{service}.xml", mesh.prefix));
            let (st, document) = (st.clone(), document.clone());
            let report_path = report.clone();
            let out = tokio::task::spawn_blocking(move || {
                let mut cmd = std::process::Command::new(&st);
                cmd.args(["run", &document, "--url", &url]);
                for id in &ids {
                    cmd.args(["--include-operation-id", id]);
                }
                if let Some(token) = bearer {
                    cmd.args(["--header", &format!("Authorization: Bearer {token}")]);
                }
                cmd.args(["--checks", "not_a_server_error,status_code_conformance"])
                    .args(["--max-examples", EXAMPLES, "--seed", SEED, "--workers", "1"])
                    .args(["--no-shrink", "--request-timeout", "10"])
                    .args(["--report", "junit", "--report-junit-path"])
                    .arg(&report_path)
                    .env("NO_COLOR", "1")
                    .output()
            })
            .await
            .unwrap()
            .expect("schemathesis runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let summary: Vec<&str> = stdout
                .lines()
                .filter(|l| l.contains("passed") || l.contains("failed") || l.contains("error"))
                .collect();
            println!("{service} as {who:?}: {}", summary.join(" | "));
            if !out.status.success() {
                failed.push(format!(
                    "== {service} as {who:?} (exit {}):\n{stdout}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            let _ = std::fs::remove_file(&report);
        }
    }
    mesh.teardown().await.unwrap();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
