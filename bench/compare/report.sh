#!/usr/bin/env bash
# Writes bench/compare.sh's markdown report from the per-system result files.
#   report.sh RESULTS_DIR REPS CONTAINERS   (markdown on stdout)
set -euo pipefail
res=$1 reps=$2 containers=$3
systems=(berth docker podman)
have() { [ -s "$res/$1.txt" ]; }
# op_field SYS OP N: field N (1 min, 2 median, 3 p95, 4 failures) of an operation, or "-".
op_field() {
  have "$1" || { echo "-"; return; }
  awk -v op="$2" -v n="$3" '$1=="op" && $2==op {print $(n+2); found=1} END{if(!found) print "-"}' "$res/$1.txt"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="-" || b=="-" || b+0==0) print "-"; else printf "%.3f", a/b }'; }
diffms() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="-" || b=="-") print "-"; else printf "%.2f", a-b }'; }
cell() { # SYS OP: "min / median / p95" (+ failures)
  local f; f=$(op_field "$1" "$2" 4)
  if [ "$f" = "-" ]; then echo "not run"; return; fi
  printf "%s / **%s** / %s" "$(op_field "$1" "$2" 1)" "$(op_field "$1" "$2" 2)" "$(op_field "$1" "$2" 3)"
  [ "$f" = 0 ] || printf " (%s failed)" "$f"
}
mem() { have "$1" && awk -v k="$2" '$1=="mem" && $2==k {printf "%.1f MiB (%d proc)", $3/1024, $4; f=1} END{if(!f) print "-"}' "$res/$1.txt" || echo "-"; }
# shellcheck source=bench/compare/report-net.sh
. "$(dirname "$0")/report-net.sh"

echo "# Berth beside Docker and Podman, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Machine: $(hostname -s), $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")."
echo "Each system ran alone in its own sandbox (new network, mount and pid namespaces, tmpfs"
echo "state), one after the other, on the same busybox image from \`scripts/busybox-image.sh\`."
echo "Wall time of each CLI command as a user sees it (CLI start + API + daemon), $reps"
echo "repetitions, in ms: min / **median** / p95. Ratios are of medians (< 1: Berth faster)."
echo
echo "Versions:"
for s in "${systems[@]}"; do
  if have "$s"; then echo "- $s: $(awk '$1=="version"{$1=""; print substr($0,2)}' "$res/$s.txt")"
  else echo "- $s: not run ($(cat "$res/$s.skip" 2>/dev/null || echo "no result"))"; fi
done
echo
echo "The machine's cores are shared with other work: load average (1, 5, 15 min) as each system"
echo "started and ended: $(for s in "${systems[@]}"; do have "$s" && awk -v s="$s" '$1=="load" {v[$2]=$3" "$4" "$5} END{if ("start" in v) printf "%s %s → %s; ", s, v["start"], v["end"]}' "$res/$s.txt"; done | sed 's/; $/./')"
echo
echo "Docker runs with its default userland proxy on: \`docker-proxy\` carries the loopback and"
echo "hairpin paths below (what its users get)."
echo
echo "| operation | Berth | Docker | Podman | Berth/Docker | Berth/Podman |"
echo "|---|---|---|---|---|---|"
ops=(run_none run_bridge run_user run_publish network_create network_connect network_disconnect network_rm rm_f)
for op in "${ops[@]}"; do
  b=$(op_field berth "$op" 2) d=$(op_field docker "$op" 2) p=$(op_field podman "$op" 2)
  echo "| \`$op\` | $(cell berth "$op") | $(cell docker "$op") | $(cell podman "$op") | $(ratio "$b" "$d") | $(ratio "$b" "$p") |"
done
echo
echo "\`run_bridge\` is the default bridge, \`run_user\` a user bridge (\`network create app\`),"
echo "\`run_publish\` the default bridge with \`-p 8080+i:80\`; \`network_connect\`/\`disconnect\` move"
echo "a running container on \`app\` onto/off a second network; \`rm_f\` removes it (podman:"
echo "\`rm -f -t 0\`, since its \`rm -f\` otherwise waits 10 s for SIGTERM)."
echo
echo "## Cost of networking (median of \`run -d\` minus median with \`--network none\`)"
echo
echo "| path | Berth | Docker | Podman |"
echo "|---|---|---|---|"
for op in run_bridge run_user run_publish; do
  row="| $op"
  for s in "${systems[@]}"; do row+=" | $(diffms "$(op_field "$s" "$op" 2)" "$(op_field "$s" run_none 2)")"; done
  echo "$row |"
done
echo
section_dns
section_tput
section_memory
section_scale
section_overlay
section_targets
for s in "${systems[@]}"; do
  if [ -s "$res/$s.errors" ]; then
    echo; echo "### $s: failed commands (first lines)"; echo; echo '```'; head -n 20 "$res/$s.errors"; echo '```'
  fi
done
