//! Departmental feed records matched with the population database and acted on: each valid
//! record is matched by ID number, chunk by chunk (`id_number = ANY($1)`), and the actions of
//! [`rules::decide`] are applied in the chunk's transaction with their outbox events. A record
//! (source + record id) acts once, however often and by whichever path it arrives:
//! `feed_records` holds every record seen.

use crate::domain::referrals::{Cause, Referral};
use crate::domain::rules::{self, Action};
use crate::domain::{township_of, Via};
use crate::state::State;
use crate::store;
use crate::store::households::Found;
use crate::store::warnings::NewWarning;
use chrono::NaiveDate;
use contract::channels::HOUSEHOLD_CHANGED;
use contract::{AssistanceChange, FeedRecord, FeedSource, HouseholdChanged, RedeterminationCause};
use mesh::audit::{self, Entry};
use mesh::{Actor, ChainRef, HandlerError};
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

/// A valid record and where it was read (its CSV line; 0 for a message).
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    pub record: FeedRecord,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ActionCounts {
    pub household_changed: u64,
    /// Households determined again (a member died and the others go on).
    pub redetermined: u64,
    pub referrals: u64,
    pub warnings: u64,
}

/// Whom a chunk of records is applied for.
#[derive(Debug, Clone)]
pub struct By {
    /// The actor of the audit records: the person who posted the file, the person an event
    /// names, or monitoring's rules (`system:monitoring`) for a department's record on
    /// `monitor.feed.{source}`.
    pub actor: Actor,
    /// A person asked (a file posted, an event carrying its actor): the events the records
    /// cause carry the actor, and `feed_records` the poster of a file.
    pub person: bool,
    /// The purpose the request stated (`X-Relief-Purpose`), for the audit records.
    pub purpose: Option<String>,
}

impl By {
    /// The person of an HTTP request.
    pub fn person(actor: Actor, headers: &axum::http::HeaderMap) -> By {
        By {
            actor,
            person: true,
            purpose: Entry::new("", "", "").purpose_from(headers).purpose,
        }
    }

    /// The actor of an event, or monitoring's rules when it names none.
    pub fn event(actor: Option<&Actor>) -> By {
        By {
            actor: actor
                .cloned()
                .unwrap_or_else(|| Actor::system("monitoring")),
            person: actor.is_some(),
            purpose: None,
        }
    }

    fn entry(&self, action: &str, kind: &str, id: impl ToString) -> Entry {
        let mut e = Entry::new(action, kind, id);
        e.purpose = self.purpose.clone();
        e
    }

    /// The actor events carry, when a person asked.
    fn on_events(&self) -> Option<&Actor> {
        self.person.then_some(&self.actor)
    }
}

#[derive(Debug, Default)]
pub struct ChunkOutcome {
    pub applied: u64,
    pub duplicates: u64,
    pub matched: u64,
    pub not_covered: u64,
    pub actions: ActionCounts,
}

