//! Outages heal themselves: an application is held while a data source does not answer, and a
//! report that went out with a gap is superseded once the source answers again.
//!
//! **Hold.** When a source gives no answer (every attempt timed out, or nobody listens on its
//! subject), the consumer of `intake.application.submitted` does not report the gap: in the
//! transaction that handles the message it stores the application as `waiting_for_source`
//! (`held_verifications`, with what every source said so far in `held_sources`) and acks. The
//! message is not kept unacked while the source is away, and a crash loses nothing: the hold is
//! in PostgreSQL. Only after `verification.source_hold_seconds` without an answer does the report
//! go out with the gap (intake then sends the application to manual verification, as before);
//! the application stays held as `reported_with_gaps`.
//!
//! **Backoff per source, not per application.** A source that did not answer is down
//! (`source_outages`) until it answers again. While it is down it is not asked once per
//! application: a new application does not wait for it (it is held at once), and a background
//! task ([`run`], every `verification.hold_poll_interval_ms`) probes it, by asking about the
//! application held longest, after `verification.source_retry_initial_ms`, then after twice as
//! long each time up to `verification.source_retry_max_ms`. A held application is due when none
//! of the sources it waits for is down (or when its hold has run out): the task then asks only
//! those sources, never the ones that answered. Any answer from a source (a probe, a new
//! application, a periodic re-verification) ends its outage, so everything waiting for it is due
//! at once.
//!
//! **Healing.** When the sources an application waits for have answered, its report goes out:
//! the first one, complete, for an application still waiting; a complete report that
//! **supersedes** the one with gaps (`supersedes_report_id`) for one that went to manual
//! verification, which intake then determines by rule unless an officer has acted. An officer who
//! completes the verification by hand (`intake.application.manually_verified`) ends the hold: the
//! sources are not asked about that application again. A source that answers with an error is a
//! gap that waiting does not fill: it is reported at once and not asked again.
//!
//! **Safety with several replicas.** The task claims due applications and due probes in one
//! statement each (`FOR UPDATE SKIP LOCKED`, a claim that runs out after
//! `verification.hold_lease_seconds`); the claim is checked again in the transaction that records
//! the outcome, so an application whose claim ran out, or that an officer verified meanwhile,
//! records nothing. Every time compared is the service's clock's, so a test can move it.

use crate::held::{self, Held, HeldState, NewHeld, Outage};
use crate::sources::{self, Asked, NO_ANSWER};
use crate::state::State;
use crate::store;
use contract::channels::HOUSEHOLD_VERIFIED;
use contract::{HouseholdVerified, QueryMember};
use mesh::ChainRef;
use sqlx::PgConnection;
use std::time::Duration;
use tracing::Instrument;
use uuid::Uuid;

/// The application a report is about.
pub struct ReportOf<'a> {
    pub application_id: Uuid,
    pub chain: &'a ChainRef,
    pub members: &'a [QueryMember],
    /// The household's region (none for an application held before regions were kept).
    pub region_code: Option<&'a str>,
}

/// Stores the application's report from what the sources said and enqueues
/// `verify.household.verified`; a report that `supersedes` another takes its place as the
/// application's report.
pub async fn publish_report(
    state: &State,
    tx: &mut PgConnection,
    of: &ReportOf<'_>,
    parts: &[Asked],
    supersedes: Option<Uuid>,
) -> anyhow::Result<HouseholdVerified> {
    let member_ids: Vec<Uuid> = of.members.iter().map(|m| m.member_id).collect();
    let f = sources::assemble(
        &member_ids,
        parts,
        state.mesh.settings.bounds.max_amount_fen,
    );
    let report = HouseholdVerified {
        application_id: of.application_id,
        report_id: Uuid::new_v4(),
        complete: f.complete,
        gaps: f.gaps,
        sources: f.sources,
        members: f.members,
        supersedes_report_id: supersedes,
    };
    if let Some(old) = supersedes {
        store::supersede(tx, old).await?;
    }
    store::insert_report(
        tx,
        &store::NewReport {
            report_id: report.report_id,
            application_id: report.application_id,
            household_id: of.chain.household_id,
            region_code: of.region_code,
            purpose: store::Purpose::Application,
            complete: report.complete,
            gaps: &report.gaps,
            members: &report.members,
            supersedes,
        },
        parts,
    )
    .await?;
    let out = state.mesh.envelope(
        of.chain,
        Some(report.application_id.to_string()),
        report.clone(),
    );
    mesh::outbox::enqueue_on(tx, &state.mesh.subjects, HOUSEHOLD_VERIFIED, &out).await?;
    tracing::info!(
        complete = report.complete,
        gaps = report.gaps.len(),
        supersedes = supersedes.is_some(),
        "Household verified."
    );
    Ok(report)
}

