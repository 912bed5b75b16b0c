#!/usr/bin/env bash
# Benchmarks Berth's overlay networks (issue 5) on the test harness's cluster: three sandbox
# hosts on an underlay bridge (192.0.2.0/24), etcd on the underlay, berthd on each host.
#
#   bench/overlay.sh [--adds N] [--seconds S] [--reps N] [--link-gbit G] [--out FILE]
#
# In one run (release binaries, see tests/src/bin/berth-bench-overlay.rs):
#   - iperf3 host 1 -> host 2 over the underlay and container -> container across the two
#     hosts over an overlay, S seconds (default 5), N rounds (default 3) alternating; the
#     ratio overlay / underlay (target >= 0.9); then the same rounds again with every
#     underlay link shaped to G Gbit/s (default 10, a common NIC; 0 skips them);
#   - for N containers (default 100): from `berth run -d` returning on host 1 until host 2
#     resolves the name through 127.0.0.11 and until it answers an echo (target <= 100 ms).
# Everything runs inside a throwaway network, mount and pid namespace (the harness's own
# namespaces nest inside it), killed as a whole when the run ends or after 15 minutes.
# Writes bench/results/<date>-<host>-overlay.md and prints it.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
adds=100 seconds=5 reps=3 link=10 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --adds) adds=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --reps) reps=$2; shift ;;
    --link-gbit) link=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# Bounded (the binary checks the same limits).
[ "$adds" -ge 1 ] && [ "$adds" -le 500 ] || { echo "--adds must be 1..500" >&2; exit 2; }
[ "$seconds" -ge 1 ] && [ "$seconds" -le 30 ] || { echo "--seconds must be 1..30" >&2; exit 2; }
[ "$reps" -ge 1 ] && [ "$reps" -le 10 ] || { echo "--reps must be 1..10" >&2; exit 2; }
[ "$link" -ge 0 ] && [ "$link" -le 400 ] || { echo "--link-gbit must be 0..400" >&2; exit 2; }

[ "$(id -u)" = 0 ] || { echo "run as root (it creates namespaces)" >&2; exit 1; }
command -v nft >/dev/null && [ -x /bin/busybox ] && [ -x /usr/bin/etcd ] || {
  echo "needs nftables, busybox-static and etcd-server: apt-get install -y nftables busybox-static etcd-server" >&2
  exit 1
}
if ! command -v iperf3 >/dev/null; then
  # The package asks whether to start an iperf3 daemon; noninteractive keeps its "no".
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q iperf3 >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q iperf3 >/dev/null; }
fi
(cd "$here" && cargo build --release --bins -q)
[ -n "$out" ] || out="$here/bench/results/$(date +%Y-%m-%d)-$(hostname -s)-overlay.md"
mkdir -p "$(dirname "$out")"

# The harness finds berthd, berth, berth-shim and berth-sandbox-init here.
export BERTH_BIN_DIR="${CARGO_TARGET_DIR:-$here/target}/release"
exec timeout -k 10 900 unshare --net --mount --pid --fork --propagation private --mount-proc \
  --kill-child -- "$BERTH_BIN_DIR/berth-bench-overlay" --out "$out" --adds "$adds" \
  --seconds "$seconds" --reps "$reps" --link-gbit "$link"