/// Matches and applies valid rows in the caller's transaction, for `by`: one audit record per
/// person in the population database a record acted on (`feed.act`, with household and
/// person), and one for the chunk (`feed.compare`, its counts), in the same transaction.
#[allow(clippy::too_many_arguments)]
pub async fn apply_rows(
    state: &State,
    tx: &mut PgConnection,
    source: FeedSource,
    rows: &[Row],
    via: Via,
    causation_id: Option<&str>,
    by: &By,
    today: NaiveDate,
) -> Result<ChunkOutcome, HandlerError> {
    let mut out = ChunkOutcome::default();
    if rows.is_empty() {
        return Ok(out);
    }
    // The records not seen before, claimed in this transaction.
    let ids: Vec<&str> = rows.iter().map(|r| r.record.record_id.as_str()).collect();
    let posted_by = (via == Via::Csv && by.person).then_some(&by.actor);
    let mut fresh = store::feeds::claim(tx, source, &ids, via, posted_by).await?;
    let todo: Vec<&Row> = rows
        .iter()
        // A record id twice in one chunk is applied for its first row.
        .filter(|r| fresh.remove(&r.record.record_id))
        .collect();
    out.applied = todo.len() as u64;
    out.duplicates = (rows.len() - todo.len()) as u64;
    if todo.is_empty() {
        compared(state, tx, source, rows, &out, by).await?;
        return Ok(out);
    }
    let people: Vec<&str> = todo.iter().map(|r| r.record.id_number.as_str()).collect();
    let found = store::households::lookup(tx, &people).await?;
    let mut matched_ids: Vec<String> = Vec::new();
    let mut matched_actions: Vec<serde_json::Value> = Vec::new();
    for row in todo {
        let person = found.get(&row.record.id_number);
        let actions = rules::decide(source, &row.record, person.map(|f| &f.enrolled));
        let assisted = person.is_some_and(|p| p.enrolled.assisted());
        if assisted {
            out.matched += 1;
        } else {
            out.not_covered += 1;
        }
        if actions.is_empty() && !assisted {
            continue;
        }
        let done = act(
            state,
            tx,
            source,
            row,
            person,
            &actions,
            causation_id,
            by.on_events(),
            today,
        )
        .await?;
        if let Some(p) = person.filter(|_| assisted) {
            let entry = by
                .entry(
                    "feed.act",
                    "feed_record",
                    format!("{source}:{}", row.record.record_id),
                )
                .household(p.recipient.household_id)
                .person(p.recipient.member_id)
                .detail(json!({
                    "source": source,
                    "record_id": row.record.record_id,
                    "household_changed": done.household_changed,
                    "referrals": done.referrals,
                    "warnings": done.warnings,
                }));
            audit::append(tx, &state.mesh, &by.actor, entry).await?;
        }
        out.actions.household_changed += done.household_changed;
        out.actions.redetermined += done.redetermined;
        out.actions.referrals += done.referrals;
        out.actions.warnings += done.warnings;
        matched_ids.push(row.record.record_id.clone());
        matched_actions.push(json!({
            "matched": assisted,
            "household_changed": done.household_changed,
            "referrals": done.referrals,
            "warnings": done.warnings,
        }));
    }
    if !matched_ids.is_empty() {
        store::feeds::record_actions(tx, source, &matched_ids, &matched_actions).await?;
    }
    compared(state, tx, source, rows, &out, by).await?;
    Ok(out)
}

/// The audit record of a chunk compared (`feed.compare`): its counts and lines, no personal
/// data.
async fn compared(
    state: &State,
    tx: &mut PgConnection,
    source: FeedSource,
    rows: &[Row],
    out: &ChunkOutcome,
    by: &By,
) -> anyhow::Result<()> {
    let entry = by.entry("feed.compare", "feed", source).detail(json!({
        "source": source,
        "rows": rows.len(),
        "first_line": rows.first().map(|r| r.line),
        "last_line": rows.last().map(|r| r.line),
        "applied": out.applied,
        "duplicates": out.duplicates,
        "matched": out.matched,
        "not_covered": out.not_covered,
        "actions": out.actions,
    }));
    audit::append(tx, &state.mesh, &by.actor, entry).await?;
    Ok(())
}

