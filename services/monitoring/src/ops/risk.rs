//! Risk supervision warnings (风险监督预警) from the rules other services hold their own data
//! to (`intake.risk.detected`, `payment.risk.detected`): one warning of the rule's kind per
//! detection's `dedupe_key`, passed to the county at once (a township does not review its own
//! officers' decisions or accounts), verified and disposed of like any warning. Monitoring's own
//! rule (applications approved in unusually short time) is the sweep's
//! ([`crate::ops::warnings`]).

use crate::domain::{township_of, WarningKind};
use crate::state::State;
use crate::store;
use crate::store::warnings::NewWarning;
use contract::RiskDetected;
use serde_json::Value;
use sqlx::PgConnection;

/// Raises the warning of detection `d`, published by `producer`; whether it is new. A rule the
/// producer does not hold is refused (`Err` with the reason: the message is poison).
pub async fn raise(
    state: &State,
    tx: &mut PgConnection,
    producer: &str,
    d: &RiskDetected,
) -> anyhow::Result<Result<bool, String>> {
    if d.rule.service() != producer {
        return Ok(Err(format!(
            "rule {} is {}'s, not {producer}'s",
            d.rule,
            d.rule.service()
        )));
    }
    let today = state.mesh.today();
    let params = state.policy.in_force(&d.region_code, today)?;
    let mut detail = d.detail.clone();
    detail.insert(
        "policy_version".into(),
        Value::String(d.policy_version.clone()),
    );
    let (id, new) = store::warnings::raise(
        tx,
        &NewWarning {
            dedupe_key: d.dedupe_key.clone(),
            kind: WarningKind::of_risk(d.rule),
            household_id: Some(d.household_id),
            member_id: None,
            township_code: township_of(d.region_code.as_str()),
            detail: Value::Object(detail),
            verify_due: policy::dates::deadline(today, params.warning_verify_days),
            raised_at: state.mesh.clock.now(),
        },
    )
    .await?;
    if new {
        store::warnings::escalate_now(tx, id, state.mesh.clock.now()).await?;
    }
    Ok(Ok(new))
}
