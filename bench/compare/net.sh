# Network phases of bench/compare.sh's sandboxes (sourced by inner.sh after lib.sh and the
# system's adapter): the uplink to a "remote" namespace, embedded DNS, iperf3 paths.
# No image holds the tools: host binaries run in a container's namespace with nsenter.
# Result lines (in $res/$sys.txt):
#   dns server ADDR
#   dns qps resolver|echo QPS MEAN_LATENCY_US LOST      one dnsperf run
#   dns rtt resolver|echo median_us=.. p99_us=.. ...     berth-bench-dns-probe rtt
#   dns appear median_us=.. ... stalls=.. failed=..      berth-bench-dns-probe appear
#   tput PATH GBIT/S RETRANSMITS SOURCE | tput PATH fail  one iperf3 run

# uplink_start: a "remote" namespace held by a sleeping process (it dies with the pid
# namespace), linked to the sandbox by a veth: sandbox 198.51.100.1/24, remote .2. The
# sandbox's resolv.conf names the remote, where nothing listens on 53: names the systems
# forward upstream fail at once and nothing ever leaves the sandbox.
uplink_start() {
  unshare --net -- sleep 1d &
  remote=$!
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(readlink "/proc/$remote/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.02
  done
  ip link add uplink0 type veth peer name eth0 netns "$remote"
  ip addr add 198.51.100.1/24 dev uplink0
  ip link set uplink0 up
  in_ns "$remote" ip link set lo up
  in_ns "$remote" ip addr add 198.51.100.2/24 dev eth0
  in_ns "$remote" ip link set eth0 up
  in_ns "$remote" ip route add default via 198.51.100.1
  echo "nameserver 198.51.100.2" >"$work/resolv.conf"
  mount --bind "$work/resolv.conf" /etc/resolv.conf
}

# dnsperf_run SERVER: one dnsperf run (4 clients) from $qpid's namespace; prints
# "QPS MEAN_LATENCY_US LOST" or "fail".
dnsperf_run() {
  in_ns "$qpid" timeout $((dns_seconds + 20)) dnsperf -s "$1" -d "$work/names.txt" -c 4 \
    -l "$dns_seconds" >"$work/perf.txt" 2>&1 || true
  awk '/Queries per second/{q=$4} /Average Latency/{l=$4*1e6} /Queries lost/{n=$3}
       END{if(q=="") {print "fail"; exit} printf "%.0f %.0f %s\n", q, l, n}' "$work/perf.txt"
}

# phase_dns: 10 containers on a user network; from c1's namespace dnsperf against the
# system's resolver and an echo server (alternating), one-at-a-time round trips, then
# $adds `run -d --name addN` with c1 asking for addN from the moment the command returns.
phase_dns() {
  local probe="$BERTH_BIN/berth-bench-dns-probe" i server names=() echo_pid r
  c network create dnsnet >/dev/null
  for ((i = 1; i <= 10; i++)); do
    c run -d --name "c$i" --network dnsnet busybox sleep 1d >/dev/null
    names+=("c$i"); echo "c$i A"
  done >"$work/names.txt"
  qpid=$(cpid c1) server=$(sys_dns dnsnet)
  echo "dns server $server" >>"$res/$sys.txt"
  for ((i = 0; i < 50; i++)); do
    in_ns "$qpid" "$probe" rtt "$server:53" 10 "${names[@]}" >/dev/null 2>&1 && break; sleep 0.2
  done
  if [ "$i" -ge 50 ]; then
    echo "dns: $server does not answer for c1..c10 from c1" >>"$res/$sys.errors"
    sys_rmf "${names[@]}" >/dev/null 2>&1 || true; c network rm dnsnet >/dev/null 2>&1 || true
    return 0
  fi
  # nsenter itself (not a function) in the background, so that $! is the server's pid.
  nsenter --net="/proc/$qpid/ns/net" "$BERTH_BIN/berth-bench-dns-echo" 127.0.0.12:53 &
  echo_pid=$!
  for ((i = 0; i < 50; i++)); do
    in_ns "$qpid" "$probe" rtt 127.0.0.12:53 1 x >/dev/null 2>&1 && break; sleep 0.1
  done
  # Alternating, so that load from elsewhere on the machine hits both alike.
  for ((r = 0; r < dns_rounds; r++)); do
    echo "dns qps resolver $(dnsperf_run "$server")" >>"$res/$sys.txt"
    echo "dns qps echo $(dnsperf_run 127.0.0.12)" >>"$res/$sys.txt"
  done
  echo "dns rtt resolver $(in_ns "$qpid" "$probe" rtt "$server:53" 5000 "${names[@]}" 2>&1 | tail -1)" >>"$res/$sys.txt"
  echo "dns rtt echo $(in_ns "$qpid" "$probe" rtt 127.0.0.12:53 5000 "${names[@]}" 2>&1 | tail -1)" >>"$res/$sys.txt"
  kill "$echo_pid" 2>/dev/null; wait "$echo_pid" 2>/dev/null || true
  # The CLI runs back in the sandbox's namespace (podman sets up networks in the namespace it
  # runs in); the probe times from its exit.
  if in_ns "$qpid" "$probe" appear "$server:53" "$adds" add -- nsenter --net="/proc/$$/ns/net" \
    "${cli[@]}" run -d --name '{}' --network dnsnet busybox sleep 1d >"$work/appear.txt" 2>"$work/appear.err"; then
    echo "dns $(grep '^appear ' "$work/appear.txt")" >>"$res/$sys.txt"
  else
    { echo "dns appear failed:"; tail -c 600 "$work/appear.err"; } >>"$res/$sys.errors"
  fi
  cp "$work/appear.txt" "$res/$sys.appear" 2>/dev/null || true
  # shellcheck disable=SC2046 # one name per word
  sys_rmf "${names[@]}" $(awk '$1=="add"{print $2}' "$work/appear.txt") >/dev/null 2>&1 || true
  c network rm dnsnet >/dev/null 2>&1 || true
}

# tput_run NAME ADDR PORT [PID]: one iperf3 run (in PID's namespace if given).
tput_run() {
  local name=$1 addr=$2 port=$3 j="$work/iperf.json" ns=()
  [ -z "${4:-}" ] || ns=(nsenter --net="/proc/$4/ns/net")
  if ! timeout $((tput_seconds + 20)) "${ns[@]}" iperf3 -c "$addr" -p "$port" -t "$tput_seconds" \
    --connect-timeout 3000 -J >"$j" 2>/dev/null || [ -n "$(jq -r '.error // empty' "$j" 2>/dev/null)" ]; then
    echo "tput $name fail" >>"$res/$sys.txt"
    echo "iperf3 $name to $addr:$port: $(jq -r '.error // "no JSON"' "$j" 2>/dev/null || echo "no JSON")" >>"$res/$sys.errors"
    return 0
  fi
  # The server's log names every accepted connection; the latest is this run's.
  echo "tput $name $(jq -r '.end.sum_received.bits_per_second / 1e9 | . * 100 | round / 100' "$j") \
$(jq -r '.end.sum_sent.retransmits // 0' "$j") \
$(awk '/Accepted connection from/{s=$4} END{sub(/,$/, "", s); print s}' "$work/iperf-server.log")" >>"$res/$sys.txt"
}

# phase_tput: iperf3 server in container srv (user network, -p 8080:5201); single-stream TCP
# on four paths, $tput_rounds rounds rotating the order, $tput_seconds s a run.
phase_tput() {
  local spid cli_pid srv_ip server i r k n
  c network create tputnet >/dev/null
  c run -d --name srv --network tputnet -p 8080:5201 busybox sleep 1d >/dev/null
  c run -d --name cli --network tputnet busybox sleep 1d >/dev/null
  spid=$(cpid srv) cli_pid=$(cpid cli)
  srv_ip=$(in_ns "$spid" ip -4 -o addr show dev eth0 | awk '{split($4,a,"/"); print a[1]; exit}')
  nsenter --net="/proc/$spid/ns/net" iperf3 -s -p 5201 --forceflush >"$work/iperf-server.log" 2>&1 &
  server=$!
  for ((i = 0; i < 50; i++)); do grep -q "Server listening" "$work/iperf-server.log" 2>/dev/null && break; sleep 0.1; done
  local -A addr=([reference]=$srv_ip [client]=198.51.100.1 [loopback]=127.0.0.1 [hairpin]=198.51.100.1)
  local -A port=([reference]=5201 [client]=8080 [loopback]=8080 [hairpin]=8080)
  local -A pid=([reference]=$cli_pid [client]=$remote [loopback]="" [hairpin]=$cli_pid)
  local paths=(reference client loopback hairpin)
  echo "tput server $srv_ip" >>"$res/$sys.txt"
  for ((r = 0; r < tput_rounds; r++)); do
    for k in 0 1 2 3; do
      n=${paths[$(((r + k) % 4))]}
      tput_run "$n" "${addr[$n]}" "${port[$n]}" "${pid[$n]}"
    done
  done
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true
  sys_rmf srv cli >/dev/null 2>&1 || true
  c network rm tputnet >/dev/null 2>&1 || true
}
