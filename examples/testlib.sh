# examples/testlib.sh — what every e2e script shares. Source it first thing, with the script's arguments:
#
#   source "$(dirname "$0")/testlib.sh" "$@"        (examples/<lab>/: "$(dirname "$0")/../testlib.sh")
#
# It re-executes the calling script inside ci/sandbox.sh (a throw-away network + mount + PID namespace),
# a sandbox of its own also when ci/test.sh already runs ctest in one: a case that fails with its
# cluster up (or a process, a namespace) takes that with it, instead of failing every case after it.
# Without root that is a skip (exit 77, ctest's SKIP_RETURN_CODE), except under CI=true, where it is a
# failure. Inside, it sets ROOT (the repository), MKN (the binary: $MKN_BIN or build/minikube-net), CASE
# (the first argument) and TMP (a fresh directory), changes to ROOT, and defines the assertions below.
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
