//! Verification's SQL for held applications, the sources that do not answer, and the
//! verifications an officer completed by hand. Every time compared or stored here is the
//! service's clock's (bound as a parameter), never the database's `now()`, so that the hold and
//! the backoff follow the business clock.

use crate::sources::Asked;
use chrono::{DateTime, Utc};
use contract::{QueryMember, SourceAnswer, SourceProvenance};
use mesh::Actor;
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// `held_verifications.state` as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum HeldState {
    /// No report yet: a source did not answer and the hold has not run out.
    WaitingForSource,
    /// The report went out with the gaps (intake's manual verification); the sources that did
    /// not answer are asked again, so that a complete report can supersede it.
    ReportedWithGaps,
}

/// A held application as the hold task and the consumers see it.
#[derive(Debug, Clone)]
pub struct Held {
    pub application_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    /// The `intake.application.submitted` event its reports answer.
    pub causation_id: String,
    pub members: Json<Vec<QueryMember>>,
    pub state: HeldState,
    pub hold_until: DateTime<Utc>,
    /// The report with gaps, once it went out.
    pub report_id: Option<Uuid>,
    /// The trace context of the submitted event, so that the report joins the application's trace.
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    /// The claim of the replica working on it: also its token.
    pub claimed_until: Option<DateTime<Utc>>,
    /// The household's region; none for an application held before regions were kept.
    pub region_code: Option<String>,
}

/// A new held application.
pub struct NewHeld<'a> {
    pub application_id: Uuid,
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub causation_id: &'a str,
    pub members: &'a [QueryMember],
    pub state: HeldState,
    pub held_since: DateTime<Utc>,
    pub hold_until: DateTime<Utc>,
    pub report_id: Option<Uuid>,
    pub traceparent: Option<&'a str>,
    pub tracestate: Option<&'a str>,
    pub region_code: Option<&'a str>,
}

/// Holds an application with what each source said so far.
pub async fn insert(tx: &mut PgConnection, h: &NewHeld<'_>, parts: &[Asked]) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO held_verifications (application_id, household_id, chain_id, causation_id, members, state,
             held_since, hold_until, report_id, traceparent, tracestate, region_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        h.application_id,
        h.household_id,
        h.chain_id,
        h.causation_id,
        Json(h.members) as _,
        h.state as HeldState,
        h.held_since,
        h.hold_until,
        h.report_id,
        h.traceparent,
        h.tracestate,
        h.region_code,
    )
    .execute(&mut *tx)
    .await?;
    for a in parts {
        sqlx::query!(
            "INSERT INTO held_sources (application_id, source, outcome, detail, answer, at) VALUES ($1, $2, $3, $4, $5, $6)",
            h.application_id,
            a.provenance.source,
            a.provenance.outcome,
            a.provenance.detail,
            a.answer.as_ref().map(Json) as _,
            a.provenance.at,
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Whether verification has the application already: reported, or held.
pub async fn known(db: &PgPool, application_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT (EXISTS (SELECT 1 FROM reports WHERE application_id = $1 AND purpose = 'application')
                OR EXISTS (SELECT 1 FROM held_verifications WHERE application_id = $1)) AS "known!""#,
        application_id,
    )
    .fetch_one(db)
    .await
}

/// Claims up to `batch` held applications that are due, until `claimed_until`: those whose
/// sources without an answer are none of them down (a source that is down is probed on its own,
/// not once per application), and those still waiting whose hold has run out. One statement, so
/// the claim is committed on return; rows another replica is claiming are skipped.
pub async fn claim_due(
    db: &PgPool,
    now: DateTime<Utc>,
    batch: i64,
    claimed_until: DateTime<Utc>,
) -> sqlx::Result<Vec<Held>> {
    sqlx::query_as!(
        Held,
        r#"WITH due AS (
             SELECT h.application_id FROM held_verifications h
             WHERE (h.claimed_until IS NULL OR h.claimed_until < $1)
               AND ((h.state = 'waiting_for_source' AND h.hold_until <= $1)
                    OR NOT EXISTS (SELECT 1 FROM held_sources s JOIN source_outages o ON o.source = s.source
                                   WHERE s.application_id = h.application_id AND s.outcome = 'no_answer'))
             ORDER BY h.held_since, h.application_id
             LIMIT $2
             FOR UPDATE OF h SKIP LOCKED)
         UPDATE held_verifications h SET claimed_until = $3
         FROM due WHERE h.application_id = due.application_id
         RETURNING h.application_id, h.household_id, h.chain_id, h.causation_id,
                   h.members AS "members: Json<Vec<QueryMember>>", h.state AS "state: HeldState",
                   h.hold_until, h.report_id, h.traceparent, h.tracestate, h.claimed_until, h.region_code"#,
        now,
        batch,
        claimed_until,
    )
    .fetch_all(db)
    .await
}

