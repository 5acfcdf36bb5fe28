//! Repayment plans (追回计划, 002: "依法依规追回非法获取的物资、救助金"). Each change that opens
//! recovery cases ([`crate::recoveries::open`]) opens one plan for the household, in the
//! region's `repayment_instalments` (fewer months for a confirmed fraud).
//!
//! What a plan owes is read from its cases each time, never kept: the overpaid part of each
//! payment the bank **settled**. A payment still in transit owes nothing yet (it counts once
//! settled); one rejected or returned never reached the household and owes nothing. So a fraud's
//! plan is exactly what the household obtained, per member, kind and month.
//!
//! A repayment received (`POST /v1/recoveries/plans/{plan_id}/repayments`, by the county officer
//! of the token) is allocated to the plan's owing cases, oldest month first; each allocation is
//! a balanced `recovered` entry in the ledger of the fund account, district and month its
//! payment came from ([`crate::ledger::post`]), so the month's reconciliation shows it on its
//! `recovered` line with nothing unexplained. Once per (plan, reference); never more than the
//! plan still owes.

use crate::domain::{InstructionKind, InstructionStatus, LedgerEvent, RUN_NAMESPACE};
use crate::ledger;
use crate::state::State;
use crate::store;
use crate::store::ledger::Entry;
use crate::store::repayments::{NewPlan, PlanCase, PlanRow, Repayment};
use chrono::{DateTime, NaiveDate, Utc};
use mesh::audit;
use mesh::auth::Acting;
use mesh::http::{ApiError, FieldError};
use policy::{Month, RegionCode};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

/// Opens the plan of the recovery cases change `change_id` opened for `household_id` (in
/// `region_code`), its first instalment due the month after today; `false` when it was open.
pub async fn open_plan(
    state: &State,
    tx: &mut PgConnection,
    household_id: Uuid,
    region_code: &str,
    change_id: Uuid,
    reason: &str,
) -> anyhow::Result<bool> {
    let today = state.mesh.today();
    let region = RegionCode::parse(region_code).map_err(|e| anyhow::anyhow!(e))?;
    let p = state.policy.in_force(&region, today)?;
    let fraud = reason == contract::STOP_REASON_FRAUD;
    let instalments = p.repayment_instalments.for_reason(fraud);
    let first_due = Month::of(today).next().to_string();
    let plan_id = Uuid::new_v5(
        &RUN_NAMESPACE,
        format!("{household_id}/plan/{change_id}").as_bytes(),
    );
    let fresh = store::repayments::open(
        tx,
        &NewPlan {
            plan_id,
            household_id,
            change_id,
            fraud,
            instalments: i32::try_from(instalments).unwrap_or(i32::MAX),
            first_due_month: &first_due,
            policy_version: &p.version,
        },
        state.mesh.clock.now(),
    )
    .await?;
    if fresh {
        tracing::info!(%plan_id, %change_id, fraud, instalments, "Repayment plan opened.");
    }
    Ok(fresh)
}

/// What a case owes now: its overpaid part once its payment is settled, nothing while it is in
/// transit or when it never reached the household.
const fn owes(c: &PlanCase) -> bool {
    matches!(c.payment_status, InstructionStatus::Settled)
}

const fn in_transit(c: &PlanCase) -> bool {
    match c.payment_status {
        InstructionStatus::Instructed => !c.withheld,
        InstructionStatus::Sent | InstructionStatus::Accepted => true,
        InstructionStatus::Settled | InstructionStatus::Rejected | InstructionStatus::Returned => {
            false
        }
    }
}

/// One month's instalment of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instalment {
    pub month: String,
    pub amount_fen: i64,
    /// What is due by the end of this month, this instalment included.
    pub cumulative_fen: i64,
}

/// What one member obtained of one kind and repaid, over the plan's months.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Obtained {
    pub beneficiary_member_id: Uuid,
    pub kind: InstructionKind,
    pub months: Vec<String>,
    pub owed_fen: i64,
    pub repaid_fen: i64,
}

