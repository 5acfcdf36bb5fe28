//! The monthly run: for a month, every household in the entitlements register gets what it is
//! owed for that month, once.
//!
//! - Households are taken in `household_id` order, `payment.run.chunk_size` at a time; each chunk
//!   is one transaction holding its instructions, their `payment.instruction.created` outbox rows
//!   and the run's progress (`payment_runs.cursor`, counts, totals). A run that fails or whose
//!   process dies resumes after the last committed chunk: nothing is done twice, nothing skipped.
//! - Every instruction has a stable id (v5 of beneficiary, month, kind and reference), so the
//!   instruction made when the household was determined and the run's for that month are one,
//!   and running a month again creates nothing.
//! - A determination that arrives while (or after) a month is being run instructs that month
//!   itself ([`months_to_instruct`]), under a lock that orders it with the run's start.
//! - The scheduler ([`schedule`]) starts the run for the next month on `payment_run_day` (and
//!   resumes a month's run left unfinished by a stop, a crash or a failure), and
//!   raises `payment.run.alert` (an error log line and `relief_payment_run_alerts_total`) when
//!   the month's run has failed or is not completed by `payment_run_deadline_day`, before the
//!   pay-by day `payment_due_day`. The days come from the parameter sets in force.

use crate::app::State;
use crate::entitlements::{self, Facts, Payment, Stage, Stops};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use contract::{InstructionCreated, RecoveryOpened, RunAlert, RunCompleted};
use mesh::subjects::{
    PAYMENT_INSTRUCTION_CREATED, PAYMENT_RECOVERY_OPENED, PAYMENT_RUN_ALERT, PAYMENT_RUN_COMPLETED,
};
use mesh::{ChainRef, Envelope};
use policy::determination::Payee;
use policy::{Month, ParameterSet, RegionCode};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Taken shared by a determination, exclusively when a run is created: a household determined
/// concurrently is either seen by the run or sees the run.
const RUN_LOCK: i64 = 0x7061_796d_656e_7431;

const RUN_NAMESPACE: Uuid = Uuid::from_u128(0x1b7e_40c2_8d0f_4a57_b3c6_5f02_91d4_e7a8);

/// In-process state of the runs: which months this process is running, the queue of months to
/// run (worked by [`work`], a task of the service, so a crash of the service stops its runs
/// too), the injected fault.
pub struct Runner {
    active: Mutex<HashSet<Month>>,
    fail_after_chunks: Mutex<Option<u32>>,
    alerts: prometheus::IntCounterVec,
    queue: mpsc::UnboundedSender<Month>,
    inbox: Mutex<Option<mpsc::UnboundedReceiver<Month>>>,
}

impl Runner {
    pub fn new(fail_after_chunks: Option<u32>, registry: &prometheus::Registry) -> Self {
        let alerts = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "payment_run_alerts_total",
                "Alerts raised about a monthly payment run, by reason (failed, not_completed_by_deadline).",
            ),
            &["reason"],
        )
        .expect("valid metric");
        // Registered once per service instance; a second registration only loses the export.
        let _ = registry.register(Box::new(alerts.clone()));
        let (queue, inbox) = mpsc::unbounded_channel();
        Self {
            active: Mutex::new(HashSet::new()),
            fail_after_chunks: Mutex::new(fail_after_chunks),
            alerts,
            queue,
            inbox: Mutex::new(Some(inbox)),
        }
    }
}

/// A household as the register holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Household {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub region_code: String,
    pub effective_month: Option<String>,
    pub facts: Option<Json<Facts>>,
    pub source_event_id: String,
}

/// What instructing some households for a month came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub households: i64,
    pub skipped: i64,
    pub created: i64,
    pub existing: i64,
    pub total_fen: i64,
    pub created_fen: i64,
}

