//! Daemon configuration, parsed from the command line.

use ipnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::path::PathBuf;

#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "berthd",
    version,
    about = "The Berth container networking daemon"
)]
pub struct DaemonConfig {
    /// Persistent state: networks, containers, images, logs.
    #[arg(long, default_value = "/var/lib/berth")]
    pub data_root: PathBuf,
    /// Runtime state: the API socket, network namespaces, shim state.
    #[arg(long, default_value = "/run/berth")]
    pub exec_root: PathBuf,
    /// Where to listen, `unix:///path/to/berth.sock`.
    #[arg(
        short = 'H',
        long = "host",
        default_value = "unix:///run/berth/berth.sock"
    )]
    pub host: String,
    /// The default bridge's address and prefix, e.g. 172.17.0.1/16.
    #[arg(long)]
    pub bip: Option<String>,
    /// Default MTU of networks' interfaces (0: the kernel's default). As with dockerd, a
    /// value of 2^32 or more is taken modulo 2^32; a negative one is refused.
    #[arg(long, default_value = "1500", value_parser = parse_default_mtu, allow_hyphen_values = true)]
    pub mtu: u32,
    /// DNS servers containers' names are forwarded to (default: the host's resolv.conf).
    #[arg(long = "dns")]
    pub dns: Vec<String>,
    /// Default search domains of containers' resolv.conf (dockerd's `--dns-search`), for
    /// containers created without `--dns-search`; `.` for none (default: the host's).
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Default resolver options of containers' resolv.conf (dockerd's `--dns-opt`), for
    /// containers created without `--dns-option` (default: the host's).
    #[arg(long = "dns-opt")]
    pub dns_opt: Vec<String>,
    /// The address `host-gateway` in `--add-host` maps to, repeatable (dockerd's
    /// `--host-gateway-ip`; default: the default bridge's gateway).
    #[arg(long = "host-gateway-ip")]
    pub host_gateway_ip: Vec<std::net::IpAddr>,
    /// Inter-container communication on the default bridge (dockerd's `--icc`): `--icc=false`
    /// makes `bridge` behave as if created with `com.docker.network.bridge.enable_icc=false`.
    #[arg(long, default_value = "true", value_parser = parse_go_bool, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub icc: bool,
    /// Masquerade egress of the default bridge (dockerd's `--ip-masq`): `--ip-masq=false` is
    /// `com.docker.network.bridge.enable_ip_masquerade=false` on `bridge`.
    #[arg(long = "ip-masq", default_value = "true", value_parser = parse_go_bool, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub ip_masq: bool,
    /// The host address of the default bridge's published ports when `-p` gives none
    /// (dockerd's `--ip`; the default bridge's `com.docker.network.bridge.host_binding_ipv4`).
    #[arg(long = "ip", default_value = "0.0.0.0", value_parser = parse_default_ip)]
    pub ip: Ipv4Addr,
    /// The sub-range of the default bridge's subnet its containers get addresses from
    /// (dockerd's `--fixed-cidr`, e.g. 172.17.1.0/24); host bits are ignored, as dockerd does.
    #[arg(long = "fixed-cidr", value_parser = parse_fixed_cidr)]
    pub fixed_cidr: Option<Ipv4Net>,
    /// Where networks created without `--subnet` get their subnets, repeatable, in order
    /// (dockerd's `--default-address-pool base=10.10.0.0/16,size=24`). Replaces the built-in
    /// pools (172.17-31.0.0/16, then 192.168.0.0/16 by /20); without `--bip`, the default
    /// bridge takes its subnet from them too.
    #[arg(long = "default-address-pool", value_parser = parse_address_pool)]
    pub default_address_pools: Vec<AddressPoolSpec>,
    /// The firewall backend (dockerd's `--firewall-backend`). Berth programs nftables only
    /// (its own table `inet berth`): `nftables` (or empty) is accepted; `iptables` is refused,
    /// since Berth cannot keep that backend's promises (the `DOCKER-USER` chain); any other
    /// value is invalid. Checked before anything is created.
    #[arg(long = "firewall-backend", default_value = "nftables", value_parser = parse_firewall_backend,
          value_name = "BACKEND")]
    pub firewall_backend: FirewallBackend,
    /// Direct routing to containers (dockerd's `--allow-direct-routing`): traffic routed to a
    /// container's address from outside the host reaches its published ports, on networks in
    /// gateway mode `nat` too (without it only `routed`, `nat-unprotected` and
    /// `trusted_host_interfaces` allow that).
    #[arg(long = "allow-direct-routing", default_value = "false", value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_name = "BOOL")]
    pub allow_direct_routing: bool,
    /// The cluster store for overlay networks, e.g. `etcd://192.0.2.10:2379[,...]`.
    #[arg(long)]
    pub cluster_store: Option<String>,
    /// This host's address on the underlay, for VXLAN and peers (must be one of its addresses).
    #[arg(long)]
    pub advertise_addr: Option<std::net::Ipv4Addr>,
    /// Seconds after which a dead host's endpoints vanish from the others.
    #[arg(long, default_value_t = 10)]
    pub cluster_ttl: u64,
    /// Path of the shim binary (default: `berth-shim` next to berthd).
    #[arg(long, hide = true)]
    pub shim: Option<PathBuf>,
}

