#!/usr/bin/env bash
# Benchmarks Berth's embedded DNS (issue 4) inside a throwaway sandbox (new network, mount
# and pid namespaces: everything it starts ends with it).
#
#   bench/dns.sh [--release] [--adds N] [--duration S] [--rounds N] [--out FILE]
#
# In one run, from inside a container's network namespace (host tools run there with
# nsenter): dnsperf (4 clients) against 127.0.0.11 for local names and for forwarded names,
# and against a trivial echo server in the same namespace (the ceiling); one-query-at-a-time
# round trips; and the time from `berth run -d` returning until another container resolves
# the new name, over --adds adds. Writes bench/results/<date>-<host>-dns.md and prints it.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
profile=debug adds=200 duration=10 rounds=3 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release ;;
    --adds) adds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# Bounded: never more than 1,000 adds, 20 s per dnsperf run, 5 rounds.
[ "$adds" -ge 1 ] && [ "$adds" -le 1000 ] || { echo "--adds must be 1..1000" >&2; exit 2; }
[ "$duration" -ge 1 ] && [ "$duration" -le 20 ] || { echo "--duration must be 1..20 s" >&2; exit 2; }
[ "$rounds" -ge 1 ] && [ "$rounds" -le 5 ] || { echo "--rounds must be 1..5" >&2; exit 2; }

if [ -z "${BERTH_DNS_BENCH_WORK:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "run as root (it creates namespaces)" >&2; exit 1; }
  command -v nft >/dev/null && [ -x /bin/busybox ] || {
    echo "needs nftables and busybox-static: apt-get install -y nftables busybox-static" >&2; exit 1; }
  if ! command -v dnsperf >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dnsperf >/dev/null ||
      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dnsperf >/dev/null; }
  fi
  if [ "$profile" = release ]; then (cd "$here" && cargo build --release --bins -q); else (cd "$here" && cargo build --bins -q); fi
  [ -n "$out" ] || out="$here/bench/results/$(date +%Y-%m-%d)-$(hostname -s)-dns.md"
  # The work directory is made here so that it can be removed after the sandbox ends (inside,
  # a tmpfs covers it).
  work=$(mktemp -d /tmp/berth-bench-dns.XXXXXX)
  export BERTH_DNS_BENCH_WORK=$work BERTH_BENCH_PROFILE=$profile BERTH_BENCH_ADDS=$adds \
    BERTH_BENCH_DURATION=$duration BERTH_BENCH_ROUNDS=$rounds BERTH_BENCH_OUT=$out
  rc=0
  timeout -k 10 1800 unshare --net --mount --pid --fork --propagation private --mount-proc \
    --kill-child -- "$0" || rc=$?
  rmdir "$work" 2>/dev/null || true
  exit "$rc"
fi

# ---- inside the sandbox from here on ----
bin="${CARGO_TARGET_DIR:-$here/target}/$BERTH_BENCH_PROFILE"
work=$BERTH_DNS_BENCH_WORK
mount -t tmpfs tmpfs "$work"
mkdir -p "$work/data" "$work/exec"
ip link set lo up
# Names that are not containers' are forwarded to the host's resolv.conf servers: make that
# the sandbox's own loopback, so nothing ever leaves the sandbox. The forwarded-names run
# starts an echo server there; otherwise nothing listens and forwarding fails at once.
echo "nameserver 127.0.0.1" >"$work/resolv.conf"
mount --bind "$work/resolv.conf" /etc/resolv.conf
# shellcheck source=bench/berthd-up.sh
. "$here/bench/berthd-up.sh"
berthd_up "$bin" "$work"

