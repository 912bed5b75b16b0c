//! IDs and names as validated newtypes.
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change):

use std::fmt;

mod words;

/// The pattern names must match, quoted in every error so the user knows what is allowed.
pub const NAME_PATTERN: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]";
/// Docker sets no short limit on names; 128 keeps them usable as file and DNS labels' sources.
pub const NAME_MAX_LEN: usize = 128;
/// `IFNAMSIZ` (16) minus the terminating NUL.
pub const IFNAME_MAX_LEN: usize = 15;

const ID_LEN: usize = 64;
const SHORT_ID_LEN: usize = 12;
/// Bounds the redraw loop in `ObjectId::generate`; a redraw is needed with p = (10/16)^12.
const ID_ATTEMPTS: usize = 16;

/// A 64-hex-digit object ID (containers, networks, endpoints, execs), as Docker's.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectId(String);

impl ObjectId {
    /// A fresh random ID.
    pub fn generate() -> Self {
        let mut id = random_hex();
        // As Docker: a short ID made of digits only would read as a number (and be
        // ambiguous with numeric arguments), so draw again.
        for _ in 0..ID_ATTEMPTS {
            if !id[..SHORT_ID_LEN].bytes().all(|b| b.is_ascii_digit()) {
                break;
            }
            id = random_hex();
        }
        ObjectId(id)
    }
    /// The first 12 hex digits.
    pub fn short(&self) -> &str {
        &self.0[..SHORT_ID_LEN]
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn random_hex() -> String {
    let bytes: [u8; ID_LEN / 2] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TryFrom<String> for ObjectId {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        let valid = s.len() == ID_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if valid {
            Ok(ObjectId(s))
        } else {
            Err(NameError::Invalid(format!(
                "invalid object ID {s:?}: expected exactly {ID_LEN} lowercase hex digits [0-9a-f]"
            )))
        }
    }
}
impl TryFrom<&str> for ObjectId {
    type Error = NameError;
    fn try_from(s: &str) -> Result<Self, NameError> {
        ObjectId::try_from(s.to_string())
    }
}
impl From<ObjectId> for String {
    fn from(v: ObjectId) -> String {
        v.0
    }
}
impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A container or network name: Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (container names may
/// arrive with one leading `/`, which is stripped), at most [`NAME_MAX_LEN`] characters.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    /// A generated name in Docker's style, `adjective_surname`.
    pub fn generate() -> Self {
        let adjective = words::ADJECTIVES[rand::random_range(0..words::ADJECTIVES.len())];
        let surname = words::SURNAMES[rand::random_range(0..words::SURNAMES.len())];
        Name(format!("{adjective}_{surname}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Name {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        let name = s.strip_prefix('/').unwrap_or(&s);
        if name.is_empty() {
            return Err(NameError::Invalid(format!(
                "invalid name {s:?}: a name must not be empty; use {NAME_PATTERN}*"
            )));
        }
        if name.len() > NAME_MAX_LEN {
            return Err(NameError::Invalid(format!(
                "invalid name {s:?}: {} characters, at most {NAME_MAX_LEN} are allowed",
                name.len()
            )));
        }
        let mut bytes = name.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
        let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !(first_ok && rest_ok) {
            return Err(NameError::Invalid(format!(
                "invalid name {s:?}: only {NAME_PATTERN} are allowed"
            )));
        }
        Ok(Name(name.to_string()))
    }
}
impl TryFrom<&str> for Name {
    type Error = NameError;
    fn try_from(s: &str) -> Result<Self, NameError> {
        Name::try_from(s.to_string())
    }
}
impl From<Name> for String {
    fn from(v: Name) -> String {
        v.0
    }
}
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Linux interface name: 1..=15 bytes, no `/`, no whitespace, not `.` or `..`.
/// (Also no `:` or NUL, which the kernel's `dev_valid_name` rejects as well.)
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct IfName(String);
impl IfName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for IfName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        let problem = if s.is_empty() || s.len() > IFNAME_MAX_LEN {
            Some(format!(
                "{} bytes, 1 to {IFNAME_MAX_LEN} are allowed",
                s.len()
            ))
        } else if s == "." || s == ".." {
            Some("\".\" and \"..\" are not allowed".to_string())
        } else if s
            .chars()
            .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace())
        {
            Some("'/', ':', NUL and whitespace are not allowed".to_string())
        } else {
            None
        };
        match problem {
            None => Ok(IfName(s)),
            Some(why) => Err(NameError::Invalid(format!(
                "invalid interface name {s:?}: {why}"
            ))),
        }
    }
}
impl TryFrom<&str> for IfName {
    type Error = NameError;
    fn try_from(s: &str) -> Result<Self, NameError> {
        IfName::try_from(s.to_string())
    }
}
impl From<IfName> for String {
    fn from(v: IfName) -> String {
        v.0
    }
}
impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// Message says which value and what is allowed, e.g.
    /// `invalid container name "a b": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`.
    #[error("{0}")]
    Invalid(String),
}

#[cfg(test)]
mod tests;
