//! `make bench-feeds`: compares a departmental feed with a large low-income population database
//! and prints elapsed time, records per second and peak memory. A benchmark, not a test: it
//! asserts nothing but what it needs to be meaningful, and prints figures.
//!
//! It creates a fresh monitoring database (migrated by the service's own migrations), fills it
//! with `--persons` persons in households of three by `COPY`, then streams a `--records`-row CSV
//! feed, generated as it is read, through `monitoring::http::feeds::ingest_csv` — the function behind
//! `POST /v1/feeds/{source}` — which matches chunk by chunk (`id_number = ANY($1)`) and applies
//! the rules in one transaction per chunk. `--match-permille` of the records name an enrolled
//! person (each a different one); the rest name people not in the database. The outbox relay is
//! not running: the events the rules enqueue stay in the outbox table. Then the raw baseline of
//! the same work: the same feed COPYed into a staging table and matched by one join; the ratio
//! of the two is printed.
//!
//! Options: `--persons N` (default 1,000,000), `--records M` (default 1,000,000),
//! `--match-permille P` (default 50), `--source S` (default `death`), `--keep` (keep the
//! database `feedbench_<id>` afterwards).

use bytes::Bytes;
use contract::FeedSource;
use futures::StreamExt;
use monitoring::state::State;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.windows(2)
        .find(|w| w[0] == name)
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(default)
}

/// Peak resident memory of this process (`VmHWM`), in MiB.
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// The `i`th person's ID number: a birth day per thousand people, a sequence within it. People
/// of the database are registered in county 410102; outsiders in 410103, so they never match.
fn person_id(county: &str, i: usize) -> String {
    let day =
        chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap() + chrono::Days::new((i / 1000) as u64);
    mesh_tests::id_number(&format!("{county}{}{:03}", day.format("%Y%m%d"), i % 1000))
}

/// Rows `from..to` of the feed, as CSV lines.
fn feed_chunk(from: usize, to: usize, persons: usize, match_permille: usize) -> Bytes {
    let mut out = String::with_capacity((to - from) * 64);
    for j in from..to {
        let id = if j % 1000 < match_permille {
            // 7919 is prime to any count of the form 2^a 5^b: distinct j, distinct persons.
            person_id("410102", (j * 7919) % persons)
        } else {
            person_id("410103", j % 1_000_000)
        };
        out.push_str(&format!("B-{j},{id},410102001001,2026-01-15\n"));
    }
    Bytes::from(out)
}

