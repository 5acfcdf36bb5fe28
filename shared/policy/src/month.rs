//! Calendar months.

use chrono::{Datelike, NaiveDate};
use std::fmt;

#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Month {
    year: i32,
    month: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a month is written YYYY-MM")]
pub struct MonthError;

impl Month {
    pub fn parse(s: &str) -> Result<Self, MonthError> {
        let (y, m) = s.trim().split_once('-').ok_or(MonthError)?;
        let year: i32 = y.parse().map_err(|_| MonthError)?;
        let month: u32 = m.parse().map_err(|_| MonthError)?;
        if y.len() != 4 || m.len() != 2 || !(1..=12).contains(&month) {
            return Err(MonthError);
        }
        Ok(Self { year, month })
    }

    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    #[allow(
        clippy::expect_used,
        reason = "a Month holds a month 1-12 of a four-digit year, always a date"
    )]
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid month")
    }

    /// The given day of this month, clamped to the month's last day.
    #[allow(
        clippy::expect_used,
        reason = "the day before the first of a four-digit year's month is a date"
    )]
    pub fn day(self, day: u32) -> NaiveDate {
        let last = self.next().first_day().pred_opt().expect("valid date");
        NaiveDate::from_ymd_opt(self.year, self.month, day.clamp(1, last.day())).unwrap_or(last)
    }

    /// The month `months` later (earlier when negative); `None` past the four-digit years.
    pub fn offset(self, months: i32) -> Option<Self> {
        let index = i64::from(self.year) * 12 + i64::from(self.month) - 1 + i64::from(months);
        let year = i32::try_from(index.div_euclid(12)).ok()?;
        let month = u32::try_from(index.rem_euclid(12) + 1).ok()?;
        (0..=9999).contains(&year).then_some(Self { year, month })
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
}

impl TryFrom<String> for Month {
    type Error = MonthError;
    fn try_from(s: String) -> Result<Self, MonthError> {
        Self::parse(&s)
    }
}

impl From<Month> for String {
    fn from(m: Month) -> String {
        m.to_string()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Debug for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Month({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_roll_over_and_clamp_days() {
        let m = Month::parse("2026-12").unwrap();
        assert_eq!(m.next().to_string(), "2027-01");
        assert_eq!(
            Month::parse("2026-02").unwrap().day(31).to_string(),
            "2026-02-28"
        );
        assert!(Month::parse("2026-13").is_err());
        assert_eq!(m.offset(1), Some(m.next()));
        assert_eq!(
            m.offset(-12).map(|m| m.to_string()).as_deref(),
            Some("2025-12")
        );
        assert_eq!(
            m.offset(-24 - 11).map(|m| m.to_string()).as_deref(),
            Some("2024-01")
        );
        assert_eq!(Month::parse("9999-12").unwrap().offset(1), None);
        assert_eq!(Month::parse("0000-01").unwrap().offset(-1), None);
        assert!(Month::parse("26-01").is_err());
    }
}
