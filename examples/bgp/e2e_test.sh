#!/usr/bin/env bash
# End-to-end tests of network = "bgp" and of racks (ctest label e2e, e2e.bgp_*): examples/bgp/lab.toml
# (two racks of two nodes behind their ToRs and a spine, BIRD in every node and router) brought up,
# probed with real packets (ping, curl, bash /dev/tcp and /dev/udp, tshark) and real BGP (birdc, the
# speakers stopped and resumed), and checked clean afterwards.
#
#   examples/bgp/e2e_test.sh CASE      CASE: routing services lifecycle racks modes verify
#
# Runs itself inside ci/sandbox.sh. Without root it exits 77 (ctest: skipped), except under CI=true
# where that is a failure. Waits are conditions with deadlines; loops are bounded in count and time.
source "$(dirname "$0")/../testlib.sh" "$@"

LAB=examples/bgp/lab.toml
pod_ip() { "$MKN" get pods -c "$1" | awk -v p="$2" '$1==p {print $3}'; }
node_ip() { "$MKN" get nodes -c "$1" | awk -v n="$2" '$1==n {print $2}'; }
in_ns() { local c=$1 o=$2; shift 2; ip netns exec "mkn-$c-$o" "$@"; }
# now_ms: milliseconds since the epoch (EPOCHREALTIME: no process per call in a timing loop).
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
# derive NAME SED...: examples/bgp/lab.toml renamed NAME with the given sed expressions applied.
derive() {
  local name=$1; shift
  sed -e "s/^name = \"bgp\"/name = \"$name\"/" "$@" "$LAB" >"$TMP/$name.toml"
  grep -q "^name = \"$name\"" "$TMP/$name.toml" || fail "could not derive $name from $LAB"
  echo "$TMP/$name.toml"
}

