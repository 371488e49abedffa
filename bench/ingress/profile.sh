#!/usr/bin/env bash
# bench/ingress/profile.sh — load-independent costs per request of minikube-net's edge and of nginx, in the
# benchmark's own setup: run it through ingress.sh's profiling hook,
#
#   sudo bench/ingress/ingress.sh --exec 'bench/ingress/profile.sh [https-ka|http-ka|http-new] [strace|callgrind|all]'
#
# http-new sends `Connection: close` on every request (one TCP connection per request, the benchmark's
# new-connection case), so accept, close and the connection's set-up count in the cost per request.
#
# strace     strace -c -f on the minikube-net process (edge and backend) and on nginx's worker at once, during
#            a bounded wrk run (-t1 -c10 -d3s) through each proxy in turn: syscalls per request, proxy +
#            backend, so both columns count the same backend.
# callgrind  nginx (a second one, on 127.0.0.1:7080/7443; its worker is measured) and then minikube-net (the
#            cluster restarted in the foreground) under valgrind --tool=callgrind, each through a short
#            (2 s) and a long (CG_SECONDS, default 12 s) wrk -t1 -c1 run after a warm-up: instructions per
#            request = (Ir long - Ir short) / (requests long - requests short), so start-up, warm-up and
#            the one TLS handshake per run cancel out. nginx: its worker's whole profile (written when
#            it exits); minikube-net: the edge's io thread (the busier of the two threads that run
#            IngressServer's coroutines; the other is the http-echo backend), zeroed and dumped around
#            each run with callgrind_control; its instructions per request by binary follow.
#            Deterministic, so usable on a loaded machine.
# Prints "PROFILE ..." lines; files stay in $OUT/profile.
# Needs what ingress.sh --exec exports: MKN_PID, NGINX_PID, POD_IP, OUT, WRK_CPUS, PROXY_CPUS.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd) BENCH=bench/ingress/profile
. "$ROOT/bench/lib.sh"
CASE=${1:-https-ka} WHAT=${2:-all}
: "${MKN_PID:?run through ingress.sh --exec}" "${OUT:?}" "${NGINX_PID:?}" "${WRK_CPUS:?}" "${PROXY_CPUS:?}"
P="$OUT/profile"
mkdir -p "$P"
case $CASE in
  https-ka) SCHEME=https MKN_PORT=8443 NGINX_PORT=9443 CG_PORT=7443 ;;
  http-ka) SCHEME=http MKN_PORT=8080 NGINX_PORT=9080 CG_PORT=7080 ;;
  http-new) SCHEME=http MKN_PORT=8080 NGINX_PORT=9080 CG_PORT=7080 ;;
  *) echo "profile: unknown case $CASE (https-ka, http-ka, http-new)" >&2; exit 2 ;;
esac
EXTRA=()
[[ $CASE == http-new ]] && EXTRA=(-H 'Connection: close')
MKN="$OUT/minikube-net"
CG_SECONDS=${CG_SECONDS:-12}
answers() { [[ $(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 "$SCHEME://127.0.0.1:$1/") == 200 ]]; }
# wrk_n PORT SECONDS FILE [CONNECTIONS]: a bounded keep-alive run (10 connections unless told);
# prints the number of requests completed.
wrk_n() {
  timeout $(($2 + 30)) taskset -c "$WRK_CPUS" wrk -t1 -c"${4:-10}" -d"$2s" --timeout 10s -s "$HERE/report.lua" \
    -H 'Host: bench.lab' "${EXTRA[@]}" "$SCHEME://127.0.0.1:$1/" >"$3" 2>&1
  sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p' "$3"
}

# by_object FILE REQUESTS: a callgrind profile's own (exclusive) instructions per request by binary.
by_object() {
  awk -v n="$2" '/^ob=/ {ob = substr($0, 4)} /^calls=/ {skip = 1; next}
    /^[0-9+*-]/ {if (skip) {skip = 0; next} c[ob] += $2}
    END {for (o in c) if (c[o] / n >= 1) printf "  %10.0f/req %s\n", c[o] / n, o}' "$1" | sort -rn
}

if [[ $WHAT == strace || $WHAT == all ]]; then
  # nginx's master forks its worker through `ip netns exec`: find the worker among the descendants.
  W=$(ps -o pid=,args= --ppid "$NGINX_PID" | awk '/worker process/ {print $1; exit}')
  [[ -n $W ]] || W=$(ps -eo pid=,args= | awk '/nginx: worker process/ && !/awk/ {print $1; exit}')
  [[ -n $W ]] || { echo "profile: no nginx worker" >&2; exit 1; }
  for who in nginx mkn; do
    port=$NGINX_PORT; [[ $who == mkn ]] && port=$MKN_PORT
    wrk_n "$port" 1 /dev/null >/dev/null  # warm-up: pools filled
    strace -c -f -o "$P/strace.$CASE.$who" -p "$MKN_PID" -p "$W" &
    spid=$!
    sleep 1  # strace attaches to every thread
    n=$(wrk_n "$port" 3 "$P/wrk.strace.$CASE.$who")
    kill -INT "$spid"; wait "$spid" || true
    total=$(awk '$NF == "total" {print $4}' "$P/strace.$CASE.$who")
    echo "PROFILE strace $CASE $who requests=$n syscalls=$total per_request=$(awk -v a="$total" -v b="$n" 'BEGIN {printf "%.2f", a / b}')"
    awk -v n="$n" 'NR > 2 && $NF != "total" && $1 !~ /^-/ {calls = $4; errs = (NF == 6) ? $5 : 0;
      printf "  %-16s %7.2f/req  errors %6.2f/req\n", $NF, calls / n, errs / n}' "$P/strace.$CASE.$who"
  done
