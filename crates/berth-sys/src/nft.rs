//! Applying nft scripts. Each script is one transaction (all or nothing).
//!
//! CONTRACT: berthd codes against `apply`.

/// Runs the script through `nft -f -` in the calling process's network namespace. On failure,
/// the error carries nft's message and nothing was applied (nft transactions are atomic).
pub fn apply(_script: &str) -> crate::Result<()> {
    todo!()
}

/// Whether `table <family> <name>` exists.
pub fn table_exists(_family: &str, _name: &str) -> crate::Result<bool> {
    todo!()
}
