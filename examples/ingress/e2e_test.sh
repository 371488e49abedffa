#!/usr/bin/env bash
# End-to-end tests of the edge (ctest label e2e): examples/ingress/lab.toml up, probed with real
# curl on the loopback listeners, and checked clean afterwards.
#
#   examples/ingress/e2e_test.sh CASE      CASE: routing tls errors bodies load
#
# Runs itself inside ci/sandbox.sh. Without root it exits 77 (ctest: skipped), except under CI=true where
# that is a failure. Waits are conditions with deadlines; loops are bounded in count and time.
source "$(dirname "$0")/../testlib.sh" "$@"
C=edge
HTTP=http://127.0.0.1:8080
CA=/run/minikube-net/$C/tls/ca.pem

# get HOST PATH [curl args...]: the body, via the HTTP listener with that Host.
get() { local host=$1 path=$2; shift 2; curl -sS --max-time 10 "$@" -H "Host: $host" "$HTTP$path"; }
# code HOST PATH [curl args...]: the status code only.
code() { local host=$1 path=$2; shift 2; curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$@" -H "Host: $host" "$HTTP$path"; }
pod_of() { awk '/^pod: / {print $2; exit}'; }

assert_clean() {
  local left
  left=$(ls /run/netns | grep "^mkn-$C-" || true)
  [[ -z "$left" ]] || fail "namespaces left: $left"
  [[ ! -e /run/minikube-net/$C ]] || fail "state left in /run/minikube-net/$C"
  [[ $(ip -o link | wc -l) == 1 ]] || fail "links appeared in the sandbox's own namespace: $(ip -o link)"
  ! ss -Hltn | grep -qE '127\.0\.0\.1:(8080|8443) ' || fail "a listener is still open: $(ss -Hltn)"
  pass "nothing of $C is left (namespaces, state, links, listeners)"
}

up() {
  local out
  out=$("$MKN" up -d "$@" 2>&1) || fail "up failed: $out"
  contains "$out" "ready in" "up -d reports readiness"
}

down() {
  local out
  out=$("$MKN" down $C 2>&1) || fail "down: $out"
  contains "$out" "cluster $C down" "down reports"
  # After traffic through the edge: no namespace left for the kernel to free (the edge's pooled
  # upstream connections used to close with a FIN that could not finish once the lab went, and
  # `down` waited out its 15 s deadline for the namespaces they held).
  ! grep -q "had not freed" <<<"$out" || fail "down waited for namespaces the kernel had not freed: $out"
  assert_clean
}

case "$CASE" in
routing)
  up examples/ingress/lab.toml
  # The lab's [[expect]] rows: the edge over HTTP and HTTPS, a 503 as deny, a pod to a Service.
  out=$("$MKN" check $C 2>&1) || fail "check: $out"
  contains "$out" "check $C: 5 cells, 0 mismatches, 0 errors" "check's verdict"
  contains "$out" "host   .   .   X   -" "check's matrix"
  pass "check: host-edge rows over http and https (a 503 denies), pods to svc/api"
  # Host rules; Prefix by path element; Exact; wildcard; default backend.
  [[ $(get web.lab.test / | pod_of) == web-* ]] || fail "web.lab.test / not served by web"
  [[ $(get api.lab.test /v1 | pod_of) == api-* ]] || fail "api.lab.test /v1 not served by api"
  [[ $(get api.lab.test /v1/users/7 | pod_of) == api-* ]] || fail "/v1/users/7 (prefix by element) not api"
  [[ $(get api.lab.test /v1x | pod_of) == web-* ]] || fail "/v1x must not match the /v1 prefix (default backend: web)"
  [[ $(get api.lab.test /healthz | pod_of) == web-* ]] || fail "Exact /healthz not web"
  [[ $(get API.LAB.TEST:8080 /v1 | pod_of) == api-* ]] || fail "host match ignores case and port"
  [[ $(get a.apps.lab.test / | pod_of) == api-* ]] || fail "*.apps.lab.test wildcard"
  [[ $(get a.b.apps.lab.test / | pod_of) == web-* ]] || fail "an Ingress wildcard covers one label only (a.b.apps.lab.test: default, web)"
  [[ $(get apps.lab.test / | pod_of) == web-* ]] || fail "the wildcard must not match apps.lab.test itself (default: web)"
  [[ $(get nothing.test /x | pod_of) == web-* ]] || fail "default backend"
  pass "Ingress: host, Prefix by path element, Exact, wildcard, default backend"
  # The proxy's own headers reach the backend, hop-by-hop ones do not; the client's address is forwarded.
  body=$(get web.lab.test /h -H 'Connection: keep-alive, x-hop' -H 'x-hop: secret' -H 'x-end: kept')
  contains "$body" "request: GET /h" "request line"
  if grep -q '^header: ' <<<"$body"; then  # http-echo that echoes headers
    contains "$body" "header: x-forwarded-for: 127.0.0.1" "X-Forwarded-For"
    contains "$body" "header: x-forwarded-proto: http" "X-Forwarded-Proto"
    contains "$body" "header: x-forwarded-host: web.lab.test" "X-Forwarded-Host"
    contains "$body" "header: forwarded: for=127.0.0.1;proto=http;host=web.lab.test" "Forwarded"
    contains "$body" "header: via: 1.1 minikube-net" "Via"
    contains "$body" "header: x-end: kept" "an end-to-end header"
    ! grep -q '^header: x-hop' <<<"$body" || fail "a header named in Connection reached the backend"
    pass "forwarding headers added, hop-by-hop headers removed"
  fi
  hdrs=$(curl -sS --max-time 5 -D - -o /dev/null -H 'Host: web.lab.test' "$HTTP/")
  contains "$hdrs" "via: 1.1 minikube-net" "Via on the response"
  # Gateway API: header match, header modifier, weighted split, redirect.
  body=$(get shop.lab.test / -H 'x-canary: always')
  [[ $(pod_of <<<"$body") == web-v2-* ]] || fail "x-canary: always must go to web-v2"
  declare -A n=()
  for ((i = 0; i < 400; i++)); do
    p=$(get shop.lab.test / | pod_of)
    n[${p%-*}]=$((${n[${p%-*}]:-0} + 1))
  done
  # 90/10 of 400: web-v2 expects 40, sd = sqrt(400 * .1 * .9) = 6; bounds are ~4 sd.
  ((${n[web-v2]:-0} >= 16 && ${n[web-v2]:-0} <= 64)) || fail "canary split: web-v2 got ${n[web-v2]:-0} of 400 (want 16-64): $(declare -p n)"
  ((${n[web]:-0} + ${n[web-v2]:-0} == 400)) || fail "split reached other backends: $(declare -p n)"
  pass "weighted split 90/10 over 400 requests: web=${n[web]} web-v2=${n[web-v2]}"
  out=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: shop.lab.test' "$HTTP/old?x=1")
  [[ "$out" == "301 http://web.lab.test:8080/old?x=1" ]] || fail "redirect: $out"
  pass "header match to the canary, redirect 301 keeping path and query"
  # Counters and the access log.
  out=$("$MKN" get routes -c $C)
  contains "$out" "listening: http 127.0.0.1:8080 (" "get routes lists the listener"
  contains "$out" " of 1024 connections; 0 refused over the cap; 0 accept errors)" "and its connections"
  json=$("$MKN" get routes -c $C -o json)
  contains "$json" '"max_connections": 1024' "get routes -o json has the listener's cap"
  contains "$json" '"exceptions": 0' "and the edge's exception count"
  contains "$out" "http_route/canary/2" "per-route counters"
  log=$("$MKN" logs -c $C ingress)
  contains "$log" "\"GET /v1/users/7\" 200 route=ingress/site/api.lab.test/v1 backend=api-" "access log line"
  rc=0; out=$("$MKN" logs -c $C ingres 2>&1) || rc=$?
  ((rc == 2)) || fail "logs of an unknown pod: exit $rc, expected 2"
  contains "$out" 'no pod named ingres in cluster edge (did you mean "ingress"?)' "a typo gets a suggestion"
  pass "get routes counts per route; logs ingress has one line per request; a typo gets a suggestion"
  down
  ;;
