#!/usr/bin/env bash
# attack/s24/teardown.sh MODE [LEAVE]: SIGKILL the owner with TCP connections in many states (to a
# ClusterIP, a pod, a NodePort, the world, kube-dns over TCP, through the edge), kill the clients
# (their sockets become orphans), then `down`: how long, what is reported, what is left.
# LEAVE=1: also leave a user's `sleep` in the web-0 pod (must be reported, not killed).
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
MODE=${1:-userspace}; LEAVE=${2:-0}
C=td${MODE:0:4}
lab=$(mktemp --suffix=.toml)
sed -e "s/^name = \"svc\"/name = \"$C\"/" -e "s/^proxy_mode = \"userspace\"/proxy_mode = \"$MODE\"/" examples/services/lab.toml >"$lab"
cat >>"$lab" <<'EOT'

[[ingress]]
name = "site"
default_backend = { service = "web", port = 80 }
EOT
"$MKN" up -d "$lab" >/tmp/td-up.log 2>&1 || { echo "up failed"; cat /tmp/td-up.log; exit 1; }
owner=$(jq -r .pid /run/minikube-net/$C/state.json)
dnsip=$("$MKN" get svc -A -o json | jq -r '.[] | select(.name|endswith("kube-dns")) | .cluster_ip' 2>/dev/null | head -1)
n1=$("$MKN" get nodes -o json | jq -r ".[0].underlay_ip")
webip=$("$MKN" get pods -o json | jq -r '.[] | select(.name=="web-0") | .ip')
echo "mode=$MODE owner=$owner kube-dns=$dnsip node1=$n1 web-0=$webip"
ip netns exec mkn-$C-client python3 attack/s24/holder.py idle:10.96.0.10:80 http:10.96.0.10:80 shutwr:10.96.0.10:80 \
  bulk:10.96.0.10:80 idle:$webip:8080 bulk:$webip:8080 http:$n1:30080 idle:203.0.113.2:7 bulk:203.0.113.2:7 \
  http:203.0.113.2:80 idle:$dnsip:53 >/tmp/td-holder.log 2>&1 & hp=$!
python3 attack/s24/holder.py http:127.0.0.1:8080 bulk:127.0.0.1:8080 >/tmp/td-edge.log 2>&1 & ep=$!
if [[ $LEAVE == 1 ]]; then ip netns exec mkn-$C-web-0 sleep 3600 & lp=$!; fi
sleep 2
cat /tmp/td-holder.log /tmp/td-edge.log | sed 's/^/  /'
kill -KILL $owner; sleep 0.3
ip netns exec mkn-$C-client python3 attack/s24/holder.py synsent:10.96.0.10:80 synsent:203.0.113.3:80 >/tmp/td-h2.log 2>&1 & hp2=$!
sleep 0.5
kill -KILL $hp $ep $hp2; wait $hp $ep $hp2 2>/dev/null
sleep 0.2
for ns in $(ls /run/netns | grep "^mkn-$C-"); do
  n=$(ip netns exec $ns ss -tanH 2>/dev/null | grep -vc LISTEN)
  echo "  $ns: $n tcp sockets: $(ip netns exec $ns ss -tanH | grep -v LISTEN | awk '{print $1}' | sort | uniq -c | tr -s ' \n' ' ')"
done
t0=$(date +%s%N)
"$MKN" down $C >/tmp/td-down.log 2>&1; rc=$?
t1=$(date +%s%N)
echo "down rc=$rc in $(( (t1-t0)/1000000 )) ms:"; sed 's/^/  /' /tmp/td-down.log
echo "left: $(ls /run/netns | tr '\n' ' ') $(ip -o link | grep -v ' lo:' | awk '{print $2}' | tr '\n' ' ')"
if [[ $LEAVE == 1 ]]; then
  kill -0 $lp 2>/dev/null && echo "user's sleep $lp: still running (good)" || echo "user's sleep $lp: KILLED"
  kill $lp; wait $lp 2>/dev/null; sleep 1
  "$MKN" down $C 2>&1 | sed 's/^/  second down: /'
  echo "left after second down: $(ls /run/netns | tr '\n' ' ')"
fi
ss -tanH | grep -v LISTEN | awk '{print "  sandbox root netns: "$0}' | head -5
