#!/usr/bin/env bash
# ci/test.sh — build, then run every test tier (unit, netns, e2e) with ctest inside ci/sandbox.sh.
#
#   ci/test.sh                 everything
#   ci/test.sh -L unit         one tier (labels: unit, netns, e2e); other ctest flags pass through
#
# Needs root for the netns and e2e tiers. Under CI=true a privileged test that would skip fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."
# Warnings are errors here (ci/lint.sh's fourth rule); configuring an existing build dir again is cheap.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMKN_WERROR=ON -DMKN_TESTS=ON >/dev/null
cmake --build build -j"$(nproc)"
exec ci/sandbox.sh ctest --test-dir build --output-on-failure --timeout 600 "$@"
