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
//!   itself ([`crate::instructions::months_to_instruct`]), under a lock that orders it with the run's start.
//! - The scheduler ([`schedule`]) starts the run for the next month on `payment_run_day` (and
//!   resumes a month's run left unfinished by a stop, a crash or a failure), and
//!   raises `payment.run.alert` (an error log line and `relief_payment_run_alerts_total`) when
//!   the month's run has failed or is not completed by `payment_run_deadline_day`, before the
//!   pay-by day `payment_due_day`. The days come from the parameter sets in force.

use crate::domain::{AlertReason, RunStatus, RUN_NAMESPACE};
use crate::instructions::instruct;
use crate::state::State;
use crate::store;
use chrono::NaiveDate;
use contract::channels::{PAYMENT_RUN_ALERT, PAYMENT_RUN_COMPLETED};
use contract::{RunAlert, RunCompleted};
use mesh::auth::Actor;
use mesh::ChainRef;
use policy::{Month, RegionCode};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

pub use crate::store::runs::RunView;

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
    #[allow(
        clippy::expect_used,
        reason = "a fixed metric name and label set: it cannot fail at run time"
    )]
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

pub async fn get(state: &State, month: Month) -> sqlx::Result<Option<RunView>> {
    store::runs::get(&state.mesh.db, &month.to_string()).await
}

/// Starts the run for `month`, or resumes it after a failure or a crash, or returns it when it
/// is completed. The work goes on in the background; `GET /v1/runs/{month}` follows it. `by`
/// is the person who asked (audited); `None` for the scheduler.
pub async fn start(state: &State, month: Month, by: Option<&Actor>) -> anyhow::Result<RunView> {
    let mut tx = state.mesh.db.begin().await?;
    store::runs::lock_runs(&mut tx).await?;
    store::runs::plan(&mut tx, &month.to_string(), state.mesh.clock.now()).await?;
    if let Some(actor) = by {
        mesh::audit::append(
            &mut tx,
            &state.mesh,
            actor,
            mesh::audit::Entry::new("run.start", "payment_run", month),
        )
        .await?;
    }
    tx.commit().await?;
    let run = get(state, month)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the run for {month} vanished"))?;
    if run.status == RunStatus::Completed {
        return Ok(run);
    }
    let fresh = state
        .runner
        .active
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(month);
    if fresh && state.runner.queue.send(month).is_err() {
        state
            .runner
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let failed = store::runs::mark_failed(&s.mesh.db, &month.to_string(), &detail).await;
        if let Err(e) = failed {
            tracing::error!(%month, error = %e, "The run's failure could not be recorded.");
        }
        if let Err(e) = alert(
            &s,
            month,
            AlertReason::Failed,
            RunStatus::Failed.as_str(),
            Some(detail),
        )
        .await
        {
            tracing::error!(%month, error = format!("{e:#}"), "The alert could not be raised.");
        }
    }
    s.runner
        .active
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&month);
}

