#!/usr/bin/env bash
# t8: a NodePort spelled by the node's address, --proto against a NodePort's, odd node words.
set -u
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
mode=${1:-nftables}
sed "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" examples/services/lab.toml > /tmp/t8.toml
"$MKN" up -d /tmp/t8.toml >/dev/null 2>&1 || { echo up failed; exit 1; }
T() { out=$(timeout 20 "$MKN" trace "$@" 2>&1); rc=$?; printf '%-45s rc=%s | %s\n' "$*" "$rc" "$(tail -1 <<<"$out" | cut -c1-200)"; }
T client 172.18.0.2:30080
T client 172.18.0.3:30080
T underlay 172.18.0.3:30080
T node1 172.18.0.3:30080
T node1 172.18.0.2:30080
T client node1:30080 --proto udp
T client node1:30080 --proto icmp
T client node2:30080 --proto icmp
T underlay node2:30080 --proto udp
T client node1
T client node1:8080
T client NODE1:30080
T client node1:030080
T client node1:+30080
T client node1:30080:80
T client svc/web-np
T client svc/web-np:80
T client 10.96.0.11:80
T client node1:30080 --timeout 0.05
"$MKN" down svc >/dev/null 2>&1
