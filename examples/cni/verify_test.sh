#!/usr/bin/env bash
# examples/cni/verify_test.sh — `minikube-net verify` (the CNI conformance suite) end to end:
#
#   bridge, ptp  the Debian plugins pass every check that applies (exit 0) with the default settings, well
#                within the time CI can give it (<= 15 s here); the JUnit file is well-formed,
#                lists every check with its source and the plugins' versions as <properties>; -o json
#                says the same; nothing of the lab is left
#   broken       each plugin of examples/cni/broken is caught by exactly its check, with a message that
#                says what went wrong, exit 1; the neighbouring checks (--only) still pass
#   broken_defaults  a hanging ADD and a wrong result with the default settings: reported fast
#                (<= 30 s), the checks that need a working ADD skip pointing at spec.add
#   fail_fast    --fail-fast: the first failure stops the run, the rest is "not run", the lab goes down
#   timeout      --timeout: a check cut at the deadline is an ERROR, checks not started are "not run",
#                exit 1, the run ends near the deadline and leaves nothing behind
#   harness      a probe that cannot start (socat hidden) is an ERROR and a JUnit <error>, not a <failure>
#   usage        exit 2 for an --only glob that matches no check, a lab that is not a CNI lab, a bad --timeout
#   model        MTU 1500 over VXLAN fails model.mtu, ipMasq fails model.source-ip; hostPort and bandwidth pass
#   keep         --keep leaves the lab up until `down`
#   sigkill      verify killed mid-churn: `down` removes its test pods with the lab
#   interrupt    Ctrl-C while the lab is coming up: the bring-up stops and rolls back, exit 1
#   churn_full   the long churn: --churn 200, 5 rounds on one node, nothing left
#
#   examples/cni/verify_test.sh CASE       (re-executes itself inside ci/sandbox.sh; needs root)
source "$(dirname "$0")/../testlib.sh" "$@"

for f in examples/cni/bridge.toml examples/cni/ptp.toml examples/cni/broken/README.md; do
  [[ -f $f ]] || fail "$f is missing (the example labs and broken plugins of examples/cni)"
done

# run_verify LAB ARGS...: runs `verify`; sets RC, OUT (stdout), ERR (stderr), SECS.
run_verify() {
  local lab=$1 start=$SECONDS
  shift
  set +e
  "$MKN" verify "$lab" "$@" >"$TMP/out" 2>"$TMP/err"
  RC=$?
  set -e
  SECS=$((SECONDS - start))
  OUT=$(cat "$TMP/out")
  ERR=$(cat "$TMP/err")
}
# The ids whose RESULT column says RESULT (FAIL by default), sorted, space-separated (evidence lines are
# indented).
failed_ids() { awk -v want="${1:-FAIL}" '/^[a-z]/ && NF >= 5 && $(NF-1) == want {print $1}' <<<"$OUT" | sort | xargs; }
rows() { awk '/^[a-z]/ && NF >= 5 && ($(NF-1) ~ /^(PASS|FAIL|SKIP|ERROR)$/)' <<<"$OUT" | wc -l; }
# The evidence lines under check ID's row.
evidence_of() { awk -v id="$1" '/^[a-z]/ {on = ($1 == id); next} on' <<<"$OUT"; }

ALL_IDS="spec.version spec.add spec.add.result spec.add.interface spec.check.pass spec.check.tamper spec.del.clean
spec.del.twice spec.del.netns-gone spec.del.no-add spec.readd spec.add.concurrent spec.status spec.gc spec.errors
model.pod-pod.node model.pod-pod.cross model.source-ip model.node-pod model.own-ip model.mtu model.service
model.hostport model.bandwidth churn"

# kill_left TEXT: stops the processes the lab's `down` reported left running ("left running: kill
# PID ..."), as its user would: down leaves them (it cannot tell a plugin's daemon from a shell).
kill_left() {
  local p
  for p in $(grep -oE "left running: kill [0-9 ]+" <<<"$1" | grep -oE "[0-9]+" || true); do
    kill "$p" 2>/dev/null || true
    wait_for 5 gone "$p" || fail "pid $p did not stop"
  done
}

