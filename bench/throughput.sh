#!/usr/bin/env bash
# Benchmarks TCP throughput through Berth's published ports (issue 3) inside a throwaway
# sandbox (new network, mount and pid namespaces: everything it starts ends with it).
#
#   bench/throughput.sh [--release] [--seconds S] [--rounds N] [--bridge-nf-call 0|1] [--perf]
#                       [--out FILE]
#
# One iperf3 server runs in container `srv`'s network namespace (the host's iperf3 through
# nsenter: the data path is the container's, whatever binary runs there), published as
# 8080 -> 5201. Single-stream TCP, --seconds each (default 5), --rounds rounds (default 5):
#   reference  container `cli` -> srv's address:5201 on the same bridge
#   client     a "remote" namespace on the host's uplink (198.51.100.2) -> 198.51.100.1:8080
#   loopback   the sandbox host -> 127.0.0.1:8080
#   hairpin    container `cli` -> the host's address 198.51.100.1:8080
# each path's median as a ratio to the reference's median (target >= 0.95), the median of the
# per-round ratios (each path against the reference of its own round), and the CPU time the
# two iperf3 ends spent per GB moved (user + system, which includes the kernel's softirq work
# done in their context): a cost that other load on the machine disturbs less than Gbit/s.
# --bridge-nf-call sets net.bridge.bridge-nf-call-iptables in the sandbox first (default:
# leave the namespace's default, reported). --perf: after the rounds, one more run of each
# path under `perf record -a` (system-wide: the kernel's work happens in softirq context too),
# and a table of the kernel symbols that cost more per GB on each path than on the reference.
# Writes bench/results/<date>-<host>-throughput.md and prints it.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
profile=debug seconds=5 rounds=7 brnf="" perf=0 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release ;;
    --seconds) seconds=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --bridge-nf-call) brnf=$2; shift ;;
    --perf) perf=1 ;;
    --out) out=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$seconds" -ge 1 ] && [ "$seconds" -le 30 ] || { echo "--seconds must be 1..30" >&2; exit 2; }
[ "$rounds" -ge 1 ] && [ "$rounds" -le 15 ] || { echo "--rounds must be 1..15" >&2; exit 2; }
case "$brnf" in ""|0|1) ;; *) echo "--bridge-nf-call must be 0 or 1" >&2; exit 2 ;; esac

