#!/usr/bin/env bash
# bench/cni/cni.sh — ADD then DEL of 1000 pods on 10 nodes with the Debian bridge + host-local
# plugins through minikube-net's CNI runtime (vnet/cni), against the shell loop users write today,
# and against the plugin spawned directly, to see what the runtime adds to each call.
#
#   bench/cni/cni.sh [--quick] [--abba]
#
# One run, in this order (docs/BENCHMARKS.md explains each row and records a run):
#   1. loop (loop.sh): per pod `ip netns add`, `ip netns exec NODE env CNI_COMMAND=ADD ... bridge < conf`;
#      then per pod DEL and `ip netns del`; sequential, as users script it.
#   2. direct (direct.cc): the same plugin, configs and pods spawned with posix_spawn from one
#      process per node, nodes in parallel as minikube-net runs them: the plugin's own run time per
#      call under the same concurrency, without any runtime around it.
#   3. minikube-net, twice: `up -d labs/bridge-10x100.toml` (nodes, pods' namespaces, ADD of every
#      pod: nodes in parallel, a node's pods in order), then `down` (DEL of every attachment,
#      namespaces go), with MKN_CNI_TRACE (vnet/cni/runtime.h) recording every plugin call and chain.
#   4. direct again (direct and minikube-net A-B-B-A); with --quick or --abba the loop again (a
#      loop run takes over a minute at 1000 pods, so the full run has it once by default). A variant's
#      total is the median of its runs. Every total includes the kernel's cleanup of the
#      namespaces (a sentinel barrier, as bench/bringup does), so no variant leaves work for the next.
#   5. direct on one node's pods alone: the plugin's uncontended run time per call.
# The loop's and direct's nodes get minikube-net's node sysctls (forwarding on, IPv6 off).
# Harness overhead per call, two estimates: (a) from the trace, per node the time from its first
# chain's start to its last chain's end minus its calls' spawn-to-reap times, summed and divided by
# the calls (JSON, pipes, the result cache, and the runtime's work between two pods): the verdict; (b) median
# chain wall per call in minikube-net - median direct call (same concurrency), which also counts the
# spawn and the node's filesystem view, printed as a cross-check with its noise floor (how far the
# two runs of one variant are apart): on a shared 2-core machine that floor is several ms a call, so
# (b) cannot resolve a 1 ms budget (docs/BENCHMARKS.md).
# --quick: 200 pods on 4 nodes, A-B-B-A.
#
# Runs only inside ci/sandbox.sh (it re-executes itself there): every namespace, /var/lib/cni and
# the cluster state are the sandbox's. Needs root. Every wait has a deadline.
# Environment: MKN_BIN (default build/minikube-net), BENCH_OUT (default a fresh /tmp/mkn-bench-cni.*).
# Exit status: 0 when every target is met, 3 when one is missed, 1 on an error.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/cni"
BENCH=bench/cni
. "$ROOT/bench/lib.sh"
bench_sandbox "$@"
QUICK=0 ABBA=0
for a in "$@"; do
  case "$a" in
  --quick) QUICK=1 ABBA=1 ;;
  --abba) ABBA=1 ;;
  *) echo "usage: $0 [--quick] [--abba]" >&2; exit 2 ;;
  esac
done
MKN=${MKN_BIN:-$ROOT/build/minikube-net}
DIRECT="$ROOT/build/bench/cni/direct"
PLUGIN=/usr/lib/cni/bridge
for b in "$MKN" "$DIRECT" "$PLUGIN"; do
  [[ -x "$b" ]] || { echo "bench/cni: no $b: build first (cmake --build build -j2 --target minikube-net mkn_bench_cni_direct)" >&2; exit 1; }
done
OUT=${BENCH_OUT:-$(mktemp -d /tmp/mkn-bench-cni.XXXXXX)}
mkdir -p "$OUT/conf"
# Private copies, so a rebuild of build/ during the run cannot change what is measured.
MKN_BUILT=$(date -u -r "$MKN" +%Y-%m-%dT%H:%MZ)
cp "$MKN" "$DIRECT" "$OUT/"
MKN="$OUT/minikube-net" DIRECT="$OUT/direct"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
NODES=10 PODS=1000
((QUICK)) && NODES=4 PODS=200
LAB="$OUT/lab.toml" CLUSTER=cnibench
sed -e "s/^nodes = .*/nodes = $NODES/" -e "s/^replicas = .*/replicas = $PODS/" "$HERE/labs/bridge-10x100.toml" >"$LAB"
cp "$HERE/labs/bridge.conflist" "$OUT/"

