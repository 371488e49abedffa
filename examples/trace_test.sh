#!/usr/bin/env bash
# End-to-end tests of `minikube-net trace` (ctest label e2e): the real binary on the example labs.
#
#   examples/trace_test.sh CASE      CASE: vxlan host_gw geneve bgp cni svc_userspace svc_nftables svc_ebpf
#                                          edge edge_userspace edge_ebpf
#
# vxlan: pod -> pod on one node and across nodes (ICMP, and TCP with --pcap read back by tshark,
# -o json), node -> pod (on its own bridge, and across the overlay from vxlan0's address), pod ->
# node (out unencapsulated, the answer back over VXLAN), underlay -> node, usage errors, the world
# (the node's masquerade, the source rewritten at its uplink), then a route removed by hand on
# node1 makes trace exit 1 naming node1:cbr0 as the last hop that saw the probe and the missing
# route as the reason, and from node1 itself (without a default route too: its send fails) node1's
# routing decision. host_gw: across nodes without encapsulation; world = false refused. geneve:
# across nodes through the gnv0 TAPs and the userspace pump, the Geneve outer header on the
# underlay, and a Service over it. bgp: the racks lab, pod -> pod across racks through the ToRs
# and the spine (routers, BIRD's routes) and within a rack (bridged by the ToR), the world through
# the spine, node -> pod, a NodePort from the underlay. cni: a CNI lab, the pods' interfaces predicted and the way between
# them found by sniffing their and their nodes' namespaces, a pod -> ClusterIP through the nft DNAT
# (UDP and TCP), a node -> pod and -> ClusterIP (the node's route, its output hook), the underlay ->
# pod (refused without a route, traced with one), a NodePort from the underlay and from a pod, a
# backend to its own Service (the hairpin masquerade), the
# edge, and where a removed route drops it. svc_*: pod -> ClusterIP (svc/NAME, TCP; the ClusterIP by address,
# UDP) in each proxy mode, the translation shown where it happens (ebpf: the connect4 hook, the
# client's eth0 already carrying the backend), a NodePort from the underlay, a node's own stack to
# a ClusterIP and to its own NodePort (the nat output hook, or the TUN), a backend that picked
# itself (the hairpin masquerade, or ebpf's connection over its lo), then a pod and the
# Service after kill and scale (the pods as the cluster has them). No waits: trace
# itself ends when every hop has seen the probe.
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
  contains "$(hop "$out" node1:vxlan0 request)" "neigh 10.244.1.0 lladdr 0e:58:0a:f4:01:00; fdb 0e:58:0a:f4:01:00 dst 172.18.0.3" "vxlan0's neighbour and FDB entries"
  contains "$(hop "$out" underlay:node1 request)" " -> port node2" "the underlay bridge's FDB entry"
  contains "$(hop "$out" node2:cbr0 request)" "neigh 10.244.1.3 lladdr 0a:58:0a:f4:01:03" "cbr0's neighbour entry for web-1"
  contains "$out" "bridge cbr0: fdb 0a:58:0a:f4:00:01 is its own (cbr0): up to the stack" "the pod's frame goes up to node1 (cbr0's own MAC)"
  contains "$(hop "$out" client:eth0 reply)" "echo reply" "the reply comes back"
  pass "pod -> pod on one node (8 hops, bridged) and across nodes (24 hops, VXLAN outer header, routes)"
  out=$("$MKN" trace client web-1:8080 --pcap "$TMP/t.pcapng" -o json) || fail "trace TCP --pcap: $out"
  contains "$out" '"ok": true' "json"
  contains "$out" '"interface": "vxlan0"' "json hops"
  n=$(tshark -r "$TMP/t.pcapng" -Y 'frame.comment contains "trace hop" && tcp.flags.syn == 1' \
    -T fields -e frame.interface_name 2>/dev/null | sort -u | grep -c . || true)
  ((n >= 10)) || fail "tshark finds the SYN and SYN-ACK on $n interfaces of the pcap, not >= 10"
  # The comments name the table's rows, in order (a decapsulated copy is stamped before its outer).
  rows=$(tshark -r "$TMP/t.pcapng" -T fields -e frame.comment 2>/dev/null | grep -ao 'trace hop [0-9]*' | awk '{print $3}')
  [[ $rows == "$(sort -n <<<"$rows")" && $(wc -l <<<"$rows") -ge 20 ]] || fail "the pcap's hop comments in row order: $(echo $rows)"
  # --dry-run -o json: the prediction as JSON (it printed the text table).
  "$MKN" trace client web-1 --dry-run -o json | jq -e '.dry_run and (.hops | length) == 24 and .hops[0].filter != ""' >/dev/null ||
    fail "trace --dry-run -o json: $("$MKN" trace client web-1 --dry-run -o json 2>&1 | head -3)"
  pass "TCP to a pod port, -o json, --pcap read back by tshark ($n interfaces), --dry-run -o json"
  rc=0; out=$("$MKN" trace clinet web-1 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "a wrong SRC exits $rc: $out"
  contains "$out" 'did you mean "client"?' "a wrong SRC names the nearest"
  rc=0; out=$("$MKN" trace host web-1 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "host as SRC of a pod exits $rc (2: a usage error is no loss): $out"
  contains "$out" "DST must be an edge URL" "host reaches the cluster through the edge only"
  rc=0; out=$("$MKN" trace host web-1 -o json 2>/dev/null) || rc=$?
  [[ $rc == 2 ]] || fail "host as SRC, -o json, exits $rc: $out"
  [[ $(jq -r .verdict <<<"$out") == error ]] || fail "-o json on an error: a JSON verdict error: $out"
  contains "$(jq -r .error <<<"$out")" "DST must be an edge URL" "-o json's error text"
  rc=0; out=$("$MKN" trace host http://127.0.0.1:8080/ 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "an edge URL in a lab without an edge exits $rc: $out"
  contains "$out" "this lab has no ingress" "a lab without an edge says so (no ingress, not \"not traced yet\")"
  rc=0; out=$("$MKN" trace client client 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "trace to itself exits $rc: $out"
  contains "$out" "the packet never leaves the pod: it goes over lo" "trace to itself says why"
  rc=0; out=$("$MKN" trace client node2:22 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "a node port that is no NodePort exits $rc: $out"
  contains "$out" "no NodePort of this lab" "a node port that is no NodePort"
  # The help's "not traced yet" names only what is refused as such (a NodePort from a pod of its
  # own node is traced since 6645f71).
  ! "$MKN" trace --help | grep -F "Not traced yet" | grep -q "NodePort" || fail "trace --help: a NodePort is traced"
  # -c on every verb that acts on a running cluster, as the README's Commands intro says.
  "$MKN" graph -c quickstart -o mermaid >/dev/null || fail "graph -c quickstart"
  "$MKN" check -c quickstart >/dev/null || fail "check -c quickstart"
  rc=0; out=$("$MKN" graph -c nope quickstart 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "graph with two different clusters exits $rc: $out"
  pass "usage errors (exit 2, -o json an object), a pod to itself refused; graph and check take -c"
  # Nothing listens on web-1's port 9999: it answers with a RST (TCP) or an ICMP port unreachable
  # (UDP). That is the reply, matched on the reply hops: refused (exit 3), not lost.
  rc=0; out=$("$MKN" trace client web-1:9999 --proto tcp) || rc=$?
  [[ $rc == 3 ]] || fail "TCP to a closed port exits $rc: $out"
  contains "$out" "refused by web-1 (RST from 10.244.1.3:9999): the packet got there, nothing listens on that port" "a RST is a refusal"
  contains "$(hop "$out" client:eth0 reply)" "tcp 10.244.1.3:9999 > 10.244.0.2:" "the RST comes back to the client"
  contains "$(hop "$out" underlay:node2 reply)" " RST in vxlan 172.18.0.3 > 172.18.0.2" "the RST inside VXLAN"
  [[ -z $(grep MISSING <<<"$out") ]] || fail "a refusal has no MISSING hop: $out"
  rc=0; out=$("$MKN" trace client web-1:9999 --proto udp -o json) || rc=$?
  [[ $rc == 3 ]] || fail "UDP to a closed port exits $rc: $out"
  [[ $(jq -r .verdict <<<"$out") == refused ]] || fail "UDP to a closed port: verdict refused: $out"
  contains "$(jq -r .summary <<<"$out")" "refused by web-1 (ICMP port unreachable from 10.244.1.3)" "an ICMP port unreachable is a refusal"
  [[ $(jq '[.hops[] | select(.leg == "reply" and .seen)] | length' <<<"$out") -ge 8 ]] || fail "the ICMP error seen on the reply hops: $out"
  pass "a closed port: refused by web-1 (TCP RST, UDP ICMP port unreachable), exit 3, the reply hops seen"
  # The other ends: a node's own stack, the node's address, the underlay.
  out=$("$MKN" trace node1 web-0) || fail "trace node1 web-0: $out"
  contains "$(hop "$out" node1:cbr0 request)" "icmp 10.244.0.1 > 10.244.0.3" "node1 sends from cbr0's address"
  out=$("$MKN" trace node1 web-1) || fail "trace node1 web-1: $out"
  contains "$(hop "$out" node1:vxlan0 request)" "icmp 10.244.0.0 > 10.244.1.3" "node1 sends from vxlan0's address"
  contains "$(hop "$out" node1:vxlan0 reply)" "route local 10.244.0.0/32 dev vxlan0" "the answer ends at vxlan0"
  out=$("$MKN" trace client node2) || fail "trace client node2: $out"
  contains "$(hop "$out" underlay:node1 request)" "icmp 10.244.0.2 > 172.18.0.3 echo request" "out unencapsulated"
  contains "$(hop "$out" underlay:node2 reply)" "in vxlan 172.18.0.3 > 172.18.0.2" "the answer comes back over VXLAN"
  out=$("$MKN" trace underlay node2) || fail "trace underlay node2: $out"
  [[ $(grep -c '^[0-9]' <<<"$out") == 6 ]] || fail "underlay -> node2: 6 hops: $out"
  pass "node -> pod (cbr0's and vxlan0's address), pod -> node (the reply over VXLAN), underlay -> node"
  # The world outside: out of node1 masqueraded to its address, routed by the underlay's
  # namespace to the world's eth0, and back un-SNATed (issue 18: the SNAT visible in trace).
  out=$("$MKN" trace client www.example.test:80) || fail "trace client www.example.test:80: $out"
  contains "$(hop "$out" node1:cbr0 request)" "tcp 10.244.0.2:" "the pod's own address up to node1's routing decision"
  contains "$(hop "$out" node1:cbr0 request)" "route 0.0.0.0/0 via 172.18.0.1 dev eth0" "node1's default route"
  contains "$out" "node1 (nft masquerade (mkn-egress))" "the masquerade hop"
  contains "$out" "nft table ip mkn-egress postrouting: masquerade (counter packets" "the masquerade's rule and counter"
  contains "$out" "conntrack tcp 10.244.0.2:" "the masquerade's conntrack entry"
  contains "$out" " SNAT to 172.18.0.2:" "the SNAT to node1's address"
  contains "$(hop "$out" node1:eth0 request)" "tcp 172.18.0.2:" "the source rewritten at node1's uplink"
  contains "$(hop "$out" underlay:br0 request)" "route 203.0.113.0/24 dev world" "the underlay routes it to the world"
  contains "$(hop "$out" world:eth0 request)" "> 203.0.113.3:80 SYN" "the world's eth0"
  contains "$(hop "$out" client:eth0 reply)" "tcp 203.0.113.3:80 > 10.244.0.2:" "the answer un-SNATed back to the pod"
  out=$("$MKN" trace client world) || fail "trace client world (ICMP): $out"
  contains "$out" " SNAT to 172.18.0.2 id " "an echo's SNAT"
  out=$("$MKN" trace web-1 world:53 --proto udp -o json) || fail "trace web-1 world:53 (UDP, node2): $out"
  [[ $(jq -r '.hops[] | select(.object == "node2" and .interface == "eth0" and .leg == "request") | .packet.src' <<<"$out") == 172.18.0.3 ]] ||
    fail "web-1's DNS query leaves node2 as 172.18.0.3: $out"
  out=$("$MKN" trace client echo.example.test:7 --proto udp) || fail "trace client echo.example.test:7 (UDP echo): $out"
  out=$("$MKN" trace node2 203.0.113.4:7) || fail "trace node2 203.0.113.4:7 (a node's own, TCP): $out"
  [[ -z $(grep masquerade <<<"$out") ]] || fail "a node's own packet is not masqueraded: $out"
  pass "the world: ICMP, TCP :80/:7, UDP :7/:53 from pods and a node, masqueraded at the node (its rule, counter and conntrack entry), the source rewritten at the uplink, the answer un-SNATed"
  # Break the lab by hand: node1 forgets how to reach node2's pods.
  ip netns exec mkn-quickstart-node1 ip route del 10.244.1.0/24
  rc=0; out=$("$MKN" trace client web-1 --timeout 0.5) || rc=$?
  [[ $rc == 1 ]] || fail "trace through a removed route exits $rc: $out"
  contains "$out" "lost: not seen at node1:vxlan0 (request, out); last seen at node1:cbr0 (request, in)" "where it died"
  # Without its route to node2's pods, node1 sends them its default way: toward the world.
  contains "$out" "route 0.0.0.0/0 via 172.18.0.1 dev eth0" "why"
  # From node1's own stack: sent its default way, seen by no predicted hop; node1's route says so.
  rc=0; out=$("$MKN" trace node1 web-1 --timeout 0.5) || rc=$?
  [[ $rc == 1 ]] || fail "trace node1 web-1 through a removed route exits $rc: $out"
  contains "$out" "never seen; node1 routes it: route 0.0.0.0/0 via 172.18.0.1 dev eth0" "node1's own route"
  # Without the default route too, node1's probe cannot be sent at all (ENETUNREACH): it died in
  # node1's routing decision, a lost probe (exit 1) like the pod's, not a usage error.
  ip netns exec mkn-quickstart-node1 ip route del default
  for p in "" ":8080" ":7 --proto udp"; do
    rc=0; out=$("$MKN" trace node1 web-1$p --timeout 0.5) || rc=$?
    [[ $rc == 1 ]] || fail "trace node1 web-1$p without any route exits $rc: $out"
    contains "$out" "lost at the source: node1 did not send it (its routing decision): route get 10.244.1.3: no route to 10.244.1.3 (the probe's" "node1 SRC$p"
    contains "$out" "Network is unreachable)" "the send's error$p"
  done
  rc=0; out=$("$MKN" trace node1 web-1 --timeout 0.5 -o json) || rc=$?
  [[ $rc == 1 && $(jq -r .verdict <<<"$out") == lost && $(jq -r .first_missing <<<"$out") == "node1 (routing decision)" ]] || fail "-o json of a probe that never left: $out"
  rc=0; out=$("$MKN" trace client web-1 --timeout 0.5) || rc=$?
  [[ $rc == 1 ]] || fail "trace client web-1 without node1's default route exits $rc: $out"
  contains "$out" "last seen at node1:cbr0 (request, in): route get 10.244.1.3: no route to 10.244.1.3" "the pod's probe dies in node1"
  pass "a route removed by hand: exit 1, last seen at node1:cbr0, gone the default way; from node1 itself: its route, and without one its routing decision (exit 1)"
  # --pcap into a FIFO nobody reads: it waits as long as the trace did, then says why (it hung).
  mkfifo "$TMP/fifo"
  rc=0; out=$(timeout 20 "$MKN" trace client web-0 --pcap "$TMP/fifo" --timeout 0.3 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "--pcap to an unread FIFO exits $rc: $out"
  contains "$out" "nothing opened it for reading within the trace's --timeout" "an unread FIFO says why"
  # --pcap naming a directory: a usage error said before the probe goes out (exit 2).
  rc=0; out=$("$MKN" trace client web-0 --pcap "$TMP" 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "--pcap DIR exits $rc: $out"
  contains "$out" "is a directory: name a file in it" "--pcap DIR says what to give"
  [[ $out != *"LEG"* ]] || fail "--pcap DIR: nothing is traced: $out"
  # While a probe is out (lost: the route is still gone), its destination is killed, then the
  # cluster goes down: each says what happened, never "lost".
  sniffing() { # until trace $1 has its packet sockets open in node1
    for _ in $(seq 200); do
      ip netns exec mkn-quickstart-node1 ss -0 -p 2>/dev/null | grep -q "pid=$1," && return
      sleep 0.02
    done
  }
  # Ctrl-C while the lost probe is awaited (--timeout 30) ends the wait at once: the hops seen so
  # far, the last one named, and the --pcap, exit 130. (A script's background job ignores SIGINT
  # unless given it back.)
  env --default-signal=INT "$MKN" trace client web-1 --timeout 30 --pcap "$TMP/int.pcapng" >"$TMP/ti" 2>&1 & tp=$!
  sniffing $tp
  t0=$(date +%s%N)
  kill -INT $tp
  rc=0; wait $tp || rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  [[ $rc == 130 && $ms -lt 5000 ]] || fail "Ctrl-C of a waiting trace: exit $rc after $ms ms: $(cat "$TMP/ti")"
  contains "$(cat "$TMP/ti")" "interrupted (a stop signal) while waiting: lost: not seen at node1:vxlan0" "Ctrl-C: the verdict so far"
  [[ -s $TMP/int.pcapng ]] || fail "Ctrl-C: no --pcap written"
  "$MKN" trace client web-1 --timeout 2 >"$TMP/tk" 2>&1 & tp=$!
  sniffing $tp
  "$MKN" kill web-1 >/dev/null
  rc=0; wait $tp || rc=$?
  [[ $rc == 1 ]] || fail "trace while its destination is killed exits $rc: $(cat "$TMP/tk")"
  contains "$(cat "$TMP/tk")" "the path changed during the trace: pod web-1" "a pod killed under the trace"
  # A long --timeout: its sockets hold the namespaces, so trace must end when they go, not make
  # down wait out its deadline (15 s, the nodes blamed).
  "$MKN" trace client web-1 --timeout 30 >"$TMP/td" 2>&1 & tp=$!
  sniffing $tp
  t0=$(date +%s%N)
  out=$("$MKN" down quickstart 2>&1) || fail "down under a trace: $out"
  ms=$((($(date +%s%N) - t0) / 1000000))
  rc=0; wait $tp || rc=$?
  ((ms < 5000)) || fail "down under a trace with --timeout 30 took $ms ms: $out"
  [[ $out != *"had not freed"* ]] || fail "down under a trace blamed a namespace: $out"
  [[ $rc == 1 ]] || fail "trace during down exits $rc: $(cat "$TMP/td")"
  contains "$(cat "$TMP/td")" "went away during the trace" "trace during down says the cluster went away"
  pass "--pcap to an unread FIFO times out and says why; Ctrl-C ends the wait with the verdict so far; a pod killed, the cluster down under a trace (down in $ms ms): said so"
  assert_clean quickstart
  ;;
host_gw)
  # Without the world ([cluster] world = false): trace to it says so.
  sed 's/^\[cluster\]$/[cluster]\nworld = false/' examples/host-gw/lab.toml >"$TMP/lab.toml"
  "$MKN" up -d "$TMP/lab.toml" >/dev/null
  out=$("$MKN" trace client web-1) || fail "trace client web-1 (host-gw): $out"
  [[ $(grep -c '^[0-9]' <<<"$out") == 20 ]] || fail "host-gw across nodes: 20 hops: $out"
  contains "$(hop "$out" node1:cbr0 request)" "via 172.18.0.3 dev eth0" "node1 routes to node2's underlay address"
  [[ -z $(grep vxlan <<<"$out") ]] || fail "host-gw has no VXLAN: $out"
  for dst in world example.test:80; do
    rc=0; out=$("$MKN" trace client $dst 2>&1) || rc=$?
    [[ $rc == 2 ]] || fail "trace to the world of a lab without one ($dst) exits $rc: $out"
    contains "$out" "this lab has none ([cluster] world = false)" "world = false said ($dst)"
  done
  pass "host-gw: pod -> pod across nodes, routed, no encapsulation; no world: said so"
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
bgp)
  "$MKN" up -d examples/bgp/lab.toml >/dev/null 2>&1
  out=$("$MKN" trace client web-1) || fail "trace client web-1 (across racks): $out"
  [[ $(grep -c '^[0-9]' <<<"$out") == 28 ]] || fail "across racks: 28 hops: $out"
  contains "$(hop "$out" node1:cbr0 request)" "route 10.244.2.0/24 via 172.18.1.1 dev eth0 proto bird" "node1's BIRD route to its ToR"
  contains "$(hop "$out" tor-r1:node1 request)" "routed by tor-r1: route 10.244.2.0/24 via 172.18.0.1 dev spine proto bird" "the ToR routes to the spine"
  contains "$(hop "$out" spine:tor-r1 request)" "routed by spine: route 10.244.2.0/24 via 172.18.0.6 dev tor-r2 proto bird" "the spine routes to tor-r2"
  contains "$(hop "$out" tor-r2:spine reply)" "icmp 10.244.2.2 > 10.244.0.2 echo reply" "the reply back across the spine"
  [[ -z $(grep -E 'vxlan|underlay:' <<<"$out") ]] || fail "bgp: no encapsulation, no flat underlay: $out"
  out=$("$MKN" trace client example.test:80) || fail "trace client example.test:80 (racks): $out"
  contains "$(hop "$out" node1:eth0 request)" "tcp 172.18.1.2:" "masqueraded to node1's address at its uplink"
  contains "$(hop "$out" tor-r1:node1 request)" "routed by tor-r1: route 0.0.0.0/0 via 172.18.0.1 dev spine" "the ToR's default route to the spine"
  contains "$(hop "$out" spine:tor-r1 request)" "routed by spine: route 203.0.113.0/24 dev world" "the spine routes to the world"
  contains "$(hop "$out" client:eth0 reply)" "tcp 203.0.113.2:80 > 10.244.0.2:" "un-SNATed back"
  out=$("$MKN" trace client web-0 -o json) || fail "trace client web-0 (one rack): $out"
  contains "$out" '"kind": "router"' "routers are labelled as routers"
  contains "$out" "tor-r1 bridge br0: fdb " "a rack-mate's packet is bridged by the ToR"
  contains "$out" " -> port node2" "the ToR's FDB entry names node2's port"
  out=$("$MKN" trace node1 web-1) || fail "trace node1 web-1: $out"
  contains "$(hop "$out" node1:eth0 request)" "icmp 172.18.1.2 > 10.244.2.2" "node1 sends from its underlay address"
  out=$("$MKN" trace underlay node3:30080) || fail "trace underlay node3:30080: $out"
  contains "$(hop "$out" tor-r2:br0 request)" "tcp 172.18.2.1:" "the NodePort probed from node3's ToR"
  contains "$(hop "$out" node3:mkn-proxy request)" "> 172.18.2.2:30080 SYN" "into node3's proxy"
  pass "bgp: across racks (28 hops, ToRs and spine, proto bird), in a rack (bridged), the world through the spine, node -> pod, NodePort from the underlay"
  "$MKN" down bgp >/dev/null
  assert_clean bgp
  ;;
cni)
  # A CNI lab (the bridge plugin, host-gw node routes): the pods' interfaces predicted, the rest
  # of the way found by sniffing every interface of the pods' and their nodes' namespaces. The
  # example as it is, with an edge in front of its Service web.
  cp examples/cni/bridge.toml examples/cni/bridge.conflist "$TMP/"
  printf '\n[[ingress]]\nname = "web"\ndefault_backend = { service = "web", port = 80 }\n' >>"$TMP/bridge.toml"
  (cd "$TMP" && "$MKN" up -d bridge.toml >/dev/null 2>&1)
  out=$("$MKN" trace web-1 web-4) || fail "trace web-1 web-4 (cni): $out"
  contains "$out" "network cni" "a CNI lab says so"
  contains "$(hop "$out" node1:cni0 request)" "icmp 10.244.0.2 > 10.244.1.3 echo request" "the plugin's bridge, found by sniffing"
  contains "$(hop "$out" node1:eth0 request)" "route 10.244.1.0/24 via 172.18.0.3 dev eth0" "node1's route to node2's pods"
  contains "$(grep -E '^[0-9]+ +request .* node1:veth' <<<"$out")" "bridge cni0: fdb " "a port of the plugin's bridge: its FDB, not a route"
  contains "$(hop "$out" web-1:eth0 reply)" "echo reply" "the reply comes back"
  # Services: kube-proxy's nftables DNAT in the client's node, proved by its conntrack entry.
  out=$("$MKN" trace web-3 svc/dns) || fail "trace web-3 svc/dns (cni, UDP across nodes): $out"
  contains "$(hop "$out" web-3:eth0 request)" "> 10.96.0.53:53" "the ClusterIP leaves the pod"
  contains "$out" "node2 (nft DNAT (prerouting))" "the DNAT in web-3's node"
  contains "$out" "conntrack udp 10.244.1.2:" "the DNAT's conntrack entry"
  contains "$(hop "$out" dns-1:eth0 request)" ":5353" "the endpoint's target port at dns-1"
  contains "$(hop "$out" web-3:eth0 reply)" "udp 10.96.0.53:53 > 10.244.1.2:" "the reply from the ClusterIP"
  contains "$out" "(endpoint dns-1)" "the endpoint named"
  out=$("$MKN" trace dns-1 svc/web -o json) || fail "trace dns-1 svc/web (cni, TCP): $out"
  [[ $(jq -r .verdict <<<"$out") == ok && $(jq -r .endpoint <<<"$out") == web-* ]] || fail "svc/web: ok, an endpoint: $out"
  pass "cni: pod -> ClusterIP (UDP across nodes, TCP as JSON), the DNAT's conntrack entry"
  # A node's own stack: the device and source its kernel picks toward DST first, the rest sniffed.
  out=$("$MKN" trace node1 web-4) || fail "trace node1 web-4 (cni): $out"
  contains "$(hop "$out" node1:eth0 request)" "icmp 172.18.0.2 > 10.244.1.3 echo request" "node1's probe leaves by eth0, from its address"
  contains "$(hop "$out" node1:eth0 request)" "route 10.244.1.0/24 via 172.18.0.3 dev eth0" "node1's route to node2's pods"
  contains "$(hop "$out" node1:eth0 reply)" "local delivery" "the answer back into node1"
  out=$("$MKN" trace node2 svc/web -o json) || fail "trace node2 svc/web (cni): $out"
  [[ $(jq -r .verdict <<<"$out") == ok && $(jq -r '.hops[0].role' <<<"$out") == "nft DNAT (output)" ]] ||
    fail "node -> ClusterIP: ok, translated in node2's output hook first: $out"
  jq -e '.hops[0].why | startswith("conntrack tcp 172.18.0.3:") and contains("SNAT to")' <<<"$out" >/dev/null ||
    fail "node -> ClusterIP: the DNAT's (and masquerade's) conntrack entry: $out"
  jq -e '.hops[-1].why | contains("is connected to 10.96.0.10:80")' <<<"$out" >/dev/null ||
    fail "node -> ClusterIP: the probe's socket proves the un-DNAT: $out"
  pass "cni: node -> pod (its route's device first), node -> ClusterIP (DNAT in its output hook, -o json)"
  # A pod to a node: taken in (and answered) by the device the node's kernel routes the pod by.
  out=$("$MKN" trace web-1 node1) || fail "trace web-1 node1 (cni): $out"
  contains "$(hop "$out" node1:cni0 request)" "icmp 10.244.0.2 > 172.18.0.2 echo request" "its own node takes it in on the plugin's bridge"
  contains "$(hop "$out" web-1:eth0 reply)" "echo reply" "and answers"
  out=$("$MKN" trace web-1 node2 -o json) || fail "trace web-1 node2 (cni): $out"
  [[ $(jq -r .verdict <<<"$out") == ok ]] || fail "pod -> another node: $out"
  jq -e '[.hops[] | select(.object == "node2" and .interface == "eth0" and .seen)] | length >= 2' <<<"$out" >/dev/null ||
    fail "pod -> another node: in and out of node2's eth0: $out"
  pass "cni: pod -> its node (on cni0) and -> another node (-o json, on its eth0)"
  # The underlay: no route to the pods (the kernel says so) until it is given one.
  rc=0; out=$("$MKN" trace underlay web-4 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "underlay -> pod without a route exits $rc: $out"
  contains "$out" 'route get 10.244.1.3` answers "Network is unreachable"' "the kernel's answer"
  ip netns exec mkn-cni-bridge-underlay ip route add 10.244.1.0/24 via 172.18.0.3
  out=$("$MKN" trace underlay web-4) || fail "trace underlay web-4 (cni, routed by hand): $out"
  contains "$(hop "$out" underlay:br0 request)" "icmp 172.18.0.1 > 10.244.1.3 echo request" "from the underlay's br0"
  contains "$(hop "$out" web-4:eth0 reply)" "echo reply" "web-4 answers the underlay"
  ip netns exec mkn-cni-bridge-underlay ip route del 10.244.1.0/24
  pass "cni: underlay -> pod refused with the kernel's answer, traced once the underlay has a route"
  # NodePorts: DNAT and masquerade in the NodePort's node.
  out=$("$MKN" trace underlay node2:30080 -o json) || fail "trace underlay node2:30080 (cni): $out"
  [[ $(jq -r .verdict <<<"$out") == ok ]] || fail "NodePort from the underlay: $out"
  jq -e '.hops[] | select(.role == "nft DNAT + masquerade (NodePort)") | .why | contains("SNAT to")' <<<"$out" >/dev/null ||
    fail "NodePort from the underlay: the masquerade's conntrack entry: $out"
  out=$("$MKN" trace dns-1 node2:30080) || fail "trace dns-1 node2:30080 (cni): $out"
  contains "$out" "node2 (nft DNAT + masquerade (NodePort))" "translated in node2"
  contains "$(hop "$out" dns-1:eth0 reply)" "tcp 172.18.0.3:30080 > 10.244.0.4:" "the answer from the NodePort"
  # From a pod of the NodePort's own node: translated as the pod's frame meets the node (the bridge
  # plugin's port, br_netfilter; ptp's veth), masqueraded toward the endpoint.
  out=$("$MKN" trace dns-1 node1:30080) || fail "trace dns-1 node1:30080 (cni): $out"
  contains "$out" "node1 (nft DNAT + masquerade (NodePort))" "translated in dns-1's own node"
  contains "$(hop "$out" dns-1:eth0 reply)" "tcp 172.18.0.2:30080 > 10.244.0.4:" "the answer from its own node's NodePort"
  pass "cni: a NodePort from the underlay (-o json), from another node's pod and from its own node's"
  # A backend calling its own Service, until it picked itself (4 endpoints, random: 30 at most,
  # about 4): the @hairpin masquerade to the address node1 picks toward web-1.
  self=""
  for i in $(seq 30); do
    out=$("$MKN" trace web-1 svc/web) || fail "trace web-1 svc/web (cni): $out"
    [[ $out == *"(endpoint web-1)"* ]] && { self=$out; break; }
  done
  [[ -n $self ]] || fail "30 traces web-1 -> svc/web (cni) never picked web-1"
  contains "$(hop "$self" web-1:eth0 request | grep ' in ')" "tcp 10.244.0.1:" "the hairpin masqueraded to node1's address toward web-1"
  # The same through a NodePort of its own node: its node's veth in and out (before and after the
  # translation) show too, not only web-1's eth0 (the trace stopped reading once the ends saw it).
  self=""
  for i in $(seq 30); do
    out=$("$MKN" trace web-1 node1:30080) || fail "trace web-1 node1:30080 (cni): $out"
    [[ $out == *"(endpoint web-1)"* ]] && { self=$out; break; }
  done
  [[ -n $self ]] || fail "30 traces web-1 -> node1:30080 (cni) never picked web-1"
  for dir in in out; do
    grep -Eq "^[0-9]+ +request +[^ ]+ +node1:veth[0-9a-f]+ +$dir " <<<"$self" || fail "the hairpin NodePort's node1 veth $dir: $self"
  done
  pass "cni: a backend that picked itself, masqueraded by the hairpin rule (by svc/web, and by node1:30080 with node1's veth)"
  # The edge: its upstream is node1's own connection to the ClusterIP.
  out=$("$MKN" trace host http://127.0.0.1:8080/) || fail "trace host http://127.0.0.1:8080/ (cni): $out"
  contains "$out" "network cni" "a CNI lab says so"
  contains "$out" "edge (upstream from node1)" "the edge's upstream from node1"
  pass "cni: host -> edge -> pod"
  # A `cni del` + `cni add` by hand gives web-2 another address the lab did not record: trace
  # says so, and what records it.
  old_ip=$(ip -n mkn-cni-bridge-web-2 -4 -o addr show dev eth0 | awk '{print $4}')
  "$MKN" cni del web-2 >/dev/null && "$MKN" cni add web-2 >/dev/null || fail "cni del/add web-2"
  new_ip=$(ip -n mkn-cni-bridge-web-2 -4 -o addr show dev eth0 | awk '{print $4}')
  [[ -n $new_ip && $new_ip != "$old_ip" ]] || fail "host-local gave web-2 its address again ($old_ip): nothing to test"
  rc=0; out=$("$MKN" trace web-2 web-1 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "trace from a pod whose address changed by hand exits $rc: $out"
  contains "$out" "minikube-net kill web-2" "says what records the new address"
  pass "cni: a pod re-added by hand: trace names the stale address and the way out"
  ip netns exec mkn-cni-bridge-node1 ip route del 10.244.1.0/24
  rc=0; out=$("$MKN" trace web-1 web-4 --timeout 0.5) || rc=$?
  [[ $rc == 1 ]] || fail "trace through a removed route (cni) exits $rc: $out"
  contains "$out" "lost: not seen at web-4:eth0 (request, in); last seen at node1:cni0 (request, in)" "where it died"
  contains "$out" "no route to 10.244.1.3" "why"
  # From node1 itself the probe cannot even be sent: it dies in node1's routing decision.
  rc=0; out=$("$MKN" trace node1 web-4 --timeout 0.5) || rc=$?
  [[ $rc == 1 ]] || fail "trace node1 web-4 through a removed route (cni) exits $rc: $out"
  contains "$out" "Network is unreachable" "node1's send says why"
  pass "cni: the path between two pods found by sniffing; a removed route: exit 1 at node1:cni0, and at node1's routing decision from node1"
  "$MKN" down cni-bridge >/dev/null 2>&1
  assert_clean cni-bridge
  ;;
svc_userspace | svc_nftables | svc_ebpf)
  mode=${CASE#svc_}
  sed "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" examples/services/lab.toml >"$TMP/lab.toml"
  # A UDP Service whose endpoints listen on another port: what nothing listening looks like.
  printf '%s\n' '[[service]]' 'name = "closed"' 'cluster_ip = "10.96.0.77"' 'selector = { app = "dns" }' \
    '  [[service.port]]' '  port = 53' '  target_port = 9999' '  protocol = "UDP"' >>"$TMP/lab.toml"
  "$MKN" up -d "$TMP/lab.toml" >/dev/null 2>&1
  # Round-robin over three endpoints: three traces reach each once (one on the client's node).
  # ebpf picks at random: three traces, each checked.
  for i in 1 2 3; do
    out=$("$MKN" trace client svc/web) || fail "trace client svc/web ($mode): $out"
    contains "$out" "tcp 10.244.0.2:" "the client's own address leaves the pod"
    if [[ $mode == ebpf ]]; then
      contains "$(hop "$out" client:eth0 request)" ":8080 SYN" "the backend already leaves the pod"
      [[ -z $(grep 10.96.0.10 <<<"$out" | grep -v 'connect4') ]] || fail "no interface sees the ClusterIP in ebpf mode: $out"
      contains "$out" "connect4 rewrote 10.96.0.10:80 -> 10.244." "the connect4 hook's rewrite"
      continue
    fi
    contains "$(hop "$out" client:eth0 request)" "> 10.96.0.10:80 SYN" "the ClusterIP leaves the pod"
    contains "$(hop "$out" client:eth0 reply)" "tcp 10.96.0.10:80 >" "the reply comes from the ClusterIP"
    if [[ $mode == userspace ]]; then
      contains "$(hop "$out" node1:mkn-proxy request)" "10.244.0.254:" "the proxy's SNAT on the TUN"
    else
      contains "$out" "conntrack tcp 10.244.0.2:" "the DNAT's conntrack entry"
    fi
    grep -o "(endpoint web-[0-9])" <<<"$out" >>"$TMP/endpoints"
  done
  [[ $mode == ebpf || $(sort -u "$TMP/endpoints" | grep -c .) == 3 ]] || fail "three traces reached: $(cat "$TMP/endpoints")"
  if [[ $mode == userspace ]]; then
    # A closed port behind the proxy: it relays the endpoint's ICMP port unreachable back to the
    # client, translated as conntrack would (from the ClusterIP): refused, not lost.
    rc=0; out=$("$MKN" trace client svc/closed) || rc=$?
    [[ $rc == 3 ]] || fail "a closed UDP port behind the userspace proxy exits $rc: $out"
    contains "$(hop "$out" client:eth0 reply)" "icmp 10.96.0.77 > 10.244.0.2 unreachable (code 3)" "the proxy relays the ICMP error"
    # A Service without endpoints: its own verdict and exit code, and JSON on stdout.
    rc=0; out=$("$MKN" trace client svc/empty -o json 2>"$TMP/err") || rc=$?
    [[ $rc == 4 ]] || fail "a Service without endpoints exits $rc: $out $(cat "$TMP/err")"
    [[ $(jq -r .verdict <<<"$out") == "no endpoints" ]] || fail "svc/empty: verdict no endpoints: $out"
    contains "$(cat "$TMP/err")" "has no endpoints" "svc/empty says so on stderr"
  fi
  out=$("$MKN" trace client 10.96.0.53:53) || fail "trace client 10.96.0.53:53 ($mode): $out"
  contains "$out" "udp 10.244.0.2:" "UDP to the ClusterIP by address"
  [[ $mode != ebpf ]] || contains "$out" "sendmsg4 rewrote 10.96.0.53:53 -> " "an unconnected UDP socket's sendmsg4"
  # A NodePort from the underlay: in on node1's eth0, translated there (ebpf mode: by the node's
  # nftables table, no pod socket being involved).
  out=$("$MKN" trace underlay node1:30080) || fail "trace underlay node1:30080 ($mode): $out"
  contains "$(hop "$out" node1:eth0 request)" "tcp 172.18.0.1:" "the NodePort reaches node1's eth0"
  contains "$(hop "$out" node1:eth0 reply)" "tcp 172.18.0.2:30080 > 172.18.0.1:" "the answer from the NodePort"
  [[ $mode == userspace ]] || contains "$out" "> 172.18.0.2:30080 DNAT to 10.244." "the NodePort's DNAT"
  # userspace: WHY is the lookup of this packet (its port, in by eth0), which the proxy's rule sends
  # to table 100, as `ip route get 172.18.0.2 from 172.18.0.1 iif eth0 ipproto tcp dport 30080`.
  [[ $mode != userspace ]] || contains "$(hop "$out" node1:eth0 request)" "dev mkn-proxy table 100" "the NodePort rule's table in WHY"
  # A node's own stack to a ClusterIP: the nat output hook (nftables; ebpf too, the node not being
  # in the cluster's cgroup) from cbr0's address, or the route into the proxy TUN (userspace).
  out=$("$MKN" trace node1 svc/web) || fail "trace node1 svc/web ($mode): $out"
  contains "$out" "ok: every predicted hop saw the probe" "node1 -> svc/web ($mode)"
  if [[ $mode == userspace ]]; then
    contains "$(hop "$out" node1:mkn-proxy request)" "tcp 172.18.0.2:" "node1's connection into its proxy TUN"
  else
    contains "$out" "nft DNAT (output)" "the output hook's DNAT"
    contains "$out" "conntrack tcp 10.244.0.1:" "the output DNAT's conntrack entry, from cbr0's address"
  fi
  # A pod to another node's NodePort: there by the underlay, unencapsulated (a node's address);
  # the answer, un-translated in node2, is node2's own packet to a pod: back over the overlay.
  out=$("$MKN" trace client node2:30080) || fail "trace client node2:30080 ($mode): $out"
  contains "$out" "ok: every predicted hop saw the probe" "client -> node2:30080 ($mode)"
  contains "$(hop "$out" node2:vxlan0 reply)" "tcp 172.18.0.3:30080 > 10.244.0.2:" "the answer leaves node2 by its overlay"
  # A NodePort of the node itself, from its own stack.
  out=$("$MKN" trace node1 node1:30080) || fail "trace node1 node1:30080 ($mode): $out"
  contains "$out" "ok: every predicted hop saw the probe" "node1 -> node1:30080 ($mode)"
  # A NodePort from a pod of its own node, to an endpoint on that node (web-1) and on the other
  # (web-0, web-2): traced until both were picked (the balancing is random: 20 at most). nftables,
  # and ebpf's table: DNATed on the client's bridge port (br_netfilter), so the node's stack sees
  # it only when it routes it on to node2 (cbr0 in, still from the pod: masqueraded after); the
  # answer is un-DNATed before the client's veth. userspace: routed into the proxy TUN from cbr0.
  same="" cross=""
  for i in $(seq 20); do
    out=$("$MKN" trace client node1:30080) || fail "trace client node1:30080 ($mode): $out"
    contains "$(hop "$out" client:eth0 reply)" "tcp 172.18.0.2:30080 > 10.244.0.2:" "the answer from node1's NodePort"
    if [[ $mode == userspace ]]; then
      contains "$(hop "$out" node1:mkn-proxy request)" "> 172.18.0.2:30080 SYN" "into node1's proxy TUN"
      contains "$(hop "$out" node1:cbr0 request)" "dev mkn-proxy table 100" "in by cbr0, the NodePort rule's table"
      contains "$(hop "$out" node1:cbr0 reply)" "tcp 172.18.0.2:30080 > 10.244.0.2:" "node1 answers from its NodePort"
    else
      contains "$out" "> 172.18.0.2:30080 DNAT to 10.244." "the NodePort's DNAT"
    fi
    if [[ $out == *"(endpoint web-1)"* ]]; then
      same=$out
    else
      cross=$out
    fi
    [[ -n $same && -n $cross ]] && break
  done
  [[ -n $same && -n $cross ]] || fail "20 traces client -> node1:30080 ($mode) did not pick both a node1 and a node2 endpoint"
  if [[ $mode != userspace ]]; then
    contains "$(hop "$same" web-1:eth0 request)" "tcp 10.244.0.1:" "masqueraded to cbr0's address toward web-1"
    [[ -z $(hop "$same" node1:cbr0 request) ]] || fail "bridged port to port to web-1, cbr0 predicted: $same"
    contains "$(hop "$cross" node1:cbr0 request)" "tcp 10.244.0.2:" "cbr0 takes it up still from the pod"
    contains "$(hop "$cross" node1:vxlan0 request)" "tcp 10.244.0.0:" "masqueraded to vxlan0's address"
    contains "$(hop "$cross" node1:cbr0 reply)" "tcp 172.18.0.2:30080 > 10.244.0.2:" "un-DNATed before cbr0 sends it"
  fi
  # A backend calling its own Service, until it picked itself (round-robin: within 3; ebpf's
  # random pick: 20 at most). nftables: the @hairpin masquerade to cbr0's address, bridged back
  # out of web-1's own port; ebpf: connect4 gave it its own address, over its lo.
  self=""
  for i in $(seq 20); do
    out=$("$MKN" trace web-1 svc/web) || fail "trace web-1 svc/web ($mode): $out"
    [[ $out == *"(endpoint web-1)"* ]] && { self=$out; break; }
  done
  [[ -n $self ]] || fail "20 traces web-1 -> svc/web ($mode) never picked web-1"
  [[ $mode != nftables ]] || contains "$(hop "$self" web-1:eth0 request)" "tcp 10.244.0.1:" "the hairpin masqueraded to cbr0's address"
  [[ $mode != ebpf ]] || contains "$(hop "$self" web-1:lo request)" "> 10.244.0." "the hairpin over web-1's lo"
  # The underlay has no route to the Services: refused with the reason (exit 2).
  rc=0; out=$("$MKN" trace underlay svc/web 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "underlay -> svc/web exits $rc: $out"
  contains "$out" "no route to the pods or the Services" "underlay -> ClusterIP says why"
  pass "$mode: pod -> ClusterIP (svc/web TCP, 10.96.0.53:53 UDP), translated where it happens; NodePort from the underlay, from a pod of its own node (both endpoints' ways); a backend that picked itself; node -> ClusterIP and its own NodePort"
  # After kill and scale the pods are where the cluster put them, not where the lab file did: a
  # killed pod's new address, replicas made again on other nodes (their veths), all traced.
  "$MKN" kill web-0 >/dev/null && "$MKN" scale web 1 >/dev/null && "$MKN" scale web 3 >/dev/null ||
    fail "kill web-0, scale web 1, scale web 3"
  ip=$("$MKN" get pods -o json | jq -r '.[] | select(.name == "web-0") | .ip')
  out=$("$MKN" trace client web-0) || fail "trace client web-0 after its kill ($mode): $out"
  contains "$out" "> $ip echo request" "the killed pod's new address $ip"
  out=$("$MKN" trace client "$ip:8080") || fail "trace client $ip:8080 after the kill ($mode): $out"
  for i in 1 2 3 4; do
    out=$("$MKN" trace client svc/web) || fail "trace client svc/web after kill and scale ($mode): $out"
  done
  pass "$mode: after kill and scale, the pods traced where they are now"
  "$MKN" down svc >/dev/null
  assert_clean svc
  ;;
edge | edge_userspace | edge_ebpf)
  # The edge leg (examples/ingress, in each proxy mode: edge is nftables): the client's HTTP
  # request on lo, the edge's route and backend from its access log (the marker it logs), the
  # upstream from node1's own stack to a web pod (nftables, and ebpf whose connect4 hook sees only
  # the cluster cgroup's sockets: through the nat output hook; userspace: into the proxy TUN), and
  # back; a pooled upstream connection has no SYN: its copies are matched by the marker in their
  # payload.
  mode=${CASE#edge_}
  [[ $mode == edge ]] && mode=nftables
  sed "s/^auto_tls = true/auto_tls = true\nproxy_mode = \"$mode\"/" examples/ingress/lab.toml >"$TMP/lab.toml"
  "$MKN" up -d "$TMP/lab.toml" >/dev/null 2>&1
  for i in 1 2; do # the second request goes over the upstream connection the first left pooled
    out=$("$MKN" trace host http://web.lab.test:8080/hello) || fail "trace host http://web.lab.test:8080/hello ($mode, $i): $out"
    contains "$out" "ok: every predicted hop saw the probe, there and back" "host -> edge -> pod ($mode, $i)"
    contains "$out" "proxy $mode" "the lab's proxy mode ($i)"
    contains "$(hop "$out" host:lo request)" " > 127.0.0.1:8080 HTTP request" "the client's request on lo ($i)"
    contains "$out" "route ingress/site/web.lab.test/, backend web-" "the edge's route and backend, from its access log ($i)"
    if [[ $mode == userspace ]]; then
      contains "$(hop "$out" node1:mkn-proxy request)" "tcp 172.18.0.2:" "the upstream into node1's proxy TUN, from eth0's address ($i)"
    else
      contains "$out" "nft DNAT (output)" "the upstream through node1's nat output hook ($i)"
      contains "$out" "conntrack tcp 10.244.0.1:" "the upstream's DNAT, from cbr0's address ($i)"
    fi
    contains "$(hop "$out" host:lo reply)" "tcp 127.0.0.1:8080 > 127.0.0.1:" "the response on lo ($i)"
    grep -q '^[0-9].*web-[0-9]:eth0 .* in .*HTTP request' <<<"$out" || fail "a web pod's eth0 sees the request ($i): $out"
  done
  out=$("$MKN" trace host http://web.lab.test:8080/ -o json --pcap "$TMP/edge.pcapng") || fail "trace the edge -o json --pcap: $out"
  [[ $(jq -r .verdict <<<"$out") == ok ]] || fail "-o json: verdict ok: $out"
  [[ $(jq '[.hops[] | select(.kind == "edge" and .seen)] | length' <<<"$out") == 2 ]] || fail "-o json: the edge's two hops seen: $out"
  [[ $(jq '[.hops[] | select(.interface == "lo" and .seen)] | length' <<<"$out") == 2 ]] || fail "-o json: lo there and back: $out"
  n=$(tshark -r "$TMP/edge.pcapng" -Y 'frame.comment contains "trace hop" && frame.interface_name == "host:lo"' 2>/dev/null | grep -c . || true)
  ((n >= 2)) || fail "the pcap has the lo hop, there and back ($n copies)"
  # A route to a Service without endpoints: the edge answers 503 itself, and that is where it died.
  rc=0; out=$("$MKN" trace host http://api.lab.test:8080/soon) || rc=$?
  [[ $rc == 1 ]] || fail "the edge's own 503 exits $rc: $out"
  contains "$out" "lost at the edge: the edge answered 503 itself (service soon:80 has no endpoints)" "the edge hop named"
  if [[ $CASE == edge ]]; then # usage, the same in every mode: once
    rc=0; out=$("$MKN" trace host https://api.lab.test:8443/v1 2>&1) || rc=$?
    [[ $rc == 2 ]] || fail "an https URL exits $rc: $out"
    contains "$out" "over TLS is not traced yet" "https says so"
  fi
  pass "edge ($mode): host -> edge -> pod and back (twice: a pooled upstream), -o json, the lo hop in the pcap, the edge's own 503 exits 1 naming it"
  "$MKN" down edge >/dev/null
  assert_clean edge
  ;;
*) fail "unknown case $CASE" ;;
esac
