//! Relief's HTTP API: a case and its decision, medical bills, care service orders and charity
//! offers.
//!
//! Each route is for the roles of its operation's `x-roles` in `docs/openapi.yaml`. A
//! department's officer or system works only at its own department's instance: a token whose
//! `department` is another is 403 here. Auditors read, limited to the cases of their areas.

use crate::state::State;
use crate::store;
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use mesh::audit::{self, Entry};
use mesh::auth::{allow, Acting, Role};
use mesh::http::ApiError;
use mesh::http::Path;
use mesh::Mesh;
use uuid::Uuid;

use Role::{Auditor as AU, DepartmentOfficer as DO, DepartmentSystem as DS};

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route(
            "/v1/cases/{referral_id}",
            get(case).layer(allow(&[DO, DS, AU])),
        )
        .route("/v1/reviews", get(reviews).layer(allow(&[DO, AU])))
        .route(
            "/v1/reviews/{referral_id}",
            post(crate::handlers::decide_review).layer(allow(&[DO])),
        )
        .route(
            "/v1/medical/claims",
            post(crate::claims::post_claim).layer(allow(&[DS, DO])),
        )
        .route(
            "/v1/service-orders",
            get(crate::care::list_orders).layer(allow(&[DO, DS, AU])),
        )
        .route(
            "/v1/charity/offers",
            post(crate::care::post_offer).layer(allow(&[DO])),
        )
        .with_state(state)
}

/// What a caller sees of this department's records: all of them for the department's own
/// officers and system (`None`), the records of the token's areas for an auditor (`LIKE`
/// patterns on the referral's region). A department role of another department is 403.
pub fn scope(state: &State, acting: &Acting) -> Result<Option<Vec<String>>, ApiError> {
    scope_of(state.department, acting)
}

/// [`scope`] at the instance of `department`.
pub fn scope_of(
    department: policy::Department,
    acting: &Acting,
) -> Result<Option<Vec<String>>, ApiError> {
    match acting.role {
        Role::DepartmentOfficer | Role::DepartmentSystem => {
            let own = department.as_str();
            match acting.department() {
                Some(d) if d == own => Ok(None),
                Some(d) => Err(ApiError::Forbidden(format!(
                    "this is the {own} department's service; the token is for the {d} department"
                ))),
                None => Err(ApiError::Forbidden(format!(
                    "this is the {own} department's service; the token names no department"
                ))),
            }
        }
        Role::TownshipOfficer
        | Role::CountyOfficer
        | Role::CountyApprover
        | Role::CitySupervisor
        | Role::Auditor
        | Role::PlatformOperator => Ok(Some(acting.region_patterns())),
    }
}

fn no_case() -> ApiError {
    ApiError::NotFound("no case for referral with this id".into())
}

/// A case of this department (of the auditor's areas); the read is audited before it leaves.
async fn case(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<store::CaseView>, ApiError> {
    let scope = scope(&state, &acting)?;
    let found = store::view(&state.mesh.db, id, scope.as_deref())
        .await?
        .ok_or_else(no_case)?;
    audit::record(
        &state.mesh,
        &acting.actor(),
        Entry::new("case.read", "case", id)
            .household(found.household_id)
            .person(found.member_id)
            .purpose_from(&headers)
            .detail(serde_json::json!({"department": state.department.as_str()})),
    )
    .await?;
    Ok(Json(found))
}

/// Cases waiting for an officer of this department, oldest first; the list is audited.
async fn reviews(
    AxState(state): AxState<State>,
    acting: Acting,
    headers: HeaderMap,
) -> Result<Json<Vec<store::PendingReview>>, ApiError> {
    let scope = scope(&state, &acting)?;
    let found = store::pending_reviews(&state.mesh.db, scope.as_deref()).await?;
    audit::record(
        &state.mesh,
        &acting.actor(),
        Entry::new("reviews.list", "case", "")
            .purpose_from(&headers)
            .detail(serde_json::json!({
                "department": state.department.as_str(),
                "cases": found.len(),
            })),
    )
    .await?;
    Ok(Json(found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh::auth::Caller;
    use policy::Department;

    fn acting(role: Role, department: Option<&str>, areas: &[&str]) -> Acting {
        Caller {
            sub: "x".into(),
            name: "X".into(),
            roles: vec![role],
            areas: areas.iter().map(|a| (*a).to_owned()).collect(),
            department: department.map(str::to_owned),
            rights: Vec::new(),
        }
        .acting_as(&[role])
        .unwrap()
    }

    #[test]
    fn a_department_works_at_its_own_instance_only() {
        let own = acting(Role::DepartmentOfficer, Some("medical"), &[]);
        assert_eq!(scope_of(Department::Medical, &own).unwrap(), None);
        let system = acting(Role::DepartmentSystem, Some("medical"), &[]);
        assert_eq!(scope_of(Department::Medical, &system).unwrap(), None);
        let other = acting(Role::DepartmentOfficer, Some("education"), &[]);
        assert!(matches!(
            scope_of(Department::Medical, &other),
            Err(ApiError::Forbidden(m)) if m.contains("medical") && m.contains("education")
        ));
        let none = acting(Role::DepartmentSystem, None, &[]);
        assert!(matches!(
            scope_of(Department::Medical, &none),
            Err(ApiError::Forbidden(_))
        ));
    }

    #[test]
    fn an_auditor_reads_the_records_of_the_token_areas() {
        let auditor = acting(Role::Auditor, None, &["410100"]);
        assert_eq!(
            scope_of(Department::Housing, &auditor).unwrap(),
            Some(vec!["4101%".to_owned()])
        );
        // An auditor's token naming a department is still an auditor's: areas, not departments.
        let named = acting(Role::Auditor, Some("housing"), &[]);
        assert_eq!(
            scope_of(Department::Housing, &named).unwrap(),
            Some(Vec::new())
        );
    }
}
