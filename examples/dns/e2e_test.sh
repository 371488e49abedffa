#!/usr/bin/env bash
# End-to-end tests of the cluster DNS (ctest label e2e): examples/dns/lab.toml in one proxy mode.
#
#   examples/dns/e2e_test.sh MODE      MODE: userspace nftables ebpf
#
# Every mode: kube-system/coredns and kube-dns are there (get -A only), a pod's resolv.conf is
# kubelet's (the host's file untouched), `curl http://web/` resolves through the search list, and
# glibc's parallel A+AAAA from one socket through the mode's NAT (Kubernetes issue 56903's race)
# is answered every time without a retry timeout. userspace also asks dig for every record type
# (A, SRV, headless, pod A, PTR, NODATA, NXDOMAIN, REFUSED, TCP) and sees a kill in the headless
# answer. Then down, and nothing is left.
# Runs itself inside ci/sandbox.sh; without root it exits 77, except under CI=true where that fails.
source "$(dirname "$0")/../testlib.sh" "$@"

MODE=$CASE
LAB=$TMP/dns.toml
sed -e "s/^proxy_mode = \"userspace\".*/proxy_mode = \"$MODE\"/" examples/dns/lab.toml >"$LAB"
grep -q "^proxy_mode = \"$MODE\"" "$LAB" || fail "could not derive the $MODE lab"
host_resolv=$(sha256sum "$(readlink -f /etc/resolv.conf)")

out=$("$MKN" up -d "$LAB" 2>&1) || fail "up: $out"
trap '"$MKN" down dns >/dev/null 2>&1 || true' EXIT
ex() { "$MKN" exec client -- "$@"; }

# --- the resolver is a pod and a Service, as kubeadm makes them -------------------------------------
out=$("$MKN" get pods)
! grep -q coredns <<<"$out" || fail "plain get pods shows kube-system's pod: $out"
out=$("$MKN" get pods -A)
contains "$out" "kube-system  coredns" "get pods -A: the cluster DNS pod"
out=$("$MKN" get svc -A)
grep -Eq "kube-system +kube-dns +ClusterIP +10\.96\.0\.10 " <<<"$out" || fail "get svc -A: kube-dns at 10.96.0.10: $out"
grep -Eq "data +db-hl +ClusterIP +None " <<<"$out" || fail "get svc -A: the headless Service shows None: $out"
! grep -q kube-dns <<<"$("$MKN" get svc)" || fail "plain get svc shows kube-system's Service"
# One Service by the names the README gives it: NS/NAME, svc/NS/NAME; svc/NAME in default says where.
for word in kube-system/kube-dns svc/kube-system/kube-dns; do
  grep -Eq "^kube-dns +ClusterIP +10\.96\.0\.10 " <<<"$("$MKN" get svc $word)" || fail "get svc $word"
done
rc=0; out=$("$MKN" get svc svc/kube-dns 2>&1) || rc=$?
[[ $rc != 0 ]] && contains "$out" "did you mean -n kube-system" "get svc svc/kube-dns says where it is"
pass "kube-system/coredns behind kube-dns 10.96.0.10 (get -A, get svc kube-system/kube-dns); db-hl's CLUSTER-IP is None"

# --- resolv.conf as kubelet writes it, in the pod's own mount namespace ----------------------------
out=$(ex cat /etc/resolv.conf)
contains "$out" "search default.svc.cluster.local svc.cluster.local cluster.local" "resolv.conf search"
contains "$out" "nameserver 10.96.0.10" "resolv.conf nameserver"
contains "$out" "options ndots:5" "resolv.conf ndots"
[[ $(sha256sum "$(readlink -f /etc/resolv.conf)") == "$host_resolv" ]] || fail "the host's resolv.conf changed"
pass "exec sees kubelet's resolv.conf; the host's file is untouched"

