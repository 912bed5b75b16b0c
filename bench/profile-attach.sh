#!/usr/bin/env bash
# Where `run -d` time goes as containers accumulate (issue 6: flat attach to 1,000 containers).
# Inside a throwaway sandbox (new network, mount and pid namespaces; nothing outlives it):
# berthd (release), one user network, N sequential `berth run -d` (busybox sleep), each timed;
# `perf record -g` on berthd and everything it forks, once over containers 51-100 ("early")
# and once over the last 50 ("late"). Writes a markdown report: median ms per block of 100,
# then per process and per kernel/user symbol, the CPU time per container early and late, so
# the parts that grow with the number of containers stand out.
#
#   bench/profile-attach.sh [--containers N≤1000, 1000] [--out FILE]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
n=1000 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --containers) n=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$n" -ge 200 ] && [ "$n" -le 1000 ] || { echo "--containers must be 200..1000" >&2; exit 2; }

if [ -z "${BERTH_PROFILE_WORK:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "run as root (it creates namespaces)" >&2; exit 1; }
  command -v perf >/dev/null || { echo "needs perf: apt-get install -y linux-perf" >&2; exit 1; }
  (cd "$here" && cargo build --release --bins -q)
  [ -n "$out" ] || out="$here/bench/results/$(date +%Y-%m-%d)-$(hostname -s)-attach-profile.md"
  work=$(mktemp -d /tmp/berth-profile.XXXXXX)
  rc=0
  BERTH_PROFILE_WORK=$work BERTH_PROFILE_N=$n BERTH_PROFILE_OUT=$out \
    timeout -k 10 1800 unshare --net --mount --pid --fork --propagation private --mount-proc \
    --kill-child -- "$0" || rc=$?
  rm -rf "$work"
  exit "$rc"
fi

# ---- inside the sandbox from here on ----
work=$BERTH_PROFILE_WORK n=$BERTH_PROFILE_N
bin="${CARGO_TARGET_DIR:-$here/target}/release"
mkdir -p "$work/perf"
mount -t tmpfs tmpfs "$work/perf" -o size=1g
# berthd's state on its own tmpfs under the work dir (perf data stays readable after).
mkdir -p "$work/s" && mount -t tmpfs tmpfs "$work/s"
ip link set lo up
# shellcheck source=bench/berthd-up.sh
. "$here/bench/berthd-up.sh"
berthd_up "$bin" "$work/s"
b network create app >/dev/null

perf_pid=""
# berthd starts its shims through `berth-shim spawner`, a child it starts at the first `run`
# (before the early window): perf follows what the processes it attaches to fork from then
# on, so it attaches to both.
start_perf() {
  local pids=$daemon spawner
  spawner=$(pgrep -P "$daemon" -f 'berth-shim spawner' | head -1 || true)
  [ -z "$spawner" ] || pids="$pids,$spawner"
  perf record -q -g -p "$pids" -o "$work/perf/$1.data" >/dev/null 2>&1 &
  perf_pid=$!
}
stop_perf() { kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; perf_pid=""; }
: >"$work/times"
for i in $(seq "$n"); do
  [ "$i" != 51 ] || start_perf early
  [ "$i" != 101 ] || stop_perf
  [ "$i" != $((n - 49)) ] || start_perf late
  t0=$(date +%s%N)
  b run -d --name "s$i" --network app busybox sleep 1d >/dev/null
  echo "$i $(( ($(date +%s%N) - t0) / 1000 ))" >>"$work/times"
done
stop_perf

# ms per container of CPU by key ($1: perf report --sort key), early and late, for the top
# rows of the late window. perf samples at 4 kHz: 0.25 ms a sample, over 50 containers.
per_container() {
  local key=$1 w
  for w in early late; do
    perf report -i "$work/perf/$w.data" --no-children --sort "$key" --stdio -g none -n 2>/dev/null |
      awk -v w="$w" '/%/ && $2 ~ /^[0-9]+$/ {c=$2; $1=""; $2=""; sub(/^ +/, ""); printf "%s\t%s\t%.3f\n", w, $0, c * 0.25 / 50}'
  done | awk -F'\t' '{v[$2, $1]=$3; if (!($2 in seen)) {seen[$2]=1; order[++n]=$2}}
    END{for (i=1; i<=n; i++) {k=order[i]; e=v[k, "early"]+0; l=v[k, "late"]+0;
      printf "%s\t%.3f\t%.3f\t%.3f\n", k, e, l, l-e}}' | sort -t$'\t' -k4 -gr | awk -v n="$2" 'NR <= n'
}
{
  echo "# Where attach time goes as containers accumulate, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end. Release build. $n sequential \`berth run -d --network app busybox sleep 1d\` on one user network in a sandbox; \`perf record -g -p <berthd>,<its berth-shim spawner>\` (which follows what they fork: the shims) over containers 51-100 (*early*) and $((n - 49))-$n (*late*). CPU ms per container = samples × 0.25 ms / 50."
  echo
  echo "| containers | mean ms of \`run -d\` |"
  echo "|---|---|"
  awk '{k=int(($1-1)/100); s[k]+=$2; c[k]++} END{for (k in s) printf "%d\t%.2f\n", k, s[k]/c[k]/1000}' "$work/times" |
    sort -n | awk -F'\t' '{printf "| %d-%d | %s |\n", $1*100+1, $1*100+100, $2}'
  echo
  echo "## CPU per container by process (early, late, growth)"
  echo
  echo "| process | early ms | late ms | growth ms |"
  echo "|---|---|---|---|"
  per_container comm 8 | awk -F'\t' '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}'
  echo
  echo "## The symbols that grew most (CPU ms per container)"
  echo
  echo "| symbol | early | late | growth |"
  echo "|---|---|---|---|"
  per_container sym 25 | awk -F'\t' '{gsub(/\|/, "\\|", $1); printf "| `%s` | %s | %s | %s |\n", $1, $2, $3, $4}'
} >"$BERTH_PROFILE_OUT"
cat "$BERTH_PROFILE_OUT"
