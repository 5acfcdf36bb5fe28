//! The low-income population database over time: each person's and household's status
//! (`active` → `exiting` → `stopped`) with the months it holds from, and a history of every
//! change with the event that caused it.
//!
//! Fed by determinations (enrolment), departments' feedback (what each granted),
//! re-verifications, and `monitor.household.changed` — which monitoring itself emits from its
//! rules: the rule's transaction applies the change at once (so a second death record in the same
//! batch sees the person stopped), and the consumer of the event applies it again, which is a
//! no-op for a cause already recorded. A change from any other emitter is applied by the consumer.

use crate::app::State;
use crate::rules;
use crate::warnings::{self, NewWarning};
use chrono::NaiveDate;
use contract::{
    AssistanceChange, HouseholdChanged, HouseholdDetermined, HouseholdReverified, ReferralFeedback,
};
use mesh::consumer::Outcome;
use mesh::subjects::HOUSEHOLD_CHANGED;
use mesh::{ChainRef, Delivery, Envelope, HandlerError};
use policy::{Fen, RegionCode};
use serde_json::json;
use sqlx::PgConnection;
use std::time::Duration;
use uuid::Uuid;

/// One row of the history; `false` when the same cause already changed the same thing.
#[allow(clippy::too_many_arguments)]
async fn history(
    tx: &mut PgConnection,
    household_id: Uuid,
    member_id: Option<Uuid>,
    change: &str,
    from_status: Option<&str>,
    to_status: Option<&str>,
    effective_month: Option<&str>,
    cause: &str,
    detail: serde_json::Value,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "INSERT INTO population_history (household_id, member_id, change, from_status, to_status, tier, effective_month, cause, detail)
         SELECT $1, $2, $3, $4, $5, h.tier, $6, $7, $8 FROM households h WHERE h.household_id = $1
         ON CONFLICT DO NOTHING",
    )
    .bind(household_id)
    .bind(member_id)
    .bind(change)
    .bind(from_status)
    .bind(to_status)
    .bind(effective_month)
    .bind(cause)
    .bind(detail)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A determination enrolled the household: every member is active from the effective month.
pub async fn record_enrolment(
    tx: &mut PgConnection,
    e: &Envelope<HouseholdDetermined>,
) -> sqlx::Result<()> {
    let d = &e.data;
    sqlx::query(
        "UPDATE persons SET active_from_month = $2 WHERE household_id = $1 AND active_from_month IS NULL",
    )
    .bind(e.household_id)
    .bind(&d.effective_month)
    .execute(&mut *tx)
    .await?;
    history(
        tx,
        e.household_id,
        None,
        "enrolled",
        None,
        Some("active"),
        Some(&d.effective_month),
        &e.id,
        json!({"application_id": d.application_id, "monthly_amount_fen": d.monthly_amount_fen, "policy_version": d.policy_version}),
    )
    .await?;
    for m in &d.members {
        sqlx::query("UPDATE persons SET tier = $2 WHERE member_id = $1")
            .bind(m.member_id)
            .bind(m.tiers.first().copied().unwrap_or(d.tier).as_str())
            .execute(&mut *tx)
            .await?;
        history(
            tx,
            e.household_id,
            Some(m.member_id),
            "enrolled",
            None,
            Some("active"),
            Some(&d.effective_month),
            &e.id,
            json!({"tiers": m.tiers, "relief_lines": m.relief_lines}),
        )
        .await?;
    }
    Ok(())
}