/// What became of a submitted application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum First {
    /// Every source answered (or answered with an error): reported.
    Reported,
    /// A source did not answer: held, no report yet.
    Held,
    /// A source did not answer and there is no hold: reported with the gap, and held so that a
    /// complete report can supersede it.
    ReportedWithGaps,
}

/// The trace context a held application's report is published under.
pub struct Trace<'a> {
    pub traceparent: Option<&'a str>,
    pub tracestate: Option<&'a str>,
}

/// After the first round of queries: reports, or holds the application while a source does not
/// answer (`verification.source_hold_seconds`; 0 reports the gap at once).
pub async fn report_or_hold(
    state: &State,
    tx: &mut PgConnection,
    of: &ReportOf<'_>,
    parts: &[Asked],
    trace: &Trace<'_>,
) -> anyhow::Result<First> {
    let waiting = parts.iter().any(|a| a.provenance.outcome == NO_ANSWER);
    let now = state.mesh.clock.now();
    let hold = chrono::Duration::seconds(state.settings.source_hold_seconds as i64);
    let new = |held_state, report_id| NewHeld {
        application_id: of.application_id,
        household_id: of.chain.household_id,
        chain_id: of.chain.chain_id,
        causation_id: of.chain.causation_id.as_deref().unwrap_or_default(),
        members: of.members,
        state: held_state,
        held_since: now,
        hold_until: now + hold,
        report_id,
        traceparent: trace.traceparent,
        tracestate: trace.tracestate,
        region_code: of.region_code,
    };
    if waiting && state.settings.source_hold_seconds > 0 {
        held::insert(tx, &new(HeldState::WaitingForSource, None), parts).await?;
        tracing::info!("A data source did not answer; the application waits for it.");
        return Ok(First::Held);
    }
    let report = publish_report(state, tx, of, parts, None).await?;
    if !waiting {
        return Ok(First::Reported);
    }
    held::insert(
        tx,
        &new(HeldState::ReportedWithGaps, Some(report.report_id)),
        parts,
    )
    .await?;
    Ok(First::ReportedWithGaps)
}

/// Asks every configured source but those that are down (`down`); a source down is recorded
/// as not answering, without a query: its probe asks for it.
pub async fn ask_first(
    state: &State,
    chain: &ChainRef,
    members: &[QueryMember],
    down: &[String],
) -> (Vec<Asked>, Vec<String>) {
    let to_ask: Vec<String> = state
        .settings
        .sources
        .iter()
        .filter(|s| !down.contains(s))
        .cloned()
        .collect();
    let mut asked = sources::ask_some(state, chain, members, &to_ask).await;
    let now = state.mesh.clock.now();
    let parts = state
        .settings
        .sources
        .iter()
        .map(
            |s| match asked.iter().position(|a| &a.provenance.source == s) {
                Some(i) => asked.swap_remove(i),
                None => sources::not_asked(s, now),
            },
        )
        .collect();
    (parts, to_ask)
}

/// Records, for each source that was asked, that it is reachable (it answered, even with an
/// error: its outage ends) or not (its outage begins). In source order, so that concurrent
/// transactions take the rows' locks in one order.
pub async fn note_health(
    state: &State,
    tx: &mut PgConnection,
    asked: &[&Asked],
) -> sqlx::Result<()> {
    let now = state.mesh.clock.now();
    let first_probe = now + millis(state.settings.source_retry_initial_ms);
    let mut asked: Vec<&&Asked> = asked.iter().collect();
    asked.sort_by(|a, b| a.provenance.source.cmp(&b.provenance.source));
    asked.dedup_by(|a, b| a.provenance.source == b.provenance.source);
    for a in asked {
        let answered = a.provenance.outcome != NO_ANSWER;
        held::note(tx, &a.provenance.source, answered, now, first_probe).await?;
    }
    Ok(())
}

