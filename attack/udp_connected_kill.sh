#!/usr/bin/env bash
# attack/udp_connected_kill.sh — ebpf mode: a connected UDP socket to a ClusterIP keeps the backend
# connect() picked; kill that pod and the socket keeps sending to the dead address (the other modes
# flush the flow: check_kill_flushes_udp). Run: cd /work/wt-atk16 && ci/sandbox.sh bash attack/udp_connected_kill.sh
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
c=atkudp
lab=$(mktemp --suffix=.toml)
sed -e "s/^name = \"svc\"/name = \"$c\"/" -e 's/^proxy_mode = "userspace".*/proxy_mode = "ebpf"/' \
    -e 's/^\(  *\)app = "udp-echo"$/&\n\1port = 5353/' examples/services/lab.toml >"$lab"
"$MKN" up -d "$lab" >/dev/null || exit 1
CG=$(jq -r .cgroup "/run/minikube-net/$c/state.json")
fifo=$(mktemp -u); mkfifo "$fifo"
sh -c 'echo 0 >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" ip netns exec "mkn-$c-client" python3 -u -c "
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1); s.connect(('10.96.0.53', 53))
def probe():
    try:
        s.send(b'x'); s.recv(64); return 'answered'
    except OSError as e: return 'no answer (%s)' % e
print('before kill:', probe(), flush=True)
sys.stdin.readline()
for i in range(3): print('after kill, try', i, ':', probe(), flush=True); time.sleep(0.3)
" <"$fifo" & py=$!
exec 9>"$fifo"
sleep 1.5
# Which dns pod does the socket talk to? The revnat entry's backend address.
for p in dns-0 dns-1; do ip=$("$MKN" get pods -c "$c" | awk -v p=$p '$1==p {print $3}'); echo "$p: $ip"; done
victim=$(ip netns exec "mkn-$c-client" ss -uan | awk '$5 ~ /^10\.244/ {print $5}' | head -1)
echo "client's socket peer (kernel view): $victim"
vip=${victim%:*}
pod=$("$MKN" get pods -c "$c" | awk -v ip="$vip" '$3==ip {print $1}')
"$MKN" kill -c "$c" "$pod" >/dev/null && echo "killed $pod"
echo >&9; wait $py
"$MKN" down "$c" >/dev/null
