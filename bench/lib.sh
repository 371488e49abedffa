# bench/lib.sh — what the benchmark scripts share. Sourced (not run) after the script has set ROOT
# (the repository) and BENCH (its name for messages, "bench/cni").

# bench_sandbox ARGS...: runs the calling script again, with ARGS, inside ci/sandbox.sh (a throw-away
# network + mount + PID namespace) unless it already runs there. Needs root.
bench_sandbox() {
  [[ "${MKN_IN_SANDBOX:-}" == 1 ]] && return 0
  [[ $(id -u) == 0 ]] || { echo "$BENCH: needs root (it builds network namespaces inside ci/sandbox.sh)" >&2; exit 1; }
  exec "$ROOT/ci/sandbox.sh" "$0" "$@"
}

die() { echo "$BENCH: $*" >&2; exit 1; }
log() { echo "--- $*" >&2; }
# wait_for DEADLINE_S CMD...: run CMD until it succeeds or the deadline passes (no sleep-as-sync).
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.02
  done
}
# us T0 T1: microseconds between two $EPOCHREALTIME values.
us() { local a=${1/./} b=${2/./}; echo $((10#$b - 10#$a)); }

# --- the kernel-cleanup barrier ------------------------------------------------------------------
# The kernel frees a deleted namespace (and the veths in it) later, in a workqueue: a variant's time
# includes that cleanup only if the next step waits for it. arm_drain makes a sentinel namespace
# holding one end of a veth whose other end is here; drain deletes it and waits until the veth is
# gone, which happens after every namespace deleted before it has been freed.
SENT_NS=bench-sentinel SENT_IF=bench-sent
arm_drain() {
  ip netns add "$SENT_NS"
  ip link add "$SENT_IF" type veth peer name s0 netns "$SENT_NS"
}
drain() {
  ip netns del "$SENT_NS"
  local deadline=$((SECONDS + 120))
  while ip link show dev "$SENT_IF" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "the kernel did not free the namespaces within 120 s"
    sleep 0.002
  done
}
# assert_clean TAG: nothing of any variant is left: no named namespace, no link but lo in the
# bench's own namespace.
assert_clean() {
  local left
  left=$(ip netns list)
  [[ -z "$left" ]] || die "$1: namespaces left: $(head -3 <<<"$left")"
  [[ $(ip -o link | wc -l) == 1 ]] || die "$1: links left in the bench namespace: $(ip -o link)"
}
