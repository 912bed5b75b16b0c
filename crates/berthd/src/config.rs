//! Daemon configuration, parsed from the command line.

use ipnet::Ipv4Net;
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
}
