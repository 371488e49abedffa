#!/usr/bin/env bash
cd /work/wt-atk && CI=true build-h/vnet/kernel/process_netns_test --gtest_brief=1 2>&1 | tail -12
