//! The embedded DNS's record table: which names a container can resolve, and to what.
//!
//! Docker's rules, kept pure so every one is unit- and property-tested here; the server in
//! `berth-dns` only parses packets and calls [`Snapshot::lookup`] / [`Snapshot::reverse`].
//!
//! - A container resolves the containers that share a network with it, by container name, the
//!   first 12 characters of the ID, hostname and network aliases, case-insensitively.
//! - `name.network` resolves on that network only; the network part is compared exactly (case
//!   matters), as Docker compares network names.
//! - Names on networks the querier is not on never resolve.
//! - Link aliases (legacy `--link` on user networks) belong to one querier and win over all
//!   other names.
//! - Bare names: the querier's networks are tried in `View::networks` order and the first one
//!   that knows the name answers (Docker walks the sandbox's endpoints the same way), so a
//!   container on two shared networks answers with one address, not two.
//! - Several containers with one name (a shared alias): all their addresses, rotated on every
//!   lookup so clients spread over them.
//! - Only IPv4 records exist: a name of ours asked for AAAA, MX or any other type is `NoData`
//!   (empty NOERROR), never forwarded.
//!
//! CONTRACT (berth-dns and berthd code against these signatures; add, do not change).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// TTL of every record we answer with (Docker's 600 s).
pub const TTL: u32 = 600;

/// How many characters of a container ID resolve as a name (Docker's short ID).
pub const SHORT_ID_LEN: usize = 12;

/// One container's presence on one network (a container on two networks is two records).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub container_id: String,
    /// The container's name, with or without Docker's leading `/`.
    pub name: String,
    pub hostname: String,
    /// Network-scoped aliases (`--network-alias`, compose service names).
    pub aliases: Vec<String>,
    /// The network's name (not its ID).
    pub network: String,
    pub ipv4: Ipv4Addr,
}

/// What the querying container can see.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// Names of the querier's networks, in the order they are tried for bare names.
    pub networks: Vec<String>,
    /// The querier's own link aliases (`--link target:alias`), with the target's address.
    pub links: Vec<(String, Ipv4Addr)>,
}

/// The query type, as far as the table cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QType {
    A,
    Aaaa,
    /// ANY: answered with the A records (RFC 8482 allows any subset).
    Any,
    /// Any other type (MX, TXT, SRV, PTR asked of a plain name, ...): the numeric code.
    Other(u16),
}

/// The answer to a name lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The name is ours and has addresses of the asked type (never empty).
    Found(Vec<Ipv4Addr>),
    /// The name is ours but has no records of the asked type: answer an empty NOERROR.
    NoData,
    /// Not a name of ours for this querier: forward it upstream.
    NotOurs,
}

/// The table of records. Built at once (`new`) or changed one record at a time (`insert`,
/// `remove`), so that a container coming or going costs the same however many exist.
#[derive(Debug, Default)]
pub struct Snapshot {
    networks: HashMap<String, NetworkTable>,
    /// Advances on every multi-address answer so successive answers rotate.
    turn: AtomicUsize,
}

#[derive(Debug, Default)]
struct NetworkTable {
    /// Lower-cased name → one address per record holding the name, in insertion order
    /// (answers leave out repeats).
    names: HashMap<String, Vec<Ipv4Addr>>,
    /// Address → `name.network` of each record holding it; the first one answers.
    reverse: HashMap<Ipv4Addr, Vec<String>>,
}

impl Snapshot {
    pub fn new(records: Vec<Record>) -> Self {
        let mut snapshot = Snapshot::default();
        for record in &records {
            snapshot.insert(record);
        }
        snapshot
    }

    /// Adds one record (cost: its own names, not the table's size).
    pub fn insert(&mut self, record: &Record) {
        let table = self.networks.entry(record.network.clone()).or_default();
        for key in names_of(record) {
            table.names.entry(key).or_default().push(record.ipv4);
        }
        if let Some(target) = reverse_target(record) {
            table.reverse.entry(record.ipv4).or_default().push(target);
        }
    }

    /// Takes out a record given earlier to `insert` (or `new`); others holding the same names
    /// or address keep them.
    pub fn remove(&mut self, record: &Record) {
        let Some(table) = self.networks.get_mut(&record.network) else {
            return;
        };
        for key in names_of(record) {
            if let Some(addresses) = table.names.get_mut(&key) {
                if let Some(i) = addresses.iter().position(|a| *a == record.ipv4) {
                    addresses.remove(i);
                }
                if addresses.is_empty() {
                    table.names.remove(&key);
                }
            }
        }
        if let Some(target) = reverse_target(record) {
            if let Some(targets) = table.reverse.get_mut(&record.ipv4) {
                if let Some(i) = targets.iter().position(|t| *t == target) {
                    targets.remove(i);
                }
                if targets.is_empty() {
                    table.reverse.remove(&record.ipv4);
                }
            }
        }
        if table.names.is_empty() && table.reverse.is_empty() {
            self.networks.remove(&record.network);
        }
    }

