# Sections of bench/compare.sh's report after the CLI timings (sourced by report.sh, which
# defines $res, $containers, systems, have, op_field, ratio, diffms, mem). Reads the result
# lines that inner.sh and net.sh write; env COMPARE_SVG (the plot) and COMPARE_OVERLAY (the
# newest overlay.sh report) if set.

# param KEY: a run parameter from the first result file that has a "params" line.
param() {
  local s v
  for s in "${systems[@]}"; do v=$(kv "$s" params "$1"); [ "$v" = - ] || { echo "$v"; return; }; done
  echo "?"
}
label() { case "$1" in berth) echo Berth ;; docker) echo Docker ;; podman) echo Podman ;; *) echo "$1" ;; esac; }
mean() { awk '{s+=$1; n++} END{if (n) printf "%.0f", s/n; else print "-"}'; }
median() { sort -n | awk '{v[NR]=$1} END{if (!NR) {print "-"; exit} printf "%.2f", (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
joined() { paste -sd, - | sed 's/,/, /g; s/^$/-/'; }
# dnsq SYS resolver|echo COLUMN: one value per dnsperf run (4 qps, 5 latency µs, 6 lost).
dnsq() { have "$1" && awk -v k="$2" -v c="$3" '$1=="dns" && $2=="qps" && $3==k && $4!="fail" {print $c}' "$res/$1.txt"; }
# kv SYS PREFIX KEY: the value of KEY=... on the first line starting with PREFIX.
kv() {
  have "$1" || { echo "-"; return; }
  awk -v p="$2" -v k="$3" 'index($0, p) == 1 { for (i = 1; i <= NF; i++) { split($i, a, "=");
    if (a[1] == k) { print a[2]; f = 1; exit } } } END{ if (!f) print "-" }' "$res/$1.txt"
}
ms() { awk -v u="$1" 'BEGIN{ if (u=="-" || u=="") print "-"; else printf "%.1f", u/1000 }'; }
# tputs SYS PATH: Gbit/s of each successful run.
tputs() { have "$1" && awk -v p="$2" '$1=="tput" && $2==p && $3!="fail" {print $3}' "$res/$1.txt"; }
tfails() { have "$1" && awk -v p="$2" '$1=="tput" && $2==p && $3=="fail" {n++} END{print n+0}' "$res/$1.txt" || echo 0; }
verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN{ if (v=="-" || v=="") print "not measured";
  else if ((dir=="le" && v+0 <= t+0) || (dir=="ge" && v+0 >= t+0)) print "met"; else print "**MISSED**" }'; }

section_dns() {
  local s q e
  echo "## Embedded DNS (items 4 and 5)"
  echo
  echo "From container c1's namespace on a user network of 10 containers (c1..c10), host tools"
  echo "run there with \`nsenter\`. Resolvers: Berth 127.0.0.11, Docker 127.0.0.11 (DNAT in the"
  echo "container's namespace to dockerd), Podman aardvark-dns on the network's gateway ($( (have podman && awk '$1=="dns" && $2=="server" {print $3}' "$res/podman.txt") || echo "not run")). The ceiling is"
  echo "\`berth-bench-dns-echo\` on 127.0.0.12 in the same namespace (a fixed answer, no lookup)."
  echo "dnsperf, 4 clients, $(param dns_seconds) s a run, $(param dns_rounds) rounds of resolver then echo; names c1..c10 (A)."
  echo "Names not the systems' own go to the sandbox's resolv.conf, 198.51.100.2, where nothing"
  echo "listens: nothing leaves the sandbox."
  echo
  echo "| system | qps per run | mean qps | mean latency µs | lost | echo mean qps (same runs) | resolver / echo | Berth / this system |"
  echo "|---|---|---|---|---|---|---|---|"
  local bq; bq=$(dnsq berth resolver 4 | mean)
  for s in "${systems[@]}"; do
    q=$(dnsq "$s" resolver 4 | mean) e=$(dnsq "$s" echo 4 | mean)
    echo "| $(label "$s") | $(dnsq "$s" resolver 4 | joined) | **$q** | $(dnsq "$s" resolver 5 | mean) | $(dnsq "$s" resolver 6 | awk '{s+=$1} END{print s+0}') | $e | $(ratio "$q" "$e") | $(ratio "$bq" "$q") |"
  done
  echo
  echo "One query at a time (\`berth-bench-dns-probe rtt\`, 5,000 queries after 200 of warm-up), µs:"
  echo
  echo "| system | resolver median | resolver p99 | echo median | echo p99 | lost |"
  echo "|---|---|---|---|---|---|"
  for s in "${systems[@]}"; do
    echo "| $(label "$s") | $(kv "$s" "dns rtt resolver" median_us) | $(kv "$s" "dns rtt resolver" p99_us) | $(kv "$s" "dns rtt echo" median_us) | $(kv "$s" "dns rtt echo" p99_us) | $(kv "$s" "dns rtt resolver" lost) |"
  done
  echo
  echo "A new name: $(param adds) times \`run -d --name addN --network dnsnet busybox sleep 1d\`; from the"
  echo "moment the CLI exits, c1 asks its resolver for addN (20 ms timeout a query, 0.2 ms pause"
  echo "after a negative answer) until an address comes back or 5 s pass"
  echo "(\`berth-bench-dns-probe appear\`). A stall over 5 s is a name that never resolved in that time."
  echo
  echo "| system | \`run -d\` median ms | resolve median ms | p99 ms | max ms | on the first query | over 1 s | over 5 s (stalls) |"
  echo "|---|---|---|---|---|---|---|---|"
  for s in "${systems[@]}"; do
    echo "| $(label "$s") | $(ms "$(kv "$s" "dns appear" run_median_us)") | $(ms "$(kv "$s" "dns appear" median_us)") | $(ms "$(kv "$s" "dns appear" p99_us)") | $(ms "$(kv "$s" "dns appear" max_us)") | $(kv "$s" "dns appear" first_try) | $(kv "$s" "dns appear" stalls) | $(kv "$s" "dns appear" failed) |"
  done
  echo
}

