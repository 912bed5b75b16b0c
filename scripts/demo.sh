#!/usr/bin/env bash
# Berth demo for a fresh Debian 12 machine, as root. Builds Berth, then inside a
# throwaway sandbox (its own network, mount and pid namespaces, plus an "internet"
# namespace with a web server) starts berthd, imports a busybox image, and shows two
# containers on a user network reaching each other and the internet. Everything it
# starts is killed by PID on exit; the host's own namespaces are never touched.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
bin=${BERTH_BIN_DIR:-$repo/target/debug}

say() { printf '\n== %s\n' "$*"; }

[[ $(id -u) -eq 0 ]] || { echo "run as root: namespaces, mounts and nftables need it" >&2; exit 1; }

# --- prerequisites -------------------------------------------------------------------
packages=(build-essential pkg-config protobuf-compiler nftables iproute2 util-linux
    busybox-static curl ca-certificates)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if ! command -v cargo >/dev/null 2>&1; then
    if [[ ! -f "$HOME/.cargo/env" ]]; then
        say "installing Rust (rustup, stable)"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    fi
    # shellcheck disable=SC1091
    source "$HOME/.cargo/env"
fi

say "building (cargo build --workspace --bins)"
cargo build --workspace --bins

# --- sandbox ---------------------------------------------------------------------------
work=$(mktemp -d /tmp/berth-demo.XXXXXX)
holder_pid="" init_pid="" inet_pid="" daemon_pid=""

cleanup() {
    local rc=$?
    set +e
    if ((rc != 0)) && [[ -s $work/berthd.log ]]; then
        echo "--- last lines of berthd's log"
        tail -n 40 "$work/berthd.log"
    fi
    # pid 1 of the sandbox: the kernel kills everything in its pid namespace with it
    # (berthd, shims, containers); the mount and network namespaces then go away.
    [[ -n $init_pid ]] && kill -9 "$init_pid" 2>/dev/null
    [[ -n $daemon_pid ]] && wait "$daemon_pid" 2>/dev/null
    [[ -n $holder_pid ]] && wait "$holder_pid" 2>/dev/null
    [[ -n $inet_pid ]] && { kill -9 "$inet_pid" 2>/dev/null; wait "$inet_pid" 2>/dev/null; }
    rm -rf "$work"
    ((rc == 0)) && say "cleaned up: sandbox processes, namespaces and $work are gone"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/data" "$work/exec" "$work/www/cgi-bin"
sock=$work/exec/berth.sock

say "creating the sandbox host and its internet (203.0.113.0/24)"
# The sandbox host. berth-sandbox-init (built above) is pid 1 there and reaps orphans.
# unshare's --kill-child also ends the sandbox if this script dies.
unshare --net --mount --pid --fork --kill-child --propagation private --mount-proc \
    "$bin/berth-sandbox-init" 2>/dev/null &
holder_pid=$!
for _ in $(seq 100); do
    init_pid=$(awk '{print $1}' "/proc/$holder_pid/task/$holder_pid/children" 2>/dev/null || true)
    [[ -n $init_pid && $(cat "/proc/$init_pid/comm" 2>/dev/null) == berth-sandbox-i ]] && break
    init_pid="" && sleep 0.05
done
[[ -n $init_pid ]] || { echo "the sandbox did not start" >&2; exit 1; }

# The internet: a namespace whose only process is a web server that tells you who you are.
cat >"$work/www/cgi-bin/whoami" <<'CGI'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nhello from the internet, you are %s\n' "$REMOTE_ADDR"
CGI
chmod +x "$work/www/cgi-bin/whoami"
unshare --net busybox httpd -f -p 0.0.0.0:80 -h "$work/www" &
inet_pid=$!
for _ in $(seq 100); do
    [[ $(readlink "/proc/$inet_pid/ns/net") != "$(readlink /proc/self/ns/net)" ]] && break
    sleep 0.05
done

in_sandbox() { nsenter -t "$init_pid" --net --mount --pid -- "$@"; }
in_internet() { nsenter --net="/proc/$inet_pid/ns/net" -- "$@"; }
berth() { in_sandbox "$bin/berth" -H "unix://$sock" "$@"; }

in_sandbox sh -c "mount -t tmpfs berth-data '$work/data' && mount -t tmpfs berth-exec '$work/exec' &&
    ip link set lo up"
in_internet ip link set lo up
in_internet ip link add eth0 type veth peer name uplink netns "$init_pid"
in_internet ip addr add 203.0.113.1/24 dev eth0
in_internet ip link set eth0 up
in_sandbox ip addr add 203.0.113.2/24 dev uplink
in_sandbox ip link set uplink up
in_sandbox ip route add default via 203.0.113.1
in_sandbox ip -br addr

say "starting berthd (log: $work/berthd.log)"
in_sandbox "$bin/berthd" --data-root "$work/data" --exec-root "$work/exec" -H "unix://$sock" \
    >"$work/berthd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 200); do
    in_sandbox curl -sf --unix-socket "$sock" http://berth/_ping >/dev/null 2>&1 && break
    kill -0 "$daemon_pid" 2>/dev/null || { echo "berthd exited" >&2; exit 1; }
    sleep 0.05
done
berth version || true

say "importing a busybox image"
scripts/busybox-image.sh "$work/busybox.tar"
berth image import "$work/busybox.tar" busybox

say "berth network create demo"
berth network create demo
say "berth run: web (busybox httpd) and client, both on demo"
berth run -d --name web --network demo -p 8080:80 busybox \
    sh -c 'mkdir -p /www && echo "hello from web" >/www/index.html && exec httpd -f -p 80 -h /www'
berth run -d --name client --network demo busybox sleep 1d
berth ps
web_ip=$(berth inspect -f '{{.NetworkSettings.Networks.demo.IPAddress}}' web)

say "client pings web ($web_ip)"
berth exec client ping -c 2 "$web_ip"
say "client fetches http://web/ by name (embedded DNS at 127.0.0.11)"
berth exec client nslookup web
berth exec client sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 web 80"
say "web's published port 8080 (kernel DNAT, no proxy): from the sandbox host, then from the internet"
in_sandbox sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 127.0.0.1 8080 | tail -1"
in_internet sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 203.0.113.2 8080 | tail -1"
say "client reaches the internet (203.0.113.1), NAT'd to the sandbox host's 203.0.113.2"
berth exec client ping -c 1 203.0.113.1
berth exec client sh -c "printf 'GET /cgi-bin/whoami HTTP/1.0\r\n\r\n' | nc -w 3 203.0.113.1 80"

say "berth network inspect demo"
berth network inspect demo

say "removing the containers and the network"
berth rm -f web client
berth network rm demo
berth network ls
