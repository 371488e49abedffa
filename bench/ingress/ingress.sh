#!/usr/bin/env bash
# bench/ingress/ingress.sh — minikube-net's ingress against nginx as a reverse proxy to the same pod, in the
# same run, on the same cores, with wrk.
#
#   bench/ingress/ingress.sh [--nginx-only | --calibrate] [--quick] [-d SECONDS] [-c CONNECTIONS]
#                            [--proxy-cpus LIST] [--wrk-cpus LIST] [--exec CMD]
#
# What is measured. labs/ingress.toml: one http-echo pod on node1; minikube-net's listeners on
# 127.0.0.1:8080 (HTTP) and :8443 (HTTPS) route every request straight to the pod (upstream =
# "endpoints"). nginx is configured as the same reverse proxy: 127.0.0.1:9080 and :9443, proxy_pass to
# the pod IP with an upstream keep-alive pool, the same certificate (made by `minikube-net cert`), the
# same forwarding headers (X-Forwarded-*, Forwarded, Via) and an access log (minikube-net keeps one).
# Four cases, each through both proxies, A-B-B-A (nginx, minikube-net, minikube-net, nginx), median:
#   http  keep-alive       wrk -c50 on persistent connections
#   http  new connection   the same with `Connection: close`: one TCP connection per request
#   https keep-alive       TLS once per connection, then requests
#   https new connection   one full TLS handshake per request: req/s = handshakes/s. wrk resumes TLS
#                          sessions when the server offers tickets, so both servers run without them
#                          (an OPENSSL_CONF with NumTickets = 0 and -SessionTicket for both processes, and
#                          nginx's ssl_session_cache/ssl_session_tickets off); openssl s_client checks that
#                          neither resumes, and nginx's access log ($ssl_session_reused) counts none.
# Targets: req/s >= 1.0x nginx and p99 <= 1.2x nginx in every case; TLS handshakes/s >= 0.9x.
#
# Where each piece runs, and why it is the same path for both. The sandbox's own netns (where
# minikube-net runs) cannot reach pod IPs: only a node can. minikube-net listens in the sandbox's netns
# and opens its upstream connections inside node1's netns. nginx is made to do exactly that:
# inherit-listen opens nginx's listening sockets in the sandbox's netns, then execs `ip netns exec
# mkn-ingbench-node1 nginx` with them (nginx's binary-upgrade socket handover, NGINX=fd;), so nginx's
# listeners sit next to minikube-net's on the sandbox loopback while nginx itself, and every upstream
# connection it opens, lives in node1's netns. wrk runs in the sandbox's netns against 127.0.0.1 for both:
# same client, same loopback, same veth hop node1 -> pod, same backend (the http-echo app, served by the
# minikube-net process).
#
# Cores: --proxy-cpus (default: the first half of the CPUs, CPU 0 on a 2-CPU machine) for minikube-net
# (all its threads: the ingress and the http-echo backend) and for nginx (worker_processes = that many
# CPUs; the backend is still minikube-net's, on the same CPUs); --wrk-cpus (default: the rest) for wrk,
# one wrk thread per CPU. Both proxies are pinned with taskset to the same set.
#
# --nginx-only: no [[listener]]/[[http_route]] in the lab and only nginx measured (works before the
# ingress server exists; no verdicts). Without it the run stops with an error when minikube-net's
# listeners do not answer.
# --calibrate: an A/A run: a second, identical nginx takes minikube-net's place on 8080/8443. Its ratios
# show how much this machine's noise alone moves them (a loaded 2-CPU machine: several percent with
# --quick); verdicts are printed but the exit status is 0.
#
# --exec CMD: set everything up as for a run, then run CMD (bash -c, in the sandbox) instead of the wrk
# cases, for profiling (strace, perf, callgrind) against both proxies in one setup. CMD gets MKN_PID
# (the minikube-net process: edge and backend), NGINX_PID (nginx's master; its worker is its child),
# POD_IP, OUT, WRK_CPUS, PROXY_CPUS; minikube-net on 127.0.0.1:8080/8443, nginx on :9080/9443. The
# exit status is CMD's.
#
# Runs only inside ci/sandbox.sh (it re-executes itself there). Needs root. Every wait has a deadline,
# every wrk run is bounded (-d, plus timeout), nginx is started and stopped by PID, its config, pid
# file and logs are in the output directory.
# Environment: MKN_BIN (default build/minikube-net), BENCH_OUT (default a fresh /tmp/mkn-bench-ingress.*).
# Exit status: 0 when every target is met (or --nginx-only), 3 when one is missed, 1 on an error.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/ingress"
BENCH=bench/ingress
. "$ROOT/bench/lib.sh"
bench_sandbox "$@"

