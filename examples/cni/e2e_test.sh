#!/usr/bin/env bash
# examples/cni/e2e_test.sh — a lab whose pods a CNI plugin chain wires (`network = "cni"`), with the Debian
# containernetworking-plugins and the broken plugins in examples/cni/broken.
#
#   examples/cni/e2e_test.sh up|sigkill|errors|failures|leak|daemon|held
#
#   up        bridge lab: the chain's addresses (each node's own range), every pod reaches every pod and
#             the source IP is the pod's, a Service over plugin-wired pods, per-node plugin state (not the
#             host's /var/lib/cni), cni check/del/add with --show-exec, kill through the chain, down
#             runs DEL for every attachment and nothing is left
#   sigkill   the owner is SIGKILLed; down still runs DEL from the cached results
#   errors    refused before anything exists: unknown plugin type, bad conflist JSON, unknown ${var}
#   failures  a plugin printing garbage: by default `up` rolls back and fails naming the pods, with
#             --keep-going the rest comes up and the ready line names them; a hanging plugin killed
#             at the timeout, everything rolled back
#   leak      a plugin whose DEL leaves the veth: down reports the leak and exits 1
#   daemon    a node daemon runs in its node's namespaces and filesystem view before the pods, and stops
#             at down
#   held      a plugin whose every ADD leaves a daemon holding its stdout: up does not wait for the held
#             pipe; down names each namespace kept alive and its processes (not the underlay), does not
#             wait out its deadline, leaves them running and exits 1 (detached owner, and after SIGKILL)
source "$(dirname "$0")/../testlib.sh" "$@"

