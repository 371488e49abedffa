#!/usr/bin/env bash
# End-to-end tests (ctest label e2e): the real binary on the shipped example labs, probed with real tools
# (ping, curl, bash /dev/tcp and /dev/udp, iperf3, tshark), and a check that nothing is left afterwards.
#
#   examples/e2e_test.sh CASE      CASE: vxlan host_gw signals sigkill stale_netns rollback bad_input privileges commands usage
#                                        multi shell permissions control collision state_errors detach sandbox_join check
#
# Runs itself inside ci/sandbox.sh (a throw-away network + mount + PID namespace). Without root it exits 77
# (ctest: skipped) — except under CI=true, where that is a failure. Waits are conditions with deadlines.
source "$(dirname "$0")/testlib.sh" "$@"

case "$CASE" in
vxlan)
  out=$("$MKN" up -d examples/quickstart/lab.toml)
  contains "$out" "ready in" "up -d reports readiness"
  c=quickstart
  check_model $c
  web1=$(pod_ip $c web-1)
  # VXLAN MTU: pods get 1450, so 1422 bytes of ICMP payload (1450 with headers) cross with DF, 1423 do not.
  in_pod $c client ping -c1 -W2 -M do -s 1400 "$web1" >/dev/null || fail "1400-byte DF ping across VXLAN"
  in_pod $c client ping -c1 -W2 -M do -s 1422 "$web1" >/dev/null || fail "1422-byte DF ping (1450 MTU) across VXLAN"
  if out=$(in_pod $c client ping -c1 -W2 -M do -s 1423 "$web1" 2>&1); then fail "1423-byte DF ping should not fit"; fi
  contains "$out" "mtu=1450" "oversized DF ping is refused with the pod MTU"
  pass "MTU 1450: 1400 and 1422 bytes cross with DF, 1423 is refused"
  # tshark on the underlay decodes VXLAN (VNI 1, UDP 4789) with the inner pod addresses.
  in_pod $c underlay tshark -l -n -i br0 -f "udp port 4789" -c 2 -a duration:20 -T fields \
    -e vxlan.vni -e udp.dstport -e ip.src -e ip.dst >"$TMP/cap" 2>"$TMP/cap.err" &
  tshark_pid=$!
  wait_for 15 grep -q "Capturing on" "$TMP/cap.err" || fail "tshark did not start: $(cat "$TMP/cap.err")"
  in_pod $c client ping -c2 -W2 "$web1" >/dev/null
  wait "$tshark_pid" || true
  cap=$(cat "$TMP/cap")
  contains "$cap" "4789" "outer UDP port"
  contains "$cap" "172.18.0.2,$(pod_ip $c client)" "outer node1 address then inner client pod address"
  contains "$cap" "172.18.0.3,$web1" "outer node2 address then inner web-1 address"
  [[ $(cut -f1 <<<"$cap" | sort -u) == 1 ]] || fail "VNI is not 1: $cap"
  pass "tshark on the underlay decodes VXLAN VNI 1 with inner pod addresses"
  # The kernel objects as flannel programs them.
  fdb=$(bridge -n mkn-$c-node1 fdb show dev vxlan0)
  contains "$fdb" "dst 172.18.0.3 self permanent" "static FDB entry to node2"
  contains "$(ip -n mkn-$c-node1 route)" "10.244.1.0/24 via 10.244.1.0 dev vxlan0 onlink" "route to node2's pods"
  contains "$(ip -n mkn-$c-node1 neigh show dev vxlan0)" "10.244.1.0 lladdr" "permanent ARP entry for node2's VTEP"
  pass "vxlan0, FDB, neighbour and onlink routes as flannel programs them"
  # TCP across the overlay: no stall, no retransmission storm (checksum offload handled).
  in_pod $c web-1 iperf3 -s -1 -p 5201 >"$TMP/iperf-s" 2>&1 &
  srv=$!
  # Listening, checked with ss: a probe connection would use up the one-off (-1) server.
  wait_for 10 bash -c "ip netns exec mkn-$c-web-1 ss -Hltn 'sport = :5201' | grep -q 5201" || fail "iperf3 server did not start"
  res=$(in_pod $c client iperf3 -c "$web1" -p 5201 -t 3 -i 0.5 -f m) || fail "iperf3 across VXLAN failed: $res"
  wait "$srv" || true
  # A checksum-offload stall shows as intervals near zero; every half second must carry real traffic.
  # (The stream id in "[  5]" is iperf3's socket fd: it depends on inherited fds, so any id matches.)
  rates=$(grep -E '^\[ *[0-9]+\] +[0-9.]+-[0-9.]+ +sec' <<<"$res" | grep -v -e sender -e receiver |
          awk '{for (i=1;i<=NF;i++) if ($i=="Mbits/sec") print int($(i-1))}' || true)
  [[ $(wc -l <<<"$rates") -ge 5 ]] || fail "iperf3 printed too few intervals: $res"
  min=$(sort -n <<<"$rates" | head -1)
  ((min > 100)) || fail "TCP across VXLAN stalled (an interval at $min Mbit/s): $res"
  pass "TCP across VXLAN: no stall (slowest half second $min Mbit/s)"
  "$MKN" status | grep -q "quickstart  ready" || fail "status does not show quickstart ready"
  out=$("$MKN" down quickstart)
  contains "$out" "cluster quickstart down" "down reports"
  assert_clean $c
  out=$("$MKN" down quickstart)
  contains "$out" "is not up" "down is idempotent"
  ;;
host_gw)
  "$MKN" up -d examples/host-gw/lab.toml >/dev/null
  c=hostgw
  check_model $c
  contains "$(ip -n mkn-$c-node1 route)" "10.244.1.0/24 via 172.18.0.3 dev eth0" "host-gw route via node2"
  ! ip -n mkn-$c-node1 link show vxlan0 >/dev/null 2>&1 || fail "host-gw has no vxlan0"
  in_pod $c client ping -c1 -W2 -M do -s 1472 "$(pod_ip $c web-1)" >/dev/null || fail "host-gw: 1500-byte DF ping"
  pass "host-gw: routes via the node's underlay address, full 1500 MTU"
  "$MKN" down hostgw >/dev/null
  assert_clean $c
  ;;
signals)
  for sig in INT TERM; do
    "$MKN" up examples/quickstart/lab.toml >"$TMP/up.log" 2>&1 &
    pid=$!
    wait_for 30 grep -q "ready in" "$TMP/up.log" || fail "up did not become ready: $(cat "$TMP/up.log")"
    in_pod quickstart client ping -c1 -W2 "$(pod_ip quickstart web-1)" >/dev/null || fail "cluster not working"
    kill -"$sig" "$pid"
    rc=0; wait "$pid" || rc=$?
    [[ $rc == 0 ]] || fail "up exited $rc after SIG$sig: $(cat "$TMP/up.log")"
    contains "$(cat "$TMP/up.log")" "cluster quickstart down in" "SIG$sig tears down"
    assert_clean quickstart
  done
  # A stop signal while the cluster is still being built (examples/big: 1000 pods, seconds to come
  # up) stops the building at the next step, rolls back and exits as a shell says a signal ended a
  # command (128 + the signal); -d passes it on to the background process it is waiting for.
  for run in "INT 130" "TERM 143" "INT 130 -d"; do
    read -r sig want detach <<<"$run"
    # shellcheck disable=SC2086  # -d or nothing
    "$MKN" up $detach examples/big/lab.toml >"$TMP/up.log" 2>&1 &
    pid=$!
    wait_for 30 bash -c 'ls /run/netns | grep -q "^mkn-big-"' || fail "up made no namespace: $(cat "$TMP/up.log")"
    kill -"$sig" "$pid"
    rc=0; wait "$pid" || rc=$?
    [[ $rc == "$want" ]] || fail "up $detach got SIG$sig while building: exit $rc, want $want: $(cat "$TMP/up.log")"
    ! grep -q "ready in" "$TMP/up.log" || fail "up $detach went on to ready after SIG$sig: $(cat "$TMP/up.log")"
    contains "$(cat "$TMP/up.log")" "up big: interrupted: rolled back (nothing was left behind)" "SIG$sig stops the build"
    assert_clean big
  done
  ;;
