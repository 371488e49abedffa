#!/usr/bin/env bash
# attack/s24/netpol_kill.sh: SIGKILL of the owner mid-apply (200 policies), then down; apply racing
# down; trace (--timeout 30, its probe lost) during down.
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
D=attack/s24
big=$(mktemp --suffix=.toml); for i in $(seq 1 190); do sed "s/web-from-clients/p$i/" $D/np-allow.toml >>"$big"; done
for d in 0.01 0.03 0.08; do
  "$MKN" up -d $D/np.toml >/dev/null 2>&1 || { echo up failed; exit 1; }
  owner=$(jq -r .pid /run/minikube-net/npu/state.json)
  "$MKN" apply "$big" >/tmp/np-big.log 2>&1 & ap=$!
  sleep $d; kill -KILL $owner; wait $ap; rc=$?
  t0=$(date +%s%N); out=$("$MKN" down npu 2>&1); drc=$?
  echo "kill after ${d}s: apply rc=$rc ($(tail -1 /tmp/np-big.log | cut -c1-120)); down rc=$drc in $(( ($(date +%s%N)-t0)/1000000 )) ms: $out; left: $(ls /run/netns | tr '\n' ' ')$(ls /run/minikube-net 2>/dev/null | tr '\n' ' ')"
done
"$MKN" up -d $D/np.toml >/dev/null 2>&1
( for i in $(seq 1 30); do "$MKN" apply $D/np-allow.toml >/dev/null 2>&1; "$MKN" delete netpol web-from-clients >/dev/null 2>&1; done; echo "apply loop done" ) & a=$!
sleep 0.3
t0=$(date +%s%N); out=$("$MKN" down npu 2>&1); echo "down during apply loop: rc=$? in $(( ($(date +%s%N)-t0)/1000000 )) ms: $out"
wait $a; echo "left: $(ls /run/netns | tr '\n' ' ')$(ls /run/minikube-net 2>/dev/null | tr '\n' ' ')"
"$MKN" up -d $D/np.toml >/dev/null 2>&1
ip netns exec mkn-npu-node1 ip route del 10.244.1.0/24
"$MKN" trace client web-0 --timeout 30 >/tmp/np-trace.log 2>&1 & tp=$!
sleep 1
t0=$(date +%s%N); out=$("$MKN" down npu 2>&1); echo "down during a 30 s trace: rc=$? in $(( ($(date +%s%N)-t0)/1000000 )) ms: $out"
t1=$(date +%s%N); wait $tp; echo "trace rc=$? $(( ($(date +%s%N)-t1)/1000000 )) ms after down: $(tail -2 /tmp/np-trace.log | cut -c1-250 | tr '\n' '|')"
sleep 1; echo "left: $(ls /run/netns | tr '\n' ' ')$(ls /run/minikube-net 2>/dev/null | tr '\n' ' ') links: $(ip -o link | grep -vc ' lo:')"
