#!/usr/bin/env bash
# attack/lifecycle.sh — ebpf mode: SIGKILL of `up` at random moments (10x), then `down`; two ebpf
# clusters at once (separate cgroups and maps, no cross-translation); scope (sandbox root netns in the
# cgroup, a pod netns outside it). Run: cd /work/wt-atk16 && ci/sandbox.sh bash attack/lifecycle.sh
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
mount=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
mklab() { # NAME CIDR_SVC
  local f; f=$(mktemp --suffix=.toml)
  sed -e "s/^name = \"svc\"/name = \"$1\"/" -e 's/^proxy_mode = "userspace".*/proxy_mode = "ebpf"/' examples/services/lab.toml >"$f"
  echo "$f"
}
leftovers() { # CLUSTER
  local out=""
  out+=$(ls "$mount" | grep "^mkn-$1-" | sed 's/^/cgroup:/')
  out+=$(bpftool prog show | grep -o 'name mkn_[a-z0-9_]*' | sed 's/^/prog:/')
  out+=$(bpftool map show | grep -o 'name mkn_[a-z_]*' | sed 's/^/map:/')
  out+=$(ls /run/netns | grep "^mkn-$1-" | sed 's/^/netns:/')
  out+=$(ls /sys/fs/bpf 2>/dev/null | sed 's/^/pin:/')
  echo "$out"
}
lab=$(mklab atkk)
for i in $(seq 1 10); do
  d=$(awk -v s=$RANDOM 'BEGIN{srand(s); printf "%.2f", rand()*1.5}')
  "$MKN" up "$lab" >/tmp/atk-up.log 2>&1 & pid=$!
  sleep "$d"; kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
  st=$(jq -r .cgroup /run/minikube-net/atkk/state.json 2>/dev/null)
  "$MKN" down atkk >/tmp/atk-down.log 2>&1; rc=$?
  l=$(leftovers atkk)
  echo "kill at ${d}s: state.cgroup=${st:-none} down rc=$rc left: ${l:-nothing} $(head -c 300 /tmp/atk-down.log | tr '\n' ' ')"
done
for sig in INT TERM; do
  setsid "$MKN" up "$lab" >/tmp/atk-up.log 2>&1 & pid=$!
  for _ in $(seq 1 300); do grep -q "ready in" /tmp/atk-up.log && break; sleep 0.1; done
  kill -$sig $pid; wait $pid; echo "SIG$sig: up rc=$? left: $(leftovers atkk)"
done
# Two clusters at once.
la=$(mklab atka); lb=$(mklab atkb)
sed -i 's/^nodes = 2/nodes = 2\npod_cidr = "10.245.0.0\/16"\nunderlay_cidr = "192.168.251.0\/24"/' "$lb"
"$MKN" up -d "$la" >/dev/null || echo "up atka failed"
"$MKN" up -d "$lb" 2>&1 | tail -2 || echo "up atkb failed"
ca=$(jq -r .cgroup /run/minikube-net/atka/state.json); cb=$(jq -r .cgroup /run/minikube-net/atkb/state.json 2>/dev/null)
echo "cgroups: $ca $cb"
bpftool cgroup tree | grep -c mkn_ | sed 's/^/programs attached in total: /'
bpftool map show | grep -c 'name mkn_services' | sed 's/^/mkn_services maps: /'
# scope: sandbox root netns process in atka's cgroup
out=$(sh -c 'echo 0 >"$1/cgroup.procs"; exec python3 -c "import socket
try: s=socket.create_connection((\"10.96.0.10\",80),timeout=2); print(\"connected\", s.getpeername())
except OSError as e: print(\"errno\", e.errno)"' sh "$ca")
echo "root netns in atka's cgroup -> 10.96.0.10: $out"
out=$(sh -c 'echo 0 >"$1/cgroup.procs"; exec ip netns exec mkn-atka-client python3 -c "import socket
s=socket.create_connection((\"10.96.0.10\",80),timeout=2); print(s.getpeername(), s.recv(0) if False else \"\")"' sh "$ca" 2>&1)
echo "atka client in atka cgroup: $out"
if [[ -n "$cb" && "$cb" != null ]]; then
out=$(sh -c 'echo 0 >"$1/cgroup.procs"; exec ip netns exec mkn-atka-client curl -sS --max-time 2 http://10.96.0.10/' sh "$cb" 2>&1 | head -3)
echo "atka client in atkb's cgroup -> 10.96.0.10: $out"
fi
"$MKN" down atka >/dev/null; "$MKN" down atkb >/dev/null 2>&1
echo "after down both: $(leftovers atka) $(leftovers atkb)"
