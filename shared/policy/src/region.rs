//! Administrative division codes (行政区划代码).

use std::fmt;

/// A region code: 6 digits for province/city/county level, 9 for township/street, 12 for
/// village/community. Applications are filed at county level or below.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error("must be 6, 9 or 12 digits")]
    Shape,
    #[error("the province part must not be 00")]
    Province,
}

impl RegionCode {
    pub fn parse(raw: &str) -> Result<Self, RegionError> {
        let s = raw.trim();
        if !matches!(s.len(), 6 | 9 | 12) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RegionError::Shape);
        }
        if &s[..2] == "00" {
            return Err(RegionError::Province);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The county-level code this region belongs to.
    pub fn county(&self) -> RegionCode {
        RegionCode(self.0[..6].to_owned())
    }

    /// This code and each enclosing level up to the province, most specific first:
    /// village → township → county → city → province. Parameter sets are looked up in that order.
    pub fn lineage(&self) -> Vec<String> {
        let mut out = vec![self.0.clone()];
        if self.0.len() == 12 {
            out.push(self.0[..9].to_owned());
        }
        if self.0.len() >= 9 {
            out.push(self.0[..6].to_owned());
        }
        let county = &self.0[..6];
        let city = format!("{}00", &county[..4]);
        let province = format!("{}0000", &county[..2]);
        for code in [city, province] {
            if !out.contains(&code) {
                out.push(code);
            }
        }
        out
    }
}

impl TryFrom<String> for RegionCode {
    type Error = RegionError;
    fn try_from(s: String) -> Result<Self, RegionError> {
        Self::parse(&s)
    }
}

impl From<RegionCode> for String {
    fn from(r: RegionCode) -> String {
        r.0
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegionCode({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_county_code_lists_its_city_and_province() {
        let r = RegionCode::parse("410102").unwrap();
        assert_eq!(r.lineage(), vec!["410102", "410100", "410000"]);
    }

    #[test]
    fn a_village_code_lists_every_level() {
        let r = RegionCode::parse("440305001002").unwrap();
        assert_eq!(
            r.lineage(),
            vec!["440305001002", "440305001", "440305", "440300", "440000"]
        );
        assert_eq!(r.county().as_str(), "440305");
    }

    #[test]
    fn malformed_codes_are_refused() {
        assert_eq!(RegionCode::parse("12345"), Err(RegionError::Shape));
        assert_eq!(RegionCode::parse("12a456"), Err(RegionError::Shape));
        assert_eq!(RegionCode::parse("001234"), Err(RegionError::Province));
    }
}