section_tput() {
  local p s m r row
  echo "## iperf3 through published ports (item 6)"
  echo
  echo "An iperf3 server in container \`srv\` (user network, \`-p 8080:5201\`); one TCP stream, $(param tput_seconds) s"
  echo "a run, $(param tput_rounds) rounds of the four paths, each round starting one further along. *c2c*:"
  echo "container \`cli\` → srv's address:5201 on the same bridge (the reference); *client*: a"
  echo "namespace of its own on the sandbox's uplink (198.51.100.2) → 198.51.100.1:8080; *loopback*:"
  echo "the sandbox host → 127.0.0.1:8080; *hairpin*: \`cli\` → 198.51.100.1:8080. Median Gbit/s"
  echo "(runs), and the median over the same system's c2c median. Docker: loopback and hairpin"
  echo "through \`docker-proxy\` (userland proxy on, its default)."
  echo
  echo "| path | Berth | Berth / c2c | Docker | Docker / c2c | Podman | Podman / c2c | Berth/Docker | Berth/Podman |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for p in reference client loopback hairpin; do
    row="| $([ "$p" = reference ] && echo c2c || echo "$p")" meds=()
    for s in "${systems[@]}"; do
      m=$(tputs "$s" "$p" | median) r=$(ratio "$m" "$(tputs "$s" reference | median)")
      [ "$(tfails "$s" "$p")" = 0 ] || m+=" ($(tfails "$s" "$p") failed)"
      row+=" | **$m** ($(tputs "$s" "$p" | joined)) | $r" meds+=("${m%% *}")
    done
    echo "$row | $(ratio "${meds[0]}" "${meds[1]}") | $(ratio "${meds[0]}" "${meds[2]}") |"
  done
  echo
  echo "Source address the server saw:"
  echo
  for s in "${systems[@]}"; do
    have "$s" || continue
    echo "- $(label "$s"): $(awk '$1=="tput" && $2!="server" && $3!="fail" {k=$2; if(!(k SUBSEP $5 in seen)){seen[k SUBSEP $5]=1; a[k]=a[k] (a[k]?",":"") $5}}
      END{printf "c2c %s, client %s, loopback %s, hairpin %s", a["reference"], a["client"], a["loopback"], a["hairpin"]}' "$res/$s.txt")."
  done
  echo
}

