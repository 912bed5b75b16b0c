# Berth adapter for bench/compare.sh (sourced inside the sandbox; see lib.sh).
sys_start() {
  mkdir -p "$work/data" "$work/exec"
  local sock="$work/exec/berth.sock"
  "$BERTH_BIN/berthd" --data-root "$work/data" --exec-root "$work/exec" -H "unix://$sock" \
    2>"$work/berthd.log" &
  daemon_pid=$!
  cli=("$BERTH_BIN/berth" -H "unix://$sock")
  wait_for "berthd's socket" test -S "$sock"
}
sys_load() { c image import "$1" busybox; }
sys_rmf() { c rm -f "$@"; }
sys_stop() {
  local ids; ids=$(c ps -aq 2>/dev/null || true)
  # shellcheck disable=SC2086 # one id per word
  [ -z "$ids" ] || c rm -f $ids >/dev/null 2>&1 || true
  kill "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
}
sys_version() { echo "Berth $(c version 2>/dev/null | awk '/Server:/{s=1} s && /Version:/{print $2; exit}') (berthd + berth-shim, no runc)"; }
sys_daemons() { echo berthd; }
sys_helpers() { echo berth-shim; }
sys_dns() { echo 127.0.0.11; } # embedded DNS in every container's namespace
