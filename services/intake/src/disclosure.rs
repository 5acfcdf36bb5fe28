//! Disclosure (公示) on the village and community notice boards, and the objections raised
//! against it (004 三(二)3: "在镇政府(街道办事处)、村(居)民委员会固定的政务公开栏、村(居)务公开栏
//! 等场所进行困难群众基本生活保障申请审核公示、审批公示"; 三(一)2: "对保障对象进行长期公示").
//!
//! - `GET /v1/disclosures/notices?village=`: the approval disclosures (审批公示) whose notice
//!   period runs today: a household determined with a tier, from its decision day through the
//!   decision day + the region's `disclosure_notice_days`, with how to object until then.
//! - `GET /v1/disclosures/recipients?village=`: the long-term list (长期公示) of current
//!   recipients: notice period over, and no stop of the whole household from this month or
//!   before (`monitor.household.changed`, which intake consumes) nor a dishonesty record.
//! - `POST /v1/disclosures/{application_id}/objections`: an objection (异议) during the notice
//!   period; passed on as `intake.disclosure.objected`, which monitoring files as a report (举报)
//!   of the household's township.
//!
//! All three are public (no token). Names and ID numbers are masked as public disclosure masks
//! them (`vault::mask`, public style: surname kept, given name hidden; ID number to its first 6
//! and last 4); an objection's summary may not hold an ID number, and the refusal does not echo
//! it.