section_memory() {
  local bmax
  bmax=$(have berth && awk '$1=="scale_total"{print $2}' "$res/berth.txt")
  echo "## Memory (RSS, item 7)"
  echo
  echo "| | Berth | Docker | Podman |"
  echo "|---|---|---|---|"
  echo "| daemon idle (berthd / dockerd+containerd) | $(mem berth daemon_idle_kib) | $(mem docker daemon_idle_kib) | no daemon |"
  echo "| daemon with 50 containers | $(mem berth daemon_50_kib) | $(mem docker daemon_50_kib) | no daemon |"
  echo "| daemon with $containers containers | $(mem berth daemon_loaded_kib) | $(mem docker daemon_loaded_kib) | no daemon |"
  [ -z "$(mem berth daemon_max_kib | grep -v '^-$')" ] || echo "| daemon with ${bmax} containers (Berth alone) | $(mem berth daemon_max_kib) | | |"
  echo "| helpers with 50 containers | $(mem berth helpers_50_kib) | $(mem docker helpers_50_kib) | $(mem podman helpers_50_kib) |"
  echo "| helpers with $containers containers | $(mem berth helpers_loaded_kib) | $(mem docker helpers_loaded_kib) | $(mem podman helpers_loaded_kib) |"
  [ -z "$(mem berth helpers_max_kib | grep -v '^-$')" ] || echo "| helpers with ${bmax} containers (Berth alone) | $(mem berth helpers_max_kib) | | |"
  local row="| helpers per container (at $containers)"
  for s in "${systems[@]}"; do
    row+=" | $(have "$s" && awk -v n="$containers" '$1=="mem" && $2=="helpers_loaded_kib" && n>0 {printf "%.2f MiB", $3/1024/n; f=1} END{if(!f) print "-"}' "$res/$s.txt" || echo -)"
  done
  echo "$row |"
  echo
  echo "Helpers: berth-shim; containerd-shim(-runc-v2) + docker-proxy; conmon + aardvark-dns (one"
  echo "per host). Sampled 2 s after \`run -d\` number 50 and number $containers of the scale loop below."
  echo
}

# block_median SYS FROM TO: median ms of the scale runs FROM..TO.
block_median() {
  have "$1" || { echo "-"; return; }
  awk -v s="$2" -v e="$3" '$1=="scale" && $2>=s && $2<=e && $3!="fail" {print $3}' "$res/$1.txt" |
    sort -n | awk '{v[NR]=$1} END{if (NR) print v[int((NR+1)/2)]; else print "-"}'
}

section_scale() {
  local block start end row meds s m bmax
  [ "$containers" -gt 0 ] || return 0
  block=$(( containers / 10 > 0 ? containers / 10 : 1 ))
  echo "## \`run -d\` on one network as containers accumulate ($containers, median ms per block of $block)"
  echo
  [ -z "${COMPARE_SVG:-}" ] || { echo "Plot, every run and the median of each 10: [$(basename "$COMPARE_SVG")]($(basename "$COMPARE_SVG"))."; echo; }
  echo "Each \`run -d --name sN --network scale busybox sleep 1d\` (named, so that every system"
  echo "does the same work; Berth's generated names also go past 900 since commit 362f323)."
  echo
  echo "| containers | Berth | Docker | Podman | Berth/Docker | Berth/Podman |"
  echo "|---|---|---|---|---|---|"
  for ((start = 1; start <= containers; start += block)); do
    end=$((start + block - 1)) row="| $start-$end" meds=()
    for s in "${systems[@]}"; do m=$(block_median "$s" "$start" "$end"); meds+=("$m") row+=" | $m"; done
    echo "$row | $(ratio "${meds[0]}" "${meds[1]}") | $(ratio "${meds[0]}" "${meds[2]}") |"
  done
  echo
  bmax=$(have berth && awk '$1=="scale_total"{print $2}' "$res/berth.txt")
  if [ -n "$bmax" ] && [ "$bmax" -gt "$containers" ]; then
    echo "Berth alone, on to $bmax containers (median ms per block of 100; p95 in brackets):"
    echo
    echo "| containers | Berth median | p95 | failed |"
    echo "|---|---|---|---|"
    for ((start = 1; start <= bmax; start += 100)); do
      end=$((start + 99))
      echo "| $start-$end | $(block_median berth "$start" "$end") | $(awk -v s="$start" -v e="$end" '$1=="scale" && $2>=s && $2<=e && $3!="fail" {print $3}' "$res/berth.txt" | sort -n | awk '{v[NR]=$1} END{i=int(NR*0.95+0.5); if(i<1)i=1; print NR ? v[i] : "-"}') | $(awk -v s="$start" -v e="$end" '$1=="scale" && $2>=s && $2<=e && $3=="fail" {n++} END{print n+0}' "$res/berth.txt") |"
    done
    echo
  fi
}

section_overlay() {
  echo "## Overlay (item 8)"
  echo
  echo "Docker has overlay networks only inside Swarm (not set up here) and Podman has none, so"
  echo "there is nothing to compare with on one host."
  if [ -n "${COMPARE_OVERLAY:-}" ] && [ -f "$COMPARE_OVERLAY" ]; then
    echo "Berth's figures, quoted from \`bench/results/$(basename "$COMPARE_OVERLAY")\` (\`overlay.sh\`, three hosts):"
    echo
    grep -E '^(Means:|Target)' "$COMPARE_OVERLAY" | sed 's/^/> /'
  else
    echo "No \`bench/results/*-overlay.md\` yet: run \`bench/overlay.sh\` for Berth's figures."
  fi
  echo
}