sigkill)
  "$MKN" up -d examples/quickstart/lab.toml >/dev/null
  pid=$(awk '$1=="quickstart" {print $6}' <<<"$("$MKN" status)")
  [[ -n "$pid" ]] || fail "status shows no pid"
  kill -KILL "$pid"
  wait_for 10 gone "$pid" || fail "pid $pid survived SIGKILL"
  contains "$("$MKN" status)" "dead (run: minikube-net down quickstart)" "status notices the dead owner"
  [[ -e /run/netns/mkn-quickstart-web-1 ]] || fail "namespaces should outlive a SIGKILLed process"
  # A second up refuses nothing: it removes the leftovers (proven by their markers), then comes up.
  out=$("$MKN" up -d examples/quickstart/lab.toml 2>&1)
  contains "$out" "left behind" "up cleans a killed run's leftovers"
  contains "$out" "ready in" "and comes up"
  # A second up of a live cluster is refused, and the live one keeps working.
  if out=$("$MKN" up -d examples/quickstart/lab.toml 2>&1); then fail "second up of a live cluster succeeded"; fi
  contains "$out" "already up" "refuses a live cluster"
  in_pod quickstart client ping -c1 -W2 "$(pod_ip quickstart web-1)" >/dev/null || fail "live cluster broken"
  pid=$(awk '$1=="quickstart" {print $6}' <<<"$("$MKN" status)")
  kill -KILL "$pid"
  wait_for 10 gone "$pid" || fail "pid $pid survived SIGKILL"
  out=$("$MKN" down quickstart)
  contains "$out" "namespaces removed" "down after SIGKILL removes from state and markers"
  assert_clean quickstart
  ;;
stale_netns)
  # A SIGKILL between creating /run/netns/<name> and mounting the namespace on it leaves an empty
  # file that `ip netns` lists and no namespace can be mounted over (the hook kills up right there).
  rc=0; MKN_TEST_KILL_AFTER_NETNS_FILE=mkn-quickstart-web-0 "$MKN" up examples/quickstart/lab.toml \
    >/dev/null 2>&1 || rc=$?
  [[ $rc == 137 ]] || fail "the hook should have killed up (exit $rc)"
  [[ -f /run/netns/mkn-quickstart-web-0 ]] || fail "no stale file was left to test with"
  ! grep -q " /run/netns/mkn-quickstart-web-0 " /proc/self/mountinfo || fail "the stale file has a mount"
  # The next up takes its leftovers down, stale file included, and comes up.
  out=$("$MKN" up -d examples/quickstart/lab.toml 2>&1) || fail "up after a kill mid-create failed: $out"
  contains "$out" "ready in" "up comes up over a stale netns file"
  in_pod quickstart client ping -c1 -W2 "$(pod_ip quickstart web-0)" >/dev/null || fail "web-0 unreachable"
  # The same during teardown: the owner dies, and one namespace was unmounted but not yet unlinked.
  pid=$(awk '$1=="quickstart" {print $6}' <<<"$("$MKN" status)")
  kill -KILL "$pid"
  wait_for 10 gone "$pid" || fail "pid $pid survived SIGKILL"
  umount /run/netns/mkn-quickstart-web-1
  [[ -f /run/netns/mkn-quickstart-web-1 ]] || fail "umount removed the file"
  rc=0; out=$("$MKN" down quickstart 2>&1) || rc=$?
  [[ $rc == 0 ]] || fail "down with a stale netns file: exit $rc: $out"
  contains "$out" "namespaces removed" "down removes the rest"
  contains "$out" "removed a stale /run/netns/mkn-quickstart-web-1" "and says it cleared the stale file"
  assert_clean quickstart
  # A kill mid-create followed straight by down (no second up): down clears it too.
  rc=0; MKN_TEST_KILL_AFTER_NETNS_FILE=mkn-quickstart-node2 "$MKN" up examples/quickstart/lab.toml \
    >/dev/null 2>&1 || rc=$?
  [[ $rc == 137 && -f /run/netns/mkn-quickstart-node2 ]] || fail "no stale node2 file (exit $rc)"
  rc=0; out=$("$MKN" down quickstart 2>&1) || rc=$?
  [[ $rc == 0 ]] || fail "down after a kill mid-create: exit $rc: $out"
  assert_clean quickstart
  ;;
