//! The key layout under the prefix, in one place.

use std::net::Ipv4Addr;

/// Builds and parses keys under one prefix (stored without a trailing `/`).
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

/// What a key under the prefix names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyKind<'a> {
    Host(&'a str),
    Network(&'a str),
    Vni(&'a str),
    Address(&'a str, &'a str),
    Endpoint(&'a str, &'a str),
}

impl Keys {
    pub fn new(prefix: String) -> Self {
        Keys { prefix }
    }

    /// Everything we own: `<prefix>/`.
    pub fn root(&self) -> String {
        format!("{}/", self.prefix)
    }

    pub fn hosts(&self) -> String {
        format!("{}/hosts/", self.prefix)
    }

    pub fn host(&self, id: &str) -> String {
        format!("{}/hosts/{id}", self.prefix)
    }

    pub fn networks(&self) -> String {
        format!("{}/networks/", self.prefix)
    }

    pub fn network(&self, id: &str) -> String {
        format!("{}/networks/{id}", self.prefix)
    }

    pub fn vnis(&self) -> String {
        format!("{}/vni/", self.prefix)
    }

    pub fn vni(&self, vni: u32) -> String {
        format!("{}/vni/{vni}", self.prefix)
    }

    pub fn addresses(&self, net: &str) -> String {
        format!("{}/ipam/{net}/", self.prefix)
    }

    pub fn address(&self, net: &str, ip: Ipv4Addr) -> String {
        format!("{}/ipam/{net}/{ip}", self.prefix)
    }

    pub fn endpoints(&self, net: &str) -> String {
        format!("{}/endpoints/{net}/", self.prefix)
    }

    pub fn endpoint(&self, net: &str, ep: &str) -> String {
        format!("{}/endpoints/{net}/{ep}", self.prefix)
    }

    /// Classifies a key; `None` for keys this crate does not write.
    pub fn parse<'a>(&self, key: &'a str) -> Option<KeyKind<'a>> {
        let rest = key.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        let parts: Vec<&'a str> = rest.split('/').collect();
        match parts.as_slice() {
            ["hosts", id] => Some(KeyKind::Host(id)),
            ["networks", id] => Some(KeyKind::Network(id)),
            ["vni", v] => Some(KeyKind::Vni(v)),
            ["ipam", net, ip] => Some(KeyKind::Address(net, ip)),
            ["endpoints", net, ep] => Some(KeyKind::Endpoint(net, ep)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let k = Keys::new("/berth".into());
        assert_eq!(k.parse(&k.host("h1")), Some(KeyKind::Host("h1")));
        assert_eq!(k.parse(&k.network("n")), Some(KeyKind::Network("n")));
        assert_eq!(k.parse(&k.vni(4096)), Some(KeyKind::Vni("4096")));
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        assert_eq!(
            k.parse(&k.address("n", ip)),
            Some(KeyKind::Address("n", "10.0.0.2"))
        );
        assert_eq!(
            k.parse(&k.endpoint("n", "e")),
            Some(KeyKind::Endpoint("n", "e"))
        );
        assert_eq!(k.parse("/berthx/hosts/h1"), None);
        assert_eq!(k.parse("/berth/other/x"), None);
        assert!(k.endpoint("n", "e").starts_with(&k.endpoints("n")));
    }
}
