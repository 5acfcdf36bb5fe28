//! `make bench`: pushes applications through the whole chain and prints throughput and the
//! latency of each hop. A benchmark, not a test: it asserts nothing and prints figures.
//!
//! Every service runs in this one process (release build) against the real NATS and PostgreSQL
//! on 127.0.0.1, as in the end-to-end tests; data holders are the simulator with generated data.
//!
//! Options: `--applications N` (default 500), `--concurrency C` submitters (default 16).
//!
//! Sign-in is on, as in production: each submission carries a real token of the dev provider
//! (a township officer of 410102001), checked by intake. The run ends with the cost of that
//! check as a share of the time per application, then with the raw ceiling of the same
//! sitting (`../shared/ceiling/run.sh e2e 10000 5`) and the ratio.

use chrono::{DateTime, Utc};
use mesh_tests::{id_number, Options, TestMesh};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.windows(2)
        .find(|w| w[0] == name)
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(default)
}

/// A three-person household with distinct, valid ID numbers.
fn household(i: usize) -> Value {
    // Distinct people: the birth day moves every 333 households, the sequence within them.
    let day =
        chrono::NaiveDate::from_ymd_opt(2001, 1, 1).unwrap() + chrono::Days::new((i / 333) as u64);
    let member = |k: usize, year: u32| {
        let body = format!(
            "410102{year:04}{}{:03}",
            day.format("%m%d"),
            (i % 333) * 3 + k
        );
        json!({
            "name": format!("Bench {i}-{k}"),
            "id_number": id_number(&body),
            "relation": if k == 0 { "head" } else { "member" },
            "declared_monthly_income_fen": if k == 0 { 50_000 } else { 0 },
            "flags": if k == 1 { json!({"serious_illness": true}) } else { json!({}) },
        })
    };
    json!({
        "region_code": "410102001",
        "urban": true,
        "members": [member(0, 1960 + (i % 30) as u32), member(1, 1962 + (i % 30) as u32), member(2, 2010)],
        "commitment": mesh_tests::commitment(0),
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn time_of(step: &Value) -> DateTime<Utc> {
    step["time"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n = arg(&args, "--applications", 500);
    let concurrency = arg(&args, "--concurrency", 16).max(1);
    let mesh = TestMesh::start(Options {
        max_connections: 5,
        log: "error".into(),
        ..Default::default()
    })
    .await?;
    println!(
        "chain-bench: {n} applications, {concurrency} concurrent submitters, prefix {}",
        mesh.prefix
    );

    let started = Instant::now();
    let bodies: Vec<Value> = (0..n).map(household).collect();
    let results: Vec<anyhow::Result<(u16, Value)>> = {
        use futures::StreamExt;
        futures::stream::iter(bodies.iter().map(|b| mesh.submit(b)))
            .buffer_unordered(concurrency)
            .collect()
            .await
    };
    let mut households = Vec::with_capacity(n);
    for r in results {
        let (status, body) = r?;
        anyhow::ensure!(status == 202, "submission refused: {body}");
        households.push(body["household_id"].as_str().unwrap_or_default().to_owned());
    }
    let submitted = started.elapsed();

    let mut chains: BTreeMap<String, Value> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    while chains.len() < households.len() && Instant::now() < deadline {
        for h in households
            .iter()
            .filter(|h| !chains.contains_key(*h))
            .cloned()
            .collect::<Vec<_>>()
        {
            if let Ok((200, c)) = mesh
                .get("monitoring", &format!("/v1/households/{h}/chain"))
                .await
            {
                if c["complete"] == json!(true) {
                    chains.insert(h, c);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(
        chains.len() == households.len(),
        "only {} of {} chains completed",
        chains.len(),
        households.len()
    );

    // Hop latencies from the event times recorded in each chain.
    let hops: &[(&str, &str, &str)] = &[
        (
            "intake → verification",
            "intake.application.submitted",
            "verify.household.verified",
        ),
        (
            "verification → determination",
            "verify.household.verified",
            "eligibility.household.determined",
        ),
        (
            "determination → enrolment",
            "eligibility.household.determined",
            "monitor.household.enrolled",
        ),
        (
            "determination → payment instruction",
            "eligibility.household.determined",
            "payment.instruction.created",
        ),
        (
            "referral push → feedback",
            "referral.push",
            "referral.feedback",
        ),
    ];
    let mut samples: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut end_to_end = Vec::new();
    for c in chains.values() {
        let steps = c["steps"].as_array().cloned().unwrap_or_default();
        let first = |t: &str| steps.iter().find(|s| s["type"] == json!(t)).map(time_of);
        for (name, from, to) in hops {
            if let (Some(a), Some(b)) = (first(from), first(to)) {
                samples
                    .entry(name)
                    .or_default()
                    .push((b - a).num_microseconds().unwrap_or(0) as f64 / 1000.0);
            }
        }
        if let (Some(a), Some(b)) = (steps.first().map(time_of), steps.last().map(time_of)) {
            end_to_end.push((b - a).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
    }
    println!();
    println!(
        "submitted {n} in {:.2} s; all chains complete after {:.2} s",
        submitted.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "throughput: {:.1} applications/s end to end",
        n as f64 / elapsed.as_secs_f64()
    );
    println!();
    println!(
        "{:<40} {:>8} {:>10} {:>10}",
        "hop", "samples", "p50 ms", "p99 ms"
    );
    let print = |name: &str, v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{:<40} {:>8} {:>10.1} {:>10.1}",
            name,
            v.len(),
            percentile(v, 0.5),
            percentile(v, 0.99)
        );
    };
    for (name, _, _) in hops {
        print(name, samples.entry(name).or_default());
    }
    print("first event → last event (one chain)", &mut end_to_end);
    authentication_cost(&mesh, n as f64 / elapsed.as_secs_f64()).await?;
    mesh.teardown().await?;
    ceiling(n as f64 / elapsed.as_secs_f64());
    Ok(())
}

/// The raw ceiling of the same sitting: `../shared/ceiling/run.sh e2e 10000 5` (beside the
/// repository), the mesh's minimum work per hop through five hops with no business logic, and
/// the ratio of the mesh's applications per second to its events per second.
fn ceiling(per_second: f64) {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/ceiling/run.sh");
    println!();
    if !script.exists() {
        println!("raw ceiling: {} not found; no ratio", script.display());
        return;
    }
    println!("raw ceiling: {} e2e 10000 5 ...", script.display());
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(["e2e", "10000", "5"])
        .output();
    let text = match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(e) => {
            println!("raw ceiling: could not run it: {e}");
            return;
        }
    };
    let raw = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("events/s="))
        .and_then(|v| v.parse::<f64>().ok());
    match raw {
        Some(raw) => {
            println!("raw ceiling: {raw:.0} events/s through 5 hops");
            println!(
                "ratio mesh / raw: {:.3} (applications/s of the whole chain over raw 5-hop events/s)",
                per_second / raw.max(1e-9)
            );
        }
        None => println!("raw ceiling: no events/s in its output:\n{text}"),
    }
}

/// What sign-in costs the run: every submission carried a real access token, which intake
/// checked (signature, issuer, audience, expiry, claims) before it read the body. The check is
/// timed here on its own, over the same token, and set against the time the mesh spent per
/// application: the share of the run that authentication can account for.
async fn authentication_cost(mesh: &TestMesh, per_second: f64) -> anyhow::Result<()> {
    let settings: mesh::MeshSettings = mesh.mesh_settings("intake", &[])?;
    let verifier = mesh::auth::Verifier::new(&settings.auth, "intake")?;
    let token = mesh
        .token_of(&mesh_tests::Who::person("wang.fang"), "intake")
        .await?;
    verifier.verify(&token).await.map_err(anyhow::Error::msg)?;
    let rounds = 5_000;
    let started = Instant::now();
    for _ in 0..rounds {
        verifier.verify(&token).await.map_err(anyhow::Error::msg)?;
    }
    let each = started.elapsed().as_secs_f64() / rounds as f64;
    let per_application = 1.0 / per_second;
    println!();
    println!(
        "authentication: {:.1} µs per token check ({rounds} checks, key cached); {:.3} % of the {:.1} ms the mesh spent per application",
        each * 1e6,
        100.0 * each / per_application,
        per_application * 1e3
    );
    Ok(())
}
