#!/usr/bin/env bash
# End-to-end tests of network = "geneve" (ctest label e2e, e2e.geneve_*): examples/geneve/lab.toml with
# the real binary, probed with ping, curl, bash /dev/tcp and /dev/udp, iperf3 and tshark.
#
#   examples/geneve/e2e_test.sh CASE    CASE: overlay services lifecycle
#
#   overlay    the three rules across the overlay, node -> pod, the MTU edge (1414 bytes of ping cross with
#              DF, 1415 are refused with mtu=1442, or answered "Frag needed" when node1 forwards them),
#              tshark decoding Geneve (VNI 7, the source-node option, the inner pod addresses) on the
#              underlay, a TCP stream without a stall, the pump's counters (TSO cut, GRO joined, no drop)
#              in get overlay, datagrams that are not the cluster's dropped by reason, and forged ones
#              (forge.py): a pod's spoofed outer source, a foreign inner source, a too-big inner frame,
#              TCP segments with wrong checksums (never joined)
#   services   a ClusterIP, a NodePort and the edge across nodes, in userspace and then nftables mode
#   lifecycle  SIGINT, SIGTERM, SIGKILL + down: no namespace, gnv0, socket or process left
#
# Runs itself inside ci/sandbox.sh (testlib.sh). Waits are conditions with deadlines.
source "$(dirname "$0")/../testlib.sh" "$@"

LAB=examples/geneve/lab.toml
c=geneve

# The Geneve sockets of every process: none may outlive the cluster (ss in each namespace left, and
# the sandbox's own).
no_geneve_sockets() {
  local left
  left=$(ss -Huan 'sport = :6081' 2>/dev/null || true)
  [[ -z "$left" ]] || fail "a Geneve socket is left: $left"
}