/// A plan's figures, from its cases, as of a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// `open`, `awaiting_settlement` (nothing owed yet, payments in transit), `repaid`, or
    /// `nothing_owed` (every payment rejected or returned).
    pub status: &'static str,
    /// The overpaid part of the settled payments: what the household obtained.
    pub owed_fen: i64,
    /// The overpaid part of payments not yet settled: owed once they are.
    pub in_transit_fen: i64,
    pub repaid_fen: i64,
    pub outstanding_fen: i64,
    /// Each month's instalment: `owed_fen` over the plan's instalments, rounded up.
    pub instalment_fen: i64,
    pub schedule: Vec<Instalment>,
    /// What the schedule asked by the end of the month asked about.
    pub due_to_date_fen: i64,
    /// `due_to_date_fen` not yet repaid.
    pub arrears_fen: i64,
    pub obtained: Vec<Obtained>,
}

/// The schedule of `owed` fen in `instalments` monthly parts from `first`: equal parts rounded
/// up, the last one smaller; none when nothing is owed.
pub fn schedule(owed: i64, instalments: u32, first: Month) -> Vec<Instalment> {
    let n = i64::from(instalments.max(1));
    let part = if owed > 0 { (owed + n - 1) / n } else { 0 };
    let mut out = Vec::new();
    let mut month = first;
    let mut cumulative = 0;
    while cumulative < owed {
        let amount = part.min(owed - cumulative);
        cumulative += amount;
        out.push(Instalment {
            month: month.to_string(),
            amount_fen: amount,
            cumulative_fen: cumulative,
        });
        month = month.next();
    }
    out
}

/// The plan's figures as of `as_of`. Pure: the tests below and the routes share it.
pub fn figures(cases: &[PlanCase], instalments: u32, first: Month, as_of: Month) -> Figures {
    let owed: i64 = cases.iter().filter(|c| owes(c)).map(|c| c.amount_fen).sum();
    let in_transit_fen: i64 = cases
        .iter()
        .filter(|c| in_transit(c))
        .map(|c| c.amount_fen)
        .sum();
    let repaid: i64 = cases.iter().map(|c| c.recovered_fen).sum();
    let outstanding = owed.saturating_sub(repaid).max(0);
    let schedule = schedule(owed, instalments, first);
    let as_of = as_of.to_string();
    let due_to_date = schedule
        .iter()
        .filter(|i| i.month <= as_of)
        .map(|i| i.amount_fen)
        .sum::<i64>();
    let mut obtained: Vec<Obtained> = Vec::new();
    for c in cases.iter().filter(|c| owes(c)) {
        match obtained
            .iter_mut()
            .find(|o| o.beneficiary_member_id == c.beneficiary_member_id && o.kind == c.kind)
        {
            Some(o) => {
                if !o.months.contains(&c.month) {
                    o.months.push(c.month.clone());
                }
                o.owed_fen += c.amount_fen;
                o.repaid_fen += c.recovered_fen;
            }
            None => obtained.push(Obtained {
                beneficiary_member_id: c.beneficiary_member_id,
                kind: c.kind,
                months: vec![c.month.clone()],
                owed_fen: c.amount_fen,
                repaid_fen: c.recovered_fen,
            }),
        }
    }
    let status = match (owed > 0, outstanding > 0, in_transit_fen > 0) {
        (_, true, _) => "open",
        (_, false, true) => "awaiting_settlement",
        (true, false, false) => "repaid",
        (false, false, false) => "nothing_owed",
    };
    Figures {
        status,
        owed_fen: owed,
        in_transit_fen,
        repaid_fen: repaid,
        outstanding_fen: outstanding,
        instalment_fen: schedule.first().map_or(0, |i| i.amount_fen),
        schedule,
        due_to_date_fen: due_to_date,
        arrears_fen: due_to_date.saturating_sub(repaid).max(0),
        obtained,
    }
}

