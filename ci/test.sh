#!/usr/bin/env bash
# ci/test.sh — build, then run every test tier (unit, netns, e2e) with ctest inside ci/sandbox.sh.
#
#   ci/test.sh                 everything
#   ci/test.sh -L unit         one tier (labels: unit, netns, e2e); other ctest flags pass through
#
# Needs root for the netns and e2e tiers. Under CI=true a privileged test that would skip fails instead.
#
# Tests run in parallel (ctest -j, MKN_TEST_JOBS, default 2 per core), which is safe because nothing
# is shared between two of them but the CPU (CONTRIBUTING.md "CI time budget"):
#   - every e2e case and every netns test re-executes itself in a sandbox of its own (own network,
#     mount and PID namespaces, private /run/netns and /run/minikube-net), so cluster names, ports,
#     state and processes cannot meet; each node's CNI files are an overlay in its own state; the
#     ebpf cgroups carry the sandbox's netns inode in their name; temporary files come from mktemp;
#   - the unit tests touch no namespace, and their sockets are on port 0 or in temporary directories;
#   - what times itself in hundreds of milliseconds runs alone (RUN_SERIAL: e2e.control,
#     e2e.bgp_routing, RunPlugin.OverheadPerCallOfTrue: examples/CMakeLists.txt, mkn_run_serial);
#   - vnet/ebpf's netns tests count every BPF program of the machine, which the ebpf-mode cases
#     (e2e.svc_ebpf, e2e.trace_svc_ebpf) load: they hold RESOURCE_LOCK bpf, one at a time;
#   - the costliest cases start first (COST in examples/CMakeLists.txt: a fresh machine has no
#     CTestCostData.txt), so the 50 s churn does not start last.
# MKN_TEST_JOBS=1 runs them one at a time, as before.
set -euo pipefail
cd "$(dirname "$0")/.."
# Warnings are errors here (ci/lint.sh's fourth rule); configuring an existing build dir again is cheap.
# The flags are ci/setup.sh's (the same build dir: other flags would rebuild it).
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMKN_WERROR=ON -DMKN_TESTS=ON -DMKN_DEBUG_INFO=lines >/dev/null
cmake --build build -j"$(nproc)"
jobs=${MKN_TEST_JOBS:-$(($(nproc) * 2))}
exec ci/sandbox.sh ctest --test-dir build --output-on-failure --timeout 600 -j"$jobs" "$@"