fi

if [[ $WHAT == callgrind || $WHAT == all ]]; then
  # Instructions per request = (Ir of a long run - Ir of a short one) / (their difference in requests):
  # start-up, the warm-up and the one TLS handshake of wrk -c1 cancel out.
  N="$OUT/nginx"
  sed -e "s/127.0.0.1:9080/127.0.0.1:7080/; s/127.0.0.1:9443/127.0.0.1:7443/" -e "s#^pid .*#pid $P/nginx-cg.pid;#" \
    -e "s#$N/access.log#$P/access-cg.log#" "$N/nginx.conf" >"$P/nginx-cg.conf"
  # nginx's worker (valgrind follows the fork) runs as nobody and writes its profile when it exits.
  chmod 1777 "$P"; chmod o+x "$OUT"  # (mktemp -d makes $OUT 0700: the worker could not reach $P)
  declare -A NIR NN
  for len in short long; do
    secs=2; [[ $len == long ]] && secs=$CG_SECONDS
    taskset -c "$PROXY_CPUS" "$HERE/inherit-listen" 127.0.0.1:7080,127.0.0.1:7443 -- \
      ip netns exec mkn-ingbench-node1 valgrind --tool=callgrind --compress-strings=no \
      --callgrind-out-file="$P/cg.nginx.$len.%p" nginx -e "$P/error-cg.log" -p "$N" -c "$P/nginx-cg.conf" \
      >"$P/valgrind-nginx.$len.log" 2>&1 &
    vpid=$!
    wait_for 60 answers "$CG_PORT" || { echo "profile: nginx under callgrind does not answer" >&2; kill "$vpid"; exit 1; }
    wrk_n "$CG_PORT" 2 /dev/null 1 >/dev/null
    wpid=$(ps -o pid= --ppid "$vpid" | awk 'NR == 1 {print $1}')
    NN[$len]=$(wrk_n "$CG_PORT" "$secs" "$P/wrk.cg.$CASE.nginx.$len" 1)
    kill -TERM "$vpid"; wait "$vpid" || true
    wait_for 30 test -s "$P/cg.nginx.$len.$wpid" || { echo "profile: no profile of nginx's worker $wpid" >&2; exit 1; }
    NIR[$len]=$(sed -n 's/^summary: //p' "$P/cg.nginx.$len.$wpid" | awk '{print $1}')
  done
  n=$((NN[long] - NN[short])) ir=$((NIR[long] - NIR[short]))
  echo "PROFILE callgrind $CASE nginx requests=$n Ir=$ir per_request=$((ir / n))"

  # minikube-net: the cluster again, in the foreground under callgrind (edge and backend in one process).
  "$MKN" down ingbench >/dev/null 2>&1 || true
  taskset -c "$PROXY_CPUS" valgrind --tool=callgrind --separate-threads=yes --compress-strings=no \
    --callgrind-out-file="$P/cg.mkn.%p" "$MKN" up "$OUT/lab.toml" >"$P/valgrind-mkn.log" 2>&1 &
  vpid=$!
  wait_for 180 answers "$MKN_PORT" || { echo "profile: minikube-net under callgrind does not answer" >&2; kill "$vpid"; exit 1; }
  wrk_n "$MKN_PORT" 2 /dev/null 1 >/dev/null
  declare -A MIR MN MF
  part=0
  for len in short long; do
    secs=2; [[ $len == long ]] && secs=$CG_SECONDS
    callgrind_control -z "$vpid" >/dev/null
    MN[$len]=$(wrk_n "$MKN_PORT" "$secs" "$P/wrk.cg.$CASE.mkn.$len" 1)
    callgrind_control -d "$vpid" >/dev/null
    part=$((part + 1))
    # The edge's thread: of the threads that ran IngressServer's coroutines, the busiest (the other
    # is the http-echo backend's). A request runs in ProxySession (vnet/edge/proxy_session), in
    # IngressServer::Impl::Handle before it (so older trees can be profiled with this script too).
    best=0 bestf=""
    for f in "$P"/cg.mkn."$vpid".$part-*; do
      grep -qE 'edge_internal::ProxySession|IngressServer::Impl::Handle' "$f" || continue
      ir=$(sed -n 's/^summary: //p' "$f" | awk '{print $1}')
      ((ir > best)) && best=$ir bestf=$f
    done
    MIR[$len]=$best MF[$len]=$bestf
  done
  kill -TERM "$vpid"; wait "$vpid" || true
  n=$((MN[long] - MN[short])) ir=$((MIR[long] - MIR[short]))
  echo "PROFILE callgrind $CASE mkn-edge requests=$n Ir=$ir per_request=$((ir / n)) file=${MF[long]}"
  by_object "${MF[long]}" "${MN[long]}"
fi
