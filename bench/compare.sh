#!/usr/bin/env bash
# Berth beside Docker and Podman (issue 6): the same operations on the same busybox image,
# each system alone in its own throwaway sandbox (new network, mount and pid namespaces,
# tmpfs state), one after the other: CLI timings, embedded DNS (dnsperf, a new name
# resolving), iperf3 through published ports, memory, attach as containers accumulate.
# Writes bench/results/<date>-<host>-compare.md and, beside it, -compare-attach.svg.
#
#   bench/compare.sh [--install] [--reps N≤20, 10] [--containers N≤200, 100]
#                    [--berth-containers N≤1000] [--adds N≤200, 100]
#                    [--systems "berth docker podman"] [--phases "ops dns tput scale"]
#                    [--no-build] [--out FILE] [--raw DIR]
#
# --berth-containers: Berth alone continues its scale loop to N (reported per 100).
# --adds: containers run while another one waits for each new name to resolve.
# --raw DIR: also copy the per-system result files (and error logs) to DIR.
#
# --install: apt-get install -y docker.io podman netavark aardvark-dns (Debian 12), with
# service starts denied by policy-rc.d. Without it, a missing system is skipped. No
# system service is ever enabled or started outside the sandboxes; root-namespace links,
# netns, nftables and iptables are compared before and after.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
install=0 reps=10 containers=100 systems="berth docker podman" build=1 out=""
berth_containers=0 adds=100 phases="ops dns tput scale" raw=""
while [ $# -gt 0 ]; do
  case "$1" in
    --install) install=1 ;;
    --reps) reps=$2; shift ;;
    --containers) containers=$2; shift ;;
    --berth-containers) berth_containers=$2; shift ;;
    --adds) adds=$2; shift ;;
    --phases) phases=$2; shift ;;
    --systems) systems=$2; shift ;;
    --no-build) build=0 ;;
    --out) out=$2; shift ;;
    --raw) raw=$2; shift ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
# Bounded loops.
[ "$reps" -ge 1 ] && [ "$reps" -le 20 ] || { echo "--reps must be 1..20" >&2; exit 2; }
[ "$containers" -ge 0 ] && [ "$containers" -le 200 ] || { echo "--containers must be 0..200" >&2; exit 2; }
[ "$berth_containers" -ge 0 ] && [ "$berth_containers" -le 1000 ] || { echo "--berth-containers must be 0..1000" >&2; exit 2; }
[ "$adds" -ge 1 ] && [ "$adds" -le 200 ] || { echo "--adds must be 1..200" >&2; exit 2; }
for p in $phases; do
  case "$p" in ops | dns | tput | scale) ;; *) echo "unknown phase $p (ops dns tput scale)" >&2; exit 2 ;; esac
done
[ "$(id -u)" = 0 ] || { echo "run as root (it creates namespaces)" >&2; exit 1; }
command -v nft >/dev/null && [ -x /bin/busybox ] || {
  echo "needs nftables and busybox-static: apt-get install -y nftables busybox-static" >&2; exit 1; }
for t in iperf3 dnsperf jq nsenter; do
  command -v "$t" >/dev/null || { echo "needs $t: apt-get install -y iperf3 dnsperf jq util-linux" >&2; exit 1; }
done

daemon_names="dockerd containerd containerd-shim containerd-shim-runc-v2 docker-proxy podman conmon aardvark-dns netavark"
daemon_pids() { # pids (root namespace view) of any comparison-system process
  local p comm
  for p in /proc/[0-9]*; do
    comm=$(cat "$p/comm" 2>/dev/null) || continue
    case " $daemon_names " in *" $comm "*) echo "${p#/proc/} $comm" ;; esac
  done
}