tls)
  # auto_tls: the lab's own CA; SNI picks among certificates of a listener.
  up examples/ingress/lab.toml
  [[ -s $CA ]] || fail "auto_tls made no CA at $CA"
  body=$(curl -sS --max-time 5 --cacert "$CA" --resolve api.lab.test:8443:127.0.0.1 https://api.lab.test:8443/v1)
  [[ $(pod_of <<<"$body") == api-* ]] || fail "HTTPS api.lab.test /v1: $body"
  if grep -q '^header: ' <<<"$body"; then contains "$body" "header: x-forwarded-proto: https" "X-Forwarded-Proto on TLS"; fi
  rc=0; curl -sS --max-time 5 --resolve api.lab.test:8443:127.0.0.1 https://api.lab.test:8443/ >/dev/null 2>"$TMP/err" || rc=$?
  ((rc == 60)) || fail "without the CA curl must refuse the certificate (exit 60), got $rc: $(cat "$TMP/err")"
  ver=$(curl -sS --max-time 5 --cacert "$CA" --resolve web.lab.test:8443:127.0.0.1 --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}' https://web.lab.test:8443/)
  [[ "$ver" == 200 ]] || fail "TLS 1.2 client: $ver"
  pass "auto_tls: HTTPS with --cacert (TLS 1.3 and 1.2), refused without it"
  down
  # Two certificates chosen by SNI, made with `minikube-net cert`, on an HTTPS listener of a lab copy.
  "$MKN" cert --dir "$TMP/certs" --name web web.lab.test >/dev/null || fail "cert web"
  "$MKN" cert --dir "$TMP/certs" --name api api.lab.test '*.apps.lab.test' >/dev/null || fail "cert api"
  sed -e 's/^auto_tls = true$/auto_tls = false/' examples/ingress/lab.toml >"$TMP/lab.toml"
  cat >>"$TMP/lab.toml" <<TOML

[[listener]]
name = "http"
redirect_to_https = true

[[listener]]
name = "https"
protocol = "HTTPS"
  [[listener.tls]]
  hosts = ["web.lab.test"]
  cert = "$TMP/certs/web.crt"
  key = "$TMP/certs/web.key"
  [[listener.tls]]
  hosts = ["api.lab.test", "*.apps.lab.test"]
  cert = "$TMP/certs/api.crt"
  key = "$TMP/certs/api.key"
TOML
  up "$TMP/lab.toml"
  for host in web.lab.test api.lab.test x.apps.lab.test; do
    subject=$(echo | timeout 5 openssl s_client -connect 127.0.0.1:8443 -servername "$host" 2>/dev/null |
      openssl x509 -noout -ext subjectAltName 2>/dev/null | tail -1)
    want=web.lab.test; [[ $host != web.lab.test ]] && want=api.lab.test
    contains "$subject" "DNS:$want" "SNI $host selects the certificate of $want"
    code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' --cacert "$TMP/certs/ca.pem" --resolve "$host:8443:127.0.0.1" "https://$host:8443/")
    [[ "$code" == 200 ]] || fail "https://$host:8443/ with its CA: $code"
  done
  pass "SNI selects the certificate per host (web.lab.test, api.lab.test, *.apps.lab.test)"
  # A request line and its headers in separate TLS records (s_client sends what it reads as it reads
  # it; the pause only makes two reads likely): the edge must not lose the line it parsed first.
  resp=$({ printf 'GET /split?x=1 HTTP/1.1\r\n'; sleep 0.3; printf 'Host: web.lab.test\r\nX-Late: yes\r\nConnection: close\r\n\r\n'; } |
    timeout 10 openssl s_client -quiet -connect 127.0.0.1:8443 -servername web.lab.test -CAfile "$TMP/certs/ca.pem" 2>/dev/null |
    tr -d '\r')
  contains "$resp" "HTTP/1.1 200" "a request split over two TLS records is answered"
  contains "$resp" "request: GET /split?x=1" "the backend got the request line of the first record"
  contains "$resp" "header: x-late: yes" "and the header of the second"
  out=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: web.lab.test' "$HTTP/a/b?c=1")
  [[ "$out" == "308 https://web.lab.test:8443/a/b?c=1" ]] || fail "redirect_to_https: $out"
  pass "redirect_to_https: 308 to the HTTPS listener, path and query kept"
  down
  # A certificate that does not match its key is refused before anything is created.
  cp "$TMP/certs/api.key" "$TMP/certs/wrong.key"
  sed -e "s#$TMP/certs/web.key#$TMP/certs/wrong.key#" "$TMP/lab.toml" >"$TMP/bad.toml"
  rc=0; out=$("$MKN" up -d "$TMP/bad.toml" 2>&1) || rc=$?
  ((rc != 0)) || fail "up with a mismatched key succeeded"
  contains "$out" "does not match" "the error names the mismatch"
  grep -qE "bad.toml:[0-9]+:[0-9]+: " <<<"$out" || fail "the error has no file:line:col: $out"
  [[ -z $(ls /run/netns) ]] || fail "a refused lab created namespaces: $(ls /run/netns)"
  pass "a mismatched cert/key is refused with file:line:col, nothing created"
  # `validate` says what `up` would refuse about certificates, with no cluster and no privileges:
  # a missing file, a FIFO (read, it would block forever), /dev/zero (it would never end), a file
  # the user cannot read (validate run as nobody), the mismatched key. Exit 2, the file named.
  mkfifo "$TMP/certs/fifo.crt"
  mkdir -m 755 "$TMP/pub" && chmod 755 "$TMP" && cp "$TMP/certs/web.crt" "$TMP/pub/secret.crt" && chmod 600 "$TMP/pub/secret.crt"
  for f in "$TMP/certs/missing.crt" "$TMP/certs/fifo.crt" /dev/zero "$TMP/pub/secret.crt"; do
    sed -e "s#$TMP/certs/web.crt#$f#" "$TMP/lab.toml" >"$TMP/pub/badcert.toml"
    chmod 644 "$TMP/pub/badcert.toml"
    as=()
    [[ $f == */secret.crt ]] && as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    rc=0; out=$(timeout 10 "${as[@]}" "$MKN" validate "$TMP/pub/badcert.toml" 2>&1) || rc=$?
    ((rc == 2)) || fail "validate of a lab with cert = $f: exit $rc, expected 2: $out"
    grep -qE "badcert.toml:[0-9]+:[0-9]+: listener \"https\": cert $f: " <<<"$out" ||
      fail "validate must name $f at its file:line:col: $out"
  done
  rc=0; out=$("$MKN" validate "$TMP/bad.toml" 2>&1) || rc=$?
  ((rc == 2)) || fail "validate of a mismatched key: exit $rc, expected 2: $out"
  contains "$out" "does not match certificate" "validate names the mismatch"
  pass "validate refuses what up would: a missing, FIFO, endless or unreadable certificate, a wrong key"
  assert_clean
  ;;
errors)
  up examples/ingress/lab.toml
  [[ $(code api.lab.test /soon) == 503 ]] || fail "a service without endpoints must give 503"
  [[ $(code api.lab.test /broken) == 502 ]] || fail "a refused upstream must give 502"
  # No route: an Ingress default backend catches everything here, so use an HTTPRoute-only listener's host.
  printf 'GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n' >"$TMP/bad.req"
  resp=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/8080; cat '$TMP/bad.req' >&3; head -1 <&3")
  contains "$resp" "400" "a malformed request gets 400"
  big=$(head -c 20000 /dev/zero | tr '\0' a)
  [[ $(code web.lab.test / -H "x-big: $big") == 431 ]] || fail "an oversized header must give 431"
  # Its access-log line has the fields of every other line (the log is written within 0.1 s).
  wait_for 5 bash -c "'$MKN' logs ingress | grep -q '^[^ ]* 127.0.0.1 - \"- -\" 431 route=- backend=- upstream_ms=-1 total_ms=0\$'" ||
    fail "no access-log line for the 431 in the usual format: $("$MKN" logs ingress | tail -3)"
  # get routes names the route no route took as the access log does: "-" (the 400 and the 431).
  row=$("$MKN" get routes -c $C | awk '$1 == "-" {print $2, $5}')
  [[ "$row" == "2 2" ]] || fail "get routes: the \"-\" row has '$row', want 2 requests, 2 4XX: $("$MKN" get routes -c $C)"
  # A Transfer-Encoding that does not end in chunked: one 400 and the connection closes, so the bytes
  # after the head are never read as a second request (one request, two responses: a desync).
  printf 'POST / HTTP/1.1\r\nHost: web.lab.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: web.lab.test\r\n\r\n' >"$TMP/smuggle.req"
  resp=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/8080; cat '$TMP/smuggle.req' >&3; cat <&3" | tr -d '\r')
  [[ $(grep -c '^HTTP/1.1 ' <<<"$resp") == 1 ]] || fail "a smuggling attempt must get exactly one response: $resp"
  contains "$resp" "HTTP/1.1 400 Bad Request" "chunked, identity is a 400"
  # The path is routed normalized: /x/%2e%2e/v1 is /v1 (curl sends it as written with --path-as-is).
  [[ $(get api.lab.test '/x/%2e%2e/v1/users' --path-as-is | pod_of) == api-* ]] || fail "a %2e%2e path must route as its normal form"
  # A slow client that never finishes its header is cut off (header timeout) without harming others.
  exec 4<>/dev/tcp/127.0.0.1/8080
  printf 'GET / HTTP/1.1\r\nHost: web.lab.test\r\n' >&4
  [[ $(get web.lab.test / | pod_of) == web-* ]] || fail "a slow client blocked others"
  exec 4>&-
  pass "503 without endpoints, 502 refused upstream, 400 malformed, 431 oversized header, one answer to a smuggling attempt, normalized paths, slow client harmless"
  [[ $(code web.lab.test /status/418) == 418 ]] || fail "an upstream status must pass through"
  pass "upstream status passed through (418)"
  down
  # 504: a listener that gives backends 1 s to answer, and a backend that takes 3. And without the
  # Ingress's default backend, a request no rule matches gets 404. The lab's [[expect]] rows go: they
  # probe the https listener this variant has no certificate for.
  sed -e 's/^auto_tls = true$/auto_tls = false/' -e '/^default_backend = /d' -e '/^\[\[expect\]\]$/,$d' examples/ingress/lab.toml >"$TMP/slow.toml"
  # (They are the file's last tables; the cut would take any table after them too: say so if one moves there.)
  awk '/^\[\[expect\]\]$/ {e = 1; next} e && /^\[/ {bad = 1} END {exit bad}' examples/ingress/lab.toml ||
    fail "examples/ingress/lab.toml has a table after its [[expect]] rows: this case's cut would drop it"
  printf '\n[[listener]]\nname = "http"\nupstream_timeout = 1\n' >>"$TMP/slow.toml"
  up "$TMP/slow.toml"
  t0=$SECONDS
  [[ $(code web.lab.test /delay/3000) == 504 ]] || fail "a backend slower than upstream_timeout must give 504"
  ((SECONDS - t0 < 3)) || fail "504 came only after the backend answered"
  [[ $(code nothing.test /x) == 404 ]] || fail "no rule and no default backend must give 404"
  [[ $(code web.lab.test /delay/100) == 200 ]] || fail "a backend within upstream_timeout"
  pass "504 when the backend does not answer within upstream_timeout = 1 s; 404 when no rule matches"
  down
  ;;
