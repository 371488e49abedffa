#!/usr/bin/env bash
# End-to-end test of the live dashboard (ctest label e2e: e2e.ui_dashboard): `up --ui` and
# `minikube-net ui` with the real binary on examples/services, the page driven in headless Chromium
# (Debian's chromium, over the DevTools protocol: examples/tools/browser.py).
#
#   examples/ui_test.sh dashboard
#
# One `up -d --ui 0` and one browser session: the page renders the lab's nodes, pods, the Service web
# and its counters; curl from the client pod through the ClusterIP makes the counter in the page reach
# what `get svc -o json` says after it (live, over server-sent events, no reload); a trace from the
# page's form lists its verdict and lights its hops on the graph; a screenshot is saved under the build
# directory (test-artifacts/dashboard.png). The API agrees with the CLI; it listens on 127.0.0.1 only
# and refuses another Host or Origin. `minikube-net ui` serves the same cluster from a second process
# until SIGINT, which leaves the cluster up; then `down` leaves nothing. Waits are conditions with
# deadlines.
source "$(dirname "$0")/testlib.sh" "$@"

in_pod() { local c=$1 p=$2; shift 2; ip netns exec "mkn-$c-$p" "$@"; }
ART=$(dirname "$MKN")/test-artifacts

case "$CASE" in
dashboard)
  command -v chromium >/dev/null || fail "chromium is not installed (ci/setup.sh installs it: apt-get install chromium)"
  mkdir -p "$ART"
  c=svc
  "$MKN" up -d examples/services/lab.toml --ui 0 >"$TMP/up.out" 2>&1 || fail "up --ui: $(cat "$TMP/up.out")"
  url=$(sed -n 's/^dashboard: //p' "$TMP/up.out")
  [[ $url =~ ^http://127\.0\.0\.1:[0-9]+/$ ]] || fail "up --ui printed no URL: $(cat "$TMP/up.out")"
  port=${url#http://127.0.0.1:}
  port=${port%/}
  listeners=$(ss -Htln "sport = :$port")
  [[ $(grep -c . <<<"$listeners") == 1 && $listeners == *"127.0.0.1:$port"* ]] || fail "not on loopback alone: $listeners"
  # In the sandbox the ready text says how the host's browser gets in (ui --help's recipe).
  contains "$(cat "$TMP/up.out")" "socat TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork EXEC:'ci/sandbox.sh --join svc -- socat - TCP\:127.0.0.1\:$port'" "the host-side forwarder"
  # --ui 0's port is found again: status -o json's "ui"; `ui --port` on it says who holds it and how
  # to pick another.
  [[ $("$MKN" status -o json | jq -r '.[] | select(.cluster == "svc") | .ui') == "$url" ]] || fail "status -o json has no ui $url: $("$MKN" status -o json)"
  rc=0; "$MKN" ui -c "$c" --port "$port" >/dev/null 2>"$TMP/busy.err" || rc=$?
  [[ $rc == 1 ]] && contains "$(cat "$TMP/busy.err")" "the dashboard of cluster svc (its up --ui) serves that port" "ui --port on up --ui's port" &&
    contains "$(cat "$TMP/busy.err")" "--port 0 for any free one" "ui --port on a taken port says what to do"
  pass "up --ui printed $url, listening on 127.0.0.1 only, and the host-side forwarder; status -o json names it; ui --port $port says who holds it"

  # The API: the snapshot's Services are `get svc -A -o json`'s (the page shows kube-system's kube-dns too).
  curl -sS --max-time 10 "${url}api/state" >"$TMP/state.json" || fail "GET /api/state"
  want=$("$MKN" get svc -A -o json | jq -S 'map({name, cluster_ip, endpoints})')
  got=$(jq -S '.services.services | map({name, cluster_ip, endpoints})' "$TMP/state.json")
  [[ "$got" == "$want" ]] || fail "the page's Services differ from get svc: $got vs $want"
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: evil.example:$port" "${url}api/state")
  [[ $code == 421 ]] || fail "another Host got $code, not 421"
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Origin: http://evil.example" -d "src=client&dst=web-0" "${url}api/trace")
  [[ $code == 403 ]] || fail "a trace from another Origin got $code, not 403"
  # A form without dst: 400, JSON as every other error of /api/trace, naming each DST kind trace takes.
  code=$(curl -s -o "$TMP/half.json" -w '%{http_code}' -d "src=client" "${url}api/trace")
  [[ $code == 400 ]] && jq -e '(.error | contains("NODE:PORT")) and .id == null and .src == ""' "$TMP/half.json" >/dev/null ||
    fail "src without dst: $code $(cat "$TMP/half.json")"
  pass "GET /api/state agrees with get svc; another Host is 421, another Origin 403; a half form is a JSON 400"

  counter='document.querySelector("tr[data-svc=\"web\"][data-port=\"80\"] td[data-counter=\"packets\"]")'
  python3 examples/tools/browser.py --timeout 20 "$url" \
    wait 'document.body.dataset.ready === "1"' \
    wait '["node/node1", "node/node2", "pod/client", "pod/web-0", "pod/web-1"].every(id => document.querySelector(`#nodes [data-id="${id}"]`))' \
    wait "$counter !== null && document.querySelector('#graph svg g.node') !== null" \
    wait 'Math.min(...[...document.querySelectorAll("#graph svg g.node text")].map(t => t.getBoundingClientRect().height)) >= 11' \
    sh "for i in 1 2 3; do ip netns exec mkn-$c-client curl -sS --max-time 5 -o /dev/null http://10.96.0.10/; done && \"$MKN\" get svc -o json | jq '.[] | select(.name == \"web\") | .ports[0].counters.packets' >$TMP/packets && [[ \$(cat $TMP/packets) -gt 0 ]]" \
    wait "Number($counter.dataset.value) >= {file:$TMP/packets}" \
    js 'document.getElementById("trace-src").value = "client"; document.getElementById("trace-dst").value = "svc/web:80"; document.getElementById("trace-run").click()' \
    wait 'document.querySelector("#traces li[data-trace]") !== null && document.getElementById("trace-run").disabled === false' \
    wait 'document.querySelector("#traces li.ok") !== null && document.querySelectorAll("#graph g.node.hl").length >= 4' \
    screenshot "$ART/dashboard.png" \
    js 'document.getElementById("trace-src").value = "client"; document.getElementById("trace-dst").value = "web-1"; document.getElementById("trace-run").click()' \
    wait 'document.querySelector("#traces li[data-trace=\"2\"] .hops") !== null' \
    print 'document.querySelector("#traces li[data-trace=\"2\"] .hops").textContent' \
    wait '["node1", "underlay"].every(v => [...document.querySelectorAll("#trace-src option")].some(o => o.value === v)) && document.querySelector("#trace-dsts option[value=\"node1:30080\"]") !== null' \
    js 'document.getElementById("trace-src").value = "underlay"; document.getElementById("trace-dst").value = "node1:30080"; document.getElementById("trace-run").click()' \
    wait 'document.querySelector("#traces li.ok[data-trace=\"3\"]") !== null' \
    dom "$TMP/dom.html" >"$TMP/icmp-hops" 2>"$TMP/browser.err" || fail "the page in chromium: $(cat "$TMP/browser.err")"
  # An ICMP trace's hops (an echo has an identifier, not ports) read as the table does.
  contains "$(cat "$TMP/icmp-hops")" "10.244.0.2 > 10.244." "the page shows the echo's addresses"
  contains "$(cat "$TMP/icmp-hops")" " id " "the page shows an echo's identifier"
  ! grep -q undefined "$TMP/icmp-hops" || fail "the page's ICMP hops say undefined: $(cat "$TMP/icmp-hops")"
  contains "$(cat "$TMP/dom.html")" 'data-id="pod/web-1"' "the DOM lists the pods"
  contains "$(grep -o '<li data-trace="1"[^>]*>[^<]*' "$TMP/dom.html")" "client → svc/web:80" "the DOM lists the trace"
  [[ $(head -c 8 "$ART/dashboard.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "the screenshot is no PNG"
  pass "chromium: nodes, pods and web's counters drawn (labels >= 11 px tall); curl moved the counter to get svc's $(cat "$TMP/packets") live; the form's trace is listed and lit on the graph; the form offers nodes, the underlay and NODE:PORT (underlay -> node1:30080 ok); screenshot $ART/dashboard.png"

  # `minikube-net ui`: a second process for the same cluster; SIGINT stops it, the cluster stays.
  "$MKN" ui -c "$c" --port 0 >"$TMP/ui.out" 2>"$TMP/ui.err" &
  ui=$!
  wait_for 20 grep -q "^dashboard of cluster $c: http://127.0.0.1:" "$TMP/ui.out" || fail "ui did not start: $(cat "$TMP/ui.err")"
  url2=$(sed -n "s/^dashboard of cluster $c: \(http[^ ]*\) .*/\1/p" "$TMP/ui.out")
  curl -sS --max-time 10 "${url2}api/state" | jq -e '.traces | length == 0' >/dev/null || fail "ui's snapshot"
  curl -sS --max-time 10 "${url2}" | grep -q '<script src="app.js"' || fail "ui's page"
  kill -INT $ui
  rc=0; wait $ui || rc=$?
  [[ $rc == 0 ]] || fail "ui exited $rc after SIGINT: $(cat "$TMP/ui.err")"
  port2=${url2#http://127.0.0.1:}
  [[ -z $(ss -Htln "sport = :${port2%/}") ]] || fail "ui left its listener"
  "$MKN" get svc -c "$c" >/dev/null || fail "the cluster went with ui"
  pass "minikube-net ui serves the running cluster; SIGINT stops it and leaves the cluster"

  "$MKN" down "$c" >/dev/null
  [[ -z $(ss -Htln "sport = :$port") ]] || fail "down left the dashboard listening"
  assert_clean "$c"
  ;;
*)
  fail "unknown case $CASE"
  ;;
esac
