# Shared helpers for bench/compare.sh's sandboxes (sourced, never run).
# Each system file (berth.sh, docker.sh, podman.sh) defines:
#   sys_start        start the daemon (if any) under $work, wait for it, set $cli (array)
#   sys_load TAR     load the busybox rootfs tar as image "busybox"
#   sys_rmf NAME...  force-remove containers (the system's `rm -f`)
#   sys_stop         remove what is left and stop the daemon
#   sys_version      one line: versions of the system and its runtime
#   sys_daemons      process names counted as "daemon" memory (space separated)
#   sys_helpers      process names counted as per-container helpers
#   sys_dns NET      the address of the embedded resolver containers on NET use

now() { date +%s%N; }
c() { "${cli[@]}" "$@"; }

# time_ms CMD...: prints the wall time in ms; on failure prints "fail" and logs stderr.
time_ms() {
  local t0 t1 err="$work/last.err"
  t0=$(now)
  if "$@" >/dev/null 2>"$err"; then
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f\n", (b-a)/1e6}'
  else
    echo "fail"
    { echo "failed: $*"; head -c 600 "$err"; echo; } >>"$res/$sys.errors"
  fi
}

# stats FILE: "min med p95 fails" over the numeric lines of FILE ("- - - n" if none).
stats() {
  local fails; fails=$(grep -c fail "$1" || true)
  grep -v fail "$1" | sort -n | awk -v f="$fails" '{v[NR]=$1}
    END{ if (NR == 0) { print "- - - " f; exit }
         i=int(NR*0.95+0.5); if(i<1)i=1; if(i>NR)i=NR
         printf "%.2f %.2f %.2f %d\n", v[1], v[int((NR+1)/2)], v[i], f }'
}

# measure NAME CMD...: runs CMD $reps times, %i replaced by the repetition and %p by
# 8080+i; appends "op NAME min med p95 fails" to the results.
measure() {
  local name=$1; shift; local f="$work/$name.txt" i; : >"$f"
  for ((i = 1; i <= reps; i++)); do
    local args=("${@//%i/$i}")
    time_ms "${args[@]//%p/$((8080 + i))}" >>"$f"
  done
  echo "op $name $(stats "$f")" >>"$res/$sys.txt"
}

# rss_kib NAME...: summed VmRSS (KiB) and count of the processes with these names
# (only this sandbox's processes are visible: the pid namespace has its own /proc).
rss_kib() {
  local total=0 n=0 p comm kb
  for p in /proc/[0-9]*; do
    comm=$(cat "$p/comm" 2>/dev/null) || continue
    case " $* " in *" $comm "*) ;; *) continue ;; esac
    kb=$(awk '/^VmRSS:/{print $2}' "$p/status" 2>/dev/null)
    total=$((total + ${kb:-0})) n=$((n + 1))
  done
  echo "$total $n"
}

# wait_for DESC CMD...: retries CMD every 0.1 s for up to 30 s.
wait_for() {
  local desc=$1 i; shift
  for ((i = 0; i < 300; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$sys: timed out waiting for $desc" >&2; return 1
}

# cpid NAME: the container's pid as the sandbox sees it (the same template works for all three).
cpid() { c inspect -f '{{.State.Pid}}' "$1"; }
# in_ns PID CMD...: runs a host binary in the network namespace of process PID.
in_ns() { local p=$1; shift; nsenter --net="/proc/$p/ns/net" "$@"; }
