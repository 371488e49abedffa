#!/usr/bin/env bash
# End-to-end tests of namespaces and NetworkPolicy (ctest label e2e): examples/netpol/lab.toml with each
# case of examples/netpol/cases/ appended, brought up with `up -d --check`: the case's [[expect]] rows
# (its truth table, from the Kubernetes netpol suite) must all hold, probed for real by `check`.
#
#   examples/netpol/e2e_test.sh CASE      CASE: vxlan_nftables hostgw_userspace
#
# vxlan_nftables runs every case (the network over VXLAN, Services by nftables), and on one case the
# things a student looks at: `get pods -A`, `get netpol` counting the denied probes, the table in a
# node, and a kill updating the peer sets. hostgw_userspace runs the cases that differ most between
# the paths (same node bridged vs routed without encapsulation; the proxy that has no nftables table).
# Runs itself inside ci/sandbox.sh; without root it exits 77, except under CI=true where that fails.
source "$(dirname "$0")/../testlib.sh" "$@"

# run_case NETWORK PROXY NAME: the lab with case NAME, up -d --check, PASS, then down and clean.
run_case() {
  local network=$1 proxy=$2 name=$3 lab=$TMP/$3.toml out
  sed -e "s/^network = \"vxlan\".*/network = \"$network\"/" \
      -e "s/^proxy_mode = \"nftables\".*/proxy_mode = \"$proxy\"/" examples/netpol/lab.toml >"$lab"
  grep -q "^network = \"$network\"" "$lab" && grep -q "^proxy_mode = \"$proxy\"" "$lab" ||
    fail "could not derive the $network/$proxy lab from examples/netpol/lab.toml"
  cat "examples/netpol/cases/$name.toml" >>"$lab"
  out=$("$MKN" up -d --check "$lab" 2>&1) || fail "$name ($network/$proxy): up --check: $out"
  contains "$out" "0 mismatches, 0 errors" "$name ($network/$proxy): the truth table"
  pass "$name ($network/$proxy): $(grep -o 'check netpol: [0-9]* cells' <<<"$out") as the Kubernetes suite says"
  [[ ${KEEP_UP:-} == 1 ]] && return 0
  "$MKN" down netpol >/dev/null || fail "$name: down"
  assert_clean netpol
}

# What a student looks at, on the and-vs-or case (left up by run_case).
inspect() {
  local out
  out=$("$MKN" get pods -A)
  grep -Eq "^NAMESPACE +POD" <<<"$out" || fail "get pods -A: a NAMESPACE column: $out"
  contains "$out" "kube-system" "get pods -A: the cluster DNS pod too"
  contains "$out" "mkn-netpol-y-b" "get pods -A: a pod outside default has mkn-<lab>-<ns>-<pod>"
  out=$("$MKN" get pods -n x)
  [[ $(grep -c "mkn-netpol-x-" <<<"$out") == 3 && $(grep -c "mkn-netpol-[yz]-" <<<"$out") == 0 ]] ||
    fail "get pods -n x: only x's three pods: $out"
  pass "get pods -A / -n x show namespaces as kubectl does"
  # check's deny probes were dropped at x/a and x/b: the counters say so, per policy.
  out=$("$MKN" get netpol)
  awk '$2=="and" && $5=="a" && $6>0 {ok=1} END {exit !ok}' <<<"$out" || fail "get netpol: x/and drops: $out"
  awk '$2=="or" && $5=="b" && $6>0 {ok=1} END {exit !ok}' <<<"$out" || fail "get netpol: x/or drops: $out"
  pass "get netpol: each policy's pods and the probes it dropped"
  out=$(ip netns exec mkn-netpol-node2 nft list table inet mkn-netpol)
  contains "$out" "chain ingress/x/b" "the node's table: x/b's chain"
  contains "$out" "ip saddr @x/or/in1/peer2 accept" "the node's table: the OR's second peer"
  # The OR's second peer is every pod of z: a killed z/a comes back with a new address, which
  # replaces the old one in the set.
  local za za2
  za=$("$MKN" get pods -n z | awk '$1=="a" {print $3}')
  grep -qw "$za" <<<"$out" || fail "z/a ($za) in x/or's peer set before the kill: $out"
  "$MKN" kill z/a >/dev/null || fail "kill z/a"
  za2=$("$MKN" get pods -n z | awk '$1=="a" {print $3}')
  [[ -n $za2 && $za2 != "$za" ]] || fail "z/a has a new address after the kill ($za -> $za2)"
  out=$(ip netns exec mkn-netpol-node2 nft list set inet mkn-netpol x/or/in1/peer2)
  ! grep -qw "$za" <<<"$out" || fail "z/a's old address $za still in x/or's peer set: $out"
  grep -qw "$za2" <<<"$out" || fail "z/a's new address $za2 not in x/or's peer set: $out"
  "$MKN" check >/dev/null || fail "check after the kill: $("$MKN" check 2>&1)"
  pass "kill z/a: its new address replaced the old one in the peer sets; the truth table holds"
  "$MKN" down netpol >/dev/null || fail "down"
  assert_clean netpol
}

case "$CASE" in
vxlan_nftables)
  for c in deny-ingress deny-all pod-selector namespace-selector ports-union egress-ipblock named-egress; do
    run_case vxlan nftables "$c"
  done
  KEEP_UP=1 run_case vxlan nftables and-vs-or
  inspect
  ;;
hostgw_userspace)
  for c in deny-all and-vs-or egress-ipblock; do run_case host-gw userspace "$c"; done
  ;;
*) fail "unknown case $CASE" ;;
esac