/// `--mtu`: an integer from 0 to 2^63 - 1, applied modulo 2^32 (dockerd's behaviour).
fn parse_default_mtu(s: &str) -> Result<u32, String> {
    match s.trim().parse::<i64>() {
        Ok(v) if v >= 0 => Ok((v as u64 % (1 << 32)) as u32),
        Ok(v) => Err(format!("invalid default MTU {v}: it must not be negative")),
        Err(e) => Err(format!(
            "invalid default MTU {s:?}: {e} (expected an integer, e.g. 1500)"
        )),
    }
}

/// The firewall backends dockerd knows; Berth implements one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirewallBackend {
    Nftables,
}

impl FirewallBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            FirewallBackend::Nftables => "nftables",
        }
    }
}

/// `--firewall-backend`: dockerd accepts `iptables`, `nftables` and empty (its default) and
/// refuses anything else with "invalid firewall-backend". Berth has no iptables backend:
/// accepting `iptables` with a warning would start a daemon without the `DOCKER-USER` chain
/// its users rely on, so it is refused with a message that says why and what to do.
fn parse_firewall_backend(s: &str) -> Result<FirewallBackend, String> {
    match s.trim() {
        "" | "nftables" => Ok(FirewallBackend::Nftables),
        "iptables" => Err(
            "firewall-backend \"iptables\" is not supported: berthd programs nftables only \
             (its table inet berth; there is no DOCKER-USER chain); use --firewall-backend \
             nftables, or leave it unset"
                .to_string(),
        ),
        other => Err(format!(
            "invalid firewall-backend {other:?}: expected nftables (dockerd also knows \
             iptables, which berthd does not implement)"
        )),
    }
}

/// One `--default-address-pool`: subnets of prefix length `size` carved from `base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressPoolSpec {
    pub base: Ipv4Net,
    pub size: u8,
}

/// Go's `strconv.ParseBool`, which dockerd's boolean flags use.
fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid boolean {s:?}: expected true or false")),
    }
}

/// `--ip`: an IPv4 address (Berth publishes IPv4 ports only).
fn parse_default_ip(s: &str) -> Result<Ipv4Addr, String> {
    match s.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => Ok(a),
        Ok(std::net::IpAddr::V6(_)) => Err(format!(
            "invalid default binding address {s:?}: Berth publishes IPv4 ports only; give an \
             IPv4 address of this host, e.g. 127.0.0.1 (0.0.0.0: every address)"
        )),
        Err(_) => Err(format!(
            "invalid default binding address {s:?}: expected an IPv4 address, e.g. 127.0.0.1"
        )),
    }
}

