#!/usr/bin/env bash
# End-to-end tests (ctest label e2e): the real binary on the shipped example labs, probed with real tools
# (ping, curl, bash /dev/tcp and /dev/udp, iperf3, tshark), and a check that nothing is left afterwards.
#
#   examples/e2e_test.sh CASE      CASE: vxlan host_gw signals sigkill stale_netns rollback bad_input privileges commands multi shell
#
# Runs itself inside ci/sandbox.sh (a throw-away network + mount + PID namespace). Without root it exits 77
# (ctest: skipped) — except under CI=true, where that is a failure. Waits are conditions with deadlines.
source "$(dirname "$0")/testlib.sh" "$@"

pod_ip() { "$MKN" get pods -c "$1" | awk -v p="$2" '$1==p {print $3}'; }
in_pod() { local c=$1 p=$2; shift 2; ip netns exec "mkn-$c-$p" "$@"; }

# The Kubernetes network model's three rules and the Pod/Node/Cluster layers, on a running lab
# built from examples/quickstart's pods: client+sidecar (node1), web-0 (node1), echo and web-1 (node2).
check_model() {
  local c=$1
  local client web0 web1 echo_ip
  client=$(pod_ip "$c" client); web0=$(pod_ip "$c" web-0); web1=$(pod_ip "$c" web-1); echo_ip=$(pod_ip "$c" echo)
  [[ -n "$client" && -n "$web1" ]] || fail "get pods shows no addresses"
  # Rule 1: every pod reaches every pod, same node and across nodes, ICMP/TCP/UDP, without NAT.
  in_pod "$c" client ping -c1 -W2 "$web0" >/dev/null || fail "ICMP client -> web-0 (same node)"
  in_pod "$c" client ping -c1 -W2 "$web1" >/dev/null || fail "ICMP client -> web-1 (other node)"
  local body
  body=$(in_pod "$c" client curl -sS --max-time 5 "http://$web1:8080/rule1")
  contains "$body" "client: $client:" "web-1 sees the client pod's own address (no NAT)"
  contains "$body" "pod: web-1" "answered by web-1"
  body=$(in_pod "$c" web-1 curl -sS --max-time 5 "http://$web0:8080/")
  contains "$body" "client: $web1:" "web-0 sees web-1's address"
  local line
  line=$(in_pod "$c" client bash -c "exec 3<>/dev/tcp/$echo_ip/7; echo tcp-hello >&3; read -t 5 l <&3; echo \$l")
  [[ "$line" == tcp-hello ]] || fail "TCP echo across nodes returned '$line'"
  # One read of the whole datagram (bash's read would take one byte and drop the rest).
  line=$(in_pod "$c" web-0 bash -c "exec 3<>/dev/udp/$echo_ip/7; echo udp-hello >&3; timeout 5 dd bs=512 count=1 status=none <&3")
  [[ "$line" == udp-hello ]] || fail "UDP echo across nodes returned '$line'"
  pass "rule 1: pod <-> pod on one node and across nodes (ICMP, TCP, UDP), source address preserved"
  # Rule 2: node agents reach their pods (and, through the pod network, the others).
  "$MKN" exec node1 -- ping -c1 -W2 "$web0" >/dev/null || fail "node1 -> web-0"
  body=$("$MKN" exec node2 -- curl -sS --max-time 5 "http://$web1:8080/")
  contains "$body" "pod: web-1" "node2 -> web-1"
  pass "rule 2: node -> pod"
  # Rule 3: the IP a pod sees for itself is the IP others see.
  local own
  own=$(in_pod "$c" web-1 ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
  [[ "$own" == "$web1" ]] || fail "web-1's own address $own != $web1"
  contains "$body" "pod_ip: $web1" "web-1 reports its own IP"
  contains "$body" "server: $web1:8080" "the address the client used is the pod's own"
  pass "rule 3: own IP = seen IP ($web1)"
  # Pod: containers of a pod share one network namespace.
  body=$("$MKN" exec -c "$c" client -- curl -sS --max-time 5 http://localhost:9090/)
  contains "$body" "pod: client" "shell container reaches the sidecar on localhost"
  pass "pod: containers talk over localhost"
  # Logs of the built-in app.
  wait_for 5 bash -c "'$MKN' logs -c $c web-1 | grep -q 'GET /rule1 from $client'" || fail "logs web-1 lacks the request"
  pass "logs"
}

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
  ;;
privileges)
  rc=0
  out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$MKN" up examples/quickstart/lab.toml 2>&1) || rc=$?
  [[ $rc == 1 ]] || fail "unprivileged up: exit $rc, want 1: $out"
  contains "$out" "CAP_NET_ADMIN" "names the capability"
  assert_clean quickstart
  ;;
commands)
  "$MKN" up -d testdata/config/overrides.toml >/dev/null
  wait_for 10 bash -c "'$MKN' logs -c custom api-2 | grep -q 'hi from api'" || fail "command container output not in logs: $("$MKN" logs -c custom api-2)"
  in_pod custom api-3 ping -c1 -W2 "$(pod_ip custom api-0)" >/dev/null || fail "vxlan with vni 42 and mtu 9000"
  out=$("$MKN" exec -c custom api-1 -- sh -c 'echo $POD_NAME $POD_IP $NODE_NAME')
  [[ "$out" == "api-1 $(pod_ip custom api-1) beta" ]] || fail "exec env: $out"
  pass "command containers run in their pod with POD_NAME/POD_IP/NODE_NAME; exec too"
  "$MKN" down custom >/dev/null
  assert_clean custom
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
  contains "$out" "--cluster" "says how to choose"
  # Same pod addresses in both labs, yet no crosstalk: each cluster's underlay is its own namespace.
  body=$(in_pod hostgw client curl -sS --max-time 5 "http://$(pod_ip hostgw web-1):8080/")
  contains "$body" "node: node2" "hostgw answers from its own cluster"
  contains "$(ip -n mkn-hostgw-node1 link show cbr0)" "alias minikube-net:hostgw" "hostgw's links carry hostgw's marker"
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
  wait_for 10 grep -q "still-quickstart-7" "$TMP/tty-out" || fail "Ctrl-C in the shell touched the cluster: $(cat "$TMP/tty-out")"
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
*) fail "unknown case $CASE" ;;
esac
echo "PASS [$CASE]"