junit_ok() {
  local f=$1 n=$2
  [[ -s $f ]] || fail "no JUnit file $f"
  if command -v xmllint >/dev/null; then
    xmllint --noout "$f" || fail "JUnit file is not well-formed XML: $(head -c 600 "$f")"
  else
    grep -q '^<?xml' "$f" && grep -q '</testsuites>' "$f" || fail "JUnit file is not a <testsuites> document"
  fi
  [[ $(grep -c '<testcase ' "$f") == "$n" ]] || fail "JUnit file has $(grep -c '<testcase ' "$f") testcases, expected $n"
  [[ $(grep -c '<failure ' "$f") == 0 ]] || fail "JUnit file has failures: $(grep '<failure ' "$f")"
}

good_lab() {
  local lab=$1 cluster=$2
  run_verify "$lab" --junit "$TMP/junit.xml"
  [[ $RC == 0 ]] || fail "verify $lab: exit $RC, expected 0 (failed: $(failed_ids), errors: $(failed_ids ERROR)):
$OUT
$ERR"
  contains "$OUT" " 0 failed, 4 skipped, 0 errors" "verify $lab summary"
  # Issue 14: <= 15 s with the defaults on the 2-core CI machine (docs/BENCHMARKS.md); twice that here,
  # so that a loaded machine does not fail the test, while the old 60-90 s would.
  ((SECS <= 30)) || fail "verify $lab with the defaults took ${SECS}s (target 15 s): $ERR"
  grep -q "^verify: churn: PASS .*: 10 pods x 5 rounds (sized to the lab's 5 pods" <<<"$ERR" ||
    fail "the churn is not sized to the lab: $(grep churn <<<"$ERR")"
  for id in $ALL_IDS; do grep -q "^$id " <<<"$OUT" || fail "check $id missing from the table"; done
  [[ $(rows) == 25 ]] || fail "expected 25 rows, got $(rows)"
  # What must apply to these Debian chains: no skip outside the version- and chain-dependent checks.
  local skipped
  skipped=$(awk '/^[a-z]/ && NF >= 5 && $(NF-1) == "SKIP" {print $1}' <<<"$OUT" | xargs)
  [[ $skipped == "spec.status spec.gc model.hostport model.bandwidth" ]] || fail "unexpected skips: $skipped"
  contains "$OUT" "cniVersion 1.0.0 has no GC (1.1.0+)" "skip reason"
  junit_ok "$TMP/junit.xml" 25
  # Every testcase carries its source and the chain's versions as <properties>.
  [[ $(grep -c '<properties>' "$TMP/junit.xml") == 25 ]] || fail "not every testcase has <properties>"
  grep -q '<property name="source" value="SPEC.md §2 DEL (idempotent)"/>' "$TMP/junit.xml" ||
    fail "no source property for spec.del.twice: $(grep -m3 '<property' "$TMP/junit.xml")"
  grep -q '<property name="cniVersion" value="1.0.0"/>' "$TMP/junit.xml" || fail "no cniVersion property"
  local main_plugin
  main_plugin=$(jq -r '.plugins[0].type' "${lab%.toml}.conflist")
  grep -qE "<property name=\"plugin\.$main_plugin\" value=\"CNI $main_plugin plugin [^\"]*\[deb containernetworking-plugins [0-9]" "$TMP/junit.xml" ||
    fail "no version property for the $main_plugin plugin: $(grep -m8 '<property' "$TMP/junit.xml")"
  grep -q "<property name=\"plugin.$main_plugin.cniVersions\" value=\"[0-9., ]*1.0.0\"/>" "$TMP/junit.xml" ||
    fail "no spec versions property for the $main_plugin plugin"
  grep -q 'errors="0"' "$TMP/junit.xml" || fail "JUnit counts errors: $(grep -m1 '<testsuite ' "$TMP/junit.xml")"
  pass "verify $lab: 21 passed, 4 skipped with their reason, JUnit well-formed with properties, in ${SECS}s"
  assert_clean "$cluster"
  run_verify "$lab" --only spec.version,spec.add -o json
  [[ $RC == 0 ]] || fail "verify -o json: exit $RC: $ERR"
  contains "$OUT" '"id": "spec.add"' "json output"
  contains "$OUT" '"passed": 2' "json summary"
  contains "$OUT" '"errors": 0' "json summary counts errors"
  contains "$OUT" '"plugin.' "json properties"
  [[ $(grep -c '"id":' <<<"$OUT") == 2 ]] || fail "--only spec.version,spec.add ran other checks: $OUT"
  pass "-o json with --only: exactly the two checks, both pass"
  assert_clean "$cluster"
}

