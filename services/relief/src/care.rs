//! Service-type assistance and charity matching, in the medical department (the health
//! commission's care services): a person of a low-income household who cannot fully look after
//! themselves (`self_care` `partial` or `none` on the medical push) gets a care service order;
//! charity offers (`POST /v1/charity/offers`) are matched to open orders in their area within
//! their capacity, oldest first. The order and each match go out as `referral.medical.feedback`
//! (`supplemented` under the granted medical referral, kinds `care_service_order` and
//! `charity_match`, amount 0: help in kind), so the household's chain shows them.

use crate::state::State;
use crate::store;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::Json;
use contract::channels::REFERRAL_FEEDBACK;
use contract::{FeedbackOutcome, Grant, ReferralFeedback, ReferralPush};
use mesh::auth::{Acting, Actor};
use mesh::http::Query;
use mesh::http::{ApiError, FieldError, JsonBody};
use mesh::{ChainRef, Envelope};
use policy::determination::SelfCare;
use policy::Department;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

pub const SERVICE_ORDER: &str = "care_service_order";
pub const CHARITY_MATCH: &str = "charity_match";
const DECIDED_BY: &str = "rule:charity-matching";
/// Kinds of help a charity may offer.
pub const OFFER_KINDS: [&str; 3] = ["care_visit", "home_care", "social_work"];
const MAX_CAPACITY: i32 = 10_000;

/// After a medical push is decided: a care service order for a person who cannot fully look
/// after themselves, and the matching it allows. Each becomes a feedback caused by `main`.
pub async fn after_push(
    tx: &mut PgConnection,
    state: &State,
    e: &Envelope<ReferralPush>,
    self_care: Option<SelfCare>,
    main: &Envelope<ReferralFeedback>,
) -> Result<usize, mesh::HandlerError> {
    let Some(level @ (SelfCare::Partial | SelfCare::None)) = self_care else {
        return Ok(0);
    };
    if state.department != Department::Medical || !e.data.tier.is_low_income() {
        return Ok(0);
    }
    // The matching is one at a time, so an offer's capacity is never used twice.
    store::lock_key(tx, "charity-matching").await?;
    let order_id = Uuid::new_v4();
    if !store::insert_service_order(tx, order_id, e, level).await? {
        return Ok(0);
    }
    let today = state.mesh.today();
    let feedback =
        ReferralFeedback {
            reason: Some(format!(
            "service-type assistance: care service order {order_id} for a person with {} self-care",
            if level == SelfCare::None { "no" } else { "partial" }
        )),
            grant: Some(in_kind(SERVICE_ORDER, today)),
            ..ReferralFeedback::new(
                e.data.referral_id,
                state.department,
                e.data.member_id,
                FeedbackOutcome::Supplemented,
                DECIDED_BY,
            )
        };
    let chain = ChainRef {
        household_id: e.household_id,
        chain_id: e.chain_id,
        causation_id: Some(main.id.clone()),
    };
    let out = state
        .mesh
        .envelope(&chain, Some(e.data.referral_id.to_string()), feedback);
    send(tx, state, e.household_id, &out).await?;
    let matched = run_matching(tx, state, Some(out.id.clone()), None).await?;
    Ok(1 + matched.len())
}

/// Help in kind under a granted medical referral: amount 0, once.
fn in_kind(kind: &str, today: chrono::NaiveDate) -> Grant {
    Grant {
        kind: kind.into(),
        amount_fen: 0,
        from: today,
        to: None,
        period: Some(contract::GrantPeriod::Once),
    }
}

async fn send(
    tx: &mut PgConnection,
    state: &State,
    household_id: Uuid,
    out: &Envelope<ReferralFeedback>,
) -> anyhow::Result<()> {
    if let Some(g) = &out.data.grant {
        store::insert_grant(tx, &out.id, household_id, &out.data, g).await?;
    }
    mesh::outbox::enqueue_to(
        tx,
        &state.mesh.subjects,
        REFERRAL_FEEDBACK,
        state.department.as_str(),
        out,
    )
    .await
}

/// Matches open orders with offers (the caller holds the matching lock); one feedback per match,
/// naming `actor` when a person's request (an offer registered) made the matches.
async fn run_matching(
    tx: &mut PgConnection,
    state: &State,
    causation: Option<String>,
    actor: Option<&Actor>,
) -> anyhow::Result<Vec<Uuid>> {
    let (orders, offers) = store::matching_inputs(tx).await?;
    let needs: Vec<&str> = orders.iter().map(|o| o.region_code.as_str()).collect();
    let capacity: Vec<(&str, u32)> = offers
        .iter()
        .map(|o| (o.area.as_str(), o.left.max(0) as u32))
        .collect();
    let today = state.mesh.today();
    let mut matched = Vec::new();
    for (n, o) in policy::relief::match_needs(&needs, &capacity) {
        let (order, offer) = (&orders[n], &offers[o]);
        store::record_match(tx, order.order_id, offer.offer_id, state.mesh.clock.now()).await?;
        let feedback = ReferralFeedback {
            reason: Some(format!(
                "charity matching: {} offers {} for care service order {} (offer {})",
                offer.organisation, offer.kind, order.order_id, offer.offer_id
            )),
            grant: Some(in_kind(CHARITY_MATCH, today)),
            ..ReferralFeedback::new(
                order.referral_id,
                state.department,
                order.member_id,
                FeedbackOutcome::Supplemented,
                DECIDED_BY,
            )
        };
        let chain = ChainRef {
            household_id: order.household_id,
            chain_id: order.chain_id,
            causation_id: causation.clone(),
        };
        let mut out = state
            .mesh
            .envelope(&chain, Some(order.referral_id.to_string()), feedback);
        if let Some(a) = actor {
            out = out.by(a.clone());
        }
        send(tx, state, order.household_id, &out).await?;
        matched.push(order.order_id);
    }
    Ok(matched)
}

