//! A background task that works off due rows in rounds: every `every`, one round after another
//! while rounds come back full (more may be due), until the service stops. A failed round is
//! logged and tried again on the next tick: a database that is away must not stop the service.

use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Runs `round` (which returns how many rows it took) until `stop`; `batch` is a full round.
pub async fn run<F, Fut>(
    what: &str,
    stop: CancellationToken,
    every: Duration,
    batch: usize,
    mut round: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<usize>>,
{
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        loop {
            match round().await {
                Ok(n) if n >= batch && !stop.is_cancelled() => {}
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(
                        task = what,
                        error = format!("{error:#}"),
                        "Round failed; it is tried again on the next tick."
                    );
                    break;
                }
            }
        }
    }
    tracing::info!(task = what, "Task stopped.");
    Ok(())
}