case $CASE in
  bridge) good_lab examples/cni/bridge.toml cni-bridge ;;
  labs)
    # The other Debian chains of examples/cni: the whole suite passes; what a chain does not have is a
    # skip with its reason (disableCheck: portmap and bandwidth 1.1.1 fail CHECK, see the README).
    for lab in portmap bandwidth tuning-firewall; do
      run_verify examples/cni/$lab.toml
      [[ $RC == 0 ]] || fail "verify $lab: exit $RC (failed: $(failed_ids)):
$OUT
$ERR"
      contains "$OUT" " 0 failed," "verify $lab summary"
      [[ $(rows) == 25 ]] || fail "$lab: expected 25 rows, got $(rows)"
      case $lab in
        portmap) grep -qE '^model.hostport .* PASS ' <<<"$OUT" || fail "model.hostport did not pass on portmap" ;;
        bandwidth) grep -qE '^model.bandwidth .* PASS ' <<<"$OUT" || fail "model.bandwidth did not pass on bandwidth" ;;
      esac
      pass "verify $lab: 0 failed in ${SECS}s"
    done
    assert_clean cni-portmap
    assert_clean cni-bandwidth
    assert_clean cni-tuning
    ;;
  ptp) good_lab examples/cni/ptp.toml cni-ptp ;;
  broken)
    # plugin | --only (the check that must catch it, and neighbours that must not) | failing id | message
    while IFS='|' read -r name only want needle; do
      [[ -n $name ]] || continue
      lab=examples/cni/broken/$name.toml
      run_verify "$lab" --only "$only"
      [[ $RC == 1 ]] || fail "verify $lab: exit $RC, expected 1:
$OUT
$ERR"
      [[ $(failed_ids) == "$want" ]] || fail "verify $lab --only $only: expected exactly $want to fail, failed: $(failed_ids)
$OUT"
      contains "$OUT" "$needle" "$name's evidence"
      if [[ $name == leave-daemon ]]; then
        # The daemons of the lab's own ADDs (and of the checks' test pods) outlive the lab too.
        contains "$ERR" "verify: down: plugin leak: namespace mkn-broken-leave-daemon-node1 still has pid" "the daemons at down"
      fi
      kill_left "$ERR"
      pass "$name: caught by $want (\"$needle\") in ${SECS}s"
      assert_clean "broken-$name"
    done <<'EOF'
wrong-ip|spec.add.result,spec.add.interface,spec.del.*|spec.add.interface|result says eth0 has 10.244.0.254/24, the pod's eth0 has [10.244.0.
leak-on-del|spec.add*,spec.del.*|spec.del.clean|+ veth
leave-daemon|spec.add*,spec.del.*|spec.del.clean|(sleep) still runs in node node1
del-needs-netns|spec.del.*|spec.del.netns-gone|expected DEL to succeed after the pod's netns is gone
bad-json|spec.version,spec.add|spec.add|plugin "bad-json" (ADD) printed no valid result
hang|spec.version,spec.add|spec.add|plugin "hang" (ADD) did not finish within
check-never-fails|spec.check.*|spec.check.tamper|every plugin answered CHECK with success
dup-ip|spec.add,spec.add.concurrent,spec.readd|spec.add.concurrent|expected unique IPs from 8 concurrent ADDs
gc-fails|spec.version,spec.status,spec.gc|spec.gc|expected GC to release
portmap-tcp-only|model.hostport|model.hostport|UDP hostPort
EOF
    ;;
  broken_defaults)
    # With the default settings, as CI runs it. A hanging ADD: every pod of the lab failed, the checks
    # that need a working ADD skip pointing at spec.add instead of each waiting out the plugin's
    # timeout again. A wrong result: the probes to the addresses it claims get no answer, each within
    # its short wait, in parallel.
    run_verify examples/cni/broken/hang.toml
    [[ $RC == 1 && $(failed_ids) == "spec.add" ]] || fail "hang with the defaults: exit $RC, failed: $(failed_ids):
