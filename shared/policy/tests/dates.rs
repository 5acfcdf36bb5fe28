//! Every date rule of `policy::dates` on every day of 2024–2028 (two leap years, every month
//! length, every year end), held to a statement of the rule written independently here: days
//! counted one at a time, months counted as year × 12 + month, month lengths from a table.
//!
//! The rules, as the texts and the parameter sets state them:
//! - a referral is answered, and a warning verified on site, within `days` days
//!   (referral_feedback_days, warning_verify_days; 002: "在规定时限内核实");
//! - a household is re-verified at least every `months` months (002, 004: "每半年…核查一次"),
//!   and overdue once `grace` days past that;
//! - after a death nothing is paid from the next month; a gradual exit (001: "渐退期…6个月")
//!   pays `months` more months after the month of the re-verification;
//! - the month's run starts on `payment_run_day` of the month before, must be done by
//!   `payment_run_deadline_day`, and pays by `payment_due_day` (002: "每月10日前").

#![allow(clippy::unwrap_used, clippy::too_many_lines, reason = "tests")]

use chrono::{Datelike, NaiveDate};
use policy::{dates, Month};

fn every_day() -> impl Iterator<Item = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let last = NaiveDate::from_ymd_opt(2028, 12, 31).unwrap();
    first.iter_days().take_while(move |d| *d <= last)
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn month_length(year: i32, month: u32) -> u32 {
    const LENGTHS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if month == 2 && is_leap(year) {
        29
    } else {
        LENGTHS[(month - 1) as usize]
    }
}

/// Month index: year × 12 + (month − 1).
fn index(year: i32, month: u32) -> i32 {
    year * 12 + month as i32 - 1
}

fn from_index(i: i32) -> (i32, u32) {
    (i.div_euclid(12), (i.rem_euclid(12) + 1) as u32)
}

fn month_of(i: i32) -> Month {
    let (y, m) = from_index(i);
    Month::parse(&format!("{y:04}-{m:02}")).unwrap()
}

/// `d` moved on `n` days, one at a time.
fn plus_days(d: NaiveDate, n: u32) -> NaiveDate {
    let mut d = d;
    for _ in 0..n {
        d = d.succ_opt().unwrap();
    }
    d
}

/// The same day `n` months on, or the last day of that month when it is shorter.
fn plus_months(d: NaiveDate, n: u32) -> NaiveDate {
    let (y, m) = from_index(index(d.year(), d.month()) + n as i32);
    NaiveDate::from_ymd_opt(y, m, d.day().min(month_length(y, m))).unwrap()
}

const FEEDBACK_DAYS: [u32; 4] = [0, 7, 15, 30];

#[test]
fn deadlines_end_the_given_number_of_days_later_and_that_day_is_on_time() {
    for day in every_day() {
        for days in FEEDBACK_DAYS {
            let due = dates::deadline(day, days);
            assert_eq!(due, plus_days(day, days), "{day} + {days} days");
            assert!(!dates::is_overdue(due, due));
            assert!(dates::is_overdue(due, due.succ_opt().unwrap()));
            assert!(!dates::is_overdue(due, day));
        }
    }
}

#[test]
fn reverification_is_due_whole_months_later_and_overdue_after_the_grace() {
    for (months, grace) in [(6, 30), (6, 0), (12, 15), (1, 31)] {
        for today in every_day() {
            let cutoff = dates::reverification_overdue_before(today, months, grace);
            // Every last-verified day around the boundary, about a month either way.
            let boundary = today - chrono::Days::new(u64::from(grace) + 31 * u64::from(months));
            let lows = boundary - chrono::Days::new(40);
            for last in lows.iter_days().take(100) {
                let due = plus_months(last, months);
                assert_eq!(
                    dates::reverification_due(last, months),
                    due,
                    "{last} + {months} months"
                );
                let overdue = today > plus_days(due, grace);
                assert_eq!(
                    dates::reverification_overdue(last, today, months, grace),
                    overdue,
                    "last {last}, today {today}, {months} months, {grace} days' grace"
                );
                assert_eq!(
                    last < cutoff,
                    overdue,
                    "cut-off {cutoff} for last {last}, today {today}, {months} months, {grace} days"
                );
            }
        }
    }
}

#[test]
fn after_a_death_or_a_gradual_exit_payment_stops_from_the_month_named() {
    for day in every_day() {
        let i = index(day.year(), day.month());
        assert_eq!(
            dates::stop_from_after_death(day),
            month_of(i + 1),
            "death on {day}"
        );
        for months in [0, 3, 6, 12] {
            assert_eq!(
                dates::gradual_exit_stop(day, months),
                month_of(i + 1 + months as i32),
                "re-verified on {day}, {months} months"
            );
        }
    }
}

#[test]
fn the_monthly_run_its_deadline_and_its_pay_by_day() {
    for today in every_day() {
        let this = index(today.year(), today.month());
        for run_day in [1, 20, 25, 28, 31] {
            let expected = if today.day() >= run_day {
                vec![month_of(this), month_of(this + 1)]
            } else {
                vec![month_of(this)]
            };
            assert_eq!(
                dates::runs_due(today, run_day),
                expected,
                "{today}, run day {run_day}"
            );
        }
        for deadline_day in [1, 5, 10, 31] {
            assert_eq!(
                dates::run_is_late(today, deadline_day),
                today.day() >= deadline_day
            );
        }
        for due_day in [1, 10, 29, 30, 31] {
            for ahead in 0..2 {
                let (y, m) = from_index(this + ahead);
                let day = NaiveDate::from_ymd_opt(y, m, due_day.min(month_length(y, m))).unwrap();
                let expected = if day < today { today } else { day };
                assert_eq!(
                    dates::pay_by(month_of(this + ahead), due_day, today),
                    expected,
                    "{y}-{m}, due day {due_day}, today {today}"
                );
            }
        }
    }
}