# The model's three rules between racks: client (node1, rack r1) with web-1 (node3) and echo (node4),
# both in rack r2; node -> pod across racks.
check_model_across_racks() {
  local c=$1
  local client web0 web1 echo_ip body line own
  client=$(pod_ip "$c" client); web0=$(pod_ip "$c" web-0); web1=$(pod_ip "$c" web-1); echo_ip=$(pod_ip "$c" echo)
  [[ -n "$client" && -n "$web1" && -n "$echo_ip" ]] || fail "get pods shows no addresses"
  in_ns "$c" client ping -c1 -W2 "$web0" >/dev/null || fail "ICMP client -> web-0 (same rack)"
  in_ns "$c" client ping -c1 -W2 "$web1" >/dev/null || fail "ICMP client -> web-1 (other rack)"
  body=$(in_ns "$c" client curl -sS --max-time 5 "http://$web1:8080/across")
  contains "$body" "client: $client:" "web-1 sees the client pod's own address across racks (no NAT)"
  contains "$body" "pod: web-1" "answered by web-1"
  body=$(in_ns "$c" web-1 curl -sS --max-time 5 "http://$web0:8080/")
  contains "$body" "client: $web1:" "web-0 sees web-1's own address"
  line=$(in_ns "$c" client bash -c "exec 3<>/dev/tcp/$echo_ip/7; echo tcp-hello >&3; read -t 5 l <&3; echo \$l")
  [[ "$line" == tcp-hello ]] || fail "TCP echo across racks returned '$line'"
  line=$(in_ns "$c" web-0 bash -c "exec 3<>/dev/udp/$echo_ip/7; echo udp-hello >&3; timeout 5 dd bs=512 count=1 status=none <&3")
  [[ "$line" == udp-hello ]] || fail "UDP echo across racks returned '$line'"
  pass "rule 1 across racks: ICMP, TCP, UDP; the server sees the client pod's own address"
  "$MKN" exec -c "$c" node1 -- ping -c1 -W2 "$web1" >/dev/null || fail "node1 -> web-1 (other rack)"
  body=$("$MKN" exec -c "$c" node4 -- curl -sS --max-time 5 "http://$web0:8080/")
  contains "$body" "pod: web-0" "node4 -> web-0 (other rack)"
  pass "rule 2: node -> pod across racks"
  own=$(in_ns "$c" web-1 ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
  [[ "$own" == "$web1" ]] || fail "web-1's own address $own != $web1"
  body=$(in_ns "$c" client curl -sS --max-time 5 "http://$web1:8080/")
  contains "$body" "pod_ip: $web1" "web-1 reports its own IP"
  contains "$body" "server: $web1:8080" "the address the client used is the pod's own"
  pass "rule 3: own IP = seen IP ($web1)"
}

# The BIRD-installed routes of a node's kernel (ip route ... proto bird).
bird_routes() { ip -n "mkn-$1-$2" route show proto bird; }
# Each node has a route to every other node's pod CIDR, put there by BIRD.
all_routes() {
  local c=$1 n
  for n in node1 node2 node3 node4; do [[ $(bird_routes "$c" $n | wc -l) == 3 ]] || return 1; done
}

case "$CASE" in
routing)
  out=$("$MKN" up -d "$LAB")
  contains "$out" "ready in" "up -d reports readiness"
  c=bgp
  # Ready means converged: every node's kernel routes every other node's pod CIDR, via BIRD.
  all_routes $c || fail "ready before every route was installed: $(for n in 1 2 3 4; do bird_routes $c node$n; done)"
  contains "$(ip -n mkn-$c-node1 route)" "default via 172.18.1.1 dev eth0" "node1's default route is its ToR"
  contains "$(bird_routes $c node1)" "10.244.1.0/24 via 172.18.1.3 dev eth0" "same rack: straight to node2 (third-party next hop)"
  contains "$(bird_routes $c node1)" "10.244.2.0/24 via 172.18.1.1 dev eth0" "other rack: via the ToR"
  contains "$(bird_routes $c tor-r1)" "10.244.2.0/24 via 172.18.0.1 dev spine" "tor-r1 learned rack r2's pods from the spine"
  contains "$(bird_routes $c spine)" "10.244.0.0/24 via 172.18.0.2 dev tor-r1" "the spine learned rack r1's pods"
  pass "every node, ToR and the spine has the pod CIDRs in its kernel, proto bird"
  # The verb: every session Established, and a speaker's routes.
  table=$("$MKN" bgp)
  [[ $(grep -c " Established " <<<"$table") == 12 ]] || fail "not every session is Established: $table"
  [[ $(awk '$1=="node1" && $2=="tor-r1" {print $3, $4, $5}' <<<"$table") == "172.18.1.1 64513 Established" ]] ||
    fail "node1's session with its ToR: $table"
  json=$("$MKN" bgp -o json)
  [[ $(jq '.speakers | length' <<<"$json") == 7 ]] || fail "bgp -o json: not 7 speakers: $json"
  [[ $(jq '[.speakers[] | select(.speaker == "tor-r1") | .sessions[] | select(.peer == "node1") | .received][0]' <<<"$json") == 1 ]] ||
    fail "tor-r1 receives exactly node1's pod CIDR from node1: $json"
  out=$("$MKN" bgp tor-r1)
  contains "$out" "routes of tor-r1" "bgp SPEAKER shows its routes"
  contains "$out" "10.244.3.0/24  172.18.0.1" "tor-r1 reaches node4's pods via the spine"
  out=$("$MKN" exec tor-r1 -- birdc -s /run/minikube-net/$c/bird/tor-r1.ctl show route)
  contains "$out" "10.244.0.0/24" "birdc in the ToR's namespace, on its socket"
  rc=0; out=$("$MKN" bgp tor-r3 2>&1) || rc=$?
  [[ $rc == 2 ]] && contains "$out" "did you mean \"tor-r1\"?" "an unknown speaker is named, exit 2"
  pass "minikube-net bgp: 12 sessions Established, received/exported, routes; birdc on the socket"
  check_model_across_racks $c
  # Nothing is encapsulated: on the spine's link to rack r2, the ICMP packets carry the pods' own
  # addresses, with the TTL of 4 routers less (node1, tor-r1, spine, tor-r2, node3).
  client=$(pod_ip $c client); web1=$(pod_ip $c web-1)
  in_ns $c spine tshark -l -n -i tor-r2 -f "icmp or udp port 4789" -c 2 -a duration:20 -T fields \
    -e ip.src -e ip.dst -e ip.proto -e udp.dstport >"$TMP/cap" 2>"$TMP/cap.err" &
  tshark_pid=$!
  wait_for 15 grep -q "Capturing on" "$TMP/cap.err" || fail "tshark did not start: $(cat "$TMP/cap.err")"
  ping_out=$(in_ns $c client ping -c2 -W2 "$web1")
  wait "$tshark_pid" || true
  cap=$(cat "$TMP/cap")
  contains "$cap" "$client	$web1	1	" "the request crosses the spine as client -> web-1, ICMP"
  contains "$cap" "$web1	$client	1	" "the reply as web-1 -> client"
  ! grep -q 4789 <<<"$cap" || fail "VXLAN on a bgp lab's wire: $cap"
  contains "$ping_out" "ttl=59" "five routers on the way (node3, tor-r2, spine, tor-r1, node1)"
  in_ns $c client ping -c1 -W2 -M do -s 1472 "$web1" >/dev/null || fail "a 1500-byte DF ping across racks"
  pass "no encapsulation on the spine's link: pod addresses, ICMP, TTL 59, full 1500 MTU"
  # A node leaves and joins again (its session disabled, then enabled): the ToR's table before and
  # after, and the BGP UPDATE that carries node1's pod CIDR, decoded by tshark on the ToR's port.
  ctl=/run/minikube-net/$c/bird/node1.ctl
  in_ns $c node1 birdc -s $ctl disable tor_r1 >/dev/null
  wait_for 5 bash -c "! ip -n mkn-$c-tor-r1 route show proto bird | grep -q 10.244.0.0/24" ||
    fail "tor-r1 still routes node1's pods after node1 left"
  # Only node1's segments whose first BGP message is an UPDATE (type 2, the 19th byte of its
  # header): the capture's count then stops at that UPDATE, not at the session's SYN.
  in_ns $c tor-r1 tshark -l -n -i node1 -c 1 \
    -f 'src host 172.18.1.2 and tcp port 179 and tcp[((tcp[12:1] & 0xf0) >> 2) + 18] = 2' \
    -a duration:20 -T fields -e ip.src -e ip.dst -e tcp.srcport -e tcp.dstport -e bgp.nlri_prefix \
    -e bgp.prefix_length -e bgp.update.path_attribute.next_hop >"$TMP/bgp" 2>"$TMP/bgp.err" &
  tshark_pid=$!
  wait_for 15 grep -q "Capturing on" "$TMP/bgp.err" || fail "tshark did not start: $(cat "$TMP/bgp.err")"
  in_ns $c node1 birdc -s $ctl enable tor_r1 >/dev/null
  wait "$tshark_pid" || true
  upd=$(cat "$TMP/bgp")
  contains "$upd" "172.18.1.2	172.18.1.1	" "node1 -> tor-r1"
  contains "$upd" "	10.244.0.0	24	172.18.1.2" "the UPDATE carries node1's pod CIDR, next hop node1"
  wait_for 10 all_routes $c || fail "the routes did not come back after node1 joined again"
  pass "a node joins: tshark decodes the UPDATE (TCP 179) with its pod CIDR; every route is back"
  # A speaker stops (SIGSTOP: a hung node): BFD notices, its pod CIDR is withdrawn from every other
  # node within the documented 1 s, and its pods are unreachable; resumed, it comes back.
  pid=$(ip netns pids mkn-$c-node4)
  [[ $(cat /proc/$pid/comm) == bird ]] || fail "node4's namespace runs $(cat /proc/$pid/comm), not bird"
  t0=$(now_ms)
  kill -STOP "$pid"
  gone_everywhere() {
    local n
    for n in node1 node2 node3; do ! ip -n mkn-$c-$n route show 10.244.3.0/24 | grep -q . || return 1; done
  }
  for ((i = 0; i < 400; i++)); do gone_everywhere && break; sleep 0.005; done
  t1=$(now_ms)
  gone_everywhere || fail "node4's pod CIDR still routed 2 s after its speaker stopped"
  took=$((t1 - t0))
  ((took <= 1000)) || fail "node4's pod CIDR was withdrawn in $took ms, the bound is 1000 ms"
  ! in_ns $c client ping -c1 -W1 "$(pod_ip $c echo)" >/dev/null 2>&1 || fail "echo on node4 still reachable"
  kill -CONT "$pid"
  wait_for 15 all_routes $c || fail "node4's pod CIDR did not come back after its speaker resumed"
  in_ns $c client ping -c1 -W2 "$(pod_ip $c echo)" >/dev/null || fail "echo unreachable after node4's speaker resumed"
  pass "node4's speaker stopped: its pod CIDR gone from every other node in $took ms (bound 1000), back after SIGCONT"
  rc=0; out=$("$MKN" bgp '' 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "bgp '' exited $rc (an empty name is no speaker): $out"
  pass "bgp '': an empty speaker name is unknown, exit 2"
  # The hijack (issue 15): a rogue BIRD in node1's namespace announces node4's pod (a /32), a /25 of
  # node3's CIDR and a default. Every session imports exactly its peer's pod CIDRs: no other table
  # changes, and tor-r1 keeps the rogue routes as filtered.
  tables() { local n; for n in node2 node3 node4 tor-r1 tor-r2 spine; do echo "== $n"; bird_routes $c $n; done; }
  before=$(tables)
  pid=$(ip netns pids mkn-$c-node1)
  [[ $(cat /proc/$pid/comm) == bird ]] || fail "node1's namespace runs $(cat /proc/$pid/comm), not bird"
  sed -e 's#route 10.244.0.0/24 blackhole;#&\n  route 10.244.3.2/32 blackhole;\n  route 10.244.2.128/25 blackhole;\n  route 0.0.0.0/0 blackhole;#' \
    -e 's#export where proto = "POD_CIDR";#export all;#' /run/minikube-net/$c/bird/node1.conf >"$TMP/rogue.conf"
  grep -q "10.244.3.2/32" "$TMP/rogue.conf" || fail "could not derive the rogue config"
  kill -KILL "$pid"
  wait_for 5 gone "$pid" || fail "node1's bird survived SIGKILL"
  # Once the owner has reaped it (a zombie still counts as running), status says so.
  degraded() { "$MKN" status | grep -qF "degraded (bgp speaker node1 exited)"; }
  wait_for 5 degraded || fail "status does not tell node1's dead speaker: $("$MKN" status)"
  in_ns $c node1 bird -c "$TMP/rogue.conf" -s "$TMP/rogue.ctl" -P "$TMP/rogue.pid" || fail "the rogue bird did not start"
  filtered() { in_ns $c tor-r1 birdc -s /run/minikube-net/$c/bird/tor-r1.ctl show route filtered | grep -q "10.244.3.2/32"; }
  wait_for 15 filtered || fail "tor-r1 never received the rogue /32: $(in_ns $c node1 birdc -s "$TMP/rogue.ctl" show protocols)"
  # node1's own /24 comes back with the rogue's session; the tables settle to what they were.
  same() { [[ "$(tables)" == "$before" ]]; }
  wait_for 15 same || fail "the hijack changed a table: before: $before after: $(tables)"
  ! grep -qE "10.244.3.2 |10.244.2.128/25|default" <<<"$(tables)" || fail "a rogue route got in: $(tables)"
  rogue=$(cat "$TMP/rogue.pid")
  kill "$rogue"
  wait_for 5 gone "$rogue" || fail "the rogue bird did not stop"
  pass "a rogue speaker's /32, /25 and default are filtered at tor-r1 (show route filtered); no other table changed"
  out=$("$MKN" down $c)
  contains "$out" "cluster $c down" "down reports"
  assert_clean $c
  [[ ! -e /run/minikube-net/$c ]] || fail "sockets left"
  ;;
services)
  for mode in userspace nftables; do
    c=bgpsvc-${mode:0:3}
    lab=$(derive $c -e "s/^bgp = .*/&\nproxy_mode = \"$mode\"/")
    "$MKN" up -d "$lab" >/dev/null
    client=$(pod_ip $c client)
    cip=$("$MKN" get svc -c $c | awk '$1=="web" {print $3}')
    [[ -n "$cip" ]] || fail "$mode: no ClusterIP for web"
    # Both backends answer, web-0 in the client's rack and web-1 across it; a bounded number of tries.
    seen=""
    for ((i = 0; i < 40; i++)); do
      seen+=" $(in_ns $c client curl -sS --max-time 5 "http://$cip/" | awk '/^pod: / {print $2}')"
      [[ "$seen" == *web-0* && "$seen" == *web-1* ]] && break
    done
    [[ "$seen" == *web-0* && "$seen" == *web-1* ]] || fail "$mode: ClusterIP reached only:$seen"
    # NodePort of a node in the other rack, from a node of this one.
    body=$("$MKN" exec -c $c node1 -- curl -sS --max-time 5 "http://$(node_ip $c node3):30080/")
    contains "$body" "pod: web-" "$mode: NodePort of node3 (rack r2) from node1 (rack r1)"
    pass "$mode: ClusterIP reaches both racks' backends; NodePort across racks"
    "$MKN" down $c >/dev/null
    assert_clean $c
  done
  ;;
