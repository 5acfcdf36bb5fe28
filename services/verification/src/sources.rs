//! The fan-out to the data holders, shared by the verification of an application and the
//! periodic re-verification of an enrolled household: ask every configured source in parallel,
//! each with a timeout per attempt and bounded retries, and sum what they said.

use crate::state::State;
use contract::channels::SOURCE_QUERY;
use contract::{
    AnswerStatus, QueryMember, SourceAnswer, SourceProvenance, SourceQuery, VerifiedMember,
};
use mesh::{ChainRef, Envelope};
use std::collections::BTreeMap;
use std::time::Duration;
use tracing::Instrument;
use uuid::Uuid;

/// `SourceProvenance::outcome` of a source that answered.
pub const ANSWERED: &str = "answered";
/// … of one that answered with an error: a gap that asking again does not fill.
pub const ERROR: &str = "error";
/// … of one that gave no answer (timed out, or nobody listens): asked again while the
/// application is held.
pub const NO_ANSWER: &str = "no_answer";

/// One source's part of the report.
#[derive(Debug, Clone)]
pub struct Asked {
    pub provenance: SourceProvenance,
    pub answer: Option<SourceAnswer>,
}

/// What the sources said of a household, summed per member.
#[derive(Debug, Clone)]
pub struct Findings {
    /// True when every source answered; otherwise `gaps` names those that did not.
    pub complete: bool,
    pub gaps: Vec<String>,
    pub sources: Vec<SourceProvenance>,
    pub members: Vec<VerifiedMember>,
}

/// Asks every configured source about `members`, all at once.
pub async fn ask_all(state: &State, chain: &ChainRef, members: Vec<QueryMember>) -> Vec<Asked> {
    ask_some(state, chain, &members, &state.settings.sources).await
}

/// Asks `sources` about `members`, all at once.
pub async fn ask_some(
    state: &State,
    chain: &ChainRef,
    members: &[QueryMember],
    sources: &[String],
) -> Vec<Asked> {
    if sources.is_empty() {
        return Vec::new();
    }
    let query = SourceQuery {
        request_id: Uuid::new_v4(),
        members: members.to_vec(),
    };
    futures::future::join_all(
        sources
            .iter()
            .map(|source| ask(state, source, chain, &query)),
    )
    .await
}

/// The part of a source that is down and was not asked: it has no answer yet; its probe asks.
pub fn not_asked(source: &str, at: chrono::DateTime<chrono::Utc>) -> Asked {
    Asked {
        provenance: SourceProvenance {
            source: source.to_owned(),
            outcome: NO_ANSWER.into(),
            detail: Some("not asked: the source has not answered since an earlier query".into()),
            at,
        },
        answer: None,
    }
}

/// Incomes and assets of `members` summed over the sources that answered. A source that did not
/// answer is a gap, never a zero. Each source's figures are within `max_amount_fen` (an answer
/// out of range is an error of its source); a member's sum over several sources is kept at
/// `max_amount_fen` at most: the report stays within the bounds intake checks, and a figure
/// that high is far above any standard, so it decides the same.
pub fn assemble(members: &[Uuid], asked: &[Asked], max_amount_fen: i64) -> Findings {
    let mut totals: BTreeMap<Uuid, (i64, i64)> = members.iter().map(|m| (*m, (0, 0))).collect();
    let add = |sum: i64, fen: Option<i64>| {
        sum.saturating_add(fen.unwrap_or(0).max(0))
            .min(max_amount_fen)
    };
    for answer in asked.iter().filter_map(|a| a.answer.as_ref()) {
        for r in &answer.records {
            if let Some(t) = totals.get_mut(&r.member_id) {
                t.0 = add(t.0, r.monthly_income_fen);
                t.1 = add(t.1, r.assets_fen);
            }
        }
    }
    let gaps: Vec<String> = asked
        .iter()
        .filter(|a| a.provenance.outcome != ANSWERED)
        .map(|a| a.provenance.source.clone())
        .collect();
    Findings {
        complete: gaps.is_empty(),
        gaps,
        sources: asked.iter().map(|a| a.provenance.clone()).collect(),
        members: members
            .iter()
            .map(|m| {
                let (income, assets) = totals[m];
                VerifiedMember {
                    member_id: *m,
                    monthly_income_fen: income,
                    assets_fen: assets,
                }
            })
            .collect(),
    }
}

