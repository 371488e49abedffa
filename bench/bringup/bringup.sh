#!/usr/bin/env bash
# bench/bringup/bringup.sh — how fast minikube-net builds and removes a cluster, against the same
# topology built by the equivalent `ip` commands (one process a step, and batched) and by Mininet.
#
#   bench/bringup/bringup.sh [--reps N] [--no-loop] [--no-mininet]
#
# One run, in this order (docs/BENCHMARKS.md explains each row and records a run):
#   1. minikube-net, 10 nodes x 100 pods host-gw, http-echo in every pod: `up -d`, `down`; N runs (default 3),
#      median; peak RSS (VmHWM) of the cluster process; one extra run with `--workers 1`.
#   2. the plan of the same lab as a shell script, one `ip` process per step (`--no-loop` skips it: ~1 min).
#   3. the same steps batched (`ip -batch`, then `ip -n NS -batch -` per namespace; gen_scripts.awk).
#   4. iperf3 pod -> pod across nodes through a minikube-net cluster and through the script-built one, both up
#      at once, 4 runs of 3 s each in A-B-B-A order, median.
#   5. 200 hosts on one switch: minikube-net (labs/single-1x200.toml) against
#      `mn --topo single,200 --switch lxbr --controller none --test none` (`--no-mininet` skips it).
# "down" always includes the kernel's cleanup: after a variant's own teardown the bench deletes a sentinel
# namespace whose veth peer sits in the bench's namespace, and waits for that peer to vanish. The kernel frees
# namespaces in one ordered work queue, a whole batch at a time, so the peer goes only once every namespace
# released before it is gone too. The cost of that barrier on an idle kernel is printed (and included).
#
# Runs only inside ci/sandbox.sh (it re-executes itself there): a throw-away network, mount and PID namespace,
# so nothing here touches the host's network, and Mininet's process killing and sysctl writes stay inside it
# (Mininet also gets a read-only /proc/sys: its global limits such as kernel.pty.max are not netns-scoped).
# Needs root. Every wait has a deadline; every process it starts is stopped by PID.
# Environment: MKN_BIN (default build/minikube-net), BENCH_OUT (default a fresh /tmp/mkn-bench-bringup.*).
# Exit status: 0 when every target is met, 3 when a target is missed, 1 on an error.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/bringup"
BENCH=bench/bringup
. "$ROOT/bench/lib.sh"
bench_sandbox "$@"

REPS=3 LOOP=1 MININET=1
while (($#)); do
  case "$1" in
  --reps) REPS=${2:?--reps N}; shift 2 ;;
  --no-loop) LOOP=0; shift ;;
  --no-mininet) MININET=0; shift ;;
  *) echo "usage: $0 [--reps N] [--no-loop] [--no-mininet]" >&2; exit 2 ;;
  esac
done
MKN=${MKN_BIN:-$ROOT/build/minikube-net}
[[ -x "$MKN" ]] || { echo "bench/bringup: no $MKN: build first (cmake --build build -j2)" >&2; exit 1; }
OUT=${BENCH_OUT:-$(mktemp -d /tmp/mkn-bench-bringup.XXXXXX)}
mkdir -p "$OUT"
# A private copy, so a rebuild of build/ during the run cannot change what is measured.
MKN_BUILT=$(date -u -r "$MKN" +%Y-%m-%dT%H:%MZ)
cp "$MKN" "$OUT/minikube-net"
MKN="$OUT/minikube-net"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
BIG="$HERE/labs/hostgw-10x100.toml"   # cluster "bench"
ONE="$HERE/labs/single-1x200.toml"    # cluster "bench1"

# gone PID: the process has exited (a zombie not yet reaped by this PID 1 counts as exited).
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# Elapsed microseconds between two $EPOCHREALTIME stamps.
# Microseconds as seconds with 2 decimals.
secs() { printf '%d.%02d' $(($1 / 1000000)) $((($1 / 10000) % 100)); }
# ratio A B: A/B with one decimal.
ratio() { printf '%d.%d' $(($1 / $2)) $(((10 * $1 / $2) % 10)); }
# Median (of an even count: the mean of the middle two, rounded down).
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

