#!/usr/bin/env bash
# End-to-end tests of Services (ctest label e2e): examples/services/lab.toml brought up in a given
# proxy mode, probed with real packets (curl, bash /dev/udp, tcpdump) and checked clean afterwards.
#
#   examples/services/e2e_test.sh CASE      CASE: userspace nftables ebpf
#
# Each CASE is a proxy mode. The checks are functions of (cluster, mode): where the modes differ (which
# source address a backend sees, how the rules are listed), the function says so per mode.
# Runs itself inside ci/sandbox.sh. Without root it exits 77 (ctest: skipped), except under CI=true where
# that is a failure. Waits are conditions with deadlines; load loops are bounded in count and time.
source "$(dirname "$0")/../testlib.sh" "$@"

pod_ip() { "$MKN" get pods -c "$1" | awk -v p="$2" '$1==p && $3 ~ /^[0-9.]+$/ {print $3}'; }
pod_node() { "$MKN" get pods -c "$1" | awk -v p="$2" '$1==p && $3 ~ /^[0-9.]+$/ {print $2}'; }
node_ip() { "$MKN" get nodes -c "$1" | awk -v n="$2" '$1==n && $2 ~ /^[0-9.]+$/ {print $2}'; }
# The pod CIDR slice of a node: "10.244.0.0/24" -> its gateway "10.244.0.1" (cbr0's address).
node_gateway() { "$MKN" get nodes -c "$1" | awk -v n="$2" '$1==n && $2 ~ /^[0-9.]+$/ {split($3, a, "[./]"); print a[1]"."a[2]"."a[3]".1"}'; }
# ebpf mode: the cluster's cgroup (state.json). A command in a pod joins it, as `minikube-net exec`
# and the lab's containers do: the programs there translate the pod's sockets. Nodes and the
# underlay are never in it.
EBPF_CG=""
in_pod() {
  local c=$1 p=$2
  shift 2
  if [[ -n "$EBPF_CG" && $p != node[0-9]* && $p != underlay ]]; then
    sh -c 'echo 0 >"$1/cgroup.procs" && shift && exec "$@"' sh "$EBPF_CG" ip netns exec "mkn-$c-$p" "$@"
  else
    ip netns exec "mkn-$c-$p" "$@"
  fi
}
# get URL from a pod's namespace (or a node's, or the underlay's: any mkn-<c>-<x>): "pod client_ip".
hit() {
  local body
  body=$(in_pod "$1" "$2" curl -sS --max-time 5 "$3") || return 1
  awk '/^pod: / {p=$2} /^client: / {sub(/:[0-9]+$/, "", $2); c=$2} END {print p, c}' <<<"$body"
}

# check_expect CLUSTER MODE: the lab's [[expect]] rows (a ClusterIP over TCP and UDP, a NodePort, a
# Service without endpoints) hold, probed by `minikube-net check`.
check_expect() {
  local out
  out=$("$MKN" check "$1" 2>&1) || fail "$2: check: $out"
  contains "$out" "check $1: 4 cells, 0 mismatches, 0 errors" "$2: check's verdict"
  contains "$out" "client  .   .   .   X" "$2: the matrix"
  pass "$2: check: svc/web, svc/dns (udp) and the NodePort allow, svc/empty denies"
}

# make_lab CLUSTER MODE: examples/services/lab.toml renamed and switched to MODE, plus
#  - udp-echo pinned to port 5353, the port it declares (harmless once resolve serves the declared port);
#  - a UDP port on the `empty` service, so the no-endpoint UDP answer can be probed.
make_lab() {
  local c=$1 mode=$2 lab=$TMP/$1.toml
  sed -e "s/^name = \"svc\"/name = \"$c\"/" \
      -e "s/^proxy_mode = \"userspace\".*/proxy_mode = \"$mode\"/" \
      -e 's/^\(  *\)app = "udp-echo"$/&\n\1port = 5353/' examples/services/lab.toml >"$lab"
  # The file ends inside the `empty` service's only [[service.port]]: name it, add a UDP one.
  [[ $(tail -1 "$lab") == "  port = 80" ]] || fail "examples/services/lab.toml no longer ends with the empty service's port"
  printf '  name = "http"\n  [[service.port]]\n  name = "dns"\n  port = 53\n  protocol = "UDP"\n' >>"$lab"
  grep -q "^name = \"$c\"" "$lab" && grep -q "^proxy_mode = \"$mode\"" "$lab" && grep -q "port = 5353$" "$lab" ||
    fail "could not derive the $mode lab from examples/services/lab.toml"
  echo "$lab"
}

# The source address a backend sees for a pod client, per mode (docs/services-nftables.md).
expected_source() {
  local c=$1 mode=$2 client=$3
  case "$mode" in
  nftables) pod_ip "$c" "$client" ;;  # no SNAT for pod -> ClusterIP: the client keeps its address
  ebpf) pod_ip "$c" "$client" ;;      # connect() goes to the backend itself: no NAT at all
  userspace) node_proxy_ip "$c" "$(pod_node "$c" "$client")" ;;  # SNAT to the client node's proxy address
  *) fail "expected_source: mode $mode not described" ;;
  esac
}

# The userspace proxy's source address on a node: the last usable address of its pod CIDR
# ("10.244.0.0/24" -> "10.244.0.254"), routed into the node's TUN.
node_proxy_ip() {
  "$MKN" get nodes -c "$1" | awk -v n="$2" '$1==n && $2 ~ /^[0-9.]+$/ {
    split($3, a, "[./]"); v = ((a[1] * 256 + a[2]) * 256 + a[3]) * 256 + a[4] + 2 ^ (32 - a[5]) - 2
    printf "%d.%d.%d.%d\n", int(v / 16777216) % 256, int(v / 65536) % 256, int(v / 256) % 256, v % 256 }'
}

# The source a backend sees when it reaches itself through its own service.
hairpin_source() {
  local c=$1 mode=$2 node=$3
  case "$mode" in
  nftables) node_gateway "$c" "$node" ;;  # masqueraded to cbr0's address
  userspace) node_proxy_ip "$c" "$node" ;;
  *) fail "hairpin_source: mode $mode not described" ;;
  esac
}