$OUT
$ERR"
    [[ -z $(failed_ids ERROR) ]] || fail "hang: harness errors: $(failed_ids ERROR)"
    for id in spec.del.twice spec.readd churn; do
      contains "$(evidence_of $id)" "needs a working ADD: no pod of the lab got one (see spec.add)" "$id's skip"
    done
    ((SECS <= 60)) || fail "hang with the defaults took ${SECS}s (target 30 s)"
    # spec.add judges the ADDs `up` ran (two 5 s timeouts a node): its time says so, not "6us".
    t=$(awk '$1 == "spec.add" {print $NF}' <<<"$OUT")
    [[ $t =~ ^[0-9.]+s$ ]] && awk -v t="${t%s}" 'BEGIN { exit !(t >= 5) }' ||
      fail "spec.add's time is $t, but its ADDs waited out 5 s timeouts at up: $OUT"
    contains "$(evidence_of spec.add)" "ADD ran at up (" "spec.add says where its time went"
    pass "hang with the defaults: spec.add fails (in $t, its ADDs at up), the checks needing ADD skip, in ${SECS}s"
    assert_clean broken-hang
    run_verify examples/cni/broken/wrong-ip.toml
    [[ $RC == 1 ]] || fail "wrong-ip with the defaults: exit $RC: $OUT $ERR"
    for id in spec.add.interface model.pod-pod.node model.own-ip; do
      grep -qw "$id" <<<"$(failed_ids)" || fail "wrong-ip: $id did not fail: $(failed_ids)"
    done
    contains "$(evidence_of model.pod-pod.node)" "no answer within 2 s" "a silent probe waits its 2 s, once"
    # One fault, said once: no harness error for a tamper the wrong result made impossible (a skip
    # pointing at the check that explains it), and CHECK's plugin calls shown once for all 4 pods.
    [[ -z $(failed_ids ERROR) ]] || fail "wrong-ip: harness errors: $(failed_ids ERROR): $(evidence_of spec.check.tamper)"
    [[ $(failed_ids SKIP) == *spec.check.tamper* ]] || fail "wrong-ip: spec.check.tamper did not skip: $(evidence_of spec.check.tamper)"
    contains "$(evidence_of spec.check.tamper)" "see spec.add.interface" "the tamper skip points at the failed check"
    [[ $(evidence_of spec.check.pass | grep -c '^ *pod web-[0-9]: CHECK after a successful ADD failed') == 4 ]] ||
      fail "spec.check.pass: not one line per pod: $(evidence_of spec.check.pass)"
    [[ $(evidence_of spec.check.pass | grep -c '== CHECK wrong-ip') == 1 ]] ||
      fail "spec.check.pass: the plugin calls are not shown once: $(evidence_of spec.check.pass)"
    contains "$(evidence_of spec.check.pass)" "plugin calls of pod web-1 (same for web-2, web-3, web-4):" "the dump names the pods it stands for"
    ((SECS <= 60)) || fail "wrong-ip with the defaults took ${SECS}s (target 30 s)"
    pass "wrong-ip with the defaults: caught in ${SECS}s"
    assert_clean broken-wrong-ip
    ;;
  fail_fast)
    # check-never-fails fails spec.check.tamper in the first wave: nothing after it starts.
    run_verify examples/cni/broken/check-never-fails.toml --fail-fast --junit "$TMP/junit.xml"
    [[ $RC == 1 && $(failed_ids) == "spec.check.tamper" ]] || fail "--fail-fast: exit $RC, failed: $(failed_ids):
