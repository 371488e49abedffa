#!/usr/bin/env bash
# t6: own-node NodePort under neighbour churn (flushed before each trace), right after up, and
# after kill/scale moved the endpoints.
set -u
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
for mode in nftables ebpf userspace; do
  sed -e "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" attack/s25/lab.toml > /tmp/t6.toml
  "$MKN" up -d /tmp/t6.toml >/dev/null 2>&1 || { echo up failed; exit 1; }
  fails=0; n=0
  for i in 1 2 3 4 5 6; do
    for dst in node1:30081 node1:30082 node1:30053 node1:30054; do
      ip netns exec mkn-atk-node1 ip neigh flush dev cbr0 2>/dev/null
      ip netns exec mkn-atk-node1 conntrack -F >/dev/null 2>&1
      out=$(timeout 20 "$MKN" trace client $dst --timeout 1 2>&1); rc=$?; n=$((n+1))
      [[ $rc == 0 ]] || { fails=$((fails+1)); echo "$mode flush+trace client $dst rc=$rc"; echo "$out" | tail -8 | cut -c1-220; }
    done
  done
  echo "$mode: $fails of $n traces failed with node1's neighbours and conntrack flushed before each"
  "$MKN" down atk >/dev/null 2>&1
done
# after kill and scale (services lab): endpoints re-made elsewhere
for mode in nftables userspace ebpf; do
  sed "s/^proxy_mode = .*/proxy_mode = \"$mode\"/" examples/services/lab.toml > /tmp/t6s.toml
  "$MKN" up -d /tmp/t6s.toml >/dev/null 2>&1
  "$MKN" scale web 1 >/dev/null; "$MKN" get pods | grep web
  for i in 1 2 3; do out=$("$MKN" trace client node1:30080 2>&1); echo "$mode scale1 rc=$? $(tail -1 <<<"$out" | cut -c1-120)"; done
  "$MKN" scale web 4 >/dev/null; "$MKN" kill web-1 >/dev/null; "$MKN" get pods | grep web
  ok=0; bad=0
  for i in $(seq 12); do out=$("$MKN" trace client node1:30080 2>&1) && ok=$((ok+1)) || { bad=$((bad+1)); echo "$out" | tail -4 | cut -c1-200; }; done
  echo "$mode after scale 4 + kill: ok=$ok bad=$bad; endpoints seen: $(for i in 1 2 3 4 5 6; do "$MKN" trace client node1:30080 2>/dev/null | grep -o '(endpoint [a-z0-9-]*)'; done | sort | uniq -c | tr '\n' ' ')"
  "$MKN" scale web 0 >/dev/null 2>&1; out=$("$MKN" trace client node1:30080 2>&1); echo "$mode scale 0: rc=$? $(tail -1 <<<"$out")"
  "$MKN" down svc >/dev/null 2>&1
done