# ClusterIP from the client pod reaches backends on its node and on the other node, and each backend
# sees the source address the mode documents. Round-robin: one request per backend covers both.
check_clusterip() {
  local c=$1 mode=$2
  local client_node src pod seen same=0 other=0
  client_node=$(pod_node "$c" client)
  src=$(expected_source "$c" "$mode" client)
  # Round-robin: one request per backend covers both nodes; ebpf picks at random: until both are hit.
  local n=3 i
  [[ $mode == ebpf ]] && n=40
  for ((i = 0; i < n; i++)); do
    read -r pod seen < <(hit "$c" client http://10.96.0.10/) || fail "curl client -> 10.96.0.10 failed"
    [[ "$pod" == web-* ]] || fail "10.96.0.10 answered by '$pod'"
    [[ "$seen" == "$src" ]] || fail "$pod saw the client as $seen, $mode mode documents $src"
    if [[ $(pod_node "$c" "$pod") == "$client_node" ]]; then same=$((same + 1)); else other=$((other + 1)); fi
    ((same > 0 && other > 0 && i >= 2)) && break
  done
  ((same > 0 && other > 0)) || fail "ClusterIP did not reach a backend on each node (same=$same other=$other)"
  pass "ClusterIP: client -> backends on its node and the other; backends see $src"
}

# Round-robin cycles exactly: with one client, request i goes where request i mod 3 went.
check_round_robin() {
  local c=$1 mode=$2 i pod seq=()
  for ((i = 0; i < 30; i++)); do
    read -r pod _ < <(hit "$c" client http://10.96.0.10/) || fail "request $i to 10.96.0.10 failed"
    seq+=("$pod")
  done
  [[ $(printf '%s\n' "${seq[@]:0:3}" | sort -u | wc -l) == 3 ]] || fail "first 3 round-robin picks not distinct: ${seq[*]:0:3}"
  for ((i = 3; i < 30; i++)); do
    [[ "${seq[i]}" == "${seq[i % 3]}" ]] || fail "round-robin broke its cycle at request $i: ${seq[*]}"
  done
  pass "round-robin: 30 requests cycle ${seq[*]:0:3}"
}

# Random (and least-conn, served as random by nftables): N requests, every backend within bounds.
# Expected N/3 each; sd = sqrt(N * 1/3 * 2/3) = 8.2 for N = 300, and the bounds are ~5 sd wide.
check_random() {
  local c=$1 mode=$2 vip=$3 what=$4 n=300 lo=60 hi=140 i pod
  declare -A count=()
  for ((i = 0; i < n; i++)); do
    read -r pod _ < <(hit "$c" client "http://$vip/") || fail "request $i to $vip failed"
    count[$pod]=$((${count[$pod]:-0} + 1))
  done
  [[ ${#count[@]} == 3 ]] || fail "$what: $n requests reached ${#count[@]} backends: $(declare -p count)"
  local summary=""
  for pod in "${!count[@]}"; do
    ((count[$pod] >= lo && count[$pod] <= hi)) || fail "$what: $pod got ${count[$pod]} of $n (bounds $lo-$hi)"
    summary+=" $pod=${count[$pod]}"
  done
  pass "$what over $n requests:$summary (each within $lo-$hi)"
}

# What get svc and conntrack name, per mode: the algorithm really served (nftables serves least-conn
# as random: marked "random*" and said under the table), and each flow by its service port
# ("web-lc:80/TCP", "web-np:80/TCP" for a NodePort), as the userspace proxy names them, never by the
# address it was sent to.
check_served_names() {
  local c=$1 mode=$2 svc algo json flows bad
  svc=$("$MKN" get svc -c "$c")
  algo=$(awk '$1 == "web-lc" {print $6}' <<<"$svc")
  json=$("$MKN" get svc -c "$c" -o json | tr -d ' \n')
  case "$mode" in
  nftables)
    [[ "$algo" == "random*" ]] || fail "get svc: web-lc's ALGORITHM is '$algo', want random* (served): $svc"
    contains "$svc" '* web-lc: the lab asks for least-conn, which proxy_mode = "nftables" cannot serve; it serves random (least-conn needs proxy_mode = "userspace")' \
      "get svc says what the lab asked for"
    contains "$json" '"algorithm":"random","cluster_ip":"10.96.0.12"' "-o json: web-lc's algorithm is the one served"
    contains "$json" '"lab_algorithm":"least-conn","name":"web-lc"' "-o json: and the lab's"
    ;;
  userspace)
    [[ "$algo" == least-conn ]] || fail "get svc: web-lc's ALGORITHM is '$algo', want least-conn: $svc"
    ! grep -q '^\* ' <<<"$svc" || fail "get svc has a footnote in userspace mode: $svc"
    ;;
  esac
  hit "$c" client http://10.96.0.12/ >/dev/null || fail "curl 10.96.0.12 failed"
  hit "$c" underlay "http://$(node_ip "$c" node2):30080/" >/dev/null || fail "curl the NodePort failed"
  flows=$("$MKN" conntrack -c "$c")
  [[ -n $(awk '$4 == "web-lc:80/TCP"' <<<"$flows") ]] || fail "conntrack names no flow web-lc:80/TCP: $flows"
  [[ -n $(awk '$1 == "node2" && $4 == "web-np:80/TCP"' <<<"$flows") ]] || fail "conntrack names no NodePort flow web-np:80/TCP on node2: $flows"
  bad=$(awk 'NR > 1 && $4 ~ /^[0-9]+\./' <<<"$flows")
  [[ -z "$bad" ]] || fail "conntrack names flows by address, not by service: $bad"
  pass "get svc says $algo for web-lc; conntrack names flows web-lc:80/TCP and web-np:80/TCP ($mode)"
}

# ClientIP affinity: every request of one client lands on the same backend.
check_affinity() {
  local c=$1 mode=$2 first pod i
  read -r first _ < <(hit "$c" client http://10.96.0.13/) || fail "curl 10.96.0.13 failed"
  for ((i = 0; i < 20; i++)); do
    read -r pod _ < <(hit "$c" client http://10.96.0.13/) || fail "curl 10.96.0.13 failed"
    [[ "$pod" == "$first" ]] || fail "affinity broke: request $i went to $pod, not $first"
  done
  pass "ClientIP affinity: 21 requests all on $first"
}

# UDP echo through the ClusterIP (port 53 -> target port "dns" = 5353 on each dns pod).
check_udp() {
  local c=$1 mode=$2 i line
  for i in 1 2 3 4; do
    line=$(in_pod "$c" client bash -c "exec 3<>/dev/udp/10.96.0.53/53; echo udp-$i >&3; timeout 5 dd bs=512 count=1 status=none <&3")
    [[ "$line" == "udp-$i" ]] || fail "UDP echo via 10.96.0.53:53 returned '$line'"
  done
  pass "UDP echo via ClusterIP 10.96.0.53:53"
}

# One node's proxy counter as `get proxy -o json` has it: proxy_counter CLUSTER NODE nat.dropped
# (userspace: "nat"; nftables: "kernel"). Fails if the node or the counter is not there.
proxy_counter() {
  "$MKN" get proxy -c "$1" -o json | jq -e --arg n "$2" ".nodes[] | select(.node == \$n) | .$3 | numbers"
}

# A UDP datagram larger than the pod MTU (8000 bytes: fragments on the wire) through the ClusterIP and
# back: the kernel reassembles before its NAT (nftables); the userspace NAT reassembles too
# (lib/nat/reassembly), translates the whole datagram, and the node's kernel fragments it again.
# `get proxy` counts it on the client's node: userspace, exactly 2 datagrams reassembled (the
# request, and the answer on its way back to the node's proxy address); nftables, the kernel's
# ReasmOKs of the node's netns grows.
check_udp_fragments() {
  local c=$1 mode=$2 got node key before after
  node=$(pod_node "$c" client)
  case "$mode" in
  userspace) key=nat.datagrams_reassembled ;;
  nftables) key=kernel.ip_reasm_oks ;;
  *) fail "check_udp_fragments: mode $mode not described" ;;
  esac
  before=$(proxy_counter "$c" "$node" $key) || fail "get proxy -o json has no $key for $node: $("$MKN" get proxy -c "$c" -o json)"
  head -c 8000 /dev/urandom >"$TMP/big.in"
  in_pod "$c" client bash -c "exec 3<>/dev/udp/10.96.0.53/53; cat '$TMP/big.in' >&3
    timeout 5 dd bs=65536 count=1 status=none <&3 >'$TMP/big.out'" || fail "no answer to an 8000-byte datagram via 10.96.0.53:53"
  got=$(stat -c %s "$TMP/big.out")
  cmp -s "$TMP/big.in" "$TMP/big.out" || fail "an 8000-byte datagram via 10.96.0.53:53 came back as $got different bytes"
  after=$(proxy_counter "$c" "$node" $key) || fail "get proxy -o json has no $key for $node"
  case "$mode" in
  userspace)
    ((after - before == 2)) || fail "get proxy: $node's $key went $before -> $after for one datagram each way, want +2"
    [[ $(proxy_counter "$c" "$node" nat.fragments_held) == 0 ]] || fail "get proxy: $node still holds fragments: $("$MKN" get proxy -c "$c")"
    ;;
  nftables) ((after > before)) || fail "get proxy: $node's $key stayed $before after a fragmented datagram" ;;
  esac
  pass "an 8000-byte UDP datagram (fragmented) via ClusterIP 10.96.0.53:53 came back intact; get proxy: $node's $key $before -> $after"
}

