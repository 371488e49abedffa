#!/usr/bin/env bash
# attack/s24/netpol_apply.sh MODE: an apply that fails on one node; apply/delete racing kill/scale;
# SIGKILL of the owner mid-apply, then down.
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
MODE=${1:-nftables}
D=attack/s24
lab=$(mktemp --suffix=.toml); sed "s/^proxy_mode = .*/proxy_mode = \"$MODE\"/" $D/np.toml >"$lab"
"$MKN" up -d "$lab" >/dev/null 2>&1 || { echo up failed; exit 1; }
p() { ip netns exec mkn-npu-$1 python3 $D/probe.py "${@:2}" 2>&1 | cut -c1-20; }
tbl() { ip netns exec mkn-npu-$1 nft list table inet mkn-netpol 2>&1 | grep -v 'packets [1-9]' | sed 's/counter packets [0-9]* bytes [0-9]*/counter/'; }
"$MKN" apply $D/np-allow.toml >/dev/null
echo "--- one node's transaction fails"
set=$(ip netns exec mkn-npu-node2 nft -j list sets inet | jq -r '.nftables[] | select(.set) | .set | select((.elem // []) | tostring | contains("10.244.0.2")) | .name' | head -1)
echo "node2 set holding client's 10.244.0.2: ${set:-none}"
[[ -n $set ]] && ip netns exec mkn-npu-node2 nft delete element inet mkn-netpol "$set" '{ 10.244.0.2 }'
tbl node1 >/tmp/n1.before; tbl node2 >/tmp/n2.before
"$MKN" apply $D/np-allow2.toml; echo "apply rc=$?"
tbl node1 >/tmp/n1.after; tbl node2 >/tmp/n2.after
echo "node1 table changed by the failed apply: $(diff /tmp/n1.before /tmp/n1.after | grep -c '^[<>]') lines"; diff /tmp/n1.before /tmp/n1.after | head -10
echo "node2 table changed: $(diff /tmp/n2.before /tmp/n2.after | grep -c '^[<>]') lines"
"$MKN" get netpol
echo "cl-0 (client role) tcp: $(p cl-0 tcp 10.96.0.20 80); other-0 tcp: $(p other-0 tcp 10.96.0.20 80)"
echo "cl-0 direct to web-0 pod: $(p cl-0 tcp $("$MKN" get pods -o json | jq -r '.[]|select(.name=="web-0").ip') 80)"
echo "--- the next change after the failure (scale cl 1: its delta touches the set)"
"$MKN" scale cl 1; echo "scale rc=$?"
"$MKN" scale cl 2; echo "scale rc=$?"
echo "cl-1 tcp: $(p cl-1 tcp 10.96.0.20 80)"
echo "--- races: apply/delete vs kill/scale, 10 s"
( end=$((SECONDS+10)); while ((SECONDS<end)); do "$MKN" apply $D/np-allow.toml >/dev/null 2>&1; "$MKN" apply $D/np-deny.toml >/dev/null 2>&1; "$MKN" delete netpol web-deny >/dev/null 2>&1; done ) & a=$!
( end=$((SECONDS+10)); while ((SECONDS<end)); do "$MKN" scale cl 3 >/dev/null 2>&1; "$MKN" kill web-0 >/dev/null 2>&1; "$MKN" scale cl 1 >/dev/null 2>&1; "$MKN" scale web 3 >/dev/null 2>&1; "$MKN" scale web 2 >/dev/null 2>&1; done ) & b=$!
wait $a $b
"$MKN" apply $D/np-allow.toml >/dev/null 2>&1; "$MKN" delete netpol web-deny >/dev/null 2>&1
"$MKN" get netpol; "$MKN" get pods | head -20
for src in client cl-0 bad other-0; do
  for w in $("$MKN" get pods -o json | jq -r '.[]|select(.name|startswith("web-")).ip'); do echo "$src -> $w:80 $(p $src tcp $w 80)"; done
  echo "$src -> svc: $(p $src tcp 10.96.0.20 80)"
done
echo "--- SIGKILL of the owner mid-apply, then down"
owner=$(jq -r .pid /run/minikube-net/npu/state.json)
big=$(mktemp --suffix=.toml); for i in $(seq 1 300); do sed "s/web-from-clients/p$i/" $D/np-allow.toml >>"$big"; done
"$MKN" apply "$big" >/tmp/np-big.log 2>&1 & ap=$!
sleep 0.05; kill -KILL $owner; wait $ap; echo "apply rc=$? $(tail -1 /tmp/np-big.log | cut -c1-200)"
t0=$(date +%s%N); "$MKN" down npu; echo "down rc=$? in $(( ($(date +%s%N)-t0)/1000000 )) ms"
echo "left: $(ls /run/netns) $(ls /run/minikube-net 2>/dev/null)"