web_ip=$("$MKN" get svc -A | awk '$1=="default" && $2=="web" {print $4}')
[[ $web_ip =~ ^[0-9.]+$ ]] || fail "web's ClusterIP from get svc -A: '$web_ip'"
out=$(ex getent hosts web) || fail "getent hosts web"
contains "$out" "$web_ip" "getent hosts web (the search list)"
out=$(ex curl -sS --max-time 5 http://web/) || fail "curl http://web/"
contains "$out" "pod: web-" "curl http://web/"
out=$(ex curl -sS --max-time 5 http://web.default.svc.cluster.local/) || fail "curl FQDN"
contains "$out" "pod: web-" "curl http://web.default.svc.cluster.local/"
pass "getent hosts web, curl http://web/ and http://web.default.svc.cluster.local/ ($MODE)"

# --- trace's UDP probe to :53 is a query the resolver answers (its text payload was dropped) --------
out=$("$MKN" trace client svc/kube-system/kube-dns 2>&1) || fail "trace client svc/kube-system/kube-dns: $out"
grep -q "coredns" <<<"$out" || fail "trace to kube-dns reached no coredns hop: $out"
pass "trace client svc/kube-system/kube-dns: the DNS pod answers the probe ($MODE)"

# --- Kubernetes issue 56903: parallel A+AAAA from one UDP socket through the NAT -------------------
# glibc sends both at once from one socket; a DNAT that loses the second makes getaddrinfo wait out
# its 5 s timeout. 40 lookups, each bounded by 2 s: a lost datagram would show as a timeout.
start=$SECONDS
for i in $(seq 40); do
  t0=$(date +%s%N)
  out=$(timeout 4 "$MKN" exec client -- getent ahosts web) || fail "lookup $i: getent ahosts web failed"
  ms=$((($(date +%s%N) - t0) / 1000000))
  ((ms < 2000)) || fail "lookup $i took ${ms} ms: a query was lost and retried ($MODE)"
done
pass "40 parallel A+AAAA lookups through $MODE's NAT, none waited for a retry ($((SECONDS - start)) s)"

if [[ $MODE == userspace ]]; then
  # --- every record type, as dig sees it -----------------------------------------------------------
  dig1() { ex dig +time=2 +tries=1 "$@"; }
  out=$(dig1 +short web.default.svc.cluster.local)
  [[ $out == "$web_ip" ]] || fail "dig A web: $out"
  out=$(dig1 web.default.svc.cluster.local)
  contains "$out" "flags: qr aa rd ra" "dig: AA, RD, RA"
  grep -Eq "web\.default\.svc\.cluster\.local\.\s+5\s+IN\s+A\s+$web_ip" <<<"$out" || fail "dig: TTL 5: $out"
  out=$(dig1 +short SRV _http._tcp.web.default.svc.cluster.local)
  [[ $out == "0 100 80 web.default.svc.cluster.local." ]] || fail "dig SRV: $out"
  db0=$("$MKN" get pods -n data | awk '$1=="db-0" {print $3}')
  db1=$("$MKN" get pods -n data | awk '$1=="db-1" {print $3}')
  out=$(dig1 +short db-hl.data.svc.cluster.local | sort)
  [[ $out == "$(printf '%s\n' "$db0" "$db1" | sort)" ]] || fail "dig headless: $out (pods $db0 $db1)"
  out=$(dig1 +short SRV _pg._tcp.db-hl.data.svc.cluster.local)
  contains "$out" "0 100 5432 ${db0//./-}.db-hl.data.svc.cluster.local." "dig SRV headless"
  client_ip=$("$MKN" get pods -n default | awk '$1=="client" {print $3}')
  out=$(dig1 +short "${client_ip//./-}.default.pod.cluster.local")
  [[ $out == "$client_ip" ]] || fail "dig pod A: $out"
  out=$(dig1 +short -x "$web_ip")
  [[ $out == "web.default.svc.cluster.local." ]] || fail "dig PTR: $out"
  out=$(dig1 AAAA web.default.svc.cluster.local)
  contains "$out" "status: NOERROR" "dig AAAA: NODATA"
  contains "$out" "ANSWER: 0, AUTHORITY: 1" "dig AAAA: NODATA with the SOA"
  out=$(dig1 nope.default.svc.cluster.local)
  contains "$out" "status: NXDOMAIN" "dig NXDOMAIN"
  out=$(dig1 example.com)
  contains "$out" "status: REFUSED" "dig outside the zone"
  out=$(dig1 +tcp +short web.default.svc.cluster.local)
  [[ $out == "$web_ip" ]] || fail "dig +tcp: $out"
  pass "dig from a pod: A, SRV, headless, pod A, PTR, NODATA, NXDOMAIN, REFUSED, TCP"
  # The proxy's counters are kube-dns's, not the headless Service's listed before it (the proxy
  # numbers only the ports it translates).
  out=$("$MKN" get svc -A)
  dns_packets=$(awk '$1=="kube-system" && $2=="kube-dns" {print $9}' <<<"$out")
  hl_packets=$(awk '$1=="data" && $2=="db-hl" {print $9}' <<<"$out")
  [[ $dns_packets =~ ^[0-9]+$ ]] && ((dns_packets > 0)) || fail "kube-dns counted no packets: $out"
  [[ $hl_packets == 0 || $hl_packets == - ]] || fail "the headless db-hl counted kube-dns's packets: $out"
  pass "get svc -A: kube-dns counts its $dns_packets packets, headless db-hl none"
  # The headless answer follows a kill: db-0 comes back with a new address.
  "$MKN" kill data/db-0 >/dev/null || fail "kill data/db-0"
  new0=$("$MKN" get pods -n data | awk '$1=="db-0" {print $3}')
  out=$(dig1 +short db-hl.data.svc.cluster.local)
  contains "$out" "$new0" "dig headless after the kill"
  ! grep -qx "$db0" <<<"$out" || fail "the killed pod's old address $db0 is still answered: $out"
  pass "kill data/db-0: the headless answer has its new address $new0"
fi

trap - EXIT
"$MKN" down dns >/dev/null || fail "down"
assert_clean dns
