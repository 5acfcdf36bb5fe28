//! Risk supervision over accounts (风险监督预警, 003: "建立社会救助风险监督预警机制"), held in
//! the transaction that confirms an account change, each rule's thresholds the region's
//! `risk_rules`:
//!
//! - **One account for several households** (`shared_account`): the confirmed account's number
//!   is now in force as a person's account for beneficiaries of at least
//!   `shared_account_households` households. Care institutions' collective accounts
//!   (`holder_kind` `care_institution`) receive for many households by design and are not
//!   counted. One detection per account (named by the first confirmed change that put it in
//!   force, never by its number; the event shows it masked, last four digits).
//! - **Repeated changes before a run** (`account_changes`): checked when a change is confirmed,
//!   against the next monthly run (the scheduler's `payment_run_day` on or after today): when
//!   the confirmation falls in the `account_change_days` before that run, and at least
//!   `account_changes` changes of the household's beneficiaries were confirmed since that
//!   window opened (this one included). One detection per household and run.
//!
//! A rule tripped enqueues `payment.risk.detected`; monitoring raises the warning for the county.

use crate::domain::{PayeeKind, RUN_NAMESPACE};
use crate::state::State;
use crate::store;
use crate::store::accounts::{HouseholdOf, PendingRow};
use chrono::{Datelike, NaiveDate};
use contract::channels::PAYMENT_RISK_DETECTED;
use contract::{PaymentRiskDetected, RiskDetected, RiskRule};
use mesh::ChainRef;
use policy::RegionCode;
use serde_json::{json, Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

/// The day of the first monthly run on or after `today`, runs starting on `run_day`.
pub fn next_run(today: NaiveDate, run_day: u32) -> NaiveDate {
    let this_month = today.with_day(run_day).unwrap_or(today);
    if today <= this_month {
        return this_month;
    }
    today
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.with_day(run_day))
        .unwrap_or(today)
}

/// Holds the change just confirmed for `member_id` to the risk rules over accounts; returns
/// the rules tripped.
pub async fn after_confirmation(
    state: &State,
    tx: &mut PgConnection,
    member_id: Uuid,
    change: &PendingRow,
) -> anyhow::Result<Vec<RiskRule>> {
    let Some(row) = store::accounts::household_of(tx, member_id).await? else {
        return Ok(Vec::new());
    };
    let household = Household {
        region: RegionCode::parse(&row.region_code)?,
        row,
    };
    let today = state.mesh.today();
    let params = state.policy.in_force(&household.region, today)?;
    let mut tripped = Vec::new();
    if change.holder_kind == PayeeKind::Person {
        if let Some(d) = shared_account(tx, &household, change, params).await? {
            emit(state, tx, &household, d).await?;
            tripped.push(RiskRule::SharedAccount);
        }
    }
    let run_day = crate::runs::schedule_days(&state.policy, today)
        .map_or(params.payment_run_day, |(day, _, _)| day);
    if let Some(d) = repeated_changes(state, tx, &household, today, run_day, params).await? {
        emit(state, tx, &household, d).await?;
        tripped.push(RiskRule::AccountChanges);
    }
    Ok(tripped)
}

/// `v` as an object (a `json!({..})` always is).
fn object(v: Value) -> Map<String, Value> {
    if let Value::Object(m) = v {
        return m;
    }
    Map::from_iter([("detail".to_owned(), v)])
}

/// The household a confirmation concerns, its region parsed.
struct Household {
    row: HouseholdOf,
    region: RegionCode,
}

fn detection(
    rule: RiskRule,
    household: &Household,
    key: String,
    params: &policy::ParameterSet,
    detail: Value,
) -> RiskDetected {
    RiskDetected {
        rule,
        household_id: household.row.household_id,
        region_code: household.region.clone(),
        dedupe_key: key,
        policy_version: params.version.clone(),
        detail: object(detail),
    }
}

async fn shared_account(
    tx: &mut PgConnection,
    household: &Household,
    change: &PendingRow,
    params: &policy::ParameterSet,
) -> anyhow::Result<Option<RiskDetected>> {
    let holders = store::accounts::persons_paid_to(tx, &change.account_number).await?;
    let mut households: Vec<Uuid> = holders.iter().map(|h| h.household_id).collect();
    households.dedup();
    let threshold = params.risk_rules.shared_account_households;
    if households.len() < threshold as usize {
        return Ok(None);
    }
    let first = store::accounts::first_confirmed(tx, &change.account_number)
        .await?
        .unwrap_or(change.change_id);
    let detail = json!({
        "account_masked": vault::mask::account(&change.account_number, vault::mask::Style::Log),
        "households": households.len(),
        "household_ids": households,
        "member_ids": holders.iter().map(|h| h.member_id).collect::<Vec<_>>(),
        "change_id": change.change_id,
        "first_change_id": first,
        "shared_account_households": threshold,
    });
    Ok(Some(detection(
        RiskRule::SharedAccount,
        household,
        format!("risk:shared_account:{first}"),
        params,
        detail,
    )))
}

async fn repeated_changes(
    state: &State,
    tx: &mut PgConnection,
    household: &Household,
    today: NaiveDate,
    run_day: u32,
    params: &policy::ParameterSet,
) -> anyhow::Result<Option<RiskDetected>> {
    let rules = &params.risk_rules;
    let run_on = next_run(today, run_day);
    let opens = run_on
        .checked_sub_days(chrono::Days::new(u64::from(rules.account_change_days)))
        .unwrap_or(NaiveDate::MIN);
    if today < opens {
        return Ok(None);
    }
    let since = state.mesh.clock.start_of(opens);
    let changes = store::accounts::confirmed_since(tx, household.row.household_id, since).await?;
    if changes.len() < rules.account_changes as usize {
        return Ok(None);
    }
    let household_id = household.row.household_id;
    let detail = json!({
        "changes": changes.len(),
        "change_ids": changes.iter().map(|c| c.change_id).collect::<Vec<_>>(),
        "member_ids": changes.iter().map(|c| c.member_id).collect::<Vec<_>>(),
        "first_confirmed_at": changes.first().map(|c| c.confirmed_at),
        "run_on": run_on,
        "account_changes": rules.account_changes,
        "account_change_days": rules.account_change_days,
    });
    Ok(Some(detection(
        RiskRule::AccountChanges,
        household,
        format!("risk:account_changes:{household_id}:{run_on}"),
        params,
        detail,
    )))
}

async fn emit(
    state: &State,
    tx: &mut PgConnection,
    household: &Household,
    d: RiskDetected,
) -> anyhow::Result<()> {
    tracing::warn!(rule = %d.rule, "Risk rule tripped; monitoring raises a warning for the county.");
    let chain = ChainRef {
        household_id: household.row.household_id,
        chain_id: household.row.chain_id,
        causation_id: None,
    };
    let subject = Uuid::new_v5(&RUN_NAMESPACE, d.dedupe_key.as_bytes()).to_string();
    let e = state
        .mesh
        .envelope(&chain, Some(subject), PaymentRiskDetected(d));
    mesh::outbox::enqueue_on(&mut *tx, &state.mesh.subjects, PAYMENT_RISK_DETECTED, &e).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_next_run_is_this_months_until_its_day_then_the_next_months() {
        assert_eq!(next_run(date("2026-11-16"), 20), date("2026-11-20"));
        assert_eq!(next_run(date("2026-11-20"), 20), date("2026-11-20"));
        assert_eq!(next_run(date("2026-11-21"), 20), date("2026-12-20"));
        assert_eq!(next_run(date("2026-12-31"), 20), date("2027-01-20"));
    }
}
