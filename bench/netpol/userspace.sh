#!/usr/bin/env bash
# bench/netpol/userspace.sh — NetworkPolicy in the userspace proxy: what judging each new Service flow
# costs (lib/nat asks lib/netpol/flow_policy once per new flow, after translation). The lab is
# examples/netpol/lab.toml in proxy_mode = "userspace" with a Service x/web in front of x/a (node1);
# the client is x/b (node2), so every connection crosses node2's proxy, where the verdict is made, and
# then x/a's chain in node1. Each measure is taken with no policy (the reference, same run, before and
# after) and with 100 policies selecting x/a, each allowing x/b on TCP 80 and 5201 (the verdict walks
# every one of them: the union is what allows x/b):
#
#   new flows   connrate x/b -> ClusterIP:80 (connect, one byte echoed by tcp-echo, close; 1 s a run):
#               every connection is a new flow the proxy judges. Median of RUNS runs; the reference
#               is the median of the RUNS runs before and the RUNS after. Target (issue 18): >= 0.95.
#               Also with 1 policy: the first policy turns on what any policy costs in every proxy
#               mode (the nodes' conntrack and br_netfilter for `table inet mkn-netpol`); 100 vs 1 is
#               what the proxy's verdict adds per policy.
#   throughput  iperf3 x/b -> ClusterIP:5201 (TCP, 3 s): one flow, judged once. Target: >= 0.95.
#
#   bench/netpol/userspace.sh [RUNS]     (default 5)
#
# Exit 0 when both targets are met, 3 when one is missed, 1 on error. Runs only inside ci/sandbox.sh
# (re-executes itself there); needs root; every wait has a deadline; iperf3 servers are one-off (-1).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=bench/netpol/userspace
. "$ROOT/bench/lib.sh"
bench_sandbox "$@"
RUNS=${1:-5}
MKN=${MKN_BIN:-$ROOT/build/minikube-net}
CONNRATE="$(dirname "$MKN")/bench/services/connrate"
for b in "$MKN" "$CONNRATE"; do [[ -x "$b" ]] || die "no $b: build first (cmake --build build -j2)"; done
OUT=$(mktemp -d /tmp/mkn-bench-netpol-us.XXXXXX)
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

sed -e 's/^proxy_mode = "nftables".*/proxy_mode = "userspace"/' "$ROOT/examples/netpol/lab.toml" >"$OUT/lab.toml"
grep -q '^proxy_mode = "userspace"' "$OUT/lab.toml" || die "could not derive the userspace lab"
cat >>"$OUT/lab.toml" <<'TOML'
[[service]]
name = "web"
namespace = "x"
selector = { pod = "a" }
  [[service.port]]
  name = "echo"
  port = 80
  target_port = 80
  [[service.port]]
  name = "iperf"
  port = 5201
  target_port = 5201
TOML
"$MKN" up -d "$OUT/lab.toml" >"$OUT/up.log" 2>&1 || die "up: $(cat "$OUT/up.log")"
trap '"$MKN" down netpol >/dev/null 2>&1 || true' EXIT
vip=$("$MKN" get svc -o json | python3 -c 'import json,sys
print([s["cluster_ip"] for s in json.load(sys.stdin) if s["name"] == "x/web"][0])')

rates() {  # RUNS lines of connections per second x/b -> vip:80
  for ((i = 0; i < RUNS; i++)); do
    ip netns exec mkn-netpol-x-b "$CONNRATE" "$vip" 80 1 | awk '{print $3}'
  done
}
iperf() {  # Gbit/s of one 3 s run x/b -> vip:5201
  ip netns exec mkn-netpol-x-a iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
  local srv=$!
  wait_for 5 bash -c "ip netns exec mkn-netpol-x-a ss -ltn | grep -q ':5201'" || die "iperf3 server"
  ip netns exec mkn-netpol-x-b iperf3 -c "$vip" -p 5201 -t 3 -J >"$OUT/iperf.json" || die "iperf3"
  wait "$srv" || true
  python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e9))' "$OUT/iperf.json"
}

policy() {  # policy I: a policy selecting x/a that allows x/b on TCP 80 and 5201
  printf '[[network_policy]]\nname = "p%d"\nnamespace = "x"\npod_selector = { match_labels = { pod = "a" } }\n  [[network_policy.ingress]]\n  from = [{ pod_selector = { match_labels = { pod = "b" } } }]\n  ports = [{ port = 80 }, { port = 5201 }]\n' "$1"
}
log "no policy: $RUNS connrate runs, iperf3"
rates >"$OUT/r0"
g0=$(iperf)
policy 1 >"$OUT/1.toml"
"$MKN" apply "$OUT/1.toml" >"$OUT/apply1.log" || die "apply 1: $(cat "$OUT/apply1.log")"
log "1 policy selecting x/a: $RUNS connrate runs"
rates >"$OUT/r1"
for ((i = 2; i <= 100; i++)); do policy "$i"; done >"$OUT/100.toml"
"$MKN" apply "$OUT/100.toml" >"$OUT/apply100.log" || die "apply 100: $(cat "$OUT/apply100.log")"
# The policies are in force: y/b, which none allows, is dropped by the proxy.
! ip netns exec mkn-netpol-y-b timeout 1 bash -c "exec 3<>/dev/tcp/$vip/80" 2>/dev/null ||
  die "y/b reaches x/a through the ClusterIP under 100 policies"
log "100 policies selecting x/a: $RUNS connrate runs, iperf3"
rates >"$OUT/r100"
g100=$(iperf)
for ((i = 1; i <= 100; i++)); do "$MKN" delete netpol "p$i" -n x >/dev/null; done
log "no policy again: $RUNS connrate runs"
rates >>"$OUT/r0"
r0=$(median <"$OUT/r0"); r1=$(median <"$OUT/r1"); r100=$(median <"$OUT/r100")
drops=$("$MKN" get proxy -o json | python3 -c 'import json,sys
print(sum(n["nat"]["drops"].get("network_policy", 0) for n in json.load(sys.stdin)["nodes"]))')
rr=$(python3 -c "print('%.3f' % ($r100 / $r0))")
r1r=$(python3 -c "print('%.3f' % ($r100 / $r1))")
gr=$(python3 -c "print('%.3f' % ($g100 / $g0))")
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)"
echo "connrate runs (per second): no policy $(tr '\n' ' ' <"$OUT/r0")| 1 policy $(tr '\n' ' ' <"$OUT/r1")| 100 policies $(tr '\n' ' ' <"$OUT/r100")"
echo "new flows x/b -> svc/x/web:80 (userspace proxy): no policy $r0/s (median of $((2 * RUNS))), 1 policy $r1/s, 100 policies $r100/s (medians of $RUNS): 100 vs none $rr (target >= 0.95), 100 vs 1 $r1r"
echo "throughput x/b -> svc/x/web:5201: no policy $g0 Gbit/s, 100 policies $g100 Gbit/s: ratio $gr (target >= 0.95)"
echo "the proxy's network_policy drops (y/b's probe): $drops"
code=0
python3 -c "import sys; sys.exit(0 if $r100 / $r0 >= 0.95 and $g100 / $g0 >= 0.95 else 1)" || code=3
exit $code