/// How `amount` fen of a repayment is allocated to the owing cases: oldest month first, each up
/// to what it still owes. `None` when the cases owe less than `amount` in all.
pub fn allocate(cases: &[PlanCase], amount: i64) -> Option<Vec<(Uuid, i64)>> {
    let mut left = amount;
    let mut out = Vec::new();
    for c in cases.iter().filter(|c| owes(c)) {
        if left == 0 {
            break;
        }
        let part = left.min(c.amount_fen - c.recovered_fen);
        if part > 0 {
            out.push((c.recovery_id, part));
            left -= part;
        }
    }
    (left == 0).then_some(out)
}

/// A plan as shown over HTTP.
#[derive(Debug, Serialize)]
pub struct PlanView {
    pub plan_id: Uuid,
    pub household_id: Uuid,
    pub change_id: Uuid,
    /// `fraud` (a confirmed fraud) or `overpayment`.
    pub reason: &'static str,
    pub instalments: i32,
    pub first_due_month: String,
    pub policy_version: String,
    pub opened_at: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: Figures,
    pub cases: Vec<PlanCase>,
    pub repayments: Vec<Repayment>,
}

async fn view(state: &State, tx: &mut PgConnection, p: PlanRow) -> anyhow::Result<PlanView> {
    let cases = store::repayments::cases(tx, p.plan_id).await?;
    let repayments = store::repayments::repayments(tx, p.plan_id).await?;
    let first = Month::parse(&p.first_due_month).map_err(|e| anyhow::anyhow!(e))?;
    let instalments = u32::try_from(p.instalments).unwrap_or(1);
    let figures = figures(&cases, instalments, first, Month::of(state.mesh.today()));
    Ok(PlanView {
        plan_id: p.plan_id,
        household_id: p.household_id,
        change_id: p.change_id,
        reason: if p.fraud { "fraud" } else { "overpayment" },
        instalments: p.instalments,
        first_due_month: p.first_due_month,
        policy_version: p.policy_version,
        opened_at: p.opened_at,
        figures,
        cases,
        repayments,
    })
}

/// The plans of the households in the caller's areas (of one household, when given).
pub async fn list(
    state: &State,
    acting: &Acting,
    household_id: Option<Uuid>,
) -> anyhow::Result<Vec<PlanView>> {
    let mut tx = state.mesh.db.begin().await?;
    let plans = store::repayments::list(&mut tx, household_id, &acting.region_patterns()).await?;
    let mut out = Vec::with_capacity(plans.len());
    for p in plans {
        out.push(view(state, &mut tx, p).await?);
    }
    tx.commit().await?;
    Ok(out)
}

/// A repayment received, as the county officer enters it.
#[derive(Debug)]
pub struct Received<'a> {
    pub amount_fen: i64,
    pub reference: &'a str,
    pub received_on: NaiveDate,
}

