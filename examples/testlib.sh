# examples/testlib.sh — what every e2e script shares. Source it first thing, with the script's arguments:
#
#   source "$(dirname "$0")/testlib.sh" "$@"        (examples/<lab>/: "$(dirname "$0")/../testlib.sh")
#
# It re-executes the calling script inside ci/sandbox.sh (a throw-away network + mount + PID namespace),
# a sandbox of its own also when ci/test.sh already runs ctest in one: a case that fails with its
# cluster up (or a process, a namespace) takes that with it, instead of failing every case after it.
# Without root that is a skip (exit 77, ctest's SKIP_RETURN_CODE), except under CI=true, where it is a
# failure. Inside, it sets ROOT (the repository), MKN (the binary: $MKN_BIN or build/minikube-net), CASE
# (the first argument) and TMP (a fresh directory), changes to ROOT, and defines the assertions below,
# and check_model: the network model's three rules on a lab with examples/quickstart's pods.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ "${MKN_CASE_SANDBOXED:-}" != 1 ]]; then
  if [[ $(id -u) != 0 ]]; then
    [[ "${CI:-}" == true ]] && { echo "FAIL: CI=true but not root"; exit 1; }
    echo "SKIP: needs root"; exit 77
  fi
  # Unset MKN_IN_SANDBOX: ci/sandbox.sh run inside a sandbox would only exec the command.
  exec env -u MKN_IN_SANDBOX MKN_CASE_SANDBOXED=1 "$ROOT/ci/sandbox.sh" "$0" "$@"
fi
MKN=${MKN_BIN:-$ROOT/build/minikube-net}
CASE=${1:?usage: $0 CASE}
TMP=$(mktemp -d)
cd "$ROOT"

fail() { echo "FAIL [$CASE]: $*" >&2; exit 1; }
pass() { echo "ok   [$CASE]: $*"; }
# contains TEXT NEEDLE WHAT: fail with WHAT unless TEXT contains NEEDLE.
contains() { grep -qF -- "$2" <<<"$1" || fail "$3: expected to find '$2' in: $1"; }
# wait_for DEADLINE_S CMD...: run CMD until it succeeds or the deadline passes (no sleep-as-sync).
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}
# gone PID: the process no longer runs (a zombie nobody reaped counts as gone: it holds nothing).
gone() { [[ ! -e /proc/$1 ]] || [[ $(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1) == Z ]]; }

# assert_clean CLUSTER: nothing of it remains: namespace, netns mount, state (and an owner's report for
# down), link in the sandbox's own namespace, process in a cluster namespace.
assert_clean() {
  local c=$1
  local left
  left=$(ls /run/netns | grep "^mkn-$c-" || true)
  [[ -z "$left" ]] || fail "namespaces left: $left"
  ! grep -q "/run/netns/mkn-$c-" /proc/self/mountinfo || fail "netns mounts left"
  [[ ! -e /run/minikube-net/$c ]] || fail "state left in /run/minikube-net/$c"
  [[ ! -e /run/minikube-net/.$c.down-report ]] || fail "an owner's report for down left: /run/minikube-net/.$c.down-report"
  [[ $(ip -o link | wc -l) == 1 ]] || fail "links appeared in the sandbox's own namespace: $(ip -o link)"
  local me stray=""
  me=$(readlink /proc/self/ns/net)
  for p in /proc/[0-9]*; do
    local ns
    ns=$(readlink "$p/ns/net" 2>/dev/null) || continue
    [[ "$ns" == "$me" ]] || stray+=" $(basename "$p"):$(cat "$p/comm" 2>/dev/null)"
  done
  [[ -z "$stray" ]] || fail "processes left in cluster namespaces:$stray"
  pass "nothing of $c is left (namespaces, mounts, state, links, processes)"
}

# pod_ip CLUSTER POD, in_pod CLUSTER POD CMD...: a pod's address; CMD in its namespace.
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
