#!/usr/bin/env bash
# bench/dns/dns.sh — DNS queries per second from a pod against the cluster DNS, through its Service
# (kube-dns 10.96.0.10: the lab's proxy mode translates every query), against the reference in the
# same run: the same load at the same server on the coredns pod's own address (no Service), so the
# ratio is what the Service path costs. Load: dnsperf (Debian dnsperf) in the client pod, started with
# `minikube-net exec` (in ebpf mode its socket is in the cluster's cgroup), bounded by -l SECONDS,
# a query mix of A (ClusterIP), A (headless), SRV, PTR, AAAA (NODATA) and NXDOMAIN names.
#
#   bench/dns/dns.sh [SECONDS] [MODES...]     (default 5 s; userspace nftables ebpf)
#
# Reported per mode: queries/s through the Service, queries/s to the pod, their ratio, and lost
# queries. Exit 0, or 1 on error. Runs only inside ci/sandbox.sh (re-executes itself there); needs
# root; every wait has a deadline; it stops only what it started (the lab, by `down`).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=bench/dns
. "$ROOT/bench/lib.sh"
bench_sandbox "$@"
SECS=${1:-5}
shift || true
MODES=("$@")
((${#MODES[@]})) || MODES=(userspace nftables ebpf)
MKN=${MKN_BIN:-$ROOT/build/minikube-net}
[[ -x "$MKN" ]] || die "no $MKN: build first"
command -v dnsperf >/dev/null || die "no dnsperf (apt-get install dnsperf)"
OUT=$(mktemp -d /tmp/mkn-bench-dns.XXXXXX)
cd "$ROOT"

qps() { awk '/Queries per second:/ {print $4}' "$1"; }
lost() { awk '/Queries lost:/ {print $3}' "$1"; }

for mode in "${MODES[@]}"; do
  sed -e "s/^proxy_mode = \"userspace\".*/proxy_mode = \"$mode\"/" examples/dns/lab.toml >"$OUT/lab.toml"
  "$MKN" up -d "$OUT/lab.toml" >/dev/null 2>"$OUT/up.err" || die "up ($mode): $(cat "$OUT/up.err")"
  web=$("$MKN" get svc | awk '$1=="web" {print $3}')
  rev=$(awk -F. '{print $4"."$3"."$2"."$1".in-addr.arpa"}' <<<"$web")
  dns_pod=$("$MKN" get pods -A | awk '$2=="coredns" {print $4}')
  cat >"$OUT/queries" <<Q
web.default.svc.cluster.local A
db-hl.data.svc.cluster.local A
_http._tcp.web.default.svc.cluster.local SRV
$rev PTR
web.default.svc.cluster.local AAAA
nope.default.svc.cluster.local A
Q
  for target in service pod; do
    server=10.96.0.10
    [[ $target == pod ]] && server=$dns_pod
    "$MKN" exec client -- timeout $((SECS + 20)) dnsperf -s "$server" -d "$OUT/queries" -l "$SECS" \
      -c 4 -q 200 >"$OUT/$mode-$target.txt" 2>&1 || die "dnsperf ($mode, $target): $(tail -5 "$OUT/$mode-$target.txt")"
  done
  "$MKN" down dns >/dev/null || die "down ($mode)"
  s=$(qps "$OUT/$mode-service.txt") p=$(qps "$OUT/$mode-pod.txt")
  printf '%-9s  service %10.0f q/s (lost %s)   pod %10.0f q/s (lost %s)   ratio %.2f\n' "$mode" "$s" \
    "$(lost "$OUT/$mode-service.txt")" "$p" "$(lost "$OUT/$mode-pod.txt")" "$(awk -v a="$s" -v b="$p" 'BEGIN {print a / b}')"
done
echo "dnsperf outputs: $OUT"
