//! Command-line definition, mirroring docker's commands and flags.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::netopt::Attachment;

pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "Berth: containers with Docker-style bridge networking (a client of berthd)"
)]
pub struct Cli {
    /// Daemon socket to connect to
    #[arg(short = 'H', long, env = "BERTH_HOST", default_value = DEFAULT_HOST, global = true)]
    pub host: String,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Manage images
    #[command(subcommand)]
    Image(ImageCmd),
    /// List images
    Images(ImageLs),
    /// Import a tarball (rootfs or `docker save` archive) as an image
    Import(ImageImport),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCmd),
    /// Create and start a container
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Create a container (prints its ID)
    #[command(disable_help_flag = true)]
    Create(RunArgs),
    /// Start one or more stopped containers
    Start(Names),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// List containers
    Ps(PsArgs),
    /// Return low-level information on containers, networks or images
    Inspect(InspectArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// Block until containers stop, then print their exit codes
    Wait(Names),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Show the client and daemon versions
    Version,
    /// Display system-wide information
    Info,
}

#[derive(Debug, Args)]
pub struct Names {
    #[arg(required = true, value_name = "CONTAINER")]
    pub names: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ImageCmd {
    /// Import a tarball (rootfs or `docker save` archive) as an image
    Import(ImageImport),
    /// List images
    #[command(alias = "list")]
    Ls(ImageLs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(ImageRm),
}

#[derive(Debug, Args)]
pub struct ImageImport {
    /// Tarball to import ("-" reads standard input)
    pub file: String,
    /// Name for the image, REPOSITORY[:TAG]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImageLs {
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct ImageRm {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum NetworkCmd {
    /// Create a network
    Create(NetCreate),
    /// List networks
    #[command(alias = "list")]
    Ls(NetLs),
    /// Display detailed information on one or more networks
    Inspect(NetInspect),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(NetNames),
    /// Remove all unused networks
    Prune(NetPrune),
    /// Connect a container to a network
    Connect(NetConnect),
    /// Disconnect a container from a network
    Disconnect(NetDisconnect),
}

#[derive(Debug, Args)]
pub struct NetCreate {
    /// Driver to manage the network
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format (repeat for more subnets)
    #[arg(long)]
    pub subnet: Vec<String>,
    /// Gateway for the subnet at the same position
    #[arg(long)]
    pub gateway: Vec<String>,
    /// Allocate container IPs from a sub-range (same position as --subnet)
    #[arg(long)]
    pub ip_range: Vec<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// Enable IPv6 networking
    #[arg(long)]
    pub ipv6: bool,
    /// Driver specific options (key=value)
    #[arg(short, long = "opt")]
    pub opt: Vec<String>,
    /// Metadata on the network (key=value)
    #[arg(long)]
    pub label: Vec<String>,
    /// Create a configuration only network
    #[arg(long)]
    pub config_only: bool,
    /// The network from which to copy the configuration
    #[arg(long)]
    pub config_from: Option<String>,
    /// Auxiliary IPv4 address used by the network driver, never given to a container (name=ip)
    #[arg(long)]
    pub aux_address: Vec<String>,
    /// IP address management driver
    #[arg(long, default_value = "default")]
    pub ipam_driver: String,
    /// Set IPAM driver specific options (key=value)
    #[arg(long)]
    pub ipam_opt: Vec<String>,
    /// Create swarm routing-mesh network (refused: berth has no Swarm)
    #[arg(long)]
    pub ingress: bool,
    /// Control the network's scope
    #[arg(long)]
    pub scope: Option<String>,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct NetLs {
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Provide filter values (e.g. driver=bridge)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format the output using a Go template (`table` for a header and aligned columns)
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct NetInspect {
    /// Format the output using a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetNames {
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetPrune {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. until=24h, label=k=v)
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetConnect {
    /// IPv4 address (e.g. 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long)]
    pub alias: Vec<String>,
    /// Add link to another container (name[:alias])
    #[arg(long)]
    pub link: Vec<String>,
    /// Add a link-local address for the container
    #[arg(long)]
    pub link_local_ip: Vec<String>,
    /// Driver options for the network (e.g. com.docker.network.endpoint.ifname=NAME)
    #[arg(long)]
    pub driver_opt: Vec<String>,
    /// Default gateway priority: the endpoint with the highest one carries the default route
    #[arg(long, allow_negative_numbers = true)]
    pub gw_priority: Option<i64>,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetDisconnect {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Print help
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Connect the container to a network (repeat for more): NAME, or name=NAME[,alias=A][,ip=IP][,ip6=IP6][,mac-address=MAC][,link-local-ip=IP][,driver-opt=K=V][,gw-priority=N]; alias, link-local-ip and driver-opt repeat
    #[arg(long, visible_alias = "net", value_name = "NETWORK", value_parser = crate::netopt::parse_attachment)]
    pub network: Vec<Attachment>,
    /// IPv4 address on the first network (e.g. 172.30.100.104)
    #[arg(long)]
    pub ip: Option<Ipv4Addr>,
    /// IPv6 address on the first network (e.g. 2001:db8::33)
    #[arg(long)]
    pub ip6: Option<Ipv6Addr>,
    /// Container IPv4/IPv6 link-local addresses on the first network
    #[arg(long)]
    pub link_local_ip: Vec<IpAddr>,
    /// MAC address on the first network (e.g. 92:d0:c6:0a:29:33)
    #[arg(long)]
    pub mac_address: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
    /// Set environment variables (K=V)
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set metadata on the container (key=value)
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Add network-scoped alias for the container (on the first network)
    #[arg(long)]
    pub network_alias: Vec<String>,
    /// Publish a container's port(s) to the host: [ip:][hostPort:]containerPort[/proto]
    #[arg(short, long)]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random host ports
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub expose: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long)]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long)]
    pub add_host: Vec<String>,
    /// Add link to another container (name[:alias])
    #[arg(long)]
    pub link: Vec<String>,
    /// Sysctl options, net.* only (key=value)
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Restart policy when the container exits: no, always, unless-stopped, on-failure[:N]
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Image to run
    pub image: String,
    /// Command and arguments, passed verbatim
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short, long)]
    pub time: Option<i64>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long)]
    pub signal: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (k=v)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format the output using a Go template (`table` for a header and aligned columns)
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ObjectType {
    Container,
    Network,
    Image,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Only look for this type of object
    #[arg(long = "type", value_enum)]
    pub kind: Option<ObjectType>,
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long)]
    pub tail: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Set environment variables (K=V)
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    pub container: String,
    /// Command and arguments, passed verbatim
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub private: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}
