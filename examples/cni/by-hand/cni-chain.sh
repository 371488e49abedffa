#!/usr/bin/env bash
# examples/cni/by-hand/cni-chain.sh — what a container runtime (libcni) does with a .conflist, in shell.
#
#   cni-chain.sh ADD|DEL|CHECK|VERSION CONFLIST CONTAINER_ID POD_NETNS [IFNAME]
#
# The reference the minikube-net runtime is compared with, and the way every conflist and broken plugin
# in examples/cni/ was checked by hand. For each plugin of the list (ADD, CHECK: in order; DEL: in
# reverse) it builds the plugin's stdin as libcni does (the plugin object + "name" + "cniVersion" +
# "runtimeConfig" holding only the capabilities the plugin asks for + "prevResult"), runs the binary
# found in CNI_PATH inside the node's network namespace, and passes the result on. The final ADD result
# is cached in $CNI_CACHE/<net>-<container>-<ifname> (libcni: /var/lib/cni/results/...), which DEL and
# CHECK read back as prevResult.
#
# Environment:
#   NODE             run the plugins inside `ip netns exec $NODE` (unset: in the current namespace)
#   NODE_STATE       with NODE: a directory whose var-lib-cni/ and run/ are bind-mounted on /var/lib/cni
#                    and /run for the plugin (each node its own host-local, tuning, ... state)
#   CNI_PATH         plugin directories, "a:b" (default /usr/lib/cni)
#   CNI_ARGS         "K=V;K2=V2", passed through
#   RUNTIME_CONFIG   capability args as one JSON object, e.g. '{"portMappings":[{"hostPort":8080,...}]}'
#   CNI_CACHE        result cache directory (default /run/minikube-net/by-hand/results)
#   CNI_TIMEOUT      seconds per plugin call (default 10); a plugin still running then is killed
#   SHOW_EXEC=1      print each plugin's env and stdin on stderr, as `minikube-net cni ... --show-exec`
# Needs jq. Runs ONLY inside ci/sandbox.sh: the plugins create links, routes and iptables rules.
set -euo pipefail
[[ "${MKN_IN_SANDBOX:-}" == 1 ]] || { echo "cni-chain.sh: run me inside ci/sandbox.sh" >&2; exit 2; }
cmd=${1:?usage: cni-chain.sh ADD|DEL|CHECK|VERSION CONFLIST CONTAINER_ID POD_NETNS [IFNAME]}
conflist=${2:?conflist}
cid=${3:-}
netns=${4:-}
ifname=${5:-eth0}
CNI_PATH=${CNI_PATH:-/usr/lib/cni}
CNI_CACHE=${CNI_CACHE:-/run/minikube-net/by-hand/results}
RUNTIME_CONFIG=${RUNTIME_CONFIG:-'{}'}
timeout_s=${CNI_TIMEOUT:-10}

conf=$(cat "$conflist")
name=$(jq -r .name <<<"$conf")
version=$(jq -r .cniVersion <<<"$conf")
n=$(jq '.plugins | length' <<<"$conf")
cache="$CNI_CACHE/$name-$cid-$ifname"

find_plugin() {
  local IFS=: dir
  for dir in $CNI_PATH; do [[ -x "$dir/$1" ]] && { echo "$dir/$1"; return; }; done
  echo "cni-chain: plugin \"$1\" not found in CNI_PATH $CNI_PATH" >&2
  return 1
}

