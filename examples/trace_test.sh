#!/usr/bin/env bash
# End-to-end tests of `minikube-net trace` (ctest label e2e): the real binary on the example labs.
#
#   examples/trace_test.sh CASE      CASE: vxlan host_gw geneve svc_userspace svc_nftables
#
# vxlan: pod -> pod on one node and across nodes (ICMP, and TCP with --pcap read back by tshark,
# -o json), usage errors, then a route removed by hand on node1 makes trace exit 1 naming node1:cbr0
# as the last hop that saw the probe and the missing route as the reason. host_gw: across nodes
# without encapsulation. geneve: across nodes through the gnv0 TAPs and the userspace pump, the
# Geneve outer header on the underlay, and a Service over it. svc_*: pod -> ClusterIP (svc/NAME, TCP; the ClusterIP by address, UDP) in
# each proxy mode, the translation shown where it happens. No waits: trace itself ends when every
# hop has seen the probe.
source "$(dirname "$0")/testlib.sh" "$@"

# trace's table: the line of hop WHERE (a namespace:interface) and leg.
hop() { awk -v w="$2" -v l="$3" '$4==w && $2==l' <<<"$1"; }

case "$CASE" in
vxlan)
  "$MKN" up -d examples/quickstart/lab.toml >/dev/null
  out=$("$MKN" trace client web-0) || fail "trace client web-0 (same node): $out"
  contains "$out" "ok: every predicted hop saw the probe" "same node"
  [[ -z $(hop "$out" node1:cbr0 request) ]] || fail "same node: cbr0 must not see a bridged packet: $out"
  [[ $(grep -c '^[0-9]' <<<"$out") == 8 ]] || fail "same node: 8 hops (4 there, 4 back): $out"
  out=$("$MKN" trace client web-1) || fail "trace client web-1 (across nodes): $out"
  [[ $(grep -c '^[0-9]' <<<"$out") == 24 ]] || fail "across nodes: 24 hops: $out"
  contains "$(hop "$out" underlay:node1 request)" "in vxlan 172.18.0.2 > 172.18.0.3" "the outer header on the underlay"
  contains "$(hop "$out" node1:cbr0 request)" "route 10.244.1.0/24 via 10.244.1.0 dev vxlan0" "node1's route to node2's pods"
  contains "$(hop "$out" client:eth0 reply)" "echo reply" "the reply comes back"
  pass "pod -> pod on one node (8 hops, bridged) and across nodes (24 hops, VXLAN outer header, routes)"
  out=$("$MKN" trace client web-1:8080 --pcap "$TMP/t.pcapng" -o json) || fail "trace TCP --pcap: $out"
  contains "$out" '"ok": true' "json"
  contains "$out" '"interface": "vxlan0"' "json hops"
  n=$(tshark -r "$TMP/t.pcapng" -Y 'frame.comment contains "trace hop" && tcp.flags.syn == 1' \
    -T fields -e frame.interface_name 2>/dev/null | sort -u | grep -c . || true)
  ((n >= 10)) || fail "tshark finds the SYN and SYN-ACK on $n interfaces of the pcap, not >= 10"
  pass "TCP to a pod port, -o json, --pcap read back by tshark ($n interfaces)"
  rc=0; out=$("$MKN" trace clinet web-1 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "a wrong SRC exits $rc: $out"
  contains "$out" 'did you mean "client"?' "a wrong SRC names the nearest"
  rc=0; out=$("$MKN" trace node1 web-1 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "a node as SRC exits $rc: $out"
  contains "$out" "not traced yet" "a kind not traced yet says so"
  pass "usage errors"
  # Break the lab by hand: node1 forgets how to reach node2's pods.
  ip netns exec mkn-quickstart-node1 ip route del 10.244.1.0/24
  rc=0; out=$("$MKN" trace client web-1 --timeout 0.5) || rc=$?
  [[ $rc == 1 ]] || fail "trace through a removed route exits $rc: $out"
  contains "$out" "lost: not seen at node1:vxlan0 (request, out); last seen at node1:cbr0 (request, in)" "where it died"
  contains "$out" "no route to 10.244.1.3" "why"
  pass "a route removed by hand: exit 1, last seen at node1:cbr0, no route"
  "$MKN" down quickstart >/dev/null
  assert_clean quickstart
  ;;
host_gw)
  "$MKN" up -d examples/host-gw/lab.toml >/dev/null
  out=$("$MKN" trace client web-1) || fail "trace client web-1 (host-gw): $out"
  [[ $(grep -c '^[0-9]' <<<"$out") == 20 ]] || fail "host-gw across nodes: 20 hops: $out"
  contains "$(hop "$out" node1:cbr0 request)" "via 172.18.0.3 dev eth0" "node1 routes to node2's underlay address"
  [[ -z $(grep vxlan <<<"$out") ]] || fail "host-gw has no VXLAN: $out"
  pass "host-gw: pod -> pod across nodes, routed, no encapsulation"
  "$MKN" down hostgw >/dev/null
  assert_clean hostgw
  ;;
geneve)
  "$MKN" up -d examples/geneve/lab.toml >/dev/null 2>&1
  out=$("$MKN" trace client web-1) || fail "trace client web-1 (geneve): $out"
  [[ $(grep -c '^[0-9]' <<<"$out") == 24 ]] || fail "geneve across nodes: 24 hops: $out"
  contains "$(hop "$out" node1:gnv0 request)" "Geneve pump" "node1's gnv0 hands it to the pump"
  contains "$(hop "$out" underlay:node2 request)" "in geneve 172.18.0.2 > 172.18.0.3" "the Geneve outer header on the underlay"
  out=$("$MKN" trace client svc/web) || fail "trace client svc/web (geneve): $out"
  contains "$out" "ok: every predicted hop saw the probe" "a Service over Geneve"
  pass "geneve: pod -> pod across nodes through gnv0 and the pump (outer header on the underlay), and a Service"
  "$MKN" down geneve >/dev/null
  assert_clean geneve
  ;;
