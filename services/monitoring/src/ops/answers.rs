//! A department's feedback under the answer protocol, in the consumer's transaction: read and
//! checked ([`check`]), judged against its referral and applied with its chain step
//! ([`judge_and_apply`]), or refused ([`refuse`]): recorded for operators
//! (`GET /v1/refused-feedback`) and told to the department on `referral.<dept>.refused`.

use crate::domain::answers::{digest, judge, Standing, Verdict};
use crate::state::State;
use crate::store;
use contract::answers::check_feedback;
use contract::channels::REFERRAL_REFUSED;
use contract::{FeedbackOutcome, ReferralFeedback, ReferralRefused, RefusalCode};
use mesh::{ChainRef, Delivery, Envelope, HandlerError};
use policy::Department;
use sqlx::PgConnection;
use uuid::Uuid;

/// The longest reason told, in characters.
const MAX_REASON: usize = 500;

/// What can be read of a feedback message before it is checked, to answer for it whatever it
/// holds.
#[derive(Debug, Clone)]
pub struct Read {
    /// The envelope `id`, when the body has one.
    pub event_id: Option<String>,
    pub msg_id: Option<String>,
    /// `data.referral_id`, when it is a UUID.
    pub referral_id: Option<Uuid>,
}

impl Read {
    pub fn of(d: &Delivery) -> Read {
        let raw: Option<serde_json::Value> = serde_json::from_slice(&d.payload).ok();
        let text = |v: Option<&serde_json::Value>| {
            v.and_then(|v| v.as_str())
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned)
        };
        Read {
            event_id: text(raw.as_ref().map(|v| &v["id"])),
            msg_id: d
                .header("Nats-Msg-Id")
                .filter(|m| !m.trim().is_empty())
                .map(str::to_owned),
            referral_id: raw
                .as_ref()
                .and_then(|v| v["data"]["referral_id"].as_str())
                .and_then(|s| Uuid::parse_str(s).ok()),
        }
    }

    /// The inbox keys of the message applied (its envelope id, or its place in the stream when
    /// it has none) and refused (its place in the stream).
    pub fn keys(&self, d: &Delivery) -> (String, String) {
        let refused = format!("refused-seq-{}", d.stream_sequence);
        let applied = self.event_id.clone().unwrap_or_else(|| refused.clone());
        (applied, refused)
    }

    fn refusal(&self, code: RefusalCode, reason: String) -> Refusal {
        Refusal {
            event_id: self.event_id.clone().or_else(|| self.msg_id.clone()),
            msg_id: self.msg_id.clone(),
            referral_id: self.referral_id,
            code,
            reason,
            answer_in_force: None,
            chain: None,
        }
    }
}

/// A feedback not applied, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub event_id: Option<String>,
    pub msg_id: Option<String>,
    pub referral_id: Option<Uuid>,
    pub code: RefusalCode,
    pub reason: String,
    pub answer_in_force: Option<String>,
    /// The referral's household and chain, when the referral is known.
    pub chain: Option<(Uuid, Uuid)>,
}

/// The message as an envelope of a feedback whose fields keep the protocol, with its grant as
/// applied (the period filled in from the kind); or why not.
pub fn check(
    d: &Delivery,
    department: Department,
    read: &Read,
) -> Result<(Envelope<ReferralFeedback>, ReferralFeedback), Box<Refusal>> {
    if read.msg_id.is_none() {
        return Err(Box::new(read.refusal(
            RefusalCode::MissingMsgId,
            "the message has no Nats-Msg-Id header: publish it to JetStream with Nats-Msg-Id = the envelope id".into(),
        )));
    }
    let e = d.envelope::<ReferralFeedback>().map_err(|e| {
        let why = match e {
            HandlerError::Poison(why) => why,
            other => other.to_string(),
        };
        Box::new(read.refusal(RefusalCode::Invalid, without_quoted(&why)))
    })?;
    if e.data.department != department {
        return Err(Box::new(read.refusal(
            RefusalCode::WrongDepartment,
            format!(
                "feedback on the {department} subject names department {}",
                e.data.department
            ),
        )));
    }
    let grant =
        check_feedback(&e.data).map_err(|why| Box::new(read.refusal(RefusalCode::Invalid, why)))?;
    let checked = ReferralFeedback {
        grant,
        ..e.data.clone()
    };
    Ok((e, checked))
}

