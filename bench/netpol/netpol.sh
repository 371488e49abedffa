#!/usr/bin/env bash
# bench/netpol/netpol.sh — NetworkPolicy's per-packet and per-change costs on examples/netpol (x/a on
# node1, x/b on node2, over VXLAN), each against a reference measured in the same run:
#
#   throughput  iperf3 x/b -> x/a (TCP, 3 s runs, the first second omitted), A = the 100 policies of
#               the run select no pod (node1's table is empty: checked), B = the same 100 policies
#               selecting x/a (each allowing x/b on TCP 5201: x/a's chain jumps to 100 policy
#               chains). One `apply` switches A <-> B; RUNS rounds, in A-B then B-A order
#               alternately, so drift in the machine's load falls on both sides. Reported: each
#               side's median, the median and spread of the rounds' B/A ratios. Target (issue 18):
#               B / A >= 0.95 (the median of the rounds' ratios).
#   effect      a live change's time to effect: `minikube-net apply` of a deny (the whole command, as
#               a user runs it: process, control socket, the file resolved, every node's delta
#               written), then one probe x/c -> x/a that must be dropped; then `delete netpol`, one
#               probe that must pass. Reference: the same delta written by hand with `nft -f` in
#               node1 (a process too: what the kernel's transaction costs behind one process
#               start). Target: apply returns, i.e. every node enforces the change, within 100 ms
#               (median). Also reported: the owner's own part (apply -o json's "us": the request
#               read to the last node's commit) and the command's CPU time (user + sys), which a
#               loaded machine does not inflate as it does wall time.
#
#   bench/netpol/netpol.sh [RUNS] [PAIRS]    (default 6 throughput rounds, 20 apply/delete pairs)
#
# The 1000-pod numbers (a changed policy, a scaled pod) are bench/netpol/scale.sh's.
# Exit 0 when both targets are met, 3 when one is missed, 1 on error. Runs only inside ci/sandbox.sh
# (re-executes itself there); needs root; every wait has a deadline; runs ~1.5 min.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=bench/netpol
. "$ROOT/bench/lib.sh"
bench_sandbox "$@"
RUNS=${1:-6}
N=${2:-20}
MKN=${MKN_BIN:-$ROOT/build/minikube-net}
[[ -x "$MKN" ]] || die "no $MKN: build first"
OUT=$(mktemp -d /tmp/mkn-bench-netpol.XXXXXX)
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int((NR-1)*p/100)+1; print a[i]}'; }
ms1() { echo "$(($1 / 1000)).$((($1 % 1000) / 100))"; }  # microseconds -> "12.3"
load() { cut -d' ' -f1-3 /proc/loadavg; }
# FILE of bash's `times` (run in this shell, not a subshell) -> the CPU time (user + sys,
# microseconds) of the shell's waited-for children so far.
child_cpu_us() {
  tail -1 "$1" | awk '{n = 0; for (i = 1; i <= 2; i++) {split($i, t, "m"); n += t[1] * 60 + t[2]} printf "%d\n", n * 1e6}'
}
LOAD0=$(load)

"$MKN" up -d "$ROOT/examples/netpol/lab.toml" >"$OUT/up.log" 2>&1 || die "up: $(cat "$OUT/up.log")"
srv=
trap '[[ -z $srv ]] || kill "$srv" 2>/dev/null; "$MKN" down netpol >/dev/null 2>&1 || true' EXIT
xa=$("$MKN" get pods -n x | awk '$1=="a" {print $3}')

# --- throughput: A/B interleaved -------------------------------------------------------------------
policies() {  # policies SELECTED_POD: the 100 policies, selecting pod=SELECTED_POD
  for ((i = 1; i <= 100; i++)); do
    printf '[[network_policy]]\nname = "p%d"\nnamespace = "x"\npod_selector = { match_labels = { pod = "%s" } }\n  [[network_policy.ingress]]\n  from = [{ pod_selector = { match_labels = { pod = "b" } } }]\n  ports = [{ port = 5201 }]\n' "$i" "$1"
  done
}
policies a >"$OUT/on.toml"
policies none >"$OUT/off.toml"
ip netns exec mkn-netpol-x-a iperf3 -s -p 5201 >/dev/null 2>&1 &
srv=$!
wait_for 5 bash -c "ip netns exec mkn-netpol-x-a ss -ltn | grep -q ':5201'" || die "iperf3 server"
side() {  # side A|B: switch to it (one apply), check node1's table says so
  "$MKN" apply "$OUT/$([[ $1 == A ]] && echo off || echo on).toml" >"$OUT/apply-$1.log" || die "apply $1: $(cat "$OUT/apply-$1.log")"
  local chains
  chains=$(ip netns exec mkn-netpol-node1 nft list table inet mkn-netpol | grep -c '^\s*chain ' || true)
  if [[ $1 == A ]]; then ((chains == 0)) || die "A: node1's table has $chains chains"
  else ((chains == 102)) || die "B: node1's table has $chains chains, want 102 (forward-ingress, x/a's, 100 policies')"; fi
}
iperf() {  # Mbit/s of one run x/b -> x/a
  ip netns exec mkn-netpol-x-b iperf3 -c "$xa" -p 5201 -t 3 -O 1 -J >"$OUT/iperf.json" || die "iperf3: $(tail -3 "$OUT/iperf.json")"
  python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e6))' "$OUT/iperf.json"
}
side A; iperf >/dev/null  # a first run, not counted: the path's caches and the TCP stack warm up
log "throughput, $RUNS rounds of A (100 policies selecting no pod) and B (100 selecting x/a)"
a=() b=() r=()
for ((k = 0; k < RUNS; k++)); do
  if ((k % 2 == 0)); then order="A B"; else order="B A"; fi
  for s in $order; do
    side "$s"
    v=$(iperf)
    if [[ $s == A ]]; then ta=$v; else tb=$v; fi
  done
  a+=("$ta") b+=("$tb") r+=("$(python3 -c "print('%.3f' % ($tb / $ta))")")
  log "round $((k + 1)) ($order): A $ta Mbit/s, B $tb Mbit/s, B/A ${r[-1]}"