# ---- optional install ----
install_notes=""
if [ "$install" = 1 ]; then
  want=() 
  for pkg in docker.io podman netavark aardvark-dns; do
    policy=$(apt-cache policy "$pkg" 2>/dev/null || true)
    if grep -q 'Candidate: [0-9]' <<<"$policy"; then want+=("$pkg")
    else echo "package $pkg has no install candidate: skipped" >&2; install_notes+="$pkg unavailable; "; fi
  done
  before=$(daemon_pids)
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    # Deny every service start by maintainer scripts for the duration of the install.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  rc=0
  [ "${#want[@]}" -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y "${want[@]}" >&2 || rc=$?
  [ "$made_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
  # Anything a postinst started anyway is stopped by pid and reported.
  while read -r pid comm; do
    [ -n "$pid" ] || continue
    grep -q "^$pid " <<<"$before" && continue
    echo "postinst left $comm (pid $pid) running in the root namespace: killing it" >&2
    kill "$pid" 2>/dev/null || true; install_notes+="killed $comm pid $pid after install; "
  done <<<"$(daemon_pids)"
  [ "$rc" = 0 ] || { echo "apt-get install failed ($rc)" >&2; install_notes+="apt-get failed ($rc); "; }
fi

# ---- root-namespace state, before ----
snapshot() { # DIR
  mkdir -p "$1"
  ip -o link | sed 's/ qlen [0-9]*//' >"$1/links"
  ip netns list >"$1/netns" 2>&1 || true
  nft list ruleset >"$1/nft" 2>&1 || true
  if command -v iptables-save >/dev/null; then iptables-save 2>&1 | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//' >"$1/iptables" || true
  else echo "no iptables" >"$1/iptables"; fi
  daemon_pids | awk '{print $2}' | sort >"$1/procs"
}
tmp=$(mktemp -d /tmp/berth-compare.XXXXXX)
res="$tmp/res"; mkdir -p "$res"
child=""
# Interrupted: end the running sandbox (by its timeout's pid: the pid namespace takes the
# rest), then the usual cgroup cleanup and the removal of $tmp still happen.
trap 'rm -rf "$tmp"' EXIT
trap '[ -z "$child" ] || kill "$child" 2>/dev/null || true; interrupted=1' INT TERM
interrupted=0
snapshot "$tmp/before"

cgroup_parent=berth-compare-docker
cg_new=()  # cgroup parents that did not exist before and are removed afterwards
for cg in "$cgroup_parent" libpod_parent; do
  ls -d /sys/fs/cgroup/*/"$cg" >/dev/null 2>&1 || cg_new+=("$cg")
done

# ---- build and image ----
if [ "$build" = 1 ]; then (cd "$here" && cargo build --release --bins -q); fi
"$here/scripts/busybox-image.sh" "$tmp/busybox.tar" >/dev/null

# ---- one sandbox per system ----
missing() { local t; for t in "$@"; do [ -x "$t" ] || command -v "$t" >/dev/null || { echo "$t"; return; }; done; }
for sys in $systems; do
  case "$sys" in
    berth) m=$(missing "${CARGO_TARGET_DIR:-$here/target}/release/berthd" "${CARGO_TARGET_DIR:-$here/target}/release/berth") ;;
    docker) m=$(missing dockerd /usr/bin/docker containerd runc) ;;
    podman) m=$(missing podman /usr/lib/podman/netavark /usr/lib/podman/aardvark-dns conmon runc) ;;
    *) echo "unknown system $sys" >&2; exit 2 ;;
  esac
  if [ -n "$m" ]; then
    echo "$sys: skipped, $m not installed (bench/compare.sh --install)" | tee "$res/$sys.skip" >&2
    continue
  fi
  echo "== $sys ==" >&2
  rc=0
  [ "$interrupted" = 0 ] || break
  COMPARE_RES=$res COMPARE_WORK_PARENT=$tmp COMPARE_REPS=$reps COMPARE_CONTAINERS=$containers COMPARE_TAR=$tmp/busybox.tar \
    COMPARE_BERTH_CONTAINERS=$berth_containers COMPARE_ADDS=$adds COMPARE_PHASES=$phases \
    BERTH_BIN=${CARGO_TARGET_DIR:-$here/target}/release CGROUP_PARENT=/$cgroup_parent \
    timeout -k 10 1500 unshare --net --mount --pid --fork --propagation private --mount-proc \
    --kill-child -- "$here/bench/compare/inner.sh" "$sys" &
  child=$!
  # wait returns early when a trapped signal arrives: wait again (bounded) for the sandbox.
  for _ in 1 2 3; do wait "$child" && rc=0 || rc=$?; kill -0 "$child" 2>/dev/null || break; done
  child=""
  if [ "$rc" != 0 ]; then echo "$sys: sandbox exited $rc" | tee -a "$res/$sys.skip" >&2; fi
  grep -q '^done' "$res/$sys.txt" 2>/dev/null || echo "$sys: run incomplete (exit $rc)" >>"$res/$sys.errors"
done

[ -z "$raw" ] || { mkdir -p "$raw" && cp "$res"/* "$raw"/; }

# ---- cleanup checks ----
for cg in "${cg_new[@]}"; do
  for d in /sys/fs/cgroup/*/"$cg"; do
    # Killed containers leave their cgroups for a moment while the kernel reaps them.
    for _ in $(seq 50); do
      [ -d "$d" ] || break
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || sleep 0.2
    done
    [ ! -d "$d" ] || echo "warning: cgroup $d left behind (not empty)" >&2
  done
done
sleep 1
snapshot "$tmp/after"
leaks=""
for f in links netns nft iptables procs; do
  if ! diff -u "$tmp/before/$f" "$tmp/after/$f" >"$tmp/$f.diff"; then
    echo "root namespace changed ($f):" >&2; cat "$tmp/$f.diff" >&2; leaks+="$f "
  fi
done
[ "$interrupted" = 0 ] || { echo "interrupted: no report written" >&2; exit 130; }

[ -n "$out" ] || out="$here/bench/results/$(date +%Y-%m-%d)-$(hostname -s)-compare.md"
svg="${out%.md}-attach.svg"
plot_in=()
for s in berth docker podman; do
  if grep -q '^scale ' "$res/$s.txt" 2>/dev/null; then plot_in+=("$(tr a-z A-Z <<<"${s:0:1}")${s:1}=$res/$s.txt"); fi
done
if [ "${#plot_in[@]}" -gt 0 ] && "${CARGO_TARGET_DIR:-$here/target}/release/berth-bench-plot" --out "$svg" \
  --title "run -d on one user network as containers accumulate ($(hostname -s), $(nproc) cores)" "${plot_in[@]}" >/dev/null; then
  export COMPARE_SVG=$svg
else
  echo "no plot written" >&2
fi
# Berth's overlay figures come from overlay.sh's newest report (Docker has overlay only
# under Swarm, Podman none).
COMPARE_OVERLAY=$(ls "$here"/bench/results/*-overlay.md 2>/dev/null | sort | tail -1 || true)
export COMPARE_OVERLAY
{
  "$here/bench/compare/report.sh" "$res" "$reps" "$containers"
  echo
  echo "Cleanup check (root namespace links, netns, nftables, iptables, daemon processes):" \
    "${leaks:+changed: $leaks}${leaks:-unchanged}."
  [ -z "$install_notes" ] || echo "Install: $install_notes"
} >"$out"
cat "$out"
[ -z "$leaks" ]