/// Instructs what `households` are owed for `month` in `tx`: one instruction per payment, made
/// once, each new one with its `payment.instruction.created` in the outbox. A household whose
/// payments cannot be computed is logged (by id) and counted as skipped.
pub async fn instruct(
    state: &State,
    tx: &mut PgConnection,
    households: &[Household],
    month: Month,
    today: NaiveDate,
) -> anyhow::Result<Totals> {
    let mut totals = Totals {
        households: households.len() as i64,
        ..Totals::default()
    };
    if households.is_empty() {
        return Ok(totals);
    }
    let ids: Vec<Uuid> = households.iter().map(|h| h.household_id).collect();
    let mut stops = stops_of(tx, &ids).await?;
    let mut stages: HashMap<Uuid, Vec<Stage>> = HashMap::new();
    let rows: Vec<(Uuid, Stage)> = sqlx::query_as::<_, StageRow>(
        "SELECT household_id, emergency_id, stage, member_id, amount_fen, pay_on, policy_version
         FROM emergency_stages WHERE household_id = ANY($1) AND pay_on >= $2 AND pay_on < $3",
    )
    .bind(&ids)
    .bind(month.first_day())
    .bind(month.next().first_day())
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(StageRow::split)
    .collect();
    for (h, s) in rows {
        stages.entry(h).or_default().push(s);
    }

    let mut sets: HashMap<String, Result<ParameterSet, String>> = HashMap::new();
    let mut owed: Vec<(&Household, Payment, NaiveDate)> = Vec::new();
    for h in households {
        let household_stops = stops.remove(&h.household_id).unwrap_or_default();
        let mut pays: Vec<(Payment, NaiveDate)> = Vec::new();
        if let (Some(facts), Some(effective)) = (&h.facts, &h.effective_month) {
            let p = sets
                .entry(h.region_code.clone())
                .or_insert_with(|| {
                    RegionCode::parse(&h.region_code)
                        .map_err(|e| e.to_string())
                        .and_then(|r| {
                            state
                                .policy
                                .in_force(&r, month.first_day())
                                .cloned()
                                .map_err(|e| e.to_string())
                        })
                })
                .clone();
            let computed = p.and_then(|p| {
                let effective = Month::parse(effective).map_err(|e| e.to_string())?;
                let due = month.day(p.payment_due_day).max(today);
                entitlements::monthly(
                    facts,
                    &h.region_code,
                    effective,
                    month,
                    &household_stops,
                    &p,
                )
                .map(|v| v.into_iter().map(|x| (x, due)).collect::<Vec<_>>())
            });
            match computed {
                Ok(v) => pays.extend(v),
                Err(problem) => {
                    tracing::warn!(household_id = %h.household_id, %month, problem, "A household's payments could not be computed; it is skipped.");
                    totals.skipped += 1;
                    continue;
                }
            }
        }
        if let Some(s) = stages.get(&h.household_id) {
            pays.extend(
                entitlements::stages_due(s, month, &household_stops)
                    .into_iter()
                    .zip(s.iter().filter(|s| {
                        Month::of(s.pay_on) == month && !household_stops.stopped(s.member_id, month)
                    }))
                    .map(|(p, s)| (p, s.pay_on)),
            );
        }
        owed.extend(pays.into_iter().map(|(p, due)| (h, p, due)));
    }
    if owed.is_empty() {
        return Ok(totals);
    }

    let month_text = month.to_string();
    let n = owed.len();
    let (mut iid, mut hid, mut cid, mut ben, mut kind, mut amount, mut due, mut version) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut source, mut payee, mut reference) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (h, p, d) in &owed {
        iid.push(p.instruction_id(month));
        hid.push(h.household_id);
        cid.push(h.chain_id);
        ben.push(p.beneficiary);
        kind.push(p.kind.to_owned());
        amount.push(p.amount.0);
        due.push(*d);
        version.push(p.policy_version.clone());
        source.push(h.source_event_id.clone());
        payee.push(payee_text(p.payee).to_owned());
        reference.push(p.reference.clone());
    }
    let created: HashSet<Uuid> = sqlx::query_scalar(
        "INSERT INTO instructions (instruction_id, household_id, chain_id, beneficiary_member_id, month, kind,
             amount_fen, due_date, policy_version, status, source_event_id, payee, reference)
         SELECT i, h, c, b, $5, k, a, d, v, 'instructed', s, p, r
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $6::text[], $7::bigint[],
                     $8::date[], $9::text[], $10::text[], $11::text[], $12::text[])
              AS t(i, h, c, b, k, a, d, v, s, p, r)
         ON CONFLICT DO NOTHING
         RETURNING instruction_id",
    )
    .bind(&iid)
    .bind(&hid)
    .bind(&cid)
    .bind(&ben)
    .bind(&month_text)
    .bind(&kind)
    .bind(&amount)
    .bind(&due)
    .bind(&version)
    .bind(&source)
    .bind(&payee)
    .bind(&reference)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();

    let mut envelopes: Vec<Envelope<InstructionCreated>> = Vec::with_capacity(created.len());
    for (i, (h, p, d)) in owed.iter().enumerate() {
        totals.total_fen += p.amount.0;
        if !created.contains(&iid[i]) {
            totals.existing += 1;
            continue;
        }
        totals.created += 1;
        totals.created_fen += p.amount.0;
        let chain = ChainRef {
            household_id: h.household_id,
            chain_id: h.chain_id,
            causation_id: Some(h.source_event_id.clone()),
        };
        envelopes.push(state.mesh.envelope(
            &chain,
            Some(iid[i].to_string()),
            InstructionCreated {
                instruction_id: iid[i],
                beneficiary_member_id: p.beneficiary,
                month: month_text.clone(),
                kind: p.kind.to_owned(),
                amount_fen: p.amount.0,
                due_date: *d,
                policy_version: p.policy_version.clone(),
                payee: p.payee,
                reference: p.reference.clone(),
            },
        ));
    }
    mesh::outbox::enqueue_many(
        tx,
        &state.mesh.subjects.of(PAYMENT_INSTRUCTION_CREATED),
        &envelopes,
    )
    .await?;
    Ok(totals)
}

