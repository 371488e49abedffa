#!/usr/bin/env bash
set -u
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
"$MKN" up -d examples/services/lab.toml --ui 0 >/tmp/t11.up 2>&1 || { cat /tmp/t11.up; exit 1; }
url=$(sed -n 's/^dashboard: //p' /tmp/t11.up); port=$(sed -E 's|.*:([0-9]+)/$|\1|' <<<"$url")
owner=$(pgrep -f "minikube-net up -d examples/services" | head -1)
echo "url=$url owner=$owner"
timeout 60 python3 attack/s25/ui_load.py "$port" "$owner"
s=$(date +%s.%N); "$MKN" down svc 2>&1 | tail -1; echo "down in $(echo "$(date +%s.%N) - $s" | bc)s"
