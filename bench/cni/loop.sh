#!/usr/bin/env bash
# bench/cni/loop.sh — the reference of bench/cni: what users script today to put pods on a plugin
# chain without a runtime, one `ip` process per namespace and one `ip netns exec` per
# plugin call, sequentially.
#
#   unshare -m --propagation private bench/cni/loop.sh PODS CONFDIR PLUGIN
#
# PODS: one "<node netns> <pod netns>" line per pod, a node's pods together. CONFDIR/<node>.json: the
# plugin's config for that node (the conflist's plugin with "name" and "cniVersion", as a user
# extracts it). Creates the nodes' namespaces (with minikube-net's node sysctls), then per pod `ip netns add` and ADD; then per pod DEL
# and `ip netns del`; then the nodes go. Prints "loop <ADD phase µs> <DEL phase µs>" (nodes
# included in the phases). Mounts a tmpfs on /var/lib first, so host-local's allocations stay in
# this private mount namespace (run it under `unshare -m`, inside ci/sandbox.sh: cni.sh does).
set -euo pipefail
PODS=$1 CONFDIR=$2 PLUGIN=$3
mount -t tmpfs loop-varlib /var/lib
us() { local a=${1/./} b=${2/./}; echo $((10#$b - 10#$a)); }
mapfile -t NODES < <(awk '!seen[$1]++ {print $1}' "$PODS")

t0=$EPOCHREALTIME
for node in "${NODES[@]}"; do
  ip netns add "$node"
  ip -n "$node" link set lo up
  # As minikube-net's nodes: forwarding on, no IPv6 (so no addrconf work on cni0 and the veths).
  ip netns exec "$node" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
while read -r node pod; do
  ip netns add "$pod"
  ip netns exec "$node" env CNI_COMMAND=ADD CNI_CONTAINERID="$pod" CNI_NETNS="/run/netns/$pod" \
    CNI_IFNAME=eth0 CNI_PATH="${PLUGIN%/*}" "$PLUGIN" <"$CONFDIR/$node.json" >/dev/null
done <"$PODS"
t1=$EPOCHREALTIME
while read -r node pod; do
  ip netns exec "$node" env CNI_COMMAND=DEL CNI_CONTAINERID="$pod" CNI_NETNS="/run/netns/$pod" \
    CNI_IFNAME=eth0 CNI_PATH="${PLUGIN%/*}" "$PLUGIN" <"$CONFDIR/$node.json" >/dev/null
  ip netns del "$pod"
done <"$PODS"
for node in "${NODES[@]}"; do ip netns del "$node"; done
t2=$EPOCHREALTIME
echo "loop $(us "$t0" "$t1") $(us "$t1" "$t2")"
