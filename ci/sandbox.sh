#!/usr/bin/env bash
# ci/sandbox.sh — run a command in a throw-away network + mount + PID namespace, or join one that runs.
#
#   ci/sandbox.sh CMD [ARGS...]                            CMD in a new sandbox
#   ci/sandbox.sh --join [PID|CLUSTER] [-- CMD [ARGS...]]  a shell (or CMD) in a running sandbox
#   ci/sandbox.sh --list                                   the running sandboxes
#
# The Debian package installs it as minikube-net-sandbox, the usage lines above in that name. Its
# messages name it as it was run, and the binary as the user would type it: minikube-net when it is
# installed beside this script and on PATH.
#
# Inside: a fresh network namespace holding only `lo` (up); private tmpfs mounts on /run/netns and
# /run/minikube-net, so named namespaces and cluster state never appear on the host; its own PID
# namespace, so every process started inside dies with CMD. When CMD exits or is killed, every
# namespace, interface, route and nft rule made inside is gone. Needs root (CAP_SYS_ADMIN).
# Tests, benchmarks and examples run only in here. Exit status: CMD's; 1 when not run as root.
#
# --join is for the second terminal: a terminal opened on the host sees none of a sandbox's
# namespaces, so it enters the sandbox's network, mount and PID namespaces (nsenter) and runs a shell
# there (or CMD), in the current directory, with `minikube-net` on PATH when the sandbox runs it and
# the prompt prefixed "(sandbox:<clusters>) ". The sandbox is the only one running, or the one whose
# pid (as --list prints it) or cluster is named. What runs there dies with the sandbox, like
# everything else in it. Exit status: the shell's (or CMD's); 1 when no sandbox runs, 2 when the one
# meant is unclear. Each sandbox is recorded on the host as /run/minikube-net-sandbox/<pid> (the pid
# of its unshare, its start time, its command): the only file this script leaves on the host, removed
# by the next start, --join or --list once its process is gone. Inside a sandbox that directory is
# private too, so a sandbox started in a sandbox is recorded there.
set -euo pipefail
RECORDS=/run/minikube-net-sandbox
# The name to give in messages: as typed (a path such as ci/sandbox.sh), or the bare name when that
# is what PATH finds (an installed minikube-net-sandbox, which bash sees as /usr/bin/...).
ME=$0
[[ "$(command -v -- "${0##*/}" 2>/dev/null || true)" == "$0" ]] && ME=${0##*/}
# The binary, as the user would type it: minikube-net when installed beside this script and on PATH.
MKN_CMD=build/minikube-net
[[ -x "$(dirname -- "$0")/minikube-net" &&
   "$(command -v minikube-net 2>/dev/null || true)" -ef "$(dirname -- "$0")/minikube-net" ]] && MKN_CMD=minikube-net

usage() {
  echo "usage: $ME CMD [ARGS...]" >&2
  echo "       $ME --join [PID|CLUSTER] [-- CMD [ARGS...]]" >&2
  echo "       $ME --list" >&2
  echo "e.g.:  $ME $MKN_CMD up --shell LAB.toml" >&2
  exit 2
}

# The start time of process $1 in clock ticks since boot (field 22 of /proc/PID/stat; the command
# name before it may hold spaces): with the pid, it tells the sandbox from a later process that got
# the same pid.
start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  local -a f
  read -ra f <<<"${stat##*) }"
  echo "${f[19]}"
}

# Prints the pid of every recorded sandbox that still runs; removes the records of those gone.
live_sandboxes() {
  local rec pid want
  for rec in "$RECORDS"/*; do
    [[ -f "$rec" ]] || continue
    pid=${rec##*/}
    want=$(sed -n 's/^start=//p' "$rec" 2>/dev/null || true)
    if [[ "$pid" =~ ^[0-9]+$ && -n "$want" && "$(start_time "$pid" || true)" == "$want" ]]; then
      echo "$pid"
    else
      rm -f "$rec"
    fi
  done
}

# The sandbox's first process (unshare's child, pid 1 inside), whose namespaces --join enters.
init_of() { awk '{print $1}' "/proc/$1/task/$1/children" 2>/dev/null || true; }

# The clusters whose state the sandbox holds, seen through its init's root (its mount namespace).
clusters_of() {
  local init=$1 d out=""
  for d in "/proc/$init/root/run/minikube-net"/*/; do
    [[ -f "$d/state.json" ]] && out+="${out:+,}$(basename "$d")"
  done
  echo "$out"
}

list() {
  local pid init n=0
  for pid in $(live_sandboxes); do
    init=$(init_of "$pid")
    [[ -n "$init" ]] || continue
    ((n++ == 0)) && printf '%-8s %-24s %s\n' PID CLUSTERS COMMAND
    printf '%-8s %-24s %s\n' "$pid" "$(clusters_of "$init")" "$(sed -n 's/^cmd=//p' "$RECORDS/$pid")"
  done
  ((n > 0)) || echo "no sandbox is running"
}

join() {
  local target="" pid init
  if [[ $# -gt 0 && "$1" != -- ]]; then target=$1; shift; fi
  if [[ $# -gt 0 ]]; then
    [[ "$1" == -- ]] || usage
    shift
  fi
  local -a found=()
  for pid in $(live_sandboxes); do
    init=$(init_of "$pid")
    [[ -n "$init" ]] || continue  # not started yet, or ending
    if [[ -z "$target" || "$target" == "$pid" || "$target" == "$init" ||
          ",$(clusters_of "$init")," == *",$target,"* ]]; then
      found+=("$pid")
    fi
  done
  if [[ ${#found[@]} -eq 0 ]]; then
    if [[ -n "$target" && -n "$(live_sandboxes)" ]]; then
      echo "$ME: no running sandbox has pid or cluster \"$target\":" >&2
      list >&2
      exit 2
    fi
    if [[ "${MKN_IN_SANDBOX:-}" == 1 ]]; then
      echo "$ME: no sandbox is running in this one (this shell is already inside a sandbox)" >&2
    else
      echo "$ME: no sandbox is running (start one with: $ME CMD, e.g. $ME $MKN_CMD up --shell LAB.toml)" >&2
    fi
    exit 1
  fi
  if [[ ${#found[@]} -gt 1 ]]; then
    echo "$ME: several sandboxes are running; name one: $ME --join PID|CLUSTER" >&2
    list >&2
    exit 2
  fi
  pid=${found[0]}
  init=$(init_of "$pid")
  local clusters prefix exe path=$PATH
  clusters=$(clusters_of "$init")
  prefix="(sandbox${clusters:+:$clusters}) "
  # The binary the sandbox runs (up --shell, up): first on PATH, as in the shell `up --shell` opens.
  exe=$(readlink "/proc/$init/exe" 2>/dev/null || true)
  [[ "${exe##*/}" == minikube-net ]] && path="${exe%/*}:$PATH"
  local -a cmd=("$@")
  [[ ${#cmd[@]} -gt 0 ]] || cmd=("${SHELL:-/bin/bash}")
  # PS1 for shells that take it from the environment; bash's rc files usually set their own, so bash
  # also gets a PROMPT_COMMAND that puts the prefix back.
  exec nsenter --target "$init" --net --mount --pid --wdns="$PWD" -- \
    env MKN_IN_SANDBOX=1 PATH="$path" PS1="$prefix${PS1:-# }" \
    PROMPT_COMMAND="[[ \$PS1 == \"$prefix\"* ]] || PS1=\"$prefix\$PS1\"${PROMPT_COMMAND:+; $PROMPT_COMMAND}" \
    "${cmd[@]}"
}

[[ $# -gt 0 ]] || usage
# Every mode needs root: a sandbox is namespaces and mounts (CAP_SYS_ADMIN), --join enters them, and
# the records are root's alone. Said first, instead of a record that could not be written and
# unshare's "Operation not permitted".
if [[ $EUID -ne 0 ]]; then
  echo "$ME: run as root (or with sudo): a sandbox is made of namespaces and mounts, which need CAP_SYS_ADMIN" >&2
  exit 1
fi
case "$1" in
--join) shift; join "$@" ;;
--list) list; exit 0 ;;
esac
if [[ "${MKN_IN_SANDBOX:-}" == 1 ]]; then exec "$@"; fi
# The record --join finds this sandbox by: $$ is unshare's pid once exec'd.
if (umask 077 && mkdir -p "$RECORDS" && live_sandboxes >/dev/null &&
    printf 'start=%s\ncwd=%s\ncmd=%s\n' "$(start_time $$)" "$PWD" "$*" >"$RECORDS/$$") 2>/dev/null; then
  :
else
  echo "$ME: could not record this sandbox in $RECORDS: --join will not find it" >&2
fi
# proxy_mode = "ebpf" makes a cgroup in the machine's cgroup2 tree, mkn-<cluster>-<netns inode in
# hex> (the inode of the namespace `up` runs in: this sandbox's), which no namespace of the sandbox
# holds. Its programs go with the lab's process (nothing is pinned), but when the sandbox ends with
# a lab still up (a failed test, a timeout) the directory would stay: a watcher outside the sandbox
# removes, once it is gone, the empty cgroups named for its netns. Detached from every stream, so
# nothing waits for it.
cgroup2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
if [[ -n "$cgroup2" ]]; then
  # In a session of its own (setsid -f forks it off and returns at once; bash reaps setsid, so
  # unshare's only child stays the sandbox's first process, which --join finds): `timeout`, a
  # terminal's Ctrl-C or a CI runner signals the sandbox's whole process group, and the watcher
  # must outlive exactly that.
  setsid -f bash -c '
      exec </dev/null >/dev/null 2>&1
      sandbox=$1 cgroup2=$2
      ino="" host_ino=$(stat -L -c %i /proc/self/ns/net)
      while kill -0 "$sandbox" 2>/dev/null; do
        # unshare enters the new namespaces itself, then forks the sandbox'"'"'s first process.
        if [[ -z "$ino" && "$(cat "/proc/$sandbox/comm" 2>/dev/null)" == unshare ]]; then
          ino=$(stat -L -c %i "/proc/$sandbox/ns/net" 2>/dev/null || true)
          [[ "$ino" != "$host_ino" ]] || ino=""  # not yet
        fi
        if [[ -n "$ino" ]]; then sleep 0.5; else sleep 0.02; fi
      done
      [[ -n "$ino" ]] || exit 0
      # The sandbox'"'"'s processes die with it, but a cgroup empties only once each of them has
      # exited (slower on a loaded machine): retry for up to 5 s.
      for d in "$cgroup2"/mkn-*-"$(printf %x "$ino")"; do
        for _ in $(seq 50); do
          [[ -d "$d" ]] && ! rmdir "$d" 2>/dev/null || break
          sleep 0.1
        done
      done' sandbox-cgroup-watcher "$$" "$cgroup2" </dev/null >/dev/null 2>&1
fi
exec unshare --net --mount --propagation private --pid --fork --kill-child --mount-proc -- \
  bash -c 'set -e
    mkdir -p /run/netns /run/minikube-net '"$RECORDS"'
    mount -t tmpfs -o mode=755 sandbox-netns /run/netns
    mount -t tmpfs -o mode=755 sandbox-mkn /run/minikube-net
    mount -t tmpfs -o mode=700 sandbox-records '"$RECORDS"'
    ip link set lo up
    export MKN_IN_SANDBOX=1
    exec "$@"' sandbox "$@"
