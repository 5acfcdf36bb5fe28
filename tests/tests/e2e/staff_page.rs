//! The staff page, served by monitoring, in Debian's headless Chromium against a running mesh:
//! a household's chain as a timeline with its referrals and warnings, found by household id or
//! by referral id. The page is open; its data calls carry the access token it was given (here in
//! the URL's fragment, as a real sign-in would hand it over), and without one it asks for it.
//! The screenshot is kept in `target/test-artifacts/staff-page.png`.

use mesh_tests::{demo_household, silent_fixtures, Options, TestMesh, Who};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Runs headless Chromium on `url` with `args`; returns what it printed.
async fn chromium(url: String, args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let profile =
            std::env::temp_dir().join(format!("relief-chromium-{}", uuid::Uuid::new_v4()));
        let out = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                // Let the page's fetches finish before the DOM is read or the picture taken.
                "--virtual-time-budget=10000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(&args)
            .arg(&url)
            .output()
            .expect("chromium runs (make test installs Debian's chromium)");
        let _ = std::fs::remove_dir_all(&profile);
        assert!(
            out.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap()
}

fn artifacts() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_a_households_chain_as_a_timeline_in_a_browser() {
    let demo = demo_household();
    let mesh = TestMesh::start(Options {
        fixtures: silent_fixtures(&demo),
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&demo).await.unwrap();
    let household = accepted["household_id"].as_str().unwrap().to_owned();
    let trace = accepted["trace_id"].as_str().unwrap().to_owned();
    let chain = mesh
        .complete_chain(&household, Duration::from_secs(30))
        .await
        .unwrap();
    let page = mesh.url("monitoring", "/staff");
    // The page itself needs no token.
    let r = mesh.http.get(&page).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("Access token"));
    // Without a token the page shows nothing of the chain and asks for one.
    let dom = chromium(format!("{page}?q={household}"), vec!["--dump-dom".into()]).await;
    assert!(!dom.contains(r#"data-loaded="true""#), "{dom}");
    assert!(dom.contains("sign in first"), "{dom}");
    // As the township officer of the household's township (王芳).
    let token = mesh
        .token_of(&Who::person("wang.fang"), "monitoring")
        .await
        .unwrap();
    let signed_in = |q: &str| format!("{page}?q={q}#access_token={token}");

    let dom = chromium(signed_in(&household), vec!["--dump-dom".into()]).await;
    assert!(
        dom.contains(r#"data-loaded="true""#),
        "the page rendered the chain:\n{dom}"
    );
    for step in [
        "intake.application.submitted",
        "verify.household.verified",
        "eligibility.household.determined",
        "referral.push",
        "referral.feedback",
        "payment.instruction.created",
    ] {
        assert!(
            dom.contains(&format!(r#"data-type="{step}""#)),
            "{step} is on the timeline"
        );
    }
    assert!(dom.contains(&trace), "the trace id is shown");
    assert!(
        dom.contains("signed in as 王芳"),
        "the page names who is signed in"
    );
    assert!(
        !dom.contains(&token),
        "the token leaves the address once the page has it"
    );
    assert!(dom.contains("complete") && dom.contains("no open warnings"));
    assert!(
        dom.contains("2210.00 yuan a month"),
        "the determination's amount is shown"
    );
    for m in demo["members"].as_array().unwrap() {
        assert!(
            !dom.contains(m["id_number"].as_str().unwrap()),
            "no ID numbers on the page"
        );
        assert!(
            !dom.contains(m["name"].as_str().unwrap()),
            "no names on the page"
        );
    }

    // Found by a referral id too.
    let referral = chain["referrals"][0]["referral_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dom = chromium(signed_in(&referral), vec!["--dump-dom".into()]).await;
    assert!(
        dom.contains(&household),
        "the referral led to its household's chain"
    );
    // And an unknown id says so.
    let dom = chromium(
        signed_in("00000000-0000-0000-0000-000000000000"),
        vec!["--dump-dom".into()],
    )
    .await;
    assert!(dom.contains("Nothing found for"), "{dom}");
    // An officer of another township (李强, 410102002) finds nothing of this household.
    let other = mesh
        .token_of(&Who::person("li.qiang"), "monitoring")
        .await
        .unwrap();
    let dom = chromium(
        format!("{page}?q={household}#access_token={other}"),
        vec!["--dump-dom".into()],
    )
    .await;
    assert!(
        dom.contains("Nothing found for") && !dom.contains(r#"data-loaded="true""#),
        "{dom}"
    );

    let shot = artifacts().join("staff-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        signed_in(&household),
        vec![
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000".into(),
        ],
    )
    .await;
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 20_000,
        "a screenshot of the page was kept ({size} bytes at {})",
        shot.display()
    );
    mesh.teardown().await.unwrap();
}
