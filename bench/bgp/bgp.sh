#!/usr/bin/env bash
# bench/bgp/bgp.sh — what network = "bgp" costs against host-gw, and how fast its routes come and go.
#
#   bench/bgp/bgp.sh [--reps N]
#
# One run, in this order (docs/BENCHMARKS.md explains each row and records a run):
#   1. throughput: iperf3 pod -> pod, node1 -> node3, through three labs up side by side:
#      host-gw (one rack, one layer-2 segment), bgp (two racks: node1 -> tor-r1 -> spine -> tor-r2 ->
#      node3) and vxlan across the same two racks; 4 runs of 3 s each, in rotating order, median.
#      Target: bgp >= 0.95 x host-gw.
#   2. convergence: labs/converge-10.toml (10 nodes in 2 racks, 13 speakers): from the start of
#      `up -d` to its return, which is once every node's kernel routes every other node's pod CIDR
#      (checked again here); N runs (default 5), median and max. Target: <= 2 s.
#   3. withdrawal: in the same lab, each run stops (SIGSTOP) the speaker of one node and `withdraw`
#      (bench/bgp/withdraw.cc) times until that node's pod CIDR is gone from the 9 other nodes'
#      kernels, then resumes it and times its return; one run per node of the lab. Target: <= 1 s.
#   4. bring-up: bench/bringup's 10 nodes x 100 pods with host-gw against the same lab with bgp on
#      two racks (labs/bgp-10x100.toml), alternating, N runs each (default 3), median `up -d` and `down`
#      (the kernel's cleanup included, as bench/bringup times it). Target: bgp <= 1.5 x host-gw.
# Runs only inside ci/sandbox.sh (it re-executes itself there). Needs root, bird2, iperf3 and the
# build's bench/bgp/withdraw. Every wait has a deadline; every process it starts is stopped by PID.
# Environment: MKN_BIN (default build/minikube-net), BENCH_OUT (default a fresh /tmp/mkn-bench-bgp.*).
# Exit status: 0 when every target is met, 3 when a target is missed, 1 on an error.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/bgp"
BENCH=bench/bgp
. "$ROOT/bench/lib.sh"
bench_sandbox "$@"

REPS_CONV=5 REPS_UP=3
while (($#)); do
  case "$1" in
  --reps) REPS_CONV=${2:?--reps N}; REPS_UP=${2}; shift 2 ;;
  *) echo "usage: $0 [--reps N]" >&2; exit 2 ;;
  esac
done
MKN=${MKN_BIN:-$ROOT/build/minikube-net}
[[ -x "$MKN" ]] || die "no $MKN: build first (cmake --build build -j2)"
MKN=$(realpath "$MKN")
WITHDRAW=$(realpath -m "$(dirname "$MKN")/bench/bgp/withdraw")
[[ -x "$WITHDRAW" ]] || die "no $WITHDRAW: build it (cmake --build build --target mkn_bench_bgp_withdraw)"
command -v bird >/dev/null || die "no bird: apt-get install bird2"
OUT=${BENCH_OUT:-$(mktemp -d /tmp/mkn-bench-bgp.XXXXXX)}
mkdir -p "$OUT"
# Work from the output directory: `down NAME` takes NAME for a lab file when a file or directory of
# that name is in the working directory, and the repository has one called bench/.
cd "$OUT" && OUT=$PWD
MKN_BUILT=$(date -u -r "$MKN" +%Y-%m-%dT%H:%MZ)
cp "$MKN" "$OUT/minikube-net"
MKN="$OUT/minikube-net"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

