#!/usr/bin/env bash
# End-to-end tests of "See the traffic" (ctest label e2e): `capture` and `graph` with the real binary.
#
#   examples/see_test.sh CASE      CASE: capture capture_racks graph
#
# capture: one marked ping across nodes of examples/quickstart is found by tshark in the file on >= 6
# interfaces in >= 3 namespaces, but not on the underlay's bridge br0, left non-promiscuous as its ports are
# captured (so, with nftables Services, 4 connections to a ClusterIP give 4 SYNs at the backends, none
# delivered twice); a bridge alone is promiscuous with a warning; Ctrl-C (SIGINT) ends the capture with a whole file; `-w - | tshark -r -`
# streams; a wrong target is a usage error; `graph` of the running cluster is live. capture_racks: on
# examples/bgp (routed racks, no underlay namespace) one cross-rack ping is seen, in one capture, on the
# ToRs and the spine with its TTL going down a router at a time; `underlay` is the fabric. graph: every example
# lab as DOT that `dot -Tsvg` accepts, as SVG and as Mermaid. Waits are conditions with deadlines.
source "$(dirname "$0")/testlib.sh" "$@"

pod_ip() { "$MKN" get pods -c "$1" | awk -v p="$2" '$1==p {print $3}'; }
in_pod() { local c=$1 p=$2; shift 2; ip netns exec "mkn-$c-$p" "$@"; }

