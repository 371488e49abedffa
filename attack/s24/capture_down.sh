#!/usr/bin/env bash
# attack/s24/capture_down.sh: capture (--duration 20) while down runs.
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
"$MKN" up -d examples/quickstart/lab.toml >/dev/null 2>&1 || { echo up failed; exit 1; }
"$MKN" capture -w /tmp/cd.pcapng --duration 20 >/tmp/cd.log 2>&1 & cp=$!
sleep 1.5
t0=$(date +%s%N); out=$("$MKN" down quickstart 2>&1); echo "down during capture: rc=$? in $(( ($(date +%s%N)-t0)/1000000 )) ms: $out"
t1=$(date +%s%N); wait $cp; echo "capture rc=$? $(( ($(date +%s%N)-t1)/1000000 )) ms after down: $(tail -2 /tmp/cd.log | tr '\n' '|' | cut -c1-300)"
