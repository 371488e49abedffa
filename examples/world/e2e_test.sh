#!/usr/bin/env bash
# End-to-end tests of the world outside the cluster ([cluster] world, ctest label e2e): a pod reaches
# the world's http-echo, tcp-echo, udp-echo and DNS through its node, masqueraded to the node's own
# address (the echo shows it; a capture in the node shows the rewrite), in every network and proxy
# mode; an egress ip_block applies to world addresses; world = false has none of it; nothing is left
# after down. The cluster resolver (kube-dns) forwards example.test to the world's DNS (REFUSED
# without a world).
#
#   examples/world/e2e_test.sh CASE      CASE: vxlan networks netpol off
#
# Runs itself inside ci/sandbox.sh; without root it exits 77, except under CI=true where that fails.
source "$(dirname "$0")/../testlib.sh" "$@"

LAB=examples/world/lab.toml

# lab NETWORK PROXY [EXTRA_FILE]: examples/world/lab.toml in another network and proxy mode.
lab() {
  local out=$TMP/lab-$1-$2.toml
  sed -e "s/^network = \"vxlan\"/network = \"$1\"/" -e "s/^proxy_mode = \"userspace\"/proxy_mode = \"$2\"/" \
    "$LAB" >"$out"
  [[ -n ${3:-} ]] && cat "$3" >>"$out"
  echo "$out"
}

# node_ip NODE: its underlay address (what the world sees).
node_ip() { "$MKN" get nodes -c outside | awk -v n="$1" '$1==n {print $2}'; }

