#!/usr/bin/env bash
set -u
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
"$MKN" up -d attack/s25/mixed.toml 2>&1 | tail -2
"$MKN" get svc; "$MKN" get pods -A 2>/dev/null | head || "$MKN" get pods
for i in 1 2 3 4; do ip netns exec mkn-mix-client curl -s -m 2 -o /dev/null -w "%{http_code} " http://10.96.0.30/; done; echo
T() { out=$(timeout 20 "$MKN" trace "$@" 2>&1); rc=$?; printf '%-45s rc=%s | %s\n' "$*" "$rc" "$(tail -1 <<<"$out" | cut -c1-200)"; [[ $rc == 0 ]] || echo "$out" | tail -6 | cut -c1-200; }
for i in 1 2 3 4; do T client svc/mixed; done
for i in 1 2 3; do T client node1:30090; done
T client node2:30091
T data/db-0 node1:30091
T data/db-0 svc/data/db
T data/db-1 data/db-0
T client svc/data/db:web
"$MKN" capture data/db-0 --count 1 -w /tmp/x.pcapng --duration 1 2>&1 | tail -2
"$MKN" capture data/db-0:eth0 --count 1 -w /tmp/x.pcapng --duration 1 2>&1 | tail -2
"$MKN" graph -o mermaid 2>&1 | grep -i "db-0" | head -3
"$MKN" down mix >/dev/null 2>&1; echo down $?
