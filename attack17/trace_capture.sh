#!/usr/bin/env bash
# attack17/trace_capture.sh — hostile words for trace, churn, SIGKILL mid-run, bad --pcap / -w targets.
# Run: cd /work/wt-atk17 && ci/sandbox.sh bash attack17/trace_capture.sh
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
T() { local t0; t0=$(date +%s.%N); timeout 40 "$MKN" "$@" >/dev/shm/a17-o 2>&1; local rc=$?
  printf '%-60s rc=%-3s %5.2fs | %s\n' "$(printf '%q ' "$@" | cut -c1-60)" "$rc" "$(echo "$(date +%s.%N) - $t0" | bc)" "$(tail -c 220 /dev/shm/a17-o | tr '\n' ' ')"; }
"$MKN" up -d examples/services/lab.toml >/dev/null 2>&1 || { echo "up failed"; exit 1; }
fds() { ls /proc/"$1"/fd | wc -l; }
owner=$(jq -r .pid /run/minikube-net/svc/state.json 2>/dev/null)
echo "owner=$owner fds=$(fds "$owner" 2>/dev/null)"
echo "== trace words"
T trace client web-0
T trace "" web-0
T trace client ""
T trace client "$(head -c 100000 /dev/zero | tr '\0' a)"
T trace client $'\xff\xfe'
T trace client $'\xff' -o json
T trace client ☃
T trace client svc/
T trace client svc/:80
T trace client svc/web:0
T trace client svc/web:65536
T trace client svc/web:-1
T trace client svc/web:99999999999999999999999
T trace client web-0:0
T trace client 10.96.0.10:80 --proto sctp
T trace client 10.96.0.10 --proto icmp
T trace node1 web-0
T trace client node1
T trace underlay web-0
T trace host web-0
T trace web-0 web-0
T trace client 127.0.0.1
T trace client 0.0.0.0
T trace client 255.255.255.255
T trace client 10.244.0.0
T trace client http://
T trace client http://127.0.0.1:99999/
T trace host 'http://[::1]:80/'
T trace client web-0 --timeout 0
T trace client web-0 --timeout -1
T trace client web-0 --timeout 1e9
echo "== --pcap targets"
mkfifo /dev/shm/a17-fifo
T trace client web-0 --pcap /dev/full
T trace client web-0 --pcap /dev/shm
T trace client web-0 --pcap /dev/shm/a17-fifo
T trace client web-0 --pcap /proc/version
T trace client web-0 --pcap /nonexistent/dir/x.pcapng
echo "== SIGKILL mid-trace (x5): what is left"
before_ns=$(ls /run/netns | sort); before_procs=$(ps -e --no-headers | wc -l)
for i in 1 2 3 4 5; do
  "$MKN" trace client 10.244.9.9 --proto tcp >/dev/null 2>&1 & p=$!
  sleep 0.$((RANDOM % 4 + 1)); kill -KILL $p; wait $p 2>/dev/null
done
"$MKN" trace client 10.96.0.10:81 >/dev/null 2>&1 & p=$!; sleep 0.3; kill -KILL $p; wait $p 2>/dev/null
sleep 0.5
echo "netns diff: $(diff <(echo "$before_ns") <(ls /run/netns | sort) | tr '\n' ' ')"
echo "procs before=$before_procs after=$(ps -e --no-headers | wc -l)"; ps -e -o pid,ppid,stat,comm | grep -v "ps\|bash\|grep" | tail -n +2 | head -20
echo "owner fds now=$(fds "$owner")"
ss -Hapn | grep -v "LISTEN\|UNCONN.*minikube-net" | head -5
echo "== trace while kill/scale churns the target"
( for i in $(seq 15); do "$MKN" kill web-0 >/dev/null 2>&1; "$MKN" scale web $((i % 3 + 1)) >/dev/null 2>&1; sleep 0.2; done ) & ch=$!
for i in $(seq 8); do T trace client web-0; T trace client svc/web:80; done
wait $ch
"$MKN" scale web 3 >/dev/null
echo "== capture"
T capture -w /dev/full --count 5 client
T capture -w /dev/shm --count 5 client
T capture -w /proc/version --count 5 client
T capture -f 'not a filter (((' --count 5 client
T capture -f '' --count 5 client
T capture nosuchpod --count 5
T capture client:nosuchif --count 5
T capture --count 0 client --duration 1
T capture --count 99999999999999999999 client --duration 1
T capture --count -1 client
T capture --duration -1 client
T capture --duration 1e9 client --count 1 &
sleep 0.3; ip netns exec mkn-svc-client ping -c1 -W1 10.244.1.2 >/dev/null 2>&1; wait
timeout 5 "$MKN" capture client -w /dev/shm/a17-fifo --duration 3 >/dev/shm/a17-cf 2>&1 & cp=$!
sleep 4; kill -0 $cp 2>/dev/null && echo "capture to an unread FIFO still running after 4s (duration 3)"; wait $cp; echo "capture to unread fifo rc=$? $(tail -c 200 /dev/shm/a17-cf)"
# capture while its target is killed
"$MKN" capture web-1 -w /dev/shm/a17-k.pcapng --duration 4 >/dev/shm/a17-ck 2>&1 & cp=$!
sleep 1; ip netns exec mkn-svc-client curl -s --max-time 2 -o /dev/null http://10.96.0.10/; "$MKN" kill web-1 >/dev/null; wait $cp
echo "capture, target killed: rc=$? $(tail -c 300 /dev/shm/a17-ck | tr '\n' ' ') file=$(stat -c %s /dev/shm/a17-k.pcapng 2>/dev/null)"
command -v tshark >/dev/null && tshark -r /dev/shm/a17-k.pcapng 2>&1 | tail -2
# capture -w - into a pipe closed early
timeout 10 "$MKN" capture -w - --duration 5 2>/dev/shm/a17-pe | head -c 100 >/dev/null; echo "capture -w - | head -c 100: rc=${PIPESTATUS[0]} $(tail -c 200 /dev/shm/a17-pe)"
echo "== trace on a cluster being torn down"
"$MKN" trace client svc/web:80 >/dev/shm/a17-td 2>&1 & tp=$!
sleep 0.05; "$MKN" down svc >/dev/null 2>&1; echo "down rc=$?"; wait $tp; echo "trace rc=$? $(tail -c 250 /dev/shm/a17-td | tr '\n' ' ')"
echo "left: $(ls /run/netns) procs: $(ps -e -o comm --no-headers | sort | uniq -c | tr '\n' ' ')"
