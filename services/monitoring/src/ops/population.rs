//! The overdue re-verification sweep over the population database.

use crate::domain::{township_of, WarningKind};
use crate::state::State;
use crate::store::{self, warnings::NewWarning};
use chrono::NaiveDate;
use policy::RegionCode;
use serde_json::json;
use std::time::Duration;

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
    let regions = store::households::assisted_regions(&state.mesh.db).await?;
    let mut raised = 0;
    for region_code in regions {
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
        let rows = store::households::reverification_overdue(
            &state.mesh.db,
            &region_code,
            cutoff,
            SWEEP_BATCH,
        )
        .await?;
        if rows.is_empty() {
            continue;
        }
        let mut tx = state.mesh.db.begin().await?;
        for (household_id, last) in rows {
            let (_, new) = store::warnings::raise(
                &mut tx,
                &NewWarning {
                    dedupe_key: format!("reverification-overdue:{household_id}:{last}"),
                    kind: WarningKind::ReverificationOverdue,
                    household_id: Some(household_id),
                    member_id: None,
                    township_code: township_of(&region_code),
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