#[derive(sqlx::FromRow)]
struct StageRow {
    household_id: Uuid,
    emergency_id: Uuid,
    stage: i32,
    member_id: Uuid,
    amount_fen: i64,
    pay_on: NaiveDate,
    policy_version: String,
}

impl StageRow {
    fn split(self) -> (Uuid, Stage) {
        (
            self.household_id,
            Stage {
                emergency_id: self.emergency_id,
                stage: self.stage,
                member_id: self.member_id,
                amount_fen: self.amount_fen,
                pay_on: self.pay_on,
                policy_version: self.policy_version,
            },
        )
    }
}

fn payee_text(p: Payee) -> &'static str {
    match p {
        Payee::Person => "person",
        Payee::CareInstitution => "care_institution",
    }
}

async fn stops_of(tx: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<HashMap<Uuid, Stops>> {
    let rows: Vec<(Uuid, Option<Uuid>, String)> = sqlx::query_as(
        "SELECT household_id, member_id, stop_from_month FROM assistance_changes WHERE household_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut out: HashMap<Uuid, Stops> = HashMap::new();
    for (h, member, from) in rows {
        if let Ok(from) = Month::parse(&from) {
            out.entry(h).or_default().add(member, from);
        }
    }
    Ok(out)
}

/// Serialises a household's changes: its determination, its stops and the run's chunk that
/// holds it never interleave.
pub async fn lock_household(tx: &mut PgConnection, household_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))")
        .bind(household_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The months a newly determined household must be instructed for at once: from its effective
/// month to the latest month whose run exists (a run past the household's place in the order,
/// or already completed, will not come back to it). Takes the run lock shared.
pub async fn months_to_instruct(
    tx: &mut PgConnection,
    effective: Month,
) -> sqlx::Result<Vec<Month>> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(RUN_LOCK)
        .execute(&mut *tx)
        .await?;
    let latest: Option<String> = sqlx::query_scalar("SELECT max(month) FROM payment_runs")
        .fetch_one(&mut *tx)
        .await?;
    let last = latest
        .and_then(|m| Month::parse(&m).ok())
        .filter(|m| *m > effective)
        .unwrap_or(effective);
    let mut out = vec![effective];
    let mut m = effective;
    while m < last {
        m = m.next();
        out.push(m);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Runs

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RunView {
    pub month: String,
    pub status: String,
    pub cursor: Option<Uuid>,
    pub chunks: i64,
    pub households: i64,
    pub households_skipped: i64,
    pub instructions_created: i64,
    pub instructions_existing: i64,
    pub total_fen: i64,
    pub created_fen: i64,
    pub error: Option<String>,
    pub attempts: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const RUN_COLUMNS: &str =
    "month, status, cursor, chunks, households, households_skipped, instructions_created,
    instructions_existing, total_fen, created_fen, error, attempts, started_at, finished_at";

pub async fn get(state: &State, month: Month) -> sqlx::Result<Option<RunView>> {
    sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM payment_runs WHERE month = $1"
    ))
    .bind(month.to_string())
    .fetch_optional(&state.mesh.db)
    .await
}

/// Starts the run for `month`, or resumes it after a failure or a crash, or returns it when it
/// is completed. The work goes on in the background; `GET /v1/runs/{month}` follows it.
pub async fn start(state: &State, month: Month) -> anyhow::Result<RunView> {
    let mut tx = state.mesh.db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(RUN_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO payment_runs (month, status) VALUES ($1, 'planned') ON CONFLICT DO NOTHING",
    )
    .bind(month.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let run = get(state, month)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the run for {month} vanished"))?;
    if run.status == "completed" {
        return Ok(run);
    }
    let fresh = state
        .runner
        .active
        .lock()
        .expect("runner lock")
        .insert(month);
    if fresh && state.runner.queue.send(month).is_err() {
        state
            .runner
            .active
            .lock()
            .expect("runner lock")
            .remove(&month);
        anyhow::bail!("the service is stopping; the run for {month} is not started");
    }
    Ok(get(state, month).await?.unwrap_or(run))
}

/// Works the runs started in this process until the service stops (a task of the service):
/// each month's run goes on concurrently with the others; on a stop, each pauses after its
/// current chunk.
pub async fn work(state: State) -> anyhow::Result<()> {
    let mut inbox = state
        .runner
        .inbox
        .lock()
        .expect("runner lock")
        .take()
        .ok_or_else(|| anyhow::anyhow!("the runs are worked by one task"))?;
    let stop = state.mesh.stopping.clone();
    let mut runs = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            Some(month) = inbox.recv() => {
                runs.spawn(run_one(state.clone(), month));
            }
            Some(_) = runs.join_next(), if !runs.is_empty() => {}
        }
    }
    while runs.join_next().await.is_some() {}
    Ok(())
}

async fn run_one(s: State, month: Month) {
    if let Err(error) = execute(&s, month).await {
        let detail = format!("{error:#}");
        tracing::error!(%month, error = detail, "The monthly payment run failed; it resumes where it stopped when started again.");
        let failed = sqlx::query(
            "UPDATE payment_runs SET status = 'failed', error = $2 WHERE month = $1 AND status <> 'completed'",
        )
        .bind(month.to_string())
        .bind(&detail)
        .execute(&s.mesh.db)
        .await;
        if let Err(e) = failed {
            tracing::error!(%month, error = %e, "The run's failure could not be recorded.");
        }
        if let Err(e) = alert(&s, month, "failed", "failed", Some(detail)).await {
            tracing::error!(%month, error = format!("{e:#}"), "The alert could not be raised.");
        }
    }
    s.runner.active.lock().expect("runner lock").remove(&month);
}

/// Runs `month` chunk by chunk until every household is done.
pub async fn execute(state: &State, month: Month) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE payment_runs SET status = 'running', error = NULL, attempts = attempts + 1
         WHERE month = $1 AND status <> 'completed'",
    )
    .bind(month.to_string())
    .execute(&state.mesh.db)
    .await?;
    tracing::info!(%month, "Monthly payment run started.");
    loop {
        if state.mesh.stopping.is_cancelled() {
            // Left `running`: the scheduler (or `POST /v1/runs`) resumes it after the restart.
            tracing::info!(%month, "The service is stopping; the monthly payment run pauses after its last chunk.");
            return Ok(());
        }
        if !chunk(state, month).await? {
            return Ok(());
        }
        let fail = {
            let mut left = state.runner.fail_after_chunks.lock().expect("fault lock");
            match left.as_mut() {
                Some(0) | Some(1) => {
                    *left = None;
                    true
                }
                Some(n) => {
                    *n -= 1;
                    false
                }
                None => false,
            }
        };
        if fail {
            anyhow::bail!(
                "injected fault: the run stops after a chunk (payment.run.fail_after_chunks)"
            );
        }
    }
}

