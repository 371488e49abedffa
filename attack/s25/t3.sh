#!/usr/bin/env bash
# t3: CNI labs, a backend to its own Service until it picked itself; what curl says.
set -u
cd /work/wt-atk
MKN=build-h/minikube-net
for plugin in bridge ptp; do
  echo "##### cni $plugin"
  $MKN up -d examples/cni/$plugin.toml >/dev/null 2>&1 || { echo up failed; continue; }
  for i in $(seq 12); do
    out=$(timeout 20 $MKN trace web-1 svc/web --timeout 0.5); rc=$?
    echo "rc=$rc $(tail -1 <<<"$out")"
    if [[ $out == *"(endpoint web-1)"* || $rc != 0 ]]; then echo "$out"; break; fi
  done
  for i in 1 2 3 4 5 6; do ip netns exec mkn-cni-$plugin-web-1 curl -s -m 1 -o /dev/null -w "%{http_code} " http://10.96.0.10/ ; done; echo
  $MKN down cni-$plugin >/dev/null 2>&1; echo "down $?"
done