case "$CASE" in
overlay)
  out=$("$MKN" up -d "$LAB")
  contains "$out" "cluster geneve (geneve) ready in" "up -d reports readiness"
  check_model $c
  client=$(pod_ip $c client) web1=$(pod_ip $c web-1)
  # Rule 2 across the overlay: node1's own traffic to a pod on node2 leaves through gnv0 too.
  body=$("$MKN" exec node1 -- curl -sS --max-time 5 "http://$web1:8080/from-node1")
  contains "$body" "pod: web-1" "node1 -> web-1 across the overlay"
  contains "$body" "client: 10.244.0.0:" "node1's packets come from gnv0's address"
  pass "node -> pod across nodes"
  # MTU: pods get 1500 - 58 = 1442: 1414 bytes of ICMP payload cross with DF, 1415 are refused.
  in_pod $c client ping -c1 -W2 -M do -s 1414 "$web1" >/dev/null || fail "1414-byte DF ping (1442 MTU) across Geneve"
  if out=$(in_pod $c client ping -c1 -W2 -M do -s 1415 "$web1" 2>&1); then fail "1415-byte DF ping should not fit"; fi
  contains "$out" "mtu=1442" "oversized DF ping is refused with the pod MTU"
  if out=$("$MKN" exec node1 -- ping -c1 -W2 -M do -s 1415 "$web1" 2>&1); then fail "node1: 1415 bytes should not fit gnv0"; fi
  contains "$out" "mtu=1442" "gnv0's MTU refuses it at the node too"
  # A router's view: the underlay routes web-1's CIDR via node1 (a route the test adds in the lab's
  # underlay namespace), node1 forwards into gnv0, and answers the oversized DF packet with ICMP
  # "fragmentation needed" naming gnv0's MTU.
  ip -n mkn-$c-underlay route add 10.244.1.0/24 via 172.18.0.2
  "$MKN" exec underlay -- ping -c1 -W2 -M do -s 1414 "$web1" >/dev/null ||
    fail "underlay -> node1 -> gnv0: a 1414-byte DF ping did not cross"
  if out=$("$MKN" exec underlay -- ping -c1 -W2 -M do -s 1415 "$web1" 2>&1); then fail "underlay: 1415 bytes should not fit gnv0"; fi
  contains "$out" "From 172.18.0.2 icmp_seq=1 Frag needed and DF set (mtu = 1442)" "node1 answers frag needed"
  ip -n mkn-$c-underlay route del 10.244.1.0/24 via 172.18.0.2
  pass "MTU 1442: 1414 bytes cross with DF, 1415 are refused (pod and node), and forwarded: frag needed (mtu = 1442)"
  # tshark on the underlay decodes Geneve: VNI 7, the option (class 0xfff0, type 1, the source node's
  # number) and the inner pod addresses.
  in_pod $c underlay tshark -l -n -i br0 -f "udp port 6081" -c 2 -a duration:20 -T fields -E "separator=;" \
    -e udp.dstport -e geneve.vni -e geneve.option.class -e geneve.option.type -e geneve.option.unknown.data \
    -e ip.src -e ip.dst >"$TMP/cap" 2>"$TMP/cap.err" &
  tshark_pid=$!
  wait_for 15 grep -q "Capturing on" "$TMP/cap.err" || fail "tshark did not start: $(cat "$TMP/cap.err")"
  # Two pings: tshark may say it is capturing a moment before it sees the first packet.
  in_pod $c client ping -c2 -W2 "$web1" >/dev/null
  wait "$tshark_pid" || true
  cap=$(cat "$TMP/cap")
  contains "$cap" "6081;0x000007;0xfff0;0x01;00000001;172.18.0.2,$client;172.18.0.3,$web1" \
    "request: node1 -> node2, VNI 7, source node 1, inner client -> web-1"
  contains "$cap" "6081;0x000007;0xfff0;0x01;00000002;172.18.0.3,$web1;172.18.0.2,$client" \
    "reply: node2 -> node1, source node 2, inner web-1 -> client"
  pass "tshark decodes Geneve on the underlay: VNI 7, option class 0xfff0 type 1 (source node), inner pod addresses"
  # A TCP stream: no stall (every half second carries traffic), and the pump cut super-frames (TSO)
  # on node1 and joined segments (GRO) on node2.
  in_pod $c web-1 iperf3 -s -1 -p 5201 >"$TMP/iperf-s" 2>&1 &
  srv=$!
  wait_for 10 bash -c "ip netns exec mkn-$c-web-1 ss -Hltn 'sport = :5201' | grep -q 5201" || fail "iperf3 server did not start"
  res=$(in_pod $c client iperf3 -c "$web1" -p 5201 -t 3 -i 0.5 -f m) || fail "iperf3 across Geneve failed: $res"
  wait "$srv" || true
  rates=$(grep -E '^\[ *[0-9]+\] +[0-9.]+-[0-9.]+ +sec' <<<"$res" | grep -v -e sender -e receiver |
          awk '{for (i=1;i<=NF;i++) if ($i=="Mbits/sec") print int($(i-1))}' || true)
  [[ $(wc -l <<<"$rates") -ge 5 ]] || fail "iperf3 printed too few intervals: $res"
  min=$(sort -n <<<"$rates" | head -1)
  ((min > 100)) || fail "TCP across Geneve stalled (an interval at $min Mbit/s): $res"
  json=$("$MKN" get overlay -o json)
  field() { jq -r --arg n "$1" ".nodes[] | select(.node == \$n) | .$2" <<<"$json"; }
  (($(field node1 tx_super_frames) > 0)) || fail "node1 cut no TSO super-frame: $json"
  (($(field node1 tx_datagrams) > $(field node1 tx_sends))) || fail "node1 sent no UDP GSO run: $json"
  (($(field node2 rx_joined) > 0)) || fail "node2 joined no segment: $json"
  [[ $(jq '[.nodes[].drops | length] | add' <<<"$json") == 0 ]] || fail "the pump dropped frames: $json"
  table=$("$MKN" get overlay)
  contains "$table" "node1  gnv0    172.18.0.2:6081  7" "get overlay's table"
  pass "TCP across Geneve: no stall (slowest half second $min Mbit/s); TSO cut, GRO joined, no drop"
  # Datagrams that are not the cluster's: a wrong VNI from a node, and one from an address that is no
  # node (the underlay's own): each dropped by its reason, the overlay unharmed.
  printf '\x02\x00\x65\x58\x00\x00\x08\x00\xff\xf0\x01\x01\x00\x00\x00\x01%60s' "" |
    "$MKN" exec node1 -- socat -u - UDP4-SENDTO:172.18.0.3:6081,bind=172.18.0.2:40000 ||
    fail "could not send a datagram with VNI 8"
  printf 'not geneve at all' | "$MKN" exec underlay -- socat -u - UDP4-SENDTO:172.18.0.3:6081 ||
    fail "could not send a datagram from the underlay"
  in_pod $c client ping -c1 -W2 "$web1" >/dev/null || fail "the overlay stopped after bad datagrams"
  wait_for 5 bash -c "'$MKN' get overlay | grep -q 'node2 drops: unknown_peer=1 wrong_vni=1'" ||
    fail "drops not counted by reason: $("$MKN" get overlay)"
  pass "a wrong VNI and a stranger's datagram: dropped and counted by reason, the overlay goes on"
  # What an attack found (issue 15): forged datagrams (examples/geneve/forge.py). A pod forging
  # node2's underlay address as its source is dropped by node1's strict reverse-path filter on cbr0.
  forge="python3 $(cd "$(dirname "$0")" && pwd)/forge.py"
  rpf() { ip netns exec mkn-$c-node1 nstat -asz TcpExtIPReversePathFilter | awk '$1 ~ /Revers/ {print $2}'; }
  rpf0=$(rpf)
  rpf_grew() { (($(rpf) > rpf0)); }
  in_pod $c client $forge spoof 172.18.0.3 172.18.0.1 || fail "the client pod could not send a raw datagram"
  wait_for 5 rpf_grew || fail "node1 forwarded a pod's datagram with node2's address as its source (rp_filter)"
  # From node1 itself (its root may: the node's own trust boundary): an inner source of node2's pod
  # range is dropped at node2 as foreign_source, an 8000-byte inner frame as too_big.
  "$MKN" exec node1 -- $forge foreign 172.18.0.2 172.18.0.3 10.244.1.99 "$(pod_ip $c echo)"
  "$MKN" exec node1 -- $forge big 172.18.0.2 172.18.0.3 "$client" "$(pod_ip $c echo)"
  # 320 TCP segments of one flow with a wrong checksum, to the echo pod's closed port 9999: never
  # joined, so its kernel drops and counts each one and answers none with a reset.
  "$MKN" exec node1 -- $forge badcsum 172.18.0.2 172.18.0.3 "$client" "$(pod_ip $c echo)" 320
  csum() { in_pod $c echo nstat -asz "$1" | awk -v k="$1" '$1 == k {print $2}'; }
  all_counted() { [[ $(csum TcpInCsumErrors) == 320 ]]; }
  wait_for 10 all_counted ||
    fail "the echo pod counted $(csum TcpInCsumErrors) of 320 bad checksums ($(csum TcpOutRsts) resets): $("$MKN" get overlay)"
  [[ $(csum TcpOutRsts) == 0 ]] || fail "segments with a wrong checksum were answered: $(csum TcpOutRsts) resets"
  wait_for 5 bash -c "'$MKN' get overlay | grep -q 'node2 drops: foreign_source=1 too_big=1 unknown_peer=1 wrong_vni=1'" ||
    fail "forged datagrams not counted by reason: $("$MKN" get overlay)"
  in_pod $c client ping -c1 -W2 "$web1" >/dev/null || fail "the overlay stopped after forged datagrams"
  pass "forged: a pod's spoofed outer source (rp_filter), a foreign inner source, a too-big frame, 320 bad checksums (none joined, no reset)"
  "$MKN" status | grep -qE "^geneve +ready +geneve " || fail "status does not show geneve ready: $("$MKN" status)"
  "$MKN" down $c >/dev/null
  assert_clean $c
  no_geneve_sockets
  ;;
