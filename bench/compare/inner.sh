#!/usr/bin/env bash
# One system's run for bench/compare.sh, inside its own sandbox (new network, mount and pid
# namespaces, made by compare.sh): everything started here dies with it.
#   inner.sh SYSTEM   with env: COMPARE_RES (results dir), COMPARE_REPS, COMPARE_CONTAINERS,
#                     COMPARE_BERTH_CONTAINERS (Berth's scale loop, >= COMPARE_CONTAINERS),
#                     COMPARE_ADDS, COMPARE_PHASES ("ops dns tput scale"), BERTH_BIN,
#                     CGROUP_PARENT, COMPARE_WORK_PARENT, COMPARE_TAR (busybox rootfs tar)
set -euo pipefail
sys=$1 res=$COMPARE_RES reps=$COMPARE_REPS containers=$COMPARE_CONTAINERS
adds=$COMPARE_ADDS phases=" ${COMPARE_PHASES:-ops dns tput scale} "
# Short, fixed runs keep the three systems under ~25 minutes together.
dns_seconds=5 dns_rounds=3 tput_seconds=3 tput_rounds=3
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/compare/lib.sh
. "$here/lib.sh"
# shellcheck source=/dev/null
. "$here/$sys.sh"
# shellcheck source=bench/compare/net.sh
. "$here/net.sh"

work=$(mktemp -d "$COMPARE_WORK_PARENT/$sys.XXXXXX")
mount -t tmpfs tmpfs "$work"
# State these systems keep under /run (netns files, locks, aardvark's config) stays here.
mount -t tmpfs tmpfs /run
mkdir -p "$work/tmp"
export TMPDIR="$work/tmp"
ip link set lo up
uplink_start
daemon_pid=""
cleanup() { sys_stop >/dev/null 2>&1 || true; cd /; umount -l "$work" 2>/dev/null || true; rmdir "$work" 2>/dev/null || true; }
trap cleanup EXIT

sys_start
sys_load "$COMPARE_TAR" >/dev/null
echo "version $(sys_version)" >>"$res/$sys.txt"
echo "load start $(cut -d' ' -f1-3 /proc/loadavg)" >>"$res/$sys.txt"
echo "params dns_seconds=$dns_seconds dns_rounds=$dns_rounds tput_seconds=$tput_seconds tput_rounds=$tput_rounds adds=$adds" >>"$res/$sys.txt"
sleep 2
read -r kb n < <(rss_kib $(sys_daemons))
echo "mem daemon_idle_kib $kb $n" >>"$res/$sys.txt"

if [[ $phases == *" ops "* ]]; then
  c network create app >/dev/null
  measure run_none c run -d --name none%i --network none busybox sleep 1d
  measure run_bridge c run -d --name def%i busybox sleep 1d
  measure run_user c run -d --name user%i --network app busybox sleep 1d
  measure run_publish c run -d --name pub%i -p %p:80 busybox sleep 1d
  measure network_create c network create net%i
  measure network_connect c network connect net%i user%i
  measure network_disconnect c network disconnect net%i user%i
  measure network_rm c network rm net%i
  measure rm_f sys_rmf user%i
  for ((i = 1; i <= reps; i++)); do sys_rmf "none$i" "def$i" "pub$i" >/dev/null 2>&1 || true; done
  c network rm app >/dev/null 2>&1 || true
fi
[[ $phases != *" dns "* ]] || phase_dns
[[ $phases != *" tput "* ]] || phase_tput

# Scale: sequential `run -d` on one network (Berth alone may go further, to
# COMPARE_BERTH_CONTAINERS); daemon and helper memory at 50 containers, at $containers and at
# the end.
mem_sample() { # LABEL
  local kb n
  sleep 2
  read -r kb n < <(rss_kib $(sys_daemons))
  echo "mem daemon_${1}_kib $kb $n" >>"$res/$sys.txt"
  read -r kb n < <(rss_kib $(sys_helpers))
  echo "mem helpers_${1}_kib $kb $n" >>"$res/$sys.txt"
}
total=$containers
[ "$sys" != berth ] || [ "${COMPARE_BERTH_CONTAINERS:-0}" -le "$containers" ] || total=$COMPARE_BERTH_CONTAINERS
if [[ $phases == *" scale "* ]] && [ "$total" -gt 0 ]; then
  c network create scale >/dev/null
  for ((i = 1; i <= total; i++)); do
    # Named: Berth's generated names run out (and its create then spins) after 900.
    echo "scale $i $(time_ms c run -d --name "s$i" --network scale busybox sleep 1d)" >>"$res/$sys.txt"
    [ "$i" != 50 ] || mem_sample 50
    [ "$i" != "$containers" ] || mem_sample loaded
  done
  [ "$total" = "$containers" ] || mem_sample max
  echo "scale_total $total" >>"$res/$sys.txt"
fi
echo "load end $(cut -d' ' -f1-3 /proc/loadavg)" >>"$res/$sys.txt"
echo "done" >>"$res/$sys.txt"
