//! The date rules of the mesh, in one place. Every date here is a calendar day of the bureau
//! (Asia/Shanghai), as the service's clock gives it; none is read from the wall clock here.
//!
//! | rule | parameters | where the mesh applies it |
//! |---|---|---|
//! | a deadline `days` calendar days after a day ([`deadline`]) | `referral_feedback_days`, `warning_verify_days`, `complaint_answer_days`, `disclosure_notice_days` | monitoring: a referral's feedback, a warning's on-site verification, a complaint's answer; intake: the last day of an approval disclosure's notice |
//! | overdue once the deadline day has passed ([`is_overdue`]) | — | the chain's overdue flags, the sweep, the reports |
//! | re-verification due whole months after the last ([`months_after`], [`reverification_due`]) | `reverification_months` | verification's schedule |
//! | re-verification overdue once the grace after the due day has passed ([`reverification_overdue`], [`reverification_overdue_before`]) | `reverification_grace_days` | monitoring's overdue sweep |
//! | nothing paid from the month after a death ([`stop_from_after_death`]) | — | monitoring's feed rules |
//! | a gradual exit pays `months` more months after the re-verification's month ([`gradual_exit_stop`]) | `gradual_exit_months` | monitoring, payment |
//! | the month's payment run, its deadline and its pay-by day ([`runs_due`], [`run_is_late`], [`pay_by`]) | `payment_run_day`, `payment_run_deadline_day`, `payment_due_day` | payment's scheduler and instructions |
//! | the months payment runs, instructs and sends ([`payment_window`]) | `payment.run.months_back`, `payment.run.months_ahead` (payment's settings) | payment's runs, instructions and files |
//! | a file's requested execution day: never before the month's pay-by day ([`execution_date`]) | `payment_due_day` | payment's pain.001 files |
//!
//! `tests/dates.rs` holds each rule to an independent statement of it for every day of 2024–2028.

use crate::Month;
use chrono::{Datelike, Days, Months, NaiveDate};

/// The day `days` calendar days after `from`: the last day on which something started on `from`
/// is on time.
pub fn deadline(from: NaiveDate, days: u32) -> NaiveDate {
    from.checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

/// Whether a deadline of `due` has passed on `today`: the due day itself is still on time.
pub fn is_overdue(due: NaiveDate, today: NaiveDate) -> bool {
    today > due
}

/// `date` plus whole calendar months; the 31st becomes the last day of a shorter month.
pub fn months_after(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(months))
}

/// The day a household last verified on `last` is due for re-verification.
pub fn reverification_due(last: NaiveDate, months: u32) -> NaiveDate {
    months_after(last, months).unwrap_or(NaiveDate::MAX)
}

/// Whether a household last verified on `last` is overdue for re-verification on `today`: the
/// grace of `grace_days` after its due day has passed.
pub fn reverification_overdue(
    last: NaiveDate,
    today: NaiveDate,
    months: u32,
    grace_days: u32,
) -> bool {
    is_overdue(
        deadline(reverification_due(last, months), grace_days),
        today,
    )
}

/// The first day of verification that is not overdue on `today`: a household last verified
/// before it is overdue ([`reverification_overdue`]), one verified on or after it is not. A
/// cut-off date lets the sweep find every overdue household with one indexed comparison.
pub fn reverification_overdue_before(today: NaiveDate, months: u32, grace_days: u32) -> NaiveDate {
    // Not overdue ⇔ due(last) + grace ≥ today ⇔ due(last) ≥ today − grace; due() never
    // decreases, so the days that are not overdue are those from some first day on. Months are
    // not all alike (due() maps the 29th–31st of a month onto the last day of a shorter one), so
    // start from the plain difference and step to the exact first day.
    let Some(target) = today.checked_sub_days(Days::new(u64::from(grace_days))) else {
        return NaiveDate::MIN;
    };
    let Some(mut first) = target.checked_sub_months(Months::new(months)) else {
        return NaiveDate::MIN;
    };
    while reverification_due(first, months) < target {
        match first.succ_opt() {
            Some(d) => first = d,
            None => return first,
        }
    }
    while let Some(before) = first.pred_opt() {
        if reverification_due(before, months) < target {
            break;
        }
        first = before;
    }
    first
}

/// The first month with no payment after a death on `died_on`: the month after it.
pub fn stop_from_after_death(died_on: NaiveDate) -> Month {
    Month::of(died_on).next()
}

/// The first month of no payment for a household that exits gradually after a re-verification
/// on `reverified_on`: it is paid `months` more months, counted from the month after.
pub fn gradual_exit_stop(reverified_on: NaiveDate, months: u32) -> Month {
    let mut stop = Month::of(reverified_on).next();
    for _ in 0..months {
        stop = stop.next();
    }
    stop
}

/// The months whose payment run should be going on `today`: this month's (until it is
/// completed: late is better than never) and, from `run_day` on, next month's.
pub fn runs_due(today: NaiveDate, run_day: u32) -> Vec<Month> {
    let this = Month::of(today);
    if today.day() >= run_day {
        vec![this, this.next()]
    } else {
        vec![this]
    }
}

/// Whether this month's run, not yet completed, is late on `today`: its deadline day has come.
pub fn run_is_late(today: NaiveDate, deadline_day: u32) -> bool {
    today.day() >= deadline_day
}

/// The day `month`'s benefit must be paid by: `due_day` of the month (the month's last day when
/// it is shorter), or `today` when that day has already passed: a payment is never due in the past.
pub fn pay_by(month: Month, due_day: u32, today: NaiveDate) -> NaiveDate {
    month.day(due_day).max(today)
}