rollback)
  steps=$("$MKN" plan -o json examples/quickstart/lab.toml | grep -c '"phase"')
  # A step in the underlay, a node, a pod, the routes and the very last one.
  for at in 1 9 30 60 $((steps - 1)); do
    rc=0; out=$(MKN_FAIL_AT_STEP=$at timeout 60 "$MKN" up examples/quickstart/lab.toml 2>&1) || rc=$?
    [[ $rc == 1 ]] || fail "failure at step $at: exit $rc, want 1: $out"
    contains "$out" "injected failure" "the failing step is reported"
    contains "$out" "nothing was left behind" "and the promise is made"
    assert_clean quickstart
  done
  # The promise is made only when it holds: a mount point inside the state directory cannot be
  # removed, so the rollback leaves the directory, and says so instead.
  mkdir -p /run/minikube-net/quickstart/pin
  mount -t tmpfs pin /run/minikube-net/quickstart/pin
  rc=0; out=$(MKN_FAIL_AT_STEP=9 "$MKN" up examples/quickstart/lab.toml 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "failed rollback: exit $rc, want 1: $out"
  ! grep -q "nothing was left behind" <<<"$out" || fail "a rollback that left something promised nothing: $out"
  contains "$out" "left behind: state directory /run/minikube-net/quickstart: remove /run/minikube-net/quickstart/pin: Device or resource busy" "names what was left"
  [[ -z "$(ls /run/netns)" ]] || fail "namespaces left: $(ls /run/netns)"
  # The same when the failure comes after the plan (Down() does the cleanup): no control socket can
  # be bound where a file sits.
  touch /run/minikube-net/quickstart/control
  rc=0; out=$("$MKN" up examples/quickstart/lab.toml 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "failed up: exit $rc, want 1: $out"
  contains "$out" "bind /run/minikube-net/quickstart/control/control.sock" "the failure is reported"
  ! grep -q "nothing was left behind" <<<"$out" || fail "a teardown that left something promised nothing: $out"
  contains "$out" "left behind: down quickstart: remove /run/minikube-net/quickstart/pin: Device or resource busy" "names what was left"
  [[ -z "$(ls /run/netns)" ]] || fail "namespaces left: $(ls /run/netns)"
  umount /run/minikube-net/quickstart/pin
  rm -rf /run/minikube-net/quickstart
  pass "a rollback that cannot remove everything names what it left, never promises"
  assert_clean quickstart
  ;;
bad_input)
  rc=0; out=$("$MKN" up testdata/bad/many_errors_at_once.toml 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "bad lab: exit $rc, want 2"
  expected=$(sed -n 's/^# expect: //p' testdata/bad/many_errors_at_once.toml)
  while IFS= read -r line; do contains "$out" "testdata/bad/$line" "every error listed"; done <<<"$expected"
  [[ -z "$(ls /run/netns)" && -z "$(ls /run/minikube-net)" ]] || fail "a bad lab created something"
  rc=0; "$MKN" up /nonexistent.toml >/dev/null 2>&1 || rc=$?
  [[ $rc == 2 ]] || fail "missing file: exit $rc, want 2"
  rc=0; "$MKN" frobnicate >/dev/null 2>&1 || rc=$?
  [[ $rc == 2 ]] || fail "unknown subcommand: exit $rc, want 2"
  pass "bad input: every error as file:line:col, exit 2, nothing created"
  # A lab file must be a regular file of at most 16 MiB: a FIFO is refused at once (not read
  # forever), /dev/zero before it fills memory, a directory and a huge file with the limit named.
  mkfifo "$TMP/fifo.toml"
  mkdir "$TMP/dir.toml"
  { cat examples/quickstart/lab.toml; head -c $((20 << 20)) /dev/zero | tr '\0' '#'; } >"$TMP/huge.toml"
  for cmd in validate plan up; do
    for f in "$TMP/fifo.toml:a FIFO" "/dev/zero:a character device" "$TMP/dir.toml:a directory" \
             "$TMP/huge.toml:over the 16 MiB limit for a lab file"; do
      rc=0; out=$(timeout 20 "$MKN" $cmd "${f%%:*}" 2>&1) || rc=$?
      [[ $rc == 2 ]] || fail "$cmd ${f%%:*}: exit $rc, want 2: $out"
      contains "$out" "cannot read lab file: ${f%%:*}: " "$cmd names the file"
      contains "$out" "${f#*:}" "$cmd says why"
    done
  done
  [[ -z "$(ls /run/netns)" && -z "$(ls /run/minikube-net)" ]] || fail "an unreadable lab created something"
  pass "a FIFO, /dev/zero, a directory, a 20 MiB file: refused at once, exit 2, nothing created"
  # "-" is standard input for the commands that only read a lab; up refuses it (exit 2).
  out=$("$MKN" validate - <examples/quickstart/lab.toml) || fail "validate -: $out"
  contains "$out" "-: ok: 2 nodes, 4 pods" "validate reads standard input"
  [[ "$("$MKN" plan - <examples/quickstart/lab.toml)" == "$("$MKN" plan examples/quickstart/lab.toml)" ]] ||
    fail "plan - differs from plan FILE"
  "$MKN" up --dry-run - <examples/quickstart/lab.toml | grep -q "ip netns add mkn-quickstart-underlay" ||
    fail "up --dry-run - prints no plan"
  rc=0; out=$(printf '[cluster]\nname = "Bad"\n' | "$MKN" validate - 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "validate - of a bad lab: exit $rc, want 2"
  contains "$out" "<stdin>:2:8:" "diagnostics name standard input"
  rc=0; out=$("$MKN" up - <examples/quickstart/lab.toml 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "up -: exit $rc, want 2: $out"
  contains "$out" "can only be planned" "up - says why not"
  rc=0; out=$("$MKN" up --keep-going --strict examples/quickstart/lab.toml 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "up --keep-going --strict: exit $rc, want 2: $out"
  [[ -z "$(ls /run/netns)" && -z "$(ls /run/minikube-net)" ]] || fail "a refused up created something"
  pass "- reads standard input for validate, plan and up --dry-run; up - and contradicting flags: exit 2"
  ;;
privileges)
  rc=0
  out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$MKN" up examples/quickstart/lab.toml 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "unprivileged up: exit $rc, want 1: $out"
  contains "$out" "CAP_NET_ADMIN" "names the capability"
  # Each command says what it needs the privileges for; down creates nothing.
  rc=0
  out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$MKN" down quickstart 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "unprivileged down: exit $rc, want 1: $out"
  [[ "$out" == "minikube-net: need CAP_NET_ADMIN and CAP_SYS_ADMIN to take a cluster down (stop its process, remove its namespaces): run as root or with sudo" ]] ||
    fail "unprivileged down said: $out"
  # The sandbox checks for root before it tries anything (this test runs in one: MKN_IN_SANDBOX
  # would make it run the command straight away).
  rc=0
  out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all env -u MKN_IN_SANDBOX ci/sandbox.sh true 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "unprivileged ci/sandbox.sh: exit $rc, want 1: $out"
  [[ "$out" == "ci/sandbox.sh: run as root (or with sudo): a sandbox is made of namespaces and mounts, which need CAP_SYS_ADMIN" ]] ||
    fail "unprivileged ci/sandbox.sh said: $out"
  pass "without privileges: up, down and ci/sandbox.sh say what they need, exit 1"
  assert_clean quickstart
  ;;
commands)
  "$MKN" up -d testdata/config/overrides.toml >/dev/null
  wait_for 10 bash -c "'$MKN' logs -c custom api-2 | grep -q 'hi from api'" || fail "command container output not in logs: $("$MKN" logs -c custom api-2)"
  in_pod custom api-3 ping -c1 -W2 "$(pod_ip custom api-0)" >/dev/null || fail "vxlan with vni 42 and mtu 9000"
  out=$("$MKN" exec -c custom api-1 -- sh -c 'echo $POD_NAME $POD_IP $NODE_NAME')
  [[ "$out" == "api-1 $(pod_ip custom api-1) beta" ]] || fail "exec env: $out"
  pass "command containers run in their pod with POD_NAME/POD_IP/NODE_NAME; exec too"
  # A lab without Services: get svc and conntrack agree (an empty table each, exit 0).
  for cmd in "get svc" "conntrack" "conntrack -o json"; do
    # shellcheck disable=SC2086  # the command and its flags, split as typed
    rc=0; out=$("$MKN" $cmd -c custom 2>"$TMP/err") || rc=$?
    [[ $rc == 0 && ! -s "$TMP/err" ]] || fail "$cmd of a lab without Services: exit $rc: $(cat "$TMP/err")"
    [[ $(wc -l <<<"$out") == 1 ]] || fail "$cmd of a lab without Services printed: $out"
  done
  pass "get svc and conntrack of a lab without Services: an empty table, exit 0"
  "$MKN" down custom >/dev/null
  assert_clean custom
  ;;
usage)
  # Every word or number a command cannot use: exit 2 and a message naming it and what was probably
  # meant; exit 1 when the command is fine but the system cannot serve it. Each row: exit code,
  # arguments, then the exact stderr (stdout must be empty).
  rows() {
    row 2 "version" 'minikube-net: unknown command "version": did you mean "--version"? (minikube-net --help lists every command)'
    row 2 "ls" 'minikube-net: unknown command "ls": did you mean "status"? (minikube-net --help lists every command)'
    row 2 "stauts" 'minikube-net: unknown command "stauts": did you mean "status"? (minikube-net --help lists every command)'
    row 2 "frobnicate" 'minikube-net: unknown command "frobnicate" (minikube-net --help lists every command)'
    row 2 "scale web -1" 'minikube-net: scale: replicas: want an integer 0..20000, got -1'
    row 2 "scale web 99999999999" 'minikube-net: scale: replicas: want an integer 0..20000, got 99999999999'
    row 2 "scale web 20001" 'minikube-net: scale: replicas: want an integer 0..20000, got 20001'
    row 2 "scale web three" 'minikube-net: scale: replicas: want an integer 0..20000, got three'
    row 2 "up --workers -3 --dry-run examples/quickstart/lab.toml" 'minikube-net: up: --workers: want an integer 0..1024, got -3'
    row 2 "verify --churn 0 examples/cni/bridge.toml" 'minikube-net: verify: --churn: want an integer 1..20000, got 0'
    row 2 "get pdos" 'minikube-net: get: what: "pdos" is not one of pods, nodes, pod, node, svc, services, service, endpoints, ep, proxy, routes, route, overlay, netpol, networkpolicies, networkpolicy, world, dns (did you mean "pods"?)'
    row 2 "cni ad web-0" 'minikube-net: cni: verb: "ad" is not one of add, check, del, status, gc, version, render (did you mean "add"?)'
    # Flags and arguments the parser refuses: said the same way, the nearest flag suggested.
    row 2 "up --detatch examples/quickstart/lab.toml" 'minikube-net: up: unknown flag --detatch: did you mean --detach? (minikube-net up --help lists its flags)'
    row 2 "up --detatch=1 examples/quickstart/lab.toml" 'minikube-net: up: unknown flag --detatch: did you mean --detach? (minikube-net up --help lists its flags)'
    row 2 "cni render --nod node1" 'minikube-net: cni: unknown flag --nod: did you mean --node? (minikube-net cni --help lists its flags)'
    row 2 "up -x examples/quickstart/lab.toml" 'minikube-net: up: unknown flag -x (minikube-net up --help lists its flags)'
    row 2 "down a b" 'minikube-net: down: unexpected argument "b" (minikube-net down --help)'
    row 2 "up" 'minikube-net: up: lab is required (minikube-net up --help)'
    row 2 "" 'minikube-net: a command is required (minikube-net --help lists every command)'
    row 2 "status -o yaml" 'minikube-net: status: --output: "yaml" is not one of table, json'
    row 2 "get pods -o jsn" 'minikube-net: get: --output: "jsn" is not one of table, json (did you mean "json"?)'
    row 2 "status -o" 'minikube-net: status: --output needs a value (TEXT:{table,json})'
  }
  row() {
    local want_rc=$1 args=$2 want=$3 rc=0 out
    # shellcheck disable=SC2086  # the row's arguments, split as typed
    out=$("$MKN" $args 2>"$TMP/err") || rc=$?
    [[ $rc == "$want_rc" ]] || fail "minikube-net $args: exit $rc, want $want_rc: $(cat "$TMP/err")"
    [[ "$(cat "$TMP/err")" == "$want" ]] || fail "minikube-net $args said: $(cat "$TMP/err")
want: $want"
    [[ -z "$out" ]] || fail "minikube-net $args printed on stdout: $out"
  }
  rows
  row 1 "get pods" 'minikube-net: no cluster is up (start one with: minikube-net up LAB.toml)'
  row 2 "cni render --node node1" 'minikube-net: cni render: name the lab file (no cluster is up to take it from)'
  [[ -z "$(ls /run/netns)" && -z "$(ls /run/minikube-net)" ]] || fail "a refused command created something"
  pass "unknown commands, values and numbers: named, with the nearest, exit 2; nothing created"
  "$MKN" up -d examples/services/lab.toml >/dev/null 2>&1
  rows  # the same with a cluster up
  row 2 "conntrack -n node9" 'minikube-net: no node "node9" in cluster svc (did you mean "node1"?)'
  row 2 "conntrack -n zz" 'minikube-net: no node "zz" in cluster svc (it has node1, node2)'
  row 2 "kill web-9" 'minikube-net: no pod "web-9" in cluster svc (did you mean "web-0"?)'
  row 2 "scale wbe 2" 'minikube-net: no deployment "wbe" in cluster svc (did you mean "web"?)'
  row 2 "exec web-0x -- true" 'minikube-net: no pod or node named web-0x in cluster svc (did you mean "web-0"?)'
  row 2 "get pods -c svx" 'minikube-net: no cluster named svx is up (did you mean "svc"?)'
  row 2 "get pods -c other" 'minikube-net: no cluster named other is up (up: svc)'
  row 2 "logs web-0x" 'minikube-net: no pod named web-0x in cluster svc (did you mean "web-0"?)'
  contains "$("$MKN" conntrack -n node1)" "NODE" "conntrack -n of a real node answers"
  [[ $("$MKN" get endpoints | awk '$1 == "web" {print $2}' | tr ',' '\n' | wc -l) == 3 ]] ||
    fail "a refused kill or scale changed web's endpoints: $("$MKN" get endpoints)"
  pass "names the cluster does not have: the nearest one suggested, exit 2, nothing changed"
  "$MKN" down svc >/dev/null
  assert_clean svc
  ;;
sandbox_join)
  # A second terminal joins a running sandbox. This test runs in a sandbox itself (testlib.sh): the
  # sandbox it starts (MKN_IN_SANDBOX unset, so ci/sandbox.sh makes one) is recorded in this one's
  # private /run/minikube-net-sandbox, and "here" plays the host.
  env -u MKN_IN_SANDBOX ci/sandbox.sh "$MKN" up examples/quickstart/lab.toml >"$TMP/up.log" 2>&1 &
  sandbox=$!
  wait_for 30 grep -q "ready in" "$TMP/up.log" || fail "the lab did not come up in the sandbox: $(cat "$TMP/up.log")"
  [[ -f /run/minikube-net-sandbox/$sandbox ]] || fail "no record of sandbox $sandbox: $(ls -la /run/minikube-net-sandbox)"
  [[ -z "$(ip netns list)" ]] || fail "the sandbox's namespaces are visible outside it"
  rc=0; out=$("$MKN" get pods 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "get pods outside the sandbox: exit $rc: $out"
  contains "$out" "a sandbox is running: ci/sandbox.sh --join" "minikube-net outside says how to join"
  out=$(ci/sandbox.sh --list)
  contains "$out" "quickstart" "--list names the sandbox's cluster"
  out=$(ci/sandbox.sh --join -- ip netns list) || fail "--join -- ip netns list: $out"
  contains "$out" "mkn-quickstart-web-1" "a command joined to the sandbox sees the lab's namespaces"
  contains "$out" "mkn-quickstart-underlay" "the underlay too"
  pass "--join -- CMD: the lab's namespaces, which are not visible outside"
  # A shell, by cluster name, as a second terminal gets it (here its stdin is a pipe): the lab's
  # namespaces, minikube-net on PATH, the sandbox's own processes, this directory; its exit status.
  rc=0
  out=$(printf '%s\n' 'ip netns exec mkn-quickstart-client ping -c1 -W2 10.244.1.3 >/dev/null && echo ping-ok' \
        'minikube-net get pods' 'echo "pid1=$(cat /proc/1/comm)"' 'pwd' 'exit 3' |
        ci/sandbox.sh --join quickstart 2>&1) || rc=$?
  [[ $rc == 3 ]] || fail "--join quickstart: exit $rc, want the shell's 3: $out"
  contains "$out" "ping-ok" "a pod answers from the joined shell"
  contains "$(grep '^web-1 ' <<<"$out")" "10.244.1.3" "minikube-net on PATH in the joined shell"
  contains "$out" "pid1=minikube-net" "the joined shell is in the sandbox's PID namespace"
  contains "$out" "$ROOT" "the joined shell starts in the caller's directory"
  pass "--join CLUSTER: a shell in the sandbox (pods, minikube-net, its PID namespace); exit status passed on"
  rc=0; out=$(ci/sandbox.sh --join nosuch 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "--join nosuch: exit $rc, want 2: $out"
  contains "$out" 'no running sandbox has pid or cluster "nosuch"' "an unknown name is refused"
  # The foreground up's stop hint is right from out here: the command it names, run as it says,
  # takes the cluster down, and the sandbox ends with its minikube-net (pid 1 inside): nothing of it
  # remains, and its record goes with the next look.
  hint="ci/sandbox.sh --join quickstart -- minikube-net down quickstart"
  contains "$(cat "$TMP/up.log")" "press Ctrl-C to tear it down (or, from another terminal: $hint)" \
    "a foreground up in a sandbox says how to stop it from outside"
  out=$($hint 2>&1) || fail "the hint's $hint: exit $?: $out"
  contains "$out" "cluster quickstart: asked its process to stop; it is this sandbox's first process" \
    "down of the sandbox's first process says so (the sandbox's end would kill it mid-wait)"
  rc=0; wait "$sandbox" || rc=$?
  [[ $rc == 0 ]] || fail "the sandbox exited $rc: $(cat "$TMP/up.log")"
  contains "$(cat "$TMP/up.log")" "cluster quickstart down in" "the lab was torn down"
  rc=0; out=$(ci/sandbox.sh --join 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "--join with no sandbox: exit $rc: $out"
  contains "$out" "no sandbox is running" "--join says none runs"
  [[ -z "$(ls /run/minikube-net-sandbox)" ]] || fail "a record outlived its sandbox: $(ls /run/minikube-net-sandbox)"
  assert_clean quickstart
  ;;
multi)
  # Two clusters side by side: each in its own namespaces, `down --all` takes both (each proven by markers).
  "$MKN" up -d examples/quickstart/lab.toml >/dev/null
  "$MKN" up -d examples/host-gw/lab.toml >/dev/null
  st=$("$MKN" status)
  contains "$st" "quickstart  ready" "status lists quickstart"
  contains "$st" "hostgw      ready" "status lists hostgw"
  rc=0; out=$("$MKN" get pods 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "get pods with two clusters up must ask which: exit $rc"
  [[ "$out" == "minikube-net: several clusters are up (2: hostgw, quickstart); say which with -c CLUSTER or MKN_CLUSTER=CLUSTER" ]] ||
    fail "get pods with two clusters up must name both and say how to choose: $out"
  contains "$(MKN_CLUSTER=hostgw "$MKN" get pods)" "mkn-hostgw-client" "MKN_CLUSTER chooses"
  # Same pod addresses in both labs, yet no crosstalk: each cluster's underlay is its own namespace.
  body=$(in_pod hostgw client curl -sS --max-time 5 "http://$(pod_ip hostgw web-1):8080/")
  contains "$body" "node: node2" "hostgw answers from its own cluster"
  contains "$(ip -n mkn-hostgw-node1 link show cbr0)" "alias minikube-net:hostgw" "hostgw's links carry hostgw's marker"
  # `down` with neither a name nor $MKN_CLUSTER lists them, as get does, and takes none.
  rc=0; out=$(env -u MKN_CLUSTER "$MKN" down 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "down with two clusters up and none named must ask which: exit $rc: $out"
  [[ "$out" == "minikube-net: down: several clusters are up (2: hostgw, quickstart); say which with down CLUSTER or MKN_CLUSTER=CLUSTER, or take all with --all" ]] ||
    fail "down with two clusters up must name both and say how to choose: $out"
  [[ $("$MKN" status | grep -c ready) == 2 ]] || fail "down with none named took a cluster: $("$MKN" status)"
  # `down` with no name takes $MKN_CLUSTER's, as get, exec and logs do; a name with --all is refused.
  rc=0; out=$("$MKN" down hostgw --all 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "down NAME --all must be refused (exit 2): exit $rc: $out"
  out=$(MKN_CLUSTER=hostgw "$MKN" down)
  contains "$out" "cluster hostgw down" "down honours MKN_CLUSTER"
  [[ -e /run/minikube-net/quickstart/state.json ]] || fail "down with MKN_CLUSTER=hostgw took quickstart too"
  "$MKN" up -d examples/host-gw/lab.toml >/dev/null
  out=$("$MKN" down --all)
  contains "$out" "cluster hostgw down" "down --all takes hostgw"
  contains "$out" "cluster quickstart down" "down --all takes quickstart"
  assert_clean quickstart
  assert_clean hostgw
  ;;
shell)
  # up --shell: a shell in the caller's namespace with MKN_CLUSTER set, the cluster torn down when it exits,
  # the shell's exit status passed on. Here its stdin is a pipe: bash runs the lines as a script.
  rc=0
  out=$(printf '%s\n' 'ip netns list | sort' 'minikube-net get pods' 'echo "cluster=$MKN_CLUSTER"' \
        'ip netns exec mkn-quickstart-client ping -c1 -W2 10.244.1.3 >/dev/null && echo ping-ok' 'exit 3' |
        "$MKN" up --shell examples/quickstart/lab.toml 2>&1) || rc=$?
  [[ $rc == 3 ]] || fail "up --shell: exit $rc, want the shell's 3: $out"
  contains "$out" "ready in" "the cluster came up before the shell"
  contains "$out" "mkn-quickstart-web-1" "ip netns list in the shell shows the pods"
  contains "$(grep '^web-1 ' <<<"$out")" "10.244.1.3" "get pods in the shell (minikube-net on PATH, cluster from MKN_CLUSTER)"
  contains "$out" "cluster=quickstart" "MKN_CLUSTER is set"
  contains "$out" "ping-ok" "pods answer from the shell"
  contains "$out" "cluster quickstart down in" "the shell's end tears the cluster down"
  pass "piped shell: sees the pods, MKN_CLUSTER, minikube-net on PATH; exit 3 tears down and is the status"
  assert_clean quickstart
  # Incompatible flags are a usage error, and nothing is created.
  for flag in -d --dry-run; do
    rc=0; out=$("$MKN" up --shell "$flag" examples/quickstart/lab.toml 2>&1) || rc=$?
    [[ $rc == 2 ]] || fail "up --shell $flag: exit $rc, want 2: $out"
    contains "$out" "--shell cannot be combined with $flag" "says which flag"
  done
  [[ -z "$(ls /run/netns)" ]] || fail "a refused up --shell created something"
  pass "--shell with -d or --dry-run: usage error, exit 2"
  # On a terminal (a pty from script(1)): Ctrl-C typed in the shell stops the shell's job, not the cluster;
  # the prompt carries the cluster's name; `exit 5` then tears the cluster down and is the exit status.
  mkfifo "$TMP/tty-in"
  SHELL=/bin/bash script -qfec "$MKN up --shell examples/quickstart/lab.toml" /dev/null <"$TMP/tty-in" >"$TMP/tty-out" 2>&1 &
  script_pid=$!
  exec 4>"$TMP/tty-in"
  # The terminal echoes what is typed; only the shell's expansion prints "shell-up-quickstart".
  printf '%s\n' 'echo shell-up-$MKN_CLUSTER' >&4
  wait_for 30 grep -q "shell-up-quickstart" "$TMP/tty-out" || fail "no shell on the terminal: $(cat "$TMP/tty-out")"
  grep -q "(mkn:quickstart) " "$TMP/tty-out" || fail "the prompt lacks (mkn:quickstart): $(cat "$TMP/tty-out")"
  printf '%s\n' 'sleep 97; echo slept-$?' >&4
  wait_for 10 pgrep -x -f "sleep 97" || fail "sleep 97 did not start in the shell"
  printf '\003' >&4  # Ctrl-C
  wait_for 10 bash -c '! pgrep -x -f "sleep 97"' || fail "Ctrl-C did not stop the shell's job"
  printf '%s\n' 'echo still-$MKN_CLUSTER-$(ls /run/netns | grep -c mkn-quickstart-)' >&4
  wait_for 10 grep -q "still-quickstart-9" "$TMP/tty-out" || fail "Ctrl-C in the shell touched the cluster: $(cat "$TMP/tty-out")"
  ! grep -q "cluster quickstart down" "$TMP/tty-out" || fail "Ctrl-C in the shell tore the cluster down"
  printf '%s\n' 'exit 5' >&4
  exec 4>&-
  rc=0; wait "$script_pid" || rc=$?
  [[ $rc == 5 ]] || fail "up --shell on a terminal: exit $rc, want 5: $(cat "$TMP/tty-out")"
  grep -q "cluster quickstart down in" "$TMP/tty-out" || fail "no teardown after exit: $(cat "$TMP/tty-out")"
  pass "on a terminal: Ctrl-C reaches the shell's job only; the prompt names the cluster; exit tears down"
  assert_clean quickstart
  # SIGTERM to minikube-net while the shell waits for input: the shell is hung up, the cluster torn down, 0.
  mkfifo "$TMP/held"
  "$MKN" up --shell examples/quickstart/lab.toml <"$TMP/held" >"$TMP/up.log" 2>&1 &
  pid=$!
  exec 5>"$TMP/held"
  printf '%s\n' 'echo shell-waiting' >&5
  wait_for 30 grep -q "shell-waiting" "$TMP/up.log" || fail "shell did not start: $(cat "$TMP/up.log")"
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  exec 5>&-
  [[ $rc == 0 ]] || fail "SIGTERM during --shell: exit $rc, want 0: $(cat "$TMP/up.log")"
  contains "$(cat "$TMP/up.log")" "cluster quickstart down in" "SIGTERM tears down"
  pass "SIGTERM to minikube-net hangs up the shell, tears down, exits 0"
  assert_clean quickstart
  ;;
permissions)
  # Only root may look inside a cluster's state: its directory is 0700, every file in it 0600 (the
  # logs too: the access log holds query strings). Another user can read, list and lock nothing.
  cat >"$TMP/perm.toml" <<'EOF'
[cluster]
name = "perm"
nodes = 1
[[pod]]
name = "web"
labels = { app = "web" }
  [[pod.container]]
  app = "http-echo"
  ports = [{ name = "http", port = 8080 }]
  [[pod.container]]
  name = "sh"
  command = ["sh", "-c", "echo hello; exec sleep infinity"]
[[service]]
name = "web"
selector = { app = "web" }
  [[service.port]]
  port = 80
  target_port = "http"
[[ingress]]
name = "site"
default_backend = { service = "web", port = 80 }
EOF
  c=perm
  st=/run/minikube-net/$c
  out=$("$MKN" up -d "$TMP/perm.toml" 2>&1) || fail "up: $out"
  curl -s -m5 -o /dev/null "http://127.0.0.1:8080/?token=s3cret" || fail "the edge does not answer"
  wait_for 10 grep -q "token=s3cret" $st/logs/ingress/access.log || fail "the request is not in the access log"
  wait_for 10 grep -q hello $st/logs/web/sh.log || fail "the container's output is not in its log"
  wait_for 10 test -s $st/logs/web/http-echo.log || fail "the app's log is empty"
  [[ $(stat -c %a $st) == 700 ]] || fail "state dir is $(stat -c %a $st)"
  for f in state.json lock up.log logs/ingress/access.log logs/web/sh.log logs/web/http-echo.log; do
    [[ -f $st/$f ]] || fail "no $st/$f"
  done
  # The cluster DNS's resolv.conf files are 0644 by design: pods' processes (any uid) read them
  # through the bind mount over /etc/resolv.conf, which the 0700 directory is not on the path of.
  open_to_others=$(find $st \( -type f -o -type d \) -perm /077 ! \( -path "$st/resolv/*.conf" -perm 644 \) -printf '%m %p\n')
  [[ -z "$open_to_others" ]] || fail "open to group or others: $open_to_others"
  pass "state dir 0700; state.json, lock, up.log, container, app and access logs 0600"
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  for f in $st $st/state.json $st/lock $st/logs/ingress/access.log; do
    ! as_nobody cat "$f" >/dev/null 2>&1 || fail "nobody can read $f"
  done
  ! as_nobody ls $st >/dev/null 2>&1 || fail "nobody can list $st"
  ! as_nobody flock -s -n $st/lock true 2>/dev/null || fail "nobody can lock $st/lock"
  [[ -z "$(as_nobody find $st -readable 2>/dev/null | grep -v "^$st\$")" ]] || fail "nobody can read under $st"
  rc=0; out=$(as_nobody "$MKN" get pods -c $c 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "get pods as nobody: exit $rc, want 1: $out"
  contains "$out" "run as root" "says who may"
  row=$(as_nobody "$MKN" status 2>&1 | awk -v c=$c '$1 == c' | tr -s ' ')
  [[ "$row" == "$c ? (root only) - - - - -" ]] || fail "status as nobody: '$row', want the name and nothing that looks like a count"
  pass "as nobody: nothing under $st can be read, listed or locked; get pods says to run as root"
  # A lock held by a process that is not minikube-net's owner (root here, as only root can open
  # it now) blocks neither `down` nor `up` of a cluster whose owner died.
  hold_lock() { (exec 9<"$st/lock"; flock -s 9; exec sleep 300) & }
  owner=$(jq -r .pid $st/state.json)
  kill -KILL "$owner"
  wait_for 10 gone "$owner" || fail "owner $owner survived SIGKILL"
  # The edge's pooled upstream connection ends in the web pod, through the userspace proxy's TUN,
  # which died with the owner: the pod's FIN can never be answered, so its socket lingers orphaned,
  # pinning its eth0, and with it node1's namespace and everything the kernel frees after it.
  wait_for 5 bash -c "[[ -n \$(ip netns exec mkn-$c-web ss -Htn state fin-wait-1) ]]" ||
    fail "no orphaned close in the web pod to test down with"
  hold_lock; holder=$!
  wait_for 10 bash -c "! flock -n -x $st/lock true" || fail "the foreign lock was not taken"
  rc=0; out=$(timeout 30 "$MKN" down $c 2>&1) || rc=$?
  [[ $rc == 0 ]] || fail "down with a foreign lock: exit $rc: $out"
  contains "$out" "namespaces removed" "down removes the cluster"
  contains "$out" "not a running minikube-net" "and says it replaced the foreign lock"
  [[ $out != *"had not freed"* ]] || fail "down left namespaces the kernel could not free: $out"
  pass "and aborts the orphaned closes, so the kernel frees every namespace"
  kill "$holder"
  assert_clean $c
  out=$("$MKN" up -d "$TMP/perm.toml" 2>&1) || fail "up: $out"
  owner=$(jq -r .pid $st/state.json)
  kill -KILL "$owner"
  wait_for 10 gone "$owner" || fail "owner $owner survived SIGKILL"
  hold_lock; holder=$!
  wait_for 10 bash -c "! flock -n -x $st/lock true" || fail "the foreign lock was not taken"
  rc=0; out=$(timeout 30 "$MKN" up -d "$TMP/perm.toml" 2>&1) || rc=$?
  [[ $rc == 0 ]] || fail "up with a foreign lock: exit $rc: $out"
  ! grep -q "already up" <<<"$out" || fail "a foreign lock made up say 'already up': $out"
  contains "$out" "left behind" "up removes what the killed run left"
  contains "$out" "ready in" "and comes up"
  # The live owner still holds its own lock: a second up is refused as before.
  rc=0; out=$("$MKN" up -d "$TMP/perm.toml" 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "second up of a live cluster: exit $rc"
  contains "$out" "already up" "a live owner is still up"
  "$MKN" down $c >/dev/null
  kill "$holder"
  pass "a lock held by a non-owner makes neither down fail nor up say 'already up'"
  assert_clean $c
  ;;
control)
  # The control socket serves clients at once, each with a short deadline: idle clients connected
  # to it neither delay nor fail `get svc` (before: 6 made it take 30 s, 7 made it fail).
  "$MKN" up -d examples/services/lab.toml >/dev/null 2>&1 || fail "up"
  sock=/run/minikube-net/svc/control/control.sock
  # An idle client: connects (then touches $1) and says nothing; socat ends 50 ms after the server
  # closes on it.
  idle() { socat -t 0.05 UNIX-CONNECT:$sock SYSTEM:"touch $1; exec sleep 60",pipes 2>/dev/null || true; }
  pids=()
  for i in $(seq 10); do idle "$TMP/connected.$i" & pids+=($!); done
  wait_for 10 bash -c "(( \$(ls $TMP | grep -c connected) == 10 ))" || fail "the idle clients did not connect"
  t0=$(date +%s%N)
  out=$("$MKN" get svc) || fail "get svc: $out"
  ms=$((($(date +%s%N) - t0) / 1000000))
  contains "$out" "10.96.0.10" "get svc answers"
  ((ms < 1000)) || fail "get svc took $ms ms with 10 idle clients connected"
  pass "get svc answers in $ms ms with 10 idle clients connected"
  for p in "${pids[@]}"; do wait "$p" || true; done
  t0=$(date +%s%N)
  idle "$TMP/connected.last"
  ms=$((($(date +%s%N) - t0) / 1000000))
  ((ms >= 900 && ms < 2500)) || fail "an idle client was dropped after $ms ms, want about 1000"
  pass "an idle client is dropped at its deadline ($ms ms)"
  "$MKN" down svc >/dev/null
  assert_clean svc
  ;;
collision)
  # Two labs that map to one namespace name (the issue's example): cluster x with pod y-underlay,
  # and cluster x-y, whose underlay is mkn-x-y-underlay too. The second is refused with the real
  # reason, before it creates anything, and the first is untouched.
  lab() {
    printf '[cluster]\nname = "%s"\nnodes = 1\n[[pod]]\nname = "%s"\n  [[pod.container]]\n  app = "http-echo"\n' "$1" "$2"
  }
  lab x y-underlay >"$TMP/x.toml"
  lab x-y web >"$TMP/x-y.toml"
  "$MKN" up -d "$TMP/x.toml" >/dev/null || fail "up x"
  rc=0; out=$("$MKN" up -d "$TMP/x-y.toml" 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "up x-y next to x: exit $rc, want 1: $out"
  contains "$out" "namespace mkn-x-y-underlay (this lab's underlay) is cluster x's pod y-underlay: two labs map to one name" "names the other cluster and its object"
  ! grep -q "already up\|another cluster with this name" <<<"$out" || fail "misleading reason: $out"
  contains "$out" "nothing was left behind" "nothing of x-y was made"
  [[ ! -e /run/minikube-net/x-y && ! -e /run/netns/mkn-x-y-node1 ]] || fail "x-y left something"
  contains "$("$MKN" status)" "ready" "x is still up"
  [[ $(ip netns exec mkn-x-y-underlay ip -4 -o addr show eth0 | awk '{print $4}') == 10.244.0.2/24 ]] ||
    fail "x's pod y-underlay was touched"
  "$MKN" down x >/dev/null
  # The other way round: x-y first, then x.
  "$MKN" up -d "$TMP/x-y.toml" >/dev/null || fail "up x-y"
  rc=0; out=$("$MKN" up -d "$TMP/x.toml" 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "up x next to x-y: exit $rc, want 1: $out"
  contains "$out" "namespace mkn-x-y-underlay (this lab's pod y-underlay) is cluster x-y's underlay" "names the other cluster and its object"
  [[ ! -e /run/minikube-net/x && ! -e /run/netns/mkn-x-node1 ]] || fail "x left something"
  "$MKN" down x-y >/dev/null
  pass "a name two labs share is refused with whose it is, nothing made, the other untouched"
  assert_clean x
  # verify's test pods (mkn-<cluster>-vfy-...) are the ones the suite recorded, not every name with
  # that prefix: cluster x-vfy's namespaces, or the empty /run/netns file its up has for an
  # instant, are not cluster x's to remove. And names that would look like test pods are refused.
  "$MKN" up -d "$TMP/x.toml" >/dev/null || fail "up x"
  touch /run/netns/mkn-x-vfy-node1
  out=$("$MKN" down x 2>&1) || fail "down x: $out"
  [[ -e /run/netns/mkn-x-vfy-node1 ]] || fail "down x removed another cluster's /run/netns/mkn-x-vfy-node1: $out"
  ! grep -q "vfy" <<<"$out" || fail "down x spoke of a name that is not its own: $out"
  rm /run/netns/mkn-x-vfy-node1
  lab x vfy-a >"$TMP/vfy.toml"
  rc=0; out=$("$MKN" validate "$TMP/vfy.toml" 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "validate a pod named vfy-a: exit $rc, want 2: $out"
  contains "$out" 'pod "vfy-a": names starting with "vfy-" are reserved for verify'"'"'s test pods' "the reserved prefix is named"
  pass "down removes only the verify test pods it recorded; vfy- names are reserved"
  # down TARGET: a lab file by any name, and never a path taken for a cluster name.
  cp "$TMP/x.toml" "$TMP/x.conf"
  "$MKN" up -d "$TMP/x.toml" >/dev/null || fail "up x"
  out=$(cd "$TMP" && "$MKN" down x.conf 2>&1) || fail "down x.conf: $out"
  contains "$out" "cluster x down in" "a lab file not named .toml takes its cluster down"
  rc=0; out=$("$MKN" down ../../etc 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "down ../../etc: exit $rc, want 2: $out"
  rc=0; out=$("$MKN" down 'x..y' 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "down x..y: exit $rc, want 2: $out"
  contains "$out" '"x..y" is not a cluster name' "a word that is no cluster name is refused"
  pass "down takes a lab file by any name, refuses what is neither a cluster name nor a lab"
  assert_clean x
  ;;
state_errors)
  # What used to be swallowed is reported: a full state directory, a namespace whose marker
  # cannot be read. /run/minikube-net is a small tmpfs of its own here (over the sandbox's).
  mount -t tmpfs -o size=1m mkn-small /run/minikube-net
  "$MKN" up -d examples/quickstart/lab.toml >/dev/null || fail "up"
  dd if=/dev/zero of=/run/minikube-net/fill bs=4k 2>/dev/null || true  # until the tmpfs is full
  rc=0; out=$("$MKN" kill web-0 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "kill with a full state dir: exit $rc, want 1: $out"
  contains "$out" "the state could not be recorded" "the failed state write is reported"
  contains "$out" "No space left on device" "with its cause"
  rc=0; out=$("$MKN" down quickstart 2>&1) || rc=$?
  [[ $rc == 0 ]] || fail "down with a full state dir: exit $rc: $out"
  rm /run/minikube-net/fill
  assert_clean quickstart
  dd if=/dev/zero of=/run/minikube-net/fill bs=4k 2>/dev/null || true
  rc=0; out=$("$MKN" up examples/quickstart/lab.toml 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "up with a full state dir: exit $rc, want 1: $out"
  contains "$out" "No space left on device" "up says why"
  contains "$out" "nothing was left behind" "and that it left nothing"
  rm /run/minikube-net/fill
  assert_clean quickstart
  umount /run/minikube-net
  pass "a full state directory: kill reports the unrecorded change, down still works, up fails cleanly"
  # An up SIGKILLed before its first state write leaves its directory (the lock, state.json.tmp)
  # and nothing else: down removes it, and says so; down --all finds it too.
  for how in named all; do
    mkdir -m 0700 -p /run/minikube-net/quickstart
    : >/run/minikube-net/quickstart/lock
    : >/run/minikube-net/quickstart/state.json.tmp
    if [[ $how == named ]]; then out=$("$MKN" down quickstart 2>&1) || fail "down: $out"
    else out=$("$MKN" down --all 2>&1) || fail "down --all: $out"; fi
    [[ ! -e /run/minikube-net/quickstart ]] || fail "down ($how) left the state directory of a killed up: $out"
    contains "$out" "the state directory of an up killed before it made anything" "down ($how) says what it removed"
  done
  pass "the state directory of an up killed before its first state write: down removes it"
  # A namespace whose marker cannot be read (its lo renamed) is left alone, and said so.
  "$MKN" up -d examples/quickstart/lab.toml >/dev/null || fail "up"
  owner=$(jq -r .pid /run/minikube-net/quickstart/state.json)
  kill -KILL "$owner"
  wait_for 10 gone "$owner" || fail "owner $owner survived SIGKILL"
  ip -n mkn-quickstart-web-0 link set lo down
  ip -n mkn-quickstart-web-0 link set lo name lo9
  out=$("$MKN" down quickstart 2>&1) || fail "down: $out"
  contains "$out" "left mkn-quickstart-web-0 alone, its ownership marker unreadable (netns mkn-quickstart-web-0 has no lo to carry the ownership marker)" "names the namespace it left and why"
  [[ -e /run/netns/mkn-quickstart-web-0 ]] || fail "an unreadable namespace was removed"
  ip netns del mkn-quickstart-web-0
  pass "a namespace whose marker cannot be read is reported, not taken for gone"
  assert_clean quickstart
  ;;
detach)
  # up -d: errors on stderr (never stdout); once ready, up.log has what the terminal saw, then
  # every later line.
  rc=0; MKN_FAIL_AT_STEP=9 "$MKN" up -d examples/quickstart/lab.toml >"$TMP/out" 2>"$TMP/err" || rc=$?
  [[ $rc == 1 ]] || fail "failed up -d: exit $rc, want 1"
  [[ ! -s "$TMP/out" ]] || fail "a failed up -d wrote to stdout: $(cat "$TMP/out")"
  contains "$(cat "$TMP/err")" "injected failure" "the error is on stderr"
  assert_clean quickstart
  "$MKN" up -d examples/quickstart/lab.toml >"$TMP/out" 2>"$TMP/err" || fail "up -d: $(cat "$TMP/err")"
  contains "$(cat "$TMP/out")" "ready in" "the ready line is on stdout"
  log=/run/minikube-net/quickstart/up.log
  contains "$(cat $log)" "cluster quickstart (vxlan) ready in" "up.log has the ready line"
  contains "$(cat $log)" "web-1   node2" "up.log has the pod table"
  contains "$(cat $log)" "running in the background as pid" "up.log has the hand-off"
  # A line after ready: a command container that ends.
  shell=$(jq -r '.pods[] | select(.name=="client") | .containers[] | select(.name=="shell") | .pid' /run/minikube-net/quickstart/state.json)
  kill -TERM "$shell"
  wait_for 10 grep -q "pod client: container shell exited with signal 15" $log || fail "the exit is not in up.log: $(cat $log)"
  # Notices from before ready: a killed run's leftovers removed by the next up -d.
  owner=$(jq -r .pid /run/minikube-net/quickstart/state.json)
  kill -KILL "$owner"
  wait_for 10 gone "$owner" || fail "owner $owner survived SIGKILL"
  "$MKN" up -d examples/quickstart/lab.toml >"$TMP/out" 2>"$TMP/err" || fail "up -d: $(cat "$TMP/err")"
  contains "$(cat "$TMP/err")" "left behind" "the notice is on stderr"
  ! grep -q "left behind" "$TMP/out" || fail "a notice went to stdout"
  contains "$(cat $log)" "minikube-net: removing what a previous run of quickstart left behind" "and in up.log"
  # down of a -d cluster says what its process removed, worded as when down removes it itself.
  out=$("$MKN" down quickstart)
  [[ "$out" =~ ^"cluster quickstart down in "[0-9]+" ms: 9 namespaces removed by its process"$ ]] ||
    fail "down of a -d cluster said: $out"
  pass "up -d: errors and notices on stderr; up.log has the tables, the ready line, notices and later lines"
  assert_clean quickstart
  # The same for a foreground up that down stops from another terminal; and one node, one pod are
  # counted in the singular.
  "$MKN" up testdata/config/minimal.toml >"$TMP/up.log" 2>&1 &
  pid=$!
  wait_for 30 grep -q "ready in" "$TMP/up.log" || fail "minimal did not come up: $(cat "$TMP/up.log")"
  contains "$(cat "$TMP/up.log")" "ms: 1 node, 1 pod" "the ready line counts in the singular"
  # Not the sandbox's first process: --join would not put it on PATH, so the hint names its path.
  contains "$(cat "$TMP/up.log")" "--join min -- $(readlink -f "$MKN") down min)" "the stop hint's binary"
  out=$("$MKN" down min)
  [[ "$out" =~ ^"cluster min down in "[0-9]+" ms: 5 namespaces removed by its process"$ ]] ||
    fail "down of a foreground cluster said: $out"
  rc=0; wait "$pid" || rc=$?
  [[ $rc == 0 ]] || fail "up stopped by down: exit $rc: $(cat "$TMP/up.log")"
  [[ ! -e /run/minikube-net/.min.down-report ]] || fail "the owner's report outlived the down that read it"
  contains "$("$MKN" validate testdata/config/minimal.toml)" "ok: 1 node, 1 pod" "validate too"
  pass "down says how many namespaces the owner removed (-d or not); 1 node, 1 pod"
  assert_clean min
  ;;
check)
  # [[expect]] and `check`: the quickstart's rows pass (up -d --check, then check with JUnit and
  # JSON); a lab whose rows are wrong (deny for what connects, allow to a port nothing listens on)
  # fails with the failing cells named in the JUnit file; up -d --check on it exits 1, lab left up.
  c=quickstart
  out=$("$MKN" up -d --check examples/quickstart/lab.toml 2>&1) || fail "up -d --check: $out"
  contains "$out" "check quickstart: 6 cells, 0 mismatches, 0 errors" "up --check prints the verdict"
  contains "$out" "client  .   .   -   -   X" "up --check prints the matrix"
  "$MKN" check --junit "$TMP/ok.xml" >"$TMP/out" || fail "check of a passing lab: $(cat "$TMP/out")"
  contains "$(cat "$TMP/ok.xml")" 'tests="6" failures="0" errors="0"' "the JUnit file counts every cell"
  pass "up -d --check and check pass on examples/quickstart (6 cells)"
  # A replica scaled in after up is a cell of the selector's row.
  "$MKN" scale web 3 -c $c >/dev/null
  out=$("$MKN" check $c -o json) || fail "check after scale: $out"
  [[ $(jq -r '[.cells[] | select(.to == "web-2:8080/tcp")] | length' <<<"$out") == 1 ]] ||
    fail "the scaled replica web-2 is not probed: $out"
  pass "a replica scaled in after up is probed"
  # The wrong rows: a copy of the lab (same cluster name, so `check LAB` means the running cluster).
  cp examples/quickstart/lab.toml "$TMP/wrong.toml"
  cat >>"$TMP/wrong.toml" <<'ROWS'
[[expect]]
from = "client"
to = "web-0"
port = 8080
result = "deny"
[[expect]]
from = "client"
to = "echo"
port = 9
result = "allow"
ROWS
  rc=0; "$MKN" check "$TMP/wrong.toml" --junit "$TMP/bad.xml" >"$TMP/out" 2>&1 || rc=$?
  [[ $rc == 1 ]] || fail "check with wrong rows: exit $rc, want 1: $(cat "$TMP/out")"
  contains "$(cat "$TMP/out")" "MISMATCH line 80: client -> web-0:8080/tcp: expected deny, got allow (answered)" "the table names the deny that connected"
  contains "$(cat "$TMP/out")" "MISMATCH line 85: client -> echo:9/tcp: expected allow, got deny (refused)" "the table names the allow nothing answers"
  contains "$(cat "$TMP/out")" "client  .!" "the matrix marks the mismatch"
  junit=$(cat "$TMP/bad.xml")
  contains "$junit" 'failures="2" errors="0"' "the JUnit file counts the two mismatches"
  contains "$junit" '<testcase classname="expect.line80" name="client -&gt; web-0:8080/tcp"' "JUnit names the first failing cell"
  contains "$junit" '<failure message="expected allow, got deny (refused)" type="reachability">' "JUnit says why"
  pass "wrong rows: exit 1, the matrix marks them, JUnit names each failing cell"
  "$MKN" down $c >/dev/null
  assert_clean $c
  # up -d --check of the wrong lab: exit 1, and the lab stays up to be looked at.
  rc=0; out=$("$MKN" up -d --check "$TMP/wrong.toml" 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "up -d --check of wrong rows: exit $rc, want 1: $out"
  contains "$out" "2 mismatches" "up --check says it failed"
  contains "$("$MKN" status)" "quickstart  ready" "the lab stays up after a failed up -d --check"
  # Nothing to check is not a pass: a lab without rows is refused before anything is built.
  rc=0; out=$("$MKN" up -d --check testdata/config/minimal.toml 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "up --check of a lab without [[expect]]: exit $rc, want 2: $out"
  contains "$out" "has no [[expect]] rows" "it says why"
  pass "up -d --check of wrong rows exits 1 with the lab up; a lab without rows is refused"
  "$MKN" down $c >/dev/null
  assert_clean $c
  ;;
*) fail "unknown case $CASE" ;;
esac
echo "PASS [$CASE]"