case "$CASE" in
capture)
  # quickstart with nftables Services (br_netfilter translates on cbr0) and a round-robin ClusterIP
  # over web-0 (client's node) and web-1: what a promiscuous cbr0 would deliver twice.
  sed 's/^network = "vxlan".*/&\nproxy_mode = "nftables"/' examples/quickstart/lab.toml >"$TMP/lab.toml"
  printf '[[service]]\nname = "web"\ncluster_ip = "10.96.0.10"\nselector = { app = "web" }\nalgorithm = "round-robin"\n  [[service.port]]\n  port = 80\n  target_port = 8080\n' >>"$TMP/lab.toml"
  "$MKN" up -d "$TMP/lab.toml" >/dev/null
  c=quickstart
  web1=$(pod_ip $c web-1)
  # Everything of the lab, ICMP and the VXLAN carrying it, and the Service's port; ended by SIGINT
  # as Ctrl-C would.
  "$MKN" capture -f "icmp or udp port 4789 or tcp port 8080" -w "$TMP/all.pcapng" --duration 60 2>"$TMP/cap.err" &
  cap=$!
  wait_for 20 grep -q "Ctrl-C stops" "$TMP/cap.err" || fail "capture did not start: $(cat "$TMP/cap.err")"
  # Every bridge's ports are captured too: no bridge is made promiscuous, and the line says so.
  contains "$(cat "$TMP/cap.err")" "; bridges underlay:br0 node1:cbr0 node2:cbr0 left non-promiscuous: their ports are captured)" "the opening line names the bridges left alone"
  # ping's -p pattern marks the payload: "mkn-see!" repeated.
  in_pod $c client ping -c1 -W2 -p 6d6b6e2d73656521 "$web1" >/dev/null || fail "ping client -> web-1"
  for i in 1 2 3 4; do
    in_pod $c client curl -sf -m 5 -o /dev/null http://10.96.0.10/ || fail "curl $i to the ClusterIP"
  done
  kill -INT $cap
  rc=0; wait $cap || rc=$?
  [[ $rc == 0 ]] || fail "capture exited $rc after SIGINT: $(cat "$TMP/cap.err")"
  contains "$(cat "$TMP/cap.err")" "(ended by signal); the kernel dropped 0" "the summary after Ctrl-C"
  capinfos "$TMP/all.pcapng" >"$TMP/capinfos" 2>&1 || fail "capinfos refuses the file: $(cat "$TMP/capinfos")"
  hops=$(tshark -r "$TMP/all.pcapng" -Y 'frame contains 6d:6b:6e:2d:73:65:65:21 && icmp.type == 8' \
    -T fields -e frame.interface_name 2>/dev/null)
  seen=$(sort -u <<<"$hops")
  # The file is in time order: the request's hops read in the order it took them.
  order=$(grep -nxE 'client:eth0|node1:vxlan0|node2:vxlan0|web-1:eth0' <<<"$hops" | cut -d: -f2- | tr '\n' ' ')
  [[ "$order" == "client:eth0 node1:vxlan0 node2:vxlan0 web-1:eth0 " ]] || fail "the hops out of order: $hops"
  nif=$(grep -c . <<<"$seen" || true)
  nns=$(cut -d: -f1 <<<"$seen" | sort -u | grep -c . || true)
  ((nif >= 6 && nns >= 3)) || fail "the marked ping on $nif interfaces in $nns namespaces: $seen"
  for want in client:eth0 node1:cbr0 node1:vxlan0 node1:eth0 underlay:node1 underlay:node2 node2:eth0 node2:vxlan0 node2:cbr0 web-1:eth0; do
    grep -qx "$want" <<<"$seen" || fail "the marked ping was not seen on $want: $seen"
  done
  # The underlay's br0 forwards it between two ports (both captured): not promiscuous, it sees none.
  ! grep -qx "underlay:br0" <<<"$seen" || fail "the marked ping was seen on the non-promiscuous underlay:br0"
  # Four connections through the ClusterIP, round-robin: four SYNs reach the backends' eth0, none
  # twice (a promiscuous cbr0 doubled those to web-0, on client's node), and two went to web-0.
  syns=$(tshark -r "$TMP/all.pcapng" -Y 'tcp.flags == 0x002 && frame.p2p_dir == 1 && (frame.interface_name == "web-0:eth0" || frame.interface_name == "web-1:eth0")' \
    -T fields -e frame.interface_name -e tcp.seq_raw 2>/dev/null)
  [[ $(grep -c . <<<"$syns") == 4 && $(grep -c "^web-0:eth0" <<<"$syns") == 2 ]] || fail "4 connections to the ClusterIP, SYNs at the backends: $syns"
  # Inside the encapsulation on the underlay: the outer node addresses, VNI 1, then the pods'.
  outer=$(tshark -r "$TMP/all.pcapng" -Y 'frame.interface_name == "underlay:node1" && icmp.type == 8' \
    -T fields -e vxlan.vni -e ip.src -e ip.dst 2>/dev/null | head -1)
  contains "$outer" "1	172.18.0.2,$(pod_ip $c client)	172.18.0.3,$web1" "the VXLAN copy on underlay:node1"
  pass "one marked ping seen on $nif interfaces in $nns namespaces, in the order it took them; 4 SYNs for 4 connections to a ClusterIP; SIGINT left a whole file"
  # A bridge alone is promiscuous, and the capture says what that can cost.
  out=$("$MKN" capture node1:cbr0 --duration 0.1 -w "$TMP/x.pcapng" 2>&1) || fail "capture node1:cbr0: $out"
  contains "$out" "node1:cbr0 is promiscuous without all its ports captured" "capture of a bridge alone warns"
  contains "$out" "-p avoids it" "the warning names -p"
  # Streaming: -w - into tshark, bounded by --count.
  "$MKN" capture web-1 node2 -f icmp --count 4 -w - 2>"$TMP/stream.err" |
    tshark -r - -T fields -e frame.interface_name -e icmp.type >"$TMP/stream" 2>/dev/null &
  pipeline=$!
  wait_for 20 grep -q "Ctrl-C stops" "$TMP/stream.err" || fail "capture -w - did not start: $(cat "$TMP/stream.err")"
  in_pod $c client ping -c2 -i 0.2 -W2 "$web1" >/dev/null || fail "ping for the stream"
  wait $pipeline || fail "capture -w - | tshark -r - failed: $(cat "$TMP/stream.err")"
  [[ $(grep -c . "$TMP/stream") == 4 ]] || fail "tshark read $(grep -c . "$TMP/stream") packets, not 4: $(cat "$TMP/stream")"
  contains "$(cat "$TMP/stream")" "node2:cbr0	8" "tshark -r - names the interfaces"
  contains "$(cat "$TMP/stream.err")" "(ended by count)" "the count ends the stream"
  pass "capture -w - | tshark -r - streams, --count ends it"
  # Usage errors: exit 2, the nearest name.
  rc=0; out=$("$MKN" capture web-9 -w "$TMP/x.pcapng" 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "a wrong target exits $rc: $out"
  contains "$out" 'did you mean "web-0"?' "a wrong target is named with the nearest"
  rc=0; out=$("$MKN" capture -f "icmp and and" -w "$TMP/x.pcapng" 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "a bad filter exits $rc: $out"
  rc=0; out=$("$MKN" capture -w "$TMP" --count 1 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "-w DIR exits $rc: $out"
  contains "$out" "is a directory: name a file in it" "-w DIR says what to give"
  rc=0; out=$("$MKN" capture --duration nan -w "$TMP/x.pcapng" 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "--duration nan (an unbounded capture) exits $rc: $out"
  pass "a wrong target, filter, -w directory or --duration nan is a usage error"
  # -w FIFO nobody reads: Ctrl-C still stops it (it waits for the reader with the stop signals
  # blocked: a plain open() would hang in the kernel until SIGKILL).
  mkfifo "$TMP/fifo"
  "$MKN" capture -w "$TMP/fifo" --duration 3 >"$TMP/fifo.out" 2>&1 &
  pid=$!
  # Once it has blocked the stop signals (before that, SIGINT's default would end it anyway).
  wait_for 5 bash -c "grep -qE '^SigBlk:[[:space:]]*0*[1-9a-f]' /proc/$pid/status" || fail "capture never blocked its stop signals"
  kill -INT "$pid"
  wait_for 5 gone "$pid" || { kill -KILL "$pid"; fail "capture -w FIFO without a reader ignored SIGINT"; }
  rc=0; wait "$pid" || rc=$?
  contains "$(cat "$TMP/fifo.out")" "waiting for a reader of the FIFO" "capture says why it stopped (exit $rc)"
  pass "capture -w to a FIFO nobody reads stops on SIGINT"
  # graph of the running cluster: live (its pods with their addresses).
  out=$("$MKN" graph -o mermaid)
  contains "$out" "(live)" "graph of a running cluster is live"
  contains "$out" "web-1<br/>$web1" "the live pod address"
  "$MKN" graph $c -o svg | grep -q "</svg>" || fail "graph quickstart -o svg"
  pass "graph of the running cluster"
  # down while a capture runs: its sockets hold the namespaces, so it lets each go as its name
  # goes, and ends when none is left; down does not wait out its deadline (15 s, the nodes blamed).
  "$MKN" capture -w "$TMP/down.pcapng" --duration 60 >"$TMP/down.out" 2>&1 &
  pid=$!
  wait_for 5 test -s "$TMP/down.pcapng" || fail "capture for the down never wrote its header"
  t0=$(date +%s%N)
  out=$("$MKN" down $c 2>&1) || fail "down under a capture: $out"
  ms=$((($(date +%s%N) - t0) / 1000000))
  wait_for 5 gone "$pid" || { kill -KILL "$pid"; fail "capture ran on after down"; }
  rc=0; wait "$pid" || rc=$?
  ((ms < 5000)) || fail "down under a capture took $ms ms: $out"
  [[ $out != *"had not freed"* ]] || fail "down under a capture blamed a namespace: $out"
  [[ $rc == 0 ]] || fail "capture ended by down exits $rc: $(cat "$TMP/down.out")"
  contains "$(cat "$TMP/down.out")" "ended by every namespace captured removed" "capture says why it ended"
  tshark -r "$TMP/down.pcapng" >/dev/null 2>&1 || fail "tshark cannot read the capture down ended"
  pass "down under a capture: down in $ms ms, the capture ended with a whole file"
  assert_clean $c
  ;;
capture_racks)
  "$MKN" up -d examples/bgp/lab.toml >/dev/null
  c=bgp
  web1=$(pod_ip $c web-1)
  "$MKN" capture -f icmp -w "$TMP/racks.pcapng" --duration 60 2>"$TMP/cap.err" &
  cap=$!
  wait_for 20 grep -q "Ctrl-C stops" "$TMP/cap.err" || fail "capture did not start: $(cat "$TMP/cap.err")"
  for want in tor-r1:br0 tor-r1:node1 tor-r1:spine tor-r2:br0 spine:tor-r1 spine:tor-r2; do
    contains "$(head -1 "$TMP/cap.err")" "$want " "everything of a racks lab includes the routers"
  done
  in_pod $c client ping -c1 -W2 -p 6d6b6e2d73656521 "$web1" >/dev/null || fail "ping client (rack r1) -> web-1 (rack r2)"
  kill -INT $cap
  rc=0; wait $cap || rc=$?
  [[ $rc == 0 ]] || fail "capture exited $rc after SIGINT: $(cat "$TMP/cap.err")"
  hops=$(tshark -r "$TMP/racks.pcapng" -Y 'frame contains 6d:6b:6e:2d:73:65:65:21 && icmp.type == 8' \
    -T fields -e frame.interface_name -e ip.ttl 2>/dev/null | tr '\t' =)
  # Each router takes one off the TTL: node1 (63), tor-r1 (62), spine (61), tor-r2 (60), node3 (59).
  want="client:eth0=64 node1:eth0=63 tor-r1:node1=63 tor-r1:spine=62 spine:tor-r1=62 spine:tor-r2=61 tor-r2:spine=61 tor-r2:node3=60 node3:eth0=60 web-1:eth0=59 "
  order=$(grep -xE 'client:eth0=.*|node1:eth0=.*|tor-r1:node1=.*|tor-r1:spine=.*|spine:tor-r[12]=.*|tor-r2:spine=.*|tor-r2:node3=.*|node3:eth0=.*|web-1:eth0=.*' <<<"$hops" | tr '\n' ' ')
  [[ "$order" == "$want" ]] || fail "the cross-rack ping's hops (interface=TTL): got '$order', want '$want'; all: $hops"
  pass "one cross-rack ping seen on both ToRs and the spine in one capture, its TTL down by one per router"
  # `underlay` is the fabric: every router; underlay:NODE the node's port in its rack's ToR.
  "$MKN" capture underlay underlay:node3 -f icmp --count 1 -w "$TMP/u.pcapng" 2>"$TMP/u.err" &
  cap=$!
  wait_for 20 grep -q "Ctrl-C stops" "$TMP/u.err" || fail "capture underlay did not start: $(cat "$TMP/u.err")"
  # The ports' order in a ToR is their ifindex order, which `up` does not fix.
  contains "$(head -1 "$TMP/u.err")" "capturing on 12 interfaces of cluster bgp (tor-r1:" "capture underlay in a racks lab: every ToR, the spine and the world's link (spine:world, world:eth0)"
  for want in tor-r1:br0 tor-r1:node1 tor-r1:node2 tor-r1:spine tor-r2:br0 tor-r2:node3 tor-r2:node4 tor-r2:spine spine:tor-r1 spine:tor-r2 spine:world world:eth0; do
    grep -qE "[( ]$want[ );]" <<<"$(head -1 "$TMP/u.err")" || fail "capture underlay lacks $want: $(head -1 "$TMP/u.err")"
  done
  in_pod $c client ping -c1 -W2 "$web1" >/dev/null || fail "ping for capture underlay"
  wait $cap || fail "capture underlay failed: $(cat "$TMP/u.err")"
  contains "$(cat "$TMP/u.err")" "(ended by count)" "capture underlay sees the ping"
  rc=0; out=$("$MKN" capture underlay:node1 -f 'tcp port 179' --duration 0.1 -w "$TMP/x.pcapng" 2>&1) || rc=$?
  [[ $rc == 0 ]] || fail "capture underlay:node1 (the --help example) exits $rc: $out"
  contains "$out" "capturing on 1 interface of cluster bgp (tor-r1:node1)" "underlay:node1 is node1's port in tor-r1"
  rc=0; out=$("$MKN" capture tor-r9 -w "$TMP/x.pcapng" 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "a wrong router exits $rc: $out"
  contains "$out" 'capture target "tor-r9": the lab has no pod, node or router of that name: did you mean "tor-r1"?' "a wrong router"
  pass "capture underlay, underlay:NODE and the routers by name in a racks lab"
  "$MKN" down $c >/dev/null
  assert_clean $c
  ;;
graph)
  n=0
  for lab in examples/*/lab.toml examples/cni/*.toml; do
    "$MKN" graph "$lab" -o dot >"$TMP/g.dot" 2>"$TMP/g.err" || fail "graph $lab: $(cat "$TMP/g.err")"
    dot -Tsvg "$TMP/g.dot" >"$TMP/g.svg" 2>"$TMP/dot.err" || fail "dot -Tsvg refuses graph $lab: $(cat "$TMP/dot.err")"
    [[ ! -s "$TMP/dot.err" ]] || fail "dot -Tsvg warns on graph $lab: $(cat "$TMP/dot.err")"
    "$MKN" graph "$lab" -o svg >"$TMP/g2.svg" || fail "graph $lab -o svg"
    grep -q "</svg>" "$TMP/g2.svg" || fail "graph $lab -o svg is no SVG"
    "$MKN" graph "$lab" -o mermaid >"$TMP/g.mmd" || fail "graph $lab -o mermaid"
    [[ $(sed -n 2p "$TMP/g.mmd") == "flowchart TB" ]] || fail "graph $lab -o mermaid: $(head -3 "$TMP/g.mmd")"
    n=$((n + 1))
  done
  ((n >= 10)) || fail "only $n example labs"
  pass "graph: $n example labs as DOT (dot -Tsvg accepts each, no warning), SVG and Mermaid"
  rc=0; out=$("$MKN" graph examples/quickstart/lab.toml -o png 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "graph -o png exits $rc: $out"
  ;;
*) fail "unknown case $CASE" ;;
esac