use crate::state::State;
use crate::store::{self, Board, Disclosed};
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use contract::channels::DISCLOSURE_OBJECTED;
use contract::{DisclosureObjected, ObjectorContact};
use mesh::audit::{self, Entry};
use mesh::http::{check_text, ApiError, FieldError, JsonBody};
use mesh::http::{Path, Query};
use mesh::{Actor, ChainRef};
use policy::{Month, RegionCode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest objection summary, in characters.
const MAX_SUMMARY: usize = 2000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardQuery {
    /// A village or community (12 digits), or a township (9 digits) with its villages.
    #[serde(default)]
    pub village: Option<String>,
}

/// One approval disclosure on a notice board: what was decided, until when it is on notice, and
/// how to object.
#[derive(Debug, Serialize)]
pub struct Notice {
    #[serde(flatten)]
    pub household: Disclosed,
    /// Where an objection is sent, until `notice_until`.
    pub objections_to: String,
    /// What the board says about objecting, in Chinese.
    pub how_to_object: String,
}

/// The area of a notice board: 12 digits (a village or community) or 9 (a township).
fn board_area(q: &BoardQuery) -> Result<String, ApiError> {
    let invalid = |reason: &str| ApiError::Validation(vec![FieldError::new("village", reason)]);
    let raw = q.village.as_deref().ok_or_else(|| {
        invalid("required: a village or community (12 digits) or township (9 digits) code")
    })?;
    let code = RegionCode::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(code.as_str().len(), 9 | 12) {
        return Err(invalid(
            "a village or community (12 digits) or township (9 digits) code: a notice board is a village's or a township's",
        ));
    }
    Ok(code.as_str().to_owned())
}

/// What the board says about objecting to `d`'s disclosure.
fn how_to_object(d: &Disclosed) -> String {
    format!(
        "公示期自{}至{}。对公示对象有异议的,可在公示期内提出(可匿名),异议作为举报由所在镇(街道)调查核实;公示期满后请拨打监督咨询电话举报。",
        d.decided_on, d.notice_until
    )
}

/// `GET /v1/disclosures/notices?village=`: the approval disclosures on notice today.
pub async fn notices(
    AxState(state): AxState<State>,
    Query(q): Query<BoardQuery>,
) -> Result<Json<Vec<Notice>>, ApiError> {
    let area = board_area(&q)?;
    let today = state.mesh.today();
    let list = store::board(
        &state.mesh.db,
        Board::Notices,
        &area,
        today,
        &Month::of(today).to_string(),
    )
    .await?;
    Ok(Json(
        list.into_iter()
            .map(|d| Notice {
                objections_to: format!("/v1/disclosures/{}/objections", d.application_id),
                how_to_object: how_to_object(&d),
                household: d,
            })
            .collect(),
    ))
}

/// `GET /v1/disclosures/recipients?village=`: the long-term list (长期公示) of current recipients.
pub async fn recipients(
    AxState(state): AxState<State>,
    Query(q): Query<BoardQuery>,
) -> Result<Json<Vec<Disclosed>>, ApiError> {
    let area = board_area(&q)?;
    let today = state.mesh.today();
    Ok(Json(
        store::board(
            &state.mesh.db,
            Board::Recipients,
            &area,
            today,
            &Month::of(today).to_string(),
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectionRequest {
    /// What the person says is wrong, in words.
    pub summary: String,
    /// Whom to answer; absent to stay anonymous (匿名).
    #[serde(default)]
    pub contact: Option<ContactRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
}

/// What an objection answers.
#[derive(Debug, Serialize)]
pub struct ObjectionTaken {
    pub objection_id: Uuid,
    pub application_id: Uuid,
    pub objected_on: NaiveDate,
    pub notice_until: NaiveDate,
    pub anonymous: bool,
    /// What happens next, in Chinese.
    pub next: String,
}

/// Whether `text` holds a resident ID number (18 characters with a valid check digit) as a word.
pub fn holds_id_number(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| word.len() == 18 && policy::ResidentId::parse(word).is_ok())
}

fn no_id_number(field: &str, text: &str, errors: &mut Vec<FieldError>) {
    if holds_id_number(text) {
        errors.push(FieldError::new(
            field,
            "must not contain an ID number: say what is wrong in words",
        ));
    }
}

/// The objection's summary and contact, checked; every fault at once, none echoing the value.
fn valid(req: &ObjectionRequest) -> Result<(String, Option<ObjectorContact>), ApiError> {
    let mut errors = Vec::new();
    errors.extend(check_text("summary", &req.summary, MAX_SUMMARY));
    no_id_number("summary", &req.summary, &mut errors);
    let contact = req.contact.as_ref().map(|c| {
        errors.extend(check_text("contact.name", &c.name, 50));
        no_id_number("contact.name", &c.name, &mut errors);
        let phone = c.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
        if let Some(p) = phone {
            let digits: String = p
                .chars()
                .filter(|c| !matches!(c, '-' | ' ' | '+'))
                .collect();
            if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                errors.push(FieldError::new(
                    "contact.phone",
                    "a phone number of 7 to 15 digits",
                ));
            }
        }
        ObjectorContact {
            name: c.name.trim().to_owned(),
            phone: phone.map(str::to_owned),
        }
    });
    if errors.is_empty() {
        Ok((req.summary.trim().to_owned(), contact))
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Who takes an objection in the audit trail: the public, through this route.
fn public() -> Actor {
    Actor {
        sub: "public".into(),
        name: "public".into(),
        role: "public".into(),
    }
}

/// `POST /v1/disclosures/{application_id}/objections`: 201 while the notice runs; 404 for an
/// application never on a notice; 409 after the notice period, with the day it ended.
pub async fn object(
    AxState(state): AxState<State>,
    Path(application_id): Path<Uuid>,
    JsonBody(req): JsonBody<ObjectionRequest>,
) -> Result<(StatusCode, Json<ObjectionTaken>), ApiError> {
    let (summary, contact) = valid(&req)?;
    let today = state.mesh.today();
    let mut tx = state.mesh.db.begin().await?;
    let notice = store::notice_of(&mut tx, application_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound("no approval disclosure of application with this id".into())
        })?;
    if policy::dates::is_overdue(notice.notice_until, today) {
        return Err(ApiError::Conflict(format!(
            "the notice period of the application ended on {}: objections are taken during it; report to the supervision hotline (监督咨询电话) instead",
            notice.notice_until
        )));
    }
    let region_code = RegionCode::parse(&notice.region_code)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored region code: {e}")))?;
    let objection = DisclosureObjected {
        objection_id: Uuid::new_v4(),
        application_id,
        region_code,
        notice_until: notice.notice_until,
        objected_on: today,
        summary,
        contact,
    };
    store::insert_objection(&mut tx, &objection, state.mesh.clock.now()).await?;
    let chain = ChainRef {
        household_id: notice.household_id,
        chain_id: notice.chain_id,
        causation_id: None,
    };
    let envelope = state
        .mesh
        .envelope(&chain, Some(application_id.to_string()), objection.clone());
    audit::append(
        &mut tx,
        &state.mesh,
        &public(),
        Entry::new("disclosure.object", "objection", objection.objection_id)
            .household(notice.household_id)
            .detail(serde_json::json!({
                "application_id": application_id,
                "anonymous": objection.contact.is_none(),
                "notice_until": notice.notice_until,
            })),
    )
    .await?;
    mesh::outbox::enqueue_on(
        &mut tx,
        &state.mesh.subjects,
        DISCLOSURE_OBJECTED,
        &envelope,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(objection_id = %objection.objection_id, "Objection to an approval disclosure taken.");
    Ok((
        StatusCode::CREATED,
        Json(ObjectionTaken {
            objection_id: objection.objection_id,
            application_id,
            objected_on: today,
            notice_until: notice.notice_until,
            anonymous: objection.contact.is_none(),
            next: "异议已受理,作为举报转所在镇(街道)调查核实并答复。".into(),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(v: serde_json::Value) -> ObjectionRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn an_objection_holding_an_id_number_is_refused_without_echoing_it() {
        let id = "410102198305120312";
        let Err(ApiError::Validation(errors)) = valid(&request(serde_json::json!({
            "summary": format!("户主{id}有车"),
            "contact": {"name": "王某", "phone": "12"},
        }))) else {
            panic!("accepted");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["summary", "contact.phone"]);
        assert!(!format!("{errors:?}").contains(id));
        // Digits that are not an ID number are words like any other.
        assert!(valid(&request(
            serde_json::json!({"summary": "开了一家店, 电话 13800000000"})
        ))
        .is_ok());
    }

    #[test]
    fn a_board_is_a_village_or_a_township() {
        let q = |v: &str| BoardQuery {
            village: Some(v.into()),
        };
        assert_eq!(board_area(&q("410102001001")).unwrap(), "410102001001");
        assert_eq!(board_area(&q("410102001")).unwrap(), "410102001");
        assert!(board_area(&q("410102")).is_err());
        assert!(board_area(&q("41x")).is_err());
        assert!(board_area(&BoardQuery { village: None }).is_err());
    }
}