case $CASE in
up)
  out=$("$MKN" up -d examples/cni/bridge.toml 2>&1) || fail "up: $out"
  c=cni-bridge
  pods=$("$MKN" get pods -o json)
  ip_of() { jq -r --arg p "$1" '.. | objects | select(.name? == $p and has("netns")) | .ip' <<<"$pods"; }
  # host-local hands out each node's own range (the conflist says ${node.pod_cidr}).
  [[ $(ip_of web-1) == 10.244.0.* && $(ip_of web-3) == 10.244.1.* ]] ||
    fail "addresses not from each node's range: web-1 $(ip_of web-1), web-3 $(ip_of web-3)"
  # The address the pod has is the one the result reported (rule 3).
  have=$(ip -n mkn-$c-web-1 -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
  [[ $have == "$(ip_of web-1)" ]] || fail "web-1 has $have, get pods says $(ip_of web-1)"
  pass "pods got their addresses from the chain, each node its own range"
  # Rule 1 across nodes, and the source address preserved (http-echo prints the client it saw).
  for p in web-1 web-2 web-3 web-4 dns-1; do
    ip netns exec mkn-$c-web-1 ping -c1 -W2 "$(ip_of $p)" >/dev/null || fail "web-1 cannot ping $p"
  done
  body=$(ip netns exec mkn-$c-web-1 curl -s -m3 "http://$(ip_of web-3):8080/")
  contains "$body" "client: $(ip_of web-1):" "web-3 must see web-1's own address"
  # Rule 2: the node reaches its pods.
  ip netns exec mkn-$c-node2 ping -c1 -W2 "$(ip_of web-3)" >/dev/null || fail "node2 cannot reach web-3"
  pass "pod to pod across nodes without NAT, node to pod"
  body=$(ip netns exec mkn-$c-web-1 curl -s -m3 http://10.96.0.10/)
  contains "$body" "pod: web-" "the web Service over plugin-wired pods"
  pass "a ClusterIP Service reaches plugin-wired pods"
  # Plugin state is per node: host-local's allocations in the node's own /var/lib/cni.
  st=/run/minikube-net/$c/nodes
  [[ -e $st/node1/fs/var/lib/upper/cni/networks/kubenet/$(ip_of web-1) ]] || fail "node1's allocation file of web-1 missing: $(ls -R $st/node1/fs/var/lib/upper)"
  [[ ! -e $st/node2/fs/var/lib/upper/cni/networks/kubenet/$(ip_of web-1) ]] || fail "node2 sees node1's allocation"
  [[ ! -e /var/lib/cni/networks/kubenet ]] || fail "the host's /var/lib/cni was written"
  ls $st/node1/results | grep -q "^kubenet-mkn-$c-web-1-eth0$" || fail "no cached result for web-1: $(ls $st/node1/results)"
  pass "plugin state per node (not the host's), results cached as libcni does"
  # cni render without a lab file renders the running cluster's, as the lab file itself renders.
  out=$("$MKN" cni render --node node2) || fail "cni render --node node2 (the running lab): $out"
  [[ "$out" == "$("$MKN" cni render examples/cni/bridge.toml --node node2)" ]] ||
    fail "cni render of the running lab differs from rendering its file: $out"
  contains "$out" '10.244.1.0/24' "node2's range filled in"
  pass "cni render --node node2 renders the running cluster's lab"
  # The developer's loop: CHECK passes, fails once the pod is tampered with; DEL and ADD again.
  "$MKN" cni check web-2 >/dev/null || fail "cni check web-2"
  ip -n mkn-$c-web-2 addr flush dev eth0
  if out=$("$MKN" cni check web-2 2>&1); then fail "CHECK passed after the address was removed"; fi
  contains "$out" 'plugin "bridge" failed' "CHECK's error names the plugin"
  out=$("$MKN" cni del web-2 --show-exec) || fail "cni del: $out"
  contains "$out" "CNI_COMMAND=DEL" "--show-exec shows the env"
  contains "$out" '"prevResult"' "DEL gets the cached result"
  out=$("$MKN" cni add web-2) || fail "cni add: $out"
  contains "$out" '"cniVersion": "1.0.0"' "ADD prints the result"
  pass "cni check fails after tampering, del and add again"
  # kill: DEL of the old pod, ADD of the new; the Service follows.
  out=$("$MKN" kill web-1) || fail "kill: $out"
  new=$("$MKN" get pods -o json | jq -r '.. | objects | select(.name? == "web-1" and has("netns")) | .ip')
  [[ -n $new && $new != "$(ip_of web-1)" ]] || fail "web-1 kept its address $new"
  [[ ! -e $st/node1/fs/var/lib/upper/cni/networks/kubenet/$(ip_of web-1) ]] || fail "the old address of web-1 is still allocated"
  ip netns exec mkn-$c-web-3 ping -c1 -W2 "$new" >/dev/null || fail "the new web-1 is unreachable"
  pass "kill: DEL released the old address, ADD gave $new"
  out=$("$MKN" down 2>&1) || fail "down: $out"
  contains "$out" "DEL removed 5 attachments" "down runs DEL for every pod"
  ! grep -q "plugin leak" <<<"$out" || fail "bridge reported as leaking: $out"
  assert_clean $c
  ;;

sigkill)
  "$MKN" up -d examples/cni/ptp.toml >/dev/null 2>&1 || fail "up"
  c=cni-ptp
  owner=$(jq -r '.pid' /run/minikube-net/$c/state.json)
  kill -9 "$owner"
  wait_for 5 gone "$owner" || fail "owner $owner did not die"
  out=$("$MKN" down 2>&1) || fail "down: $out"
  contains "$out" "DEL removed 5 attachments" "down after SIGKILL runs DEL from the cached results"
  ! grep -q "plugin leak" <<<"$out" || fail "ptp reported as leaking: $out"
  assert_clean $c
  ;;

errors)
  sed 's/"type": "bridge"/"type": "brigde"/' examples/cni/bridge.conflist >"$TMP/typo.conflist"
  sed "s|conflist = \"bridge.conflist\"|conflist = \"$TMP/typo.conflist\"|" examples/cni/bridge.toml >"$TMP/typo.toml"
  if out=$("$MKN" up "$TMP/typo.toml" 2>&1); then fail "up with an unknown plugin type succeeded"; fi
  contains "$out" 'plugin "brigde" not found in /usr/lib/cni' "the missing plugin is named"
  contains "$out" "$TMP/typo.conflist: plugins[0]" "and where it is written"
  printf '{ "cniVersion": "1.0.0", "name": "x", "plugins": [ { "type": "bridge", } ] }\n' >"$TMP/bad.conflist"
  sed "s|conflist = \"bridge.conflist\"|conflist = \"$TMP/bad.conflist\"|" examples/cni/bridge.toml >"$TMP/bad.toml"
  if out=$("$MKN" validate "$TMP/bad.toml" 2>&1); then fail "validate accepted bad JSON"; fi
  contains "$out" "$TMP/bad.conflist:1:" "a JSON error at file:line:col"
  sed 's/${node.pod_cidr}/${node.cidr}/' examples/cni/bridge.conflist >"$TMP/var.conflist"
  sed "s|conflist = \"bridge.conflist\"|conflist = \"$TMP/var.conflist\"|" examples/cni/bridge.toml >"$TMP/var.toml"
  if out=$("$MKN" up "$TMP/var.toml" 2>&1); then fail "up with an unknown variable succeeded"; fi
  contains "$out" '${node.cidr}' "the unknown variable is named"
  [[ -z $(ls /run/netns) ]] || fail "namespaces were created: $(ls /run/netns)"
  pass "bad conflists refused before anything exists"
  ;;