    /// Resolves `qname` (with or without the trailing dot) for a querier with `view`.
    pub fn lookup(&self, view: &View, qname: &str, qtype: QType) -> Lookup {
        let name = qname.strip_suffix('.').unwrap_or(qname);
        if name.is_empty() {
            return Lookup::NotOurs;
        }
        let lower = name.to_ascii_lowercase();
        let linked: Vec<Ipv4Addr> = view
            .links
            .iter()
            .filter(|(alias, _)| alias.eq_ignore_ascii_case(&lower))
            .map(|(_, ip)| *ip)
            .collect();
        if !linked.is_empty() {
            return self.answer(dedup(linked), qtype);
        }
        if let Some(found) = view.networks.iter().find_map(|n| self.names(n, &lower)) {
            return self.answer(dedup(found.clone()), qtype);
        }
        // `a.b.c`: try `a.b` on network `c`, then `a` on network `b.c` (both kinds of names
        // may contain dots), longest container name first as Docker does.
        for (dot, _) in name.rmatch_indices('.') {
            let network = &name[dot + 1..];
            if dot == 0 || !view.networks.iter().any(|n| n == network) {
                continue;
            }
            if let Some(found) = self.names(network, &lower[..dot]) {
                return self.answer(dedup(found.clone()), qtype);
            }
        }
        Lookup::NotOurs
    }

    /// The PTR target (`name.network`, no trailing dot) of `ip` on the querier's networks.
    pub fn reverse(&self, view: &View, ip: Ipv4Addr) -> Option<String> {
        view.networks
            .iter()
            .find_map(|n| self.networks.get(n)?.reverse.get(&ip)?.first())
            .cloned()
    }

    fn names(&self, network: &str, lower: &str) -> Option<&Vec<Ipv4Addr>> {
        self.networks.get(network)?.names.get(lower)
    }

    fn answer(&self, mut addresses: Vec<Ipv4Addr>, qtype: QType) -> Lookup {
        match qtype {
            QType::A | QType::Any => {
                if addresses.len() > 1 {
                    let turn = self.turn.fetch_add(1, Ordering::Relaxed);
                    let len = addresses.len();
                    addresses.rotate_left(turn % len);
                }
                Lookup::Found(addresses)
            }
            QType::Aaaa | QType::Other(_) => Lookup::NoData,
        }
    }
}

/// The address a reverse name (`4.3.2.1.in-addr.arpa`, any case, trailing dot optional)
/// stands for; `None` for anything else (including partial reverse zones).
pub fn ptr_address(qname: &str) -> Option<Ipv4Addr> {
    let name = qname.strip_suffix('.').unwrap_or(qname);
    let split = name.len().checked_sub(".in-addr.arpa".len())?;
    let (octets, zone) = (name.get(..split)?, name.get(split..)?);
    if !zone.eq_ignore_ascii_case(".in-addr.arpa") {
        return None;
    }
    let mut parts = [0u8; 4];
    let mut labels = octets.split('.');
    for part in parts.iter_mut().rev() {
        let label = labels.next()?;
        let digits_only = !label.is_empty() && label.len() <= 3;
        if !digits_only || !label.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *part = label.parse().ok()?;
    }
    if labels.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(parts))
}

/// The names a record answers to on its network, lower-cased, empty ones left out.
fn names_of(record: &Record) -> Vec<String> {
    let short_id = record.container_id.get(..SHORT_ID_LEN).unwrap_or_default();
    let mut names = vec![display_name(record), short_id, &record.hostname];
    names.extend(record.aliases.iter().map(String::as_str));
    names
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// `name.network`, what a PTR query for the record's address answers (none without a name).
fn reverse_target(record: &Record) -> Option<String> {
    let name = display_name(record);
    (!name.is_empty()).then(|| format!("{name}.{}", record.network))
}

fn display_name(record: &Record) -> &str {
    record.name.strip_prefix('/').unwrap_or(&record.name)
}

fn dedup(addresses: Vec<Ipv4Addr>) -> Vec<Ipv4Addr> {
    let mut out = Vec::with_capacity(addresses.len());
    for ip in addresses {
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

#[cfg(test)]
mod tests;