usage() { sed -n '4,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
NGINX_ONLY=0 CALIBRATE=0 EXEC="" T=5 CONNS=50 REPS=(A B B A)
NCPU=$(nproc)
if ((NCPU >= 4)); then PROXY_CPUS="0-$((NCPU / 2 - 1))" WRK_CPUS="$((NCPU / 2))-$((NCPU - 1))"
elif ((NCPU >= 2)); then PROXY_CPUS=0 WRK_CPUS=1
else PROXY_CPUS=0 WRK_CPUS=0; fi
while (($#)); do
  case $1 in
    --nginx-only) NGINX_ONLY=1 ;;
    --calibrate) CALIBRATE=1 ;;
    --quick) T=2 REPS=(A B) ;;
    -d) T=${2:?}; shift ;;
    -c) CONNS=${2:?}; shift ;;
    --proxy-cpus) PROXY_CPUS=${2:?}; shift ;;
    --wrk-cpus) WRK_CPUS=${2:?}; shift ;;
    --exec) EXEC=${2:?}; shift ;;
    -h|--help) usage ;;
    *) echo "bench/ingress: unknown argument $1" >&2; usage ;;
  esac
  shift
done
((NGINX_ONLY)) && REPS=(A A)
((NGINX_ONLY && CALIBRATE)) && { echo "bench/ingress: --nginx-only and --calibrate exclude each other" >&2; exit 2; }
B_NAME=minikube-net; ((CALIBRATE)) && B_NAME="nginx B"
[[ $T =~ ^[0-9]+$ && $T -ge 1 && $T -le 60 ]] || { echo "bench/ingress: -d wants 1..60 seconds" >&2; exit 2; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
cpu_count() {  # cpu_count "0-1,3" -> 3
  tr ',' '\n' <<<"$1" | awk -F- '{n += ($2 == "" ? 1 : $2 - $1 + 1)} END {print n}'
}

MKN=${MKN_BIN:-$ROOT/build/minikube-net}
[[ -x "$MKN" ]] || die "no $MKN: build first (cmake --build build -j2), or set MKN_BIN"
for t in wrk nginx curl taskset perl openssl; do
  command -v "$t" >/dev/null || die "no $t: run ci/setup.sh (Debian packages wrk, nginx-light, curl)"
done
OUT=${BENCH_OUT:-$(mktemp -d /tmp/mkn-bench-ingress.XXXXXX)}
mkdir -p "$OUT/nginx"
cp "$MKN" "$OUT/minikube-net"
MKN="$OUT/minikube-net"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
CLUSTER=ingbench NODE_NS=mkn-ingbench-node1
PROXY_N=$(cpu_count "$PROXY_CPUS") WRK_N=$(cpu_count "$WRK_CPUS")
((CONNS >= WRK_N)) || die "-c $CONNS: wrk needs at least one connection per thread ($WRK_N)"

NGINX_PID="" NGINX_B_PID=""
stop_pid() {  # stop_pid PID: TERM, then KILL after 5 s
  [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1" 2>/dev/null || true
  wait_for 5 bash -c "! kill -0 $1" || kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
  stop_pid "$NGINX_PID"
  stop_pid "$NGINX_B_PID"
  "$MKN" down "$CLUSTER" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "bench/ingress: $NCPU CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "minikube-net: $("$MKN" --version 2>/dev/null | head -1 || echo '?'), tree at $COMMIT; $(nginx -v 2>&1); wrk $(wrk -v 2>&1 | awk 'NR==1 {print $2}')"
echo "proxies on CPUs $PROXY_CPUS (nginx worker_processes $PROXY_N), wrk on CPUs $WRK_CPUS (-t$WRK_N -c$CONNS -d${T}s)"

# --- the lab and the certificate -----------------------------------------------------------------------
log "certificate (minikube-net cert) and cluster"
"$MKN" cert --dir "$OUT/certs" --name bench bench.lab 127.0.0.1 >"$OUT/cert.log" 2>&1 || die "cert failed: $(cat "$OUT/cert.log")"
if ((NGINX_ONLY || CALIBRATE)); then
  sed '/^# --- edge/,$d' "$HERE/labs/ingress.toml" >"$OUT/lab.toml"
else
  cp "$HERE/labs/ingress.toml" "$OUT/lab.toml"
fi
# Both servers: no session tickets, so every new TLS connection is a full handshake (see the header).
cat >"$OUT/openssl-no-tickets.cnf" <<'EOF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
NumTickets = 0
Options = -SessionTicket
EOF
export OPENSSL_CONF="$OUT/openssl-no-tickets.cnf"
taskset -c "$PROXY_CPUS" "$MKN" up -d "$OUT/lab.toml" >"$OUT/up.log" 2>&1 || die "up failed: $(cat "$OUT/up.log")"
POD_IP=$("$MKN" get pods -c "$CLUSTER" | awk '$1=="echo" {print $3}')
[[ -n "$POD_IP" ]] || die "no IP for pod echo: $("$MKN" get pods -c "$CLUSTER" 2>&1)"
wait_for 10 ip netns exec "$NODE_NS" curl -sf --max-time 1 "http://$POD_IP:8080/" ||
  die "the echo pod does not answer on $POD_IP:8080 from $NODE_NS"

# --- nginx: listeners in the sandbox's netns, process (and upstream connections) in node1's -------------
N="$OUT/nginx"
mkdir -p "$N/tmp"
cat >"$N/nginx.conf" <<EOF
# Written by bench/ingress/ingress.sh: a reverse proxy to the echo pod, the same job as minikube-net's
# listeners. Listening sockets are inherited (NGINX env) from the sandbox's netns.
daemon off;
master_process on;
worker_processes $PROXY_N;
pid $N/nginx.pid;
error_log $N/error.log notice;
events { worker_connections 4096; }
http {
  client_body_temp_path $N/tmp/body;
  proxy_temp_path $N/tmp/proxy;
  fastcgi_temp_path $N/tmp/fastcgi;
  uwsgi_temp_path $N/tmp/uwsgi;
  scgi_temp_path $N/tmp/scgi;
  # One line per request, as minikube-net's access log; \$ssl_session_reused proves every https-new
  # request was a full handshake.
  log_format bench '\$time_iso8601 \$remote_addr \$host "\$request" \$status \$upstream_addr \$upstream_response_time \$ssl_session_reused';
  access_log $N/access.log bench buffer=64k flush=1s;
  # Keep-alive cases keep their connections for the whole run (nginx's default closes after 1000).
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  upstream echo_pod {
    server $POD_IP:8080;
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:9080;
    listen 127.0.0.1:9443 ssl;
    server_name bench.lab;
    ssl_certificate $OUT/certs/bench.crt;
    ssl_certificate_key $OUT/certs/bench.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
    location / {
      proxy_pass http://echo_pod;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$host;
      proxy_set_header Forwarded "for=\$remote_addr;proto=\$scheme;host=\$host;by=\$server_addr:\$server_port";
      proxy_set_header Via "1.1 nginx";
    }
  }
}
EOF
log "nginx: $N/nginx.conf"
taskset -c "$PROXY_CPUS" "$HERE/inherit-listen" 127.0.0.1:9080,127.0.0.1:9443 -- \
  ip netns exec "$NODE_NS" nginx -e "$N/error.log" -p "$N" -c "$N/nginx.conf" >"$N/stdout.log" 2>&1 &
NGINX_PID=$!
probe() {  # probe PORT SCHEME: 200 through that listener, certificate verified against the lab CA
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$OUT/certs/ca.pem" \
        --resolve "bench.lab:$1:127.0.0.1" "$2://bench.lab:$1/") == 200 ]]
}
wait_for 10 probe 9080 http && wait_for 5 probe 9443 https ||
  die "nginx does not answer on 127.0.0.1:9080/9443: $(tail -5 "$N/error.log" "$N/stdout.log" 2>/dev/null)"
grep -q "using inherited sockets" "$N/error.log" ||
  die "nginx did not take the sandbox's listening sockets (see $N/error.log)"

if ((CALIBRATE)); then
  log "calibration: a second nginx on 127.0.0.1:8080/8443 in minikube-net's place"
  sed -e 's/127.0.0.1:9080/127.0.0.1:8080/; s/127.0.0.1:9443/127.0.0.1:8443/' -e "s#^pid .*#pid $N/nginx-b.pid;#" \
    -e "s#$N/access.log#$N/access-b.log#" "$N/nginx.conf" >"$N/nginx-b.conf"
  taskset -c "$PROXY_CPUS" "$HERE/inherit-listen" 127.0.0.1:8080,127.0.0.1:8443 -- \
    ip netns exec "$NODE_NS" nginx -e "$N/error-b.log" -p "$N" -c "$N/nginx-b.conf" >"$N/stdout-b.log" 2>&1 &
  NGINX_B_PID=$!
fi
if ((!NGINX_ONLY)); then
  wait_for 10 probe 8080 http ||
    die "minikube-net's ingress does not answer on http://127.0.0.1:8080/ (HTTP 200 expected: is the ingress server built in? see '$MKN logs ingress -c $CLUSTER' and $OUT/up.log; --nginx-only measures nginx alone)"
  wait_for 5 probe 8443 https ||
    die "minikube-net's ingress does not answer on https://bench.lab:8443/ with the lab certificate (curl --cacert $OUT/certs/ca.pem)"
fi

# resumes PORT: "Reused" or "New" for a second connection offered the first one's session.
resumes() {
  local req=$'GET / HTTP/1.1\r\nHost: bench.lab\r\nConnection: close\r\n\r\n'
  rm -f "$OUT/session-$1.pem"
  env -u OPENSSL_CONF timeout 5 openssl s_client -quiet -connect "127.0.0.1:$1" -servername bench.lab \
    -sess_out "$OUT/session-$1.pem" <<<"$req" >/dev/null 2>&1 || true
  [[ -s "$OUT/session-$1.pem" ]] || { echo "no-session"; return; }
  env -u OPENSSL_CONF timeout 5 openssl s_client -connect "127.0.0.1:$1" -servername bench.lab \
    -sess_in "$OUT/session-$1.pem" <<<"$req" 2>/dev/null | awk '/^(New|Reused),/ {sub(",", "", $1); print $1; exit}'
}
declare -A RESUMES
RESUMES[nginx]=$(resumes 9443)
((NGINX_ONLY)) || RESUMES[mkn]=$(resumes 8443)
for p in "${!RESUMES[@]}"; do
  [[ ${RESUMES[$p]} != Reused ]] || die "$p resumed a TLS session: https new-connection runs would not be full handshakes"
done

if [[ -n $EXEC ]]; then
  MKN_PID=$(sed -n 's/.*running in the background as pid \([0-9]*\).*/\1/p' "$OUT/up.log")
  [[ -n $MKN_PID ]] || die "no minikube-net pid in $OUT/up.log"
  log "--exec: $EXEC"
  set +e
  MKN_PID=$MKN_PID NGINX_PID=$NGINX_PID POD_IP=$POD_IP OUT=$OUT WRK_CPUS=$WRK_CPUS PROXY_CPUS=$PROXY_CPUS \
    bash -c "$EXEC"
  exit $?
fi

# --- wrk -------------------------------------------------------------------------------------------------
# run_wrk FILE URL [wrk args]: one bounded run from the sandbox's netns; its RESULT line goes to FILE.
run_wrk() {
  local file=$1 url=$2; shift 2
  timeout $((T + 20)) taskset -c "$WRK_CPUS" wrk -t"$WRK_N" -c"$CONNS" -d"${T}s" --timeout 2s \
    -s "$HERE/report.lua" -H 'Host: bench.lab' "$@" "$url" >"$file.log" 2>&1 ||
    die "wrk failed on $url: $(tail -3 "$file.log")"
  grep '^RESULT' "$file.log" >"$file" || die "wrk printed no result for $url (see $file.log)"
}
field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$1"; }  # field FILE KEY

CASES=(http-ka http-new https-ka https-new)
declare -A URL=([http]=http://127.0.0.1:PORT/ [https]=https://127.0.0.1:PORT/)
declare -A PORT=([nginx,http]=9080 [nginx,https]=9443 [mkn,http]=8080 [mkn,https]=8443)

log "warm-up, 1 s per proxy and scheme"
for p in nginx mkn; do
  ((NGINX_ONLY)) && [[ $p == mkn ]] && continue
  for s in http https; do
    timeout 20 taskset -c "$WRK_CPUS" wrk -t1 -c"$WRK_N" -d1s "${URL[$s]/PORT/${PORT[$p,$s]}}" >/dev/null 2>&1 || true
  done
done

declare -A RPS P99 ERR
for c in "${CASES[@]}"; do
  s=${c%%-*}
  i=0
  for order in "${REPS[@]}"; do
    p=nginx; [[ $order == B ]] && p=mkn
    i=$((i + 1))
    log "$c via $p ($i/${#REPS[@]})"
    extra=()
    [[ $c == *-new ]] && extra=(-H 'Connection: close')
    run_wrk "$OUT/wrk-$c-$p-$i" "${URL[$s]/PORT/${PORT[$p,$s]}}" "${extra[@]}"
  done
  for p in nginx mkn; do
    files=()
    for f in "$OUT/wrk-$c-$p-"[0-9]; do [[ -e $f ]] && files+=("$f"); done
    ((${#files[@]})) || continue
    RPS[$c,$p]=$(for f in "${files[@]}"; do field "$f" rps; done | median)
    P99[$c,$p]=$(for f in "${files[@]}"; do field "$f" p99_us; done | median)
    ERR[$c,$p]=$(for f in "${files[@]}"; do
      awk '{for (i = 2; i <= NF; i++) if ($i ~ /^(connect|read|write|status|timeout)=/) {split($i, kv, "="); n += kv[2]}} END {print n + 0}' "$f"
    done | awk '{n += $1} END {print n}')
  done
done

# Every https-new request through nginx must have been a full handshake (no session reuse).
# nginx writes its buffered access log when it exits: stop it gracefully (QUIT) first.
kill -QUIT "$NGINX_PID" 2>/dev/null || true
wait_for 10 bash -c "! kill -0 $NGINX_PID" || die "nginx (PID $NGINX_PID) did not stop"
NGINX_PID=""
stop_pid "$NGINX_B_PID"
NGINX_B_PID=""
REUSED=$(awk '$NF == "r"' "$N/access.log" | wc -l)

# --- report -----------------------------------------------------------------------------------------------
ms() { awk -v u="$1" 'BEGIN {printf "%.2f", u / 1000}'; }
echo
printf '%-24s %12s %10s   %12s %10s   %8s %8s\n' "case (wrk -c$CONNS)" "nginx req/s" "p99 ms" "${B_NAME/minikube-net/mkn} req/s" "p99 ms" "req/s x" "p99 x"
for c in "${CASES[@]}"; do
  label=${c/-ka/ keep-alive}; label=${label/-new/ new conn}
  if ((NGINX_ONLY)); then
    printf '%-24s %12.0f %10s   %12s %10s   %8s %8s\n' "$label" "${RPS[$c,nginx]}" "$(ms "${P99[$c,nginx]}")" - - - -
  else
    printf '%-24s %12.0f %10s   %12.0f %10s   %8s %8s\n' "$label" "${RPS[$c,nginx]}" "$(ms "${P99[$c,nginx]}")" \
      "${RPS[$c,mkn]}" "$(ms "${P99[$c,mkn]}")" "$(ratio "${RPS[$c,mkn]}" "${RPS[$c,nginx]}")" \
      "$(ratio "${P99[$c,mkn]}" "${P99[$c,nginx]}")"
  fi
done
echo "socket/status errors (all runs): $(for c in "${CASES[@]}"; do printf '%s nginx %s' "$c" "${ERR[$c,nginx]}"; ((NGINX_ONLY)) || printf ', mkn %s' "${ERR[$c,mkn]}"; printf '; '; done)"
echo "TLS resumption offered to s_client: nginx ${RESUMES[nginx]:-?}, $B_NAME ${RESUMES[mkn]:-not measured}" \
  "(New or no-session: every new connection is a full handshake); sessions resumed in nginx's access log: $REUSED"

if ((NGINX_ONLY)); then
  echo "--nginx-only: minikube-net's ingress not measured; no verdicts. Logs in $OUT"
  exit 0
fi
RESULTS=() MISSED=0
verdict() {  # verdict NAME MEASURED OK(0/1)
  local v=PASS
  [[ "$3" == 1 ]] || { v=MISS; MISSED=1; }
  RESULTS+=("$1|$2|$v")
}
for c in "${CASES[@]}"; do
  r=$(ratio "${RPS[$c,mkn]}" "${RPS[$c,nginx]}")
  if [[ $c == https-new ]]; then
    verdict "$c: TLS handshakes/s >= 0.9x nginx" "${r}x" "$(awk -v r="$r" 'BEGIN {print (r >= 0.9)}')"
  else
    verdict "$c: req/s >= 1.0x nginx" "${r}x" "$(awk -v r="$r" 'BEGIN {print (r >= 1.0)}')"
  fi
  r=$(ratio "${P99[$c,mkn]}" "${P99[$c,nginx]}")
  verdict "$c: p99 <= 1.2x nginx" "${r}x" "$(awk -v r="$r" 'BEGIN {print (r <= 1.2)}')"
  [[ "${ERR[$c,mkn]}" == 0 ]] || verdict "$c: no wrk errors through $B_NAME" "${ERR[$c,mkn]}" 0
done
echo
printf '%-44s %-12s %s\n' target measured verdict
for r in "${RESULTS[@]}"; do IFS='|' read -r a b v <<<"$r"; printf '%-44s %-12s %s\n' "$a" "$b" "$v"; done
echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg); logs in $OUT"
if ((CALIBRATE)); then
  echo "--calibrate: nginx against an identical nginx; the ratios above are this machine's noise, not a result"
  exit 0
fi
exit $((MISSED ? 3 : 0))
