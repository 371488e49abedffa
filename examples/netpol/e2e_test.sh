#!/usr/bin/env bash
# End-to-end tests of namespaces and NetworkPolicy (ctest label e2e): examples/netpol/lab.toml with each
# case of examples/netpol/cases/ appended, brought up with `up -d --check`: the case's [[expect]] rows
# (its truth table, from the Kubernetes netpol suite) must all hold, probed for real by `check`.
#
#   examples/netpol/e2e_test.sh CASE      CASE: vxlan_nftables hostgw_userspace live modes
#
# vxlan_nftables runs every case (the network over VXLAN, Services by nftables), and on one case the
# things a student looks at: `get pods -A`, `get netpol` counting the denied probes, the table in a
# node, and a kill updating the peer sets. hostgw_userspace runs the cases that differ most between
# the paths (same node bridged vs routed without encapsulation; the proxy that has no nftables table),
# and a Service in front of x/a: the userspace proxy judges each new flow after translation (same node
# and across, `get netpol`'s count, trace naming the policy, the probes passing after `delete netpol`).
# live changes the policies of a running cluster while traffic flows: `apply` a deny, the very next
# probe is dropped; `delete netpol`, the next one passes; an established connection survives the deny;
# a bad file changes nothing; a policy changed in place (its port) drops the next probe. modes runs
# pod-selector, with a Service in front of x/a, over geneve (the TAP pump's frames still cross the
# forward hook), bgp (routed, no overlay) and the ebpf proxy (connect4 hands the pod a socket already
# connected to the backend: the policy applies to x/a, not the ClusterIP).
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
  [[ -z ${EXTRA:-} ]] || printf '%s\n' "$EXTRA" >>"$lab"
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

# probe FROM IP: a TCP line to IP:80 from pod FROM's netns echoed back within 1 s.
probe() {
  ip netns exec "mkn-netpol-$1" timeout 1 bash -c \
    "exec 3<>/dev/tcp/$2/80 && echo hi >&3 && read -r -t 1 l <&3 && [[ \$l == hi ]]" 2>/dev/null
}