fn millis(ms: u64) -> chrono::Duration {
    chrono::Duration::milliseconds(ms.min(i64::MAX as u64) as i64)
}

/// The delay before the probe that follows `failed` failed probes: the initial delay doubled
/// each time, at most the maximum.
pub fn backoff(initial_ms: u64, max_ms: u64, failed: u32) -> u64 {
    initial_ms
        .saturating_mul(1u64.checked_shl(failed.min(63)).unwrap_or(u64::MAX))
        .min(max_ms)
}

/// Runs until `mesh.stopping` is cancelled: every `verification.hold_poll_interval_ms`, probes
/// the sources that are down and settles the held applications that are due. A failed round is
/// logged and tried again on the next tick.
pub async fn run(state: State) -> anyhow::Result<()> {
    let every = Duration::from_millis(state.settings.hold_poll_interval_ms);
    let batch = usize::try_from(state.settings.hold_batch).unwrap_or(usize::MAX);
    let stop = state.mesh.stopping.clone();
    mesh::rounds::run("held verifications", stop, every, batch, || round(&state)).await
}

/// Probes the sources whose probe is due, then settles one batch of due applications; returns
/// how many applications it claimed.
async fn round(state: &State) -> anyhow::Result<usize> {
    let db = &state.mesh.db;
    let now = state.mesh.clock.now();
    let until = now + chrono::Duration::seconds(state.settings.hold_lease_seconds as i64);
    let outages = held::claim_probes(db, now, until).await?;
    let probes = futures::future::join_all(outages.iter().map(|o| probe(state, o)));
    for (o, r) in outages.iter().zip(probes.await) {
        if let Err(error) = r {
            tracing::warn!(source = %o.source, error = format!("{error:#}"), "Probe failed; the source is probed again when its claim runs out.");
        }
    }
    let down = held::sources_down(db).await?;
    let claimed = held::claim_due(db, now, state.settings.hold_batch.max(1), until).await?;
    let work = futures::future::join_all(claimed.iter().map(|h| settle(state, h, &down)));
    let results = tokio::select! {
        biased;
        _ = state.mesh.stopping.cancelled() => {
            // Shutting down: what was not recorded is given back for another replica, or the
            // next start.
            let ids: Vec<Uuid> = claimed.iter().map(|h| h.application_id).collect();
            held::release_all(db, &ids, until).await?;
            return Ok(0);
        }
        r = work => r,
    };
    for (h, r) in claimed.iter().zip(results) {
        if let Err(error) = r {
            tracing::warn!(application_id = %h.application_id, error = format!("{error:#}"), "Held application could not be settled; it is tried again when its claim runs out.");
        }
    }
    Ok(claimed.len())
}

fn chain_of(h: &Held) -> ChainRef {
    ChainRef {
        household_id: h.household_id,
        chain_id: h.chain_id,
        causation_id: Some(h.causation_id.clone()),
    }
}

/// A span for work on a held application, in the trace of the application it answers.
fn span_of(h: &Held, name: &'static str) -> tracing::Span {
    let span = tracing::info_span!(
        "held",
        otel.name = name,
        otel.kind = "internal",
        household_id = %h.household_id,
    );
    mesh::telemetry::set_parent(
        &span,
        mesh::telemetry::context_from(h.traceparent.as_deref(), h.tracestate.as_deref()),
    );
    span
}