$OUT
$ERR"
    [[ $(rows) == 25 ]] || fail "--fail-fast: expected all 25 checks reported, got $(rows)"
    for id in spec.del.clean spec.errors model.pod-pod.node churn; do
      contains "$(evidence_of $id)" "not run: --fail-fast: spec.check.tamper failed" "$id after --fail-fast"
    done
    contains "$ERR" "verify: --fail-fast: spec.check.tamper failed: 19 of 25 checks not run" "the summary line"
    ! grep -q "^verify: churn:" <<<"$ERR" || fail "--fail-fast: churn still ran: $ERR"
    grep -q '<skipped message="not run: --fail-fast: spec.check.tamper failed"/>' "$TMP/junit.xml" ||
      fail "JUnit does not say what was not run"
    pass "--fail-fast: stopped after spec.check.tamper, 19 checks reported not run, in ${SECS}s"
    assert_clean broken-check-never-fails
    ;;
  timeout)
    # A check cut at the deadline: the long churn (200 pods x 5 rounds, ~1 min here) under a 6 s
    # budget is an ERROR that says so, and the run ends soon after (the teardown of 200 test pods).
    run_verify examples/cni/bridge.toml --only spec.version,churn --churn 200 --timeout 6s --junit "$TMP/junit.xml"
    [[ $RC == 1 && $(failed_ids ERROR) == "churn" && -z $(failed_ids) ]] ||
      fail "--timeout 6s with the long churn: exit $RC, errors: $(failed_ids ERROR), failed: $(failed_ids):
$OUT
$ERR"
    contains "$(evidence_of churn)" "the --timeout of 6s ran out during this check" "churn cut short"
    grep -q '<error message="N pods x R rounds' "$TMP/junit.xml" || fail "JUnit has no <error> for churn: $(grep -A2 'name="churn"' "$TMP/junit.xml")"
    grep -q 'errors="1"' "$TMP/junit.xml" || fail "JUnit does not count the error"
    ((SECS <= 40)) || fail "--timeout 6s: the run took ${SECS}s"
    pass "--timeout 6s: churn cut short as an ERROR, exit 1, in ${SECS}s"
    assert_clean cni-bridge
    # Checks not started: hang's up alone takes 10 s (2 pods a node, a 5 s [cni] timeout each).
    run_verify examples/cni/broken/hang.toml --timeout 3s -o json
    [[ $RC == 1 ]] || fail "--timeout 3s on hang: exit $RC: $ERR"
    [[ $(jq '[.checks[] | select(.evidence == "not run: the --timeout of 3s ran out")] | length' <<<"$OUT") == 25 ]] ||
      fail "--timeout 3s on hang: not every check reported not run: $OUT"
    contains "$ERR" "verify: the --timeout of 3s ran out: 25 of 25 checks not run" "the summary line"
    pass "--timeout 3s ran out during up: every check reported not run, exit 1"
    assert_clean broken-hang
    ;;
  harness)
    # socat hidden in this sandbox's private mount namespace: the suite cannot start its echo servers.
    # Those checks are its own problem (ERROR, JUnit <error>), not the plugin's (FAIL, <failure>).
    mount --bind /dev/null "$(command -v socat)"
    run_verify examples/cni/bridge.toml --only 'model.pod-pod.*,model.node-pod' --junit "$TMP/junit.xml"
    umount "$(command -v socat)"
    [[ $RC == 1 && -z $(failed_ids) && $(failed_ids ERROR) == "model.node-pod model.pod-pod.cross model.pod-pod.node" ]] ||
      fail "socat hidden: exit $RC, failed: $(failed_ids), errors: $(failed_ids ERROR):
