#!/usr/bin/env bash
# Run inside ci/sandbox.sh: up the dns example, attack the cluster DNS from the client pod.
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
PY=$(readlink -f "$(pyenv which python3 2>/dev/null || command -v python3)")
host_before=$(stat -c '%i %s' "$(readlink -f /etc/resolv.conf)"; sha256sum "$(readlink -f /etc/resolv.conf)")
$MKN up -d examples/dns/lab.toml 2>&1 | tail -2
owner=$(pgrep -f "minikube-net up" | head -1); echo "owner pid $owner"
rss() { grep VmRSS /proc/$owner/status; }
rss
for m in udp tcp cap flood; do
  echo "== $m"; timeout 60 $MKN exec client -- $PY attack/s23/dnsfuzz.py 10.96.0.10 $m 2>&1
  rss
done
echo "== get (drops shown?)"; $MKN get pods -A 2>&1 | head; $MKN get svc -A | head; $MKN get dns 2>&1 | head -20
echo "== dig after"; $MKN exec client -- dig +short web.default.svc.cluster.local; $MKN exec client -- dig +tcp +short db-hl.data.svc.cluster.local
echo "== owner alive?"; kill -0 $owner && echo alive
# resolv.conf: symlinked
host_after=$(stat -c '%i %s' "$(readlink -f /etc/resolv.conf)"; sha256sum "$(readlink -f /etc/resolv.conf)")
[[ "$host_before" == "$host_after" ]] && echo "host resolv.conf unchanged" || echo "HOST RESOLV CHANGED: $host_before / $host_after"
tail -5 /run/minikube-net/dns/logs/coredns/*.log 2>/dev/null || find /run/minikube-net -name '*.log' | grep -i dns | head
$MKN down dns 2>&1 | tail -1