/// The first and the last month payment may run, instruct or send on `today`: `back` months
/// before today's month to `ahead` months after it. With `ahead` = 1 the next month's run can
/// start on this month's `payment_run_day` ([`runs_due`]), and no month further ahead exists for
/// payment: nothing is paid early.
pub fn payment_window(today: NaiveDate, back: u32, ahead: u32) -> (Month, Month) {
    let this = Month::of(today);
    let first = i32::try_from(back)
        .ok()
        .and_then(|b| this.offset(-b))
        .unwrap_or(this);
    let last = i32::try_from(ahead)
        .ok()
        .and_then(|a| this.offset(a))
        .unwrap_or(this);
    (first, last)
}

/// The day a payment due on `due` for `month` is asked to be executed when its file is made on
/// `today`: never in the past, never before the payment's own due day, and for a monthly benefit
/// never before the month's pay-by day (`due_day` of the month, [`pay_by`]): a file made in
/// November for December is executed in December.
pub fn execution_date(
    month: Month,
    due: NaiveDate,
    due_day: Option<u32>,
    today: NaiveDate,
) -> NaiveDate {
    let pay_day = due_day.map(|d| month.day(d)).unwrap_or(NaiveDate::MIN);
    today.max(due).max(pay_day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_deadline_counts_calendar_days_and_its_day_is_still_on_time() {
        let due = deadline(date("2026-11-25"), 7);
        assert_eq!(due, date("2026-12-02"));
        assert!(!is_overdue(due, date("2026-12-02")));
        assert!(is_overdue(due, date("2026-12-03")));
    }

    #[test]
    fn reverification_is_overdue_the_day_after_due_plus_grace() {
        // Verified 2026-05-01, due 2026-11-01, grace 30 days to 2026-12-01.
        assert!(!reverification_overdue(
            date("2026-05-01"),
            date("2026-12-01"),
            6,
            30
        ));
        assert!(reverification_overdue(
            date("2026-05-01"),
            date("2026-12-02"),
            6,
            30
        ));
        assert_eq!(
            reverification_overdue_before(date("2026-12-01"), 6, 30),
            date("2026-05-01")
        );
        // The 31st is due on the last day of a shorter month.
        assert_eq!(
            reverification_due(date("2026-08-31"), 6),
            date("2027-02-28")
        );
        assert_eq!(
            reverification_overdue_before(date("2026-11-22"), 6, 30),
            date("2026-04-23")
        );
        // Verified on 28 February, due on 28 August: overdue on the 31st without grace.
        assert!(reverification_overdue(
            date("2026-02-28"),
            date("2026-08-31"),
            6,
            0
        ));
        assert_eq!(
            reverification_overdue_before(date("2026-08-31"), 6, 0),
            date("2026-03-01")
        );
    }

    #[test]
    fn a_gradual_exit_counts_from_the_month_after() {
        assert_eq!(
            gradual_exit_stop(date("2026-11-30"), 6),
            Month::parse("2027-06").unwrap()
        );
        assert_eq!(
            stop_from_after_death(date("2026-12-31")),
            Month::parse("2027-01").unwrap()
        );
    }

    #[test]
    fn runs_and_pay_by_days() {
        let m = |s: &str| Month::parse(s).unwrap();
        assert_eq!(runs_due(date("2027-03-24"), 25), vec![m("2027-03")]);
        assert_eq!(
            runs_due(date("2027-03-25"), 25),
            vec![m("2027-03"), m("2027-04")]
        );
        assert!(run_is_late(date("2027-03-05"), 5));
        assert!(!run_is_late(date("2027-03-04"), 5));
        assert_eq!(
            pay_by(m("2027-02"), 30, date("2027-01-20")),
            date("2027-02-28")
        );
        assert_eq!(
            pay_by(m("2027-02"), 10, date("2027-02-11")),
            date("2027-02-11")
        );
    }

    #[test]
    fn the_payment_window_runs_from_months_back_to_months_ahead_of_today() {
        let m = |s: &str| Month::parse(s).unwrap();
        assert_eq!(
            payment_window(date("2026-11-16"), 12, 1),
            (m("2025-11"), m("2026-12"))
        );
        assert_eq!(
            payment_window(date("2026-12-31"), 0, 1),
            (m("2026-12"), m("2027-01"))
        );
    }

    /// DOMAIN.md, Payments: benefits are paid "by the 10th of each month" (Zhengzhou), the
    /// parameter sets' `payment_due_day`. December's benefit in a file made on 16 November is
    /// executed on 10 December; November's, its 10th passed, at once; a stage on its own day.
    #[test]
    fn a_file_is_executed_no_earlier_than_the_months_pay_by_day() {
        let m = |s: &str| Month::parse(s).unwrap();
        let today = date("2026-11-16");
        assert_eq!(
            execution_date(m("2026-12"), date("2026-12-10"), Some(10), today),
            date("2026-12-10")
        );
        assert_eq!(
            execution_date(m("2026-12"), date("2026-11-16"), Some(10), today),
            date("2026-12-10"),
            "a due date before the pay-by day does not pay early"
        );
        assert_eq!(
            execution_date(m("2026-11"), date("2026-11-10"), Some(10), today),
            today
        );
        assert_eq!(
            execution_date(m("2026-12"), date("2026-12-20"), None, today),
            date("2026-12-20")
        );
        assert_eq!(
            execution_date(m("2026-11"), date("2026-11-16"), None, today),
            today
        );
    }
}
