#!/usr/bin/env bash
# bench/trace/trace.sh — how long `minikube-net trace` takes for a cross-node pod -> ClusterIP path, the
# whole command as a user runs it (process start, state and lab read, sockets opened in every
# namespace, the probe, every hop seen there and back, the kernel's reasons read), against the
# reference a person would otherwise use in the same run: a tcpdump per hop of the same path, started
# by hand in the background (`ip netns exec NS tcpdump -i IF -c 1 FILTER`), each waited for until it
# listens, then one connection, then every tcpdump waited for until it saw its packet.
#
#   bench/trace/trace.sh [RUNS]       (default 20 per proxy mode)
#
# The lab is examples/services (client on node1; web-0 and web-2 on node2, web-1 on node1), in each
# proxy mode (ebpf: the probe a connect() from the cluster's cgroup). Round-robin sends two traces in
# three across nodes (ebpf picks at random: about as many); only those are counted (the JSON names
# the endpoint). Reported: median, p90 and max wall time of trace, the reference's median, and
# their ratio. Target (issue 17): a cross-node pod -> ClusterIP trace completes in <= 300 ms.
# Exit 0 when met, 3 when missed, 1 on error. Runs only inside ci/sandbox.sh (re-executes itself
# there); needs root; every wait has a deadline; every process it starts is stopped by PID.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=bench/trace
. "$ROOT/bench/lib.sh"
bench_sandbox "$@"
N=${1:-20}
MKN=${MKN_BIN:-$ROOT/build/minikube-net}
[[ -x "$MKN" ]] || die "no $MKN: build first"
OUT=${BENCH_OUT:-$(mktemp -d /tmp/mkn-bench-trace.XXXXXX)}
mkdir -p "$OUT"
C=svc

now_us() { echo $(($(date +%s%N) / 1000)); }
# Percentile P of the numbers on stdin.
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int((NR-1)*p/100)+1; print a[i]}'; }

# The reference: a tcpdump on each interface the cross-node request crosses (node2 side for web-0),
# started by hand, then one curl; done when every tcpdump has its packet.
reference() {
  local web0=$1 pids=() i=0 t0 t1
  local hops=(client:eth0 node1:cbr0 node1:vxlan0 node1:eth0 underlay:node1 underlay:node2 node2:eth0
    node2:vxlan0 node2:cbr0 web-0:eth0)
  t0=$(now_us)
  for h in "${hops[@]}"; do
    local obj=${h%%:*} ifc=${h#*:}
    ip netns exec mkn-$C-$obj tcpdump -n -l -c 1 -i "$ifc" "tcp port 8080 or tcp port 80 or udp port 4789" \
      >"$OUT/ref-$i.out" 2>"$OUT/ref-$i.err" &
    pids+=($!)
    i=$((i + 1))
  done
  for ((i = 0; i < ${#hops[@]}; i++)); do
    wait_for 10 grep -q "listening on" "$OUT/ref-$i.err" || die "tcpdump $i did not start"
  done
  ip netns exec mkn-$C-client curl -s -m 2 -o /dev/null "http://$web0:8080/" || die "curl to web-0"
  for p in "${pids[@]}"; do wait "$p" || die "a tcpdump saw nothing"; done
  t1=$(now_us)
  echo $((t1 - t0))
}

missed=0
printf '%-12s %6s %10s %10s %10s %14s %8s\n' "proxy mode" "runs" "median ms" "p90 ms" "max ms" "tcpdump x10 ms" "ratio"
for mode in userspace nftables ebpf; do
  sed "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" "$ROOT/examples/services/lab.toml" >"$OUT/lab-$mode.toml"
  "$MKN" up -d "$OUT/lab-$mode.toml" >/dev/null 2>&1
  trap '"$MKN" down $C >/dev/null 2>&1 || true' EXIT
  web0=$("$MKN" get pods -c $C | awk '$1=="web-0" {print $3}')
  : >"$OUT/mkn-$mode"
  runs=0
  for ((k = 0; k < N * 3 / 2 + 3 && runs < N; k++)); do
    t0=$(now_us)
    "$MKN" trace client svc/web -o json >"$OUT/t.json" || die "trace failed: $(cat "$OUT/t.json")"
    t1=$(now_us)
    grep -q '"endpoint": "web-[02]"' "$OUT/t.json" || continue # same node: not counted
    echo $((t1 - t0)) >>"$OUT/mkn-$mode"
    runs=$((runs + 1))
  done
  : >"$OUT/ref-$mode"
  for ((k = 0; k < 5; k++)); do reference "$web0" >>"$OUT/ref-$mode"; done
  med=$(pct 50 <"$OUT/mkn-$mode")
  p90=$(pct 90 <"$OUT/mkn-$mode")
  max=$(pct 100 <"$OUT/mkn-$mode")
  ref=$(pct 50 <"$OUT/ref-$mode")
  printf '%-12s %6s %10.1f %10.1f %10.1f %14.1f %8.2f\n' "$mode" "$runs" "$(bc -l <<<"$med/1000")" \
    "$(bc -l <<<"$p90/1000")" "$(bc -l <<<"$max/1000")" "$(bc -l <<<"$ref/1000")" "$(bc -l <<<"$med/$ref")"
  ((max <= 300000)) || missed=1
  "$MKN" down $C >/dev/null
  trap - EXIT
done
((missed == 0)) && echo "target met: every cross-node pod -> ClusterIP trace within 300 ms" ||
  { echo "target missed: a trace took over 300 ms"; exit 3; }