/// A CIDR as Go's `net.ParseCIDR` takes it: host bits allowed, then masked off.
fn parse_cidr(what: &str, s: &str, example: &str) -> Result<Ipv4Net, String> {
    s.trim()
        .parse::<Ipv4Net>()
        .map(|n| n.trunc())
        .map_err(|e| format!("invalid {what} {s:?}: {e} (expected an IPv4 CIDR, e.g. {example})"))
}

fn parse_fixed_cidr(s: &str) -> Result<Ipv4Net, String> {
    parse_cidr("fixed-cidr", s, "172.17.1.0/24")
}

/// `base=CIDR,size=N` (keys in any case, as dockerd's `PoolsOpt`); `size` at least the base's
/// prefix length and at most /30 (a gateway and one container).
fn parse_address_pool(s: &str) -> Result<AddressPoolSpec, String> {
    let (mut base, mut size) = (None, None);
    for field in s.split(',') {
        let Some((key, value)) = field.split_once('=') else {
            return Err(format!(
                "invalid default address pool {s:?}: field {field:?} must be a key=value pair \
                 (expected base=10.10.0.0/16,size=24)"
            ));
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "base" => {
                base = Some(parse_cidr(
                    "default address pool base",
                    value,
                    "10.10.0.0/16",
                )?)
            }
            "size" => {
                size = Some(value.trim().parse::<u8>().map_err(|_| {
                    format!(
                        "invalid default address pool {s:?}: size {value:?} must be a prefix \
                         length, e.g. 24"
                    )
                })?)
            }
            other => {
                return Err(format!(
                    "invalid default address pool {s:?}: unexpected key {other:?} \
                     (expected base and size)"
                ))
            }
        }
    }
    let (Some(base), Some(size)) = (base, size) else {
        return Err(format!(
            "invalid default address pool {s:?}: both base and size are required, e.g. \
             base=10.10.0.0/16,size=24"
        ));
    };
    if size < base.prefix_len() || size > berth_core::ipam::MAX_PREFIX_LEN {
        return Err(format!(
            "invalid default address pool {s:?}: size /{size} must be from /{} (the base's) \
             to /{}",
            base.prefix_len(),
            berth_core::ipam::MAX_PREFIX_LEN
        ));
    }
    Ok(AddressPoolSpec { base, size })
}

impl DaemonConfig {
    /// The socket path from `-H unix://...`.
    pub fn socket_path(&self) -> anyhow::Result<PathBuf> {
        match self.host.strip_prefix("unix://") {
            Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
            _ => anyhow::bail!(
                "unsupported -H {:?}: only unix:///path/to/socket is supported",
                self.host
            ),
        }
    }

    /// `--bip` as (gateway, subnet).
    pub fn default_bridge(&self) -> anyhow::Result<Option<(std::net::Ipv4Addr, Ipv4Net)>> {
        let Some(bip) = &self.bip else {
            return Ok(None);
        };
        let net: Ipv4Net = bip.parse().map_err(|e| {
            anyhow::anyhow!("invalid --bip {bip:?}: {e} (expected e.g. 172.17.0.1/16)")
        })?;
        Ok(Some((net.addr(), net.trunc())))
    }

    /// Checks the flags that depend on each other, before anything is created: `--bip`
    /// parses, and `--fixed-cidr` lies within its subnet (dockerd refuses the default
    /// bridge's sub-pool outside its pool the same way, and does not start).
    pub fn validate(&self) -> anyhow::Result<()> {
        let bip = self.default_bridge()?;
        if let (Some((gw, subnet)), Some(fixed)) = (bip, self.fixed_cidr) {
            if !subnet.contains(&fixed) {
                anyhow::bail!(
                    "invalid --fixed-cidr {fixed}: it is not within the default bridge's subnet \
                     {subnet} (from --bip {gw}/{}); give a sub-range of {subnet}, or change --bip",
                    subnet.prefix_len()
                );
            }
        }
        Ok(())
    }

