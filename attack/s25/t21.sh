#!/usr/bin/env bash
# t21: kube-dns's 53/UDP and 53/TCP by --proto and by name, from a pod and a node, each mode.
set -u
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
for mode in nftables userspace ebpf; do
  sed "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" examples/services/lab.toml > /tmp/t21.toml
  "$MKN" up -d /tmp/t21.toml >/dev/null 2>&1 || exit 1
  for args in "client svc/kube-system/kube-dns:53" "client svc/kube-system/kube-dns:53 --proto tcp" "client svc/kube-system/kube-dns:dns-tcp" "node1 svc/kube-system/kube-dns:53 --proto tcp" "client 10.96.0.10:53 --proto tcp"; do
    out=$(timeout 20 "$MKN" trace $args --timeout 0.5 2>&1); rc=$?
    printf '%-9s %-50s rc=%s | %s\n' "$mode" "$args" "$rc" "$(tail -1 <<<"$out" | cut -c1-160)"
  done
  "$MKN" get svc -A 2>/dev/null | grep -i dns | head -2
  "$MKN" down svc >/dev/null 2>&1
done
