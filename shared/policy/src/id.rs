//! Resident identity numbers (居民身份证号码, GB 11643-1999).

use chrono::NaiveDate;
use std::fmt;

/// An 18-character resident ID number whose checksum and birth date have been checked.
///
/// `Display` and `Debug` print the masked form, so a value that slips into a log line does not
/// expose the number; [`ResidentId::as_str`] is the only way to the full number.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResidentId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be 18 characters, found {0}")]
    Length(usize),
    #[error("the first 17 characters must be digits and the last a digit or X")]
    Characters,
    #[error("the birth date in characters 7 to 14 is not a real date")]
    BirthDate,
    #[error("the check character does not match (GB 11643-1999)")]
    Checksum,
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

impl ResidentId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = raw.trim().to_ascii_uppercase();
        let n = s.chars().count();
        if n != 18 {
            return Err(IdError::Length(n));
        }
        let bytes = s.as_bytes();
        if !bytes[..17].iter().all(u8::is_ascii_digit)
            || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
        {
            return Err(IdError::Characters);
        }
        if Self::birth_date_of(&s).is_none() {
            return Err(IdError::BirthDate);
        }
        if check_char(&s[..17]) != bytes[17] as char {
            return Err(IdError::Checksum);
        }
        Ok(Self(s))
    }

    /// Builds a valid number from 17 leading digits by appending the check character; used by
    /// simulators and tests that generate people.
    pub fn from_body(body17: &str) -> Result<Self, IdError> {
        if body17.len() != 17 {
            return Err(IdError::Length(body17.len() + 1));
        }
        Self::parse(&format!("{body17}{}", check_char(body17)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form that may appear in logs, traces and public disclosure: region and check
    /// character kept, birth date and sequence hidden (`110105********123X` style).
    pub fn masked(&self) -> String {
        mask(&self.0)
    }

    #[allow(
        clippy::expect_used,
        reason = "parse() accepts only numbers with a valid birth date"
    )]
    pub fn birth_date(&self) -> NaiveDate {
        Self::birth_date_of(&self.0).expect("checked in parse")
    }

    /// Age in whole years on `on`.
    pub fn age_on(&self, on: NaiveDate) -> u32 {
        use chrono::Datelike;
        let b = self.birth_date();
        let mut age = on.year() - b.year();
        if (on.month(), on.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        age.max(0) as u32
    }

    /// The county-level region the number was issued in (first six digits).
    pub fn issuing_region(&self) -> &str {
        &self.0[..6]
    }

    fn birth_date_of(s: &str) -> Option<NaiveDate> {
        let y = s[6..10].parse().ok()?;
        let m = s[10..12].parse().ok()?;
        let d = s[12..14].parse().ok()?;
        let date = NaiveDate::from_ymd_opt(y, m, d)?;
        (y >= 1880).then_some(date)
    }
}

/// Masks any string that might be an ID number: keeps the first six and the last four
/// characters when it is long enough, otherwise hides everything.
pub fn mask(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    if chars.len() < 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}

fn check_char(body17: &str) -> char {
    let sum: u32 = body17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

impl fmt::Display for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_number_parses_and_a_lowercase_x_is_accepted() {
        // 11010519491231002X is the worked example of GB 11643-1999.
        let id = ResidentId::parse("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.issuing_region(), "110105");
    }

    #[test]
    fn a_wrong_check_character_is_refused() {
        assert_eq!(
            ResidentId::parse("110105194912310021"),
            Err(IdError::Checksum)
        );
    }

    #[test]
    fn an_impossible_birth_date_is_refused() {
        let id = ResidentId::from_body("11010519490231002");
        assert_eq!(id, Err(IdError::BirthDate));
    }

    #[test]
    fn wrong_length_and_characters_are_named() {
        assert_eq!(ResidentId::parse("1234"), Err(IdError::Length(4)));
        assert_eq!(
            ResidentId::parse("1101051949123100AX"),
            Err(IdError::Characters)
        );
    }

    #[test]
    fn display_and_debug_never_show_the_whole_number() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        assert_eq!(id.to_string(), "110105********002X");
        assert!(!format!("{id:?}").contains("19491231"));
    }

    #[test]
    fn age_counts_whole_years() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        assert_eq!(
            id.age_on(NaiveDate::from_ymd_opt(2019, 12, 30).unwrap()),
            69
        );
        assert_eq!(
            id.age_on(NaiveDate::from_ymd_opt(2019, 12, 31).unwrap()),
            70
        );
    }
}