# --- probes ---------------------------------------------------------------------------------------
# Address of pod P of cluster C from the plan (works for both the minikube-net and the script variants).
plan_ip() { awk -v ns="mkn-$2-$3" '$1=="ip" && $2=="-n" && $3==ns && $4=="addr" && $5=="add" {sub(/\/.*/,"",$6); print $6; exit}' "$1"; }
# check_cluster PLANFILE C: web-0 (node1) reaches web-1 (node2) and the last pod.
check_cluster() {
  local plan=$1 c=$2 a b z
  b=$(plan_ip "$plan" "$c" web-1)
  z=$(awk '$1=="ip" && $2=="netns" && $3=="add" {n=$4} END {print n}' "$plan"); z=${z#mkn-"$c"-}
  z=$(plan_ip "$plan" "$c" "$z")
  for a in "$b" "$z"; do
    ip netns exec "mkn-$c-web-0" ping -c1 -W2 "$a" >/dev/null || die "$c: web-0 cannot ping $a"
  done
}
check_http() {
  local c=$1 ip=$2 body
  body=$(ip netns exec "mkn-$c-web-0" curl -sS --max-time 5 "http://$ip:8080/") || die "$c: http-echo on $ip does not answer"
  grep -q "pod: web-1" <<<"$body" || die "$c: unexpected http-echo answer: $body"
}

# --- variants ------------------------------------------------------------------------------------
# mkn_run TAG LAB CLUSTER [UP FLAGS...]: sets UP_US, DOWN_US, HWM_KB, READY_MS.
mkn_run() {
  local tag=$1 lab=$2 c=$3; shift 3
  local t0 t1 t2 t3 pid
  arm_drain
  t0=$EPOCHREALTIME
  MKN_TRACE=1 "$MKN" up -d "$@" "$lab" >"$OUT/$tag.up.log" 2>&1 || die "$tag: up failed: $(tail -5 "$OUT/$tag.up.log")"
  t1=$EPOCHREALTIME
  READY_MS=$(sed -n 's/.* ready in \([0-9]*\) ms.*/\1/p' "$OUT/$tag.up.log")
  pid=$(sed -n 's/.*in the background as pid \([0-9]*\);.*/\1/p' "$OUT/$tag.up.log")
  [[ -n "$pid" ]] || die "$tag: no pid in: $(tail -3 "$OUT/$tag.up.log")"
  check_cluster "$OUT/$c.plan" "$c"
  check_http "$c" "$(plan_ip "$OUT/$c.plan" "$c" web-1)"
  HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
  t2=$EPOCHREALTIME
  "$MKN" down "$c" >"$OUT/$tag.down.log" 2>&1 || die "$tag: down failed: $(cat "$OUT/$tag.down.log")"
  drain
  t3=$EPOCHREALTIME
  wait_for 10 gone "$pid" || die "$tag: cluster process $pid still running after down"
  assert_clean "$tag"
  UP_US=$(us "$t0" "$t1") DOWN_US=$(us "$t2" "$t3")
  log "$tag: up $(secs "$UP_US") s (ready in ${READY_MS} ms), down $(secs "$DOWN_US") s, VmHWM ${HWM_KB} kB"
}
# script_run TAG UPSCRIPT DOWNSCRIPT PLAN CLUSTER: sets UP_US, DOWN_US.
script_run() {
  local tag=$1 up=$2 down=$3 plan=$4 c=$5 t0 t1 t2 t3
  arm_drain
  t0=$EPOCHREALTIME
  sh "$up" >"$OUT/$tag.up.log" 2>&1 || die "$tag: $up failed: $(tail -5 "$OUT/$tag.up.log")"
  t1=$EPOCHREALTIME
  check_cluster "$plan" "$c"
  t2=$EPOCHREALTIME
  sh "$down" >"$OUT/$tag.down.log" 2>&1 || die "$tag: $down failed: $(tail -5 "$OUT/$tag.down.log")"
  drain
  t3=$EPOCHREALTIME
  assert_clean "$tag"
  UP_US=$(us "$t0" "$t1") DOWN_US=$(us "$t2" "$t3")
  log "$tag: up $(secs "$UP_US") s, down $(secs "$DOWN_US") s"
}
# iperf_once C: Mbit/s received, web-0 (node1) -> web-1 (node2), 3 s.
iperf_once() {
  local c=$1 dst srv res mbps
  dst=$(plan_ip "$OUT/$c.plan" "$c" web-1)
  timeout 30 ip netns exec "mkn-$c-web-1" iperf3 -s -1 -p 5201 >"$OUT/iperf-s.$c.log" 2>&1 &
  srv=$!
  # Listening, checked with ss: a probe connection would use up the one-off (-1) server.
  wait_for 10 bash -c "ip netns exec mkn-$c-web-1 ss -Hltn 'sport = :5201' | grep -q 5201" || die "$c: iperf3 server did not start"
  res=$(timeout 30 ip netns exec "mkn-$c-web-0" iperf3 -c "$dst" -p 5201 -t 3 -f m) || die "$c: iperf3 failed: $res"
  wait "$srv" || true
  mbps=$(awk '/receiver/ {for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print int($(i - 1))}' <<<"$res")
  [[ -n "$mbps" ]] || die "$c: no iperf3 result: $res"
  echo "$mbps"
}

# --- 0. plans, scripts, the machine ---------------------------------------------------------------
log "output in $OUT"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
"$MKN" plan "$BIG" >"$OUT/bench.plan"
"$MKN" plan "$ONE" >"$OUT/bench1.plan"
mkdir -p "$OUT/sh" "$OUT/shtp"
awk -v out="$OUT/sh" -f "$HERE/gen_scripts.awk" "$OUT/bench.plan"
# The throughput twin: the same lab under another cluster name, so it can be up next to minikube-net's.
sed 's/^name = "bench"$/name = "benchsh"/' "$BIG" >"$OUT/benchsh.toml"
"$MKN" plan "$OUT/benchsh.toml" >"$OUT/benchsh.plan"
awk -v out="$OUT/shtp" -f "$HERE/gen_scripts.awk" "$OUT/benchsh.plan"
NS_BIG=$(wc -l <"$OUT/sh/namespaces")
STEPS_BIG=$(grep -cv -e '^#' -e '^$' -e '^set -e' "$OUT/bench.plan")
assert_clean "start"

# The barrier on an idle kernel, median of 5.
idle=()
for _ in 1 2 3 4 5; do
  arm_drain; t0=$EPOCHREALTIME; drain; t1=$EPOCHREALTIME
  idle+=("$(us "$t0" "$t1")")
done
DRAIN_US=$(median "${idle[@]}")
log "kernel-cleanup barrier on an idle kernel: $((DRAIN_US / 1000)) ms"
# What one short-lived `ip` process costs here: the unit both script baselines pay per step or namespace.
t0=$EPOCHREALTIME
for _ in $(seq 1 100); do ip -o link show lo >/dev/null; done
t1=$EPOCHREALTIME
SPAWN_US=$(($(us "$t0" "$t1") / 100))
log "one ip process: $SPAWN_US us"

# --- 1. minikube-net at 1000 pods -----------------------------------------------------------------
ups=() downs=() hwms=()
for ((r = 1; r <= REPS; r++)); do
  mkn_run "mkn-$r" "$BIG" bench
  ups+=("$UP_US") downs+=("$DOWN_US") hwms+=("$HWM_KB")
done
MKN_UP=$(median "${ups[@]}") MKN_DOWN=$(median "${downs[@]}")
MKN_UP_ALL=$(for u in "${ups[@]}"; do printf '%s ' "$(secs "$u")"; done)
MKN_DOWN_ALL=$(for u in "${downs[@]}"; do printf '%s ' "$(secs "$u")"; done)
HWM=$(printf '%s\n' "${hwms[@]}" | sort -n | tail -1)
mkn_run "mkn-w1" "$BIG" bench --workers 1
W1_UP=$UP_US W1_DOWN=$DOWN_US
# MKN_TRACE of run 1 and of the one-worker run.
# (MKN_TRACE lines come before the NODE table of `up -d`.)
for tag in mkn-1 mkn-w1; do echo "# $tag"; sed '/^NODE /,$d' "$OUT/$tag.up.log"; done >"$OUT/mkn-trace.txt"

# --- 2, 3. the plan as shell scripts --------------------------------------------------------------
LOOP_UP=0 LOOP_DOWN=0
if ((LOOP)); then
  script_run loop "$OUT/sh/loop-up.sh" "$OUT/sh/loop-down.sh" "$OUT/bench.plan" bench
  LOOP_UP=$UP_US LOOP_DOWN=$DOWN_US
fi
script_run batch "$OUT/sh/batch-up.sh" "$OUT/sh/batch-down.sh" "$OUT/bench.plan" bench
BATCH_UP=$UP_US BATCH_DOWN=$DOWN_US

# --- 4. throughput through both builds --------------------------------------------------------------
log "throughput: minikube-net cluster 'bench' and script-built 'benchsh' up side by side"
"$MKN" up -d "$BIG" >"$OUT/tp-mkn.up.log" 2>&1 || die "throughput: up failed"
sh "$OUT/shtp/batch-up.sh" >"$OUT/tp-sh.up.log" 2>&1 || die "throughput: batch script failed"
tp_mkn=() tp_sh=()
# A-B, B-A, A-B, B-A: neither build always runs first (or right after the other's server exits).
for r in 1 2 3 4; do
  if ((r % 2)); then
    v=$(iperf_once bench); tp_mkn+=("$v"); v=$(iperf_once benchsh); tp_sh+=("$v")
  else
    v=$(iperf_once benchsh); tp_sh+=("$v"); v=$(iperf_once bench); tp_mkn+=("$v")
  fi
  log "iperf3 pair $r: minikube-net ${tp_mkn[-1]} Mbit/s, script ${tp_sh[-1]} Mbit/s"
done
TP_MKN=$(median "${tp_mkn[@]}") TP_SH=$(median "${tp_sh[@]}")
"$MKN" down bench >/dev/null
sh "$OUT/shtp/batch-down.sh" >/dev/null
arm_drain; drain
assert_clean "throughput"

# --- 5. 200 hosts on one switch: minikube-net and Mininet ----------------------------------------------
ones=() oneups=() onedowns=()
for ((r = 1; r <= REPS; r++)); do
  mkn_run "mkn200-$r" "$ONE" bench1
  ones+=("$((UP_US + DOWN_US))") oneups+=("$UP_US") onedowns+=("$DOWN_US")
done
ONE_TOTAL=$(median "${ones[@]}") ONE_UP=$(median "${oneups[@]}") ONE_DOWN=$(median "${onedowns[@]}")
MN_TOTAL=0 MN_UP=0 MN_DOWN=0 MN_WHY=""
if ((MININET)); then
  if ! command -v mn >/dev/null; then
    MN_WHY="mn not installed (apt-get install mininet)"
  elif ! command -v brctl >/dev/null; then
    MN_WHY="brctl not installed: Mininet's LinuxBridge needs bridge-utils (apt-get install bridge-utils)"
  else
    log "mininet: mn --topo single,200 --switch lxbr --controller none --test none"
    arm_drain
    t0=$EPOCHREALTIME
    # Each output line stamped as it arrives: "*** Stopping" starts the teardown.
    timeout 300 unshare --mount --propagation private -- bash -c '
      mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys /proc/sys
      PYTHONUNBUFFERED=1 exec mn --topo single,200 --switch lxbr --controller none --test none' 2>&1 |
      while IFS= read -r line; do echo "$EPOCHREALTIME $line"; done >"$OUT/mininet.log" ||
      MN_WHY="mn failed: $(tail -3 "$OUT/mininet.log")"
    drain
    t2=$EPOCHREALTIME
    if [[ -z "$MN_WHY" ]]; then
      grep -q "\*\*\* Done" "$OUT/mininet.log" || MN_WHY="mn did not finish: $(tail -3 "$OUT/mininet.log")"
      t1=$(awk '$2=="***" && $3=="Stopping" {print $1; exit}' "$OUT/mininet.log")
      [[ -n "$t1" ]] || t1=$t2
      MN_TOTAL=$(us "$t0" "$t2") MN_UP=$(us "$t0" "$t1") MN_DOWN=$(us "$t1" "$t2")
      log "mininet: build $(secs "$MN_UP") s, teardown $(secs "$MN_DOWN") s"
    fi
    assert_clean "mininet"
  fi
fi

# --- report ----------------------------------------------------------------------------------------
MISSED=0
report() {
row() { printf '%-44s %10s %10s %10s %10s\n' "$@"; }
x() { if (($2 > 0)); then echo "$(ratio "$1" "$2")x"; else echo "-"; fi; }
echo
echo "bench/bringup: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)," \
  "load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "minikube-net: $("$MKN" --version), tree at $COMMIT, binary built $MKN_BUILT"
echo "lab: $BIG -> $NS_BIG namespaces, $STEPS_BIG plan steps; minikube-net median of $REPS runs"
echo "down = the variant's own teardown + the kernel-cleanup barrier (idle: $(secs "$DRAIN_US") s);" \
  "one short-lived ip process: $((SPAWN_US / 1000)).$(((SPAWN_US / 100) % 10)) ms"
echo
row "10 nodes x 100 pods, host-gw" "up (s)" "down (s)" "up ratio" "down ratio"
row "minikube-net up -d / down" "$(secs "$MKN_UP")" "$(secs "$MKN_DOWN")" "1.0x" "1.0x"
row "minikube-net --workers 1" "$(secs "$W1_UP")" "$(secs "$W1_DOWN")" "$(x "$W1_UP" "$MKN_UP")" "$(x "$W1_DOWN" "$MKN_DOWN")"
if ((LOOP)); then
  row "shell loop (plan, 1 process a step)" "$(secs "$LOOP_UP")" "$(secs "$LOOP_DOWN")" "$(x "$LOOP_UP" "$MKN_UP")" "$(x "$LOOP_DOWN" "$MKN_DOWN")"
fi
row "batched (ip -batch, ip -n NS -batch -)" "$(secs "$BATCH_UP")" "$(secs "$BATCH_DOWN")" "$(x "$BATCH_UP" "$MKN_UP")" "$(x "$BATCH_DOWN" "$MKN_DOWN")"
echo "  minikube-net runs: up $MKN_UP_ALL s; down $MKN_DOWN_ALL s"
echo
row "1 switch x 200 hosts" "up (s)" "down (s)" "total (s)" "ratio"
row "minikube-net (1 node x 200 pods)" "$(secs "$ONE_UP")" "$(secs "$ONE_DOWN")" "$(secs "$ONE_TOTAL")" "1.0x"
if ((MN_TOTAL > 0)); then
  row "mn --topo single,200 --switch lxbr" "$(secs "$MN_UP")" "$(secs "$MN_DOWN")" "$(secs "$MN_TOTAL")" "$(x "$MN_TOTAL" "$ONE_TOTAL")"
else
  echo "  Mininet: not measured: ${MN_WHY:-skipped (--no-mininet)}"
fi
echo
echo "peak RSS of the cluster process at 1000 pods (VmHWM, max of $REPS runs): $((HWM / 1024)) MB"
echo "iperf3 web-0 (node1) -> web-1 (node2), 3 s, median of 4 (ABBA order): minikube-net $TP_MKN Mbit/s, script $TP_SH Mbit/s" \
  "(runs: ${tp_mkn[*]} / ${tp_sh[*]})"
echo
printf '%-46s %-14s %s\n' "target" "measured" "verdict"
# t LABEL MEASURED CONDITION: one line of the verdict table; CONDITION is arithmetic on the results.
t() {
  local v=PASS
  if ! (($3)); then v=MISS; MISSED=1; fi
  printf '%-46s %-14s %s\n' "$1" "$2" "$v"
}
t "1000 pods up <= 2 s" "$(secs "$MKN_UP") s" "MKN_UP <= 2000000"
t "1000 pods down <= 2 s (kernel cleanup incl.)" "$(secs "$MKN_DOWN") s" "MKN_DOWN <= 2000000"
t "up >= 6x the batched script" "$(x "$BATCH_UP" "$MKN_UP")" "BATCH_UP >= 6 * MKN_UP"
if ((LOOP)); then
  t "up >= 25x the shell loop" "$(x "$LOOP_UP" "$MKN_UP")" "LOOP_UP >= 25 * MKN_UP"
fi
if ((MN_TOTAL > 0)); then
  t ">= 20x Mininet at 200 hosts (up + down)" "$(x "$MN_TOTAL" "$ONE_TOTAL")" "MN_TOTAL >= 20 * ONE_TOTAL"
fi
t "peak RSS <= 100 MB at 1000 pods" "$((HWM / 1024)) MB" "HWM <= 100 * 1024"
tp=$((TP_MKN * 100 / TP_SH))
t "iperf3 >= 0.95x the script-built path" "$(printf '%d.%02dx' $((tp / 100)) $((tp % 100)))" "TP_MKN * 100 >= 95 * TP_SH"
echo
echo "logs, generated scripts and the minikube-net trace (mkn-trace.txt) in $OUT"
}
# Written to a file first (a pipe to tee would be killed with this PID namespace's init: this script).
report >"$OUT/report.txt"
cat "$OUT/report.txt"
exit $((MISSED ? 3 : 0))
