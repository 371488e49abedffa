#!/usr/bin/env bash
# Run inside ci/sandbox.sh: hostile apply/delete netpol against examples/netpol.
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
T=$(mktemp -d /tmp/atk-s23-np.XXXX)
snap() { for n in node1 node2; do ip netns exec mkn-netpol-$n nft list ruleset 2>/dev/null; done | sha256sum | cut -c1-16; }
$MKN up -d examples/netpol/lab.toml 2>&1 | tail -1
s0=$(snap); echo "ruleset $s0"
try() { echo "-- $1"; shift; timeout 20 "$@" 2>&1 | head -4; echo "exit=${PIPESTATUS[0]} ruleset $(snap)"; }
# huge: 47 KiB of quotes in a comment (JSON-escaped to 2x), 49 KiB, control characters
python3 -c "print('#' + '\"'*47000)" > $T/quotes.toml; cat examples/netpol/cases/deny-ingress.toml >> $T/quotes.toml
try "47 KiB of quotes (escaped past 64 KiB)" $MKN apply $T/quotes.toml
python3 -c "import sys; sys.stdout.write('#' + '\x01'*20000 + '\n')" > $T/ctl.toml; cat examples/netpol/cases/deny-ingress.toml >> $T/ctl.toml
try "control bytes (x6 escaped)" $MKN apply $T/ctl.toml
head -c 60000 /dev/zero | tr '\0' '#' > $T/big.toml
try "60 KB file" $MKN apply $T/big.toml
python3 -c "print('a = ' + '['*5000 + ']'*5000)" > $T/deep.toml
try "5000-deep array" $MKN apply $T/deep.toml
python3 -c "print('a = ' + '{b='*3000 + '1' + '}'*3000)" > $T/deepinl.toml
try "3000-deep inline table" $MKN apply $T/deepinl.toml
mkfifo $T/fifo; try "FIFO" $MKN apply $T/fifo
try "/dev/zero" $MKN apply /dev/zero
try "directory" $MKN apply $T
printf '\xff\xfe# latin\xe9\n' > $T/bad8.toml; cat examples/netpol/cases/deny-ingress.toml >> $T/bad8.toml
try "invalid UTF-8 in a comment" $MKN apply --dry-run $T/bad8.toml
# invalid halfway: a good policy then a bad one
{ cat examples/netpol/cases/deny-ingress.toml; printf '\n[[network_policy]]\nname = "bad"\nnamespace = "x"\npod_selector = {}\npolicy_types = ["Sideways"]\n'; } > $T/half.toml
try "valid then invalid" $MKN apply $T/half.toml
printf '[[network_policy]]\nname = "ghost"\nnamespace = "nope"\npod_selector = {}\npolicy_types = ["Ingress"]\n' > $T/ns.toml
try "namespace missing" $MKN apply $T/ns.toml
printf '[[network_policy]]\nname = "nssel"\nnamespace = "x"\npod_selector = {}\npolicy_types = ["Ingress"]\n[[network_policy.ingress]]\n[[network_policy.ingress.from]]\nnamespace_selector = { match_labels = { ns = "ghost" } }\n' > $T/nssel.toml
try "selector of a namespace that does not exist" $MKN apply --dry-run $T/nssel.toml
try "delete missing" $MKN delete netpol nothere
try "delete missing -n ghost" $MKN delete netpol -n ghost x
try "delete ../etc" $MKN delete netpol ../../etc/passwd
try "delete weird key" $MKN delete netpol "x/a/b"
try "apply good" $MKN apply examples/netpol/cases/deny-ingress.toml
try "apply same again" $MKN apply examples/netpol/cases/deny-ingress.toml
try "delete it" $MKN delete netpol -n x deny-ingress
try "delete it again" $MKN delete netpol -n x deny-ingress
[[ $(snap) == "$s0" ]] && echo "ruleset back to start" || echo "RULESET DIFFERS from start"
# races: apply/delete loop while kill/scale
echo "-- race apply/delete with kill"
( for i in $(seq 15); do $MKN apply examples/netpol/cases/deny-ingress.toml >/dev/null 2>&1; $MKN delete netpol -n x deny-ingress >/dev/null 2>&1; done; echo "loop done" ) &
lp=$!
for i in $(seq 8); do $MKN kill x/a >/dev/null 2>&1 || echo "kill $i failed"; done
wait $lp
$MKN get netpol -A 2>&1 | head -5
$MKN check 2>&1 | tail -2
# SIGKILL of the owner mid-apply, then down
owner=$(pgrep -f "minikube-net up" | head -1)
( $MKN apply examples/netpol/cases/deny-all.toml >/dev/null 2>&1 ) & sleep 0.02; kill -9 $owner
wait
echo "-- down after SIGKILL"; timeout 60 $MKN down netpol 2>&1 | tail -2
ls /run/netns; nft list ruleset | head -3; ip link | grep -c mk
rm -rf $T
