#!/usr/bin/env bash
# t4: hostile trace/capture: --pcap/-w into a directory, a FIFO, a long path; two traces at once
# from one source; SIGINT/SIGTERM/SIGKILL of trace and capture mid-run, then down (time, leftovers).
set -u
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
T() { local s=$(date +%s.%N); out=$(timeout 30 "$MKN" "$@" 2>&1); rc=$?; printf '%-70s rc=%-3s %5.2fs | %s\n' "$*" "$rc" "$(echo "$(date +%s.%N) - $s" | bc)" "$(tail -2 <<<"$out" | tr '\n' ' ' | cut -c1-300)"; }
"$MKN" up -d examples/services/lab.toml >/dev/null 2>&1 || { echo up failed; exit 1; }
sed -i 's/^proxy_mode.*/proxy_mode = "nftables"/' /dev/null
D=$(mktemp -d)
echo "== --pcap / -w into a directory, a dir-like name, a long path"
T trace client web-0 --pcap "$D"
T trace client web-0 --pcap "$D" -o json
T trace client web-0 --pcap "$D/"
T trace client web-0 --pcap "$D/$(head -c 300 /dev/zero | tr '\0' a)"
T trace client web-0 --pcap "$D/$(for i in $(seq 30); do printf 'dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd/'; done)x"
T capture client -w "$D" --count 1
T capture client -w "$D/" --count 1
T capture client -w "$D/nodir/x.pcapng" --count 1
T capture client -f 'tcp port 99999' --count 1
T capture client -f 'ether proto \\ip6 and (' --count 1
T capture client -f "$(head -c 70000 /dev/zero | tr '\0' '(')" --count 1
T capture client -s 0 --count 1 --duration 1
T capture client -s -5 --count 1 --duration 1
T capture client --count 0 --duration 1
T capture client --duration 0
T capture client --duration -1
T capture client --duration nan
T capture client --duration 1e308 --count 1
mkfifo "$D/fifo"
echo "== FIFO with a reader that quits early"
( head -c 10 <"$D/fifo" >/dev/null ) & r=$!
T trace client web-0 --pcap "$D/fifo"
wait $r
( head -c 10 <"$D/fifo" >/dev/null ) & r=$!
T capture client -w "$D/fifo" --duration 2
wait $r
echo "== two traces at once from one source"
for proto in icmp tcp; do
  for k in 1 2 3; do
    dst=web-1; [[ $proto == tcp ]] && dst=web-1:8080
    "$MKN" trace client $dst --proto $proto >"$D/a.$k" 2>&1 & a=$!
    "$MKN" trace client $dst --proto $proto >"$D/b.$k" 2>&1 & b=$!
    "$MKN" trace client svc/web >"$D/c.$k" 2>&1 & c=$!
    wait $a; ra=$?; wait $b; rb=$?; wait $c; rc=$?
    echo "$proto round $k: rc $ra $rb $rc | $(tail -1 "$D/a.$k" | cut -c1-90) | $(tail -1 "$D/b.$k" | cut -c1-90) | $(tail -1 "$D/c.$k" | cut -c1-90)"
  done
done
echo "== signals mid-trace (a lost probe waits --timeout 20)"
for sig in INT TERM KILL; do
  "$MKN" trace client 10.244.9.9 --proto tcp --timeout 20 --pcap "$D/sig.pcapng" >"$D/sig.out" 2>&1 & p=$!
  sleep 0.5
  s=$(date +%s.%N); kill -$sig $p; wait $p; rc=$?
  echo "trace SIG$sig: rc=$rc after $(echo "$(date +%s.%N) - $s" | bc)s | $(tail -2 "$D/sig.out" | tr '\n' ' ' | cut -c1-200) | pcap $(stat -c %s "$D/sig.pcapng" 2>/dev/null)"
  rm -f "$D/sig.pcapng"
done
for sig in INT TERM KILL; do
  "$MKN" capture --duration 20 -w "$D/cap.pcapng" >"$D/cap.out" 2>&1 & p=$!
  sleep 0.7
  s=$(date +%s.%N); kill -$sig $p; wait $p; rc=$?
  echo "capture SIG$sig: rc=$rc after $(echo "$(date +%s.%N) - $s" | bc)s | $(tail -1 "$D/cap.out" | cut -c1-150) | tshark: $(tshark -r "$D/cap.pcapng" 2>&1 | tail -1 | cut -c1-100)"
  rm -f "$D/cap.pcapng"
done
echo "== SIGKILL trace and capture, then down at once"
"$MKN" trace client 10.244.9.9 --proto tcp --timeout 20 >/dev/null 2>&1 & p1=$!
"$MKN" capture --duration 20 -w "$D/c2.pcapng" >/dev/null 2>&1 & p2=$!
"$MKN" trace client svc/web --timeout 20 >/dev/null 2>&1 & p3=$!
sleep 0.7
kill -KILL $p1 $p2; 
s=$(date +%s.%N); "$MKN" down svc >"$D/down.out" 2>&1; rc=$?
echo "down rc=$rc in $(echo "$(date +%s.%N) - $s" | bc)s: $(tail -3 "$D/down.out" | tr '\n' ' ')"
wait $p3; echo "trace p3 rc=$?"
echo "left: netns=[$(ls /run/netns)] state=[$(ls -A /run/minikube-net)] links=$(ip -o link | wc -l) procs=[$(ps -e -o comm --no-headers | sort | uniq -c | tr '\n' ' ')]"