    pub fn shim_path(&self) -> PathBuf {
        if let Some(p) = &self.shim {
            return p.clone();
        }
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("berth-shim")))
            .unwrap_or_else(|| PathBuf::from("berth-shim"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn mtu(arg: &str) -> Result<u32, String> {
        DaemonConfig::try_parse_from(["berthd", "--mtu", arg])
            .map(|c| c.mtu)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn default_mtu_is_checked_like_dockerd() {
        assert_eq!(mtu("1400"), Ok(1400));
        assert_eq!(mtu("0"), Ok(0));
        assert_eq!(mtu("4294968796"), Ok(1500));
        for bad in ["-1", "abc", "9223372036854775808"] {
            let e = mtu(bad).unwrap_err();
            assert!(e.contains("invalid default MTU"), "{bad}: {e}");
        }
        assert_eq!(DaemonConfig::try_parse_from(["berthd"]).unwrap().mtu, 1500);
    }

    #[test]
    fn dns_defaults_and_host_gateway_parse_and_repeat() {
        let c = DaemonConfig::try_parse_from([
            "berthd",
            "--dns-search",
            "a.test",
            "--dns-search",
            "b.test",
            "--dns-opt",
            "ndots:2",
            "--host-gateway-ip",
            "192.0.2.1",
            "--host-gateway-ip",
            "2001:db8::1",
        ])
        .unwrap();
        assert_eq!(c.dns_search, ["a.test", "b.test"]);
        assert_eq!(c.dns_opt, ["ndots:2"]);
        assert_eq!(
            c.host_gateway_ip,
            [
                "192.0.2.1".parse::<std::net::IpAddr>().unwrap(),
                "2001:db8::1".parse().unwrap()
            ]
        );
        let e = DaemonConfig::try_parse_from(["berthd", "--host-gateway-ip", "gw"]).unwrap_err();
        assert!(e.to_string().contains("host-gateway-ip"), "{e}");
        let none = DaemonConfig::try_parse_from(["berthd"]).unwrap();
        assert!(none.dns_search.is_empty() && none.dns_opt.is_empty());
        assert!(none.host_gateway_ip.is_empty());
    }

    fn parse(args: &[&str]) -> Result<DaemonConfig, String> {
        let mut all = vec!["berthd"];
        all.extend_from_slice(args);
        DaemonConfig::try_parse_from(all).map_err(|e| e.to_string())
    }

    #[test]
    fn bridge_flags_default_as_dockerd() {
        let c = parse(&[]).unwrap();
        assert!(c.icc && c.ip_masq);
        assert_eq!(c.ip, Ipv4Addr::UNSPECIFIED);
        assert_eq!(c.fixed_cidr, None);
        assert!(c.default_address_pools.is_empty());
        c.validate().unwrap();
    }

    #[test]
    fn firewall_backend_is_nftables_or_refused_before_anything_starts() {
        assert_eq!(
            parse(&[]).unwrap().firewall_backend,
            FirewallBackend::Nftables
        );
        for ok in ["nftables", ""] {
            let c = parse(&["--firewall-backend", ok]).unwrap();
            assert_eq!(c.firewall_backend, FirewallBackend::Nftables, "{ok:?}");
        }
        for bad in ["nft", "NFTABLES", "firewalld", "ebtables"] {
            let e = parse(&["--firewall-backend", bad]).unwrap_err();
            assert!(
                e.contains("invalid firewall-backend") && e.contains(bad),
                "{bad}: {e}"
            );
        }
        let e = parse(&["--firewall-backend", "iptables"]).unwrap_err();
        assert!(
            e.contains("\"iptables\" is not supported")
                && e.contains("--firewall-backend nftables"),
            "{e}"
        );
        assert!(!e.contains("invalid firewall-backend"), "{e}");
    }

    #[test]
    fn allow_direct_routing_is_off_unless_asked() {
        assert!(!parse(&[]).unwrap().allow_direct_routing);
        assert!(
            parse(&["--allow-direct-routing"])
                .unwrap()
                .allow_direct_routing
        );
        assert!(
            parse(&["--allow-direct-routing=true"])
                .unwrap()
                .allow_direct_routing
        );
        assert!(
            !parse(&["--allow-direct-routing=false"])
                .unwrap()
                .allow_direct_routing
        );
        let e = parse(&["--allow-direct-routing=yes"]).unwrap_err();
        assert!(
            e.contains("--allow-direct-routing") && e.contains("yes"),
            "{e}"
        );
    }

    #[test]
    fn boolean_flags_take_gos_words_after_an_equals_sign() {
        for (arg, want) in [
            ("--icc=false", false),
            ("--icc=0", false),
            ("--icc=True", true),
            ("--icc", true),
        ] {
            assert_eq!(parse(&[arg]).unwrap().icc, want, "{arg}");
        }
        assert!(!parse(&["--ip-masq=false"]).unwrap().ip_masq);
        let e = parse(&["--icc=maybe"]).unwrap_err();
        assert!(e.contains("maybe") && e.contains("--icc"), "{e}");
    }

    #[test]
    fn ip_is_an_ipv4_address() {
        assert_eq!(
            parse(&["--ip", "127.0.0.1"]).unwrap().ip,
            Ipv4Addr::LOCALHOST
        );
        let e = parse(&["--ip", "::1"]).unwrap_err();
        assert!(e.contains("IPv4 ports only") && e.contains("::1"), "{e}");
        let e = parse(&["--ip", "localhost"]).unwrap_err();
        assert!(e.contains("\"localhost\"") && e.contains("--ip"), "{e}");
    }

    #[test]
    fn fixed_cidr_masks_host_bits_and_must_lie_within_bip() {
        let c = parse(&["--bip", "192.168.1.5/24", "--fixed-cidr", "192.168.1.5/25"]).unwrap();
        assert_eq!(c.fixed_cidr, Some("192.168.1.0/25".parse().unwrap()));
        c.validate().unwrap();
        let c = parse(&["--bip", "192.168.1.5/24", "--fixed-cidr", "10.0.0.0/24"]).unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("--fixed-cidr 10.0.0.0/24") && e.contains("192.168.1.0/24"),
            "{e}"
        );
        let c = parse(&["--bip", "192.168.1.5/24", "--fixed-cidr", "192.168.0.0/16"]).unwrap();
        assert!(c.validate().is_err());
        let e = parse(&["--fixed-cidr", "10.0.0/24"]).unwrap_err();
        assert!(
            e.contains("invalid fixed-cidr") && e.contains("10.0.0/24"),
            "{e}"
        );
        // No --bip: placed when the default bridge is planned (engine::default_bridge).
        parse(&["--fixed-cidr", "10.9.0.0/24"])
            .unwrap()
            .validate()
            .unwrap();
        let e = parse(&["--bip", "nope", "--fixed-cidr", "10.9.0.0/24"])
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("invalid --bip"), "{e}");
    }

    #[test]
    fn default_address_pools_parse_repeat_and_are_checked() {
        let c = parse(&[
            "--default-address-pool",
            "base=10.10.0.0/16,size=24",
            "--default-address-pool",
            "SIZE=26,Base=10.20.0.0/16",
        ])
        .unwrap();
        assert_eq!(
            c.default_address_pools,
            [
                AddressPoolSpec {
                    base: "10.10.0.0/16".parse().unwrap(),
                    size: 24
                },
                AddressPoolSpec {
                    base: "10.20.0.0/16".parse().unwrap(),
                    size: 26
                }
            ]
        );
        for (bad, says) in [
            ("base=10.10.0.0/16", "both base and size"),
            ("size=24", "both base and size"),
            ("base=10.10.0.0/16,size=x", "size \"x\""),
            ("base=10.10.0.0/16,size=8", "size /8"),
            ("base=10.10.0.0/16,size=31", "size /31"),
            ("base=10.10.0.0,size=24", "10.10.0.0"),
            (
                "base=10.10.0.0/16,size=24,scope=local",
                "unexpected key \"scope\"",
            ),
            ("10.10.0.0/16", "key=value"),
        ] {
            let e = parse(&["--default-address-pool", bad]).unwrap_err();
            assert!(
                e.contains("--default-address-pool") && e.contains(says),
                "{bad}: {e}"
            );
        }
    }
}
