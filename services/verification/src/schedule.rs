//! The re-verification scheduler: every `verification.schedule_interval_ms` it leases enrolled
//! households whose re-verification is due, asks every data source again and records the
//! outcome with the next due date.
//!
//! Safe with several replicas: a household is leased by one statement with
//! `FOR UPDATE SKIP LOCKED`, so two replicas never take the same one; the lease (its expiry
//! time is also its token) is checked again in the transaction that records the outcome, so a
//! replica whose lease ran out while it waited for the sources records nothing. A replica that
//! dies holding leases delays those households by at most [`LEASE`].

use crate::state::State;
use crate::store::{self, Leased, NewReport, Purpose};
use crate::{hold, sources};
use chrono::NaiveDate;
use contract::channels::HOUSEHOLD_REVERIFIED;
use contract::HouseholdReverified;
use mesh::ChainRef;
use policy::{ParameterSet, PolicyBook, RegionCode};
use std::time::Duration;
use tracing::Instrument;
use uuid::Uuid;

/// How long a leased household is held. Longer than the slowest re-verification of a whole
/// batch: every source timing out on every attempt (3 × 2 s and the retry delays, by default)
/// for each household of the batch in turn.
pub const LEASE: Duration = Duration::from_secs(300);

/// The parameter set in force for `region_code` on `on`.
pub fn params<'a>(
    book: &'a PolicyBook,
    region_code: &str,
    on: NaiveDate,
) -> Result<&'a ParameterSet, String> {
    let region = RegionCode::parse(region_code).map_err(|e| e.to_string())?;
    book.in_force(&region, on).map_err(|e| e.to_string())
}

/// `date` plus whole calendar months; the 31st becomes the last day of a shorter month.
pub fn months_after(date: NaiveDate, months: u32) -> Result<NaiveDate, String> {
    policy::dates::months_after(date, months)
        .ok_or_else(|| format!("{date} plus {months} months is out of range"))
}

/// Runs until `mesh.stopping` is cancelled. A failed round is logged and tried again on the next
/// tick: a database that is away must not stop the service.
pub async fn run(state: State) -> anyhow::Result<()> {
    let every = Duration::from_millis(state.settings.schedule_interval_ms);
    let batch = usize::try_from(state.settings.schedule_batch).unwrap_or(usize::MAX);
    let stop = state.mesh.stopping.clone();
    mesh::rounds::run("re-verification scheduler", stop, every, batch, || {
        round(&state)
    })
    .await
}

/// Leases one batch and re-verifies it; returns how many households it leased.
async fn round(state: &State) -> anyhow::Result<usize> {
    let today = state.mesh.today();
    let leased = store::lease_due(
        &state.mesh.db,
        today,
        state.settings.schedule_batch.max(1),
        LEASE.as_secs_f64(),
    )
    .await?;
    let n = leased.len();
    for (i, lease) in leased.iter().enumerate() {
        let done = tokio::select! {
            biased;
            _ = state.mesh.stopping.cancelled() => None,
            r = reverify(state, lease) => Some(r),
        };
        match done {
            Some(Ok(())) => {}
            // The lease is kept: the household is tried again when it runs out, not at every
            // tick, in case the failure is one that lasts.
            Some(Err(error)) => tracing::warn!(
                household_id = %lease.household_id,
                error = format!("{error:#}"),
                "Re-verification failed; it is tried again when its lease runs out."
            ),
            None => {
                // Shutting down: nothing of this household was recorded; give its lease and the
                // rest of the batch back for another replica, or the next start.
                store::release(&state.mesh.db, &leased[i..]).await?;
                break;
            }
        }
    }
    Ok(n)
}

/// Asks every source about the household again; in one transaction, stores the report, moves
/// the next re-verification on and publishes `verify.household.reverified`.
async fn reverify(state: &State, lease: &Leased) -> anyhow::Result<()> {
    // Its own trace: nothing upstream caused it but the date.
    let span = tracing::info_span!(
        "reverify",
        otel.name = "reverify household",
        otel.kind = "internal",
        household_id = %lease.household_id,
    );
    async {
        let chain = ChainRef {
            household_id: lease.household_id,
            chain_id: lease.chain_id,
            causation_id: lease.enrolment_event_id.clone(),
        };
        let asked = sources::ask_all(state, &chain, lease.members.0.clone()).await;
        let member_ids: Vec<Uuid> = lease.members.iter().map(|m| m.member_id).collect();
        let f = sources::assemble(
            &member_ids,
            &asked,
            state.mesh.settings.bounds.max_amount_fen,
        );
        // The interval is counted from the due date, not from when the scheduler got to it, so
        // a late re-verification does not push every later one back. An incomplete report moves
        // the date on too: its gaps are in the event for a caseworker, and asking again at every
        // tick would not fill them.
        let params = params(&state.policy, &lease.region_code, lease.due_on)
            .map_err(anyhow::Error::msg)?;
        let next_due_on = months_after(lease.due_on, params.reverification_months)
            .map_err(anyhow::Error::msg)?;
        let report = HouseholdReverified {
            report_id: Uuid::new_v4(),
            application_id: lease.application_id,
            due_on: lease.due_on,
            complete: f.complete,
            gaps: f.gaps,
            sources: f.sources,
            members: f.members,
            next_due_on,
        };

        let mut tx = state.mesh.db.begin().await?;
        if !store::complete_reverification(&mut tx, lease, next_due_on).await? {
            tracing::warn!("The lease ran out and another replica took the household over; this re-verification is dropped.");
            return Ok(());
        }
        store::insert_report(
            &mut tx,
            &NewReport {
                report_id: report.report_id,
                application_id: report.application_id,
                household_id: lease.household_id,
                region_code: Some(&lease.region_code),
                purpose: Purpose::Reverification {
                    due_on: lease.due_on,
                },
                complete: report.complete,
                gaps: &report.gaps,
                members: &report.members,
                supersedes: None,
            },
            &asked,
        )
        .await?;
        // A source that answers here is up again for the applications waiting for it.
        hold::note_health(state, &mut tx, &asked.iter().collect::<Vec<_>>()).await?;
        let out = state
            .mesh
            .envelope(&chain, Some(lease.application_id.to_string()), report);
        mesh::outbox::enqueue_on(
            &mut tx,
            &state.mesh.subjects,
            HOUSEHOLD_REVERIFIED,
            &out,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            complete = out.data.complete,
            gaps = out.data.gaps.len(),
            due_on = %out.data.due_on,
            next_due_on = %out.data.next_due_on,
            "Household re-verified."
        );
        Ok(())
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn months_are_calendar_months_and_the_end_of_a_month_stays_in_it() {
        assert_eq!(
            months_after(date("2026-01-15"), 6).unwrap(),
            date("2026-07-15")
        );
        assert_eq!(
            months_after(date("2026-08-31"), 6).unwrap(),
            date("2027-02-28")
        );
        assert_eq!(
            months_after(date("2026-11-22"), 12).unwrap(),
            date("2027-11-22")
        );
    }

    #[test]
    fn the_intervals_come_from_the_set_in_force_for_the_region() {
        let book = PolicyBook::builtin();
        let p = params(&book, "410102", date("2026-11-22")).unwrap();
        assert!(p.reverification_months >= 1 && p.reverification_months <= 6);
        assert!(p.home_visit_months >= 1 && p.home_visit_months <= 12);
        assert!(params(&book, "not-a-region", date("2026-11-22")).is_err());
    }
}
