//! Subjects under a deployment's prefix, and subject templates.
//!
//! The subjects themselves are declared once, with their payloads, in the channel catalogue
//! (`contract::channels`); templates use `{dept}`, `{source}`, `{service}` and `{step}` for the variable
//! token.

/// Does `subject` (without prefix) match `template`? A `{…}` token matches one token.
pub fn matches_template(template: &str, subject: &str) -> bool {
    let t: Vec<&str> = template.split('.').collect();
    let s: Vec<&str> = subject.split('.').collect();
    t.len() == s.len()
        && t.iter()
            .zip(&s)
            .all(|(t, s)| (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s)
}

/// Subjects with this deployment's prefix applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_end_matches('.').to_owned(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The full subject for a template without variables (or a wildcard filter).
    pub fn of(&self, subject: &str) -> String {
        if self.prefix.is_empty() {
            subject.to_owned()
        } else {
            format!("{}.{subject}", self.prefix)
        }
    }

    /// The full subject with the template's one variable token filled in.
    pub fn fill(&self, template: &str, value: &str) -> String {
        let filled = template
            .split('.')
            .map(|t| if t.starts_with('{') { value } else { t })
            .collect::<Vec<_>>()
            .join(".");
        self.of(&filled)
    }

    /// The subject without this deployment's prefix, or `None` if it does not carry it.
    pub fn strip<'a>(&self, subject: &'a str) -> Option<&'a str> {
        if self.prefix.is_empty() {
            return Some(subject);
        }
        subject.strip_prefix(&self.prefix)?.strip_prefix('.')
    }

    /// The value of the template's variable token in `subject` (e.g. the department of a push).
    pub fn token<'a>(&self, template: &str, subject: &'a str) -> Option<&'a str> {
        let bare = self.strip(subject)?;
        if !matches_template(template, bare) {
            return None;
        }
        let i = template.split('.').position(|t| t.starts_with('{'))?;
        bare.split('.').nth(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_fill_and_strip() {
        let s = Subjects::new("t42");
        let push = s.fill("referral.{dept}.push", "medical");
        assert_eq!(push, "t42.referral.medical.push");
        assert_eq!(s.strip(&push), Some("referral.medical.push"));
        assert_eq!(s.token("referral.{dept}.push", &push), Some("medical"));
        assert_eq!(s.token("referral.{dept}.feedback", &push), None);
        assert_eq!(
            Subjects::new("").of("intake.application.submitted"),
            "intake.application.submitted"
        );
    }

    #[test]
    fn templates_match_one_token_per_variable() {
        let query = "verify.source.{source}.query";
        assert!(matches_template(query, "verify.source.bank.query"));
        assert!(!matches_template(query, "verify.source.bank.x.query"));
        assert!(!matches_template(query, "verify.household.verified"));
    }
}