/// Records a repayment of plan `plan_id`: allocated to its owing cases, each part a `recovered`
/// ledger entry, the case recovered in full `recovered`, and the whole in the audit trail. The
/// plan with its new figures and whether the repayment is new (the same reference again is
/// the first one, when its amount is the same).
pub async fn repay(
    state: &State,
    acting: &Acting,
    plan_id: Uuid,
    r: &Received<'_>,
    purpose: &axum::http::HeaderMap,
) -> Result<(bool, PlanView), ApiError> {
    let patterns = acting.region_patterns();
    let mut tx = state.mesh.db.begin().await?;
    let plan = store::repayments::lock(&mut tx, plan_id, &patterns)
        .await?
        .ok_or_else(|| ApiError::NotFound("no repayment plan with this id".into()))?;
    let earlier = store::repayments::repayments(&mut tx, plan_id).await?;
    if let Some(first) = earlier.iter().find(|e| e.reference == r.reference) {
        if first.amount_fen != r.amount_fen || first.received_on != r.received_on {
            return Err(ApiError::Conflict("this reference was recorded for this plan with another amount or date; the first is kept (see the plan's repayments)".into()));
        }
        let shown = view(state, &mut tx, plan).await?;
        tx.commit().await?;
        return Ok((false, shown));
    }
    let cases = store::repayments::cases(&mut tx, plan_id).await?;
    let Some(parts) = allocate(&cases, r.amount_fen) else {
        let outstanding: i64 = cases
            .iter()
            .filter(|c| owes(c))
            .map(|c| c.amount_fen - c.recovered_fen)
            .sum();
        return Err(ApiError::Validation(vec![FieldError::new(
            "amount_fen",
            format!("more than the plan still owes ({outstanding} fen of settled payments)"),
        )]));
    };
    let actor = acting.actor();
    let repayment_id = Uuid::new_v5(&plan_id, r.reference.as_bytes());
    store::repayments::insert(
        &mut tx,
        plan_id,
        &Repayment {
            repayment_id,
            amount_fen: r.amount_fen,
            reference: r.reference.to_owned(),
            received_on: r.received_on,
            posted_by: Json(actor.clone()),
            posted_at: state.mesh.clock.now(),
        },
    )
    .await?;
    for (recovery_id, part) in &parts {
        book(
            state,
            &mut tx,
            acting,
            &cases,
            *recovery_id,
            *part,
            repayment_id,
            r,
        )
        .await?;
    }
    audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        audit::Entry::new("recovery.repayment.post", "repayment_plan", plan_id)
            .household(plan.household_id)
            .purpose_from(purpose)
            .detail(serde_json::json!({
                "repayment_id": repayment_id,
                "amount_fen": r.amount_fen,
                "received_on": r.received_on,
                "allocated": parts.len(),
            })),
    )
    .await?;
    let shown = view(state, &mut tx, plan).await?;
    tx.commit().await?;
    tracing::info!(%plan_id, %repayment_id, amount_fen = r.amount_fen, "Repayment booked.");
    Ok((true, shown))
}

