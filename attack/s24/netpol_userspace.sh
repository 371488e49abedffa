#!/usr/bin/env bash
# attack/s24/netpol_userspace.sh: NetworkPolicy judged by the userspace proxy, under attack.
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
D=attack/s24
"$MKN" up -d $D/np.toml >/dev/null 2>&1 || { echo up failed; exit 1; }
p() { ip netns exec mkn-npu-$1 python3 $D/probe.py "${@:2}" 2>&1; }
echo "--- no policy: client tcp $(p client tcp 10.96.0.20 80); bad tcp $(p bad tcp 10.96.0.20 80)"
p client hold 10.96.0.20 80 8 >/tmp/np-hold.log 2>&1 & hp=$!
sleep 1
"$MKN" apply $D/np-allow.toml
echo "--- web-from-clients (TCP named port echo, from role=client)"
echo "client tcp: $(p client tcp 10.96.0.20 80)"
echo "client udp 81 (not listed): $(p client udp 10.96.0.20 81)"
echo "bad tcp: $(p bad tcp 10.96.0.20 80)"
echo "bad udp 81: $(p bad udp 10.96.0.20 81)"
echo "cl-1 tcp: $(p cl-1 tcp 10.96.0.20 80)"
echo "other-0 tcp: $(p other-0 tcp 10.96.0.20 80)"
ping_out=$(ip netns exec mkn-npu-bad ping -c1 -W1 10.96.0.20 2>&1 | tail -2 | tr '\n' ' '); echo "bad icmp to ClusterIP: $ping_out"
"$MKN" apply $D/np-deny.toml; "$MKN" delete netpol web-from-clients
echo "after deny-all replaced allow: client tcp (new): $(p client tcp 10.96.0.20 80)"
"$MKN" delete netpol web-deny
echo "after delete: bad tcp $(p bad tcp 10.96.0.20 80)"
wait $hp; echo "flow held across apply/delete: $(tr '\n' ' ' </tmp/np-hold.log)"
"$MKN" apply $D/np-allow.toml >/dev/null
"$MKN" get pods -o json | jq -r '.[] | "\(.name) \(.node) \(.ip)"' | sed 's/^/  before scale: /'
"$MKN" scale cl 1 >/dev/null; "$MKN" scale other 3 >/dev/null
"$MKN" get pods -o json | jq -r '.[] | "\(.name) \(.node) \(.ip)"' | sed 's/^/  after scale: /'
for o in other-0 other-1 other-2; do echo "$o tcp: $(p $o tcp 10.96.0.20 80)"; done
"$MKN" kill client >/dev/null
echo "client (killed, new ip) tcp: $(p client tcp 10.96.0.20 80)"
"$MKN" kill web-0 >/dev/null
echo "client -> svc after web-0 killed x4: $(for i in 1 2 3 4; do p client tcp 10.96.0.20 80; done | tr '\n' ' ')"
echo "--- flood: bad -> svc 10000 SYNs, 10000 UDP"
"$MKN" get netpol
( p bad flood-syn 10.96.0.20 80 10000 ) & f1=$!
( p bad flood-udp 10.96.0.20 81 10000 ) & f2=$!
sleep 1
t0=$(date +%s%N); r=$(p client tcp 10.96.0.20 80); t1=$(date +%s%N)
echo "client during flood: $r in $(( (t1-t0)/1000000 )) ms"
wait $f1 $f2
"$MKN" get netpol
"$MKN" get proxy
"$MKN" get svc | head -3
echo "trace bad svc/web:80: $(timeout 20 "$MKN" trace bad svc/web:80 --timeout 0.5 2>&1 | tail -1 | cut -c1-250)"
echo "trace bad svc/web:81 udp: $(timeout 20 "$MKN" trace bad svc/web:81 --timeout 0.5 2>&1 | tail -1 | cut -c1-250)"
echo "trace client svc/web:81 (port not allowed): $(timeout 20 "$MKN" trace client svc/web:81 --timeout 0.5 2>&1 | tail -1 | cut -c1-250)"
"$MKN" down npu >/dev/null
