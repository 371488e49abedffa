#!/usr/bin/env bash
# bench/cni/verify.sh — how long `minikube-net verify` takes with its default settings (the targets:
# a healthy lab must pass in <= 15 s, a broken plugin must be reported in <= 30 s, so that the
# suite can run on every push).
#
#   bench/cni/verify.sh [--runs N] [LAB...] [-- VERIFY-ARGS...]
#
# Runs `verify LAB -o json` N times (default 3) on each lab (default: examples/cni/bridge.toml,
# examples/cni/ptp.toml and every examples/cni/broken/*.toml), with the default settings unless
# VERIFY-ARGS say otherwise, and prints per run the wall time (up, checks and down), the exit
# status, the failed checks and the slowest checks (the JSON's per-check durations); then per lab
# the range of wall times against its target. MKN_CNI_TRACE (vnet/cni/runtime.h) records every
# plugin call of every run in the output directory, for a closer look at where a check's time goes.
#
# Runs only inside ci/sandbox.sh (it re-executes itself there). Needs root.
# Environment: MKN_BIN (default build/minikube-net), BENCH_OUT (default a fresh /tmp/mkn-bench-verify.*).
# Exit status: 0 when every run met its target, 3 when one missed it, 1 on an error.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=bench/cni/verify
. "$ROOT/bench/lib.sh"
bench_sandbox "$@"
RUNS=3 LABS=() ARGS=()
while (($#)); do
  case "$1" in
  --runs) RUNS=$2; shift 2 ;;
  --) shift; ARGS=("$@"); break ;;
  -*) echo "usage: $0 [--runs N] [LAB...] [-- VERIFY-ARGS...]" >&2; exit 2 ;;
  *) LABS+=("$1"); shift ;;
  esac
done
cd "$ROOT"
((${#LABS[@]})) || LABS=(examples/cni/bridge.toml examples/cni/ptp.toml examples/cni/broken/*.toml)
MKN=${MKN_BIN:-$ROOT/build/minikube-net}
[[ -x "$MKN" ]] || die "no $MKN: build first (cmake --build build -j2 --target minikube-net)"
command -v jq >/dev/null || die "needs jq"
OUT=${BENCH_OUT:-$(mktemp -d /tmp/mkn-bench-verify.XXXXXX)}
mkdir -p "$OUT"
cp "$MKN" "$OUT/minikube-net"  # a rebuild during the run cannot change what is measured
MKN_BUILT=$(date -u -r "$MKN" +%Y-%m-%dT%H:%MZ)
MKN="$OUT/minikube-net"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "$BENCH: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "minikube-net: tree at $COMMIT, binary built $MKN_BUILT; verify args: ${ARGS[*]:-(defaults)}; $RUNS runs a lab"

miss=0
summary=""
for lab in "${LABS[@]}"; do
  name=$(basename "$lab" .toml)
  [[ $lab == */broken/* ]] && name="broken/$name"
  healthy=1 target=15
  [[ $lab == */broken/* ]] && healthy=0 target=30
  walls=()
  for ((run = 1; run <= RUNS; run++)); do
    tag="${name//\//-}.$run"
    t0=$EPOCHREALTIME
    set +e
    MKN_CNI_TRACE="$OUT/$tag.trace" "$MKN" verify "$lab" -o json "${ARGS[@]}" >"$OUT/$tag.json" 2>"$OUT/$tag.err"
    rc=$?
    set -e
    t1=$EPOCHREALTIME
    wall=$(awk -v u="$(us "$t0" "$t1")" 'BEGIN {printf "%.1f", u / 1e6}')
    walls+=("$wall")
    if ! jq -e .checks "$OUT/$tag.json" >/dev/null 2>&1; then
      echo "--- $name run $run: exit $rc in $wall s, no report: $(tail -3 "$OUT/$tag.err")"
      miss=1
      continue
    fi
    failed=$(jq -r '[.checks[] | select(.result == "fail" or .result == "error") | .id] | join(",")' "$OUT/$tag.json")
    slow=$(jq -r '[.checks | sort_by(-.duration_seconds)[:4][] | "\(.id) \(.duration_seconds * 10 | round / 10)s"] | join(", ")' "$OUT/$tag.json")
    checks=$(jq -r '.summary.duration_seconds * 10 | round / 10' "$OUT/$tag.json")
    echo "--- $name run $run: exit $rc, wall $wall s (checks $checks s), failed: ${failed:-none}; slowest: $slow"
    if ((healthy && rc != 0)) || ((!healthy && rc != 1)); then
      echo "    unexpected exit $rc"
      miss=1
    fi
    awk -v w="$wall" -v t="$target" 'BEGIN {exit !(w > t)}' && miss=1
  done
  range=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n '1p;$p' | xargs | sed 's/ / - /')
  verdict=PASS
  for w in "${walls[@]}"; do awk -v w="$w" -v t="$target" 'BEGIN {exit !(w > t)}' && verdict=MISS; done
  summary+=$(printf '%-28s %-18s <= %2d s  %s' "$name" "$range s" "$target" "$verdict")$'\n'
done
echo
printf '%-28s %-18s %-7s  %s\n' lab "wall (range)" target verdict
printf '%s' "$summary"
echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg); reports, stderr and traces in $OUT"
((miss)) && exit 3
exit 0