done
kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; srv=
"$MKN" apply "$OUT/off.toml" >/dev/null
for ((i = 1; i <= 100; i++)); do echo "p$i"; done >"$OUT/names"
while read -r p; do "$MKN" delete netpol "$p" -n x >/dev/null; done <"$OUT/names"
A_MED=$(printf '%s\n' "${a[@]}" | pct 50) B_MED=$(printf '%s\n' "${b[@]}" | pct 50)
R_MED=$(printf '%s\n' "${r[@]}" | pct 50) R_MIN=$(printf '%s\n' "${r[@]}" | pct 0) R_MAX=$(printf '%s\n' "${r[@]}" | pct 100)

# --- time to effect ---------------------------------------------------------------------------------
probe() {
  ip netns exec mkn-netpol-x-c timeout 0.5 bash -c \
    "exec 3<>/dev/tcp/$xa/80 && echo hi >&3 && read -r -t 0.5 l <&3 && [[ \$l == hi ]]" 2>/dev/null
}
probe || die "x/c does not reach x/a before the deny"
log "time to effect, $N apply/delete pairs"
: >"$OUT/apply.us"; : >"$OUT/nft.us"; : >"$OUT/owner.us"; : >"$OUT/cpu.us"
for ((i = 0; i < N; i++)); do
  t0=$EPOCHREALTIME
  times >"$OUT/times0"
  "$MKN" apply -o json "$ROOT/examples/netpol/cases/deny-ingress.toml" >"$OUT/a.json" 2>/dev/null || die "apply"
  t1=$EPOCHREALTIME
  times >"$OUT/times1"
  ! probe || die "run $i: x/c still reaches x/a after apply returned"
  us "$t0" "$t1" >>"$OUT/apply.us"
  grep -o '"ok":true,"us":[0-9]*' "$OUT/a.json" | grep -o '[0-9]*$' >>"$OUT/owner.us"
  echo $(($(child_cpu_us "$OUT/times1") - $(child_cpu_us "$OUT/times0"))) >>"$OUT/cpu.us"
  "$MKN" delete netpol deny-ingress -n x >/dev/null || die "delete"
  probe || die "run $i: x/c does not reach x/a after delete returned"
done
# The reference: node1's transaction for the deny (the lab has no other policy, so apply writes its
# table whole, and delete removes it), as nft lists it, written by hand.
"$MKN" apply "$ROOT/examples/netpol/cases/deny-ingress.toml" >/dev/null 2>&1 || die "apply"
{ echo "table inet mkn-netpol"; echo "delete table inet mkn-netpol"
  ip netns exec mkn-netpol-node1 nft list table inet mkn-netpol; } >"$OUT/deny.nft"
echo "delete table inet mkn-netpol" >"$OUT/undeny.nft"
"$MKN" delete netpol deny-ingress -n x >/dev/null || die "delete"
for ((i = 0; i < N; i++)); do
  t0=$EPOCHREALTIME
  ip netns exec mkn-netpol-node1 nft -f "$OUT/deny.nft" || die "nft -f deny"
  t1=$EPOCHREALTIME
  us "$t0" "$t1" >>"$OUT/nft.us"
  ip netns exec mkn-netpol-node1 nft -f "$OUT/undeny.nft" || die "nft -f undeny"
done
a50=$(pct 50 <"$OUT/apply.us"); a90=$(pct 90 <"$OUT/apply.us"); amax=$(pct 100 <"$OUT/apply.us")
n50=$(pct 50 <"$OUT/nft.us"); o50=$(pct 50 <"$OUT/owner.us"); o90=$(pct 90 <"$OUT/owner.us")
c50=$(pct 50 <"$OUT/cpu.us")

echo "machine: $(nproc) cores, load $LOAD0 at the start, $(load) at the end, kernel $(uname -r)"
echo "throughput x/b -> x/a, $RUNS rounds (Mbit/s): A (no pod selected) ${a[*]}; B (100 policies select x/a) ${b[*]}"
echo "throughput: A median $A_MED Mbit/s, B median $B_MED Mbit/s; B/A per round: median $R_MED (min $R_MIN, max $R_MAX) (target >= 0.95)"
echo "time to effect inside the owner (request read -> every node's transaction committed, apply's answer): median $(ms1 "$o50") ms, p90 $(ms1 "$o90") ms"
echo "time to effect (apply, whole command; the next probe dropped every time): median $(ms1 "$a50") ms, p90 $((a90 / 1000)) ms, max $((amax / 1000)) ms (target <= 100 ms); CPU of the command (user + sys) median $(ms1 "$c50") ms; reference nft -f of node1's delta: median $(ms1 "$n50") ms; ratio $(python3 -c "print('%.1f' % ($a50 / max($n50, 1)))")x"
code=0
python3 -c "import sys; sys.exit(0 if $R_MED >= 0.95 else 1)" || code=3
((a50 <= 100000)) || code=3
exit $code