/// A decoder's message without the text values it quotes (`invalid type: string "…"`): a
/// reason never repeats what a department wrote in a field, which could be personal data.
fn without_quoted(why: &str) -> String {
    let mut out = String::with_capacity(why.len());
    let mut inside = false;
    for c in why.chars() {
        if c == '"' {
            if !inside {
                out.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

/// For a message whose event id an applied answer already has: `None` when it is that answer
/// again (a redelivery, a re-send: nothing to do), else the refusal of another message under the
/// same id — another department's, or another answer of the same department — which would
/// otherwise be taken for the first and dropped unseen. Ids are unique per event (the contract).
pub async fn reused_id(
    state: &State,
    d: &Delivery,
    department: Department,
    read: &Read,
    event_id: &str,
) -> Result<Option<Refusal>, HandlerError> {
    let Some((referral_id, prior)) =
        store::referrals::answer_by_id(&state.mesh.db, event_id).await?
    else {
        return Ok(None);
    };
    let same = match check(d, department, read) {
        Ok((_, f)) => digest(&f) == prior,
        Err(_) => false,
    };
    if same {
        return Ok(None);
    }
    Ok(Some(read.refusal(
        RefusalCode::Invalid,
        format!(
            "event id {event_id} is already the id of another answer (to referral {referral_id}): every message needs its own id; derive it from the referral id"
        ),
    )))
}

/// What became of a checked feedback.
#[derive(Debug)]
pub enum Judged {
    Applied(FeedbackOutcome),
    /// The same answer again: nothing changed.
    Duplicate,
    Refused(Refusal),
    /// It builds on an answer not applied yet: try again; refuse at the last delivery.
    Wait(Refusal),
}

/// Judges `f` (the checked data of `e`) against its referral, locked, and applies it: the
/// referral's status and answer in force, the answer, the person's history and the chain step,
/// all in `tx`.
pub async fn judge_and_apply(
    state: &State,
    tx: &mut PgConnection,
    e: &Envelope<ReferralFeedback>,
    f: ReferralFeedback,
    d: &Delivery,
    read: &Read,
) -> Result<Judged, HandlerError> {
    let Some(r) = store::referrals::lock_referral(tx, f.referral_id).await? else {
        return Ok(Judged::Refused(read.refusal(
            RefusalCode::UnknownReferral,
            format!(
                "the mesh pushed no referral {} to the {} department",
                f.referral_id, f.department
            ),
        )));
    };
    if r.department != f.department.as_str() {
        return Ok(Judged::Refused(read.refusal(
            RefusalCode::UnknownReferral,
            format!(
                "the mesh pushed no referral {} to the {} department",
                f.referral_id, f.department
            ),
        )));
    }
    let known = |code, reason| Refusal {
        answer_in_force: r.answer_event_id.clone(),
        chain: Some((r.household_id, r.chain_id)),
        ..read.refusal(code, reason)
    };
    if r.household_id != e.household_id || r.chain_id != e.chain_id || r.member_id != f.member_id {
        return Ok(Judged::Refused(known(
            RefusalCode::Mismatch,
            format!(
                "feedback for referral {} names another household, chain or member than the referral",
                f.referral_id
            ),
        )));
    }
    let applied = store::referrals::answers_of(tx, f.referral_id).await?;
    let replaces_refused = match &f.replaces {
        Some(id) => store::refused::was_refused(tx, id).await?,
        None => false,
    };
    let digest = digest(&f);
    let standing = Standing {
        status: r.status,
        in_force: r.answer_event_id.as_deref().zip(r.answer_time),
        applied: &applied,
        replaces_refused,
    };
    let effect = match judge(&standing, &f, &digest, e.time) {
        Verdict::Apply(effect) => effect,
        Verdict::Duplicate => return Ok(Judged::Duplicate),
        Verdict::Refuse(code, reason) => return Ok(Judged::Refused(known(code, reason))),
        Verdict::Wait(code, reason) => return Ok(Judged::Wait(known(code, reason))),
    };
    let at = state.mesh.clock.now();
    store::referrals::apply_answer(tx, e, &f, effect, &digest, at).await?;
    let outcome = f.outcome;
    let applied_e = Envelope {
        data: f,
        ..e.clone()
    };
    store::households::record_feedback(tx, &applied_e).await?;
    let value = Envelope {
        specversion: e.specversion.clone(),
        id: e.id.clone(),
        source: e.source.clone(),
        kind: e.kind.clone(),
        time: e.time,
        subject: e.subject.clone(),
        datacontenttype: e.datacontenttype.clone(),
        household_id: e.household_id,
        chain_id: e.chain_id,
        causation_id: e.causation_id.clone(),
        schema_version: e.schema_version,
        actor: e.actor.clone(),
        data: serde_json::to_value(&applied_e.data).map_err(anyhow::Error::from)?,
    };
    let step = crate::ops::chain::step(state, d, &value, r.chain_id);
    store::chain::record_step_in(tx, &step).await?;
    Ok(Judged::Applied(outcome))
}

/// Records the refusal for operators and tells the department on `referral.<dept>.refused`.
pub async fn refuse(
    state: &State,
    tx: &mut PgConnection,
    d: &Delivery,
    department: Department,
    r: &Refusal,
) -> Result<(), HandlerError> {
    let reason: String = r.reason.chars().take(MAX_REASON).collect();
    store::refused::insert(
        tx,
        &store::refused::Refused {
            seq: 0,
            event_id: r.event_id.clone(),
            msg_id: r.msg_id.clone(),
            department: department.as_str().to_owned(),
            referral_id: r.referral_id,
            code: r.code.as_str().to_owned(),
            reason: reason.clone(),
            answer_in_force: r.answer_in_force.clone(),
            stream_sequence: i64::try_from(d.stream_sequence).unwrap_or(i64::MAX),
            refused_at: state.mesh.clock.now(),
        },
    )
    .await?;
    let (household_id, chain_id) = r.chain.unwrap_or((Uuid::nil(), Uuid::nil()));
    let chain = ChainRef {
        household_id,
        chain_id,
        causation_id: r.event_id.clone(),
    };
    let refused = ReferralRefused {
        event_id: r.event_id.clone(),
        referral_id: r.referral_id,
        department,
        code: r.code,
        reason,
        answer_in_force: r.answer_in_force.clone(),
    };
    let out = state
        .mesh
        .envelope(&chain, r.referral_id.map(|id| id.to_string()), refused);
    mesh::outbox::enqueue_to(
        tx,
        &state.mesh.subjects,
        REFERRAL_REFUSED,
        department.as_str(),
        &out,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_reason_does_not_repeat_the_values_it_was_sent() {
        assert_eq!(
            super::without_quoted(r#"invalid type: string "Zhang San", expected i64 at line 1"#),
            "invalid type: string \"…\", expected i64 at line 1"
        );
        assert_eq!(
            super::without_quoted("unknown variant `approved`"),
            "unknown variant `approved`"
        );
    }
}
