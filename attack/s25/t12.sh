#!/usr/bin/env bash
# t12: own-node NodePort (and ClusterIP) into a namespace under default-deny ingress: does trace's
# verdict agree with a real connection (curl/nc), and does it name the policy?
set -u
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
for mode in nftables userspace ebpf; do
  { sed "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" examples/netpol/lab.toml; cat examples/netpol/cases/deny-ingress.toml; cat <<'EOT'

[[service]]
name = "a-np"
namespace = "x"
type = "NodePort"
cluster_ip = "10.96.0.40"
selector = { pod = "a" }
  [[service.port]]
  port = 80
  target_port = 80
  node_port = 30100

[[service]]
name = "a-np"
namespace = "y"
type = "NodePort"
cluster_ip = "10.96.0.41"
selector = { pod = "a" }
  [[service.port]]
  port = 80
  target_port = 80
  node_port = 30101
EOT
  } > /tmp/t12.toml
  "$MKN" up -d /tmp/t12.toml >/tmp/t12.up 2>&1 || { echo "up failed"; tail -3 /tmp/t12.up; continue; }
  for pair in "y/c node1:30100" "y/b node1:30100" "y/c svc/x/a-np" "x/c node1:30100" "y/c node1:30101" "x/c node1:30101"; do
    set -- $pair
    out=$(timeout 20 "$MKN" trace $1 $2 --timeout 0.5 2>&1); rc=$?
    ns=${1%/*}; pod=${1#*/}
    case $2 in node1:*) tgt="172.18.0.2 ${2#node1:}";; svc/x/a-np) tgt="10.96.0.40 80";; esac
    set -- $tgt; real=$(ip netns exec mkn-netpol-$ns-$pod timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && echo connected || echo failed)
    printf '%-9s trace %-18s rc=%s real=%-9s | %s\n' "$mode" "$pair" "$rc" "$real" "$(tail -1 <<<"$out" | cut -c1-170)"
  done
  "$MKN" down netpol >/dev/null 2>&1
done