/// Asks one source, with a timeout per attempt and doubling delays between attempts.
async fn ask(state: &State, source: &str, chain: &ChainRef, query: &SourceQuery) -> Asked {
    let subject = SOURCE_QUERY.subject_for(&state.mesh.subjects, source);
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
                    let bounds = &state.mesh.settings.bounds;
                    if let Err(why) = mesh::EventKind::check_bounds(&answer, bounds) {
                        // Figures out of range are the source's error: a gap, not a zero.
                        tracing::warn!(source, %why, "Data source answered out of range.");
                        return Asked {
                            provenance: SourceProvenance {
                                source: source.to_owned(),
                                outcome: "error".into(),
                                detail: Some(format!("the answer is out of range: {why}")),
                                at: state.mesh.clock.now(),
                            },
                            answer: None,
                        };
                    }
                    return Asked {
                        provenance: SourceProvenance {
                            source: source.to_owned(),
                            outcome: ANSWERED.into(),
                            detail: None,
                            at: state.mesh.clock.now(),
                        },
                        answer: Some(answer),
                    };
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
                            outcome: ERROR.into(),
                            detail: Some(detail),
                            at: state.mesh.clock.now(),
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
                outcome: NO_ANSWER.into(),
                detail: Some(format!("{} attempts: {last}", cfg.attempts)),
                at: state.mesh.clock.now(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use contract::SourceRecord;

    fn answered(source: &str, records: Vec<SourceRecord>) -> Asked {
        Asked {
            provenance: SourceProvenance {
                source: source.into(),
                outcome: "answered".into(),
                detail: None,
                at: Utc::now(),
            },
            answer: Some(SourceAnswer {
                request_id: Uuid::nil(),
                source: source.into(),
                status: AnswerStatus::Ok,
                error: None,
                records,
            }),
        }
    }

    #[test]
    fn answers_are_summed_per_member_and_a_silent_source_is_a_gap_not_a_zero() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let asked = vec![
            answered(
                "tax",
                vec![SourceRecord {
                    member_id: a,
                    monthly_income_fen: Some(70_000),
                    assets_fen: None,
                }],
            ),
            answered(
                "bank",
                vec![
                    SourceRecord {
                        member_id: a,
                        monthly_income_fen: Some(500),
                        assets_fen: Some(1_000_000),
                    },
                    // A member not in the household is ignored.
                    SourceRecord {
                        member_id: Uuid::new_v4(),
                        monthly_income_fen: Some(9_999),
                        assets_fen: None,
                    },
                ],
            ),
            Asked {
                provenance: SourceProvenance {
                    source: "vehicle".into(),
                    outcome: "no_answer".into(),
                    detail: Some("2 attempts".into()),
                    at: Utc::now(),
                },
                answer: None,
            },
        ];
        let f = assemble(&[a, b], &asked, 100_000_000_000);
        assert!(!f.complete);
        assert_eq!(f.gaps, vec!["vehicle".to_owned()]);
        assert_eq!(f.sources.len(), 3);
        assert_eq!(f.members[0].member_id, a);
        assert_eq!(f.members[0].monthly_income_fen, 70_500);
        assert_eq!(f.members[0].assets_fen, 1_000_000);
        assert_eq!(f.members[1].monthly_income_fen, 0);
    }

    #[test]
    fn a_members_sum_over_the_sources_stays_within_the_bound() {
        let a = Uuid::new_v4();
        let rich = |source: &str| {
            answered(
                source,
                vec![SourceRecord {
                    member_id: a,
                    monthly_income_fen: Some(60),
                    assets_fen: Some(i64::MAX),
                }],
            )
        };
        let f = assemble(&[a], &[rich("tax"), rich("bank")], 100);
        assert_eq!(f.members[0].monthly_income_fen, 100);
        assert_eq!(f.members[0].assets_fen, 100);
    }
}