# The lab with one policy of its own (allow all to z: every node has its table, so its conntrack
# tracks every flow from the start, as a Kubernetes node's does), policies changed while it runs.
live() {
  local lab=$TMP/live.toml out xa tables loop
  cp examples/netpol/lab.toml "$lab"
  printf '[[network_policy]]\nname = "allow-all"\nnamespace = "z"\n  [[network_policy.ingress]]\n' >>"$lab"
  out=$("$MKN" up -d "$lab" 2>&1) || fail "live: up: $out"
  xa=$("$MKN" get pods -n x | awk '$1=="a" {print $3}')
  probe x-c "$xa" || fail "live: x/c reaches x/a before any policy"
  # An established connection from y/a, opened before the deny: it goes on (conntrack), as in
  # Calico, Cilium and kube-router.
  ip netns exec mkn-netpol-y-a bash -c "exec 3<>/dev/tcp/$xa/80 || exit 1; echo one >&3
    read -r -t 2 l <&3; echo \"\$l\" >$TMP/est1
    for ((i = 0; i < 400; i++)); do [[ -e $TMP/go ]] && break; sleep 0.05; done
    echo two >&3; read -r -t 2 l <&3; echo \"\$l\" >$TMP/est2" &
  local est=$!
  wait_for 5 test -s "$TMP/est1" || fail "live: the long connection did not start"
  # Traffic flowing: x/b (the other node) probes x/a every 20 ms, at most 300 times, each result
  # with its time.
  ( for ((i = 0; i < 300; i++)); do
      [[ -e $TMP/stop ]] && break
      if probe x-b "$xa"; then echo "$(date +%s%N) ok"; else echo "$(date +%s%N) fail"; fi
      sleep 0.02
    done >"$TMP/loop" ) &
  loop=$!
  wait_for 5 grep -q ok "$TMP/loop" || fail "live: no traffic flows before the deny: $(cat "$TMP/loop")"
  # A bad file: file:line:col, exit 2, and no node's table changed.
  tables=$(ip netns exec mkn-netpol-node1 nft list ruleset)
  printf '[[network_policy]]\nname = "bad"\nnamespace = "x"\npolicy_types = ["Sideways"]\n' >"$TMP/bad.toml"
  out=$("$MKN" apply "$TMP/bad.toml" 2>&1) && fail "live: a bad file applied: $out"
  contains "$out" "bad.toml:4:16: network_policy \"bad\": policy_types" "live: the error's position"
  [[ $(ip netns exec mkn-netpol-node1 nft list ruleset) == "$tables" ]] || fail "live: a bad file changed node1"
  # Under the 48 KiB file limit, over the control socket's 64 KiB once JSON-escaped (a quote is 2).
  { printf '#%.0s' 1; head -c 40000 /dev/zero | tr '\0' '"'; echo; cat examples/netpol/cases/deny-ingress.toml; } >"$TMP/quotes.toml"
  rc=0
  out=$("$MKN" apply "$TMP/quotes.toml" 2>&1) || rc=$?
  ((rc == 2)) || fail "live: a file escaped past 64 KiB: exit 2 expected: $out"
  contains "$out" "once escaped for the control socket" "live: a file escaped past 64 KiB"
  out=$("$MKN" apply --dry-run examples/netpol/cases/deny-ingress.toml 2>&1) || fail "live: dry run: $out"
  contains "$out" "network_policy x/deny-ingress created (dry run)" "live: dry run"
  [[ $(ip netns exec mkn-netpol-node1 nft list ruleset) == "$tables" ]] || fail "live: a dry run changed node1"
  pass "live: a bad file is refused at its line and column, a dry run says what would change; nothing changes"
  # The deny: the next probe after apply returns is dropped, on the same node (bridged) and across.
  local t_apply
  t_apply=$(date +%s%N)
  out=$("$MKN" apply -o json examples/netpol/cases/deny-ingress.toml 2>/dev/null) || fail "live: apply: $out"
  ! probe x-c "$xa" || fail "live: x/c still reaches x/a after apply returned"
  ! probe y-b "$xa" || fail "live: y/b still reaches x/a after apply returned"
  contains "$out" '"result":"created"' "live: apply's answer"
  local us
  us=$(grep -o '"ok":true,"us":[0-9]*' <<<"$out" | grep -o '[0-9]*$') || fail "live: apply's answer has no time: $out"
  pass "live: apply deny-ingress: the next probes are dropped (in force on every node after $((us / 1000)) ms)"
  # trace names the policy that dropped its probe (exit 1, lost).
  local rc=0
  out=$("$MKN" trace y/b x/a:80 --proto tcp --timeout 1 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "live: trace y/b -> x/a under the deny: exit $rc, want 1: $out"
  contains "$out" "dropped by NetworkPolicy x/deny-ingress (ingress of x/a)" "live: trace names the policy"
  # The lost line is the policy's, not the last hop's route (the new-user pass read "lost: ... route").
  grep -q "^lost: dropped by NetworkPolicy x/deny-ingress (ingress of x/a): not seen at " <<<"$out" ||
    fail "live: trace's lost line does not start with the policy: $out"
  grep "MISSING" <<<"$out" | grep -q "dropped by NetworkPolicy x/deny-ingress" ||
    fail "live: trace's MISSING hop does not name the policy: $out"
  pass "live: trace y/b x/a:80 says: dropped by NetworkPolicy x/deny-ingress (ingress of x/a)"
  "$MKN" get netpol | grep -q "^x  *deny-ingress" || fail "live: get netpol does not show the applied policy: $("$MKN" get netpol)"
  touch "$TMP/go"; wait "$est"
  [[ $(cat "$TMP/est2") == two ]] || fail "live: the connection established before the deny was cut"
  pass "live: a connection established before the deny goes on; get netpol shows the applied policy"
  local t_delete
  t_delete=$(date +%s%N)
  out=$("$MKN" delete netpol deny-ingress -n x 2>&1) || fail "live: delete: $out"
  contains "$out" "network_policy x/deny-ingress deleted" "live: delete's answer"
  probe x-c "$xa" || fail "live: x/c does not reach x/a after the delete"
  probe y-b "$xa" || fail "live: y/b does not reach x/a after the delete"
  out=$("$MKN" delete netpol deny-ingress -n x 2>&1) && fail "live: a second delete: $out"
  contains "$out" "no network_policy \"x/deny-ingress\"" "live: deleting what is not there"
  pass "live: delete netpol: the next probes pass again; a second delete says there is no such policy"
  # The flow's record: ok before the apply, failures after it, ok again after the delete.
  wait_for 10 bash -c "awk -v t=$t_delete '\$1 > t && \$2 == \"ok\"' $TMP/loop | grep -q ok" ||
    fail "live: the flow did not pass again after the delete: $(cat "$TMP/loop")"
  touch "$TMP/stop"; wait "$loop"
  awk -v a="$t_apply" -v d="$t_delete" '$1 < a && $2=="ok" {b=1} $1 > a && $1 < d && $2=="fail" {m=1}
    END {exit !(b && m)}' "$TMP/loop" || fail "live: the flow was not cut between apply and delete: $(cat "$TMP/loop")"
  pass "live: the flowing traffic passed, was dropped from the apply, and passed again from the delete"
  # A changed policy: its own chain is rewritten in each node (not x/a's), the next probe follows it.
  out=$("$MKN" apply examples/netpol/cases/pod-selector.toml 2>/dev/null) || fail "live: apply pod-selector: $out"
  probe x-b "$xa" || fail "live: x/b does not reach x/a under allow-from-b"
  ! probe x-c "$xa" || fail "live: x/c reaches x/a under allow-from-b"
  { sed -n '/^\[\[expect/q;p' examples/netpol/cases/pod-selector.toml; echo '  ports = [{ port = 81 }]'; } >"$TMP/p81.toml"
  out=$("$MKN" apply "$TMP/p81.toml" 2>&1) || fail "live: apply the changed policy: $out"
  contains "$out" "network_policy x/allow-from-b configured" "live: the changed policy's result"
  contains "$out" "(node1: 2 commands)" "live: a changed policy rewrites its own chain only"
  ! probe x-b "$xa" || fail "live: x/b still reaches x/a:80 after apply moved the policy to port 81"
  pass "live: a changed policy (port 80 -> 81) is its chain rewritten (2 commands); the next probe is dropped"
  # A change one node's kernel refuses (its table removed by hand): exit 1 (the cluster failed, not
  # the file), the node that took it put back, the policy still listed, its deny still in force.
  out=$("$MKN" apply examples/netpol/cases/deny-ingress.toml 2>&1) || fail "live: apply deny-ingress again: $out"
  ip netns exec mkn-netpol-node2 nft delete table inet mkn-netpol
  tables=$(ip netns exec mkn-netpol-node1 nft list ruleset | grep -v 'counter packets')
  rc=0; out=$("$MKN" delete netpol deny-ingress -n x 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "live: a delete node2 refuses exits $rc, want 1: $out"
  contains "$out" "node node2: write the NetworkPolicy table" "live: the refusing node named"
  contains "$out" "no node changed (undone on node1)" "live: node1's change undone and said so"
  [[ $(ip netns exec mkn-netpol-node1 nft list ruleset | grep -v 'counter packets') == "$tables" ]] ||
    fail "live: node1 does not hold what it had before the refused change"
  "$MKN" get netpol | grep -q "^x  *deny-ingress" || fail "live: the refused delete took deny-ingress out of get netpol"
  ! probe x-c "$xa" || fail "live: x/c reaches x/a after the refused delete of deny-ingress"
  pass "live: a change node2's kernel refuses: exit 1, node1 undone, deny-ingress still listed and in force"
  "$MKN" down netpol >/dev/null || fail "live: down"
  assert_clean netpol
}

# A Service in x selecting x/a, and its truth table: x/b reaches it (the policy allows x/b), y/b does
# not, whichever proxy translated the ClusterIP.
SVC_WEB='[[service]]
name = "web"
namespace = "x"
selector = { pod = "a" }
  [[service.port]]
  port = 80
  target_port = 80
[[expect]]
from = "x/b"
to = "svc/x/web:80"
result = "allow"
[[expect]]
from = "y/b"
to = "svc/x/web:80"
result = "deny"'

# The userspace proxy hands x/a every Service flow from a proxy address, never from the client: it
# judges each new flow itself after translation (lib/netpol/flow_policy). Probed on the node of x/a
# (y/a and x/c, whose flows the kernel's chains on node1 would see from node1's own proxy address)
# and across (x/b allowed, from node2's proxy address; y/b denied); `get netpol` counts the proxy's
# drops, trace names the policy, and after `delete netpol` the same probes pass.
svc_userspace() {
  local out vip rc=0 drops
  EXTRA="$SVC_WEB"'
[[expect]]
from = "y/a"
to = "svc/x/web:80"
result = "deny"
[[expect]]
from = "x/c"
to = "svc/x/web:80"
result = "deny"' KEEP_UP=1 run_case host-gw userspace pod-selector
  vip=$("$MKN" get svc -o json | jq -r '.[] | select(.name=="x/web") | .cluster_ip')
  [[ $vip =~ ^[0-9.]+$ ]] || fail "svc userspace: the ClusterIP of x/web: $vip"
  ! probe y-a "$vip" || fail "svc userspace: y/a reaches x/a through $vip (same node) under allow-from-b"
  probe x-b "$vip" || fail "svc userspace: x/b does not reach x/a through $vip (across nodes)"
  drops=$("$MKN" get netpol | awk '$2=="allow-from-b" {print $6}')
  ((drops > 0)) || fail "svc userspace: get netpol counts no drop for allow-from-b: $("$MKN" get netpol)"
  out=$("$MKN" get proxy -o json)
  [[ $(jq '[.nodes[].nat.drops.network_policy // 0] | add' <<<"$out") -gt 0 ]] ||
    fail "svc userspace: the proxy counted no network_policy drop: $out"
  pass "svc userspace: y/a -> svc/x/web dropped by the proxy after translation, x/b passes; get netpol counts $drops drops"
  out=$("$MKN" trace y/a svc/x/web:80 --proto tcp --timeout 1 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "svc userspace: trace y/a svc/x/web under the policy: exit $rc, want 1: $out"
  contains "$out" "dropped by NetworkPolicy x/allow-from-b (ingress of x/a)" "svc userspace: trace names the policy"
  pass "svc userspace: trace y/a svc/x/web:80 says: dropped by NetworkPolicy x/allow-from-b (ingress of x/a)"
  out=$("$MKN" delete netpol allow-from-b -n x 2>&1) || fail "svc userspace: delete: $out"
  probe y-a "$vip" || fail "svc userspace: y/a does not reach x/a through $vip after the delete"
  probe x-c "$vip" || fail "svc userspace: x/c does not reach x/a through $vip after the delete"
  pass "svc userspace: delete netpol allow-from-b: y/a and x/c reach x/a through the ClusterIP again"
  "$MKN" down netpol >/dev/null || fail "svc userspace: down"
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
  svc_userspace
  ;;
live) live ;;
modes)
  EXTRA=$SVC_WEB
  EXTRA=$EXTRA run_case geneve nftables pod-selector
  EXTRA=$EXTRA run_case bgp nftables pod-selector
  EXTRA=$EXTRA run_case vxlan ebpf pod-selector
  ;;
*) fail "unknown case $CASE" ;;
esac