# A user network with 10 containers; c1 is where the clients run.
b network create bench >/dev/null
for i in $(seq 10); do b run -d --name "c$i" --network bench busybox sleep 1d >/dev/null; done
qpid=$(b inspect -f '{{.State.Pid}}' c1)
inside() { nsenter --net="/proc/$qpid/ns/net" "$@"; }
names=()
for i in $(seq 10); do names+=("c$i"); echo "c$i A"; done >"$work/local.txt"
for i in $(seq 1000); do echo "f$i.example.test A"; done >"$work/forward.txt"
inside "$bin/berth-bench-dns-probe" rtt 127.0.0.11:53 10 "${names[@]}" >/dev/null ||
  { echo "the embedded DNS does not answer for c2..c10 from c1" >&2; exit 1; }

inside "$bin/berth-bench-dns-echo" 127.0.0.12:53 &
echo_pid=$!
for _ in $(seq 50); do
  inside "$bin/berth-bench-dns-probe" rtt 127.0.0.12:53 1 x >/dev/null 2>&1 && break; sleep 0.1
done

# perf SERVER FILE: one dnsperf run (4 clients); prints "qps avg_latency_us lost".
perf() {
  inside dnsperf -s "$1" -d "$2" -c 4 -l "$BERTH_BENCH_DURATION" >"$work/perf.txt" 2>&1 || true
  awk '/Queries per second/{q=$4} /Average Latency/{l=$4*1e6} /Queries lost/{n=$3}
       END{if(q=="")exit 1; printf "%.0f %.0f %s\n", q, l, n}' "$work/perf.txt" ||
    { cat "$work/perf.txt" >&2; echo "dnsperf against $1 failed" >&2; exit 1; }
}
# Alternate the two servers so that load from elsewhere on the machine hits both alike.
: >"$work/berth.qps"; : >"$work/echo.qps"
for _ in $(seq "$BERTH_BENCH_ROUNDS"); do
  perf 127.0.0.11 "$work/local.txt" >>"$work/berth.qps"
  perf 127.0.0.12 "$work/local.txt" >>"$work/echo.qps"
done

# Forwarded names: an echo server as the upstream, in the sandbox host's namespace.
"$bin/berth-bench-dns-echo" 127.0.0.1:53 &
upstream=$!
sleep 0.2
fwd=$(perf 127.0.0.11 "$work/forward.txt")
kill "$upstream"; wait "$upstream" 2>/dev/null || true

rtt_berth=$(inside "$bin/berth-bench-dns-probe" rtt 127.0.0.11:53 20000 "${names[@]}")
rtt_echo=$(inside "$bin/berth-bench-dns-probe" rtt 127.0.0.12:53 20000 "${names[@]}")
kill "$echo_pid"; wait "$echo_pid" 2>/dev/null || true

# Records appearing: c1 resolves each new container from the moment `run -d` returns.
inside "$bin/berth-bench-dns-probe" appear 127.0.0.11:53 "$BERTH_BENCH_ADDS" add -- \
  "$bin/berth" -H "unix://$berth_sock" run -d --name '{}' --network bench busybox sleep 1d >"$work/appear.txt"
appear=$(grep '^appear ' "$work/appear.txt")

