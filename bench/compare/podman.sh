# Podman adapter for bench/compare.sh (sourced inside the sandbox; see lib.sh).
# Rootful, no daemon: every command is a fresh podman process. Its own containers.conf and
# storage.conf (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF), netavark + aardvark-dns, cgroupfs,
# runc; network configs, tmp and run dirs all under $work (and /run is a tmpfs here).
sys_start() {
  local p="$work/podman"
  mkdir -p "$p/root" "$p/run" "$p/tmp" "$p/networks"
  cat >"$p/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
log_driver = "k8s-file"
cgroups = "enabled"

[network]
network_backend = "netavark"
network_config_dir = "$p/networks"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
tmp_dir = "$p/tmp"
CONF
  cat >"$p/storage.conf" <<CONF
[storage]
driver = "${COMPARE_STORAGE_PODMAN:-overlay}"
graphroot = "$p/root"
runroot = "$p/run"
CONF
  export CONTAINERS_CONF="$p/containers.conf" CONTAINERS_STORAGE_CONF="$p/storage.conf" \
    CONTAINERS_REGISTRIES_CONF=/dev/null
  cli=(podman --root "$p/root" --runroot "$p/run" --cgroup-manager cgroupfs --runtime runc)
  c info >/dev/null
}
sys_load() { c import --quiet "$1" busybox; }
# podman rm -f waits 10 s for SIGTERM by default (sleep as PID 1 ignores it); -t 0 kills
# at once, as docker rm -f does.
sys_rmf() { c rm -f -t 0 "$@"; }
sys_stop() {
  c rm -a -f -t 0 >/dev/null 2>&1 || true
}
sys_version() {
  echo "Podman $(c version --format '{{.Client.Version}}' 2>/dev/null), $(/usr/lib/podman/netavark --version 2>/dev/null), $(/usr/lib/podman/aardvark-dns --version 2>/dev/null), $(conmon --version 2>/dev/null | head -1), $(runc --version | head -1), storage $(c info --format '{{.Store.GraphDriverName}}' 2>/dev/null)"
}
sys_daemons() { echo; }
sys_helpers() { echo conmon aardvark-dns; }
# aardvark-dns listens on the network's gateway address in the host's namespace.
sys_dns() { c network inspect "$1" | jq -r '.[0].subnets[0].gateway'; }
