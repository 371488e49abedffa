#!/usr/bin/env bash
# t10: --pcap of an own-node NodePort (rows in order, every hop's copy, the masquerade's port);
# check with [[expect]] rows for the own-node NodePort and a backend to its own Service.
set -u
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
for mode in nftables userspace ebpf; do
  sed "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" examples/services/lab.toml > /tmp/t10.toml
  cat >> /tmp/t10.toml <<'EOT'

[[expect]]
from = "client"
to = "node1"
port = 30080
result = "allow"

[[expect]]
from = { app = "web" }
to = "svc/web"
result = "allow"

[[expect]]
from = { app = "web" }
to = "node1"
port = 30080
result = "allow"
EOT
  "$MKN" up -d /tmp/t10.toml >/dev/null 2>&1 || { echo up failed; exit 1; }
  for i in 1 2 3; do
    out=$("$MKN" trace client node1:30080 --pcap /tmp/t10.pcapng); rc=$?
    rows=$(grep -c '^[0-9]' <<<"$out")
    comments=$(tshark -r /tmp/t10.pcapng -T fields -e frame.comment 2>/dev/null | grep -ao 'trace hop [0-9]*' | awk '{print $3}' | tr '\n' ' ')
    echo "$mode rc=$rc rows=$rows $(tail -1 <<<"$out" | grep -o '(endpoint.*')  pcap rows: $comments"
  done
  "$MKN" check 2>&1 | tail -12
  "$MKN" down svc >/dev/null 2>&1
done