lifecycle)
  for sig in INT TERM; do
    # A log of its own: the background job truncates its file only once it runs, and the last
    # run's "ready in" must not be read meanwhile.
    log=$TMP/up-$sig.log
    "$MKN" up "$LAB" >"$log" 2>&1 &
    pid=$!
    wait_for 60 grep -q "ready in" "$log" || fail "up did not become ready: $(cat "$log")"
    [[ $(pgrep -c -x bird) == 7 ]] || fail "not 7 birds running: $(pgrep -a -x bird)"
    kill -"$sig" "$pid"
    rc=0; wait "$pid" || rc=$?
    [[ $rc == 0 ]] || fail "up exited $rc after SIG$sig: $(cat "$log")"
    ! pgrep -x bird >/dev/null || fail "birds left after SIG$sig: $(pgrep -a -x bird)"
    assert_clean bgp
  done
  "$MKN" up -d "$LAB" >/dev/null
  pid=$(awk '$1=="bgp" {print $6}' <<<"$("$MKN" status)")
  kill -KILL "$pid"
  wait_for 10 gone "$pid" || fail "pid $pid survived SIGKILL"
  # The speakers went with their owner: one line saying so, exit 1, as `get overlay` does.
  rc=0; out=$("$MKN" bgp 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "bgp after the owner's SIGKILL exited $rc: $out"
  contains "$out" "cluster bgp does not answer on" "bgp names the dead owner"
  ! grep -q "no answer" <<<"$out" || fail "bgp after SIGKILL printed a table of no answers: $out"
  out=$("$MKN" down bgp)
  contains "$out" "namespaces removed" "down after SIGKILL removes from the state"
  ! pgrep -x bird >/dev/null || fail "birds left after SIGKILL + down: $(pgrep -a -x bird)"
  assert_clean bgp
  pass "INT, TERM, KILL + down: no bird, namespace, socket or state left"
  ;;
racks)
  # VXLAN across the same two racks: the overlay's packets are routed by the ToRs and the spine.
  lab=$(derive racks -e 's/^network = "bgp".*/network = "vxlan"/' -e 's/^mtu = 1500.*/mtu = 1500/')
  out=$("$MKN" up -d "$lab" 2>&1)
  contains "$out" "ready in" "a vxlan lab on two racks comes up"
  contains "$out" "warning: [cluster] bgp: ignored" "its bgp keys are kept and said to be ignored"
  ! pgrep -x bird >/dev/null || fail "a vxlan lab runs bird"
  check_model_across_racks racks
  client=$(pod_ip racks client); web1=$(pod_ip racks web-1)
  in_ns racks spine tshark -l -n -i tor-r2 -f "udp port 4789" -c 1 -a duration:20 -T fields \
    -e ip.src -e ip.dst -e vxlan.vni >"$TMP/cap" 2>"$TMP/cap.err" &
  tshark_pid=$!
  wait_for 15 grep -q "Capturing on" "$TMP/cap.err" || fail "tshark did not start: $(cat "$TMP/cap.err")"
  in_ns racks client ping -c2 -W2 "$web1" >/dev/null
  wait "$tshark_pid" || true
  contains "$(cat "$TMP/cap")" "172.18.1.2,$client	172.18.2.2,$web1	1" "VXLAN between node1 (r1) and node3 (r2), routed by the spine"
  pass "vxlan across racks: VNI 1 between the racks' node addresses"
  "$MKN" down racks >/dev/null
  assert_clean racks
  # host-gw cannot cross racks: refused before anything exists, with the reason.
  lab=$(derive hostgw -e 's/^network = "bgp".*/network = "host-gw"/')
  rc=0; out=$("$MKN" up -d "$lab" 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "host-gw across racks: exit $rc, want 2: $out"
  contains "$out" "host-gw needs every node on one layer-2 segment: nodes node1 and node3 are in racks r1 and r2; use network = \"bgp\" or \"vxlan\"" "the reason"
  [[ -z "$(ls /run/netns)" ]] || fail "a refused lab created something"
  pass "host-gw across racks is refused at validation, with the reason"
  ;;
modes)
  # route-reflector: each rack one AS, the ToR reflects; across racks the ToR is the next hop.
  lab=$(derive rr -e 's/^bgp = .*/bgp = { mode = "route-reflector" }/')
  "$MKN" up -d "$lab" >/dev/null
  all_routes rr || fail "route-reflector: not every route installed at ready"
  contains "$(bird_routes rr node1)" "10.244.1.0/24 via 172.18.1.3" "reflected within the rack: node2 itself"
  contains "$(bird_routes rr node1)" "10.244.2.0/24 via 172.18.1.1" "from the other rack: the ToR (next hop self)"
  in_ns rr client ping -c1 -W2 "$(pod_ip rr web-1)" >/dev/null || fail "route-reflector: ping across racks"
  [[ $("$MKN" bgp -c rr -o json | jq '[.speakers[] | select(.speaker == "node1") | .sessions[0].asn][0]') == 64513 ]] ||
    fail "route-reflector: node1 is not in its rack's AS"
  "$MKN" down rr >/dev/null
  assert_clean rr
  pass "route-reflector: iBGP in each rack, ToRs reflect, next hops resolve"
  # full-mesh: one rack; every node peers with every other node and the ToR.
  printf '[cluster]\nname = "mesh"\nnetwork = "bgp"\nbgp = { mode = "full-mesh" }\nnodes = 3\n[[pod]]\nname = "a"\nnode = "node1"\n  [[pod.container]]\n  app = "http-echo"\n[[pod]]\nname = "b"\nnode = "node3"\n  [[pod.container]]\n  app = "http-echo"\n' >"$TMP/mesh.toml"
  "$MKN" up -d "$TMP/mesh.toml" >/dev/null
  # up's readiness does not wait for every one of the 12 sessions (one was seen still opening
  # right after it): they are waited for, as the routes below need only some of them.
  wait_for 10 bash -c "[[ \$('$MKN' bgp -c mesh | grep -c ' Established ') == 12 ]]" ||
    fail "full mesh: not 12 sessions: $("$MKN" bgp -c mesh)"
  contains "$(bird_routes mesh node1)" "10.244.2.0/24 via 172.18.0.4" "full mesh: straight to node3"
  body=$(in_ns mesh a curl -sS --max-time 5 "http://$(pod_ip mesh b):8080/")
  contains "$body" "client: $(pod_ip mesh a):" "full mesh: a reaches b, its own address seen"
  "$MKN" down mesh >/dev/null
  assert_clean mesh
  pass "full-mesh: 12 sessions in one rack, routes straight to each node"
  ;;
