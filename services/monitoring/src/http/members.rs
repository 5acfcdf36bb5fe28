//! A household's members change (动态调整): a birth, a person joining, a member leaving, as
//! the township officer of the household's township records it; the household is determined
//! again from the month after.

use crate::ops::redetermination::{self as ops, MembersChanged, Membership, Newcomer};
use crate::state::State;
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use chrono::NaiveDate;
use contract::RedeterminationCause;
use mesh::auth::allow;
use mesh::http::Path;
use mesh::http::{check_text, ApiError, FieldError, JsonBody};
use mesh::{Acting, Mesh, Role};
use policy::determination::MemberFlags;
use policy::ResidentId;
use serde::Deserialize;
use uuid::Uuid;

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route(
            "/v1/households/{household_id}/members",
            post(change).layer(allow(&[Role::TownshipOfficer])),
        )
        .with_state(state)
}

/// The body: `kind` `birth` or `member_joined` with the `member`, or `member_left` with the
/// `member_id`; when it happened.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    pub kind: String,
    pub occurred_on: String,
    #[serde(default)]
    pub member: Option<NewMember>,
    #[serde(default)]
    pub member_id: Option<Uuid>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub name: String,
    pub id_number: String,
    pub relation: String,
    #[serde(default)]
    pub declared_monthly_income_fen: i64,
    #[serde(default)]
    pub declared_assets_fen: i64,
    #[serde(default)]
    pub flags: MemberFlags,
}

async fn change(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(household_id): Path<Uuid>,
    JsonBody(req): JsonBody<ChangeRequest>,
) -> Result<Json<MembersChanged>, ApiError> {
    let today = state.mesh.today();
    let (change, on) = valid(&req, today, &state.mesh.settings.bounds)?;
    ops::members_change(&state, &acting, &headers, household_id, change, on)
        .await
        .map(Json)
}

/// The change the body describes, checked field by field (no message repeats a value sent).
fn valid(
    req: &ChangeRequest,
    today: NaiveDate,
    bounds: &policy::Bounds,
) -> Result<(Membership, NaiveDate), ApiError> {
    let mut errors = Vec::new();
    let on = match NaiveDate::parse_from_str(req.occurred_on.trim(), "%Y-%m-%d") {
        Ok(d) if d > today => {
            errors.push(FieldError::new("occurred_on", "must not be in the future"));
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(FieldError::new("occurred_on", "must be a date, YYYY-MM-DD"));
            None
        }
    };
    let change = match req.kind.as_str() {
        "birth" | "member_joined" => {
            let cause = if req.kind == "birth" {
                RedeterminationCause::Birth
            } else {
                RedeterminationCause::MemberJoined
            };
            if req.member_id.is_some() {
                errors.push(FieldError::new(
                    "member_id",
                    "only for member_left; a newcomer is described by member",
                ));
            }
            match &req.member {
                None => {
                    errors.push(FieldError::new(
                        "member",
                        "required for a birth or a member joining",
                    ));
                    None
                }
                Some(m) => {
                    newcomer(m, cause, on, bounds, &mut errors).map(|n| Membership::Joins(cause, n))
                }
            }
        }
        "member_left" => {
            if req.member.is_some() {
                errors.push(FieldError::new(
                    "member",
                    "only for a birth or a member joining",
                ));
            }
            match req.member_id {
                Some(id) => Some(Membership::Leaves(id)),
                None => {
                    errors.push(FieldError::new("member_id", "required for member_left"));
                    None
                }
            }
        }
        _ => {
            errors.push(FieldError::new(
                "kind",
                "must be one of birth, member_joined, member_left",
            ));
            None
        }
    };
    match (change, on) {
        (Some(c), Some(on)) if errors.is_empty() => Ok((c, on)),
        _ => Err(ApiError::Validation(errors)),
    }
}

fn newcomer(
    m: &NewMember,
    cause: RedeterminationCause,
    on: Option<NaiveDate>,
    bounds: &policy::Bounds,
    errors: &mut Vec<FieldError>,
) -> Option<Newcomer> {
    let before = errors.len();
    errors.extend(check_text("member.name", &m.name, 64));
    errors.extend(check_text("member.relation", &m.relation, 32));
    for (field, fen) in [
        (
            "member.declared_monthly_income_fen",
            m.declared_monthly_income_fen,
        ),
        ("member.declared_assets_fen", m.declared_assets_fen),
    ] {
        if let Err(rule) = bounds.amount(fen) {
            errors.push(FieldError::new(field, rule));
        }
    }
    let id = match ResidentId::parse(m.id_number.trim()) {
        Ok(id) => Some(id),
        Err(e) => {
            errors.push(FieldError::new("member.id_number", e.to_string()));
            None
        }
    };
    if let (Some(id), Some(on), RedeterminationCause::Birth) = (&id, on, cause) {
        if id.birth_date() != on {
            errors.push(FieldError::new(
                "member.id_number",
                "a birth happens on the birth date the ID number carries",
            ));
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(Newcomer {
        name: m.name.trim().to_owned(),
        id: id?,
        relation: m.relation.trim().to_owned(),
        monthly_income_fen: m.declared_monthly_income_fen,
        assets_fen: m.declared_assets_fen,
        flags: m.flags,
    })
}
