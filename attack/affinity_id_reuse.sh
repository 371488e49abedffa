#!/usr/bin/env bash
# attack/affinity_id_reuse.sh — ebpf mode: a ClientIP-affinity entry outlives its backend id, and the
# id goes to ANOTHER Service's endpoint (lowest free id): the sticky client is sent to the wrong
# Service's pod. Also: the mkn_netns map keeps every killed pod's cookie, and get svc's counters
# reset on every endpoint change. Run: cd /work/wt-atk16 && ci/sandbox.sh bash attack/affinity_id_reuse.sh
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
c=atkaff
lab=$(mktemp --suffix=.toml)
cat >"$lab" <<TOML
[cluster]
name = "$c"
network = "vxlan"
proxy_mode = "ebpf"
nodes = 1
$(for i in 1 2 3 4 5 6; do printf '[[pod]]\nname = "cl%s"\n  [[pod.container]]\n  name = "sh"\n  command = ["sleep", "infinity"]\n' $i; done)
[[deployment]]
name = "a"
replicas = 2
  [deployment.template]
  labels = { app = "a" }
  [[deployment.template.container]]
  name = "echo"
  app = "http-echo"
  ports = [{ name = "http", port = 8080 }]
[[deployment]]
name = "b"
replicas = 1
  [deployment.template]
  labels = { app = "b" }
  [[deployment.template.container]]
  name = "echo"
  app = "http-echo"
  ports = [{ name = "http", port = 8080 }]
[[service]]
name = "sa"
cluster_ip = "10.96.0.10"
selector = { app = "a" }
session_affinity = "ClientIP"
affinity_timeout = 600
  [[service.port]]
  port = 80
  target_port = 8080
[[service]]
name = "sb"
cluster_ip = "10.96.0.20"
selector = { app = "b" }
  [[service.port]]
  port = 80
  target_port = 8080
TOML
"$MKN" up -d "$lab" || exit 1
CG=$(jq -r .cgroup "/run/minikube-net/$c/state.json")
in_pod() { local p=$1; shift; sh -c 'echo 0 >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" ip netns exec "mkn-$c-$p" "$@"; }
hit() { in_pod "$1" curl -sS --max-time 3 "$2" | awk '/^pod: /{print $2}'; }
declare -A stick
for i in 1 2 3 4 5 6; do stick[cl$i]=$(hit cl$i http://10.96.0.10/); echo "cl$i -> sa: ${stick[cl$i]}"; done
echo "--- mkn_backends before"; bpftool map dump name mkn_backends | jq -c '.[] | [.key, .value.addr, .value.port]' 2>/dev/null || bpftool map dump name mkn_backends
"$MKN" scale -c "$c" a 1 && "$MKN" scale -c "$c" b 2
echo "--- after scale a=1, b=2"; "$MKN" get pods -c "$c"
bad=0
for i in 1 2 3 4 5 6; do
  got=$(hit cl$i http://10.96.0.10/)
  echo "cl$i (was ${stick[cl$i]}) -> sa now: $got"
  [[ $got == b-* ]] && bad=$((bad + 1))
done
echo "RESULT: $bad of 6 clients sent by sa (10.96.0.10, selector app=a) to a pod of sb (app=b)"
# Counters: 6 connects to sa; after the scale the count resets.
"$MKN" get svc -c "$c"
echo "--- mkn_netns entries (pods: $("$MKN" get pods -c "$c" | tail -n +2 | wc -l))"
for k in 1 2 3 4 5; do "$MKN" kill -c "$c" b-0 >/dev/null; done
echo "after 5 kills of b-0: mkn_netns holds $(bpftool map dump name mkn_netns | jq length) entries, pods: $("$MKN" get pods -c "$c" | tail -n +2 | wc -l)"
"$MKN" down "$c" >/dev/null