# reach WHAT: the client reaches the world's http-echo and sees its node's address, not its own.
reach() {
  local what=$1 body n1 client
  n1=$(node_ip node1); client=$(pod_ip outside client)
  [[ -n $n1 && -n $client ]] || fail "$what: no node1 or client address"
  body=$(in_pod outside client curl -sS --max-time 5 http://203.0.113.2/hello) ||
    fail "$what: client -> http://203.0.113.2/ failed"
  contains "$body" "client: $n1:" "$what: the world sees node1's address (SNAT)"
  ! grep -q "client: $client:" <<<"$body" || fail "$what: the world saw the pod's own address"
  pass "$what: client -> the world's http-echo, seen from node1's $n1 (masqueraded)"
}

echo_checks() {
  local line
  line=$(in_pod outside client bash -c "exec 3<>/dev/tcp/203.0.113.4/7; echo tcp-hello >&3; read -t 5 l <&3; echo \$l")
  [[ $line == tcp-hello ]] || fail "tcp-echo of the world returned '$line'"
  line=$(in_pod outside client bash -c "exec 3<>/dev/udp/203.0.113.4/7; echo udp-hello >&3; timeout 5 dd bs=512 count=1 status=none <&3")
  [[ $line == udp-hello ]] || fail "udp-echo of the world returned '$line'"
  pass "the world's tcp-echo and udp-echo (:7) answer a pod"
}

dns_checks() {
  local out
  out=$(in_pod outside client dig +short +time=2 +tries=1 @203.0.113.2 www.example.test A)
  [[ $out == 203.0.113.3 ]] || fail "dig www.example.test @world: '$out'"
  out=$(in_pod outside client dig +time=2 +tries=1 @203.0.113.2 nope.example.test A)
  contains "$out" "status: NXDOMAIN" "a name of example.test the world does not have"
  out=$(in_pod outside client dig +time=2 +tries=1 @203.0.113.2 example.com A)
  contains "$out" "status: REFUSED" "a name outside example.test"
  out=$(in_pod outside client dig +short +tcp +time=2 +tries=1 @203.0.113.2 example.test A)
  [[ $out == 203.0.113.2 ]] || fail "dig +tcp example.test @world: '$out'"
  pass "the world's DNS: example.test names (UDP and TCP), NXDOMAIN in its zone, REFUSED outside"
}

# kube_dns: the cluster resolver's Service address.
kube_dns() { "$MKN" get svc -A -c outside | awk '$1=="kube-system" && $2=="kube-dns" {print $4}'; }

# The cluster resolver relays example.test to the world: through the pod's resolv.conf (the search
# list tried first, as glibc does with ndots:5) and asked directly, over UDP and TCP.
cluster_dns_checks() {
  local out dns n1
  dns=$(kube_dns); n1=$(node_ip node1)
  [[ -n $dns ]] || fail "no kube-dns address in get svc -A"
  out=$("$MKN" exec -c outside client -- curl -sS --max-time 5 http://example.test/) ||
    fail "exec client -- curl http://example.test/ (through resolv.conf) failed: $out"
  contains "$out" "client: $n1:" "curl http://example.test/ reaches the world, seen from node1"
  out=$(in_pod outside client dig +short +time=3 +tries=1 "@$dns" www.example.test A)
  [[ $out == 203.0.113.3 ]] || fail "dig @$dns www.example.test: '$out'"
  out=$(in_pod outside client dig +short +tcp +time=3 +tries=1 "@$dns" echo.example.test A)
  [[ $out == 203.0.113.4 ]] || fail "dig +tcp @$dns echo.example.test: '$out'"
  out=$(in_pod outside client dig +time=3 +tries=1 "@$dns" nope.example.test A)
  contains "$out" "status: NXDOMAIN" "the world's NXDOMAIN relayed by kube-dns"
  out=$(in_pod outside client dig +time=3 +tries=1 "@$dns" example.com A)
  contains "$out" "status: REFUSED" "a name outside the cluster and the world's zone"
  pass "kube-dns ($dns) forwards example.test to the world (resolv.conf, UDP, TCP, NXDOMAIN); other names REFUSED"
}

case "$CASE" in
vxlan)
  out=$("$MKN" up -d "$LAB" 2>&1) || fail "up: $out"
  reach "vxlan/userspace"
  echo_checks
  dns_checks
  cluster_dns_checks
  # In-cluster traffic is never masqueraded: web sees the client pod's own address.
  body=$(in_pod outside client curl -sS --max-time 5 "http://$(pod_ip outside web):8080/")
  contains "$body" "client: $(pod_ip outside client):" "pod -> pod keeps the pod's address (rule 1)"
  pass "pod -> pod across nodes is not masqueraded"
  # The rewrite, seen in node1: the pod's address on cbr0, node1's own on eth0 (the underlay).
  for dev in cbr0 eth0; do
    ip netns exec mkn-outside-node1 tcpdump -l -n -i $dev -c 1 \
      'dst host 203.0.113.2 and tcp dst port 80 and tcp[tcpflags] & tcp-syn != 0' >"$TMP/$dev" 2>/dev/null &
    eval "cap_$dev=$!"
  done
  for _ in $(seq 20); do  # bounded: until both captures saw a SYN (tcpdump needs a moment to attach)
    in_pod outside client curl -s --max-time 2 http://203.0.113.2/ >/dev/null || true
    [[ -s $TMP/cbr0 && -s $TMP/eth0 ]] && break
  done
  kill "$cap_cbr0" "$cap_eth0" 2>/dev/null || true
  wait "$cap_cbr0" "$cap_eth0" 2>/dev/null || true
  grep -q "$(pod_ip outside client)\.[0-9]* > 203.0.113.2.80" "$TMP/cbr0" ||
    fail "cbr0 of node1 did not carry the pod's SYN to the world: $(cat "$TMP/cbr0")"
  grep -q "$(node_ip node1)\.[0-9]* > 203.0.113.2.80" "$TMP/eth0" ||
    fail "eth0 of node1 did not carry the SYN from node1's own address: $(cat "$TMP/eth0")"
  pass "node1 rewrites the pod's SYN to its own address (tcpdump on cbr0, then on eth0)"
  out=$(ip netns exec mkn-outside-node1 nft list table ip mkn-egress)
  contains "$out" "masquerade" "node1's egress table"
  out=$("$MKN" get world)
  contains "$out" "www.example.test" "get world lists the world's names"
  contains "$out" "203.0.113.3" "get world lists the world's addresses"
  pass "get world"
  "$MKN" down outside >/dev/null || fail "down"
  assert_clean outside
  ;;
networks)
  # Every other network and proxy mode, a bring-up each: the world reached and masqueraded.
  for nm in "host-gw nftables" "geneve ebpf" "bgp nftables"; do
    set -- $nm
    out=$("$MKN" up -d "$(lab "$1" "$2")" 2>&1) || fail "up $1/$2: $out"
    reach "$1/$2"
    "$MKN" down outside >/dev/null || fail "down $1/$2"
    assert_clean outside
  done
  ;;
