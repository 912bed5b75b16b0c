//! sysctls of the calling thread's network namespace.

/// Writes `value` to `/proc/sys/<key with dots as slashes>`, e.g. `net.ipv4.ip_forward`.
pub fn set(_key: &str, _value: &str) -> crate::Result<()> {
    todo!()
}

pub fn get(_key: &str) -> crate::Result<String> {
    todo!()
}