/// The held application, locked until the transaction ends, if it is still held under `claim`
/// (`None` for the probe, which claims a source and not the application).
pub async fn lock(
    tx: &mut PgConnection,
    application_id: Uuid,
    claim: Option<DateTime<Utc>>,
) -> sqlx::Result<Option<Held>> {
    let held = sqlx::query_as!(
        Held,
        r#"SELECT application_id, household_id, chain_id, causation_id,
                  members AS "members: Json<Vec<QueryMember>>", state AS "state: HeldState",
                  hold_until, report_id, traceparent, tracestate, claimed_until, region_code
         FROM held_verifications WHERE application_id = $1 FOR UPDATE"#,
        application_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(held.filter(|h| claim.is_none() || h.claimed_until == claim))
}

/// Records what a source said now of a held application. A source that did not answer this
/// time does not overwrite an answer another query got meanwhile.
pub async fn record(tx: &mut PgConnection, application_id: Uuid, a: &Asked) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE held_sources SET outcome = $3, detail = $4, answer = $5, at = $6
         WHERE application_id = $1 AND source = $2 AND ($3 <> 'no_answer' OR outcome = 'no_answer')",
        application_id,
        a.provenance.source,
        a.provenance.outcome,
        a.provenance.detail,
        a.answer.as_ref().map(Json) as _,
        a.provenance.at,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// What each source said so far of a held application, by source.
pub async fn parts(tx: &mut PgConnection, application_id: Uuid) -> sqlx::Result<Vec<Asked>> {
    let rows = sqlx::query!(
        r#"SELECT source, outcome, detail, answer AS "answer: Json<SourceAnswer>", at
         FROM held_sources WHERE application_id = $1 ORDER BY source"#,
        application_id,
    )
    .fetch_all(tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Asked {
            provenance: SourceProvenance {
                source: r.source,
                outcome: r.outcome,
                detail: r.detail,
                at: r.at,
            },
            answer: r.answer.map(|a| a.0),
        })
        .collect())
}

