# Sourced by the benchmark scripts, inside their sandbox (never run on its own).
#
# berthd_up BIN STATE: starts BIN/berthd with its data and exec roots under STATE (a directory
# inside the sandbox's tmpfs), waits for its socket, and imports the busybox image from
# scripts/busybox-image.sh. Sets $daemon (berthd's pid, killed when the script exits) and
# defines b(), the berth CLI talking to it. The berthd log is STATE/berthd.log.
berthd_up() {
  local bench_bin=$1 state=$2
  mkdir -p "$state/data" "$state/exec"
  local sock="$state/exec/berth.sock"
  "$bench_bin/berthd" --data-root "$state/data" --exec-root "$state/exec" -H "unix://$sock" \
    2>"$state/berthd.log" &
  daemon=$!
  trap 'kill "$daemon" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
  [ -S "$sock" ] || { echo "berthd did not start: $(tail -5 "$state/berthd.log")" >&2; exit 1; }
  berth_sock=$sock berth_bin=$bench_bin
  b() { "$berth_bin/berth" -H "unix://$berth_sock" "$@"; }
  "$(dirname "${BASH_SOURCE[0]}")/../scripts/busybox-image.sh" "$state/busybox.tar" >/dev/null
  b image import "$state/busybox.tar" busybox >/dev/null
}
