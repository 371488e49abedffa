#!/usr/bin/env bash
# examples/cni/by-hand/two-nodes.sh — a conflist on two hand-made nodes, the way users script it today.
#
#   ci/sandbox.sh examples/cni/by-hand/two-nodes.sh CONFLIST [PODS_PER_NODE]
#
# Builds what `minikube-net up` builds for a network = "cni" lab with node_routes = "host-gw", by hand:
# two node namespaces joined by a veth (172.18.0.2, 172.18.0.3), node1 owning 10.244.0.0/24 and node2
# 10.244.1.0/24 with a route to the other's range, each node with its own /var/lib/cni and /run.
# Then, with cni-chain.sh: renders ${node.*}/${cluster.*} in CONFLIST per node, ADDs PODS_PER_NODE pods
# (default 2) per node, pings every pod from every pod and from both nodes, runs CHECK, runs the hook
# $AFTER_ADD if set (sourced: it sees the functions and variables below), DELs every pod, and lists
# what the plugins left in the nodes (links, addresses, routes, iptables rules, state files).
# $RC_<pod> (e.g. RC_n1p1='{"portMappings":[...]}') is that pod's RUNTIME_CONFIG.
# Exit status 1 on the first failed ADD, ping, CHECK or DEL.
set -euo pipefail
[[ "${MKN_IN_SANDBOX:-}" == 1 ]] || { echo "two-nodes.sh: run me inside ci/sandbox.sh" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
conflist=${1:?usage: two-nodes.sh CONFLIST [PODS_PER_NODE]}
per_node=${2:-2}

# A private /run and /var/lib for this sandbox's mount namespace: the plugins' state files never
# reach the host's (the sandbox already gives a private /run/netns; recreate it on the new /run).
mount -t tmpfs by-hand-run /run
mount -t tmpfs by-hand-varlib /var/lib
mkdir -p /run/netns /run/cni /var/lib/cni /run/minikube-net/by-hand
state=/run/minikube-net/by-hand
export CNI_CACHE=$state/results

declare -A node_ip=([node1]=172.18.0.2 [node2]=172.18.0.3)
declare -A node_cidr=([node1]=10.244.0.0/24 [node2]=10.244.1.0/24)
declare -A pod_ip=() pod_node=()
pods=()

ip netns add node1
ip netns add node2
ip link add eth0 netns node1 type veth peer name eth0 netns node2
for n in node1 node2; do
  ip -n "$n" link set lo up
  ip -n "$n" addr add "${node_ip[$n]}/16" dev eth0
  ip -n "$n" link set eth0 up
  mkdir -p "$state/$n/var-lib-cni" "$state/$n/run"
  sed -e "s|\${node.name}|$n|g" -e "s|\${node.ip}|${node_ip[$n]}|g" \
      -e "s|\${node.pod_cidr}|${node_cidr[$n]}|g" -e "s|\${cluster.pod_cidr}|10.244.0.0/16|g" \
      -e "s|\${cluster.service_cidr}|10.96.0.0/12|g" "$conflist" >"$state/$n.conflist"
done
ip -n node1 route add 10.244.1.0/24 via 172.18.0.3
ip -n node2 route add 10.244.0.0/24 via 172.18.0.2

# chain NODE COMMAND POD: run the node's rendered conflist for POD (netns /run/netns/POD).
chain() {
  local rc_var="RC_$3"
  NODE=$1 NODE_STATE=$state/$1 RUNTIME_CONFIG=${!rc_var:-'{}'} \
    "$here/cni-chain.sh" "$2" "$state/$1.conflist" "cid-$3" "/run/netns/$3" eth0
}

echo "== VERSION"
"$here/cni-chain.sh" VERSION "$state/node1.conflist"
for n in node1 node2; do
  for ((k = 1; k <= per_node; k++)); do
    p="n${n#node}p$k"
    ip netns add "$p"
    ip -n "$p" link set lo up
    echo "== ADD $p on $n"
    result=$(chain "$n" ADD "$p") || { echo "FAIL: ADD $p"; exit 1; }
    echo "$result"
    pod_ip[$p]=$(jq -r '.ips[0].address | split("/")[0]' <<<"$result")
    pod_node[$p]=$n
    pods+=("$p")
  done
done

echo "== addresses and routes"
for p in "${pods[@]}"; do
  echo "$p (${pod_node[$p]}): $(ip -n "$p" -br addr show dev eth0)"
  ip -n "$p" route | sed 's/^/    /'
done
for n in node1 node2; do
  echo "$n routes:"; ip -n "$n" route | sed 's/^/    /'
done

echo "== ping matrix"
for a in "${pods[@]}"; do
  for b in "${pods[@]}"; do
    [[ "$a" == "$b" ]] && continue
    ip netns exec "$a" ping -c1 -W2 -q "${pod_ip[$b]}" >/dev/null ||
      { echo "FAIL: $a -> $b (${pod_ip[$b]})"; exit 1; }
  done
done
for n in node1 node2; do
  for b in "${pods[@]}"; do
    ip netns exec "$n" ping -c1 -W2 -q "${pod_ip[$b]}" >/dev/null ||
      { echo "FAIL: $n -> $b (${pod_ip[$b]})"; exit 1; }
  done
done
echo "ok: every pod reaches every pod and both nodes reach every pod"

echo "== CHECK"
for p in "${pods[@]}"; do chain "${pod_node[$p]}" CHECK "$p" || { echo "FAIL: CHECK $p"; exit 1; }; done

if [[ -n "${AFTER_ADD:-}" ]]; then
  echo "== $AFTER_ADD"
  # shellcheck disable=SC1090
  source "$AFTER_ADD"
fi

echo "== DEL"
for p in "${pods[@]}"; do chain "${pod_node[$p]}" DEL "$p" || { echo "FAIL: DEL $p"; exit 1; }; done
echo "== left in the nodes after DEL"
for n in node1 node2; do
  echo "$n links:"; ip -n "$n" -br link | sed 's/^/    /'
  echo "$n routes:"; ip -n "$n" route | sed 's/^/    /'
  echo "$n iptables:"; ip netns exec "$n" iptables-save 2>/dev/null | grep -v '^#' | sed 's/^/    /' || true
  echo "$n state files:"; (cd "$state/$n" && find . -path ./run/netns -prune -o -type f -print | sed 's/^/    /')
done
