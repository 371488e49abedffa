#!/usr/bin/env bash
# usage: t1.sh MODE NETWORK
set -u
cd /work/wt-atk
MKN=build-h/minikube-net
mode=${1:-nftables}; net=${2:-vxlan}
sed -e "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" -e "s/^network = .*/network = \"$net\"/" attack/s25/lab.toml > /tmp/atk-lab.toml
$MKN up -d /tmp/atk-lab.toml >/tmp/atk-up.log 2>&1 || { echo "UP FAILED"; cat /tmp/atk-up.log; exit 1; }
t() { echo "=== trace $* ($mode/$net)"; timeout 30 $MKN trace "$@"; echo "exit $?"; }
t client node1:30081
t solo node1:30081
t solo svc/solo
t client node1:30082
t client node1:30053
t client node1:30054
t client node2:30053
t client node1:30099
t far node2:30082
t client node1:30082 --dry-run
t client node1:30081 -o json
$MKN down atk >/dev/null 2>&1; echo "down $?"