# kv LINE KEY: the value of KEY=... in LINE.
kv() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1==k{print $2}'; }
mean() { awk '{s+=$1} END{printf "%.0f", s/NR}' "$1"; }
runs() { awk '{printf "%s%s", (NR>1?", ":""), $1}' "$1"; }
col_mean() { awk -v c="$2" '{s+=$c} END{printf "%.0f", s/NR}' "$1"; }
col_sum() { awk -v c="$2" '{s+=$c} END{printf "%d", s}' "$1"; }
bq=$(mean "$work/berth.qps") eq=$(mean "$work/echo.qps")
ratio=$(awk -v a="$bq" -v b="$eq" 'BEGIN{printf "%.2f", a/b}')
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN{ok=(op==">=")?(v>=t):(v<=t); print ok?"met":"**not met**"}'; }
{
  echo "# Berth DNS benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME"). Build: $BERTH_BENCH_PROFILE. $(dnsperf -h 2>&1 | awk '/^Version/{print "dnsperf " $2}'), 4 clients, ${BERTH_BENCH_DURATION} s a run, $BERTH_BENCH_ROUNDS round(s), each a Berth run then an echo run. All clients run in container c1's network namespace (10 containers on one user network); the load generator shares the machine's cores with the server."
  echo
  echo "## Queries per second, local names (c1..c10, A)"
  echo
  echo "| server | qps per round | mean qps | mean latency µs | lost |"
  echo "|---|---|---|---|---|"
  echo "| Berth, 127.0.0.11 | $(runs "$work/berth.qps") | $bq | $(col_mean "$work/berth.qps" 2) | $(col_sum "$work/berth.qps" 3) |"
  echo "| echo server (ceiling), 127.0.0.12 | $(runs "$work/echo.qps") | $eq | $(col_mean "$work/echo.qps" 2) | $(col_sum "$work/echo.qps" 3) |"
  echo
  echo "- Berth / echo: **$ratio** (target ≥ 0.85: $(verdict "$ratio" 0.85 '>=')); round by round (each Berth run next to its echo run): $(paste -d' ' "$work/berth.qps" "$work/echo.qps" | awk '{printf "%s%.2f", (NR>1?", ":""), $1/$4}')."
  echo "- Berth / Docker's embedded DNS: $(awk -v a="$bq" 'BEGIN{printf "%.2f", a/57000}') (target ≥ 2: $(verdict "$(awk -v a="$bq" 'BEGIN{print a/57000}')" 2 '>=')); Berth / aardvark-dns: $(awk -v a="$bq" 'BEGIN{printf "%.2f", a/37000}'). Docker's 57k and aardvark-dns's 37k qps are the figures in issue 4 (4 clients, this machine), **not measured in this run**."
  echo
  echo "## Forwarded names (f1..f1000.example.test, A)"
  echo
  echo "Upstream: the same echo server on 127.0.0.1:53 in the sandbox host's namespace (the sandbox's resolv.conf). One run: **$(echo "$fwd" | awk '{print $1}') qps**, mean latency $(echo "$fwd" | awk '{print $2}') µs, $(echo "$fwd" | awk '{print $3}') lost."
  echo
  echo "## Round trip, one query at a time (20,000 queries after 200 of warm-up, µs)"
  echo
  echo "| server | median | p99 | mean | min | max | lost |"
  echo "|---|---|---|---|---|---|---|"
  for s in "Berth:$rtt_berth" "echo:$rtt_echo"; do
    l=${s#*:}
    echo "| ${s%%:*} | $(kv "$l" median_us) | $(kv "$l" p99_us) | $(kv "$l" mean_us) | $(kv "$l" min_us) | $(kv "$l" max_us) | $(kv "$l" lost) |"
  done
  echo
  echo "Berth median $(kv "$rtt_berth" median_us) µs (target ≤ 60: $(verdict "$(kv "$rtt_berth" median_us)" 60 '<='))."
  echo
  echo "## A new name resolving ($BERTH_BENCH_ADDS adds)"
  echo
  echo "Each add: \`berth run -d --name addN --network bench busybox sleep 1d\` (median $(awk -v u="$(kv "$appear" run_median_us)" 'BEGIN{printf "%.1f", u/1000}') ms), then c1 queries addN from the moment the command returns until it gets an address (20 ms timeout a query, 0.2 ms pause after a negative answer, 5 s limit)."
  echo
  echo "| median µs | p99 µs | max µs | resolved on the first query | stalls > 1 s | never resolved |"
  echo "|---|---|---|---|---|---|"
  echo "| $(kv "$appear" median_us) | $(kv "$appear" p99_us) | $(kv "$appear" max_us) | $(kv "$appear" first_try) / $BERTH_BENCH_ADDS | $(kv "$appear" stalls) | $(kv "$appear" failed) |"
} >"$BERTH_BENCH_OUT"
cat "$BERTH_BENCH_OUT"
