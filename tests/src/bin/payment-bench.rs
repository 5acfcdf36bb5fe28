//! `make bench-payment`: the monthly payment run over a million enrolled households. A
//! benchmark, not a test: it asserts nothing and prints figures.
//!
//! Seeds the households straight into a fresh payment database (COPY into `entitlements`: 85 %
//! three-person dibao households with varied income and add-ons, 10 % destitute persons, half of
//! them in a care institution, 5 % single-person dibao members), then runs one month through the
//! real run code (`payment::runs::start`: keyset-ordered chunks, each one transaction with its
//! instructions, outbox rows and progress) and prints elapsed time, households/s, instructions
//! and the peak resident memory of this process (VmHWM). The outbox relay does not run: the
//! rows stay in `mesh_outbox`, as they would until the relay publishes them. Then the raw
//! baseline of the same work: the rows the run wrote (instructions and outbox rows), COPYed
//! into tables like the mesh's in one transaction; the ratio of the two is printed. The database and
//! the streams are dropped afterwards unless `--keep`.
//!
//! Options: `--households N` (default 1,000,000), `--chunk C` (default 1000), `--keep`.

use chrono::NaiveDate;
use mesh::settings::load_with;
use payment::entitlements::{Facts, Member};
use policy::determination::SelfCare;
use policy::{Month, Tier};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.windows(2)
        .find(|w| w[0] == name)
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(default)
}

fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// What the raw baseline did.
struct Raw {
    rows: u64,
    seconds: f64,
}

/// The raw baseline of the run: the rows the run wrote (its month's instructions and the
/// outbox rows), read out first, then COPYed into fresh tables like the mesh's (indexes
/// included) in one transaction, timed. The tables are dropped again.
async fn raw_copy(db: &sqlx::PgPool, month: Month) -> anyhow::Result<Raw> {
    use futures::TryStreamExt;
    let mut conn = db.acquire().await?;
    let mut out = Vec::new();
    for (table, select) in [
        (
            "instructions",
            format!("SELECT * FROM instructions WHERE month = '{month}'"),
        ),
        ("mesh_outbox", "SELECT * FROM mesh_outbox".to_owned()),
    ] {
        let raw = format!("bench_raw_{table}");
        sqlx::query(&format!(
            "CREATE TABLE {raw} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
        ))
        .execute(&mut *conn)
        .await?;
        let mut data: Vec<u8> = Vec::new();
        let mut rows = conn
            .copy_out_raw(&format!("COPY ({select}) TO STDOUT"))
            .await?;
        while let Some(chunk) = rows.try_next().await? {
            data.extend_from_slice(&chunk);
        }
        drop(rows);
        out.push((raw, data));
    }
    let started = Instant::now();
    let mut tx = sqlx::Acquire::begin(&mut *conn).await?;
    let mut rows = 0;
    for (raw, data) in &out {
        let mut copy = tx.copy_in_raw(&format!("COPY {raw} FROM STDIN")).await?;
        for part in data.chunks(4 << 20) {
            copy.send(part).await?;
        }
        rows += copy.finish().await?;
    }
    tx.commit().await?;
    let seconds = started.elapsed().as_secs_f64();
    for (raw, _) in &out {
        sqlx::query(&format!("DROP TABLE {raw}"))
            .execute(&mut *conn)
            .await?;
    }
    Ok(Raw { rows, seconds })
}