ms() { echo $(($1 / 1000)); }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
max() { printf '%s\n' "$@" | sort -n | tail -1; }
# ratio A B: A/B with two decimals.
ratio() { printf '%d.%02d' $(($1 / $2)) $(((100 * $1 / $2) % 100)); }
verdict() { if (("$1")); then echo PASS; else echo MISS; MISSED=1; fi; }
MISSED=0
# up_down TAG LAB CLUSTER: UP_US (up -d, to ready), DOWN_US (down and the kernel's cleanup).
up_down() {
  local tag=$1 lab=$2 c=$3 t0 t1 t2 t3
  arm_drain
  t0=$EPOCHREALTIME
  "$MKN" up -d "$lab" >"$OUT/$tag.up.log" 2>&1 || die "$tag: up failed: $(tail -5 "$OUT/$tag.up.log")"
  t1=$EPOCHREALTIME
  t2=$EPOCHREALTIME
  "$MKN" down "$c" >"$OUT/$tag.down.log" 2>&1 || die "$tag: down failed: $(cat "$OUT/$tag.down.log")"
  drain
  t3=$EPOCHREALTIME
  assert_clean "$tag"
  UP_US=$(us "$t0" "$t1") DOWN_US=$(us "$t2" "$t3")
  log "$tag: up $(ms "$UP_US") ms ($(sed -n 's/.* \(ready in [0-9]* ms\).*/\1/p' "$OUT/$tag.up.log")), down $(ms "$DOWN_US") ms"
}
pod_ip() { "$MKN" get pods -c "$1" | awk -v p="$2" '$1==p {print $3}'; }
# iperf_once C: Mbit/s received, src (node1) -> dst (node3), 3 s.
iperf_once() {
  local c=$1 dst srv res mbps
  dst=$(pod_ip "$c" dst)
  timeout 30 ip netns exec "mkn-$c-dst" iperf3 -s -1 -p 5201 >"$OUT/iperf-s.$c.log" 2>&1 &
  srv=$!
  wait_for 10 bash -c "ip netns exec mkn-$c-dst ss -Hltn 'sport = :5201' | grep -q 5201" || die "$c: iperf3 server did not start"
  res=$(timeout 30 ip netns exec "mkn-$c-src" iperf3 -c "$dst" -p 5201 -t 3 -f m) || die "$c: iperf3 failed: $res"
  wait "$srv" || true
  mbps=$(awk '/receiver/ {for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print int($(i - 1))}' <<<"$res")
  [[ -n "$mbps" ]] || die "$c: no iperf3 result: $res"
  echo "$mbps"
}

log "output in $OUT"
assert_clean start

# --- 1. throughput --------------------------------------------------------------------------------
sed -e 's/^name = "tpbgp"/name = "tphgw"/' -e 's/^network = "bgp"/network = "host-gw"/' -e '/^racks = 2/d' \
  "$HERE/labs/tp-bgp.toml" >"$OUT/tp-hgw.toml"
sed -e 's/^name = "tpbgp"/name = "tpvx"/' -e 's/^network = "bgp"/network = "vxlan"/' \
  "$HERE/labs/tp-bgp.toml" >"$OUT/tp-vx.toml"
"$MKN" up -d "$OUT/tp-hgw.toml" >"$OUT/tp-hgw.up.log" 2>&1 || die "tp host-gw: up failed"
"$MKN" up -d "$HERE/labs/tp-bgp.toml" >"$OUT/tp-bgp.up.log" 2>&1 || die "tp bgp: up failed"
"$MKN" up -d "$OUT/tp-vx.toml" >"$OUT/tp-vx.up.log" 2>&1 || die "tp vxlan: up failed"
# The bgp path really crosses the racks: five routers on the way.
ip netns exec mkn-tpbgp-src ping -c1 -W2 "$(pod_ip tpbgp dst)" | grep -q 'ttl=59' || die "tp bgp: not 5 routers to dst"
tp_hgw=() tp_bgp=() tp_vx=()
orders=("tphgw tpbgp tpvx" "tpbgp tpvx tphgw" "tpvx tphgw tpbgp" "tphgw tpvx tpbgp")
for r in 0 1 2 3; do
  for c in ${orders[$r]}; do
    v=$(iperf_once "$c")
    case $c in tphgw) tp_hgw+=("$v") ;; tpbgp) tp_bgp+=("$v") ;; tpvx) tp_vx+=("$v") ;; esac
  done
  log "throughput run $((r + 1)): host-gw ${tp_hgw[-1]}, bgp ${tp_bgp[-1]}, vxlan ${tp_vx[-1]} Mbit/s"
done
for c in tphgw tpbgp tpvx; do "$MKN" down "$c" >/dev/null; done
assert_clean throughput
TP_HGW=$(median "${tp_hgw[@]}") TP_BGP=$(median "${tp_bgp[@]}") TP_VX=$(median "${tp_vx[@]}")

# --- 2, 3. convergence and withdrawal -------------------------------------------------------------
conv=()
for ((r = 1; r <= REPS_CONV; r++)); do
  arm_drain
  t0=$EPOCHREALTIME
  "$MKN" up -d "$HERE/labs/converge-10.toml" >"$OUT/conv-$r.up.log" 2>&1 || die "converge: up failed: $(tail -5 "$OUT/conv-$r.up.log")"
  t1=$EPOCHREALTIME
  for n in $(seq 1 10); do
    [[ $(ip -n mkn-conv-node$n route show proto bird | wc -l) == 9 ]] || die "converge: node$n lacks routes at ready"
  done
  conv+=("$(us "$t0" "$t1")")
  log "convergence run $r: $(ms "${conv[-1]}") ms ($(sed -n 's/.* \(ready in [0-9]* ms\).*/\1/p' "$OUT/conv-$r.up.log"))"
  if ((r == 1)); then
    # Withdrawal, one run per node, in the first converged lab.
    wd=() back=()
    for n in $(seq 1 10); do
      pid=$(ip netns pids "mkn-conv-node$n")
      [[ $(cat "/proc/$pid/comm") == bird ]] || die "withdraw: node$n's namespace runs $(cat "/proc/$pid/comm")"
      cidr=$("$MKN" get nodes -c conv | awk -v n="node$n" '$1==n {print $3}')
      others=()
      for o in $(seq 1 10); do ((o == n)) || others+=("mkn-conv-node$o"); done
      res=$("$WITHDRAW" "$pid" "$cidr" "${others[@]}") || die "withdraw node$n: $res"
      wd+=("$(awk '{printf "%d", $2}' <<<"$res")") back+=("$(awk '{printf "%d", $4}' <<<"$res")")
      log "withdrawal node$n: $res"
    done
  fi
  "$MKN" down conv >/dev/null
  drain
  assert_clean converge
