cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
sed "s/^proxy_mode = .*/proxy_mode = \"ebpf\"/" examples/services/lab.toml > /tmp/t16.toml
"$MKN" up -d /tmp/t16.toml --ui 0 >/tmp/t16.up 2>&1 || { cat /tmp/t16.up; exit 1; }
url=$(sed -n 's/^dashboard: //p' /tmp/t16.up)
curl -s -m 10 "${url}api/state" | jq -c '[.graph.vertices[].id] | map(select(startswith("pod/")))'
for i in $(seq 20); do
  out=$(curl -s -m 20 -d "src=web-1&dst=svc/web" "${url}api/trace")
  echo "$(jq -r '.result.endpoint' <<<"$out") $(jq -c '.highlight.vertices' <<<"$out")"
  [[ $(jq -r '.result.endpoint' <<<"$out") == web-1 ]] && { jq -c '.result.hops[] | {object, interface, role, seen}' <<<"$out"; break; }
done
"$MKN" down svc >/dev/null 2>&1
