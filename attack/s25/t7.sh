#!/usr/bin/env bash
# t7: UDP hairpin (ClusterIP and own NodePort) in each mode; racks lab with vxlan: own-node NodePort.
set -u
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
for mode in nftables ebpf userspace; do
  sed -e "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" attack/s25/lab.toml > /tmp/t7.toml
  "$MKN" up -d /tmp/t7.toml >/dev/null 2>&1 || { echo up failed; exit 1; }
  for dst in 10.96.0.22:53 svc/np-udp-near node1:30053 node2:30053; do
    out=$(timeout 20 "$MKN" trace near-udp $dst 2>&1); rc=$?
    echo "$mode trace near-udp $dst rc=$rc $(tail -1 <<<"$out" | cut -c1-150)"
    [[ $rc == 0 ]] || echo "$out" | tail -6 | cut -c1-220
  done
  "$MKN" down atk >/dev/null 2>&1
done
sed -e 's/^network = .*/network = "vxlan"/' examples/bgp/lab.toml > /tmp/t7r.toml
grep -q '^network' /tmp/t7r.toml || echo "no network line"
for mode in nftables ebpf userspace; do
  sed -i "/^proxy_mode/d; s/^\[cluster\]/[cluster]\nproxy_mode = \"$mode\"/" /tmp/t7r.toml
  "$MKN" up -d /tmp/t7r.toml >/dev/null 2>&1 || { echo "racks up failed"; "$MKN" up -d /tmp/t7r.toml 2>&1 | tail -3; continue; }
  for i in 1 2 3 4; do
    for pair in "client node1:30080" "client node3:30080" "web-0 node2:30080" "web-1 svc/web"; do
      out=$(timeout 20 "$MKN" trace $pair 2>&1); rc=$?
      [[ $rc == 0 ]] || { echo "racks-vxlan $mode trace $pair rc=$rc"; echo "$out" | tail -5 | cut -c1-220; }
    done
  done
  echo "racks-vxlan $mode done"
  "$MKN" down bgp >/dev/null 2>&1
done
