//! The ranges of what enters the mesh: every amount, count and list of an HTTP body or a
//! message is checked against these before any work is done with it, so that no sum of money
//! can leave the 64-bit range ([`crate::money`]) and no request makes the mesh do unbounded
//! work. The numbers are settings (`bounds.*`, defaults in the mesh's configuration), the same
//! for every service, so that what one service accepts the next one does too.
//!
//! | setting | what it bounds |
//! |---|---|
//! | `bounds.max_amount_fen` | every single amount: a member's income, assets, pension base, employment costs or rigid spending; a verified figure; a benefit; an emergency stage or total; a bill and its parts; a grant; an instruction |
//! | `bounds.max_members` | members of one household (application, report, determination) |
//! | `bounds.max_stages` | stages of one emergency grant |
//! | `bounds.max_stage_days` | days after the grant the last stage may fall on |
//!
//! With the defaults (10^11 fen, 30 members, 12 stages) the largest sum the mesh makes of them,
//! a household's or a grant's, is below 4 × 10^12 fen, far inside 64 bits.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// The largest amount any one field may carry, in fen.
    pub max_amount_fen: i64,
    /// The most members one household may list.
    pub max_members: usize,
    /// The most stages one emergency grant may pay in.
    pub max_stages: usize,
    /// The latest day, counted from the grant, that an emergency stage may be paid on.
    pub max_stage_days: u32,
}

impl Bounds {
    /// Checks what each setting alone cannot: every bound at least 1, and the largest sum
    /// the mesh makes of bounded amounts within 64-bit fen.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_amount_fen < 1 || self.max_members < 1 || self.max_stages < 1 {
            return Err(
                "bounds.max_amount_fen, bounds.max_members and bounds.max_stages must be at least 1"
                    .into(),
            );
        }
        let widest = self.max_members.max(self.max_stages);
        let widest = i64::try_from(widest).map_err(|_| "bounds are too large".to_owned())?;
        // A household's benefit is a gap times its members plus an add-on per member: leave
        // room for a few such terms.
        if self
            .max_amount_fen
            .checked_mul(widest.saturating_mul(4))
            .is_none()
        {
            return Err(format!(
                "bounds.max_amount_fen ({}) × bounds.max_members/max_stages ({widest}) must stay within 64-bit fen",
                self.max_amount_fen
            ));
        }
        Ok(())
    }

    /// The rule of an amount: `must be 0 to <max> fen`.
    pub fn amount_rule(&self) -> String {
        format!("must be 0 to {} fen", self.max_amount_fen)
    }

    /// An amount of 0 to `max_amount_fen`; the rule when it is not.
    pub fn amount(&self, fen: i64) -> Result<(), String> {
        if (0..=self.max_amount_fen).contains(&fen) {
            Ok(())
        } else {
            Err(self.amount_rule())
        }
    }

    /// An amount of 1 to `max_amount_fen` (a payment, a stage, a bill).
    pub fn positive_amount(&self, fen: i64) -> Result<(), String> {
        if (1..=self.max_amount_fen).contains(&fen) {
            Ok(())
        } else {
            Err(format!("must be 1 to {} fen", self.max_amount_fen))
        }
    }

    /// 1 to `max_members` members.
    pub fn members(&self, n: usize) -> Result<(), String> {
        if (1..=self.max_members).contains(&n) {
            Ok(())
        } else {
            Err(format!(
                "at least 1 and at most {} members",
                self.max_members
            ))
        }
    }

    /// 1 to `max_stages` stages.
    pub fn stages(&self, n: usize) -> Result<(), String> {
        if (1..=self.max_stages).contains(&n) {
            Ok(())
        } else {
            Err(format!("at least 1 and at most {} stages", self.max_stages))
        }
    }

    /// A stage paid 0 to `max_stage_days` days after the grant.
    pub fn stage_days(&self, days: u32) -> Result<(), String> {
        if days <= self.max_stage_days {
            Ok(())
        } else {
            Err(format!("must be 0 to {} days", self.max_stage_days))
        }
    }
}

/// `field: rule` when `check` failed: how a message's problem is named in its dead letter.
pub fn at(field: impl std::fmt::Display, check: Result<(), String>) -> Result<(), String> {
    check.map_err(|rule| format!("{field}: {rule}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> Bounds {
        Bounds {
            max_amount_fen: 100_000_000_000,
            max_members: 30,
            max_stages: 12,
            max_stage_days: 366,
        }
    }

    #[test]
    fn amounts_counts_and_days_are_checked_inclusively() {
        let b = bounds();
        assert!(b.amount(0).is_ok() && b.amount(100_000_000_000).is_ok());
        assert_eq!(
            b.amount(100_000_000_001),
            Err("must be 0 to 100000000000 fen".into())
        );
        assert!(b.amount(-1).is_err());
        assert!(b.positive_amount(0).is_err() && b.positive_amount(1).is_ok());
        assert!(b.members(0).is_err() && b.members(30).is_ok() && b.members(31).is_err());
        assert!(b.stages(12).is_ok() && b.stages(13).is_err());
        assert!(b.stage_days(366).is_ok() && b.stage_days(367).is_err());
        assert_eq!(
            at("members[1].assets_fen", b.amount(-5)),
            Err("members[1].assets_fen: must be 0 to 100000000000 fen".into())
        );
    }

    #[test]
    fn bounds_whose_sums_could_overflow_are_refused() {
        bounds().validate().unwrap();
        let wide = Bounds {
            max_amount_fen: i64::MAX / 2,
            ..bounds()
        };
        assert!(wide.validate().is_err());
        let none = Bounds {
            max_members: 0,
            ..bounds()
        };
        assert!(none.validate().is_err());
    }
}
