#!/usr/bin/env bash
# attack/s24/trace_cni.sh: trace's new CNI legs under hostile input, a kill, and a removed route.
set -uo pipefail
MKN=${MKN_BIN:-$PWD/build-h/minikube-net}
T=$(mktemp -d); cp examples/cni/bridge.toml examples/cni/bridge.conflist "$T/"
printf '\n[[ingress]]\nname = "web"\ndefault_backend = { service = "web", port = 80 }\n' >>"$T/bridge.toml"
(cd "$T" && "$MKN" up -d bridge.toml >/dev/null 2>&1) || { echo up failed; exit 1; }
t() { local out rc; out=$(timeout 30 "$MKN" trace "$@" --timeout 0.5 2>&1); rc=$?; echo "== trace $* -> rc=$rc: $(echo "$out" | tail -1 | cut -c1-230)"; }
t node1 web-4; t underlay node2:30080; t underlay node2:30081; t underlay node1; t node1 node2:30080
t node1 world; t web-1 world:80; t web-1 example.test:53 --proto udp; t underlay world
t host http://127.0.0.1:8080/; t host 'http://127.0.0.1:8080/../../etc'; t host "http://127.0.0.1:8080/$(printf 'a%.0s' {1..5000})"
t host 'http://127.0.0.1:8080/%00'; t host 'http://127.0.0.1:8080/?x=1#f'; t host 'http://127.0.0.1:08080/'
t web-1 node2:30080; t dns-1 node2:30080; t node2 node2:30080
"$MKN" kill web-4 >/dev/null; t web-1 web-4; t node1 web-4
ip netns exec mkn-cni-bridge-node1 ip route flush default 2>/dev/null
ip netns exec mkn-cni-bridge-node1 ip route show | sed 's/^/  node1 route: /'
for r in $(ip netns exec mkn-cni-bridge-node1 ip route show | grep -v 'dev cni0\|scope link' | awk '{print $1}'); do ip netns exec mkn-cni-bridge-node1 ip route del $r; done
t node1 web-4; t web-1 web-4; t node1 node2:30080; t node1 world
"$MKN" down cni-bridge >/dev/null; echo "left: $(ls /run/netns | tr '\n' ' ')"
