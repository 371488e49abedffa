#!/usr/bin/env bash
# attack/s24/trace_hostile.sh: trace to the world with hostile names and ports, from every kind of source.
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
"$MKN" up -d examples/world/lab.toml >/dev/null 2>&1 || { echo up failed; exit 1; }
t() { local out rc; out=$(timeout 20 "$MKN" trace "$@" --timeout 0.5 2>&1); rc=$?; echo "== trace $* -> rc=$rc"; echo "$out" | head -${N:-4} | cut -c1-220; }
t client world
t client world:7
t client world:0
t client world:65536
t client world:-1
t client world:80x
t client 'world:'
t client example.test:99999999999999999999
t client EXAMPLE.TEST:80
t client example.test.:80
t client 'example.test:80:80'
t client "$(printf 'a%.0s' {1..300}).example.test"
t client 'ex$ample.test'
t client 'exa mple.test'
t client 203.0.113.2:80 --proto udp
t client 203.0.113.4 --proto icmp
t client 203.0.113.200
t client 203.0.113.1
t client 203.0.113.255
t client 8.8.8.8:53 --proto udp
t client 0.0.0.0
t client 255.255.255.255 --proto udp
t client 127.0.0.1:80
t node1 world:80
t node1 www.example.test:80 --proto udp
t underlay world:80
t underlay example.test
t host world:80
t host example.test
t world client
t world node1
t client http://example.test/
t host http://example.test:80/
t host 'http://[::1]:8080/'
t host 'http://127.0.0.1:99999/'
t host 'http://a@b:c/'
t node1 node1:30080
t client node1:0
t client node1:65535
"$MKN" down outside >/dev/null