/// `POST /v1/charity/offers`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OfferRequest {
    /// The offer's id: the same offer registered again is registered once.
    pub offer_id: Option<Uuid>,
    pub organisation: Option<String>,
    /// `care_visit`, `home_care` or `social_work`.
    pub kind: Option<String>,
    /// How many people the offer can serve.
    pub capacity: Option<i32>,
    /// Region-code prefix the offer covers (2 to 12 digits: a province, city, county, township).
    pub area: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct OfferAnswer {
    #[serde(flatten)]
    pub offer: store::OfferView,
    /// Service orders this offer serves, in the order matched.
    pub orders: Vec<Uuid>,
}

fn not_medical(state: &State) -> Option<ApiError> {
    (state.department != Department::Medical).then(|| {
        ApiError::NotFound(format!(
            "service-type assistance and charity matching are in the medical department, not {}",
            state.department
        ))
    })
}

/// Registers an offer by the department's officer of the token (recorded, named in the match
/// events, audited) and matches it with the open orders.
pub async fn post_offer(
    AxState(state): AxState<State>,
    acting: Acting,
    JsonBody(req): JsonBody<OfferRequest>,
) -> Result<(StatusCode, Json<OfferAnswer>), ApiError> {
    crate::http::scope(&state, &acting)?;
    let actor = acting.actor();
    if let Some(e) = not_medical(&state) {
        return Err(e);
    }
    let mut errors = Vec::new();
    if req.offer_id.is_none() {
        errors.push(FieldError::new(
            "offer_id",
            "required: the offer's id, so that it is registered once",
        ));
    }
    let organisation = req.organisation.as_deref().map(str::trim).unwrap_or("");
    if organisation.is_empty() || organisation.chars().count() > 100 {
        errors.push(FieldError::new(
            "organisation",
            "must be 1 to 100 characters",
        ));
    }
    if !OFFER_KINDS.contains(&req.kind.as_deref().unwrap_or("")) {
        errors.push(FieldError::new(
            "kind",
            "must be care_visit, home_care or social_work",
        ));
    }
    let capacity = req.capacity.unwrap_or(0);
    if !(1..=MAX_CAPACITY).contains(&capacity) {
        errors.push(FieldError::new(
            "capacity",
            format!("must be 1 to {MAX_CAPACITY} people"),
        ));
    }
    let area = req.area.as_deref().unwrap_or("");
    if !(2..=12).contains(&area.len()) || !area.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(FieldError::new(
            "area",
            "must be a region-code prefix of 2 to 12 digits",
        ));
    }
    let (Some(offer_id), true) = (req.offer_id, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let digest: String = Sha256::digest(serde_json::to_vec(&req).unwrap_or_default())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut tx = state.mesh.db.begin().await?;
    store::lock_key(&mut tx, "charity-matching").await?;
    let status = match store::offer(&mut tx, offer_id).await? {
        Some(seen) if seen != digest => {
            return Err(ApiError::Conflict(
                "this offer was registered before with other figures; the first is kept".into(),
            ))
        }
        Some(_) => StatusCode::OK,
        None => {
            store::insert_offer(
                &mut tx,
                &store::NewOffer {
                    offer_id,
                    digest: &digest,
                    organisation,
                    kind: req.kind.as_deref().unwrap_or_default(),
                    area,
                    capacity,
                    registered_by: &actor,
                },
            )
            .await?;
            let matched = run_matching(&mut tx, &state, None, Some(&actor)).await?;
            mesh::audit::append(
                &mut tx,
                &state.mesh,
                &actor,
                mesh::audit::Entry::new("charity_offer.register", "charity_offer", offer_id)
                    .detail(serde_json::json!({
                        "kind": req.kind,
                        "area": area,
                        "capacity": capacity,
                        "matched": matched.len(),
                    })),
            )
            .await?;
            StatusCode::CREATED
        }
    };
    let answer = OfferAnswer {
        offer: store::offer_view(&mut tx, offer_id).await?,
        orders: store::offer_orders(&mut tx, offer_id).await?,
    };
    tx.commit().await?;
    tracing::info!(matched = answer.offer.matched, "Charity offer registered.");
    Ok((status, Json(answer)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
    /// `open` or `matched`; every order when left out.
    pub status: Option<String>,
}

/// `GET /v1/service-orders`: care service orders, oldest first (at most 500): the department's
/// own, or an auditor's areas'; the list is audited.
pub async fn list_orders(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: axum::http::HeaderMap,
    Query(q): Query<OrdersQuery>,
) -> Result<Json<Vec<store::ServiceOrderView>>, ApiError> {
    let scope = crate::http::scope(&state, &acting)?;
    if let Some(e) = not_medical(&state) {
        return Err(e);
    }
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(store::OrderStatus::parse(s).ok_or_else(|| {
            ApiError::Validation(vec![FieldError::new("status", "must be open or matched")])
        })?),
    };
    let found = store::service_orders(&state.mesh.db, status, scope.as_deref()).await?;
    mesh::audit::record(
        &state.mesh,
        &acting.actor(),
        mesh::audit::Entry::new("service_orders.list", "service_order", "")
            .purpose_from(&headers)
            .detail(serde_json::json!({"orders": found.len()})),
    )
    .await?;
    Ok(Json(found))
}