/// Runs `month` chunk by chunk until every household is done. A month outside payment's window
/// ([`State::window`]: a run recorded before there was one, or resumed long after) fails with
/// the reason and instructs nothing.
pub async fn execute(state: &State, month: Month) -> anyhow::Result<()> {
    let window = state.window();
    anyhow::ensure!(
        window.contains(month),
        "the run for {month} is outside payment's window: the month {}",
        window.rule()
    );
    store::runs::mark_running(&state.mesh.db, &month.to_string()).await?;
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
            let mut left = state
                .runner
                .fail_after_chunks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
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
    let today = state.mesh.today();
    let mut tx = state.mesh.db.begin().await?;
    let Some((status, cursor)) = store::runs::lock(&mut tx, &month.to_string()).await? else {
        anyhow::bail!("no run for {month}");
    };
    if status == RunStatus::Completed {
        return Ok(false);
    }
    let households = store::entitlements::chunk_after(
        &mut tx,
        cursor.unwrap_or_else(Uuid::nil),
        state.settings.run.chunk_size.max(1),
    )
    .await?;
    let Some(last) = households.last().map(|h| h.household_id) else {
        let done =
            store::runs::complete(&mut tx, &month.to_string(), state.mesh.clock.now()).await?;
        let completed = RunCompleted {
            month,
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
        mesh::outbox::enqueue_on(&mut tx, &state.mesh.subjects, PAYMENT_RUN_COMPLETED, &e).await?;
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
    store::runs::advance(&mut tx, &month.to_string(), last, &t).await?;
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
    let today = state.mesh.today();
    let Some((run_day, deadline_day, _)) = schedule_days(&state.policy, today) else {
        return Ok(());
    };
    let this = Month::of(today);
    // The deadline is judged on the run as found, before this look starts anything.
    let run = get(state, this).await?;
    let status = run.as_ref().map(|r| r.status.as_str()).unwrap_or("missing");
    let completed = run
        .as_ref()
        .is_some_and(|r| r.status == RunStatus::Completed);
    if policy::dates::run_is_late(today, deadline_day) && !completed {
        let detail = run.as_ref().and_then(|r| r.error.clone());
        alert(
            state,
            this,
            AlertReason::NotCompletedByDeadline,
            status,
            detail,
        )
        .await?;
    }
    // This month's run if it is not completed (late is better than never), and the next
    // month's from the run day on; a run left by a stopped or failed process is resumed (a
    // chunk locks the run's row: two processes on one run never do a chunk twice).
    let window = state.window();
    for month in policy::dates::runs_due(today, run_day) {
        if !window.contains(month) {
            // `payment.run.months_ahead` = 0: next month is run once it has begun.
            continue;
        }
        let idle = !state
            .runner
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&month);
        let status = get(state, month).await?.map(|r| r.status);
        if idle && status != Some(RunStatus::Completed) {
            tracing::info!(%month, status = status.map(RunStatus::as_str).unwrap_or("missing"), "The scheduler starts or resumes the monthly payment run.");
            start(state, month, None).await?;
        }
    }
    let failed = store::runs::failed(&state.mesh.db).await?;
    for (month, error) in failed {
        if let Ok(m) = Month::parse(&month) {
            alert(
                state,
                m,
                AlertReason::Failed,
                RunStatus::Failed.as_str(),
                error,
            )
            .await?;
        }
    }
    Ok(())
}

/// Raises an alert about `month`'s run once per reason: an event, an error line, a metric.
pub async fn alert(
    state: &State,
    month: Month,
    reason: AlertReason,
    status: &str,
    detail: Option<String>,
) -> anyhow::Result<bool> {
    let p = schedule_days(&state.policy, month.first_day());
    let (deadline_day, due_day) = p.map(|(_, d, due)| (d, due)).unwrap_or((1, 1));
    let mut tx = state.mesh.db.begin().await?;
    let fresh =
        store::runs::insert_alert(&mut tx, &month.to_string(), reason, state.mesh.clock.now())
            .await?;
    if !fresh {
        return Ok(false);
    }
    let data = RunAlert {
        month,
        reason: reason.as_str().to_owned(),
        status: status.to_owned(),
        deadline: month.day(deadline_day),
        pay_by: month.day(due_day),
        detail,
    };
    tracing::error!(
        %month,
        reason = reason.as_str(),
        status,
        deadline = %data.deadline,
        pay_by = %data.pay_by,
        "ALERT: the monthly payment run needs attention."
    );
    let e = state
        .mesh
        .envelope(&run_chain(month), Some(month.to_string()), data);
    mesh::outbox::enqueue_on(&mut tx, &state.mesh.subjects, PAYMENT_RUN_ALERT, &e).await?;
    tx.commit().await?;
    state
        .runner
        .alerts
        .with_label_values(&[reason.as_str()])
        .inc();
    Ok(true)
}
