//! A list filter's value as Docker's `filters.Args.Match` uses it: equal to the field, or a
//! regular expression found in it. Shared by the container and network lists.

use regex::Regex;

pub(super) struct Pattern {
    text: String,
    re: Option<Regex>,
}

impl Pattern {
    /// As Docker: a value that is not a valid expression only matches a field equal to it.
    pub fn new(text: &str) -> Self {
        Pattern {
            text: text.to_string(),
            re: Regex::new(text).ok(),
        }
    }

    /// A value that must be a valid expression (the error says why it is not).
    pub fn strict(text: &str) -> Result<Self, regex::Error> {
        Ok(Pattern {
            text: text.to_string(),
            re: Some(Regex::new(text)?),
        })
    }

    pub fn matches(&self, field: &str) -> bool {
        self.text == field || self.re.as_ref().is_some_and(|r| r.is_match(field))
    }
}