$OUT
$ERR"
    contains "$(evidence_of model.pod-pod.node)" "could not start the suite's servers in pod" "the error says why"
    contains "$OUT" "0 passed, 0 failed, 0 skipped, 3 errors" "summary"
    [[ $(grep -c '<error message=' "$TMP/junit.xml") == 3 && $(grep -c '<failure ' "$TMP/junit.xml") == 0 ]] ||
      fail "JUnit: expected 3 <error> and no <failure>: $(cat "$TMP/junit.xml")"
    grep -q 'failures="0" errors="3"' "$TMP/junit.xml" || fail "JUnit counts: $(grep -m1 '<testsuite ' "$TMP/junit.xml")"
    pass "a probe that cannot start: ERROR and JUnit <error type=\"harness\">, not a failure"
    assert_clean cni-bridge
    ;;
  usage)
    run_verify examples/cni/bridge.toml --timeout 0s
    [[ $RC == 2 ]] || fail "--timeout 0s: exit $RC, expected 2"
    contains "$ERR" "--timeout 0s: must be more than zero" "bad --timeout message"
    run_verify examples/cni/bridge.toml --only spec.nope
    [[ $RC == 2 ]] || fail "--only spec.nope: exit $RC, expected 2"
    contains "$ERR" "--only spec.nope matches no check" "bad glob message"
    run_verify examples/quickstart/lab.toml
    [[ $RC == 2 ]] || fail "a lab without network = \"cni\": exit $RC, expected 2"
    contains "$ERR" 'not a network = "cni" lab' "non-CNI lab message"
    [[ -z $(ls /run/netns) ]] || fail "bad input created namespaces: $(ls /run/netns)"
    pass "bad input: exit 2 with the reason, nothing created"
    ;;
  keep)
    "$MKN" verify examples/cni/bridge.toml --only spec.version --keep >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    wait_for 60 grep -q "left up (--keep)" "$TMP/err" || fail "verify --keep never said the lab is up: $(cat "$TMP/err")"
    contains "$(cat "$TMP/out")" "spec.version" "--keep prints the table before waiting"
    "$MKN" get pods -c cni-bridge | grep -q web-1 || fail "the kept lab has no pods"
    "$MKN" down cni-bridge >/dev/null
    wait_for 30 gone "$pid" || fail "verify --keep did not end after down"
    wait "$pid" || fail "verify --keep: exit $? after down, expected 0"
    pass "--keep: the lab stays up with its table printed, down ends it"
    assert_clean cni-bridge
    ;;
  model)
    # The model checks catch what a chain gets wrong about the network, not only what the spec says:
    # bridge.conflist over VXLAN keeps MTU 1500 (the path is 1450), and with ipMasq the pods' traffic
    # to the other node leaves SNATed to the node's address.
    cp examples/cni/bridge.toml examples/cni/bridge.conflist "$TMP/"
    sed -i 's/node_routes = "host-gw"/node_routes = "vxlan"/' "$TMP/bridge.toml"
    run_verify "$TMP/bridge.toml" --only 'model.*'
    [[ $RC == 1 && $(failed_ids) == "model.mtu" ]] || fail "vxlan with MTU 1500: exit $RC, failed: $(failed_ids), expected model.mtu
$OUT"
    contains "$OUT" "eth0 has MTU 1500, but a 1500-byte packet with DF set did not reach pod" "model.mtu evidence"
    contains "$OUT" "mtu = 1450" "model.mtu evidence shows the path MTU"
    pass "MTU 1500 over VXLAN: caught by model.mtu"
    assert_clean cni-bridge
    # Over minikube-net's Geneve (gnv0, 58 bytes of headers) a chain that gives pods 1442 passes them all.
    cp examples/cni/bridge.toml examples/cni/bridge.conflist "$TMP/"
    sed -i 's/node_routes = "host-gw"/node_routes = "geneve"/' "$TMP/bridge.toml"
    sed -i 's/"mtu": 1500/"mtu": 1442/' "$TMP/bridge.conflist"
    run_verify "$TMP/bridge.toml" --only 'model.*'
    [[ $RC == 0 ]] || fail "bridge over Geneve with MTU 1442: exit $RC, failed: $(failed_ids)
$OUT"
    pass "node_routes = geneve with MTU 1442: every model check passes"
    assert_clean cni-bridge
    cp examples/cni/bridge.toml examples/cni/bridge.conflist "$TMP/"
    sed -i 's/"ipMasq": false/"ipMasq": true/' "$TMP/bridge.conflist"
    run_verify "$TMP/bridge.toml" --only 'model.*'
    [[ $RC == 1 && $(failed_ids) == "model.own-ip model.source-ip" ]] || fail "ipMasq: exit $RC, failed: $(failed_ids)
