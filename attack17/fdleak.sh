#!/usr/bin/env bash
# attack17/fdleak.sh — does a pod started after the dashboard inherit the dashboard's sockets?
MKN=${MKN_BIN:-build-h/minikube-net}
"$MKN" up -d examples/services/lab.toml --ui 0 >/tmp/a17-up.out 2>&1 || { cat /tmp/a17-up.out; exit 1; }
url=$(sed -n 's/^dashboard: //p' /tmp/a17-up.out); port=${url#http://127.0.0.1:}; port=${port%/}
curl -sN --max-time 60 "${url}api/events" -o /tmp/a17-sse.out & c=$!
sleep 1
"$MKN" scale web 4 >/dev/null; "$MKN" kill web-0 >/dev/null; sleep 2
echo "holders of the dashboard's sockets (listener :$port and its connections):"
ss -Htanp "( sport = :$port )" | sed 's/^/  /'
echo "down:"; t0=$(date +%s.%N); "$MKN" down svc; echo "down rc=$?"
wait $c; echo "sse curl ended rc=$? after $(echo "$(date +%s.%N) - $t0" | bc)s"
