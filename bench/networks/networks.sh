#!/usr/bin/env bash
# bench/networks/networks.sh — what each way of joining the nodes costs: pod -> pod across nodes over
# host-gw (no encapsulation: the ceiling), vxlan (the kernel's VXLAN) and geneve (minikube-net's own
# Geneve over TAP, vnet/geneve), all in one run.
#
#   bench/networks/networks.sh [--quick]
#
# The three labs (labs/path.toml, the network line rewritten) are up at once, so every network is measured
# in the same minutes, in turn:
#   1. throughput: iperf3 client (node1) -> server (node2), 3 s a run, 4 rounds in A-B-C-C-B-A order,
#      median per network;
#   2. latency: sockperf ping-pong (UDP, one message in flight), 3 s a run, 4 rounds in the same order.
#      sockperf prints half the round trip; the table shows what a network adds to the whole round trip
#      (2 x the difference). On a shared VM a run's p50 is bimodal whatever the network (host-gw, with no
#      pump at all, shows it too): ~5-15 us, or ~35-50 us when the wake-ups of that run cross to a halted
#      vCPU. The verdict compares each network's lowest p50 over the rounds (what the path costs), and the
#      table shows the median and every round.
# Targets (issue "network = geneve"): geneve >= 0.5x vxlan in throughput; geneve adds <= 30 us to a UDP
# round trip at p50 against vxlan. --quick: 1 s runs, 2 rounds.
#
# Runs only inside ci/sandbox.sh (it re-executes itself there). Needs root. Every wait has a deadline, every
# load is bounded in time, every process it starts is stopped by PID (the labs' own are minikube-net's).
# Environment: MKN_BIN (default build/minikube-net), BENCH_OUT (default a fresh /tmp/mkn-bench-networks.*).
# Exit status: 0 when every target is met, 3 when one is missed, 1 on an error.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/networks"
BENCH=bench/networks
. "$ROOT/bench/lib.sh"
bench_sandbox "$@"
QUICK=0
[[ "${1:-}" == --quick ]] && QUICK=1
T=3 ROUNDS=4
((QUICK)) && T=1 ROUNDS=2
MKN=${MKN_BIN:-$ROOT/build/minikube-net}
[[ -x "$MKN" ]] || { echo "bench/networks: no $MKN: build first (cmake --build build -j2)" >&2; exit 1; }
OUT=${BENCH_OUT:-$(mktemp -d /tmp/mkn-bench-networks.XXXXXX)}
mkdir -p "$OUT"
cp "$MKN" "$OUT/minikube-net"  # a rebuild during the run cannot change what is measured
MKN="$OUT/minikube-net"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
NETWORKS=(host-gw vxlan geneve)

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
cluster() { echo "nb-${1/-/}"; }  # nb-hostgw, nb-vxlan, nb-geneve
RESULTS=()
MISSED=0
verdict() {  # verdict NAME MEASURED OK(0/1)
  local v=PASS
  [[ "$3" == 1 ]] || { v=MISS; MISSED=1; }
  RESULTS+=("$1|$2|$v")
}
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for n in "${NETWORKS[@]}"; do "$MKN" down "$(cluster "$n")" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

echo "bench/networks: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "minikube-net: $("$MKN" --version 2>/dev/null | head -1 || echo '?'), tree at $COMMIT"

declare -A SERVER
for n in "${NETWORKS[@]}"; do
  c=$(cluster "$n")
  sed -e "0,/^name = .*/s//name = \"$c\"/" -e "s/^network = .*/network = \"$n\"/" "$HERE/labs/path.toml" >"$OUT/$c.toml"
  "$MKN" up -d "$OUT/$c.toml" >"$OUT/up-$c.log" 2>&1 || die "up ($n) failed: $(cat "$OUT/up-$c.log")"
  SERVER[$n]=$("$MKN" get pods -c "$c" | awk '$1=="server" {print $3}')
  ip netns exec "mkn-$c-server" iperf3 -s -p 5201 >"$OUT/iperf3-$c.log" 2>&1 &
  PIDS+=($!)
  ip netns exec "mkn-$c-server" sockperf server -p 11111 >"$OUT/sockperf-$c.log" 2>&1 &
  PIDS+=($!)
  wait_for 10 bash -c "ip netns exec mkn-$c-server ss -ltn | grep -q ':5201 ' && ip netns exec mkn-$c-server ss -lun | grep -q ':11111 '" ||
    die "$n: iperf3/sockperf did not start in the server pod"
