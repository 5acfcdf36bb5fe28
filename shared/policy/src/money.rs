//! Money as integer fen (分): 1 yuan = 100 fen.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};

#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn yuan(y: i64) -> Fen {
        Fen(y * 100)
    }

    /// `self × permille / 1000`, rounded half up; multipliers such as 1.5 × are kept as 1500‰
    /// so that no float ever touches money.
    pub fn times_permille(self, permille: i64) -> Fen {
        let p = i128::from(self.0) * i128::from(permille);
        Fen(((p + 500).div_euclid(1000)) as i64)
    }

    /// Integer division rounding down, for per-capita figures.
    pub fn per(self, n: u32) -> Fen {
        if n == 0 {
            return self;
        }
        Fen(self.0.div_euclid(i64::from(n)))
    }

    pub fn max(self, other: Fen) -> Fen {
        Fen(self.0.max(other.0))
    }

    pub fn clamp_non_negative(self) -> Fen {
        Fen(self.0.max(0))
    }
}

impl Add for Fen {
    type Output = Fen;
    fn add(self, o: Fen) -> Fen {
        Fen(self.0 + o.0)
    }
}

impl AddAssign for Fen {
    fn add_assign(&mut self, o: Fen) {
        self.0 += o.0;
    }
}

impl Sub for Fen {
    type Output = Fen;
    fn sub(self, o: Fen) -> Fen {
        Fen(self.0 - o.0)
    }
}

impl Mul<i64> for Fen {
    type Output = Fen;
    fn mul(self, k: i64) -> Fen {
        Fen(self.0 * k)
    }
}

impl std::iter::Sum for Fen {
    fn sum<I: Iterator<Item = Fen>>(iter: I) -> Fen {
        Fen(iter.map(|f| f.0).sum())
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(
            f,
            "{sign}{}.{:02} yuan",
            self.0.abs() / 100,
            self.0.abs() % 100
        )
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
        assert_eq!(Fen(101_000).times_permille(1500), Fen(151_500));
        assert_eq!(Fen(3).times_permille(1500), Fen(5)); // 4.5 rounds half up
    }

    #[test]
    fn display_is_yuan_with_two_decimals() {
        assert_eq!(Fen(123_405).to_string(), "1234.05 yuan");
        assert_eq!(Fen(-5).to_string(), "-0.05 yuan");
    }
}
