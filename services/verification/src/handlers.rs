//! Verification's consumer: ask every source, report with provenance.

use crate::app::State;
use crate::store;
use chrono::Utc;
use contract::{
    AnswerStatus, ApplicationSubmitted, HouseholdVerified, QueryMember, SourceAnswer,
    SourceProvenance, SourceQuery, VerifiedMember,
};
use mesh::consumer::Outcome;
use mesh::subjects::{HOUSEHOLD_VERIFIED, SOURCE_QUERY};
use mesh::{ChainRef, Delivery, Envelope, HandlerError};
use std::collections::BTreeMap;
use std::time::Duration;
use tracing::Instrument;
use uuid::Uuid;

/// One source's part of the report.
pub struct Asked {
    pub provenance: SourceProvenance,
    pub answer: Option<SourceAnswer>,
}

/// `intake.application.submitted` → `verify.household.verified`.
pub async fn on_submitted(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<ApplicationSubmitted>()?;
    // Asking eight sources is slow: skip it for a message already handled.
    if mesh::outbox::handled(&state.mesh.db, &d.consumer, &e.id).await? {
        return Ok(Outcome::Duplicate);
    }
    let chain = ChainRef::answering(&e);
    let query = SourceQuery {
        request_id: Uuid::new_v4(),
        members: e
            .data
            .members
            .iter()
            .map(|m| QueryMember {
                member_id: m.member_id,
                id_number: m.id_number.clone(),
            })
            .collect(),
    };
    let asked = futures::future::join_all(
        state
            .settings
            .sources
            .iter()
            .map(|source| ask(&state, source, &chain, &query)),
    )
    .await;

    let report = assemble(&e.data, &asked);
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    store::insert_report(&mut tx, e.household_id, &report, &asked).await?;
    let out = state
        .mesh
        .envelope(&chain, Some(report.application_id.to_string()), report);
    mesh::outbox::enqueue(&mut tx, &state.mesh.subjects.of(HOUSEHOLD_VERIFIED), &out).await?;
    tx.commit().await?;
    tracing::info!(
        complete = out.data.complete,
        gaps = out.data.gaps.len(),
        "Household verified."
    );
    Ok(Outcome::Applied)
}

/// The report from the answers: incomes and assets summed over the sources that answered.
pub fn assemble(app: &ApplicationSubmitted, asked: &[Asked]) -> HouseholdVerified {
    let mut totals: BTreeMap<Uuid, (i64, i64)> =
        app.members.iter().map(|m| (m.member_id, (0, 0))).collect();
    for answer in asked.iter().filter_map(|a| a.answer.as_ref()) {
        for r in &answer.records {
            if let Some(t) = totals.get_mut(&r.member_id) {
                t.0 += r.monthly_income_fen.unwrap_or(0).max(0);
                t.1 += r.assets_fen.unwrap_or(0).max(0);
            }
        }
    }
    let gaps: Vec<String> = asked
        .iter()
        .filter(|a| a.provenance.outcome != "answered")
        .map(|a| a.provenance.source.clone())
        .collect();
    HouseholdVerified {
        application_id: app.application_id,
        report_id: Uuid::new_v4(),
        complete: gaps.is_empty(),
        gaps,
        sources: asked.iter().map(|a| a.provenance.clone()).collect(),
        members: app
            .members
            .iter()
            .map(|m| {
                let (income, assets) = totals[&m.member_id];
                VerifiedMember {
                    member_id: m.member_id,
                    monthly_income_fen: income,
                    assets_fen: assets,
                }
            })
            .collect(),
    }
}

/// Asks one source, with a timeout per attempt and doubling delays between attempts.
async fn ask(state: &State, source: &str, chain: &ChainRef, query: &SourceQuery) -> Asked {
    let subject = state.mesh.subjects.fill(SOURCE_QUERY, source);
    let span = tracing::info_span!(
        "query",
        otel.name = format!("request {subject}"),
        otel.kind = "client",
        messaging.system = "nats",
        messaging.destination.name = %subject,
        source = %source,
    );
    async {
        let cfg = &state.settings;
        let mut delay = Duration::from_millis(cfg.retry_delay_ms);
        let mut last = String::new();
        for attempt in 1..=cfg.attempts {
            let envelope: Envelope<SourceQuery> = state.mesh.envelope(chain, None, query.clone());
            match request(
                state,
                &subject,
                &envelope,
                Duration::from_millis(cfg.timeout_ms),
            )
            .await
            {
                Ok(answer) if answer.status == AnswerStatus::Ok => {
                    return Asked {
                        provenance: SourceProvenance {
                            source: source.to_owned(),
                            outcome: "answered".into(),
                            detail: None,
                            at: Utc::now(),
                        },
                        answer: Some(answer),
                    }
                }
                Ok(answer) => {
                    // The source answered, with an error: asking again will not change its mind.
                    let detail = answer
                        .error
                        .unwrap_or_else(|| "error without detail".into());
                    tracing::warn!(source, %detail, "Data source answered with an error.");
                    return Asked {
                        provenance: SourceProvenance {
                            source: source.to_owned(),
                            outcome: "error".into(),
                            detail: Some(detail),
                            at: Utc::now(),
                        },
                        answer: None,
                    };
                }
                Err(e) => {
                    tracing::warn!(source, attempt, error = %e, "Data source did not answer.");
                    last = e;
                }
            }
            if attempt < cfg.attempts {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        Asked {
            provenance: SourceProvenance {
                source: source.to_owned(),
                outcome: "no_answer".into(),
                detail: Some(format!("{} attempts: {last}", cfg.attempts)),
                at: Utc::now(),
            },
            answer: None,
        }
    }
    .instrument(span)
    .await
}

async fn request(
    state: &State,
    subject: &str,
    envelope: &Envelope<SourceQuery>,
    timeout: Duration,
) -> Result<SourceAnswer, String> {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", envelope.id.as_str());
    mesh::telemetry::inject_nats(&mesh::telemetry::current_context(), &mut headers);
    let payload = serde_json::to_vec(envelope).map_err(|e| e.to_string())?;
    let reply = tokio::time::timeout(
        timeout,
        state
            .mesh
            .nats
            .request_with_headers(subject.to_owned(), headers, payload.into()),
    )
    .await
    .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
    .map_err(|e| e.to_string())?;
    let answer: Envelope<SourceAnswer> = serde_json::from_slice(&reply.payload)
        .map_err(|e| format!("the answer is not a valid envelope: {e}"))?;
    if answer.data.request_id != envelope.data.request_id {
        return Err("the answer is for another request".into());
    }
    Ok(answer.data)
}