failures)
  # Every ADD fails: `up` does not claim a ready lab. It rolls back and exits 1, naming the pods.
  rc=0; out=$("$MKN" up -d examples/cni/broken/bad-json.toml 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "up with every ADD failing: exit $rc, want 1: $out"
  contains "$out" "CNI ADD failed for 4 of 4 pods (everything rolled back; up --keep-going brings up the rest)" "says what failed and the way on"
  for p in web-1 web-2 web-3 web-4; do contains "$out" "pod $p (node " "names $p"; done
  contains "$out" 'plugin "bad-json" (ADD) printed no valid result' "garbage names the plugin"
  contains "$out" "nothing was left behind" "and that it rolled back"
  ! grep -q "ready in" <<<"$out" || fail "a failed up printed a ready line: $out"
  assert_clean broken-bad-json
  # --keep-going: the rest comes up (here: nothing but the nodes), the ready line names the pods.
  out=$("$MKN" up -d --keep-going examples/cni/broken/bad-json.toml 2>&1) || fail "up --keep-going failed: $out"
  contains "$out" "4 pods; CNI ADD failed for 4 of them: web-1, web-2, web-3, web-4 (see minikube-net get pods)" "the ready line names the failed pods"
  pods=$("$MKN" get pods 2>&1)
  contains "$pods" "CNI ADD failed" "get pods shows the failed pods"
  "$MKN" down >/dev/null 2>&1
  assert_clean broken-bad-json
  t0=$SECONDS
  if out=$("$MKN" up --strict examples/cni/broken/hang.toml 2>&1); then fail "up with a hanging plugin succeeded"; fi
  contains "$out" 'plugin "hang" (ADD) did not finish within' "the hang is reported"
  contains "$out" "everything rolled back" "and everything rolled back (--strict: the default, still accepted)"
  ((SECONDS - t0 < 30)) || fail "the hang took $((SECONDS - t0)) s to be cut"
  [[ -z $(pgrep -f examples/cni/broken/hang || true) ]] || fail "the hanging plugin still runs"
  assert_clean broken-hang
  ;;

leak)
  # down exits 1 when the plugins left state behind, with the leaks listed: from a detached owner's
  # hand-off, and from its own DELs after the owner was SIGKILLed.
  "$MKN" up -d examples/cni/broken/leak-on-del.toml >/dev/null 2>&1 || fail "up"
  if out=$("$MKN" down 2>&1); then fail "down exited 0 although the plugin leaked: $out"; fi
  contains "$out" "cni: plugin leak: node1: link veth" "the veth DEL left is reported as the plugin's leak"
  contains "$out" "down broken-leak-on-del: the CNI plugins left" "down says why it fails"
  assert_clean broken-leak-on-del
  "$MKN" up -d examples/cni/broken/leak-on-del.toml >/dev/null 2>&1 || fail "up (2)"
  owner=$(jq -r '.pid' /run/minikube-net/broken-leak-on-del/state.json)
  kill -9 "$owner"
  wait_for 5 gone "$owner" || fail "owner $owner did not die"
  set +e
  out=$("$MKN" down broken-leak-on-del 2>&1)
  rc=$?
  set -e
  [[ $rc == 1 ]] || fail "down after SIGKILL with leaks: exit $rc, expected 1: $out"
  contains "$out" "cni: plugin leak: node1: link veth" "down after SIGKILL lists the leak"
  assert_clean broken-leak-on-del
  pass "down exits 1 with the plugin's leaks listed (detached owner and after SIGKILL)"
  ;;

daemon)
  # A flannel-like agent: writes its node's subnet where the node's plugins would read it.
  agent='["/bin/sh", "-c", "mkdir -p /run/flannel && echo FLANNEL_SUBNET=$POD_CIDR > /run/flannel/subnet.env && exec sleep 600"]'
  cat >"$TMP/daemon.toml" <<EOF