/// The held application has sent its report with gaps: it now waits for the sources to answer
/// again, unclaimed.
pub async fn set_reported(
    tx: &mut PgConnection,
    application_id: Uuid,
    report_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE held_verifications SET state = 'reported_with_gaps', report_id = $2, claimed_until = NULL
         WHERE application_id = $1",
        application_id,
        report_id,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Gives claims back unused (at shutdown), if they are still `claimed_until`'s.
pub async fn release_all(
    db: &PgPool,
    application_ids: &[Uuid],
    claimed_until: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE held_verifications SET claimed_until = NULL
         WHERE application_id = ANY($1) AND claimed_until = $2",
        application_ids,
        claimed_until,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Gives the claim back: the application waits for a source that is down.
pub async fn release(tx: &mut PgConnection, application_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE held_verifications SET claimed_until = NULL WHERE application_id = $1",
        application_id,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// The application is no longer held (its report is complete, or an officer verified it).
pub async fn remove(tx: &mut PgConnection, application_id: Uuid) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "DELETE FROM held_verifications WHERE application_id = $1",
        application_id,
    )
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A source that does not answer, as the probe claimed it.
#[derive(Debug, Clone)]
pub struct Outage {
    pub source: String,
    /// Failed probes so far.
    pub probes: i32,
    /// The probe's claim: also its token.
    pub next_probe_at: DateTime<Utc>,
}

/// The sources down now: not asked for each application, but probed.
pub async fn sources_down(db: &PgPool) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!("SELECT source FROM source_outages ORDER BY source")
        .fetch_all(db)
        .await
}

/// A source answered (or answered with an error: it is reachable), or did not: the first
/// ends its outage, so every application waiting for it is due; the second begins one, its
/// first probe `first_probe_at`, unless it is down already. Call in source order, so that two
/// transactions lock the rows in the same order.
pub async fn note(
    tx: &mut PgConnection,
    source: &str,
    answered: bool,
    now: DateTime<Utc>,
    first_probe_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    if answered {
        sqlx::query!("DELETE FROM source_outages WHERE source = $1", source)
            .execute(tx)
            .await?;
    } else {
        sqlx::query!(
            "INSERT INTO source_outages (source, since, probes, next_probe_at) VALUES ($1, $2, 0, $3)
             ON CONFLICT (source) DO NOTHING",
            source,
            now,
            first_probe_at,
        )
        .execute(tx)
        .await?;
    }
    Ok(())
}

/// Claims the outages whose probe is due, until `claimed_until`.
pub async fn claim_probes(
    db: &PgPool,
    now: DateTime<Utc>,
    claimed_until: DateTime<Utc>,
) -> sqlx::Result<Vec<Outage>> {
    sqlx::query_as!(
        Outage,
        "WITH due AS (
             SELECT source FROM source_outages WHERE next_probe_at <= $1
             ORDER BY source FOR UPDATE SKIP LOCKED)
         UPDATE source_outages o SET next_probe_at = $2 FROM due WHERE o.source = due.source
         RETURNING o.source, o.probes, o.next_probe_at",
        now,
        claimed_until,
    )
    .fetch_all(db)
    .await
}

/// The held application a probe of `source` asks about: the one held longest among those
/// waiting for it.
pub async fn probe_target(db: &PgPool, source: &str) -> sqlx::Result<Option<Held>> {
    sqlx::query_as!(
        Held,
        r#"SELECT h.application_id, h.household_id, h.chain_id, h.causation_id,
                  h.members AS "members: Json<Vec<QueryMember>>", h.state AS "state: HeldState",
                  h.hold_until, h.report_id, h.traceparent, h.tracestate, h.claimed_until, h.region_code
         FROM held_verifications h JOIN held_sources s ON s.application_id = h.application_id
         WHERE s.source = $1 AND s.outcome = 'no_answer'
         ORDER BY h.held_since, h.application_id LIMIT 1"#,
        source,
    )
    .fetch_optional(db)
    .await
}