fn member(relation: &str, birth: NaiveDate, tiers: Vec<Tier>) -> Member {
    Member {
        member_id: Uuid::new_v4(),
        relation: relation.into(),
        birth_date: birth,
        tiers,
        severe_disability: false,
        serious_illness: false,
        college_student: false,
        self_care: SelfCare::Full,
        in_care_institution: false,
        support: None,
        own_income_fen: 0,
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// The i-th household's facts.
fn facts(i: usize) -> Facts {
    let year = 1950 + (i % 40) as i32;
    match i % 20 {
        // Destitute: one person, self-care ability varied, every other one in a care institution.
        0 | 1 => {
            let mut m = member("head", date(year - 10, 3, 1), vec![Tier::Destitute]);
            m.self_care = [SelfCare::Full, SelfCare::Partial, SelfCare::None][i % 3];
            m.in_care_institution = i.is_multiple_of(2);
            Facts {
                urban: !i.is_multiple_of(3),
                tier: Tier::Destitute,
                per_capita_income_fen: 0,
                members: vec![m],
                redeterminations: Vec::new(),
            }
        }
        // Single-person dibao: a seriously ill member of a marginal household.
        2 => {
            let mut m = member(
                "head",
                date(year, 5, 1),
                vec![Tier::SinglePersonDibao, Tier::Marginal],
            );
            m.serious_illness = true;
            m.own_income_fen = 20000 + (i % 7) as i64 * 1000;
            Facts {
                urban: true,
                tier: Tier::SinglePersonDibao,
                per_capita_income_fen: 95000,
                members: vec![m, member("spouse", date(year, 6, 1), vec![Tier::Marginal])],
                redeterminations: Vec::new(),
            }
        }
        // Dibao: three people, income and add-ons varied.
        _ => {
            let mut spouse = member("spouse", date(year + 2, 7, 1), vec![Tier::Dibao]);
            spouse.serious_illness = i.is_multiple_of(3);
            Facts {
                urban: !i.is_multiple_of(4),
                tier: Tier::Dibao,
                per_capita_income_fen: (i % 50) as i64 * 1000,
                members: vec![
                    member("head", date(year, 1, 15), vec![Tier::Dibao]),
                    spouse,
                    member(
                        "child",
                        date(2012 + (i % 8) as i32, 9, 1),
                        vec![Tier::Dibao],
                    ),
                ],
                redeterminations: Vec::new(),
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let households = arg(&args, "--households", 1_000_000);
    let chunk = arg(&args, "--chunk", 1000);
    let keep = args.iter().any(|a| a == "--keep");
    mesh_tests::init_telemetry("warn");

    let prefix = format!("pbench{}", &Uuid::new_v4().simple().to_string()[..8]);
    let db_url = format!("postgres://postgres@127.0.0.1:5432/{prefix}_payment");
    let chunk_text = chunk.to_string();
    let settings: payment::Settings = load_with(
        payment::config::DEFAULTS,
        &[
            ("service", "payment"),
            ("nats.url", mesh_tests::NATS),
            ("nats.prefix", &prefix),
            ("http.port", "0"),
            ("database.url", &db_url),
            ("database.max_connections", "4"),
            ("payment.run.chunk_size", &chunk_text),
            ("payment.run.schedule_interval_ms", "0"),
        ],
    )?;
    let policy = Arc::new(mesh::settings::policy_book(
        settings.payment.policy_file.as_deref(),
    )?);
    let clock = mesh::Clock::from_settings(&settings.mesh.clock)?;
    let mesh = mesh::Mesh::connect(
        settings.mesh,
        &payment::MIGRATOR,
        clock,
        contract::channels::CATALOG,
    )
    .await?;
    let state = payment::State {
        runner: Arc::new(payment::runs::Runner::new(None, mesh.metrics.registry())),
        mesh: mesh.clone(),
        policy,
        fund_accounts: Arc::new(settings.payment.fund_accounts()?),
        initiating_party: settings.payment.initiating_party.clone(),
        bank_url: None,
        http: reqwest::Client::new(),
        settings: Arc::new(settings.payment),
    };
    tokio::spawn(payment::runs::work(state.clone()));
    let month = Month::of(mesh.today()).next();
    let effective = Month::of(mesh.today()).to_string();

    println!("Seeding {households} households into {prefix}_payment (COPY) ...");
    let seeding = Instant::now();
    {
        let mut conn = mesh.db.acquire().await?;
        let mut copy = conn
            .copy_in_raw(
                "COPY entitlements (household_id, chain_id, region_code, effective_month, facts, policy_version, source_event_id) FROM STDIN",
            )
            .await?;
        let mut buf = String::with_capacity(8 << 20);
        for i in 0..households {
            let f = serde_json::to_string(&facts(i))?;
            buf.push_str(&format!(
                "{}\t{}\t410102\t{effective}\t{f}\tzz-2024-01\t{}\n",
                Uuid::new_v4(),
                Uuid::new_v4(),
                Uuid::new_v4()
            ));
            if buf.len() > (4 << 20) {
                copy.send(buf.as_bytes()).await?;
                buf.clear();
            }
        }
        copy.send(buf.as_bytes()).await?;
        copy.finish().await?;
        sqlx::query("ANALYZE entitlements")
            .execute(&mut *conn)
            .await?;
    }
    println!(
        "Seeded in {:.1} s; peak memory so far {}.",
        seeding.elapsed().as_secs_f64(),
        peak_memory()
    );

    println!("Running {month} in chunks of {chunk} ...");
    let started = Instant::now();
    payment::runs::start(&state, month, None).await?;
    let run = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let run = payment::runs::get(&state, month)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the run vanished"))?;
        if matches!(
            run.status,
            payment::domain::RunStatus::Completed | payment::domain::RunStatus::Failed
        ) {
            break run;
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM mesh_outbox")
        .fetch_one(&mesh.db)
        .await?;
    let instructions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM instructions WHERE month = $1")
            .bind(month.to_string())
            .fetch_one(&mesh.db)
            .await?;
    println!();
    println!("payment run {month}: {}", run.status);
    println!("  households            {}", run.households);
    println!("  households skipped    {}", run.households_skipped);
    println!("  chunks                {}", run.chunks);
    println!("  instructions created  {}", run.instructions_created);
    println!("  instructions in table {instructions}");
    println!("  outbox rows           {outbox}");
    println!("  total                 {}", policy::Fen(run.total_fen));
    println!("  elapsed               {elapsed:.1} s");
    println!(
        "  households/s          {:.0}",
        run.households as f64 / elapsed
    );
    println!(
        "  instructions/s        {:.0}",
        run.instructions_created as f64 / elapsed
    );
    println!("  peak memory (VmHWM)   {}", peak_memory());
    if let Some(e) = &run.error {
        println!("  error                 {e}");
    }
    let raw = raw_copy(&mesh.db, month).await?;
    println!();
    println!(
        "raw baseline: a plain COPY of the same rows (the run's instructions and outbox rows,"
    );
    println!("into tables like the mesh's, with their indexes, one transaction)");
    println!("  rows                  {}", raw.rows);
    println!("  elapsed               {:.1} s", raw.seconds);
    println!(
        "  ratio mesh / raw      {:.1} x",
        elapsed / raw.seconds.max(1e-9)
    );

    mesh.db.close().await;
    if !keep {
        let subjects = mesh::Subjects::new(&prefix);
        for stream in mesh::Stream::ALL {
            let _ = mesh.js.delete_stream(stream.name(&subjects)).await;
        }
        let mut admin: sqlx::PgConnection = sqlx::Connection::connect(PG_ADMIN).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{prefix}_payment\" WITH (FORCE)"
        ))
        .execute(&mut admin)
        .await?;
    }
    Ok(())
}