section_targets() {
  local bn bu bb du cost sp bmax first last lo hi flat bq dq be st1 st5 p r all idle
  echo "## Targets (issue 6)"
  echo
  bn=$(op_field berth run_none 2) bu=$(op_field berth run_user 2) bb=$(op_field berth run_bridge 2)
  du=$(op_field docker run_user 2) cost=$(diffms "$bu" "$bn")
  echo "- networking cost per container ≤ 2 ms (median \`run -d\` on a user bridge minus \`--network none\`): Berth $cost ms (default bridge $(diffms "$bb" "$bn") ms) — $(verdict "$cost" 2 le)"
  echo "- \`run -d\` on a user bridge ≤ 20 ms: Berth $bu ms — $(verdict "$bu" 20 le)"
  sp=$(awk -v a="$du" -v b="$bu" 'BEGIN{ if (a=="-" || b=="-" || b+0==0) print "-"; else printf "%.1f", a/b }')
  echo "- user bridge ≥ 10x faster than Docker: ${sp}x — $(verdict "$sp" 10 ge)"
  bmax=$(have berth && awk '$1=="scale_total"{print $2}' "$res/berth.txt")
  if [ -n "$bmax" ] && [ "$bmax" -ge 20 ]; then
    # Flat: the median of the last tenth of the loop within 1.2x of the first tenth's.
    lo=$(( bmax / 10 )) hi=$(( bmax - bmax / 10 + 1 ))
    first=$(block_median berth 1 "$lo") last=$(block_median berth "$hi" "$bmax")
    flat=$(ratio "$last" "$first")
    echo "- flat attach to 1,000 containers (median of the last tenth within 1.2x of the first tenth's): Berth to $bmax, $first ms at 1-$lo, $last ms at $hi-$bmax, ratio $flat — $(verdict "$flat" 1.2 le)$([ "$bmax" -ge 1000 ] || echo " (only to $bmax: 1,000 **not measured**, use --berth-containers 1000)")"
  else
    echo "- flat attach to 1,000 containers: not measured"
  fi
  st5=$(kv berth "dns appear" failed) st1=$(kv berth "dns appear" stalls)
  echo "- zero DNS stalls (a new name not resolving within 5 s of \`run -d\` returning): Berth $st5 of $(param adds) ($st1 over 1 s) — $(verdict "$st5" 0 le)"
  bq=$(dnsq berth resolver 4 | mean) dq=$(dnsq docker resolver 4 | mean) be=$(dnsq berth echo 4 | mean)
  r=$(ratio "$bq" "$dq")
  echo "- DNS ≥ 2x Docker's qps: Berth $bq, Docker $dq qps, ${r}x — $(verdict "$r" 2 ge)"
  r=$(ratio "$bq" "$be")
  echo "- DNS ≥ 85% of the echo server's qps: Berth $bq, echo $be qps, $r — $(verdict "$r" 0.85 ge)"
  all="" ref=$(tputs berth reference | median)
  for p in client loopback hairpin; do
    r=$(ratio "$(tputs berth "$p" | median)" "$ref")
    all+="$p $r ($(verdict "$r" 0.95 ge)), "
  done
  all=${all%, }
  if [ "$ref" = - ]; then echo "- every published-port path ≥ 95% of container-to-container: not measured"
  else echo "- every published-port path ≥ 95% of container-to-container throughput: $all — $(grep -q MISSED <<<"$all" && echo "**MISSED**" || echo met)"; fi
  idle=$(have berth && awk '$1=="mem" && $2=="daemon_idle_kib" {printf "%.1f", $3/1024}' "$res/berth.txt")
  echo "- berthd idle ≤ 10 MiB: ${idle:--} MiB — $(verdict "${idle:--}" 10 le)"
  echo
  echo "Throughput and qps figures come from short runs on 2 shared cores with the load generator"
  echo "beside the server: ratios within one system's runs are the robust part; a ratio within a few"
  echo "percent of its target is within this run's noise."
  echo
  echo "Where the misses come from (profiles, made by their own scripts):"
  echo "- attach growing with the number of containers: \`bench/profile-attach.sh\` (perf of berthd"
  echo "  and its shims, early against late, per symbol), newest report in"
  echo "  \`bench/results/*-attach-profile.md\`;"
  echo "- published-port throughput: \`bench/throughput.sh --perf\` (longer runs, CPU per GB, and"
  echo "  the kernel symbols each path spends more on than container to container), newest report in"
  echo "  \`bench/results/*-throughput.md\`."
}