# A spoofed-SYN flood from one pod (70000 SYNs from random addresses of 198.18.0.0/15) fills the userspace
# NAT's table (65536 flows per node) while the same pod holds an idle keep-alive connection to web: the
# connection survives (an established flow is never evicted; the flood's half-open flows make room for
# each other) and answers again after the flood. The node's counters say so: `get proxy` has the
# table full and evictions (not table_full drops: the flood's own half-open flows always leave one to
# evict), its drops by reason add up, and `get svc` has a line for the node under its table.
check_syn_flood() {
  local c=$1 mode=$2 holder out flows node proxy evicted svc
  [[ -x "${MKN_TOOLS:-}/mkn-synflood" ]] || fail "MKN_TOOLS/mkn-synflood is missing (build the mkn-synflood target)"
  rm -f "$TMP/flood."*
  # Not through in_pod: $! must be the process itself (timeout), which passes a SIGTERM on to bash.
  ip netns exec "mkn-$c-client" timeout 180 bash -c '
    ask() {  # one request on fd 3; prints the pod that answered
      local l len=0 body
      printf "GET /%s HTTP/1.1\r\nHost: flood\r\n\r\n" "$1" >&3
      while IFS= read -r -t 10 l <&3; do
        l=${l%$'"'"'\r'"'"'}; [[ -z $l ]] && break
        [[ ${l,,} == content-length:* ]] && len=${l#*: }
      done
      ((len > 0)) && IFS= read -r -t 10 -N "$len" body <&3 && awk "/^pod: / {print \$2}" <<<"$body"
    }
    exec 3<>/dev/tcp/10.96.0.10/80
    ask before >"$1.before"
    while [[ ! -e $1.go ]]; do sleep 0.2; done
    ask after >"$1.after.tmp" && mv "$1.after.tmp" "$1.after"' flood "$TMP/flood" &
  holder=$!
  wait_for 10 test -s "$TMP/flood.before" || fail "the held connection got no first answer"
  # Paced (20000 SYNs/s), so the flood reaches the NAT rather than overflowing the TUN's queue. On a
  # loaded machine some SYNs are still lost on the way (or the first ones expire before the last):
  # more rounds until the table is full, at most 4 (280 000 SYNs, 4 minutes).
  local round
  node=$(pod_node "$c" client)
  # The flood's sources stand for many clients elsewhere, but it is one pod that sends them, and every
  # node filters its pods' reverse paths strictly (cbr0 rp_filter = 1: a pod cannot send from an address
  # that is not its own, README "Geneve"). Loosened for the flood alone, then back.
  ip netns exec "mkn-$c-$node" sysctl -qw net.ipv4.conf.cbr0.rp_filter=0
  for round in 1 2 3 4; do
    out=$(ip netns exec "mkn-$c-client" "$MKN_TOOLS/mkn-synflood" 10.96.0.10 80 70000 60 198.18.0.0/15 20000) ||
      fail "mkn-synflood: $out"
    flows=$("$MKN" conntrack -c "$c" -n "$node" | tail -n +2 | wc -l)
    ((flows < 65536)) || break
  done
  ip netns exec "mkn-$c-$node" sysctl -qw net.ipv4.conf.cbr0.rp_filter=1
  ((flows == 65536)) || fail "$round floods did not fill node $node's NAT table: $flows flows"
  proxy=$("$MKN" get proxy -c "$c" -o json)
  evicted=$(jq -e --arg n "$node" '.nodes[] | select(.node == $n) | .nat.conntrack_evictions | numbers' <<<"$proxy") ||
    fail "get proxy -o json has no conntrack_evictions for $node: $proxy"
  ((evicted > 0)) || fail "get proxy: $node evicted no flow in a SYN flood: $proxy"
  jq -e --arg n "$node" '.nodes[] | select(.node == $n) | .nat |
      .conntrack_entries == 65536 and .conntrack_max == 65536 and ([.drops[]] | add // 0) == .dropped' \
    <<<"$proxy" >/dev/null || fail "get proxy: $node's table is not full at 65536, or its drops by reason do not add up: $proxy"
  svc=$("$MKN" get svc -c "$c")
  [[ -n $(awk -v n="$node:" '$1 == n && /unassured flows? evicted from a full table/' <<<"$svc") ]] ||
    fail "get svc has no line for $node's evictions under its table: $svc"
  touch "$TMP/flood.go"
  wait_for 20 test -e "$TMP/flood.after" || fail "the held connection died in a SYN flood ($out)"
  [[ $(cat "$TMP/flood.after") == "$(cat "$TMP/flood.before")" ]] || fail "the held connection answered from another pod"
  wait "$holder" 2>/dev/null || true
  # And the service still takes new connections.
  hit "$c" client http://10.96.0.10/ >/dev/null || fail "web does not answer a new connection after the flood"
  pass "a held connection to web survived $out, the table full ($flows flows, $evicted half-open evicted); new connections still work"
}

# NodePort 30080 on every node's underlay address, from the underlay and from a node. With
# externalTrafficPolicy=Cluster the flow is masqueraded: the backend sees a node address, never the
# underlay client's.
check_nodeport() {
  local c=$1 mode=$2 n ip from pod seen
  for n in node1 node2; do
    ip=$(node_ip "$c" "$n")
    [[ -n "$ip" ]] || fail "no underlay address for $n"
    for from in underlay node1 node2; do
      read -r pod seen < <(hit "$c" "$from" "http://$ip:30080/") || fail "NodePort $ip:30080 from $from failed"
      [[ "$pod" == web-* ]] || fail "NodePort $ip:30080 from $from answered by '$pod'"
      [[ "$seen" != 172.18.* ]] || fail "NodePort from $from: backend $pod saw the underlay source $seen (not masqueraded)"
    done
  done
  pass "NodePort 30080 on both nodes' underlay addresses, from the underlay and from each node, masqueraded"
}

# No endpoints: TCP gets a reset at once (curl exit 7), UDP an ICMP port unreachable (ECONNREFUSED).
check_no_endpoints() {
  local c=$1 mode=$2 rc out
  in_pod "$c" client tcpdump -l -n -i eth0 -c 1 'src host 10.96.0.99 and tcp[tcpflags] & tcp-rst != 0' \
    >"$TMP/rst" 2>"$TMP/rst.err" &
  local td=$!
  wait_for 10 grep -q "listening on" "$TMP/rst.err" || fail "tcpdump did not start: $(cat "$TMP/rst.err")"
  rc=0; out=$(in_pod "$c" client curl -sS --max-time 3 http://10.96.0.99/ 2>&1) || rc=$?
  [[ $rc == 7 ]] || fail "TCP to the endpoint-less service: curl exit $rc, want 7 (refused): $out"
  wait_for 5 gone "$td" || { kill "$td"; fail "no TCP reset from 10.96.0.99 seen on the client's eth0"; }
  contains "$(cat "$TMP/rst")" "10.96.0.99.80 >" "the reset comes from the service address"
  rc=0; out=$(in_pod "$c" client bash -c "exec 3<>/dev/udp/10.96.0.99/53; echo x >&3; timeout 3 dd bs=512 count=1 status=none <&3" 2>&1) || rc=$?
  contains "$out" "Connection refused" "UDP to the endpoint-less service: ICMP port unreachable -> ECONNREFUSED (rc $rc)"
  pass "no endpoints: TCP reset from 10.96.0.99:80 (curl exit 7), UDP refused by ICMP port unreachable"
}

# Hairpin: a backend reaching its own service. Round-robin's 3 consecutive picks include itself; it must
# answer (no lost SYN) and see the node's cbr0 address, since the flow is masqueraded.
check_hairpin() {
  local c=$1 mode=$2 me node gw pod seen i own=0
  node=$(pod_node "$c" client)
  me=$("$MKN" get pods -c "$c" | awk -v n="$node" '$1 ~ /^web-/ && $2==n {print $1; exit}')
  gw=$(hairpin_source "$c" "$mode" "$node")
  declare -A hits=()
  for i in 1 2 3; do
    read -r pod seen < <(hit "$c" "$me" http://10.96.0.10/) || fail "hairpin request $i from $me failed"
    hits[$pod]=1
    if [[ "$pod" == "$me" ]]; then
      own=1
      [[ "$seen" == "$gw" ]] || fail "hairpin: $me saw itself as $seen, want $gw ($mode mode)"
    fi
  done
  ((own == 1 && ${#hits[@]} == 3)) || fail "hairpin: 3 round-robin picks from $me were $(declare -p hits)"
  pass "hairpin: $me reaches itself through 10.96.0.10 and sees $gw"
}

# The rules, as `nft list` shows them in a node.
check_nft_listing() {
  local c=$1 out ip
  out=$(ip netns exec "mkn-$c-node1" nft list table ip kube-proxy)
  contains "$out" "map service-ips" "service-ips verdict map"
  contains "$out" 'comment "default/web:80" : goto service-' "web's entry in service-ips (its own chain: round-robin)"
  contains "$out" 'comment "default/web-np:80" : goto external-' "web-np's entry in service-nodeports"
  contains "$out" 'comment "default/web-lc:80" : goto pick-random' "web-lc's entry: the shared random pick"
  contains "$out" "ct mark set numgen inc mod 3 offset 1" "round-robin pick over 3 endpoints"
  contains "$out" "@pick-random-3 ct mark set numgen random mod 3 offset 1" "random pick over 3 endpoints"
  contains "$out" "dnat ip to ip daddr . meta l4proto . th dport . ct mark map @service-endpoints" "one DNAT rule"
  contains "$out" "jump mark-for-masquerade" "masquerade marks"
  contains "$out" "10.96.0.99 . tcp . 80" "empty's no-endpoint entry"
  for ip in $(pod_ip "$c" web-0) $(pod_ip "$c" web-1) $(pod_ip "$c" web-2); do
    contains "$out" ": $ip . 8080" "a slot of $ip in service-endpoints"
    contains "$out" "$ip . $ip" "$ip in @hairpin"
  done
  pass "nft list table ip kube-proxy in node1 shows service-ips, the picks, the slots and the DNAT"
}

# kill POD: the pod comes back with a new address; the Services follow (the rules are rewritten), the old
# address is gone from them, and the new pod answers, hairpin included (its new bridge port too).
check_kill() {
  local c=$1 mode=$2 victim old new out i pod seen found=0
  victim=$("$MKN" get pods -c "$c" | awk -v n="$(pod_node "$c" client)" '$1 ~ /^web-/ && $2==n {print $1; exit}')
  old=$(pod_ip "$c" "$victim")
  out=$("$MKN" kill -c "$c" "$victim") || fail "kill $victim: $out"
  new=$(pod_ip "$c" "$victim")
  [[ -n "$new" && "$new" != "$old" ]] || fail "kill $victim: address $old -> '$new'"
  if [[ "$mode" == nftables ]]; then
    out=$(ip netns exec "mkn-$c-node1" nft list table ip kube-proxy)
    contains "$out" ": $new . 8080" "the slots follow the new address"
    ! grep -qF ": $old . " <<<"$out" || fail "a slot still sends traffic to the dead $old"
  fi
  for i in 1 2 3; do
    read -r pod seen < <(hit "$c" client http://10.96.0.10/) || fail "request $i after kill failed"
    [[ "$pod" == "$victim" ]] && found=1
  done
  ((found == 1)) || fail "the recreated $victim ($new) got none of 3 round-robin requests"
  check_hairpin "$c" "$mode"
  pass "kill $victim: $old -> $new, the Services follow"
}

# nftables: the first line of `nft -a list table`, with the table's handle: a table written whole
# (delete + create) gets a new one, a delta keeps it.
# (sed, not head: head would close the pipe early, and nft's SIGPIPE fail the pipeline.)
table_handle() { ip netns exec "mkn-$1-$2" nft -a list table ip kube-proxy | sed -n 1p; }

# nftables: kill and scale are deltas (the table is never replaced), and what the data path keeps in
# the table survives an update of another service: web's round-robin position, a client's affinity
# entry (a kill of another web-sticky pod rewrites that chain, not the sets that stay), the
# service-ips counters. logs/nftables.log shows each delta.
check_deltas_keep_state() {
  local c=$1 log=/run/minikube-net/$1/logs/nftables.log handle p0 p1 p2 p3 sticky me set other before after
  handle=$(table_handle "$c" node1)
  me=$(pod_ip "$c" client)
  read -r p0 _ < <(hit "$c" client http://10.96.0.10/) || fail "request to web"
  read -r p1 _ < <(hit "$c" client http://10.96.0.10/) || fail "request to web"
  read -r sticky _ < <(hit "$c" client http://10.96.0.13/) || fail "request to web-sticky"
  set=$(ip netns exec "mkn-$c-node1" nft list sets ip | awk -v ip="$(pod_ip "$c" "$sticky")" '$1 == "set" && index($2, "web-sticky/tcp/80__" ip "/") {print $2}')
  [[ -n "$set" ]] || fail "no affinity set for $sticky in node1"
  contains "$(ip netns exec "mkn-$c-node1" nft list set ip kube-proxy "$set")" "$me" "the client in $sticky's affinity set"
  before=$(web_new_flows "$c")
  "$MKN" scale -c "$c" dns 3 >/dev/null || fail "scale dns 3"
  read -r p2 _ < <(hit "$c" client http://10.96.0.10/) || fail "request to web after scale dns"
  read -r p3 _ < <(hit "$c" client http://10.96.0.10/) || fail "request to web after scale dns"
  [[ $p0 != "$p1" && $p2 != "$p0" && $p2 != "$p1" && $p3 == "$p0" ]] ||
    fail "round-robin did not go on across scale dns: $p0 $p1 | $p2 $p3"
  after=$(web_new_flows "$c")
  ((after == before + 2)) || fail "web's new flows went $before -> $after over 2 requests and a scale"
  other=$("$MKN" get pods -c "$c" | awk -v s="$sticky" '$1 ~ /^web-/ && $1 != s {print $1; exit}')
  "$MKN" kill -c "$c" "$other" >/dev/null || fail "kill $other"
  contains "$(ip netns exec "mkn-$c-node1" nft list set ip kube-proxy "$set")" "$me" "the client still in $sticky's set after kill $other"
  local again
  read -r again _ < <(hit "$c" client http://10.96.0.13/) || fail "request to web-sticky after kill $other"
  [[ "$again" == "$sticky" ]] || fail "affinity lost across kill $other: $again, was $sticky"
  [[ "$(table_handle "$c" node1)" == "$handle" ]] || fail "the table was replaced: $handle -> $(table_handle "$c" node1)"
  "$MKN" scale -c "$c" dns 2 >/dev/null || fail "scale dns 2"
  grep -q "node1 delta: " "$log" || fail "no delta in $log: $(cat "$log")"
  [[ $(grep -c "full sync\|refused" "$log") == 2 ]] || fail "a table was written whole after up: $(grep "full sync\|refused" "$log")"
  pass "deltas only (table handle kept): round-robin went on ($p0 $p1 | $p2 $p3), $sticky kept the client across kill $other, web counted $before -> $after"
}

# nft -j list table, without what a table's history changes: handles, counters, the order of
# elements, sets and chains, the affinity sets' entries.
nft_canon() {
  ip netns exec "mkn-$1-$2" nft -j list table ip kube-proxy | jq -S '
    def clean: walk(if type == "object" then del(.handle, .counter, .expires)
      | (if (.elem? | type) == "array" then .elem |= sort else . end) else . end);
    [.nftables[] | select(has("metainfo") | not)
      | (if .set and ((.set.flags // []) | index("dynamic")) then del(.set.elem) else . end) | clean]
    | (map(select(has("rule") | not)) | sort) + (map(select(has("rule"))) | group_by(.rule.chain) | add // [])'
}

# After many kills and scales the tables are what a full sync writes: resync --check finds nothing.
# A table edited by hand is found and resync repairs that node alone; then node1 (deltas since up)
# lists as node2 (just written whole), compared without minikube-net.
check_no_drift() {
  local c=$1 i pod out rc=0 h1 ip
  for ((i = 0; i < 6; i++)); do
    pod=$("$MKN" get pods -c "$c" | awk -v k=$i '$1 ~ /^(web|dns)-/ && $3 ~ /^[0-9.]+$/ {p[n++] = $1} END {print p[k % n]}')
    "$MKN" kill -c "$c" "$pod" >/dev/null || fail "kill $pod"
    "$MKN" scale -c "$c" web $((2 + i % 4)) >/dev/null || fail "scale web $((2 + i % 4))"
    "$MKN" scale -c "$c" dns $((1 + i % 3)) >/dev/null || fail "scale dns $((1 + i % 3))"
  done
  "$MKN" scale -c "$c" web 3 >/dev/null && "$MKN" scale -c "$c" dns 2 >/dev/null || fail "scale back"
  out=$("$MKN" resync -c "$c" --check) || fail "resync --check after 20 updates: $out"
  contains "$out" "node1: in sync with a full sync of the spec" "node1 in sync after 20 updates"
  contains "$out" "node2: in sync with a full sync of the spec" "node2 in sync after 20 updates"
  ip=$(pod_ip "$c" web-0)
  ip netns exec "mkn-$c-node2" nft delete element ip kube-proxy hairpin "{ $ip . $ip }" || fail "nft delete element"
  h1=$(table_handle "$c" node1)
  out=$("$MKN" resync -c "$c" --check) || rc=$?
  ((rc == 1)) || fail "resync --check on a hand-edited table: exit $rc, want 1: $out"
  contains "$out" "node2: 1 difference from a full sync" "the edit found"
  contains "$out" "+ set hairpin: element $ip . $ip" "the missing element named"
  out=$("$MKN" resync -c "$c") || fail "resync: $out"
  contains "$out" "node2: rewritten whole" "node2 repaired"
  ! grep -q "node1: rewritten" <<<"$out" || fail "resync rewrote node1, which was in sync: $out"
  [[ "$(table_handle "$c" node1)" == "$h1" ]] || fail "resync replaced node1's table"
  diff <(nft_canon "$c" node1) <(nft_canon "$c" node2) >"$TMP/drift" ||
    fail "node1's table (deltas) differs from node2's (full sync): $(head -40 "$TMP/drift")"
  out=$("$MKN" resync -c "$c" --check) || fail "resync --check after the repair: $out"
  pass "20 updates, no drift; a hand edit on node2 found and repaired there alone; node1 == node2 (jq)"
}

# least-conn (userspace, IPVS lc): two connections held open take two backends; new short requests
# all go to the third, the one with no active connection (overhead = active * 256 + inactive).
check_least_conn_held() {
  local c=$1 mode=$2 i pod held=() pids=() free_pod
  for i in 1 2; do
    # Not through in_pod: $! must be the process itself (timeout), which passes a SIGTERM on to bash.
    ip netns exec "mkn-$c-client" timeout 60 bash -c 'exec 3<>/dev/tcp/10.96.0.12/80
      printf "GET /held HTTP/1.1\r\nHost: lc\r\n\r\n" >&3
      while read -r -t 5 l <&3; do case "$l" in pod:*) echo "${l#pod: }" >"$1"; break ;; esac; done
      while read -r -t 50 <&3; do :; done' held "$TMP/held$i" &  # drain, then hold the connection
    pids+=($!)
    wait_for 10 test -s "$TMP/held$i" || fail "held connection $i got no answer"
    held+=("$(tr -d '\r' <"$TMP/held$i")")
  done
  [[ "${held[0]}" != "${held[1]}" ]] || fail "least-conn put both held connections on ${held[0]}"
  for ((i = 0; i < 10; i++)); do
    read -r pod _ < <(hit "$c" client http://10.96.0.12/) || fail "least-conn request $i failed"
    [[ "$pod" != "${held[0]}" && "$pod" != "${held[1]}" ]] || fail "least-conn sent request $i to $pod, which holds a connection"
    free_pod=$pod
  done
  local flows
  flows=$("$MKN" conntrack -c "$c" -n "$(pod_node "$c" client)")
  [[ $(grep -c "ESTABLISHED .*web-lc" <<<"$flows") -ge 2 ]] || fail "conntrack lacks the 2 held flows: $flows"
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  pass "least-conn: held connections on ${held[*]}, 10 new requests all to $free_pod; conntrack lists the held flows"
}

# The userspace proxy's view: conntrack lists a flow with both tuples, get svc counts it.
check_conntrack_and_counters() {
  local c=$1 mode=$2 client out before after
  client=$(pod_ip "$c" client)
  before=$("$MKN" get svc -c "$c" -o json | awk '/"new_flows"/ {gsub(/[^0-9]/, ""); s += $0} END {print s + 0}')
  in_pod "$c" client bash -c 'exec 3<>/dev/tcp/10.96.0.13/80; printf "GET / HTTP/1.1\r\nHost: x\r\n\r\n" >&3; read -r -t 5 l <&3; exec 3>&-'
  out=$("$MKN" conntrack -c "$c")
  contains "$out" "$client:" "conntrack shows the client's tuple"
  contains "$out" "-> 10.96.0.13:80" "conntrack shows the ClusterIP side"
  contains "$out" "-> $(node_proxy_ip "$c" "$(pod_node "$c" client)"):" "conntrack shows the reply to the proxy address"
  after=$("$MKN" get svc -c "$c" -o json | awk '/"new_flows"/ {gsub(/[^0-9]/, ""); s += $0} END {print s + 0}')
  ((after > before)) || fail "get svc: new_flows did not grow ($before -> $after)"
  out=$("$MKN" get svc -c "$c")
  contains "$out" "PACKETS" "get svc shows counters in userspace mode"
  pass "conntrack lists client -> ClusterIP and endpoint -> proxy tuples; get svc counted $((after - before)) new flows"
}

# kill a backend while a client keeps calling the service: only requests in flight may fail, and every
# request after kill returned succeeds.
check_kill_under_load() {
  local c=$1 mode=$2 victim n=120 i
  victim=$("$MKN" get pods -c "$c" | awk '$1 ~ /^web-/ {v = $1} END {print v}')
  : >"$TMP/load"
  in_pod "$c" client bash -c 'for ((i = 0; i < '"$n"'; i++)); do
      if curl -sS --max-time 2 -o /dev/null http://10.96.0.10/ 2>/dev/null; then echo ok; else echo fail; fi
    done' >>"$TMP/load" &
  local loader=$!
  wait_for 20 bash -c "(( \$(wc -l <'$TMP/load') >= 30 ))" || fail "the load loop did not get going"
  "$MKN" kill -c "$c" "$victim" >/dev/null || fail "kill $victim under load failed"
  local at
  at=$(wc -l <"$TMP/load")
  wait "$loader" || true
  local total fails late_fails
  total=$(wc -l <"$TMP/load")
  fails=$(grep -c fail "$TMP/load" || true)
  late_fails=$(tail -n +"$((at + 2))" "$TMP/load" | grep -c fail || true)
  [[ $total == "$n" ]] || fail "load loop ran $total of $n requests"
  ((late_fails == 0)) || fail "$late_fails requests failed after kill returned (request $at of $n)"
  ((fails <= 1)) || fail "$fails of $n requests failed around the kill (at most the one in flight may)"
  pass "kill $victim at request $at of $n under load: $fails failed (in flight), all later ones succeeded"
}

# Bulk TCP through the ClusterIP across nodes (VXLAN + the proxy): no stalled interval, no crawl.
check_bulk() {
  local c=$1 mode=$2 j zero gbps
  wait_for 10 in_pod "$c" bulk bash -c "ss -ltn | grep -q ':5201 '" || fail "iperf3 server in pod bulk did not start"
  j=$(in_pod "$c" client iperf3 -c 10.96.0.30 -t 2 -i 0.2 -J) || fail "iperf3 through 10.96.0.30 failed"
  zero=$(awk '/"intervals"/ {i = 1} /"end"[[:space:]]*:/ {i = 0} i && /"bytes":[[:space:]]*0,/ {z++} END {print z + 0}' <<<"$j")
  gbps=$(awk -F'[:,]' '/"sum_received"/ {r=1} r && /"bits_per_second"/ {printf "%.2f", $2/1e9; exit}' <<<"$j")
  ((zero == 0)) || fail "iperf3 through the ClusterIP had $zero stalled 0.2 s intervals"
  awk -v g="$gbps" 'BEGIN {exit !(g >= 0.5)}' || fail "iperf3 through the ClusterIP crawled at $gbps Gbit/s"
  pass "bulk TCP client (node1) -> ClusterIP -> bulk (node2): $gbps Gbit/s, no stalled interval"
}

# kill flushes the flows to the dead pod: a UDP "connection" (one client socket) whose backend is
# killed is answered by a live backend on its next datagram, instead of being sent to the dead
# address until the flow times out. minikube-net is called from inside the pod's netns: its control
# socket is a file, reachable from any namespace.
check_kill_flushes_udp() {
  local c=$1 mode=$2 out
  out=$(in_pod "$c" client env MKN="$MKN" C="$c" bash -c '
    exec 3<>/dev/udp/10.96.0.53/53
    echo one >&3; first=$(timeout 5 dd bs=512 count=1 status=none <&3)
    port=$(ss -Hun | awk "{for (i = 2; i <= NF; i++) if (\$i == \"10.96.0.53:53\") {split(\$(i - 1), a, \":\"); print a[2]}}")
    victim=$("$MKN" conntrack -c "$C" | awk -v p=":$port " "index(\$0, p) && /UDP/ {print \$(NF-2); exit}")
    old_ip=$("$MKN" get pods -c "$C" | awk -v v="$victim" "\$1 == v {print \$3}")
    "$MKN" kill -c "$C" "$victim" >/dev/null || { echo "kill $victim failed"; exit 1; }
    # A flow still answered from the dead address: its REPLY column starts with it.
    left=$("$MKN" conntrack -c "$C" | grep -c " $old_ip:[0-9]* -> " || true)
    echo two >&3; second=$(timeout 5 dd bs=512 count=1 status=none <&3)
    echo "$first|$victim|$left|$second"') || fail "UDP flush probe failed: $out"
  IFS='|' read -r first victim left second <<<"$out"
  [[ "$first" == one && "$victim" == dns-* ]] || fail "UDP flush probe: first answer '$first', backend '$victim'"
  [[ "$left" == 0 ]] || fail "conntrack still lists $left flows to the killed $victim"
  [[ "$second" == two ]] || fail "after kill $victim the same UDP socket got '$second' (its flow still points at the dead pod?)"
  pass "kill $victim flushed its flows: the same UDP socket is answered by a live backend"
}

# get svc counts every new flow of a service, in both modes (userspace: the proxy's counters;
# nftables: the counter of the port's service-ips element): 5 requests, exactly 5 more.
web_new_flows() {
  "$MKN" get svc -c "$1" -o json | tr -d ' \n' |
    grep -o '"cluster_ip":"10.96.0.10".*' | grep -o '"new_flows":[0-9]*' | head -1 | cut -d: -f2
}
check_counters() {
  local c=$1 mode=$2 before after i
  before=$(web_new_flows "$c")
  [[ -n "$before" ]] || fail "get svc -o json has no new_flows for web: $("$MKN" get svc -c "$c" -o json)"
  for i in 1 2 3 4 5; do hit "$c" client http://10.96.0.10/ >/dev/null || fail "request $i"; done
  after=$(web_new_flows "$c")
  ((after - before == 5)) || fail "get svc: web's new flows went $before -> $after after 5 requests"
  contains "$("$MKN" get svc -c "$c")" "PACKETS" "get svc shows counters in $mode mode"
  # Scripts index get svc -o json as an array of services: the node counters are get proxy's.
  "$MKN" get svc -c "$c" -o json | jq -e 'type == "array" and all(.[]; has("cluster_ip"))' >/dev/null ||
    fail "get svc -o json is no longer the array of services: $("$MKN" get svc -c "$c" -o json)"
  pass "get svc: 5 requests, 5 new flows of web ($before -> $after)"
}

# A scale that cannot be done (more pods than the nodes' ranges hold) fails and changes nothing:
# the same endpoints, every request still answered, and a kill afterwards still works.
check_scale_refused() {
  local c=$1 mode=$2 before after rc=0 out i
  before=$("$MKN" get endpoints -c "$c" | awk '$1 == "web"')
  out=$("$MKN" scale -c "$c" web 600 2>&1) || rc=$?
  ((rc != 0)) || fail "scale web 600 on two /24 nodes succeeded: $out"
  contains "$out" "no node has a free pod address" "scale says why"
  after=$("$MKN" get endpoints -c "$c" | awk '$1 == "web"')
  [[ "$after" == "$before" ]] || fail "a refused scale changed the endpoints: $before -> $after"
  for i in 1 2 3 4 5 6; do hit "$c" client http://10.96.0.10/ >/dev/null || fail "request $i after a refused scale"; done
  out=$("$MKN" kill -c "$c" web-0 2>&1) || fail "kill after a refused scale: $out"
  pass "scale web 600 refused (exit $rc), nothing changed, kill still works"
}

# A pod serving iperf3 on node2 behind 10.96.0.30:5201, appended to a lab made by make_lab.
add_bulk() {
  cat >>"$1" <<'TOML'

[[pod]]
name = "bulk"
node = "node2"
labels = { app = "bulk" }
  [[pod.container]]
  command = ["iperf3", "-s"]
  ports = [{ name = "iperf", port = 5201 }]

[[service]]
name = "bulk"
cluster_ip = "10.96.0.30"
selector = { app = "bulk" }
  [[service.port]]
  port = 5201
  target_port = "iperf"
TOML
}

# ebpf: what is loaded, where. The cluster's cgroup is a direct child of the cgroup2 mount, marked
# as the cluster's, and holds the four programs; the root cgroup holds none of ours.
check_ebpf_loaded() {
  local c=$1 mount tree
  mount=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
  [[ "$EBPF_CG" == "$mount/mkn-$c-"* ]] || fail "the cluster's cgroup $EBPF_CG is not mkn-$c-* under the cgroup2 mount $mount"
  [[ $(getfattr --only-values -n trusted.minikube-net "$EBPF_CG" 2>/dev/null ||
       python3 -c "import os,sys; print(os.getxattr(sys.argv[1], 'trusted.minikube-net').decode(), end='')" "$EBPF_CG") == "minikube-net:$c" ]] ||
    fail "$EBPF_CG does not carry trusted.minikube-net = minikube-net:$c"
  tree=$(bpftool cgroup show "$EBPF_CG")
  for p in mkn_connect4 mkn_sendmsg4 mkn_recvmsg4 mkn_getpeername4; do
    contains "$tree" "$p" "$p attached to the cluster's cgroup"
  done
  ! bpftool cgroup show "$mount" | grep -q mkn_ || fail "a program of ours on the root cgroup: $(bpftool cgroup show "$mount")"
  contains "$(bpftool map dump name mkn_services)" '"slot": 0' "bpftool map dump name mkn_services shows the services"
  pass "ebpf: 4 programs on $EBPF_CG (marked minikube-net:$c), none on the root cgroup $mount"
}

# ebpf: no packet on the client's eth0 carries a ClusterIP (TCP, connected UDP, unconnected UDP);
# the backends' addresses are there instead.
check_ebpf_wire() {
  local c=$1 i out
  ip netns exec "mkn-$c-client" tcpdump -l -n -i eth0 'tcp or udp' >"$TMP/eth0.txt" 2>"$TMP/td.err" &
  local td=$!
  wait_for 10 grep -q "listening on" "$TMP/td.err" || fail "tcpdump did not start: $(cat "$TMP/td.err")"
  for i in 1 2 3 4 5 6; do hit "$c" client http://10.96.0.10/ >/dev/null || fail "curl 10.96.0.10 failed"; done
  out=$(in_pod "$c" client bash -c "exec 3<>/dev/udp/10.96.0.53/53; echo wire >&3; timeout 5 dd bs=512 count=1 status=none <&3")
  [[ "$out" == wire ]] || fail "connected UDP via 10.96.0.53 returned '$out'"
  out=$(in_pod "$c" client python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b'x', ('10.96.0.53', 53)); print(s.recvfrom(64)[1][0])")
  [[ "$out" == 10.96.0.53 ]] || fail "unconnected UDP: recvfrom named '$out', want 10.96.0.53"
  # The last answer's packets are printed (-l) before tcpdump counts them: stop once it has.
  kill -INT "$td"; wait "$td" || true
  out=$(cat "$TMP/eth0.txt")
  ! grep -q '10\.96\.' <<<"$out" || fail "the client's eth0 carried a ClusterIP: $(grep '10\.96\.' <<<"$out" | head -3)"
  contains "$out" ".8080: Flags [S]" "SYNs to a backend pod's port 8080 on the client's eth0"
  contains "$out" ".5353: " "datagrams to a dns pod's port 5353"
  pass "ebpf: the client's eth0 carries backends' addresses ($(grep -c . <<<"$out") packets), never a ClusterIP"
}

# ebpf: the application sees the ClusterIP: getpeername() of a connected TCP socket.
check_ebpf_getpeername() {
  local c=$1 out
  out=$(in_pod "$c" client python3 -c "import socket; s=socket.create_connection(('10.96.0.10', 80), timeout=5)
print(*s.getpeername())") || fail "python3 connect to 10.96.0.10 failed: $out"
  [[ "$out" == "10.96.0.10 80" ]] || fail "getpeername() in the client returned '$out', want 10.96.0.10 80"
  out=$(ip netns exec "mkn-$c-client" python3 -c "import socket
try: socket.create_connection(('10.96.0.10', 80), timeout=3); print('connected')
except OSError as e: print(e.errno)")
  [[ "$out" != "10.96.0.10 80" ]] || fail "outside the cgroup the socket was translated too"
  pass "ebpf: getpeername() in the client returns 10.96.0.10:80 (a process outside the cgroup: not translated by the programs)"
}

# ebpf: no endpoints: connect() and sendmsg() are refused by the program (EPERM): nothing on the
# wire; counted as no_endpoints drops in get svc.
check_ebpf_no_endpoints() {
  local c=$1 rc out
  rc=0; out=$(in_pod "$c" client curl -sS --max-time 3 http://10.96.0.99/ 2>&1) || rc=$?
  [[ $rc == 7 ]] || fail "TCP to the endpoint-less service: curl exit $rc, want 7: $out"
  rc=0; out=$(in_pod "$c" client bash -c "exec 3<>/dev/udp/10.96.0.99/53" 2>&1) || rc=$?
  contains "$out" "Operation not permitted" "UDP to the endpoint-less service: connect() refused (rc $rc)"
  out=$("$MKN" get svc -c "$c")
  [[ $(awk '$1 == "empty" {print $NF}' <<<"$out") -ge 2 ]] || fail "get svc counts no drops for empty: $out"
  pass "ebpf: no endpoints: connect() refused at once (curl exit 7, UDP EPERM), counted as drops"
}

# ebpf: get svc's NEW counts the connects the programs translated.
check_ebpf_counters() {
  local c=$1 before after i
  before=$("$MKN" get svc -c "$c" -o json | jq '.[] | select(.name == "web-lc") | .ports[0].counters.new_flows')
  for i in 1 2 3 4 5; do hit "$c" client http://10.96.0.12/ >/dev/null || fail "curl 10.96.0.12 failed"; done
  after=$("$MKN" get svc -c "$c" -o json | jq '.[] | select(.name == "web-lc") | .ports[0].counters.new_flows')
  ((after == before + 5)) || fail "get svc: web-lc's new flows went $before -> $after after 5 connects"
  pass "ebpf: get svc counts each translated connect (web-lc: $before -> $after)"
}

# ebpf_map_id NAME: the id of this cluster's map NAME, found from the programs on its cgroup: other
# sandboxes on the machine may have maps of the same name loaded.
ebpf_map_id() {
  local prog id
  prog=$(bpftool -j cgroup show "$EBPF_CG" | jq '.[0].id')
  for id in $(bpftool -j prog show id "$prog" | jq '.map_ids[]'); do
    [[ $(bpftool -j map show id "$id" | jq -r .name) == "$1" ]] && echo "$id" && return 0
  done
  return 1
}

# ebpf: kill a backend; once kill returns the maps have the new pod (written before it returns):
# the next requests never fail and reach the recreated pod. The service's counters go on across
# the change (only its count and slots are rewritten): every request after it adds one.
web_ebpf_new_flows() {
  "$MKN" get svc -c "$1" -o json | jq '.[] | select(.name == "web") | .ports[0].counters.new_flows'
}
check_ebpf_kill() {
  local c=$1 victim old new i pod found=0 t0 t1 flows0 flows1
  victim=$("$MKN" get pods -c "$c" | awk '$1 ~ /^web-/ {print $1; exit}')
  old=$(pod_ip "$c" "$victim")
  flows0=$(web_ebpf_new_flows "$c")
  [[ "$flows0" =~ ^[0-9]+$ && $flows0 -gt 0 ]] || fail "get svc -o json: web's new_flows is '$flows0' before the kill"
  "$MKN" kill -c "$c" "$victim" >/dev/null || fail "kill $victim failed"
  t0=$(date +%s%N)
  read -r pod _ < <(hit "$c" client http://10.96.0.10/) || fail "the first request after kill failed"
  t1=$(date +%s%N)
  new=$(pod_ip "$c" "$victim")
  [[ -n "$new" && "$new" != "$old" ]] || fail "kill $victim: address $old -> '$new'"
  for ((i = 0; i < 40 && found == 0; i++)); do
    read -r pod _ < <(hit "$c" client http://10.96.0.10/) || fail "request $i after kill failed"
    [[ "$pod" == "$victim" ]] && found=1
  done
  ((found == 1)) || fail "the recreated $victim ($new) got none of 40 random requests"
  flows1=$(web_ebpf_new_flows "$c")
  ((flows1 == flows0 + 1 + i)) ||
    fail "get svc: web's new_flows went $flows0 -> $flows1 over a kill and $((1 + i)) requests (reset by the kill?)"
  # The killed pod's netns left mkn_netns with it (kept, they fill the map after ~4000 kills).
  local pods allowed
  pods=$("$MKN" get pods -A -c "$c" | awk '$4 ~ /^[0-9.]+$/' | wc -l)  # kube-system's coredns too
  allowed=$(bpftool -j map dump id "$(ebpf_map_id mkn_netns)" | jq length)
  ((allowed == pods)) || fail "after kill: mkn_netns holds $allowed namespaces for $pods pods"
  pass "ebpf: kill $victim ($old -> $new): the first request after kill answered in $(((t1 - t0) / 1000000)) ms, the new pod reached, web's counters went on ($flows0 -> $flows1); mkn_netns holds the $pods pods' namespaces"
}

# ebpf: scale web up and down; once scale returns the maps say so (written before it returns): the
# new pod is reached, and after scaling back no connect() goes to the pod that is gone.
check_ebpf_scale() {
  local c=$1 i pod found=0 gone=""
  "$MKN" scale -c "$c" web 4 >/dev/null || fail "scale web 4"
  for ((i = 0; i < 60 && found == 0; i++)); do
    read -r pod _ < <(hit "$c" client http://10.96.0.10/) || fail "request $i after scale web 4 failed"
    [[ "$pod" == web-3 ]] && found=1
  done
  ((found == 1)) || fail "scale web 4: the new web-3 got none of 60 random requests"
  "$MKN" scale -c "$c" web 3 >/dev/null || fail "scale web 3"
  for ((i = 0; i < 30; i++)); do
    read -r pod _ < <(hit "$c" client http://10.96.0.10/) || fail "request $i after scale web 3 failed"
    [[ "$pod" == web-3 ]] && gone=$i
  done
  [[ -z "$gone" ]] || fail "scale web 3: request $gone still reached web-3"
  pass "ebpf: scale web 4 reached web-3 at once; after scale web 3, 30 requests, none to web-3"
}

# ebpf: a connected socket points at the backend itself (connect4 rewrote it), so when that
# backend goes there is no flow to flush: kill destroys the pods' sockets connected to it (as
# Cilium's socket LB does, SOCK_DESTROY). A connected UDP socket and a TCP connection, each to the
# pod kill takes: their next call fails at once (never a silent timeout), and the UDP socket,
# connected again, is answered by a live backend.
check_ebpf_kill_destroys_sockets() {
  local c=$1 out
  out=$(in_pod "$c" client env MKN="$MKN" C="$c" python3 -c '
import errno, os, socket, subprocess
MKN, C = os.environ["MKN"], os.environ["C"]
def backend(proto, sock):  # the pod the kernel has the socket connected to (ss: the real peer)
    port = ":%d" % sock.getsockname()[1]
    for line in subprocess.run(["ss", "-Hn" + proto], capture_output=True, text=True).stdout.splitlines():
        w = line.split()  # [State] Recv-Q Send-Q Local Peer (no State for UDP on some ss)
        if len(w) >= 4 and w[-2].endswith(port):
            ip = w[-1].rsplit(":", 1)[0]
            for p in subprocess.run([MKN, "get", "pods", "-c", C], capture_output=True, text=True).stdout.splitlines():
                if p.split()[2:3] == [ip]: return p.split()[0]
    return "?"
def outcome(call):
    try: return "answered:" + call().decode().strip()
    except socket.timeout: return "timeout"
    except OSError as e: return errno.errorcode.get(e.errno, str(e.errno))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3)
u.connect(("10.96.0.53", 53)); u.send(b"one"); first = u.recv(512).decode().strip()
t = socket.create_connection(("10.96.0.10", 80), timeout=3)
uv, tv = backend("u", u), backend("t", t)
for v in (uv, tv): subprocess.run([MKN, "kill", "-c", C, v], check=True, capture_output=True)
second = outcome(lambda: (u.send(b"two"), u.recv(512))[1])
tcp = outcome(lambda: (t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), t.recv(64)[:8])[1])
# Connected again, as a resolver does: a new socket (the old one would report its ECONNABORTED once
# more, at its first recv() after a send() that failed without reading it).
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3)
u.connect(("10.96.0.53", 53)); third = outcome(lambda: (u.send(b"three"), u.recv(512))[1])
print(first, uv, second, tv, tcp, third, sep="|")') || fail "socket destroy probe failed: $out"
  IFS='|' read -r first uv second tv tcp third <<<"$out"
  [[ "$first" == one && "$uv" == dns-* && "$tv" == web* ]] || fail "socket destroy probe: $out"
  [[ "$second" != timeout ]] || fail "kill $uv: the connected UDP socket's next send/recv timed out (still pointing at the dead pod): $out"
  [[ "$tcp" != timeout ]] || fail "kill $tv: the TCP connection's next send/recv timed out: $out"
  [[ "$third" == answered:three ]] || fail "the UDP socket, connected again after kill $uv, got '$third'"
  pass "ebpf: kill $uv and $tv: the connected UDP socket's next call gave $second, the TCP connection's $tcp; connected again, answered by a live backend"
}

# ebpf: an open `minikube-net exec` in a pod is in the cluster's cgroup; down moves it out (to the
# cgroup2 mount's root) and removes the cgroup, exit 0; the process runs on, as in the other modes.
check_ebpf_exec_down() {
  local c=$1 lab=$2 cg mount pid rc=0 out
  "$MKN" up -d "$lab" >/dev/null || fail "up -d failed"
  cg=$(jq -r .cgroup "/run/minikube-net/$c/state.json")
  mount=${cg%/*}
  "$MKN" exec -c "$c" client -- sleep 300 &
  pid=$!
  wait_for 10 grep -qx "$pid" "$cg/cgroup.procs" || fail "exec's sleep ($pid) is not in $cg: $(cat "$cg/cgroup.procs")"
  out=$("$MKN" down "$c" 2>&1) || rc=$?
  [[ $rc == 0 ]] || fail "down with an exec open exited $rc: $out"
  [[ ! -d "$cg" ]] || fail "down left the cgroup $cg ($(cat "$cg/cgroup.procs"))"
  kill -0 "$pid" 2>/dev/null || fail "down stopped the exec'd sleep ($pid)"
  grep -qx "$pid" "$mount/cgroup.procs" || fail "the exec'd sleep ($pid) is not in $mount's root cgroup"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  assert_clean "$c"
  pass "ebpf: down with an exec open: exit 0, $cg gone, the sleep moved to $mount and still running"
}

# ebpf: a sandbox that `timeout` stops with a lab up: timeout signals the command and then its whole
# process group, the watcher's before it ran in a session of its own. The watcher must remove the
# cgroup once the sandbox is gone. A sandbox inside this one (MKN_IN_SANDBOX unset, so
# ci/sandbox.sh makes one); timeout is sent SIGTERM once the lab is up rather than waiting for a
# fixed time to pass on a loaded machine: timeout's handler for both is the same (the signal to the
# command, then to its group).
check_ebpf_sandbox_timeout() {
  local c=$1 lab=$2 rc=0 cg tpid
  rm -f "$TMP/cg"
  env -u MKN_IN_SANDBOX timeout -s TERM 120 ci/sandbox.sh bash -c \
    '"$1" up -d "$2" >/dev/null && jq -r .cgroup "/run/minikube-net/$3/state.json" >"$4.tmp" &&
     mv "$4.tmp" "$4" && exec sleep 120' sh "$MKN" "$lab" "$c" "$TMP/cg" >/dev/null 2>&1 &
  tpid=$!
  wait_for 60 test -s "$TMP/cg" || fail "the lab in the inner sandbox did not come up"
  cg=$(cat "$TMP/cg")
  [[ "$cg" == /*/mkn-$c-* && -d "$cg" ]] || fail "the inner sandbox's cgroup: '$cg'"
  kill -TERM "$tpid"
  wait "$tpid" || rc=$?
  [[ $rc == 143 || $rc == 124 ]] || fail "timeout ... ci/sandbox.sh after SIGTERM: exit $rc, want 143"
  wait_for 8 test ! -d "$cg" || fail "the cgroup $cg is still there 8 s after timeout stopped its sandbox"
  pass "ebpf: timeout stopped a sandbox with a lab up (its process group signalled); its watcher removed $cg"
}

# ebpf: nothing loaded after SIGTERM / SIGINT of a foreground up, or SIGKILL of a background one and
# down: no program of ours anywhere, no cgroup of the lab.
check_ebpf_lifecycle() {
  local c=$1 lab=$2 sig pid rc cg ids
  # This run's own cgroup and programs only: other sandboxes on the machine (a parallel test, a
  # colleague's lab) may run a cluster of the same name, and BPF programs are the machine's.
  cgroup_and_ids() {  # while up: the state's cgroup, the ids of the programs attached to it
    wait_for 5 bash -c "[[ -d \"\$(jq -r '.cgroup // empty' /run/minikube-net/$c/state.json)\" ]]" ||
      fail "the state names no existing cgroup once ready: $(cat "/run/minikube-net/$c/state.json")"
    cg=$(jq -r .cgroup "/run/minikube-net/$c/state.json")
    ids=$(bpftool cgroup show "$cg" | awk '$1 ~ /^[0-9]+$/ {print $1}')
    contains "$(bpftool cgroup show "$cg")" mkn_connect4 "the programs attached to $cg while up runs"
  }
  # (Whole outputs, then grep: grep -q closing the pipe early would fail bpftool with SIGPIPE.)
  nothing_loaded() {
    local id
    [[ ! -d "$cg" ]] || return 1
    for id in $ids; do ! bpftool prog show id "$id" >/dev/null 2>&1 || return 1; done
  }
  for sig in TERM INT; do
    # A background job of a script starts with SIGINT ignored; setsid gives up a fresh disposition.
    setsid "$MKN" up "$lab" >"$TMP/up.log" 2>&1 &
    pid=$!
    wait_for 30 grep -q "ready in" "$TMP/up.log" || fail "up did not become ready: $(cat "$TMP/up.log")"
    cgroup_and_ids
    kill -"$sig" "$pid"
    rc=0; wait "$pid" || rc=$?
    [[ $rc == 0 ]] || fail "up exited $rc after SIG$sig: $(cat "$TMP/up.log")"
    wait_for 5 nothing_loaded || fail "after SIG$sig: left the cgroup $cg or one of the programs $ids: $(ls -d "$cg" 2>&1) $(bpftool prog show 2>&1 | grep -A1 mkn_)"
    assert_clean "$c"
  done
  "$MKN" up -d "$lab" >/dev/null || fail "up -d failed"
  pid=$(jq -r .pid "/run/minikube-net/$c/state.json")
  cgroup_and_ids
  kill -KILL "$pid"
  wait_for 10 gone "$pid" || fail "the owner did not die"
  # The links died with their process (no pins): nothing attached; the directory is the state's.
  wait_for 5 bash -c "for id in $(echo $ids); do ! bpftool prog show id \$id >/dev/null 2>&1 || exit 1; done" ||
    fail "programs left after SIGKILL: $ids"
  [[ -d "$cg" ]] || fail "the cgroup $cg went without down"
  "$MKN" down "$c" >/dev/null || fail "down after SIGKILL failed"
  nothing_loaded || fail "after SIGKILL + down: $(ls -d "$cg" 2>&1)"
  assert_clean "$c"
  pass "ebpf: nothing loaded after SIGTERM, SIGINT, and SIGKILL + down (programs, cgroup)"
}

case "$CASE" in
userspace)
  c=svcus
  lab=$(make_lab $c userspace)
  add_bulk "$lab"
  out=$("$MKN" up -d "$lab" 2>&1) || fail "up failed: $out"
  contains "$out" "ready in" "up -d reports readiness"
  out=$(ip netns exec "mkn-$c-node1" ip route show 10.96.0.0/12)
  contains "$out" "dev mkn-proxy" "the service CIDR is routed into the node's TUN"
  # The first request to each backend, ARP caches cold: a local backend resolves the node's proxy
  # address by proxy ARP, which the kernel delays by up to proxy_delay (0.8 s) unless it is 0.
  for i in 1 2 3; do
    t=$(in_pod $c client curl -sS -o /dev/null -w '%{time_total}' --max-time 5 http://10.96.0.10/) || fail "curl $i"
    awk -v t="$t" 'BEGIN {exit !(t < 0.5)}' || fail "request $i to 10.96.0.10 took $t s (proxy ARP delayed?)"
  done
  pass "first requests to each backend answered without a proxy-ARP delay"
  check_clusterip $c userspace
  check_round_robin $c userspace
  check_hairpin $c userspace
  check_udp $c userspace
  check_udp_fragments $c userspace
  check_nodeport $c userspace
  check_expect $c userspace
  check_affinity $c userspace
  check_random $c userspace 10.96.0.11 "random"
  check_least_conn_held $c userspace
  check_served_names $c userspace
  check_conntrack_and_counters $c userspace
  check_counters $c userspace
  check_no_endpoints $c userspace
  check_bulk $c userspace
  check_kill $c userspace
  check_kill_flushes_udp $c userspace
  check_scale_refused $c userspace
  check_kill_under_load $c userspace
  check_syn_flood $c userspace
  out=$("$MKN" down $c)
  contains "$out" "cluster $c down" "down reports"
  assert_clean $c
  ;;
nftables)
  c=svcnft
  lab=$(make_lab $c nftables)
  add_bulk "$lab"
  out=$("$MKN" up -d "$lab" 2>&1) || fail "up failed: $out"
  contains "$out" "ready in" "up -d reports readiness"
  check_nft_listing $c
  check_clusterip $c nftables
  check_round_robin $c nftables
  check_hairpin $c nftables
  check_udp $c nftables
  check_udp_fragments $c nftables
  check_nodeport $c nftables
  check_expect $c nftables
  check_affinity $c nftables
  check_random $c nftables 10.96.0.11 "random"
  check_random $c nftables 10.96.0.12 "least-conn (random in nftables)"
  check_served_names $c nftables
  check_no_endpoints $c nftables
  check_counters $c nftables
  check_bulk $c nftables
  check_kill $c nftables
  check_kill_flushes_udp $c nftables
  check_scale_refused $c nftables
  check_kill_under_load $c nftables
  check_deltas_keep_state $c
  check_no_drift $c
  out=$("$MKN" down $c)
  contains "$out" "cluster $c down" "down reports"
  assert_clean $c
  ;;
ebpf)
  c=svceb
  lab=$(make_lab $c ebpf)
  out=$("$MKN" up -d "$lab" 2>&1) || fail "up failed: $out"
  contains "$out" "ready in" "up -d reports readiness"
  EBPF_CG=$(jq -r .cgroup "/run/minikube-net/$c/state.json")
  check_ebpf_loaded $c
  check_clusterip $c ebpf
  check_ebpf_wire $c
  check_ebpf_getpeername $c
  check_random $c ebpf 10.96.0.10 "round-robin (random in ebpf)"
  check_affinity $c ebpf
  check_udp $c ebpf
  check_nodeport $c ebpf
  check_ebpf_no_endpoints $c
  check_ebpf_counters $c
  check_ebpf_kill $c
  check_ebpf_scale $c
  check_kill_under_load $c ebpf
  check_ebpf_kill_destroys_sockets $c
  out=$("$MKN" down $c)
  contains "$out" "cluster $c down" "down reports"
  EBPF_CG=""
  assert_clean $c
  check_ebpf_lifecycle $c "$lab"
  check_ebpf_exec_down $c "$lab"
  check_ebpf_sandbox_timeout $c "$lab"
  ;;
*) fail "unknown case $CASE" ;;
esac
echo "PASS [$CASE]"