done
CONV_MED=$(median "${conv[@]}") CONV_MAX=$(max "${conv[@]}")
WD_MED=$(median "${wd[@]}") WD_MAX=$(max "${wd[@]}") BACK_MED=$(median "${back[@]}")

# --- 4. bring-up at 10 x 100 ------------------------------------------------------------------------
hup=() hdown=() bup=() bdown=()
for ((r = 1; r <= REPS_UP; r++)); do
  up_down "hostgw-$r" "$ROOT/bench/bringup/labs/hostgw-10x100.toml" bench
  hup+=("$UP_US") hdown+=("$DOWN_US")
  up_down "bgp-$r" "$HERE/labs/bgp-10x100.toml" benchbgp
  bup+=("$UP_US") bdown+=("$DOWN_US")
done
H_UP=$(median "${hup[@]}") H_DOWN=$(median "${hdown[@]}") B_UP=$(median "${bup[@]}") B_DOWN=$(median "${bdown[@]}")

# --- report ---------------------------------------------------------------------------------------
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "bench/bgp at $COMMIT (binary built $MKN_BUILT), $(date -u +%Y-%m-%dT%H:%MZ), load $LOAD_START -> $LOAD_END"
  echo
  printf '%-58s %-26s %-14s %s\n' "measure" "result" "target" "verdict"
  printf '%-58s %-26s %-14s %s\n' "iperf3 pod->pod, host-gw (one rack)" "$TP_HGW Mbit/s" "" ""
  printf '%-58s %-26s %-14s %s\n' "iperf3 pod->pod, bgp across racks" "$TP_BGP Mbit/s ($(ratio "$TP_BGP" "$TP_HGW")x)" ">= 0.95x" \
    "$(verdict "100 * TP_BGP >= 95 * TP_HGW")"
  printf '%-58s %-26s %-14s %s\n' "iperf3 pod->pod, vxlan across racks" "$TP_VX Mbit/s ($(ratio "$TP_VX" "$TP_HGW")x)" "" ""
  printf '%-58s %-26s %-14s %s\n' "convergence, up to every route, 10 nodes / 2 racks (median)" "$(ms "$CONV_MED") ms (max $(ms "$CONV_MAX"))" "<= 2000 ms" \
    "$(verdict "CONV_MAX <= 2000000")"
  printf '%-58s %-26s %-14s %s\n' "withdrawal after SIGSTOP, from 9 nodes (median of 10)" "$WD_MED ms (max $WD_MAX)" "<= 1000 ms" \
    "$(verdict "WD_MAX <= 1000")"
  printf '%-58s %-26s %-14s %s\n' "back after SIGCONT (median of 10)" "$BACK_MED ms" "" ""
  printf '%-58s %-26s %-14s %s\n' "up -d, 10 x 100, host-gw (median of $REPS_UP)" "$(ms "$H_UP") ms" "" ""
  printf '%-58s %-26s %-14s %s\n' "up -d, 10 x 100, bgp on 2 racks (median of $REPS_UP)" "$(ms "$B_UP") ms ($(ratio "$B_UP" "$H_UP")x)" "<= 1.5x" \
    "$(verdict "100 * B_UP <= 150 * H_UP")"
  printf '%-58s %-26s %-14s %s\n' "down, 10 x 100, host-gw / bgp (median)" "$(ms "$H_DOWN") / $(ms "$B_DOWN") ms" "" ""
  echo
  echo "throughput runs (Mbit/s): host-gw ${tp_hgw[*]}; bgp ${tp_bgp[*]}; vxlan ${tp_vx[*]}"
  echo "convergence runs (ms): $(for u in "${conv[@]}"; do printf '%s ' "$(ms "$u")"; done)"
  echo "withdrawal (ms, node1..node10): ${wd[*]}; back: ${back[*]}"
  echo "up (ms) host-gw: $(for u in "${hup[@]}"; do printf '%s ' "$(ms "$u")"; done); bgp: $(for u in "${bup[@]}"; do printf '%s ' "$(ms "$u")"; done)"
} | tee "$OUT/report.txt"
((MISSED)) && exit 3
exit 0
