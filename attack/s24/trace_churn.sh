#!/usr/bin/env bash
# attack/s24/trace_churn.sh MODE: trace during kill/scale churn; trace (long --timeout) during down;
# trace from a node whose route to the peer's pods was removed.
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
MODE=${1:-userspace}
C=tc${MODE:0:4}
lab=$(mktemp --suffix=.toml)
sed -e "s/^name = \"svc\"/name = \"$C\"/" -e "s/^proxy_mode = \"userspace\"/proxy_mode = \"$MODE\"/" examples/services/lab.toml >"$lab"
"$MKN" up -d "$lab" >/dev/null 2>&1 || { echo up failed; exit 1; }
echo "--- churn: 20 traces client -> svc/web while web scales 3..1..3 and web-0 is killed"
( for i in $(seq 1 6); do "$MKN" scale web 1 >/dev/null; "$MKN" kill web-0 >/dev/null 2>&1; "$MKN" scale web 3 >/dev/null; done ) & cp=$!
declare -A rcs
for i in $(seq 1 20); do
  out=$(timeout 20 "$MKN" trace client svc/web --timeout 0.5 2>&1); rc=$?
  rcs[$rc]=$(( ${rcs[$rc]:-0} + 1 ))
  [[ $rc != 0 && $rc != 1 && $rc != 4 ]] && { echo "rc=$rc:"; echo "$out" | tail -3; }
  [[ $rc == 1 && -z ${shown1:-} ]] && { shown1=1; echo "first rc=1:"; echo "$out" | grep -v '^ *[0-9].*+[0-9.]*ms' | tail -4 | cut -c1-250; }
done
wait $cp
for k in "${!rcs[@]}"; do echo "rc=$k x${rcs[$k]}"; done
echo "after churn: trace client svc/web: $(timeout 20 "$MKN" trace client svc/web --timeout 0.5 >/dev/null 2>&1; echo rc=$?)"
echo "--- node route removed: node1 -> web pod on node2"
w=$("$MKN" get pods -o json | jq -r '[.[] | select(.node=="node2" and (.name|startswith("web")))][0].name')
wip=$("$MKN" get pods -o json | jq -r --arg w "$w" '.[] | select(.name==$w) | .ip')
ip netns exec mkn-$C-node1 ip route show | sed 's/^/  node1 route: /'
ip netns exec mkn-$C-node1 ip route del 10.244.1.0/24 2>&1
ip netns exec mkn-$C-node1 ip route del default 2>&1
for s in node1 client; do for d in "$w" "$wip" "$w:8080" "svc/web" node2; do
  out=$(timeout 20 "$MKN" trace $s $d --timeout 0.5 2>&1); rc=$?
  echo "trace $s $d: rc=$rc: $(echo "$out" | grep -iE 'missing|lost|died|error|unreach|minikube-net:' | head -3 | cut -c1-260 | tr '\n' '|')"
done; done
echo "--- trace --timeout 30 during down"
"$MKN" trace client "$w" --timeout 30 >/tmp/tc-trace.log 2>&1 & tp=$!
sleep 1
t0=$(date +%s%N); "$MKN" down $C >/tmp/tc-down.log 2>&1; rc=$?; t1=$(date +%s%N)
echo "down rc=$rc in $(( (t1-t0)/1000000 )) ms: $(cat /tmp/tc-down.log)"
wait $tp; echo "trace rc=$?: $(tail -3 /tmp/tc-trace.log | cut -c1-250)"
sleep 1; echo "left: $(ls /run/netns | tr '\n' ' ')"