# run_plugin INDEX COMMAND PREV_RESULT: prints the plugin's stdout; returns its exit status.
run_plugin() {
  local i=$1 command=$2 prev=$3 type bin stdin
  type=$(jq -r ".plugins[$i].type" <<<"$conf")
  bin=$(find_plugin "$type")
  stdin=$(jq -c --argjson i "$i" --arg name "$name" --arg ver "$version" \
      --argjson rc "$RUNTIME_CONFIG" --argjson prev "$prev" '
    .plugins[$i] as $p
    | ($p.capabilities // {} | to_entries | map(select(.value == true) | .key)) as $caps
    | ($rc | with_entries(select(.key as $k | $caps | index($k)))) as $rt
    | $p + {name: $name, cniVersion: $ver}
    + (if ($rt | length) > 0 then {runtimeConfig: $rt} else {} end)
    + (if $prev != null then {prevResult: $prev} else {} end)' <<<"$conf")
  local -a env=(CNI_COMMAND="$command" CNI_CONTAINERID="$cid" CNI_NETNS="$netns" CNI_IFNAME="$ifname"
                CNI_PATH="$CNI_PATH")
  [[ -n "${CNI_ARGS:-}" ]] && env+=(CNI_ARGS="$CNI_ARGS")
  if [[ "${SHOW_EXEC:-}" == 1 ]]; then
    echo "--- $type $command: ${env[*]} $bin" >&2
    jq . <<<"$stdin" >&2
  fi
  # Inside the node: its network namespace and, with NODE_STATE, its own /var/lib/cni and /run (with
  # /run/netns still showing the pods' namespaces, so CNI_NETNS resolves). `ip netns exec` gives the
  # command a private mount namespace: the bind mounts live and die with the plugin call.
  local -a pre=()
  if [[ -n "${NODE:-}" && -n "${NODE_STATE:-}" ]]; then
    # shellcheck disable=SC2016  # $0 and $@ are the inner sh's
    pre=(ip netns exec "$NODE" sh -c 'mkdir -p "$0/run/netns" "$0/var-lib-cni" &&
      mount --bind "$0/var-lib-cni" /var/lib/cni && mount --rbind /run/netns "$0/run/netns" &&
      mount --rbind "$0/run" /run && exec "$@"' "$NODE_STATE")
  elif [[ -n "${NODE:-}" ]]; then
    pre=(ip netns exec "$NODE")
  fi
  "${pre[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${env[@]}" \
    timeout -s KILL "$timeout_s" "$bin" <<<"$stdin"
}

case "$cmd" in
  VERSION)
    for ((i = 0; i < n; i++)); do
      type=$(jq -r ".plugins[$i].type" <<<"$conf")
      printf '%s: ' "$type"
      bin=$(find_plugin "$type")
      # A here-string, not a pipe: a plugin may exit without reading stdin (firewall does).
      env -i CNI_COMMAND=VERSION "$bin" <<<"{\"cniVersion\":\"$version\"}"
      echo
    done
    ;;
  ADD)
    prev=null
    for ((i = 0; i < n; i++)); do
      if ! out=$(run_plugin "$i" ADD "$prev"); then
        echo "cni-chain: ADD: plugin $i ($(jq -r ".plugins[$i].type" <<<"$conf")) failed: $out" >&2
        exit 1
      fi
      jq -e . >/dev/null 2>&1 <<<"$out" ||
        { echo "cni-chain: ADD: plugin $i printed invalid JSON: $out" >&2; exit 1; }
      prev=$out
    done
    mkdir -p "$CNI_CACHE"
    printf '%s\n' "$prev" >"$cache"
    jq . <<<"$prev"
    ;;
  DEL | CHECK)
    if [[ "$cmd" == CHECK && $(jq -r '.disableCheck // false | tostring' <<<"$conf") == true ]]; then
      echo "CHECK skipped: the list says disableCheck"   # as libcni CheckNetworkList
      exit 0
    fi
    prev=null
    [[ -f "$cache" ]] && prev=$(cat "$cache")
    if [[ "$cmd" == DEL ]]; then order=$(seq $((n - 1)) -1 0); else order=$(seq 0 $((n - 1))); fi
    for i in $order; do
      if ! out=$(run_plugin "$i" "$cmd" "$prev"); then
        echo "cni-chain: $cmd: plugin $i ($(jq -r ".plugins[$i].type" <<<"$conf")) failed: $out" >&2
        exit 1
      fi
    done
    [[ "$cmd" == DEL ]] && rm -f "$cache"
    echo "$cmd ok"
    ;;
  *) echo "cni-chain: unknown command $cmd" >&2; exit 2 ;;
esac
