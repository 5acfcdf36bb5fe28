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
        assert!(Month::parse("26-01").is_err());
    }
}
