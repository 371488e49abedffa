#!/usr/bin/env bash
# get svc -A's counters with a headless Service before kube-dns, in nftables and ebpf modes.
cd /work/wt-atk; MKN=$PWD/build-h/minikube-net
for m in nftables ebpf; do
  sed "s/^proxy_mode = \"userspace\"/proxy_mode = \"$m\"/" examples/dns/lab.toml > /tmp/atk-s23-$m.toml
  $MKN up -d /tmp/atk-s23-$m.toml >/dev/null 2>&1 || { echo "$m: up failed"; continue; }
  for i in $(seq 20); do $MKN exec client -- dig +short +time=1 web.default.svc.cluster.local >/dev/null; done
  echo "== $m"; $MKN get svc -A | awk '{print $1, $8, $9, $11}'
  $MKN down dns >/dev/null 2>&1; rm -f /tmp/atk-s23-$m.toml
done
