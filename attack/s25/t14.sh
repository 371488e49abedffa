#!/usr/bin/env bash
# t14: the ebpf hairpin through the dashboard's trace form (its lo hop on the graph) and in --pcap.
set -u
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
sed "s/^proxy_mode = .*/proxy_mode = \"ebpf\"/" examples/services/lab.toml > /tmp/t14.toml
"$MKN" up -d /tmp/t14.toml --ui 0 >/tmp/t14.up 2>&1 || { cat /tmp/t14.up; exit 1; }
url=$(sed -n 's/^dashboard: //p' /tmp/t14.up)
for i in $(seq 20); do
  out=$(curl -s -m 20 -d "src=web-1&dst=svc/web" "${url}api/trace")
  ep=$(jq -r '.result.endpoint // .error' <<<"$out")
  if [[ $ep == web-1 ]]; then
    echo "ui: $(jq -c '{ok: .result.ok, summary: .result.summary, hops: [.result.hops[] | (.object + ":" + .interface)], highlight}' <<<"$out" | cut -c1-400)"
    break
  fi
done
for i in $(seq 20); do
  out=$("$MKN" trace web-1 svc/web --pcap /tmp/t14.pcapng)
  [[ $out == *"(endpoint web-1)"* ]] && break
done
tail -1 <<<"$out"
tshark -r /tmp/t14.pcapng -T fields -e frame.interface_name -e ip.src -e ip.dst -e tcp.flags.str -e frame.comment 2>/dev/null
"$MKN" down svc >/dev/null 2>&1
