cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
for n in 10 30 60; do
  sed "s/^replicas = .*/replicas = $n/" attack/s25/many.toml > /tmp/many$n.toml
  "$MKN" up -d /tmp/many$n.toml >/dev/null 2>&1
  for dst in svc/web node2:30080; do
    s=$(date +%s%N); out=$("$MKN" trace client $dst 2>&1); rc=$?
    echo "$n endpoints: trace client $dst rc=$rc in $((($(date +%s%N)-s)/1000000)) ms"
  done
  "$MKN" down many >/dev/null 2>&1
done
