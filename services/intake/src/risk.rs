//! Risk supervision over applications and decisions (风险监督预警, 003: "建立社会救助风险监督
//! 预警机制"), each held in the transaction of the change that may trip it, the thresholds the
//! region's `risk_rules`:
//!
//! - **A declared income far below the sources'** (`income_gap`): when a verification report is
//!   taken for an application, the household's monthly income the sources report (the sum of
//!   the report's members) exceeds the sum the members declared by more than
//!   `income_gap_permille` of it and by at least `income_gap_min_fen`. The determination goes
//!   on as before (it already takes the higher of declared and verified figures); the county is
//!   warned of the declaration. One detection per application.
//! - **A decision by a registered near relative** (`relative_decision`): an officer registered
//!   as the near relative of a member may not verify or decide that member's case (refused,
//!   近亲属回避), so what the rule finds are decisions made before the relation was registered:
//!   when a relation is registered, every determination a person (its `decided_by_actor`'s
//!   subject, not a rule) made for an application naming the relative. One detection per
//!   application.
//!
//! A rule tripped enqueues `intake.risk.detected` (ids and amounts only); monitoring raises the
//! warning for the county.

use crate::state::State;
use crate::store::{self, ApplicationRow};
use contract::channels::INTAKE_RISK_DETECTED;
use contract::{HouseholdVerified, IntakeRiskDetected, RiskDetected, RiskRule};
use mesh::ChainRef;
use policy::RegionCode;
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

/// Namespace of the subjects of intake's risk events.
const RISK_NAMESPACE: Uuid = Uuid::from_u128(0x5c1d_93a0_2e7b_4f16_a8d4_0b3e_6f27_c915);

/// The household's declared and reported monthly incomes, member by member, from a report.
pub fn incomes(members: &[store::MemberRow], report: &HouseholdVerified) -> (i64, i64, Vec<Value>) {
    let declared: i64 = members.iter().map(|m| m.declared_monthly_income_fen).sum();
    let reported: i64 = report.members.iter().map(|m| m.monthly_income_fen).sum();
    let per_member = members
        .iter()
        .map(|m| {
            let r = report
                .members
                .iter()
                .find(|v| v.member_id == m.member_id)
                .map_or(0, |v| v.monthly_income_fen);
            json!({
                "member_id": m.member_id,
                "declared_monthly_income_fen": m.declared_monthly_income_fen,
                "sources_monthly_income_fen": r,
            })
        })
        .collect();
    (declared, reported, per_member)
}

/// Holds the report taken for `app` to `income_gap`; whether it tripped.
pub async fn income_gap(
    state: &State,
    tx: &mut PgConnection,
    app: &ApplicationRow,
    report: &HouseholdVerified,
) -> anyhow::Result<bool> {
    let region = RegionCode::parse(&app.region_code)?;
    let params = state.policy.in_force(&region, state.mesh.today())?;
    let members = store::members(tx, app.application_id).await?;
    let (declared, reported, per_member) = incomes(&members, report);
    let rules = &params.risk_rules;
    if !rules.income_gap(declared, reported) {
        return Ok(false);
    }
    let d = RiskDetected {
        rule: RiskRule::IncomeGap,
        household_id: app.household_id,
        region_code: region,
        dedupe_key: format!("risk:income_gap:{}", app.application_id),
        policy_version: params.version.clone(),
        detail: object(json!({
            "application_id": app.application_id,
            "report_id": report.report_id,
            "declared_monthly_income_fen": declared,
            "sources_monthly_income_fen": reported,
            "gap_fen": reported - declared,
            "members": per_member,
            "income_gap_permille": rules.income_gap_permille,
            "income_gap_min_fen": rules.income_gap_min_fen,
        })),
    };
    emit(state, tx, app.household_id, app.chain_id, d).await?;
    Ok(true)
}

/// Holds a near relative just registered (`id_number` of `staff_sub`) to `relative_decision`;
/// how many decisions tripped it.
pub async fn relative_decisions(
    state: &State,
    tx: &mut PgConnection,
    id_number: &str,
    staff_sub: &str,
) -> anyhow::Result<usize> {
    let found = store::decided_by_for(tx, staff_sub, id_number).await?;
    for f in &found {
        let region = RegionCode::parse(&f.region_code)?;
        let params = state.policy.in_force(&region, state.mesh.today())?;
        let d = RiskDetected {
            rule: RiskRule::RelativeDecision,
            household_id: f.household_id,
            region_code: region,
            dedupe_key: format!("risk:relative_decision:{}", f.application_id),
            policy_version: params.version.clone(),
            detail: object(json!({
                "application_id": f.application_id,
                "member_id": f.member_id,
                "decided_by": staff_sub,
                "decided_at": f.decided_at,
            })),
        };
        emit(state, tx, f.household_id, f.chain_id, d).await?;
    }
    Ok(found.len())
}

/// `v` as an object (a `json!({..})` always is).
fn object(v: Value) -> serde_json::Map<String, Value> {
    if let Value::Object(m) = v {
        return m;
    }
    serde_json::Map::from_iter([("detail".to_owned(), v)])
}

async fn emit(
    state: &State,
    tx: &mut PgConnection,
    household_id: Uuid,
    chain_id: Uuid,
    d: RiskDetected,
) -> anyhow::Result<()> {
    tracing::warn!(rule = %d.rule, "Risk rule tripped; monitoring raises a warning for the county.");
    let chain = ChainRef {
        household_id,
        chain_id,
        causation_id: None,
    };
    let subject = Uuid::new_v5(&RISK_NAMESPACE, d.dedupe_key.as_bytes()).to_string();
    let e = state
        .mesh
        .envelope(&chain, Some(subject), IntakeRiskDetected(d));
    mesh::outbox::enqueue_on(&mut *tx, &state.mesh.subjects, INTAKE_RISK_DETECTED, &e).await
}
