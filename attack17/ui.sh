#!/usr/bin/env bash
# attack17/ui.sh — the dashboard under hostile clients. Run: cd /work/wt-atk17 && ci/sandbox.sh bash attack17/ui.sh
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
"$MKN" up -d examples/services/lab.toml --ui 0 >/dev/shm/a17-up.out 2>&1 || { echo "up failed"; cat /dev/shm/a17-up.out; exit 1; }
url=$(sed -n 's/^dashboard: //p' /dev/shm/a17-up.out); port=${url#http://127.0.0.1:}; port=${port%/}
owner=$(ss -Htlnp "sport = :$port" | grep -o '"minikube-net",pid=[0-9]*' | head -1 | grep -o 'pid=[0-9]*' | cut -d= -f2)
echo "url=$url owner=$owner"
timeout 200 python3 attack17/http.py "$port" "$owner"
timeout 120 python3 attack17/load.py "$port" "$owner"
echo "get svc:"; timeout 10 "$MKN" get svc | head -5
ip netns exec mkn-svc-client curl -sS --max-time 5 http://10.96.0.10/ | head -2
# up --ui with a taken port
"$MKN" up -d examples/quickstart/lab.toml --ui "$port" >/dev/shm/a17-up2.out 2>&1; echo "up --ui taken port rc=$? $(tail -3 /dev/shm/a17-up2.out)"
ls /run/netns | grep -c mkn-quickstart | sed 's/^/quickstart netns left: /'
# ui Ctrl-C during SSE
"$MKN" ui svc --port 0 >/dev/shm/a17-ui.out 2>/dev/shm/a17-ui.err & ui=$!
for i in $(seq 50); do grep -q http /dev/shm/a17-ui.out && break; sleep 0.2; done
u2=$(grep -o 'http://[^ ]*' /dev/shm/a17-ui.out); echo "ui: $u2"
curl -sN --max-time 30 "${u2}api/events" >/dev/shm/a17-sse.out 2>&1 & c=$!
sleep 1.5; t0=$(date +%s.%N); kill -INT $ui; wait $ui; echo "ui rc=$? after $(echo "$(date +%s.%N) - $t0" | bc)s; $(cat /dev/shm/a17-ui.err)"
wait $c; echo "curl rc=$? got $(wc -c </dev/shm/a17-sse.out) bytes"
# ui Ctrl-C during a trace (POST in flight)
"$MKN" ui svc --port 0 >/dev/shm/a17-ui.out 2>/dev/shm/a17-ui.err & ui=$!
for i in $(seq 50); do grep -q http /dev/shm/a17-ui.out && break; sleep 0.2; done
u2=$(grep -o 'http://[^ ]*' /dev/shm/a17-ui.out)
curl -s --max-time 60 -d "src=client&dst=10.244.9.9" "${u2}api/trace" >/dev/shm/a17-tr.out 2>&1 & c=$!
sleep 0.5; t0=$(date +%s.%N); kill -INT $ui; wait $ui; echo "ui during trace rc=$? after $(echo "$(date +%s.%N) - $t0" | bc)s"
wait $c; echo "curl rc=$? $(head -c 200 /dev/shm/a17-tr.out)"
# down while the page is attacked
( for i in $(seq 300); do curl -s --max-time 2 -o /dev/null "${url}api/state"; done ) & l1=$!
curl -sN --max-time 20 "${url}api/events" -o /dev/null & l2=$!
sleep 1
t0=$(date +%s.%N); timeout 60 "$MKN" down svc; echo "down rc=$? in $(echo "$(date +%s.%N) - $t0" | bc)s"
kill $l1 2>/dev/null; wait $l1 $l2 2>/dev/null
echo "left: $(ls /run/netns) listeners: $(ss -Htln)"
# ui on a dead cluster
"$MKN" ui svc --port 0; echo "ui dead cluster rc=$?"