/// Does one chunk; `false` when there was none left and the run is now completed.
async fn chunk(state: &State, month: Month) -> anyhow::Result<bool> {
    let today = state.today();
    let mut tx = state.mesh.db.begin().await?;
    let run: Option<(String, Option<Uuid>)> =
        sqlx::query_as("SELECT status, cursor FROM payment_runs WHERE month = $1 FOR UPDATE")
            .bind(month.to_string())
            .fetch_optional(&mut *tx)
            .await?;
    let Some((status, cursor)) = run else {
        anyhow::bail!("no run for {month}");
    };
    if status == "completed" {
        return Ok(false);
    }
    let households: Vec<Household> = sqlx::query_as(
        "SELECT household_id, chain_id, region_code, effective_month, facts, source_event_id
         FROM entitlements WHERE household_id > $1 ORDER BY household_id LIMIT $2 FOR SHARE",
    )
    .bind(cursor.unwrap_or_else(Uuid::nil))
    .bind(state.settings.run.chunk_size.max(1))
    .fetch_all(&mut *tx)
    .await?;
    let Some(last) = households.last().map(|h| h.household_id) else {
        let done: RunView = sqlx::query_as(&format!(
            "UPDATE payment_runs SET status = 'completed', finished_at = now() WHERE month = $1
             RETURNING {RUN_COLUMNS}"
        ))
        .bind(month.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let completed = RunCompleted {
            month: done.month.clone(),
            households: done.households,
            instructions_created: done.instructions_created,
            instructions_existing: done.instructions_existing,
            total_fen: done.total_fen,
            created_fen: done.created_fen,
            started_at: done.started_at,
            finished_at: done.finished_at.unwrap_or_else(|| state.mesh.clock.now()),
        };
        let e = state
            .mesh
            .envelope(&run_chain(month), Some(done.month.clone()), completed);
        mesh::outbox::enqueue(&mut tx, &state.mesh.subjects.of(PAYMENT_RUN_COMPLETED), &e).await?;
        tx.commit().await?;
        tracing::info!(
            %month,
            households = done.households,
            created = done.instructions_created,
            existing = done.instructions_existing,
            total_fen = done.total_fen,
            "Monthly payment run completed."
        );
        return Ok(false);
    };
    let t = instruct(state, &mut tx, &households, month, today).await?;
    sqlx::query(
        "UPDATE payment_runs SET cursor = $2, chunks = chunks + 1, households = households + $3,
             households_skipped = households_skipped + $4, instructions_created = instructions_created + $5,
             instructions_existing = instructions_existing + $6, total_fen = total_fen + $7,
             created_fen = created_fen + $8
         WHERE month = $1",
    )
    .bind(month.to_string())
    .bind(last)
    .bind(t.households)
    .bind(t.skipped)
    .bind(t.created)
    .bind(t.existing)
    .bind(t.total_fen)
    .bind(t.created_fen)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The chain of a run's own events: no household's (the nil household id), one per month.
fn run_chain(month: Month) -> ChainRef {
    ChainRef {
        household_id: Uuid::nil(),
        chain_id: Uuid::new_v5(&RUN_NAMESPACE, month.to_string().as_bytes()),
        causation_id: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Scheduler and alerts

/// The schedule's days in force on `on`: the earliest run day, deadline day and pay-by day of
/// the parameter sets in force for any region on that date, so no region is served late.
pub fn schedule_days(book: &policy::PolicyBook, on: NaiveDate) -> Option<(u32, u32, u32)> {
    let regions: HashSet<&str> = book.sets().iter().map(|s| s.region.as_str()).collect();
    regions
        .into_iter()
        .filter_map(|r| RegionCode::parse(r).ok())
        .filter_map(|r| book.in_force(&r, on).ok())
        .map(|p| {
            (
                p.payment_run_day,
                p.payment_run_deadline_day,
                p.payment_due_day,
            )
        })
        .reduce(|a, b| (a.0.min(b.0), a.1.min(b.1), a.2.min(b.2)))
}

/// Runs until the service stops; off when `payment.run.schedule_interval_ms` is 0.
pub async fn schedule(state: State) -> anyhow::Result<()> {
    let every = state.settings.run.schedule_interval_ms;
    let stop = state.mesh.stopping.clone();
    if every == 0 {
        // A task that ends stops the service: this one waits for the service to stop.
        stop.cancelled().await;
        return Ok(());
    }
    let period = Duration::from_millis(every);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(error) = look(&state).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "The payment run scheduler's look failed; it looks again on the next tick."
            );
        }
    }
    Ok(())
}

/// One look at the calendar: start what is due, alert on what is late or failed.
pub async fn look(state: &State) -> anyhow::Result<()> {
    let today = state.today();
    let Some((run_day, deadline_day, _)) = schedule_days(&state.policy, today) else {
        return Ok(());
    };
    let this = Month::of(today);
    // The deadline is judged on the run as found, before this look starts anything.
    let run = get(state, this).await?;
    let status = run.as_ref().map(|r| r.status.as_str()).unwrap_or("missing");
    if today.day() >= deadline_day && status != "completed" {
        let detail = run.as_ref().and_then(|r| r.error.clone());
        alert(state, this, "not_completed_by_deadline", status, detail).await?;
    }
    // This month's run if it is not completed (late is better than never), and the next
    // month's from the run day on; a run left by a stopped or failed process is resumed (a
    // chunk locks the run's row: two processes on one run never do a chunk twice).
    let mut due = vec![this];
    if today.day() >= run_day {
        due.push(this.next());
    }
    for month in due {
        let idle = !state
            .runner
            .active
            .lock()
            .expect("runner lock")
            .contains(&month);
        let status = get(state, month).await?.map(|r| r.status);
        if idle && status.as_deref() != Some("completed") {
            tracing::info!(%month, status = status.as_deref().unwrap_or("missing"), "The scheduler starts or resumes the monthly payment run.");
            start(state, month).await?;
        }
    }
    let failed: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT month, error FROM payment_runs WHERE status = 'failed'")
            .fetch_all(&state.mesh.db)
            .await?;
    for (month, error) in failed {
        if let Ok(m) = Month::parse(&month) {
            alert(state, m, "failed", "failed", error).await?;
        }
    }
    Ok(())
}

/// Raises an alert about `month`'s run once per reason: an event, an error line, a metric.
pub async fn alert(
    state: &State,
    month: Month,
    reason: &str,
    status: &str,
    detail: Option<String>,
) -> anyhow::Result<bool> {
    let p = schedule_days(&state.policy, month.first_day());
    let (deadline_day, due_day) = p.map(|(_, d, due)| (d, due)).unwrap_or((1, 1));
    let mut tx = state.mesh.db.begin().await?;
    let fresh = sqlx::query(
        "INSERT INTO run_alerts (month, reason) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(month.to_string())
    .bind(reason)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(false);
    }
    let data = RunAlert {
        month: month.to_string(),
        reason: reason.to_owned(),
        status: status.to_owned(),
        deadline: month.day(deadline_day),
        pay_by: month.day(due_day),
        detail,
    };
    tracing::error!(
        %month,
        reason,
        status,
        deadline = %data.deadline,
        pay_by = %data.pay_by,
        "ALERT: the monthly payment run needs attention."
    );
    let e = state
        .mesh
        .envelope(&run_chain(month), Some(month.to_string()), data);
    mesh::outbox::enqueue(&mut tx, &state.mesh.subjects.of(PAYMENT_RUN_ALERT), &e).await?;
    tx.commit().await?;
    state.runner.alerts.with_label_values(&[reason]).inc();
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// Recoveries

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RecoveryView {
    pub recovery_id: Uuid,
    pub instruction_id: Uuid,
    pub household_id: Uuid,
    pub beneficiary_member_id: Uuid,
    pub month: String,
    pub kind: String,
    pub amount_fen: i64,
    pub reason: String,
    pub change_id: Uuid,
    pub status: String,
    pub opened_at: DateTime<Utc>,
}

pub async fn recoveries(
    state: &State,
    household_id: Option<Uuid>,
) -> sqlx::Result<Vec<RecoveryView>> {
    sqlx::query_as(
        "SELECT recovery_id, instruction_id, household_id, beneficiary_member_id, month, kind, amount_fen,
                reason, change_id, status, opened_at
         FROM recoveries WHERE $1::uuid IS NULL OR household_id = $1
         ORDER BY opened_at, month, instruction_id LIMIT 1000",
    )
    .bind(household_id)
    .fetch_all(&state.mesh.db)
    .await
}

/// The key of a household's dibao of a month among what is owed.
fn household_dibao(household_id: Uuid) -> Uuid {
    Uuid::new_v5(&RUN_NAMESPACE, format!("{household_id}/dibao").as_bytes())
}

/// After a stop for `household_id` from `from`: every instruction already made for that month or
/// later is compared with what is still owed for its month; the overpaid part of each becomes a
/// recovery case (one per instruction) with `payment.recovery.opened` in the outbox. A dibao
/// household's monthly payment is compared with what the household is still owed that month,
/// whoever it now goes to (the head may be the one who died); the rest is owed for later months
/// by the run as usual. A month already instructed is not topped up to a new beneficiary: its
/// instruction stands, less the recovery.
pub async fn open_recoveries(
    state: &State,
    tx: &mut PgConnection,
    household_id: Uuid,
    from: Month,
    reason: &str,
    change_id: Uuid,
    cause: &ChainRef,
) -> anyhow::Result<usize> {
    let made: Vec<(Uuid, Uuid, String, String, i64)> = sqlx::query_as(
        "SELECT instruction_id, beneficiary_member_id, month, kind, amount_fen FROM instructions
         WHERE household_id = $1 AND month >= $2 ORDER BY month, instruction_id",
    )
    .bind(household_id)
    .bind(from.to_string())
    .fetch_all(&mut *tx)
    .await?;
    if made.is_empty() {
        return Ok(0);
    }
    let household: Option<Household> = sqlx::query_as(
        "SELECT household_id, chain_id, region_code, effective_month, facts, source_event_id
         FROM entitlements WHERE household_id = $1",
    )
    .bind(household_id)
    .fetch_optional(&mut *tx)
    .await?;
    let stops = stops_of(tx, &[household_id])
        .await?
        .remove(&household_id)
        .unwrap_or_default();
    let stages: Vec<Stage> = sqlx::query_as::<_, StageRow>(
        "SELECT household_id, emergency_id, stage, member_id, amount_fen, pay_on, policy_version
         FROM emergency_stages WHERE household_id = $1",
    )
    .bind(household_id)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| r.split().1)
    .collect();
    // What is still owed per month: by instruction id, and the household's dibao (one payment
    // a month, to whoever heads the household now) by kind.
    let mut owed_by_month: HashMap<String, HashMap<Uuid, i64>> = HashMap::new();
    let mut opened = 0;
    for (instruction_id, beneficiary, month_text, kind, amount) in made {
        let month = Month::parse(&month_text).map_err(|e| anyhow::anyhow!(e))?;
        if !owed_by_month.contains_key(&month_text) {
            let mut owed: HashMap<Uuid, i64> = HashMap::new();
            if let Some(h) = &household {
                if let (Some(facts), Some(effective)) = (&h.facts, &h.effective_month) {
                    let region =
                        RegionCode::parse(&h.region_code).map_err(|e| anyhow::anyhow!(e))?;
                    let p = state.policy.in_force(&region, month.first_day())?;
                    let effective = Month::parse(effective).map_err(|e| anyhow::anyhow!(e))?;
                    for pay in
                        entitlements::monthly(facts, &h.region_code, effective, month, &stops, p)
                            .map_err(|e| anyhow::anyhow!(e))?
                    {
                        owed.insert(pay.instruction_id(month), pay.amount.0);
                        if pay.kind == entitlements::DIBAO_MONTHLY {
                            owed.insert(household_dibao(household_id), pay.amount.0);
                        }
                    }
                }
            }
            for pay in entitlements::stages_due(&stages, month, &stops) {
                owed.insert(pay.instruction_id(month), pay.amount.0);
            }
            owed_by_month.insert(month_text.clone(), owed);
        }
        let owed = &owed_by_month[&month_text];
        let still = if kind == entitlements::DIBAO_MONTHLY {
            owed.get(&household_dibao(household_id))
        } else {
            owed.get(&instruction_id)
        }
        .copied()
        .unwrap_or(0);
        let over = amount - still;
        if over <= 0 {
            continue;
        }
        let recovery_id = Uuid::new_v5(&RUN_NAMESPACE, instruction_id.as_bytes());
        let fresh = sqlx::query(
            "INSERT INTO recoveries (recovery_id, instruction_id, household_id, beneficiary_member_id, month, kind,
                 amount_fen, reason, change_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(recovery_id)
        .bind(instruction_id)
        .bind(household_id)
        .bind(beneficiary)
        .bind(&month_text)
        .bind(&kind)
        .bind(over)
        .bind(reason)
        .bind(change_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            continue;
        }
        opened += 1;
        tracing::info!(%instruction_id, month = %month_text, kind, amount_fen = over, reason, "Recovery case opened.");
        let e = state.mesh.envelope(
            cause,
            Some(recovery_id.to_string()),
            RecoveryOpened {
                recovery_id,
                instruction_id,
                beneficiary_member_id: beneficiary,
                month: month_text.clone(),
                kind,
                amount_fen: over,
                reason: reason.to_owned(),
                change_id,
            },
        );
        mesh::outbox::enqueue(
            &mut *tx,
            &state.mesh.subjects.of(PAYMENT_RECOVERY_OPENED),
            &e,
        )
        .await?;
    }
    Ok(opened)
}