$OUT"
    contains "$OUT" "expected the server to see the client's own IP 10.244.0." "model.source-ip evidence"
    pass "ipMasq between nodes: caught by model.source-ip and model.own-ip"
    assert_clean cni-bridge
    # portmap and bandwidth chains: hostPort (web-1's TCP and dns-1's UDP mapping) and the measured
    # rate apply and pass.
    run_verify examples/cni/portmap.toml --only model.hostport -o json
    [[ $RC == 0 ]] && contains "$OUT" '"result": "pass"' "portmap" || fail "portmap: $OUT $ERR"
    contains "$OUT" "2 mapping(s) probed from another node (1 UDP)" "hostPort evidence: TCP and UDP probed"
    assert_clean cni-portmap
    run_verify examples/cni/bandwidth.toml --only model.bandwidth -o json
    [[ $RC == 0 ]] && contains "$OUT" '"result": "pass"' "bandwidth" || fail "bandwidth: $OUT $ERR"
    contains "$OUT" "ingress: limit 10000000 bit/s, measured" "bandwidth evidence"
    pass "model.hostport passes on portmap.toml (TCP and UDP), model.bandwidth on bandwidth.toml"
    assert_clean cni-bandwidth
    ;;
  sigkill)
    # verify SIGKILLed while its test pods exist (churn made them): `down` finds and removes them too.
    "$MKN" verify examples/cni/bridge.toml --only spec.version,churn --churn 50 >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    wait_for 60 grep -q "spec.version" "$TMP/err" || fail "verify never ran its first check: $(cat "$TMP/err")"
    wait_for 30 bash -c '(( $(ls /run/netns | grep -c -- "-vfy-churn-") >= 50 ))' || fail "churn made no test pods"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    # Right after the SIGKILL, down may briefly find the cluster's lock still held (1 run in 8 here:
    # "is up, run by another minikube-net process"): give it a bounded retry, and say so if it stays.
    wait_for 10 "$MKN" down cni-bridge || true
    "$MKN" down cni-bridge >"$TMP/down" 2>&1 || fail "down after SIGKILL: $(cat "$TMP/down")"
    [[ ! -e /run/minikube-net/cni-bridge ]] || fail "down after SIGKILL left the state"
    pass "verify SIGKILLed with 50 test pods: down removed them with the lab"
    assert_clean cni-bridge
    ;;
  interrupt)
    # Ctrl-C while the lab is still being built (hang's ADDs wait out a 5 s timeout each, two a node):
    # as `up`, the building stops at its next step and is rolled back, instead of going on to bring
    # up a lab no check will run on (and only then being stopped).
    "$MKN" verify examples/cni/broken/hang.toml >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    wait_for 30 bash -c 'ls /run/netns | grep -q "^mkn-broken-hang-web-"' ||
      fail "verify made no pod namespace: $(cat "$TMP/err")"
    kill -INT "$pid"
    rc=0; wait "$pid" || rc=$?
    ERR=$(cat "$TMP/err")
    [[ $rc == 1 ]] || fail "verify got SIGINT while building: exit $rc, want 1: $ERR"
    contains "$ERR" "verify: up broken-hang: interrupted: rolled back (nothing was left behind)" "SIGINT stops the bring-up"
    ! grep -q "checks; the lab is down" <<<"$ERR" || fail "the lab came up after SIGINT: $ERR"
    pass "SIGINT during verify's bring-up: rolled back at the next step, exit 1"
    assert_clean broken-hang
    ;;
  churn_full)
    run_verify examples/cni/bridge.toml --only churn --churn 200
    [[ $RC == 0 ]] || fail "churn 200 x 5: exit $RC:
$OUT
$ERR"
    pass "churn 200 pods x 5 rounds on one node: nothing left, in ${SECS}s"
    assert_clean cni-bridge
    ;;
  *) fail "unknown case $CASE" ;;
esac
