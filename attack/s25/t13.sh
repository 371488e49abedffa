#!/usr/bin/env bash
# t13: NodePort words a user might try; messages and exit codes.
set -u
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
"$MKN" up -d examples/services/lab.toml >/dev/null 2>&1 || exit 1
T() { out=$(timeout 20 "$MKN" trace "$@" 2>&1); rc=$?; printf '%-42s rc=%s | %s\n' "$*" "$rc" "$(tail -1 <<<"$out" | cut -c1-210)"; }
T client node1:http
T client node1:30080/tcp
T client node1:
T client :30080
T client node1:30080 --dry-run -o json
T client svc/web-np:30080
T client 10.96.0.11:30080
T underlay node1:30080 --proto udp
T underlay svc/web-np
T node2 node1:30080
T client node3:30080
T client world:30080
T web-0 node2:30080
T client node1:30053
"$MKN" down svc >/dev/null 2>&1