svc_userspace | svc_nftables)
  mode=${CASE#svc_}
  sed "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" examples/services/lab.toml >"$TMP/lab.toml"
  "$MKN" up -d "$TMP/lab.toml" >/dev/null 2>&1
  # Round-robin over three endpoints: three traces reach each once (one on the client's node).
  for i in 1 2 3; do
    out=$("$MKN" trace client svc/web) || fail "trace client svc/web ($mode): $out"
    contains "$out" "tcp 10.244.0.2:" "the client's own address leaves the pod"
    contains "$(hop "$out" client:eth0 request)" "> 10.96.0.10:80 SYN" "the ClusterIP leaves the pod"
    contains "$(hop "$out" client:eth0 reply)" "tcp 10.96.0.10:80 >" "the reply comes from the ClusterIP"
    if [[ $mode == userspace ]]; then
      contains "$(hop "$out" node1:mkn-proxy request)" "10.244.0.254:" "the proxy's SNAT on the TUN"
    else
      contains "$out" "conntrack tcp 10.244.0.2:" "the DNAT's conntrack entry"
    fi
    grep -o "(endpoint web-[0-9])" <<<"$out" >>"$TMP/endpoints"
  done
  [[ $(sort -u "$TMP/endpoints" | grep -c .) == 3 ]] || fail "three traces reached: $(cat "$TMP/endpoints")"
  out=$("$MKN" trace client 10.96.0.53:53) || fail "trace client 10.96.0.53:53 ($mode): $out"
  contains "$out" "udp 10.244.0.2:" "UDP to the ClusterIP by address"
  pass "$mode: pod -> ClusterIP (svc/web TCP to each endpoint, 10.96.0.53:53 UDP), translated where it happens"
  "$MKN" down svc >/dev/null
  assert_clean svc
  ;;
*) fail "unknown case $CASE" ;;
esac