verify)
  # A CNI lab whose nodes sit in two racks, routed by BGP (node_routes = "bgp"): `verify`'s model
  # checks run on it (those a bridge chain cannot apply, hostPort and bandwidth, are skipped).
  cp examples/cni/bridge.toml examples/cni/bridge.conflist "$TMP/"
  sed -i -e 's/node_routes = "host-gw".*/node_routes = "bgp"/' -e 's/^nodes = 2$/nodes = 2\nracks = 2/' "$TMP/bridge.toml"
  grep -q '^racks = 2' "$TMP/bridge.toml" && grep -q 'node_routes = "bgp"' "$TMP/bridge.toml" ||
    fail "could not derive a BGP lab from examples/cni/bridge.toml"
  rc=0; out=$("$MKN" verify "$TMP/bridge.toml" --only 'model.*' 2>"$TMP/verify.err") || rc=$?
  [[ $rc == 0 ]] || fail "verify on a BGP-routed CNI lab: exit $rc: $out $(cat "$TMP/verify.err")"
  for id in model.pod-pod.node model.pod-pod.cross model.source-ip model.node-pod model.own-ip model.mtu model.service; do
    grep -qE "^$id .* PASS " <<<"$out" || fail "$id did not pass across racks: $out"
  done
  pass "verify's model checks pass on a CNI lab routed by BGP across two racks"
  assert_clean cni-bridge
  ;;
*)
  fail "unknown case $CASE"
  ;;
esac
