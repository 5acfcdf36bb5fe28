//! The one source of "now" and "today" for every service.
//!
//! Business dates (a feedback deadline, the month a stop takes effect, the day a payment run is
//! due) are days of the bureau's own calendar: `clock.timezone`, Asia/Shanghai by default. A UTC
//! date is wrong for eight hours of every day there, so no code takes the machine's UTC date;
//! it asks the service's [`Clock`], which it reaches through `Mesh::clock`.
//!
//! - [`Clock::system`]: the machine's time (production).
//! - `clock.start_at` (a setting): a clock that starts at that instant and runs on, for a
//!   rehearsal or a demo of a given day.
//! - [`Clock::starting_at`] in tests: the same, shared by every service of the test's mesh, and
//!   [`Clock::set`] / [`Clock::advance`] move it, so a test names the business date it runs on.
//!
//! A moved clock keeps running: two events made one after the other still carry increasing times.

use chrono::{DateTime, Duration, NaiveDate, TimeZone as _, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use std::sync::{Arc, RwLock};

/// `[clock]` settings.
#[derive(Debug, Clone, Deserialize)]
pub struct ClockSettings {
    /// IANA name of the bureau's time zone; business dates are its calendar days.
    pub timezone: String,
    /// RFC 3339 instant the clock starts at instead of the machine's time (rehearsals, demos);
    /// empty in production.
    #[serde(default)]
    pub start_at: String,
}

/// Now and today, in the bureau's time zone. Cheap to clone; clones share one time.
#[derive(Clone)]
pub struct Clock {
    timezone: Tz,
    /// Added to the machine's time; moved by [`Clock::set`] and [`Clock::advance`].
    offset: Arc<RwLock<Duration>>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("timezone", &self.timezone.name())
            .field("now", &self.now())
            .finish()
    }
}

impl Clock {
    /// The machine's time, read in `timezone`.
    pub fn system(timezone: Tz) -> Clock {
        Clock {
            timezone,
            offset: Arc::new(RwLock::new(Duration::zero())),
        }
    }

    /// A clock that reads `start` now and runs on from there.
    pub fn starting_at(start: DateTime<Utc>, timezone: Tz) -> Clock {
        let clock = Clock::system(timezone);
        clock.set(start);
        clock
    }

    /// A clock running from `hour`:00 local time on the bureau's `date` (tests).
    pub fn on_local_date(date: NaiveDate, hour: u32, timezone: Tz) -> Clock {
        Clock::starting_at(local_instant(date, hour, timezone), timezone)
    }

    /// The clock the settings ask for.
    pub fn from_settings(settings: &ClockSettings) -> anyhow::Result<Clock> {
        let timezone = parse_timezone(&settings.timezone)?;
        let start = settings.start_at.trim();
        if start.is_empty() {
            return Ok(Clock::system(timezone));
        }
        let start = DateTime::parse_from_rfc3339(start).map_err(|e| {
            anyhow::anyhow!(
                "clock.start_at must be an RFC 3339 instant such as 2026-11-16T09:00:00+08:00: {e}"
            )
        })?;
        Ok(Clock::starting_at(start.with_timezone(&Utc), timezone))
    }

    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        machine_now() + self.offset()
    }

    /// The bureau's calendar day now.
    pub fn today(&self) -> NaiveDate {
        self.now().with_timezone(&self.timezone).date_naive()
    }

    /// The bureau's calendar day of `at`.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.timezone).date_naive()
    }

    /// The first instant of the bureau's calendar day `date`.
    pub fn start_of(&self, date: NaiveDate) -> DateTime<Utc> {
        local_instant(date, 0, self.timezone)
    }

    /// From now on the clock reads `at`, and runs on from there.
    pub fn set(&self, at: DateTime<Utc>) {
        let offset = at - machine_now();
        match self.offset.write() {
            Ok(mut o) => *o = offset,
            Err(poisoned) => *poisoned.into_inner() = offset,
        }
    }

    /// Moves the clock on (or back, for a negative `by`).
    pub fn advance(&self, by: Duration) {
        match self.offset.write() {
            Ok(mut o) => *o += by,
            Err(poisoned) => *poisoned.into_inner() += by,
        }
    }

    /// Sets the clock to `hour`:00 local time on the bureau's `date`.
    pub fn set_local_date(&self, date: NaiveDate, hour: u32) {
        self.set(local_instant(date, hour, self.timezone));
    }

    fn offset(&self) -> Duration {
        match self.offset.read() {
            Ok(o) => *o,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

/// The machine's time: the one wall-clock read of the mesh, which every clock adds its offset to
/// (and [`crate::Envelope::new`] reads, for a party outside the mesh without a clock).
pub(crate) fn machine_now() -> DateTime<Utc> {
    Utc::now()
}

/// The time zone named `name` (IANA), or why not.
pub fn parse_timezone(name: &str) -> anyhow::Result<Tz> {
    name.parse::<Tz>().map_err(|_| {
        anyhow::anyhow!("clock.timezone {name:?} is not an IANA time zone such as Asia/Shanghai")
    })
}

/// `hour`:00 on `date` in `timezone`, as an instant (the earliest, should the hour repeat).
fn local_instant(date: NaiveDate, hour: u32, timezone: Tz) -> DateTime<Utc> {
    let naive = date.and_hms_opt(hour.min(23), 0, 0).unwrap_or_default();
    match timezone.from_local_datetime(&naive).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // A local hour skipped by a clock change: the same wall time read as UTC, moved on.
        None => naive.and_utc(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn today_is_the_bureaus_calendar_day_not_utcs() {
        // 2026-11-30 20:00 UTC is already 1 December in Beijing.
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 20, 0, 0).unwrap();
        let clock = Clock::starting_at(at, chrono_tz::Asia::Shanghai);
        assert_eq!(clock.today(), date("2026-12-01"));
        let utc = Clock::starting_at(at, chrono_tz::UTC);
        assert_eq!(utc.today(), date("2026-11-30"));
    }

    #[test]
    fn a_set_clock_runs_on_and_moves_when_told() {
        let clock = Clock::on_local_date(date("2026-01-31"), 9, chrono_tz::Asia::Shanghai);
        let first = clock.now();
        let second = clock.now();
        assert!(second >= first);
        assert_eq!(clock.today(), date("2026-01-31"));
        clock.advance(Duration::days(1));
        assert_eq!(clock.today(), date("2026-02-01"));
        let shared = clock.clone();
        shared.set_local_date(date("2028-02-29"), 23);
        assert_eq!(clock.today(), date("2028-02-29"));
    }

    #[test]
    fn settings_name_the_zone_and_an_optional_start() {
        let clock = Clock::from_settings(&ClockSettings {
            timezone: "Asia/Shanghai".into(),
            start_at: "2026-11-16T00:30:00+08:00".into(),
        })
        .unwrap();
        assert_eq!(clock.today(), date("2026-11-16"));
        let e = Clock::from_settings(&ClockSettings {
            timezone: "Beijing".into(),
            start_at: String::new(),
        })
        .unwrap_err();
        assert!(e.to_string().contains("IANA"), "{e}");
        let e = Clock::from_settings(&ClockSettings {
            timezone: "Asia/Shanghai".into(),
            start_at: "16/11/2026".into(),
        })
        .unwrap_err();
        assert!(e.to_string().contains("RFC 3339"), "{e}");
    }
}