done

gbps() {  # gbps NETWORK
  local c
  c=$(cluster "$1")
  timeout $((T + 20)) ip netns exec "mkn-$c-client" iperf3 -c "${SERVER[$1]}" -t "$T" -J 2>/dev/null |
    awk -F'[:,]' '/"sum_received"/ {r=1} r && /"bits_per_second"/ {printf "%.2f\n", $2/1e9; exit}'
}
p50() {  # p50 NETWORK: half round trip, usec
  local c
  c=$(cluster "$1")
  timeout $((T + 20)) ip netns exec "mkn-$c-client" sockperf pp -i "${SERVER[$1]}" -p 11111 -t "$T" 2>&1 |
    awk '/percentile 50.000/ {print $NF; exit}'
}
order=("${NETWORKS[@]}")
reversed=()
for ((i = ${#NETWORKS[@]} - 1; i >= 0; i--)); do reversed+=("${NETWORKS[i]}"); done
declare -A TPS LATS
for ((r = 0; r < ROUNDS; r++)); do
  if ((r % 2)); then seq=("${reversed[@]}"); else seq=("${order[@]}"); fi
  for n in "${seq[@]}"; do
    v=$(gbps "$n"); [[ -n "$v" ]] || die "$n: no iperf3 result"
    TPS[$n]+="$v "
    log "iperf3 round $((r + 1)) $n: $v Gb/s"
  done
done
for ((r = 0; r < 4; r++)); do
  if ((r % 2)); then seq=("${reversed[@]}"); else seq=("${order[@]}"); fi
  for n in "${seq[@]}"; do
    v=$(p50 "$n"); [[ -n "$v" ]] || die "$n: no sockperf result"
    LATS[$n]+="$v "
    log "sockperf round $((r + 1)) $n: p50 $v us (half round trip)"
  done
done
"$MKN" get overlay -c "$(cluster geneve)" >"$OUT/overlay.txt" || true

echo
printf '%-10s %-26s %7s %8s\n' network "iperf3 runs (Gb/s)" median "vs vxlan"
declare -A TP LAT MED
for n in "${NETWORKS[@]}"; do
  TP[$n]=$(tr ' ' '\n' <<<"${TPS[$n]}" | grep . | median)
  LAT[$n]=$(tr ' ' '\n' <<<"${LATS[$n]}" | grep . | sort -g | head -1)
  MED[$n]=$(tr ' ' '\n' <<<"${LATS[$n]}" | grep . | median)
done
for n in "${NETWORKS[@]}"; do
  printf '%-10s %-26s %7s %7sx\n' "$n" "${TPS[$n]}" "${TP[$n]}" "$(ratio "${TP[$n]}" "${TP[vxlan]}")"
done
echo
printf '%-10s %-34s %8s %8s %14s\n' network "sockperf p50 runs (us, half RTT)" lowest median "RTT vs vxlan"
for n in "${NETWORKS[@]}"; do
  printf '%-10s %-34s %8s %8s %+11.1f us\n' "$n" "${LATS[$n]}" "${LAT[$n]}" "${MED[$n]}" \
    "$(awk -v a="${LAT[$n]}" -v b="${LAT[vxlan]}" 'BEGIN {print 2 * (a - b)}')"
done
echo
echo "the geneve pump's counters over the run (get overlay):"
sed 's/^/  /' "$OUT/overlay.txt"
r=$(ratio "${TP[geneve]}" "${TP[vxlan]}")
verdict "geneve throughput >= 0.5x vxlan" "${r}x" "$(awk -v r="$r" 'BEGIN {print (r >= 0.5)}')"
add=$(awk -v a="${LAT[geneve]}" -v b="${LAT[vxlan]}" 'BEGIN {printf "%.1f", 2 * (a - b)}')
verdict "geneve adds <= 30 us at p50 (RTT, lowest)" "${add} us" "$(awk -v a="$add" 'BEGIN {print (a <= 30)}')"
echo
printf '%-40s %-12s %s\n' target measured verdict
for x in "${RESULTS[@]}"; do IFS='|' read -r a b v <<<"$x"; printf '%-40s %-12s %s\n' "$a" "$b" "$v"; done
echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg); logs in $OUT"
exit $((MISSED ? 3 : 0))