secs() { awk -v u="$1" 'BEGIN {printf "%.2f", u / 1e6}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# --- inputs of the loop and of direct: the same per-node plugin config minikube-net renders --------
# Node i of the lab is "lp-node<i>" for them; its pods "lp-<i>-<k>", its config the lab's node<i>'s.
: >"$OUT/pods.txt"
: >"$OUT/jobs.txt"
per=$((PODS / NODES))
for ((i = 1; i <= NODES; i++)); do
  "$MKN" cni render "$LAB" --node "node$i" | jq -c '.plugins[0] + {cniVersion: .cniVersion, name: .name}' \
    >"$OUT/conf/lp-node$i.json" || die "cni render $LAB --node node$i failed"
  for ((k = 1; k <= per; k++)); do
    echo "lp-node$i lp-$i-$k" >>"$OUT/pods.txt"
    echo "lp-node$i lp-$i-$k lp-$i-$k $OUT/conf/lp-node$i.json" >>"$OUT/jobs.txt"
  done
done

echo "bench/cni: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "minikube-net: $("$MKN" --version 2>/dev/null | head -1 || echo '?'), tree at $COMMIT, binary built $MKN_BUILT"
echo "chain: $(jq -c '[.plugins[].type]' "$HERE/labs/bridge.conflist") + host-local IPAM ($PLUGIN, $(dpkg-query -W -f '${Package} ${Version}' containernetworking-plugins 2>/dev/null || echo '?'))"
echo "$PODS pods on $NODES nodes; ADD then DEL of every pod"

# --- variants ------------------------------------------------------------------------------------
declare -A TOTAL ADDW DELW
# loop_run TAG: sets TOTAL/ADDW/DELW[TAG] (µs).
loop_run() {
  local tag=$1 t0 t1 line
  log "$tag: shell loop"
  arm_drain
  t0=$EPOCHREALTIME
  line=$(unshare -m --propagation private bash "$HERE/loop.sh" "$OUT/pods.txt" "$OUT/conf" "$PLUGIN" 2>"$OUT/$tag.err") ||
    die "$tag: loop.sh failed: $(tail -5 "$OUT/$tag.err")"
  drain
  t1=$EPOCHREALTIME
  assert_clean "$tag"
  read -r _ ADDW[$tag] DELW[$tag] <<<"$line"
  TOTAL[$tag]=$(us "$t0" "$t1")
  log "$tag: total $(secs "${TOTAL[$tag]}") s (ADD $(secs "${ADDW[$tag]}") s, DEL $(secs "${DELW[$tag]}") s)"
}
# Phase wall time from a trace: first start to last end of the COMMAND chains.
trace_phase() { awk -v c="$2" '$1=="chain" && $4==c {e=$5+$6; if (s=="" || $5<s) s=$5; if (e>m) m=e} END {print m-s}' "$1"; }
# mkn_run TAG: sets TOTAL/ADDW/DELW[TAG] (µs); the trace is $OUT/trace-TAG.txt.
mkn_run() {
  local tag=$1 t0 t1 t2 t3 n a b ipb
  log "$tag: minikube-net"
  rm -f "$OUT/trace-$tag.txt"
  arm_drain
  t0=$EPOCHREALTIME
  MKN_CNI_TRACE="$OUT/trace-$tag.txt" "$MKN" up -d "$LAB" >"$OUT/$tag.up.log" 2>&1 ||
    die "$tag: up failed: $(tail -5 "$OUT/$tag.up.log")"
  t1=$EPOCHREALTIME
  n=$(awk '$1=="chain" && $4=="ADD" && $8=="ok"' "$OUT/trace-$tag.txt" | wc -l)
  ((n == PODS)) || die "$tag: $n successful ADD chains in the trace, expected $PODS"
  # Untimed check: the first pod reaches a pod on another node through the plugin's wiring.
  "$MKN" get pods -c "$CLUSTER" >"$OUT/$tag.pods.txt"
  read -r a b ipb < <(awk 'NR>1 && $3 ~ /^[0-9.]+$/ {if (!n0) {n0=$2; p0=$1} else if ($2!=n0) {print p0, $1, $3; exit}}' "$OUT/$tag.pods.txt")
  [[ -n "${ipb:-}" ]] || die "$tag: no two pods on different nodes in: $(head -3 "$OUT/$tag.pods.txt")"
  ip netns exec "mkn-$CLUSTER-$a" ping -c1 -W2 "$ipb" >/dev/null || die "$tag: pod $a cannot ping $b ($ipb)"
  t2=$EPOCHREALTIME
  MKN_CNI_TRACE="$OUT/trace-$tag.txt" "$MKN" down "$CLUSTER" >"$OUT/$tag.down.log" 2>&1 ||
    die "$tag: down failed: $(tail -5 "$OUT/$tag.down.log")"
  drain
  t3=$EPOCHREALTIME
  grep -q "DEL removed $PODS attachments" "$OUT/$tag.down.log" || die "$tag: down did not DEL $PODS attachments: $(cat "$OUT/$tag.down.log")"
  assert_clean "$tag"
  TOTAL[$tag]=$(($(us "$t0" "$t1") + $(us "$t2" "$t3")))
  ADDW[$tag]=$(trace_phase "$OUT/trace-$tag.txt" ADD)
  DELW[$tag]=$(trace_phase "$OUT/trace-$tag.txt" DEL)
  log "$tag: total $(secs "${TOTAL[$tag]}") s (up $(secs "$(us "$t0" "$t1")") s, down $(secs "$(us "$t2" "$t3")") s; ADD phase $(secs "${ADDW[$tag]}") s, DEL phase $(secs "${DELW[$tag]}") s)"
}
# direct_run TAG JOBS [--sequential]: the namespaces made (nodes with minikube-net's node sysctls)
# and removed untimed.
direct_run() {
  local tag=$1 jobs=$2 node; shift 2
  log "$tag: direct (posix_spawn) $(wc -l <"$jobs") pods $*"
  { awk '!s[$1]++ {print "netns add", $1}' "$jobs"; awk '{print "netns add", $3}' "$jobs"; } | ip -batch -
  for node in $(awk '!s[$1]++ {print $1}' "$jobs"); do
    ip netns exec "$node" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  "$DIRECT" "$PLUGIN" "$jobs" "$OUT" "$@" >"$OUT/$tag.txt" 2>"$OUT/$tag.err" || die "$tag: direct failed: $(head -5 "$OUT/$tag.err")"
  { awk '{print "netns del", $3}' "$jobs"; awk '!s[$1]++ {print "netns del", $1}' "$jobs"; } | ip -batch -
  arm_drain
  drain
  assert_clean "$tag"
  ADDW[$tag]=$(awk '$1=="phase" && $2=="ADD" {print $3}' "$OUT/$tag.txt")
  DELW[$tag]=$(awk '$1=="phase" && $2=="DEL" {print $3}' "$OUT/$tag.txt")
  log "$tag: ADD phase $(secs "${ADDW[$tag]}") s, DEL phase $(secs "${DELW[$tag]}") s"
}

# The loop, then direct and minikube-net A-B-B-A (the machine's load drifts; per-call medians
# are over both runs of each), the loop again with --abba; then the plugin alone, uncontended, on
# one node's pods.
LOOPS=(loop1)
((ABBA)) && LOOPS+=(loop2)
loop_run loop1
direct_run direct1 "$OUT/jobs.txt"
mkn_run mkn1
mkn_run mkn2
direct_run direct2 "$OUT/jobs.txt"
((ABBA)) && loop_run loop2
head -n "$per" "$OUT/jobs.txt" >"$OUT/jobs-seq.txt"
direct_run direct-seq "$OUT/jobs-seq.txt" --sequential

# --- per-call numbers ------------------------------------------------------------------------------
# med FILE AWKCOND FIELD: median of FIELD over matching lines.
med() { awk "$2 {print \$$3}" "$1" | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print 0; else print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Per command, over both minikube-net runs: median chain wall per call, median exec (spawn to reap)
# per call, and the mean of (chain wall - the sum of its calls' exec) per call.
cat "$OUT/trace-mkn1.txt" "$OUT/trace-mkn2.txt" >"$OUT/trace-both.txt"
declare -A CHAIN EXEC INNER DIR SEQ SPREAD
for c in ADD DEL; do
  CHAIN[$c]=$(awk -v c="$c" '$1=="chain" && $4==c && $8=="ok" {print $6 / $7}' "$OUT/trace-both.txt" | sort -g |
    awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
  EXEC[$c]=$(med "$OUT/trace-both.txt" "\$1==\"call\" && \$4==\"$c\"" 8)
  # Per node and run: from its first chain's start to its last chain's end, minus its children.
  INNER[$c]=$(awk -v c="$c" '$4 != c {next} {k = FILENAME " " $2}
    $1=="call" {ex += $8}
    $1=="chain" {e = $5 + $6; if (!(k in s) || $5 < s[k]) s[k] = $5; if (e > m[k]) m[k] = e; n += $7}
    END {for (k in s) span += m[k] - s[k]; printf "%.0f", (span - ex) / n}' "$OUT/trace-mkn1.txt" "$OUT/trace-mkn2.txt")
  DIR[$c]=$(cat "$OUT/direct1.txt" "$OUT/direct2.txt" | med /dev/stdin "\$1==\"call\" && \$4==\"$c\"" 5)
  SEQ[$c]=$(med "$OUT/direct-seq.txt" "\$1==\"call\" && \$4==\"$c\"" 5)
  # The noise floor of (b): how far the two runs of the same variant are apart.
  d1=$(med "$OUT/direct1.txt" "\$1==\"call\" && \$4==\"$c\"" 5) d2=$(med "$OUT/direct2.txt" "\$1==\"call\" && \$4==\"$c\"" 5)
  m1=$(awk -v c="$c" '$1=="chain" && $4==c && $8=="ok" {print $6 / $7}' "$OUT/trace-mkn1.txt" | med /dev/stdin 1 1)
  m2=$(awk -v c="$c" '$1=="chain" && $4==c && $8=="ok" {print $6 / $7}' "$OUT/trace-mkn2.txt" | med /dev/stdin 1 1)
  SPREAD[$c]=$(awk -v a="$d1" -v b="$d2" -v c="$m1" -v d="$m2" 'function abs(x) {return x < 0 ? -x : x}
    BEGIN {x = abs(a - b); y = abs(c - d); printf "%.0f", (x > y ? x : y)}')
done
CALLS=$(awk '$1=="chain" && $4=="ADD" {n += $7; c++} END {printf "%.1f", n / c}' "$OUT/trace-both.txt")
LOOP=$(median "${TOTAL[loop1]}" ${TOTAL[loop2]:+"${TOTAL[loop2]}"})
MK=$(median "${TOTAL[mkn1]}" "${TOTAL[mkn2]}")
RATIO=$(awk -v a="$LOOP" -v b="$MK" 'BEGIN {printf "%.2f", a / b}')
OVH_ADD=$(awk -v a="${CHAIN[ADD]}" -v b="${DIR[ADD]}" 'BEGIN {printf "%.0f", a - b}')
OVH_DEL=$(awk -v a="${CHAIN[DEL]}" -v b="${DIR[DEL]}" 'BEGIN {printf "%.0f", a - b}')
OVH=$(printf '%s\n' "${INNER[ADD]}" "${INNER[DEL]}" | sort -g | tail -1)
ms() { awk -v u="$1" 'BEGIN {printf "%.2f", u / 1000}'; }

echo
printf '%-46s %8s %8s %8s %8s\n' "$PODS pods, $NODES nodes (s)" total "ADD" "DEL" "per pod"
for t in "${LOOPS[@]}"; do
  printf '%-46s %8s %8s %8s %6s ms\n' "shell loop ($t)" "$(secs "${TOTAL[$t]}")" "$(secs "${ADDW[$t]}")" "$(secs "${DELW[$t]}")" "$(ms $((TOTAL[$t] / PODS)))"
done
for t in mkn1 mkn2; do
  printf '%-46s %8s %8s %8s %6s ms\n' "minikube-net up -d + down ($t)" "$(secs "${TOTAL[$t]}")" "$(secs "${ADDW[$t]}")" "$(secs "${DELW[$t]}")" "$(ms $((TOTAL[$t] / PODS)))"
done
for t in direct1 direct2; do
  printf '%-46s %8s %8s %8s %6s ms\n' "direct posix_spawn, nodes in parallel ($t)" - "$(secs "${ADDW[$t]}")" "$(secs "${DELW[$t]}")" "$(ms $(((ADDW[$t] + DELW[$t]) / PODS)))"
done
printf '%-46s %8s %8s %8s %6s ms\n' "direct posix_spawn, one node ($per pods) alone" - "$(secs "${ADDW[direct-seq]}")" "$(secs "${DELW[direct-seq]}")" "$(ms $(((ADDW[direct-seq] + DELW[direct-seq]) / per)))"
echo "(minikube-net total = up + down, nodes, namespaces and kernel cleanup included; its ADD/DEL = the CNI phases from MKN_CNI_TRACE."
echo " loop total = loop.sh + kernel cleanup; its ADD/DEL include ip netns add/del. direct: CNI phases only, namespaces made untimed.)"
echo
printf '%-52s %10s %10s\n' "per plugin call ($CALLS calls a pod), median" "ADD ms" "DEL ms"
printf '%-52s %10s %10s\n' "plugin alone, direct, sequential" "$(ms "${SEQ[ADD]}")" "$(ms "${SEQ[DEL]}")"
printf '%-52s %10s %10s\n' "plugin alone, direct, nodes in parallel" "$(ms "${DIR[ADD]}")" "$(ms "${DIR[DEL]}")"
printf '%-52s %10s %10s\n' "minikube-net: plugin spawn to reap (trace exec)" "$(ms "${EXEC[ADD]}")" "$(ms "${EXEC[DEL]}")"
printf '%-52s %10s %10s\n' "minikube-net: chain wall per call (trace)" "$(ms "${CHAIN[ADD]}")" "$(ms "${CHAIN[DEL]}")"
printf '%-52s %10s %10s\n' "harness overhead (a): node's run - its execs (trace)" "$(ms "${INNER[ADD]}")" "$(ms "${INNER[DEL]}")"
printf '%-52s %10s %10s\n' "harness overhead (b): chain - direct parallel" "$(ms "$OVH_ADD")" "$(ms "$OVH_DEL")"
printf '%-52s %10s %10s\n' "  noise floor of (b): spread between runs of a variant" "$(ms "${SPREAD[ADD]}")" "$(ms "${SPREAD[DEL]}")"

echo
printf '%-46s %-12s %s\n' target measured verdict
MISSED=0
v=PASS; awk -v r="$RATIO" 'BEGIN {exit !(r >= 2)}' || { v=MISS; MISSED=1; }
printf '%-46s %-12s %s\n' ">= 2x the shell loop (total, medians)" "${RATIO}x" "$v"
v=PASS; ((OVH <= 1000)) || { v=MISS; MISSED=1; }
printf '%-46s %-12s %s\n' "harness adds <= 1000 us a call: (a), worse of ADD/DEL" "$OVH us" "$v"
b=$(printf '%s\n' "$OVH_ADD" "$OVH_DEL" | sort -g | tail -1) n=$(printf '%s\n' "${SPREAD[ADD]}" "${SPREAD[DEL]}" | sort -g | tail -1)
printf '%-46s %-12s %s\n' "  cross-check (b), worse of ADD/DEL" "$b us" "$( ((b <= 1000)) && echo within || { ((b <= n)) && echo "over, but within the noise floor ($n us)" || echo "OVER the noise floor ($n us): look"; })"
echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg); logs and traces in $OUT"
exit $((MISSED ? 3 : 0))
