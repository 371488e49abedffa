cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
"$MKN" up -d attack/s25/many.toml >/dev/null 2>&1
s=$(date +%s.%N); "$MKN" trace client svc/web --dry-run -o json > /tmp/dry.json; echo "dry-run $(echo "$(date +%s.%N) - $s" | bc)s"
jq -r '[.hops[] | select(.filter != "") | .filter] | unique | length' /tmp/dry.json
f=$(jq -r '[.hops[] | select(.filter != "") | .filter] | unique | map("(" + . + ")") | join(" or ")' /tmp/dry.json)
echo "union filter: ${#f} chars"
s=$(date +%s.%N); tcpdump -d "$f" 2>&1 | wc -l; echo "tcpdump -d (optimized) $(echo "$(date +%s.%N) - $s" | bc)s"
s=$(date +%s.%N); tcpdump -O -d "$f" 2>&1 | wc -l; echo "tcpdump -O -d (unoptimized) $(echo "$(date +%s.%N) - $s" | bc)s"
jq -r '[.hops[] | select(.interface != "") | .netns + ":" + .interface] | unique | length' /tmp/dry.json
"$MKN" down many >/dev/null 2>&1
