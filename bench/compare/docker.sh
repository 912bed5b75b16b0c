# Docker adapter for bench/compare.sh (sourced inside the sandbox; see lib.sh).
# dockerd starts its own containerd under --exec-root/--data-root; iptables rules land in
# the sandbox's network namespace; /etc/docker and /run are tmpfs here (dockerd 20.10
# writes /etc/docker/key.json), and cgroups go under a parent of our own.
sys_start() {
  mkdir -p "$work/docker/data" "$work/docker/exec"
  mount -t tmpfs tmpfs /etc/docker
  local sock="$work/docker.sock"
  dockerd --data-root "$work/docker/data" --exec-root "$work/docker/exec" -H "unix://$sock" \
    --pidfile "$work/docker.pid" --storage-driver "${COMPARE_STORAGE:-overlay2}" \
    --cgroup-parent "$CGROUP_PARENT" --log-level warn >"$work/dockerd.log" 2>&1 &
  daemon_pid=$!
  cli=(/usr/bin/docker -H "unix://$sock")
  wait_for "dockerd" c version
}
sys_load() { c import "$1" busybox; }
sys_rmf() { c rm -f "$@"; }
sys_stop() {
  local ids; ids=$(c ps -aq 2>/dev/null || true)
  # shellcheck disable=SC2086 # one id per word
  [ -z "$ids" ] || c rm -f $ids >/dev/null 2>&1 || true
  kill "$daemon_pid" 2>/dev/null || true
  local i; for ((i = 0; i < 150; i++)); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$daemon_pid" 2>/dev/null || true
}
sys_version() {
  echo "Docker $(c version --format '{{.Server.Version}}' 2>/dev/null), containerd $(containerd --version | awk '{print $3}'), $(runc --version | head -1), storage $(c info --format '{{.Driver}}' 2>/dev/null), userland-proxy on (default)"
}
sys_daemons() { echo dockerd containerd; }
sys_helpers() { echo containerd-shim containerd-shim-runc-v2 docker-proxy; }
sys_dns() { echo 127.0.0.11; } # embedded DNS, DNAT in the container's namespace to dockerd