services)
  for mode in userspace nftables; do
    sed "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" "$LAB" >"$TMP/lab-$mode.toml"
    "$MKN" up -d "$TMP/lab-$mode.toml" >/dev/null
    client=$(pod_ip $c client)
    # Round-robin over web-0 (node1) and web-1 (node2): two requests reach both, one across the overlay.
    seen=""
    for i in 1 2; do
      body=$(in_pod $c client curl -sS --max-time 5 http://10.96.0.10/)
      seen+=$(grep '^pod:' <<<"$body")
    done
    contains "$seen" "pod: web-0" "$mode: ClusterIP reaches web-0 (node1)"
    contains "$seen" "pod: web-1" "$mode: ClusterIP reaches web-1 (node2, across the overlay)"
    # NodePort on node2 from the underlay, and the edge on the host loopback.
    body=$("$MKN" exec underlay -- curl -sS --max-time 5 http://172.18.0.3:30080/)
    contains "$body" "pod: web-" "$mode: NodePort on node2"
    body=$(curl -sS --max-time 5 http://127.0.0.1:8080/edge)
    contains "$body" "request: GET /edge" "$mode: the edge reaches a web pod"
    if [[ $mode == nftables ]]; then
      # DNAT only: a backend across the overlay sees the client pod's own address.
      for i in 1 2 3 4; do
        body=$(in_pod $c client curl -sS --max-time 5 http://10.96.0.10/)
        grep -q "pod: web-1" <<<"$body" && break
      done
      contains "$body" "client: $client:" "nftables: web-1 sees the client pod's address"
    fi
    pass "Services ($mode): ClusterIP across nodes, NodePort, the edge"
    "$MKN" down $c >/dev/null
    assert_clean $c
  done
  no_geneve_sockets
  ;;
lifecycle)
  for sig in INT TERM; do
    # A log of its own per signal: the shell truncates a reused one only once the background job
    # runs, and the wait below could read the previous run's "ready in" before that.
    log=$TMP/up-$sig.log
    "$MKN" up "$LAB" >"$log" 2>&1 &
    pid=$!
    wait_for 30 grep -q "ready in" "$log" || fail "up did not become ready: $(cat "$log")"
    in_pod $c client ping -c1 -W2 "$(pod_ip $c web-1)" >/dev/null ||
      fail "cluster not working: $(cat "$log"; "$MKN" status 2>&1)"
    kill -"$sig" "$pid"
    rc=0; wait "$pid" || rc=$?
    [[ $rc == 0 ]] || fail "up exited $rc after SIG$sig: $(cat "$log")"
    contains "$(cat "$log")" "cluster geneve down in" "SIG$sig tears down"
    assert_clean $c
    no_geneve_sockets
  done
  "$MKN" up -d "$LAB" >/dev/null
  pid=$(awk '$1=="geneve" {print $6}' <<<"$("$MKN" status)")
  kill -KILL "$pid"
  wait_for 10 gone "$pid" || fail "pid $pid survived SIGKILL"
  # The TAPs and sockets go with the process; the namespaces wait for down. "gone" sees the thread
  # group's leader a zombie while the pump's thread may still be exiting and holding the fds (the
  # last thread out closes them), so these are conditions with a deadline too.
  wait_for 5 bash -c "! ip -n mkn-$c-node1 link show gnv0" || fail "gnv0 outlived the process that held it"
  wait_for 5 bash -c "[[ -z \$(ip netns exec mkn-$c-node1 ss -Huan 'sport = :6081') ]]" ||
    fail "node1's Geneve socket outlived its process"
  out=$("$MKN" down $c)
  contains "$out" "namespaces removed" "down after SIGKILL removes from state and markers"
  assert_clean $c
  no_geneve_sockets
  pass "SIGINT, SIGTERM, SIGKILL + down: nothing left"
  ;;
*) fail "unknown case $CASE" ;;
esac