/// A department answered a referral: the answer (and what it granted) joins the person's history.
pub async fn record_feedback(
    tx: &mut PgConnection,
    e: &Envelope<ReferralFeedback>,
) -> sqlx::Result<()> {
    let f = &e.data;
    let outcome = serde_json::to_value(f.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    history(
        tx,
        e.household_id,
        Some(f.member_id),
        &format!("referral_{outcome}"),
        None,
        None,
        None,
        &e.id,
        json!({
            "referral_id": f.referral_id,
            "department": f.department,
            "kind": f.grant.as_ref().map(|g| g.kind.clone()),
            "amount_fen": f.grant.as_ref().map(|g| g.amount_fen),
            "from": f.grant.as_ref().map(|g| g.from),
            "to": f.grant.as_ref().and_then(|g| g.to),
        }),
    )
    .await?;
    Ok(())
}

/// A fact a feed taught about an enrolled person (`severe_disability`, `serious_illness`, …).
pub async fn record_fact(
    tx: &mut PgConnection,
    household_id: Uuid,
    member_id: Uuid,
    fact: &str,
    occurred_on: NaiveDate,
    cause: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE persons SET facts = facts || jsonb_build_object($2::text, $3::text) WHERE member_id = $1")
        .bind(member_id)
        .bind(fact)
        .bind(occurred_on.to_string())
        .execute(&mut *tx)
        .await?;
    history(
        tx,
        household_id,
        Some(member_id),
        &format!("fact_{fact}"),
        None,
        None,
        None,
        cause,
        json!({"occurred_on": occurred_on}),
    )
    .await?;
    Ok(())
}

/// Applies a `monitor.household.changed` to the database; `true` when it changed anything
/// (`false` when the person or household was already stopped, or the cause was applied).
pub async fn apply_change(
    tx: &mut PgConnection,
    household_id: Uuid,
    c: &HouseholdChanged,
) -> sqlx::Result<bool> {
    let cause = c.change_id.to_string();
    let h: Option<(String,)> =
        sqlx::query_as("SELECT status FROM households WHERE household_id = $1 FOR UPDATE")
            .bind(household_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((household_status,)) = h else {
        return Ok(false);
    };
    let detail = json!({"reason": c.reason, "occurred_on": c.occurred_on, "exit_months": c.exit_months, "decided_by": c.decided_by});
    match (c.change, c.member_id) {
        (AssistanceChange::Stopped, Some(member)) => {
            let p: Option<(String,)> = sqlx::query_as(
                "SELECT status FROM persons WHERE member_id = $1 AND household_id = $2 FOR UPDATE",
            )
            .bind(member)
            .bind(household_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((person_status,)) = p else {
                return Ok(false);
            };
            if person_status == "stopped"
                || !history(
                    tx,
                    household_id,
                    Some(member),
                    "stopped",
                    Some(&person_status),
                    Some("stopped"),
                    Some(&c.stop_from_month),
                    &cause,
                    detail.clone(),
                )
                .await?
            {
                return Ok(false);
            }
            sqlx::query(
                "UPDATE persons SET status = 'stopped', stop_from_month = $2 WHERE member_id = $1",
            )
            .bind(member)
            .bind(&c.stop_from_month)
            .execute(&mut *tx)
            .await?;
            let (left,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM persons WHERE household_id = $1 AND status <> 'stopped'",
            )
            .bind(household_id)
            .fetch_one(&mut *tx)
            .await?;
            if left == 0 && household_status != "stopped" {
                stop_household(tx, household_id, &household_status, c, &cause, detail).await?;
            }
            Ok(true)
        }
        (AssistanceChange::Stopped, None) => {
            if household_status == "stopped" {
                return Ok(false);
            }
            let changed =
                stop_household(tx, household_id, &household_status, c, &cause, detail).await?;
            if changed {
                sqlx::query("UPDATE persons SET status = 'stopped', stop_from_month = $2 WHERE household_id = $1 AND status <> 'stopped'")
                    .bind(household_id)
                    .bind(&c.stop_from_month)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(changed)
        }
        (AssistanceChange::GradualExit, _) => {
            if household_status != "active"
                || !history(
                    tx,
                    household_id,
                    None,
                    "gradual_exit",
                    Some(&household_status),
                    Some("exiting"),
                    Some(&c.stop_from_month),
                    &cause,
                    detail,
                )
                .await?
            {
                return Ok(false);
            }
            sqlx::query("UPDATE households SET status = 'exiting', exit_months = $2, stop_from_month = $3, updated_at = now() WHERE household_id = $1")
                .bind(household_id)
                .bind(c.exit_months.map(|m| m as i32))
                .bind(&c.stop_from_month)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE persons SET status = 'exiting', stop_from_month = $2 WHERE household_id = $1 AND status = 'active'",
            )
            .bind(household_id)
            .bind(&c.stop_from_month)
            .execute(&mut *tx)
            .await?;
            Ok(true)
        }
    }
}

async fn stop_household(
    tx: &mut PgConnection,
    household_id: Uuid,
    from: &str,
    c: &HouseholdChanged,
    cause: &str,
    detail: serde_json::Value,
) -> sqlx::Result<bool> {
    if !history(
        tx,
        household_id,
        None,
        "stopped",
        Some(from),
        Some("stopped"),
        Some(&c.stop_from_month),
        cause,
        detail,
    )
    .await?
    {
        return Ok(false);
    }
    sqlx::query("UPDATE households SET status = 'stopped', stop_from_month = $2, updated_at = now() WHERE household_id = $1")
        .bind(household_id)
        .bind(&c.stop_from_month)
        .execute(&mut *tx)
        .await?;
    Ok(true)
}

/// `monitor.household.changed` → the population database (a no-op for changes this service's
/// rules applied in the transaction that emitted them).
pub async fn on_changed(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<HouseholdChanged>()?;
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let changed = apply_change(&mut tx, e.household_id, &e.data).await?;
    tx.commit().await?;
    if changed {
        tracing::info!(change = ?e.data.change, reason = %e.data.reason, "Population database changed.");
    }
    Ok(Outcome::Applied)
}

/// `verify.household.reverified` → the household's last verification date; a dibao household
/// whose complete re-verification puts its per-capita income at or above the standard in force
/// begins its gradual exit (`monitor.household.changed`, `gradual_exit`).
pub async fn on_reverified(state: State, d: Delivery) -> Result<Outcome, HandlerError> {
    let e = d.envelope::<HouseholdReverified>()?;
    let Some(mut tx) = d.begin_once(&state.mesh.db, &e.id).await? else {
        return Ok(Outcome::Duplicate);
    };
    let row: Option<(String, bool, String, String, Uuid)> = sqlx::query_as(
        "SELECT region_code, urban, tier, status, chain_id FROM households WHERE household_id = $1 FOR UPDATE",
    )
    .bind(e.household_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((region_code, urban, tier, status, chain_id)) = row else {
        // Not enrolled here (not low-income): nothing to follow.
        tx.commit().await?;
        return Ok(Outcome::Applied);
    };
    let on = state.mesh.clock.local_date(e.time);
    sqlx::query("UPDATE households SET last_verified_on = GREATEST(last_verified_on, $2), updated_at = $3 WHERE household_id = $1")
        .bind(e.household_id)
        .bind(on)
        .bind(state.mesh.clock.now())
        .execute(&mut *tx)
        .await?;
    let region =
        RegionCode::parse(&region_code).map_err(|e| HandlerError::Poison(e.to_string()))?;
    let params = state
        .policy
        .in_force(&region, on)
        .map_err(|e| HandlerError::Poison(e.to_string()))?;
    let r = &e.data;
    let total: Fen = r.members.iter().map(|m| Fen(m.monthly_income_fen)).sum();
    let per_capita = total.per(r.members.len().max(1) as u32);
    let standard = params.standard(urban);
    history(
        &mut tx,
        e.household_id,
        None,
        "reverified",
        None,
        None,
        None,
        &e.id,
        json!({"report_id": r.report_id, "complete": r.complete, "gaps": r.gaps, "per_capita_income_fen": per_capita.0, "standard_fen": standard.0, "policy_version": params.version}),
    )
    .await?;
    let decision = rules::after_reverification(&rules::Reverified {
        complete: r.complete,
        tier: &tier,
        status: &status,
        per_capita,
        standard,
        on,
        gradual_exit_months: params.gradual_exit_months,
    });
    let mut exits = false;
    if let Some(exit) = decision {
        let change = HouseholdChanged {
            change_id: Uuid::new_v5(
                &e.household_id,
                format!("reverified/{}", r.report_id).as_bytes(),
            ),
            member_id: None,
            change: AssistanceChange::GradualExit,
            reason: "income_above_standard".into(),
            occurred_on: on,
            stop_from_month: exit.stop_from_month.to_string(),
            exit_months: Some(exit.exit_months),
            decided_by: format!("rule:{}", params.version),
        };
        if apply_change(&mut tx, e.household_id, &change).await? {
            let chain = ChainRef {
                household_id: e.household_id,
                chain_id,
                causation_id: Some(e.id.clone()),
            };
            let out = state
                .mesh
                .envelope(&chain, Some(change.change_id.to_string()), change);
            mesh::outbox::enqueue(&mut tx, &state.mesh.subjects.of(HOUSEHOLD_CHANGED), &out)
                .await?;
            exits = true;
        }
    }
    tx.commit().await?;
    tracing::info!(
        complete = r.complete,
        gradual_exit = exits,
        policy_version = %params.version,
        "Re-verification recorded."
    );
    Ok(Outcome::Applied)
}

/// Every `interval`, warns the township of each enrolled household whose last (re-)verification
/// is older than `reverification_months` + `reverification_grace_days` (the parameter set in
/// force for its region): one warning per missed re-verification.
pub async fn sweep_overdue(state: State, interval: Duration) -> anyhow::Result<()> {
    let stop = state.mesh.stopping.clone();
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        match sweep_once(&state, state.mesh.today()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(warnings = n, "Overdue re-verifications warned."),
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "Overdue re-verification sweep failed; it runs again on the next tick."
            ),
        }
    }
    Ok(())
}

/// How many households one sweep round looks at per region.
const SWEEP_BATCH: i64 = 1000;

/// One sweep; returns how many warnings it raised.
pub async fn sweep_once(state: &State, today: NaiveDate) -> anyhow::Result<usize> {
    let regions: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT region_code FROM households WHERE status IN ('active', 'exiting')",
    )
    .fetch_all(&state.mesh.db)
    .await?;
    let mut raised = 0;
    for (region_code,) in regions {
        let Ok(region) = RegionCode::parse(&region_code) else {
            continue;
        };
        let Ok(params) = state.policy.in_force(&region, today) else {
            continue;
        };
        let cutoff = policy::dates::reverification_overdue_before(
            today,
            params.reverification_months,
            params.reverification_grace_days,
        );
        let rows: Vec<(Uuid, NaiveDate)> = sqlx::query_as(
            "SELECT h.household_id, h.last_verified_on FROM households h
             WHERE h.region_code = $1 AND h.status IN ('active', 'exiting') AND h.last_verified_on < $2
               AND NOT EXISTS (SELECT 1 FROM warnings w WHERE w.dedupe_key = 'reverification-overdue:' || h.household_id || ':' || h.last_verified_on)
             ORDER BY h.last_verified_on LIMIT $3",
        )
        .bind(&region_code)
        .bind(cutoff)
        .bind(SWEEP_BATCH)
        .fetch_all(&state.mesh.db)
        .await?;
        if rows.is_empty() {
            continue;
        }
        let mut tx = state.mesh.db.begin().await?;
        for (household_id, last) in rows {
            let (_, new) = warnings::raise(
                &mut tx,
                &NewWarning {
                    dedupe_key: format!("reverification-overdue:{household_id}:{last}"),
                    kind: "reverification_overdue".into(),
                    household_id: Some(household_id),
                    member_id: None,
                    township_code: rules::township_of(&region_code),
                    detail: json!({"last_verified_on": last, "reverification_months": params.reverification_months, "grace_days": params.reverification_grace_days, "policy_version": params.version}),
                    verify_due: policy::dates::deadline(today, params.warning_verify_days),
                    raised_at: state.mesh.clock.now(),
                },
            )
            .await?;
            raised += usize::from(new);
        }
        tx.commit().await?;
    }
    Ok(raised)
}