if [ -z "${BERTH_TPUT_BENCH_WORK:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "run as root (it creates namespaces)" >&2; exit 1; }
  command -v nft >/dev/null && [ -x /bin/busybox ] || {
    echo "needs nftables and busybox-static: apt-get install -y nftables busybox-static" >&2; exit 1; }
  missing=()
  command -v iperf3 >/dev/null || missing+=(iperf3)
  command -v jq >/dev/null || missing+=(jq)
  if [ ${#missing[@]} -gt 0 ]; then
    # iperf3's package asks whether to start a daemon; noninteractive keeps its "no".
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null ||
      { apt-get update -q >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
  fi
  if [ "$profile" = release ]; then (cd "$here" && cargo build --release --bins -q); else (cd "$here" && cargo build --bins -q); fi
  [ -n "$out" ] || out="$here/bench/results/$(date +%Y-%m-%d)-$(hostname -s)-throughput.md"
  # Made here so that it can be removed after the sandbox ends (inside, a tmpfs covers it).
  work=$(mktemp -d /tmp/berth-bench-tput.XXXXXX)
  export BERTH_TPUT_BENCH_WORK=$work BERTH_BENCH_PROFILE=$profile BERTH_BENCH_SECONDS=$seconds \
    BERTH_BENCH_ROUNDS=$rounds BERTH_BENCH_OUT=$out BERTH_BENCH_BRNF=$brnf BERTH_BENCH_PERF=$perf
  rc=0
  timeout -k 10 1800 unshare --net --mount --pid --fork --propagation private --mount-proc \
    --kill-child -- "$0" || rc=$?
  rmdir "$work" 2>/dev/null || true
  exit "$rc"
fi

# ---- inside the sandbox from here on ----
bin="${CARGO_TARGET_DIR:-$here/target}/$BERTH_BENCH_PROFILE"
work=$BERTH_TPUT_BENCH_WORK
mount -t tmpfs tmpfs "$work"
mkdir -p "$work/data" "$work/exec"
ip link set lo up
# Bridged traffic passes the inet hooks (and conntrack) only while this is 1; it is per
# namespace, and a new namespace starts from the kernel's default.
brnf_file=/proc/sys/net/bridge/bridge-nf-call-iptables
if [ -n "$BERTH_BENCH_BRNF" ]; then echo "$BERTH_BENCH_BRNF" >"$brnf_file"; fi
brnf_now=$(cat "$brnf_file" 2>/dev/null || echo "absent (no br_netfilter)")

# The "remote" client: a namespace held by a sleeping process, linked to the host's uplink.
unshare --net -- sleep 1d &
remote=$!
for _ in $(seq 50); do
  [ "$(readlink "/proc/$remote/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.02
done
ip link add uplink0 type veth peer name eth0 netns "$remote"
ip addr add 198.51.100.1/24 dev uplink0
ip link set uplink0 up
at_remote() { nsenter --net="/proc/$remote/ns/net" "$@"; }
at_remote ip link set lo up
at_remote ip addr add 198.51.100.2/24 dev eth0
at_remote ip link set eth0 up
at_remote ip route add default via 198.51.100.1

# shellcheck source=bench/berthd-up.sh
. "$here/bench/berthd-up.sh"
berthd_up "$bin" "$work"

b network create app >/dev/null
b run -d --name srv --network app -p 8080:5201 busybox sleep 1d >/dev/null
b run -d --name cli --network app busybox sleep 1d >/dev/null
srv_pid=$(b inspect -f '{{.State.Pid}}' srv)
cli_pid=$(b inspect -f '{{.State.Pid}}' cli)
srv_ip=$(nsenter --net="/proc/$srv_pid/ns/net" ip -4 -o addr show dev eth0 | awk '{split($4,a,"/"); print a[1]}')

nsenter --net="/proc/$srv_pid/ns/net" iperf3 -s -p 5201 --forceflush >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do grep -q "Server listening" "$work/server.log" 2>/dev/null && break; sleep 0.1; done

# measure NAME ADDR PORT [PID]: one iperf3 run, in PID's network namespace if given; appends
# "Gbit/s retransmits source-the-server-saw" to $work/NAME.txt. Returns 1 if it could not
# connect.
measure() {
  local name=$1 addr=$2 port=$3 j="$work/$1.json" ns=()
  [ -z "${4:-}" ] || ns=(nsenter --net="/proc/$4/ns/net")
  if ! timeout $((BERTH_BENCH_SECONDS + 20)) "${ns[@]}" iperf3 -c "$addr" -p "$port" \
    -t "$BERTH_BENCH_SECONDS" --connect-timeout 3000 -J >"$j" ||
    [ -n "$(jq -r '.error // empty' "$j")" ]; then
    jq -r '.error // "no JSON"' "$j" >"$work/$name.error" 2>/dev/null || true
    return 1
  fi
  # The server's log names every accepted connection; the latest is this run's.
  echo "$(jq -r '.end.sum_received.bits_per_second / 1e9 | . * 100 | round / 100' "$j") \
$(jq -r '.end.sum_sent.retransmits // 0' "$j") \
$(awk '/Accepted connection from/{s=$4} END{sub(/,$/, "", s); print s}' "$work/server.log") \
$(jq -r '.end.cpu_utilization_percent as $c | .end.sum_received as $r
  | (($c.host_total + $c.remote_total) / 100 * $r.seconds / ($r.bytes / 1e9) * 1000 | round)' "$j")" >>"$work/$name.txt"
}
declare -A addr port pid what
addr=([reference]=$srv_ip [client]=198.51.100.1 [loopback]=127.0.0.1 [hairpin]=198.51.100.1)
port=([reference]=5201 [client]=8080 [loopback]=8080 [hairpin]=8080)
pid=([reference]=$cli_pid [client]=$remote [loopback]="" [hairpin]=$cli_pid)
what=([reference]="container cli → $srv_ip:5201 (same bridge)"
  [client]="remote namespace → 198.51.100.1:8080"
  [loopback]="sandbox host → 127.0.0.1:8080"
  [hairpin]="container cli → 198.51.100.1:8080")
paths=(reference client loopback hairpin)
# Rounds of all four, each round starting one further along the list, so that a burst of load
# from elsewhere on the machine does not always land on the same path.
for r in $(seq 0 $((BERTH_BENCH_ROUNDS - 1))); do
  for k in 0 1 2 3; do
    n=${paths[$(((r + k) % 4))]}
    measure "$n" "${addr[$n]}" "${port[$n]}" "${pid[$n]}" ||
      { echo "iperf3 $n to ${addr[$n]}:${port[$n]} failed: $(cat "$work/$n.error")" >&2; exit 1; }
  done
done
# The remote client straight to the container's address: the same hops without the mapping.
if measure direct "$srv_ip" 5201 "$remote"; then
  direct="reachable: $(awk '{print $1}' "$work/direct.txt") Gbit/s, source seen $(awk '{print $3}' "$work/direct.txt")"
else
  direct="not reachable ($(cat "$work/direct.error"))"
fi
# Profiles: one more run of each path under a system-wide perf (bounded by the run itself).
if [ "$BERTH_BENCH_PERF" = 1 ]; then
  mkdir -p "$work/perf"
  for n in "${paths[@]}"; do
    perf record -q -a -g -o "$work/perf/$n.data" >/dev/null 2>&1 &
    rec=$!
    sleep 0.5
    measure "perf_$n" "${addr[$n]}" "${port[$n]}" "${pid[$n]}" || true
    kill -INT "$rec"; wait "$rec" 2>/dev/null || true
  done
fi
kill "$server"; wait "$server" 2>/dev/null || true

# kernel_ms_per_gb PATH: "symbol<TAB>ms per GB" for the kernel symbols of the profiled run
# (samples at 4 kHz: 0.25 ms each, over the GB that run moved).
kernel_ms_per_gb() {
  local gb
  gb=$(awk '{printf "%.3f", $1 * '"$BERTH_BENCH_SECONDS"' / 8}' "$work/perf_$1.txt")
  perf report -i "$work/perf/$1.data" --no-children --sort sym --stdio -g none -n 2>/dev/null |
    awk -v gb="$gb" '/%/ && $2 ~ /^[0-9]+$/ && $3 == "[k]" {c=$2; $1=""; $2=""; $3=""; sub(/^ +/, "");
      printf "%s\t%.1f\n", $0, c * 0.25 / gb}'
}
# perf_table PATH: the kernel symbols that cost PATH more per GB than the reference.
perf_table() {
  kernel_ms_per_gb reference >"$work/perf/reference.tsv"
  kernel_ms_per_gb "$1" >"$work/perf/$1.tsv"
  awk -F'\t' 'NR==FNR {r[$1]=$2; next} {d=$2-r[$1]; if (d > 0) printf "%s\t%.1f\t%.1f\t%.1f\n", $1, r[$1]+0, $2, d}' \
    "$work/perf/reference.tsv" "$work/perf/$1.tsv" | sort -t$'\t' -k4 -gr | awk 'NR <= 12' |
    awk -F'\t' '{printf "| `%s` | %s | %s | +%s |\n", $1, $2, $3, $4}'
}

# med: the median of the numbers on stdin.
med() { sort -n | awk '{v[NR]=$1} END{printf "%.2f", (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}'; }
median() { awk '{print $1}' "$work/$1.txt" | med; }
# paired NAME: the median over rounds of NAME's Gbit/s over the reference's in the same round.
paired() { paste "$work/$1.txt" "$work/reference.txt" | awk '{printf "%.3f\n", $1 / $5}' | med; }
cpu() { awk '{print $4}' "$work/$1.txt" | med | awk '{printf "%.0f", $1}'; }
ref=$(median reference)
row() {
  local n=$1 m r ok
  m=$(median "$n")
  r=$(awk -v a="$m" -v b="$ref" 'BEGIN{printf "%.2f", a/b}')
  p=$(paired "$n")
  ok=$(awk -v r="$r" 'BEGIN{print (r>=0.95)?"met":"**not met**"}')
  [ "$n" != reference ] || ok="(reference)"
  echo "| $n | ${what[$n]} | $(awk '{printf "%s%s", (NR>1?", ":""), $1}' "$work/$n.txt") | $m | $(awk '{s+=$2} END{print s}' "$work/$n.txt") | $(awk '{print $3}' "$work/$n.txt" | sort -u | paste -sd, -) | $(cpu "$n") | $r | $p | $ok |"
}
{
  echo "# Berth published-port throughput, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME"). Build: $BERTH_BENCH_PROFILE. $(iperf3 --version 2>&1 | head -1 | awk '{print $1, $2}'), one TCP stream, $BERTH_BENCH_SECONDS s a run, $BERTH_BENCH_ROUNDS rounds of the four paths (each round starting one further along), client and server on the same cores; bridge-nf-call-iptables in the sandbox: $brnf_now. The server runs in container \`srv\` (user network \`app\`, \`-p 8080:5201\`); the host's uplink is 198.51.100.1/24, the remote client 198.51.100.2."
  echo
  echo "| path | route | Gbit/s per round | median | retransmits | source the server saw | CPU ms per GB (median) | median / reference median | median of per-round ratios | target ≥ 0.95 |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for n in "${paths[@]}"; do row "$n"; done
  echo
  echo "Spread of the reference over the rounds: $(awk '{print $1}' "$work/reference.txt" | sort -n | awk -v m="$ref" 'NR==1{lo=$1} {hi=$1} END{printf "%s-%s Gbit/s, %.0f%% of its median", lo, hi, (hi-lo)/m*100}'): ratios closer to 1 than that are within this run's noise."
  echo
  echo "The remote client's path crosses one more veth pair (the uplink) and the host's routing than the reference does. The remote client straight to $srv_ip:5201 (no port mapping): $direct."
  if [ "$BERTH_BENCH_PERF" = 1 ]; then
    echo
    echo "## Where the published-port paths spend more than the reference (perf)"
    echo
    echo "One more run of each path under \`perf record -a -g\` (whole machine, 4 kHz): kernel time per GB moved, in ms, by symbol, for the symbols that cost the path more than the reference (top 12). Gbit/s of the profiled runs: $(for n in "${paths[@]}"; do printf "%s %s; " "$n" "$(awk '{print $1}' "$work/perf_$n.txt")"; done)"
    for n in client loopback hairpin; do
      echo
      echo "**$n**"
      echo
      echo "| symbol | reference ms/GB | $n ms/GB | difference |"
      echo "|---|---|---|---|"
      perf_table "$n"
    done
  fi
} >"$BERTH_BENCH_OUT"
cat "$BERTH_BENCH_OUT"
