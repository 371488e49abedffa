cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
{ cat examples/netpol/lab.toml examples/netpol/cases/deny-ingress.toml; sed -n '/^\[\[service\]\]/,$p' attack/s25/t12.sh | sed '/^EOT/,$d'; } > /tmp/t17.toml
"$MKN" up -d /tmp/t17.toml >/dev/null 2>&1 || { echo up failed; "$MKN" up -d /tmp/t17.toml 2>&1 | tail -3; exit 1; }
"$MKN" trace y/c node1:30100 --timeout 0.5
"$MKN" trace y/c svc/x/a-np --timeout 0.5
"$MKN" down netpol >/dev/null 2>&1