netpol)
  out=$("$MKN" up -d "$(lab host-gw nftables examples/world/policy.toml)" 2>&1) || fail "up: $out"
  reach "host-gw/nftables with an egress ip_block"
  body=$(in_pod outside client curl -sS --max-time 5 http://203.0.113.4/) || fail "203.0.113.4 (in the ip_block) not reached"
  ! in_pod outside client curl -s --max-time 2 http://203.0.113.3/ >/dev/null ||
    fail "203.0.113.3 (the ip_block's except) was reached"
  ! in_pod outside client curl -s --max-time 2 "http://$(pod_ip outside web):8080/" >/dev/null ||
    fail "web (outside the ip_block) was reached"
  in_pod outside other curl -sS --max-time 5 http://203.0.113.3/ >/dev/null || fail "other (no policy) -> 203.0.113.3"
  # The policy's second rule: the cluster DNS stays reachable, over UDP and TCP, by name.
  out=$(in_pod outside client dig +time=3 +tries=1 +short "@$(kube_dns)" www.example.test A)
  [[ $out == 203.0.113.3 ]] || fail "egress policy: kube-dns over UDP: '$out'"
  out=$(in_pod outside client dig +tcp +time=3 +tries=1 +short "@$(kube_dns)" echo.example.test A)
  [[ $out == 203.0.113.4 ]] || fail "egress policy: kube-dns over TCP: '$out'"
  # By name as a pod does it: exec gives the pod kubelet's resolv.conf (in_pod keeps the host's).
  "$MKN" exec -c outside client -- curl -sS --max-time 5 http://echo.example.test/ >/dev/null || fail "curl by name under the egress policy"
  pass "egress ip_block: the world except 203.0.113.3 is allowed (by name: kube-dns on 53 allowed), that address and the pods are not"
  "$MKN" down outside >/dev/null || fail "down"
  assert_clean outside
  ;;
off)
  sed -e 's/^world = true.*/world = false/' -e '/^world_cidr/d' "$LAB" >"$TMP/off.toml"
  out=$("$MKN" up -d "$TMP/off.toml" 2>&1) || fail "up: $out"
  [[ ! -e /run/netns/mkn-outside-world ]] || fail "world = false made the world"
  out=$(ip -n mkn-outside-node1 route show default)
  [[ -z $out ]] || fail "world = false: node1 has a default route: $out"
  ! ip netns exec mkn-outside-node1 nft list table ip mkn-egress >/dev/null 2>&1 || fail "world = false: an egress table"
  ! in_pod outside client curl -s --max-time 2 http://203.0.113.2/ >/dev/null || fail "world = false: the world answered"
  out=$("$MKN" get world 2>&1) && fail "get world without a world succeeded: $out"
  out=$(in_pod outside client dig +time=3 +tries=1 "@$(kube_dns)" www.example.test A)
  contains "$out" "status: REFUSED" "world = false: kube-dns refuses example.test"
  pass "world = false: no world, no default route, no masquerade, example.test REFUSED by kube-dns"
  "$MKN" down outside >/dev/null || fail "down"
  assert_clean outside
  ;;
*) fail "unknown case $CASE" ;;
esac
