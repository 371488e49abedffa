#!/usr/bin/env bash
# t5: SIGINT/SIGTERM/SIGKILL of a trace waiting for a lost probe (node1's route to node2's pods
# removed), its --pcap, then `down` while more traces wait: time, exit codes, leftovers.
set -u
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
mode=${1:-nftables}
sed "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" examples/services/lab.toml > /tmp/t5.toml
"$MKN" up -d /tmp/t5.toml >/dev/null 2>&1 || { echo up failed; exit 1; }
D=$(mktemp -d)
ip netns exec mkn-svc-node1 ip route del 10.244.1.0/24
for dst in web-0 svc/web node2:30080; do
for sig in INT TERM KILL; do
  env --default-signal=INT "$MKN" trace client $dst --timeout 20 --pcap "$D/sig.pcapng" >"$D/sig.out" 2>&1 & p=$!
  sleep 0.6
  s=$(date +%s.%N); kill -$sig $p; wait $p 2>/dev/null; rc=$?
  printf 'trace client %-12s SIG%-4s rc=%-3s after %.3fs | %s | pcap %s\n' "$dst" "$sig" "$rc" "$(echo "$(date +%s.%N) - $s" | bc)" "$(tail -2 "$D/sig.out" | tr '\n' ' ' | cut -c1-160)" "$(stat -c %s "$D/sig.pcapng" 2>/dev/null || echo none)"
  rm -f "$D/sig.pcapng"
done
done
# the trace's client socket/conntrack left behind?
echo "conntrack node1 after: $(ip netns exec mkn-svc-node1 conntrack -L 2>/dev/null | grep -c 10.244.0.2)"
echo "sockets in client: $(ip netns exec mkn-svc-client ss -tanp | tail -n +2 | wc -l)"
echo "== down while 3 traces wait (web-1 lost, svc/web, node2:30080)"
"$MKN" trace client web-1 --timeout 30 >"$D/w1" 2>&1 & a=$!
"$MKN" trace client svc/web --timeout 30 >"$D/w2" 2>&1 & b=$!
"$MKN" trace client node2:30080 --timeout 30 >"$D/w3" 2>&1 & c=$!
sleep 0.6
s=$(date +%s.%N); "$MKN" down svc >"$D/down" 2>&1; rc=$?
echo "down rc=$rc $(echo "$(date +%s.%N) - $s" | bc)s: $(tail -2 "$D/down" | tr '\n' ' ')"
for x in $a $b $c; do s=$(date +%s.%N); wait $x; echo "trace rc=$? waited $(echo "$(date +%s.%N) - $s" | bc)s"; done
for f in w1 w2 w3; do echo "$f: $(tail -1 $D/$f | cut -c1-250)"; done
echo "left: netns=[$(ls /run/netns)] state=[$(ls -A /run/minikube-net)] links=$(ip -o link | wc -l) procs=[$(ps -e -o comm --no-headers | sort | uniq -c | tr '\n' ' ')]"
