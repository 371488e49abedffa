#!/usr/bin/env bash
# attack/s24/trace_down.sh: a trace whose probe is lost (--timeout 30) while `down` runs: how long
# down takes, what it reports, when trace ends. Also with the owner SIGKILLed first.
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
D=attack/s24
for how in live killed; do
  "$MKN" up -d $D/np.toml >/dev/null 2>&1 || { echo up failed; exit 1; }
  ip netns exec mkn-npu-node1 ip route del 10.244.1.0/24
  "$MKN" trace client web-0 --timeout 30 >/tmp/td-trace.log 2>&1 & tp=$!
  sleep 1
  [[ $how == killed ]] && kill -KILL "$(jq -r .pid /run/minikube-net/npu/state.json)"
  t0=$(date +%s%N); out=$("$MKN" down npu 2>&1); rc=$?
  echo "[$how] down during a 30 s trace: rc=$rc in $(( ($(date +%s%N)-t0)/1000000 )) ms: $out"
  t1=$(date +%s%N); wait $tp; echo "[$how] trace rc=$? $(( ($(date +%s%N)-t1)/1000000 )) ms after down: $(tail -1 /tmp/td-trace.log | cut -c1-250)"
  sleep 1; echo "[$how] left: $(ls /run/netns | tr '\n' ' ')$(ls /run/minikube-net 2>/dev/null | tr '\n' ' ') links: $(ip -o link | grep -vc ' lo:')"
done
