# bench/bringup/gen_scripts.awk — turn `minikube-net plan LAB` into the two shell baselines.
#
#   minikube-net plan LAB | awk -v out=DIR -f gen_scripts.awk
#
# Writes, from the one plan, so that every variant runs exactly the same kernel operations:
#   DIR/loop-up.sh     the plan itself without comments: one `ip`/`sysctl` process per step
#   DIR/loop-down.sh   `ip netns del NS` per namespace, pods first, the underlay last
#   DIR/batch-up.sh    the same steps grouped, in an order that keeps every dependency:
#                        1. one `ip -batch -`: every `netns add`
#                        2. one `ip netns exec NS sysctl -qw K=V ...` per namespace (before any link is
#                           made there, as in the plan, so eth0 inherits default.disable_ipv6)
#                        3. one `ip -batch -`: every veth, created straight into both namespaces
#                           (`link add A netns X ... peer name B ... netns Y`); `master` is left to step 4
#                           because `ip` resolves a master's name in its own namespace
#                        4. one `ip -n NS -batch -` per namespace, in plan order (underlay, nodes, pods):
#                           bridges, `link set VETH master BR` where the veth was made, addresses, up, routes
#   DIR/batch-down.sh  one `ip -batch -` of `netns del` lines, same order as loop-down.sh
#   DIR/namespaces     the namespaces, in creation order
# A plan line this file does not know (e.g. `bridge` for VXLAN) is an error: the baselines would no
# longer be equivalent.
function flush_lines(file, text) { printf "%s", text > file }
/^#/ || /^$/ || /^set -e$/ { next }
{ loop = loop $0 "\n" }
$1 == "ip" && $2 == "netns" && $3 == "add" && NF == 4 {
  ns[++n] = $4
  adds = adds "netns add " $4 "\n"
  next
}
$1 == "ip" && $2 == "netns" && $3 == "exec" && $5 == "sysctl" && $6 == "-qw" && NF == 7 {
  sysctl[$4] = sysctl[$4] " " $7
  next
}
$1 == "ip" && $2 == "-n" && $4 == "link" && $5 == "add" && / type veth peer / {
  # ip -n NS link add NAME [attrs, maybe `master BR`] type veth peer name PEER [attrs] netns NS2
  line = "link add " $6 " netns " $3
  master = ""
  for (i = 7; i <= NF; i++) {
    if ($i == "master") { master = $(i + 1); i++; continue }
    line = line " " $i
  }
  veths = veths line "\n"
  if (master != "") per[$3] = per[$3] "link set " $6 " master " master "\n"
  next
}
$1 == "ip" && $2 == "-n" {
  rest = $0
  sub(/^ip -n [^ ]+ /, "", rest)
  per[$3] = per[$3] rest "\n"
  next
}
{ printf "gen_scripts.awk: plan line not understood: %s\n", $0 > "/dev/stderr"; bad = 1; exit 1 }
END {
  if (bad) exit 1
  if (n == 0) { print "gen_scripts.awk: empty plan" > "/dev/stderr"; exit 1 }
  flush_lines(out "/loop-up.sh", "set -e\n" loop)
  down = "set -e\n"; dels = ""; list = ""
  for (i = n; i >= 1; i--) { down = down "ip netns del " ns[i] "\n"; dels = dels "netns del " ns[i] "\n" }
  for (i = 1; i <= n; i++) list = list ns[i] "\n"
  flush_lines(out "/loop-down.sh", down)
  flush_lines(out "/batch-down.sh", "set -e\nip -batch - <<'EOF'\n" dels "EOF\n")
  flush_lines(out "/namespaces", list)
  b = "set -e\nip -batch - <<'EOF'\n" adds "EOF\n"
  for (i = 1; i <= n; i++) if (ns[i] in sysctl) b = b "ip netns exec " ns[i] " sysctl -qw" sysctl[ns[i]] "\n"
  if (veths != "") b = b "ip -batch - <<'EOF'\n" veths "EOF\n"
  for (i = 1; i <= n; i++) if (ns[i] in per) b = b "ip -n " ns[i] " -batch - <<'EOF'\n" per[ns[i]] "EOF\n"
  flush_lines(out "/batch-up.sh", b)
}
