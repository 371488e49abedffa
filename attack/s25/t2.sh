#!/usr/bin/env bash
# t2: racks (bgp), CNI bridge and ptp: a NodePort from a pod of its own node, the hairpin, the
# first trace after up, repeated traces, after kill/scale; --pcap.
set -u
cd /work/wt-atk
MKN=build-h/minikube-net
t() { echo "=== trace $*"; timeout 30 $MKN trace "$@" | tail -${TAILN:-3}; echo "exit ${PIPESTATUS[0]}"; }
for mode in nftables userspace ebpf; do
  sed "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" examples/bgp/lab.toml > /tmp/bgp-$mode.toml
  grep -q '^proxy_mode' /tmp/bgp-$mode.toml || sed -i "s/^\[cluster\]/[cluster]\nproxy_mode = \"$mode\"/" /tmp/bgp-$mode.toml
  echo "##### bgp $mode"
  $MKN up -d /tmp/bgp-$mode.toml >/dev/null 2>&1 || { echo up failed; continue; }
  $MKN get pods | head -8
  # first trace right after up
  for i in 1 2 3 4 5 6; do t client node1:30080; done
  for p in $($MKN get pods | awk '$1 ~ /^web-/ {print $1}'); do t $p node1:30080; t $p svc/web; done
  $MKN down bgp >/dev/null 2>&1; echo "down $?"
done
for plugin in bridge ptp; do
  echo "##### cni $plugin"
  $MKN up -d examples/cni/$plugin.toml >/dev/null 2>&1 || { echo up failed; continue; }
  c=cni-$plugin
  for i in 1 2 3 4; do t dns-1 node1:30080; done
  for p in web-1 web-2 web-3; do t $p node1:30080; t $p svc/web; t $p node2:30080; done
  t dns-1 node1:30080 --pcap /tmp/cni.pcapng
  tshark -r /tmp/cni.pcapng 2>/dev/null | wc -l
  $MKN kill web-1 >/dev/null; $MKN scale web 1 >/dev/null 2>&1; echo "kill/scale $?"
  for i in 1 2 3; do t dns-1 node1:30080; done
  $MKN down $c >/dev/null 2>&1; echo "down $?"
done