bodies)
  # 100 MB each way through the edge, streamed: the bytes arrive intact, and the process that holds the
  # ingress (and the backends) never holds a body whole.
  up examples/ingress/lab.toml
  n=$((100 * 1024 * 1024))
  head -c $n /dev/urandom >"$TMP/up.bin"
  want=$(sha256sum "$TMP/up.bin" | cut -d' ' -f1)
  body=$(curl -sS --max-time 120 -H 'Host: web.lab.test' --data-binary @"$TMP/up.bin" "$HTTP/upload")
  contains "$body" "body_bytes: $n" "100 MB upload (Content-Length) reached the backend whole"
  contains "$body" "body_sha256: $want" "the uploaded bytes are intact"
  body=$(curl -sS --max-time 120 -H 'Host: web.lab.test' -H 'Transfer-Encoding: chunked' --data-binary @- "$HTTP/upload" <"$TMP/up.bin")
  contains "$body" "body_bytes: $n" "100 MB chunked upload"
  contains "$body" "body_sha256: $want" "the chunked bytes are intact"
  pass "100 MB uploads, with Content-Length and chunked: every byte arrives (sha256)"
  got=$(curl -sS --max-time 120 -H 'Host: web.lab.test' "$HTTP/bytes/$n" | sha256sum | cut -d' ' -f1)
  direct=$("$MKN" exec -c $C web-0 -- curl -sS --max-time 120 "http://$("$MKN" get pods -c $C | awk '$1=="web-0" {print $3}'):8080/bytes/$n" | sha256sum | cut -d' ' -f1)
  [[ "$got" == "$direct" ]] || fail "100 MB download through the edge differs from the pod's own bytes"
  size=$(curl -sS --max-time 120 -H 'Host: web.lab.test' -o /dev/null -w '%{size_download}' "$HTTP/bytes/$n")
  ((size == n)) || fail "download size $size, want $n"
  pid=$("$MKN" status -o json | grep -o '"pid": *[0-9]*' | head -1 | grep -o '[0-9]*$')
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  ((hwm < 80 * 1024)) || fail "the cluster process peaked at $((hwm / 1024)) MB: a body was buffered"
  pass "100 MB download intact ($size bytes, same sha256 as from the pod); peak RSS $((hwm / 1024)) MB"
  # The same through TLS termination (its own stream on the fast path, Beast's relay for bodies):
  # 30 MB up with Content-Length, chunked and Expect: 100-continue, 30 MB down, over one connection each.
  m=$((30 * 1024 * 1024))
  head -c $m "$TMP/up.bin" >"$TMP/up30.bin"
  want=$(sha256sum "$TMP/up30.bin" | cut -d' ' -f1)
  tls=(--cacert "$CA" --resolve web.lab.test:8443:127.0.0.1)
  body=$(curl -sS --max-time 60 "${tls[@]}" --data-binary @"$TMP/up30.bin" https://web.lab.test:8443/upload)
  contains "$body" "body_sha256: $want" "30 MB HTTPS upload (Content-Length) intact"
  body=$(curl -sS --max-time 60 "${tls[@]}" -H 'Transfer-Encoding: chunked' --data-binary @- https://web.lab.test:8443/upload <"$TMP/up30.bin")
  contains "$body" "body_sha256: $want" "30 MB HTTPS chunked upload intact"
  body=$(curl -sS --max-time 60 "${tls[@]}" -H 'Expect: 100-continue' --data-binary @"$TMP/up30.bin" https://web.lab.test:8443/upload)
  contains "$body" "body_sha256: $want" "30 MB HTTPS upload after 100-continue intact"
  got=$(curl -sS --max-time 60 "${tls[@]}" https://web.lab.test:8443/bytes/$m | sha256sum | cut -d' ' -f1)
  direct=$("$MKN" exec -c $C web-0 -- curl -sS --max-time 60 "http://$("$MKN" get pods -c $C | awk '$1=="web-0" {print $3}'):8080/bytes/$m" | sha256sum | cut -d' ' -f1)
  [[ "$got" == "$direct" ]] || fail "30 MB HTTPS download differs from the pod's own bytes"
  pass "30 MB each way over HTTPS (Content-Length, chunked, 100-continue): every byte intact"
  down
  ;;
load)
  # A backend killed during load: only requests in flight may fail.
  up examples/ingress/lab.toml
  : >"$TMP/load"
  (for ((i = 0; i < 200; i++)); do
    if curl -sS --max-time 3 -o /dev/null -H 'Host: web.lab.test' "$HTTP/"; then echo ok; else echo fail; fi
  done >>"$TMP/load") &
  loader=$!
  wait_for 20 bash -c "(( \$(wc -l <'$TMP/load') >= 40 ))" || fail "load did not start"
  "$MKN" kill -c $C web-0 >/dev/null || fail "kill web-0"
  at=$(wc -l <"$TMP/load")
  wait $loader
  fails=$(grep -c fail "$TMP/load" || true)
  late=$(tail -n +"$((at + 2))" "$TMP/load" | grep -c fail || true)
  (($(wc -l <"$TMP/load") == 200)) || fail "the load loop did not finish"
  ((late == 0)) || fail "$late requests failed after kill returned"
  ((fails <= 1)) || fail "$fails of 200 requests failed around the kill"
  pass "kill web-0 at request $at of 200 through the ingress: $fails failed, none after"
  # The backend dies in the middle of a body (a slow 200 MB download through the ClusterIP; both web
  # pods are killed, whichever serves it): the client must see the transfer cut short at once, not hang.
  curl -sS --max-time 60 --limit-rate 20M -o /dev/null -H 'Host: web.lab.test' "$HTTP/bytes/200000000" 2>"$TMP/cut" &
  dl=$!
  wait_for 10 bash -c "'$MKN' logs -c $C ingress | grep -q '/bytes/200000000' || ss -Htn state established '( sport = :8080 )' | grep -q ." ||
    fail "the download did not start"
  t0=$SECONDS
  for p in web-0 web-1; do "$MKN" kill -c $C "$p" >/dev/null || fail "kill $p"; done
  rc=0; wait $dl || rc=$?
  ((rc == 18 || rc == 56)) || fail "a download whose backend died must end as a partial transfer (curl 18/56), got $rc: $(cat "$TMP/cut")"
  ((SECONDS - t0 < 10)) || fail "the cut download took $((SECONDS - t0)) s to end"
  pass "backend killed mid-body: the client's download ends at once as a partial transfer (curl exit $rc)"
  down
  ;;
*) fail "unknown case $CASE" ;;
esac
echo "PASS [$CASE]"
