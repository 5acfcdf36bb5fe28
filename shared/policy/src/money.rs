//! Money as integer fen (分): 1 yuan = 100 fen.
//!
//! Arithmetic on money is checked: every operation that could leave the 64-bit range returns
//! [`MoneyOverflow`] instead of wrapping or panicking, and `Fen` has no `+`, `-`, `*` or `Sum`
//! (a sum written with them would not compile). Inputs are bounded where they enter the mesh
//! ([`crate::bounds`]), so in practice these errors mean a bug or a forged message; either way
//! the caller refuses the work with a reason instead of crashing.

use std::fmt;

#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Fen(pub i64);

/// An amount of money, or a sum or product of amounts, outside what 64-bit fen can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an amount of money is out of range (more than 64-bit fen can hold)")]
pub struct MoneyOverflow;

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// `y` yuan.
    pub fn yuan(y: i64) -> Result<Fen, MoneyOverflow> {
        y.checked_mul(100).map(Fen).ok_or(MoneyOverflow)
    }

    pub fn checked_add(self, o: Fen) -> Result<Fen, MoneyOverflow> {
        self.0.checked_add(o.0).map(Fen).ok_or(MoneyOverflow)
    }

    pub fn checked_sub(self, o: Fen) -> Result<Fen, MoneyOverflow> {
        self.0.checked_sub(o.0).map(Fen).ok_or(MoneyOverflow)
    }

    /// `self × k` (an amount per member times the members, per month times the months).
    pub fn checked_mul(self, k: i64) -> Result<Fen, MoneyOverflow> {
        self.0.checked_mul(k).map(Fen).ok_or(MoneyOverflow)
    }

    /// The sum of `amounts`, or [`MoneyOverflow`] as soon as a partial sum leaves the range.
    pub fn checked_sum<I: IntoIterator<Item = Fen>>(amounts: I) -> Result<Fen, MoneyOverflow> {
        amounts
            .into_iter()
            .try_fold(Fen::ZERO, |acc, f| acc.checked_add(f))
    }

    /// `self × permille / 1000`, rounded half up; multipliers such as 1.5 × are kept as 1500‰
    /// so that no float ever touches money.
    pub fn times_permille(self, permille: i64) -> Result<Fen, MoneyOverflow> {
        let p = i128::from(self.0) * i128::from(permille);
        i64::try_from((p + 500).div_euclid(1000))
            .map(Fen)
            .map_err(|_| MoneyOverflow)
    }

    /// Integer division rounding down, for per-capita figures.
    pub fn per(self, n: u32) -> Fen {
        if n == 0 {
            return self;
        }
        Fen(self.0.div_euclid(i64::from(n)))
    }

    /// Integer division rounding up (towards +∞), for per-capita figures under
    /// [`crate::params::Rounding`]: a fraction of a fen is never given away.
    pub fn per_up(self, n: u32) -> Fen {
        if n == 0 {
            return self;
        }
        let n = i64::from(n);
        Fen(self.0.div_euclid(n) + i64::from(self.0.rem_euclid(n) != 0))
    }

    pub fn max(self, other: Fen) -> Fen {
        Fen(self.0.max(other.0))
    }

    pub fn min(self, other: Fen) -> Fen {
        Fen(self.0.min(other.0))
    }

    pub fn clamp_non_negative(self) -> Fen {
        Fen(self.0.max(0))
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02} yuan", abs / 100, abs % 100)
    }
}

impl fmt::Debug for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fen({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiples_are_exact_in_permille() {
        assert_eq!(Fen(101_000).times_permille(1500), Ok(Fen(151_500)));
        assert_eq!(Fen(3).times_permille(1500), Ok(Fen(5))); // 4.5 rounds half up
        assert_eq!(Fen(i64::MAX).times_permille(2000), Err(MoneyOverflow));
    }

    #[test]
    fn per_capita_rounds_up_only_a_remainder() {
        assert_eq!(Fen(300_001).per_up(3), Fen(100_001));
        assert_eq!(Fen(300_000).per_up(3), Fen(100_000));
        assert_eq!(Fen(299_999).per_up(3), Fen(100_000));
        assert_eq!(Fen(-1).per_up(2), Fen(0));
        assert_eq!(Fen(7).per_up(0), Fen(7));
    }

    #[test]
    fn display_is_yuan_with_two_decimals() {
        assert_eq!(Fen(123_405).to_string(), "1234.05 yuan");
        assert_eq!(Fen(-5).to_string(), "-0.05 yuan");
        assert_eq!(Fen(i64::MIN).to_string(), "-92233720368547758.08 yuan");
    }

    /// Two members declaring 4611686018427387904 fen each (2^62): their sum is 2^63, one more
    /// than i64 holds. Unchecked, `Fen::sum` panicked in the consumer (debug) or wrapped to a
    /// negative income (release); checked, it is an error the caller turns into a refusal.
    #[test]
    fn a_sum_past_the_range_is_an_error_not_a_panic() {
        let half = Fen(4_611_686_018_427_387_904);
        assert_eq!(Fen::checked_sum([half, half]), Err(MoneyOverflow));
        assert_eq!(half.checked_add(half), Err(MoneyOverflow));
        assert_eq!(Fen(i64::MIN).checked_sub(Fen(1)), Err(MoneyOverflow));
        assert_eq!(half.checked_mul(2), Err(MoneyOverflow));
        assert_eq!(Fen::yuan(i64::MAX / 10), Err(MoneyOverflow));
        assert_eq!(
            Fen::checked_sum([Fen(1), Fen(2), Fen(3)]),
            Ok(Fen(6)),
            "in range, a sum is a sum"
        );
        assert_eq!(Fen::checked_sum([]), Ok(Fen::ZERO));
        assert_eq!(Fen::yuan(12), Ok(Fen(1200)));
    }
}