/// The probe of `outage` failed again: the next one is due at `next_probe_at`.
pub async fn postpone(
    db: &PgPool,
    outage: &Outage,
    next_probe_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE source_outages SET probes = probes + 1, next_probe_at = $3
         WHERE source = $1 AND next_probe_at = $2",
        outage.source,
        outage.next_probe_at,
        next_probe_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Nothing waits for the source any more: its outage ends without a probe, and the next
/// application asks it as usual.
pub async fn forget(db: &PgPool, outage: &Outage) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM source_outages WHERE source = $1 AND next_probe_at = $2",
        outage.source,
        outage.next_probe_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records that an officer completed the application's verification by hand (`verified_by` as
/// the event says it, `actor` the officer its envelope names); `false` when it was recorded
/// before.
pub async fn record_manual(
    tx: &mut PgConnection,
    application_id: Uuid,
    verified_by: &str,
    actor: Option<&Actor>,
    event_id: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO manual_verifications (application_id, verified_by, event_id, at, verified_by_actor) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (application_id) DO NOTHING",
        application_id,
        verified_by,
        event_id,
        at,
        actor.map(Json) as _,
    )
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Where the verification of an application stands, as `GET /v1/verifications/{id}` shows it.
#[derive(Debug, Serialize)]
pub struct VerificationView {
    pub application_id: Uuid,
    pub household_id: Uuid,
    /// `waiting_for_source`, `reported_with_gaps`, `verified` or `manually_verified`.
    pub status: &'static str,
    /// Sources asked again until they answer: while waiting, or after a report with gaps (a
    /// complete report then supersedes it). Empty when nothing more is asked.
    pub waiting_for: Vec<String>,
    pub held_since: Option<DateTime<Utc>>,
    /// When a waiting application's report goes out with the gaps, if the sources are still
    /// silent.
    pub hold_until: Option<DateTime<Utc>>,
    /// The current report; none while waiting.
    pub report_id: Option<Uuid>,
    pub complete: Option<bool>,
    /// `officer:<name>` when an officer completed the verification by hand.
    pub manually_verified_by: Option<String>,
    /// That officer, as intake's event names them (from their access token).
    pub manually_verified_by_actor: Option<Actor>,
}

/// Where the verification of an application stands, if its household lies in `areas` (LIKE
/// patterns, mesh::Acting::region_patterns); `None` when unknown or outside them, alike.
pub async fn view(
    db: &PgPool,
    application_id: Uuid,
    areas: &[String],
) -> sqlx::Result<Option<VerificationView>> {
    let held = sqlx::query!(
        r#"SELECT household_id, state AS "state: HeldState", held_since, hold_until,
                  ARRAY(SELECT source FROM held_sources s WHERE s.application_id = h.application_id
                        AND s.outcome = 'no_answer' ORDER BY source) AS "waiting_for!"
         FROM held_verifications h WHERE application_id = $1 AND region_code LIKE ANY($2)"#,
        application_id,
        areas,
    )
    .fetch_optional(db)
    .await?;
    let report = sqlx::query!(
        "SELECT report_id, household_id, complete FROM reports
         WHERE application_id = $1 AND purpose = 'application' AND NOT superseded AND region_code LIKE ANY($2)",
        application_id,
        areas,
    )
    .fetch_optional(db)
    .await?;
    if held.is_none() && report.is_none() {
        return Ok(None);
    }
    let manual = sqlx::query!(
        r#"SELECT verified_by, verified_by_actor AS "actor: Json<Actor>" FROM manual_verifications WHERE application_id = $1"#,
        application_id,
    )
    .fetch_optional(db)
    .await?;
    let (manual, manual_actor) = match manual {
        Some(m) => (Some(m.verified_by), m.actor.map(|a| a.0)),
        None => (None, None),
    };
    let mut view = VerificationView {
        application_id,
        household_id: Uuid::nil(),
        status: "verified",
        waiting_for: Vec::new(),
        held_since: None,
        hold_until: None,
        report_id: report.as_ref().map(|r| r.report_id),
        complete: report.as_ref().map(|r| r.complete),
        manually_verified_by: manual.clone(),
        manually_verified_by_actor: manual_actor,
    };
    if let Some(h) = held {
        view.household_id = h.household_id;
        view.waiting_for = h.waiting_for;
        view.held_since = Some(h.held_since);
        view.status = match h.state {
            HeldState::WaitingForSource => {
                view.hold_until = Some(h.hold_until);
                "waiting_for_source"
            }
            HeldState::ReportedWithGaps => "reported_with_gaps",
        };
        return Ok(Some(view));
    }
    let Some(r) = report else {
        return Ok(None);
    };
    view.household_id = r.household_id;
    view.status = if manual.is_some() {
        "manually_verified"
    } else if r.complete {
        "verified"
    } else {
        "reported_with_gaps"
    };
    Ok(Some(view))
}
