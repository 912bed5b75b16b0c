#!/usr/bin/env bash
# One system's run for bench/compare.sh, inside its own sandbox (new network, mount and pid
# namespaces, made by compare.sh): everything started here dies with it.
#   inner.sh SYSTEM   with env: COMPARE_RES (results dir), COMPARE_REPS, COMPARE_CONTAINERS,
#                     BERTH_BIN, CGROUP_PARENT, COMPARE_WORK_PARENT, COMPARE_TAR (busybox rootfs tar)
set -euo pipefail
sys=$1 res=$COMPARE_RES reps=$COMPARE_REPS containers=$COMPARE_CONTAINERS
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/compare/lib.sh
. "$here/lib.sh"
# shellcheck source=/dev/null
. "$here/$sys.sh"

work=$(mktemp -d "$COMPARE_WORK_PARENT/$sys.XXXXXX")
mount -t tmpfs tmpfs "$work"
# State these systems keep under /run (netns files, locks, aardvark's config) stays here.
mount -t tmpfs tmpfs /run
mkdir -p "$work/tmp"
export TMPDIR="$work/tmp"
ip link set lo up
daemon_pid=""
cleanup() { sys_stop >/dev/null 2>&1 || true; cd /; umount -l "$work" 2>/dev/null || true; rmdir "$work" 2>/dev/null || true; }
trap cleanup EXIT

sys_start
sys_load "$COMPARE_TAR" >/dev/null
echo "version $(sys_version)" >>"$res/$sys.txt"
sleep 2
read -r kb n < <(rss_kib $(sys_daemons))
echo "mem daemon_idle_kib $kb $n" >>"$res/$sys.txt"

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

# Scale: $containers sequential `run -d` on one network; memory with all of them running.
if [ "$containers" -gt 0 ]; then
  c network create scale >/dev/null
  for ((i = 1; i <= containers; i++)); do
    echo "scale $i $(time_ms c run -d --network scale busybox sleep 1d)" >>"$res/$sys.txt"
  done
  sleep 2
  read -r kb n < <(rss_kib $(sys_daemons))
  echo "mem daemon_loaded_kib $kb $n" >>"$res/$sys.txt"
  read -r kb n < <(rss_kib $(sys_helpers))
  echo "mem helpers_kib $kb $n" >>"$res/$sys.txt"
fi
echo "done" >>"$res/$sys.txt"