/// The feed's CSV body, generated as it is read, 1,000 rows per chunk.
fn feed(
    records: usize,
    persons: usize,
    match_permille: usize,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + Unpin {
    let header = futures::stream::once(async {
        Ok(Bytes::from_static(
            b"record_id,id_number,region_code,occurred_on\n",
        ))
    });
    let rows = futures::stream::iter((0..records).step_by(1000)).map(move |from| {
        Ok(feed_chunk(
            from,
            (from + 1000).min(records),
            persons,
            match_permille,
        ))
    });
    Box::pin(header.chain(rows))
}

/// What the raw baseline measured, in seconds.
struct Raw {
    copy: f64,
    join: f64,
    matched: i64,
}

/// The raw baseline of the comparison: the same generated feed COPYed into an unindexed
/// staging table, then matched with the population by one join on the ID number, counted. No
/// rule, no idempotency claim, no outbox: the database's floor for reading and matching it.
async fn raw_baseline(
    db: &sqlx::PgPool,
    records: usize,
    persons: usize,
    match_permille: usize,
) -> anyhow::Result<Raw> {
    let mut conn = db.acquire().await?;
    sqlx::query(
        "CREATE TABLE bench_raw_feed (record_id TEXT, id_number TEXT, region_code TEXT, occurred_on DATE)",
    )
    .execute(&mut *conn)
    .await?;
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY bench_raw_feed FROM STDIN (FORMAT csv, HEADER true)")
        .await?;
    let mut body = feed(records, persons, match_permille);
    while let Some(Ok(chunk)) = body.next().await {
        copy.send(chunk).await?;
    }
    copy.finish().await?;
    let copy = started.elapsed().as_secs_f64();
    sqlx::query("ANALYZE bench_raw_feed")
        .execute(&mut *conn)
        .await?;
    let started = Instant::now();
    let (matched,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM bench_raw_feed f JOIN persons p ON p.id_number = f.id_number",
    )
    .fetch_one(&mut *conn)
    .await?;
    let join = started.elapsed().as_secs_f64();
    sqlx::query("DROP TABLE bench_raw_feed")
        .execute(&mut *conn)
        .await?;
    Ok(Raw {
        copy,
        join,
        matched,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let persons = arg(&args, "--persons", 1_000_000).max(3);
    let records = arg(&args, "--records", 1_000_000);
    let match_permille = arg(&args, "--match-permille", 50).min(1000);
    let source = args
        .windows(2)
        .find(|w| w[0] == "--source")
        .and_then(|w| FeedSource::parse(&w[1]))
        .unwrap_or(FeedSource::Death);
    let keep = args.iter().any(|a| a == "--keep");
    mesh_tests::init_telemetry("error");

    let id = &Uuid::new_v4().simple().to_string()[..10];
    let database = format!("feedbench_{id}");
    let prefix = format!("fb{id}");
    let url = format!("postgres://postgres@127.0.0.1:5432/{database}");
    let settings: monitoring::Settings = mesh::settings::load_with(
        monitoring::config::DEFAULTS,
        &[
            ("nats.url", mesh_tests::NATS),
            ("nats.prefix", &prefix),
            ("database.url", &url),
            ("database.max_connections", "4"),
        ],
    )?;
    let clock = mesh::Clock::from_settings(&settings.mesh.clock)?;
    let mesh = mesh::Mesh::connect(
        settings.mesh,
        &monitoring::MIGRATOR,
        clock,
        contract::channels::CATALOG,
    )
    .await?;
    let state = State {
        mesh: mesh.clone(),
        policy: Arc::new(policy::PolicyBook::builtin()),
    };
    println!(
        "feed-bench: {persons} persons, {records} {source} records, {match_permille}‰ of them enrolled, database {database}"
    );

    // The population database, by COPY.
    let started = Instant::now();
    let households = persons.div_ceil(3);
    let mut conn = mesh.db.acquire().await?;
    let ns = Uuid::from_u128(0x6665_6564_2d62_656e_6368_0000_0000_0000);
    let household_of = |h: usize| Uuid::new_v5(&ns, format!("household/{h}").as_bytes());
    let mut copy = conn
        .copy_in_raw(
            "COPY households (household_id, chain_id, application_id, region_code, urban, tier, status, monthly_amount_fen, policy_version, effective_month, last_verified_on) FROM STDIN (FORMAT csv)",
        )
        .await?;
    let mut buf = String::new();
    for h in 0..households {
        let hid = household_of(h);
        buf.push_str(&format!(
            "{hid},{},{},410102,true,dibao,active,90000,zz-2024-01,2026-01,2026-01-01\n",
            Uuid::new_v5(&hid, b"chain"),
            Uuid::new_v5(&hid, b"application"),
        ));
        if buf.len() > 1 << 20 {
            copy.send(std::mem::take(&mut buf).into_bytes()).await?;
        }
    }
    copy.send(std::mem::take(&mut buf).into_bytes()).await?;
    copy.finish().await?;
    let mut copy = conn
        .copy_in_raw(
            "COPY persons (member_id, household_id, id_number, name, relation, status, active_from_month) FROM STDIN (FORMAT csv)",
        )
        .await?;
    for i in 0..persons {
        let hid = household_of(i / 3);
        buf.push_str(&format!(
            "{},{hid},{},Bench {i},{},active,2026-01\n",
            Uuid::new_v5(&hid, format!("member/{i}").as_bytes()),
            person_id("410102", i),
            if i % 3 == 0 { "head" } else { "member" },
        ));
        if buf.len() > 1 << 20 {
            copy.send(std::mem::take(&mut buf).into_bytes()).await?;
        }
    }
    copy.send(std::mem::take(&mut buf).into_bytes()).await?;
    copy.finish().await?;
    sqlx::query("ANALYZE households")
        .execute(&mut *conn)
        .await?;
    sqlx::query("ANALYZE persons").execute(&mut *conn).await?;
    drop(conn);
    let loaded = started.elapsed();
    println!(
        "population: {persons} persons in {households} households loaded by COPY in {:.1} s ({:.0} persons/s); peak memory so far {:.1} MiB",
        loaded.as_secs_f64(),
        persons as f64 / loaded.as_secs_f64(),
        peak_mib()
    );

    let peak_before = peak_mib();
    let started = Instant::now();
    // As the city's supervisor posting the file (the route's role and areas).
    let supervisor = mesh::Acting {
        caller: mesh::Caller {
            sub: "sun.li".into(),
            name: "孙丽".into(),
            roles: vec![mesh::Role::CitySupervisor],
            areas: vec!["410100".into()],
            department: None,
            rights: Vec::new(),
        },
        role: mesh::Role::CitySupervisor,
    };
    let report = monitoring::http::feeds::ingest_csv(
        &state,
        source,
        &supervisor,
        &reqwest::header::HeaderMap::new(),
        feed(records, persons, match_permille),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let took = started.elapsed();
    let compared = took.as_secs_f64();
    anyhow::ensure!(
        report.rows_read == records as u64 && report.rejected_count == 0,
        "the feed was not read whole: {report:?}"
    );
    let outbox: (i64,) = sqlx::query_as("SELECT count(*) FROM mesh_outbox")
        .fetch_one(&mesh.db)
        .await
        .unwrap_or((-1,));
    println!(
        "comparison: {} rows read, {} matched, {} not covered, {} stops, {} referrals, {} warnings, {} events in the outbox",
        report.rows_read,
        report.matched,
        report.not_covered,
        report.actions.household_changed,
        report.actions.referrals,
        report.actions.warnings,
        outbox.0,
    );
    println!(
        "comparison: {:.1} s, {:.0} records/s; peak memory {:.1} MiB (before the feed {:.1} MiB)",
        took.as_secs_f64(),
        records as f64 / took.as_secs_f64(),
        peak_mib(),
        peak_before,
    );

    // Again: every record was applied before, so every row is a duplicate.
    let started = Instant::now();
    let again = monitoring::http::feeds::ingest_csv(
        &state,
        source,
        &supervisor,
        &reqwest::header::HeaderMap::new(),
        feed(records, persons, match_permille),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let took = started.elapsed();
    println!(
        "the same feed again: {} duplicates, {} actions, {:.1} s, {:.0} records/s; peak memory {:.1} MiB",
        again.duplicates,
        again.actions.household_changed + again.actions.referrals + again.actions.warnings,
        took.as_secs_f64(),
        records as f64 / took.as_secs_f64(),
        peak_mib(),
    );

    let raw = raw_baseline(&mesh.db, records, persons, match_permille).await?;
    println!(
        "raw baseline (the same feed COPYed into a staging table, then one hash join with persons on id_number): COPY {:.1} s + join {:.2} s = {:.1} s, {} matched",
        raw.copy,
        raw.join,
        raw.copy + raw.join,
        raw.matched,
    );
    println!(
        "ratio mesh / raw: {:.1} x",
        compared / (raw.copy + raw.join).max(1e-9)
    );

    mesh.db.close().await;
    if !keep {
        let mut admin: sqlx::PgConnection = sqlx::Connection::connect(mesh_tests::PG_ADMIN).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
        ))
        .execute(&mut admin)
        .await?;
    }
    let subjects = mesh::Subjects::new(&prefix);
    for stream in mesh::Stream::ALL {
        let _ = mesh.js.delete_stream(stream.name(&subjects)).await;
    }
    Ok(())
}
