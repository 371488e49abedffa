#!/usr/bin/env bash
# ci/sandbox.sh — run a command in a throw-away network + mount + PID namespace.
#
#   ci/sandbox.sh CMD [ARGS...]
#
# Inside: a fresh network namespace holding only `lo` (up); private tmpfs mounts on /run/netns and
# /run/minikube-net, so named namespaces and cluster state never appear on the host; its own PID
# namespace, so every process started inside dies with CMD. When CMD exits or is killed, every
# namespace, interface, route and nft rule made inside is gone. Needs root (CAP_SYS_ADMIN).
# Tests, benchmarks and examples run only in here. Exit status: CMD's.
set -euo pipefail
if [[ $# -eq 0 ]]; then
  echo "usage: ci/sandbox.sh CMD [ARGS...]" >&2
  exit 2
fi
if [[ "${MKN_IN_SANDBOX:-}" == 1 ]]; then exec "$@"; fi
exec unshare --net --mount --propagation private --pid --fork --kill-child --mount-proc -- \
  bash -c 'set -e
    mkdir -p /run/netns /run/minikube-net
    mount -t tmpfs -o mode=755 sandbox-netns /run/netns
    mount -t tmpfs -o mode=755 sandbox-mkn /run/minikube-net
    ip link set lo up
    export MKN_IN_SANDBOX=1
    exec "$@"' sandbox "$@"
