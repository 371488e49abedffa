#!/usr/bin/env bash
cd /work/wt-atk && MKN_BIN=$PWD/build-h/minikube-net bash examples/netpol/e2e_test.sh live
