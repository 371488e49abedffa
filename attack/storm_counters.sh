#!/usr/bin/env bash
# attack/storm_counters.sh — get svc's NEW against 100 real connects (before and across a scale) and
# a connect storm while pods are killed and scaled (bounded: 8 s, <= 20k connects). MODE=ebpf (default)
# or MODE=nftables (the delta mode). Run: cd /work/wt-atk16 && ci/sandbox.sh bash attack/storm_counters.sh
set -uo pipefail
MKN=${MKN_BIN:-build-h/minikube-net}
MODE=${MODE:-ebpf}
c=atkst
lab=$(mktemp --suffix=.toml)
sed -e "s/^name = \"svc\"/name = \"$c\"/" -e "s/^proxy_mode = \"userspace\".*/proxy_mode = \"$MODE\"/" examples/services/lab.toml >"$lab"
"$MKN" up -d "$lab" >/dev/null || exit 1
CG=$(jq -r '.cgroup // empty' "/run/minikube-net/$c/state.json")
in_pod() {
  local p=$1; shift
  if [[ -n "$CG" ]]; then sh -c 'echo 0 >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" ip netns exec "mkn-$c-$p" "$@"
  else ip netns exec "mkn-$c-$p" "$@"; fi
}
newf() { "$MKN" get svc -c "$c" -o json | jq ".[] | select(.name == \"$1\") | .ports[0].counters.new_flows"; }
b=$(newf web-lc)
in_pod client python3 - <<'PY'
import socket
for i in range(100):
    s = socket.create_connection(("10.96.0.12", 80), timeout=3); s.close()
PY
a=$(newf web-lc); echo "100 connects to web-lc: NEW $b -> $a (want +100)"
"$MKN" scale -c "$c" web 2 >/dev/null
a2=$(newf web-lc); echo "after scale web=2: NEW $a2 (want $a)"
# Storm: a client connecting to 10.96.0.10 in a loop while web pods are killed / scaled.
in_pod client python3 - >/tmp/atk-storm.txt 2>&1 <<'PY' &
import socket, time, errno, collections
end = time.time() + 8; n = 0; errs = collections.Counter(); slow = 0
while time.time() < end and n < 20000:
    t = time.time()
    try:
        s = socket.create_connection(("10.96.0.10", 80), timeout=1); s.close()
    except OSError as e:
        errs[e.errno if e.errno else str(e)] += 1
    if time.time() - t > 0.1: slow += 1
    n += 1
print("connects", n, "errors", dict(errs), "slower than 100ms", slow)
PY
sp=$!
sleep 1
for i in 1 2 3; do "$MKN" kill -c "$c" web-0 >/dev/null; sleep 0.5; "$MKN" scale -c "$c" web 4 >/dev/null; sleep 0.5; "$MKN" scale -c "$c" web 2 >/dev/null; sleep 0.5; done
wait $sp; echo "storm: $(cat /tmp/atk-storm.txt)"
"$MKN" get svc -c "$c"
[[ $MODE == ebpf ]] && echo "mkn_netns entries: $(bpftool -j map dump name mkn_netns | jq length), pods: $("$MKN" get pods -c "$c" | awk '$3 ~ /^[0-9.]+$/' | wc -l)"
[[ $MODE == nftables ]] && "$MKN" resync -c "$c" 2>&1 | tail -2
"$MKN" down "$c" >/dev/null