/// Allocates `part` of repayment `repayment_id` to case `recovery_id` and posts it to the
/// ledger of the fund account its payment came from.
#[allow(
    clippy::too_many_arguments,
    reason = "one allocation's parts, from its caller's loop"
)]
async fn book(
    state: &State,
    tx: &mut PgConnection,
    acting: &Acting,
    cases: &[PlanCase],
    recovery_id: Uuid,
    part: i64,
    repayment_id: Uuid,
    r: &Received<'_>,
) -> Result<(), ApiError> {
    let Some(case) = cases.iter().find(|c| c.recovery_id == recovery_id) else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "an allocation to a case not of the plan"
        )));
    };
    store::repayments::allocate(tx, repayment_id, recovery_id, part).await?;
    let paid = store::ledger::paid_from(tx, case.instruction_id, &acting.region_patterns())
        .await?
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "settled payment {} has no instructed entry in the ledger",
                case.instruction_id
            ))
        })?;
    let actor = acting.actor();
    let reference = format!("{}#{repayment_id}", r.reference);
    ledger::post(
        tx,
        &Entry {
            fund_account: &paid.fund_account,
            district: &paid.district,
            month: &paid.month,
            instruction_id: Some(case.instruction_id),
            event: LedgerEvent::Recovered,
            amount_fen: part,
            reference: &reference,
            actor: Some(&actor),
        },
        state.mesh.clock.now(),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    fn case(n: u128, m: &str, amount: i64, status: InstructionStatus) -> PlanCase {
        PlanCase {
            recovery_id: Uuid::from_u128(n),
            instruction_id: Uuid::from_u128(100 + n),
            beneficiary_member_id: Uuid::from_u128(7),
            month: m.to_owned(),
            kind: InstructionKind::DibaoMonthly,
            amount_fen: amount,
            recovered_fen: 0,
            payment_status: status,
            withheld: false,
        }
    }

    use InstructionStatus::{Rejected, Returned, Sent, Settled};

    // 002: "追回非法获取的…救助金": what was obtained is what the bank settled; a payment
    // rejected or returned never reached the household, one in transit owes once it settles.
    #[test]
    fn a_plan_owes_what_was_settled_and_counts_payments_in_transit_apart() {
        let cases = [
            case(1, "2026-12", 240_000, Settled),
            case(2, "2027-01", 240_000, Sent),
            case(3, "2027-02", 240_000, Rejected),
            case(4, "2027-03", 100_000, Returned),
        ];
        let f = figures(&cases, 6, month("2027-02"), month("2027-02"));
        assert_eq!(f.owed_fen, 240_000);
        assert_eq!(f.in_transit_fen, 240_000);
        assert_eq!(f.outstanding_fen, 240_000);
        assert_eq!(f.status, "open");
        assert_eq!(f.instalment_fen, 40_000);
        assert_eq!(f.schedule.len(), 6);
        assert_eq!(f.due_to_date_fen, 40_000);
        assert_eq!(f.arrears_fen, 40_000);
        assert_eq!(f.obtained.len(), 1);
        assert_eq!(f.obtained[0].months, ["2026-12"]);
    }

    #[test]
    fn a_payment_withheld_from_every_file_is_neither_owed_nor_in_transit() {
        let mut withheld = case(1, "2027-01", 240_000, InstructionStatus::Instructed);
        withheld.withheld = true;
        let f = figures(&[withheld], 6, month("2027-02"), month("2027-02"));
        assert_eq!(
            (f.owed_fen, f.in_transit_fen, f.status),
            (0, 0, "nothing_owed")
        );
        let f = figures(
            &[case(2, "2027-01", 240_000, InstructionStatus::Instructed)],
            6,
            month("2027-02"),
            month("2027-02"),
        );
        assert_eq!(
            f.in_transit_fen, 240_000,
            "a lower amount: the rest is still paid"
        );
    }

    #[test]
    fn instalments_are_rounded_up_and_the_last_takes_the_rest() {
        let s = schedule(100_001, 3, month("2027-01"));
        let parts: Vec<i64> = s.iter().map(|i| i.amount_fen).collect();
        assert_eq!(parts, [33_334, 33_334, 33_333]);
        assert_eq!(s[2].month, "2027-03");
        assert_eq!(s[2].cumulative_fen, 100_001);
        assert!(schedule(0, 6, month("2027-01")).is_empty());
    }

    #[test]
    fn a_repayment_goes_to_the_oldest_owing_case_first_and_never_beyond_what_is_owed() {
        let mut older = case(1, "2026-12", 50_000, Settled);
        older.recovered_fen = 20_000;
        let cases = [
            older,
            case(2, "2027-01", 50_000, Sent),
            case(3, "2027-02", 50_000, Settled),
        ];
        assert_eq!(
            allocate(&cases, 40_000),
            Some(vec![
                (Uuid::from_u128(1), 30_000),
                (Uuid::from_u128(3), 10_000)
            ])
        );
        assert_eq!(allocate(&cases, 80_000).map(|a| a.len()), Some(2));
        assert_eq!(
            allocate(&cases, 80_001),
            None,
            "the one in transit owes nothing yet"
        );
    }

    #[test]
    fn a_plan_repaid_in_full_or_with_nothing_obtained_says_so() {
        let mut paid = case(1, "2026-12", 50_000, Settled);
        paid.recovered_fen = 50_000;
        let f = figures(&[paid.clone()], 6, month("2027-01"), month("2027-01"));
        assert_eq!(
            (f.status, f.outstanding_fen, f.arrears_fen),
            ("repaid", 0, 0)
        );
        let f = figures(
            &[paid, case(2, "2027-01", 50_000, Sent)],
            6,
            month("2027-01"),
            month("2027-01"),
        );
        assert_eq!(f.status, "awaiting_settlement");
        let f = figures(
            &[case(3, "2027-02", 50_000, Rejected)],
            6,
            month("2027-01"),
            month("2027-01"),
        );
        assert_eq!((f.status, f.owed_fen), ("nothing_owed", 0));
    }
}
