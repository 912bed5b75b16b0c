//! IDs and names as validated newtypes.
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change):

use std::fmt;

/// A 64-hex-digit object ID (containers, networks, endpoints, execs), as Docker's.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectId(String);

impl ObjectId {
    /// A fresh random ID.
    pub fn generate() -> Self {
        todo!()
    }
    /// The first 12 hex digits.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ObjectId {
    type Error = NameError;
    fn try_from(_s: String) -> Result<Self, NameError> {
        todo!()
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
/// arrive with one leading `/`, which is stripped), at most 128 characters... (see impl).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    /// A generated name in Docker's style, `adjective_surname`.
    pub fn generate() -> Self {
        todo!()
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Name {
    type Error = NameError;
    fn try_from(_s: String) -> Result<Self, NameError> {
        todo!()
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
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IfName(String);
impl IfName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for IfName {
    type Error = NameError;
    fn try_from(_s: String) -> Result<Self, NameError> {
        todo!()
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
