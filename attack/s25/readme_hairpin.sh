#!/usr/bin/env bash
# Records the README's hairpin sample: examples/services in ebpf and nftables mode, web-1 -> svc/web
# until web-1 picked itself.
set -u
cd /work/wt-atk
MKN=build-h/minikube-net
for mode in ebpf nftables; do
  sed "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" examples/services/lab.toml > /tmp/svc-$mode.toml
  $MKN up -d /tmp/svc-$mode.toml >/dev/null 2>&1 || { echo up failed; exit 1; }
  for i in $(seq 20); do
    out=$($MKN trace web-1 svc/web)
    [[ $out == *"(endpoint web-1)"* ]] && break
  done
  echo "\$ minikube-net trace web-1 svc/web   # $mode"
  echo "$out"
  $MKN down svc >/dev/null 2>&1
done