[cluster]
name = "cni-daemon"
network = "cni"
[cni]
conflist = "$ROOT/examples/cni/bridge.conflist"
[[node]]
name = "node1"
daemon = $agent
[[node]]
name = "node2"
daemon = $agent
[[pod]]
name = "web-1"
[[pod.container]]
app = "http-echo"
EOF
  out=$("$MKN" up -d "$TMP/daemon.toml" 2>&1) || fail "up: $out"
  c=cni-daemon
  for n in node1 node2; do
    f=/run/minikube-net/$c/nodes/$n/fs/run/upper/flannel/subnet.env
    wait_for 5 test -s "$f" || fail "$n's daemon wrote no $f"
  done
  contains "$(cat /run/minikube-net/$c/nodes/node2/fs/run/upper/flannel/subnet.env)" "FLANNEL_SUBNET=10.244.1.0/24" "node2's daemon saw node2's range"
  [[ ! -e /run/flannel ]] || fail "the daemon wrote the host's /run"
  # The agent is the one process in node1's netns.
  n1=$(ip netns exec mkn-$c-node1 readlink /proc/self/ns/net)
  pid=""
  for p in /proc/[0-9]*; do
    [[ "$(readlink "$p/ns/net" 2>/dev/null)" == "$n1" && "$(cat "$p/comm" 2>/dev/null)" == sleep ]] && pid=${p#/proc/}
  done
  [[ -n $pid ]] || fail "no daemon process in node1's netns"
  pass "node daemons run in their node's namespaces and filesystem view"
  "$MKN" down >/dev/null 2>&1 || fail "down"
  wait_for 5 gone "$pid" || fail "daemon $pid still runs after down"
  assert_clean $c
  ;;

held)
  # leave-daemon: every ADD starts `setsid sleep 300` in the node's netns, holding the plugin's stdout.
  c=broken-leave-daemon
  t0=$SECONDS
  out=$("$MKN" up -d examples/cni/broken/leave-daemon.toml 2>&1) || fail "up: $out"
  # The plugin's exit ends each call (not the 5 s [cni] timeout the held pipe used to cost).
  ((SECONDS - t0 < 8)) || fail "up took $((SECONDS - t0)) s: the calls waited for the held stdout"
  contains "$out" "4 pods" "every pod came up"
  ! grep -q "CNI ADD failed" <<<"$out" || fail "an ADD failed: $out"
  for round in owner sigkill; do
    if [[ $round == sigkill ]]; then
      "$MKN" up -d examples/cni/broken/leave-daemon.toml >/dev/null 2>&1 || fail "up (2)"
      owner=$(jq -r '.pid' /run/minikube-net/$c/state.json)
      kill -9 "$owner"
      wait_for 5 gone "$owner" || fail "owner $owner did not die"
    fi
    t0=$SECONDS
    set +e
    out=$("$MKN" down $c 2>&1)
    rc=$?
    set -e
    [[ $rc == 1 ]] || fail "down ($round) with daemons left in the nodes: exit $rc, expected 1: $out"
    ((SECONDS - t0 < 8)) || fail "down ($round) took $((SECONDS - t0)) s: it waited for held namespaces"
    for n in node1 node2; do
      grep -qE "cni: plugin leak: namespace mkn-$c-$n still has pid [0-9]+ \(sleep\), pid [0-9]+ \(sleep\) running inside after every DEL.*left running: kill [0-9]+ [0-9]+ stops them" <<<"$out" ||
        fail "down ($round) does not name $n's two daemons: $out"
    done
    ! grep -qE "underlay|had not freed" <<<"$out" || fail "down ($round) blames another namespace: $out"
    contains "$out" "down $c: the CNI plugins left 2 things behind" "down ($round) says why it fails"
    # Left running, as said; the pids are what down printed.
    pids=$(grep -oE "left running: kill [0-9 ]+" <<<"$out" | grep -oE "[0-9]+" | xargs)
    [[ $(wc -w <<<"$pids") == 4 ]] || fail "expected 4 pids to kill, got '$pids': $out"
    for p in $pids; do
      [[ $(cat /proc/$p/comm 2>/dev/null) == sleep ]] || fail "pid $p named by down is not a running sleep"
      kill "$p"
    done
    for p in $pids; do wait_for 5 gone "$p" || fail "pid $p did not stop"; done
    assert_clean $c
  done
  pass "down names the namespaces the plugin's daemons keep alive and their pids, exit 1, quickly"
  ;;

*) fail "unknown case $CASE" ;;
esac
