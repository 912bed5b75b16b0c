#!/usr/bin/env bash
# Times Berth's container and network operations inside a throwaway sandbox
# (new network, mount and pid namespaces: everything it starts ends with it).
#
#   bench/run.sh [--release] [--containers N] [--reps N] [--out FILE]
#
# Writes a markdown report (default bench/results/<date>-<host>.md) and prints it.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
profile=debug reps=20 containers=200 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release ;;
    --reps) reps=$2; shift ;;
    --containers) containers=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# Bounded loops: never more than this many containers.
[ "$containers" -le 1000 ] || { echo "--containers is capped at 1000" >&2; exit 2; }
# (20 also keeps `network create net1..netN` within the 31 default address pools.)
[ "$reps" -le 20 ] || { echo "--reps is capped at 20" >&2; exit 2; }

if [ -z "${BERTH_BENCH_INSIDE:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "run as root (it creates namespaces)" >&2; exit 1; }
  command -v nft >/dev/null && [ -x /bin/busybox ] || {
    echo "needs nftables and busybox-static: apt-get install -y nftables busybox-static" >&2; exit 1; }
  if [ "$profile" = release ]; then (cd "$here" && cargo build --release --bins -q); else (cd "$here" && cargo build --bins -q); fi
  [ -n "$out" ] || out="$here/bench/results/$(date +%Y-%m-%d)-$(hostname -s).md"
  export BERTH_BENCH_INSIDE=1 BERTH_BENCH_PROFILE=$profile BERTH_BENCH_REPS=$reps \
    BERTH_BENCH_CONTAINERS=$containers BERTH_BENCH_OUT=$out
  exec unshare --net --mount --pid --fork --propagation private --mount-proc --kill-child -- "$0"
fi

# ---- inside the sandbox from here on ----
bin="${CARGO_TARGET_DIR:-$here/target}/$BERTH_BENCH_PROFILE"
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
mount -t tmpfs tmpfs "$work"
mkdir -p "$work/data" "$work/exec"
ip link set lo up
# shellcheck source=bench/berthd-up.sh
. "$here/bench/berthd-up.sh"
berthd_up "$bin" "$work"

now() { date +%s%N; }
# time_ms CMD... : prints the command's wall time in ms (3 decimals).
time_ms() { local t0 t1; t0=$(now); "$@" >/dev/null; t1=$(now); awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f\n", (b-a)/1e6}'; }
# stats FILE: min median p95
stats() { sort -n "$1" | awk '{v[NR]=$1} END{i=int(NR*0.95+0.5); if(i<1)i=1; printf "%.2f | %.2f | %.2f", v[1], v[int((NR+1)/2)], v[i]}'; }

b network create app >/dev/null
declare -A rows
measure() { # name, then a command run $reps times (with %i replaced by the repetition)
  local name=$1; shift; local f="$work/$name.txt"; : >"$f"
  for i in $(seq "$BERTH_BENCH_REPS"); do time_ms "${@//%i/$i}" >>"$f"; done
  rows[$name]=$(stats "$f")
}
# The three `run -d` variants take turns within each repetition, so the machine's load
# drifting during the run weighs on all three alike (their differences are the point).
: >"$work/run_none.txt"; : >"$work/run_bridge.txt"; : >"$work/run_user.txt"
for i in $(seq "$BERTH_BENCH_REPS"); do
  time_ms b run -d --name "none$i" --network none busybox sleep 1d >>"$work/run_none.txt"
  time_ms b run -d --name "def$i" busybox sleep 1d >>"$work/run_bridge.txt"
  time_ms b run -d --name "user$i" --network app busybox sleep 1d >>"$work/run_user.txt"
done
for k in run_none run_bridge run_user; do rows[$k]=$(stats "$work/$k.txt"); done
measure rm_f b rm -f user%i
measure network_create b network create net%i
measure network_rm b network rm net%i
for i in $(seq "$BERTH_BENCH_REPS"); do b rm -f "none$i" "def$i" >/dev/null; done

# Published ports: the extra cost of -p, with none and with 1,000 ports already published
# (one container holding a port-changing range: 1,000 hash elements), and a 1,000-port range.
# Each cost is a pair measured in turns within each repetition (without -p, then with it),
# under the same conditions, so the growing number of containers weighs on both alike.
# ports_pair NONE WITH FIRST STEP ARGS...: times `run -d` without -p (container NONEi) and
# with `-p ARGS` (WITHi, %p the port FIRST + STEP*(i-1), %q that port + 999) in turns.
ports_pair() {
  local none=$1 with=$2 first=$3 step=$4; shift 4
  : >"$work/$none.txt"; : >"$work/$with.txt"
  for i in $(seq "$BERTH_BENCH_REPS"); do
    local p=$((first + step * (i - 1)))
    local pub=("${@//%q/$((p + 999))}")
    time_ms b run -d --name "$none$i" --network app busybox sleep 1d >>"$work/$none.txt"
    time_ms b run -d --name "$with$i" --network app "${pub[@]//%p/$p}" busybox sleep 1d >>"$work/$with.txt"
  done
  rows[$none]=$(stats "$work/$none.txt")
  rows[$with]=$(stats "$work/$with.txt")
}
ports_pair ports_none ports_p 10000 1 -p %p:80
b run -d --name holder --network app -p 20000-20999:30000-30999 busybox sleep 1d >/dev/null
ports_pair ports_none_1000 ports_p_1000 11000 1 -p %p:80
ports_pair ports_none_range ports_range_1000 40000 1000 -p %p-%q:%p-%q
for i in $(seq "$BERTH_BENCH_REPS"); do
  b rm -f "ports_none$i" "ports_p$i" "ports_none_1000$i" "ports_p_1000$i" "ports_none_range$i" "ports_range_1000$i" >/dev/null
done
b rm -f holder >/dev/null

# Attach cost as containers accumulate: run -d on one network, median per block of 100
# (or of containers/10 when fewer), next to run -d --network none at the same count.
scale="$work/scale.txt"; : >"$scale"
for i in $(seq "$BERTH_BENCH_CONTAINERS"); do
  echo "$i $(time_ms b run -d --network app busybox sleep 1d)" >>"$scale"
done
block=$(( BERTH_BENCH_CONTAINERS >= 500 ? 100 : (BERTH_BENCH_CONTAINERS / 10 > 0 ? BERTH_BENCH_CONTAINERS / 10 : 1) ))
scale_rows=""
for ((start = 1; start <= BERTH_BENCH_CONTAINERS; start += block)); do
  end=$((start + block - 1))
  m=$(awk -v s="$start" -v e="$end" '$1 >= s && $1 <= e {print $2}' "$scale" | sort -n |
    awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}')
  scale_rows+="| $start-$end | $m |"$'\n'
done

med() { echo "${rows[$1]}" | awk -F' \\| ' '{print $2}'; }
net_cost=$(awk -v a="$(med run_user)" -v b="$(med run_none)" 'BEGIN{printf "%.2f", a-b}')
net_cost_default=$(awk -v a="$(med run_bridge)" -v b="$(med run_none)" 'BEGIN{printf "%.2f", a-b}')
{
  echo "# Berth benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME"). Build: $BERTH_BENCH_PROFILE. Wall time of each \`berth\` command as a user sees it (CLI start + API + daemon), $BERTH_BENCH_REPS repetitions, in ms."
  echo
  echo "| operation | min | median | p95 |"
  echo "|---|---|---|---|"
  for k in run_none run_bridge run_user rm_f network_create network_rm ports_none ports_p ports_none_1000 ports_p_1000 ports_none_range ports_range_1000; do echo "| $k | ${rows[$k]} |"; done
  echo
  echo "Networking cost of \`run -d\` over \`--network none\` (medians): **$net_cost ms** on a user bridge (veth, embedded DNS, name), $net_cost_default ms on the default bridge."
  echo
  echo "Extra cost of \`-p\` (medians, over \`ports_none\`): $(awk -v a="$(med ports_p)" -v b="$(med ports_none)" 'BEGIN{printf "%.2f", a-b}') ms with no other port published, $(awk -v a="$(med ports_p_1000)" -v b="$(med ports_none_1000)" 'BEGIN{printf "%.2f", a-b}') ms with 1,000 published (over \`ports_none_1000\`); a 1,000-port range: $(awk -v a="$(med ports_range_1000)" -v b="$(med ports_none_range)" 'BEGIN{printf "%.2f", a-b}') ms (over \`ports_none_range\`). Each pair was measured in turns, the same number of containers around."
  echo
  echo "## \`run -d --network app\` as containers accumulate ($BERTH_BENCH_CONTAINERS containers)"
  echo
  echo "| containers | median ms |"
  echo "|---|---|"
  echo "$scale_rows"
} >"$BERTH_BENCH_OUT"
cat "$BERTH_BENCH_OUT"
