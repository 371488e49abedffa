#!/usr/bin/env bash
# t18: a Service with 120 endpoints (nothing listens: a refusal is the answer): the union filter.
set -u
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
"$MKN" up -d attack/s25/many.toml 2>&1 | tail -1
for dst in svc/web node1:30080 node2:30080; do
  s=$(date +%s.%N); out=$(timeout 60 "$MKN" trace client $dst 2>&1); rc=$?
  echo "trace client $dst rc=$rc in $(echo "$(date +%s.%N) - $s" | bc)s | $(tail -1 <<<"$out" | cut -c1-250)"
done
s=$(date +%s.%N); out=$(timeout 60 "$MKN" trace underlay node3:30080 2>&1); rc=$?
echo "trace underlay node3:30080 rc=$rc in $(echo "$(date +%s.%N) - $s" | bc)s | $(tail -1 <<<"$out" | cut -c1-250)"
"$MKN" down many 2>&1 | tail -1