/// Asks a source that is down about the application held longest among those waiting for it.
/// An answer ends the outage (every application waiting for the source is then due); no answer
/// puts the next probe off.
async fn probe(state: &State, outage: &Outage) -> anyhow::Result<()> {
    let db = &state.mesh.db;
    let Some(target) = held::probe_target(db, &outage.source).await? else {
        held::forget(db, outage).await?;
        return Ok(());
    };
    let span = span_of(&target, "probe data source");
    async {
        let chain = chain_of(&target);
        let asked = sources::ask_some(
            state,
            &chain,
            &target.members,
            std::slice::from_ref(&outage.source),
        )
        .await;
        let Some(a) = asked.first() else {
            return Ok(());
        };
        if a.provenance.outcome == NO_ANSWER {
            let failed = u32::try_from(outage.probes.max(0)).unwrap_or(u32::MAX).saturating_add(1);
            let cfg = &state.settings;
            let delay = backoff(cfg.source_retry_initial_ms, cfg.source_retry_max_ms, failed);
            held::postpone(db, outage, state.mesh.clock.now() + millis(delay)).await?;
            tracing::info!(source = %outage.source, failed, delay_ms = delay, "Data source still does not answer.");
            return Ok(());
        }
        let mut tx = db.begin().await?;
        if held::lock(&mut tx, target.application_id, None).await?.is_some() {
            held::record(&mut tx, target.application_id, a).await?;
        }
        note_health(state, &mut tx, &[a]).await?;
        tx.commit().await?;
        tracing::info!(source = %outage.source, "Data source answers again; what waited for it is asked again.");
        Ok(())
    }
    .instrument(span)
    .await
}

/// Asks a due held application's silent sources that are not down, and records the outcome in
/// one transaction: its report when every source has answered (superseding the one with gaps,
/// if it went out), or the report with the gaps when its hold has run out, or nothing more yet.
async fn settle(state: &State, claimed: &Held, down: &[String]) -> anyhow::Result<()> {
    let span = span_of(claimed, "verify held application");
    async {
        let db = &state.mesh.db;
        let chain = chain_of(claimed);
        let pending: Vec<String> = {
            let mut conn = db.acquire().await?;
            held::parts(&mut conn, claimed.application_id)
                .await?
                .into_iter()
                .filter(|a| a.provenance.outcome == NO_ANSWER && !down.contains(&a.provenance.source))
                .map(|a| a.provenance.source)
                .collect()
        };
        let asked = sources::ask_some(state, &chain, &claimed.members, &pending).await;

        let mut tx = db.begin().await?;
        let Some(h) = held::lock(&mut tx, claimed.application_id, claimed.claimed_until).await?
        else {
            tracing::info!("No longer held under this claim (verified by an officer, or taken over); nothing recorded.");
            return Ok(());
        };
        for a in &asked {
            held::record(&mut tx, h.application_id, a).await?;
        }
        note_health(state, &mut tx, &asked.iter().collect::<Vec<_>>()).await?;
        let parts = held::parts(&mut tx, h.application_id).await?;
        let waiting = parts.iter().any(|a| a.provenance.outcome == NO_ANSWER);
        let of = ReportOf {
            application_id: h.application_id,
            chain: &chain,
            members: &h.members,
            region_code: h.region_code.as_deref(),
        };
        match (h.state, waiting) {
            (HeldState::WaitingForSource, false) => {
                publish_report(state, &mut tx, &of, &parts, None).await?;
                held::remove(&mut tx, h.application_id).await?;
            }
            (HeldState::ReportedWithGaps, false) => {
                if parts.iter().all(|a| a.provenance.outcome == sources::ANSWERED) {
                    publish_report(state, &mut tx, &of, &parts, h.report_id).await?;
                } else {
                    tracing::info!("The sources answered again, one with an error: the report with gaps stands.");
                }
                held::remove(&mut tx, h.application_id).await?;
            }
            (HeldState::WaitingForSource, true) if h.hold_until <= state.mesh.clock.now() => {
                let report = publish_report(state, &mut tx, &of, &parts, None).await?;
                held::set_reported(&mut tx, h.application_id, report.report_id).await?;
            }
            (_, true) => held::release(&mut tx, h.application_id).await?,
        }
        tx.commit().await?;
        Ok(())
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_delay_doubles_up_to_the_maximum() {
        assert_eq!(backoff(2000, 60_000, 0), 2000);
        assert_eq!(backoff(2000, 60_000, 1), 4000);
        assert_eq!(backoff(2000, 60_000, 4), 32_000);
        assert_eq!(backoff(2000, 60_000, 5), 60_000);
        assert_eq!(backoff(2000, 60_000, 200), 60_000);
        assert_eq!(backoff(u64::MAX, 60_000, 3), 60_000);
    }
}