/// Applies one record's actions.
#[allow(clippy::too_many_arguments)]
#[allow(
    clippy::too_many_lines,
    reason = "one arm per action the rules can take on a record; to be split into one function per action"
)]
async fn act(
    state: &State,
    tx: &mut PgConnection,
    source: FeedSource,
    row: &Row,
    person: Option<&Found>,
    actions: &[Action],
    causation_id: Option<&str>,
    by: Option<&Actor>,
    today: NaiveDate,
) -> Result<ActionCounts, HandlerError> {
    let r = &row.record;
    let cause = format!("feed:{source}:{}", r.record_id);
    let mut done = ActionCounts::default();
    let poison = |e: policy::PolicyError| HandlerError::Poison(e.to_string());
    let here = r.region_code.clone();
    let local = state.policy.in_force(&here, today).map_err(poison)?;
    // Set when a stop was already applied by another record: its warning is not raised twice.
    let mut already_stopped = false;
    for action in actions {
        match action {
            Action::Stop {
                reason,
                stop_from_month,
            } => {
                let Some(Found { recipient: p, .. }) = person else {
                    continue;
                };
                let region = p.region_code.clone();
                let params = state.policy.in_force(&region, today).map_err(poison)?;
                let change = HouseholdChanged {
                    change_id: Uuid::new_v5(&p.household_id, format!("{cause}/stop").as_bytes()),
                    member_id: Some(p.member_id),
                    change: AssistanceChange::Stopped,
                    reason: (*reason).to_owned(),
                    occurred_on: r.occurred_on,
                    stop_from_month: *stop_from_month,
                    exit_months: None,
                    decided_by: format!("rule:{}", params.version),
                };
                let at = state.mesh.clock.now();
                if !store::households::apply_change(tx, p.household_id, &change, at).await? {
                    already_stopped = true;
                    continue;
                }
                let chain = chain_of(p, causation_id);
                let mut out =
                    state
                        .mesh
                        .envelope(&chain, Some(change.change_id.to_string()), change);
                if let Some(actor) = by {
                    out = out.by(actor.clone());
                }
                mesh::outbox::enqueue_on(tx, &state.mesh.subjects, HOUSEHOLD_CHANGED, &out).await?;
                done.household_changed += 1;
                // The others go on: the household is determined again without the person.
                if source == FeedSource::Death
                    && crate::ops::redetermination::member_left(
                        state,
                        tx,
                        p,
                        RedeterminationCause::Death,
                        r.occurred_on,
                        &chain,
                        by,
                    )
                    .await?
                {
                    done.redetermined += 1;
                }
            }
            Action::Refer {
                department,
                need,
                circumstances,
            } => {
                let Some(Found { recipient: p, .. }) = person else {
                    continue;
                };
                let region = p.region_code.clone();
                let params = state.policy.in_force(&region, today).map_err(poison)?;
                let referral = Referral {
                    cause: Cause::Feed {
                        source,
                        record_id: &r.record_id,
                    },
                    department: *department,
                    need: (*need).to_owned(),
                    circumstances: Some(circumstances.clone()),
                };
                let feedback_due = policy::dates::deadline(today, params.referral_feedback_days);
                crate::ops::referrals::push(
                    state,
                    tx,
                    p,
                    &referral,
                    causation_id,
                    by,
                    feedback_due,
                    today,
                )
                .await?;
                done.referrals += 1;
            }
            Action::Warn { kind, reason } => {
                if already_stopped {
                    continue;
                }
                let mut detail = json!({
                    "source": source,
                    "record_id": r.record_id,
                    "occurred_on": r.occurred_on,
                    "reason": reason,
                    "policy_version": local.version,
                });
                if let Some(g) = r.disability_grade {
                    detail["disability_grade"] = json!(g);
                }
                if let Some(d) = r.house_damage {
                    detail["house_damage"] = json!(d);
                }
                let (_, new) = store::warnings::raise(
                    tx,
                    &NewWarning {
                        dedupe_key: format!("{cause}:{kind}"),
                        kind: *kind,
                        household_id: person.map(|p| p.recipient.household_id),
                        member_id: person.map(|p| p.recipient.member_id),
                        township_code: township_of(r.region_code.as_str()),
                        detail,
                        verify_due: policy::dates::deadline(today, local.warning_verify_days),
                        raised_at: state.mesh.clock.now(),
                    },
                )
                .await?;
                done.warnings += u64::from(new);
            }
            Action::Remember { fact } => {
                let Some(Found { recipient: p, .. }) = person else {
                    continue;
                };
                store::households::record_fact(
                    tx,
                    p.household_id,
                    p.member_id,
                    fact,
                    r.occurred_on,
                    &cause,
                )
                .await?;
                // The household determined again with it (the add-on, single-person dibao).
                if crate::ops::redetermination::circumstance_found(
                    state,
                    tx,
                    p,
                    fact,
                    r.occurred_on,
                    &chain_of(p, causation_id),
                    by,
                )
                .await?
                {
                    done.redetermined += 1;
                }
            }
        }
    }
    Ok(done)
}

fn chain_of(p: &crate::domain::referrals::Recipient, causation_id: Option<&str>) -> ChainRef {
    ChainRef {
        household_id: p.household_id,
        chain_id: p.chain_id,
        causation_id: causation_id.map(str::to_owned),
    }
}
