#!/usr/bin/env bash
# ci/setup.sh — install every Debian 12 package minikube-net needs to build, test and benchmark, then build.
#
#   ci/setup.sh            install (idempotent) and build into ./build
#   ci/setup.sh --no-build install only
#   ci/setup.sh --runtime  only what building the tool and running labs need (a workshop machine: no
#                          GoogleTest, Mininet, nginx, wrk, sockperf or clang-format), then build the tool
#                          alone (-DMKN_TESTS=OFF). For a machine without a compiler, install the package
#                          instead: cmake --build build --target package, then apt install ./minikube-net_*.deb
#
# Debian packages only: no downloads, no vendored copies. Safe to run again: apt-get skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
case "${1:-}" in
  "") ;;
  --no-build) mode=no-build ;;
  --runtime) mode=runtime ;;
  *) echo "usage: ci/setup.sh [--no-build|--runtime]" >&2; exit 2 ;;
esac

packages=(
  # toolchain; mold: the linker (CMakeLists.txt uses it when installed: test binaries link in a
  # fraction of GNU ld's time)
  build-essential cmake pkg-config mold
  # libraries (STYLE.md: Abseil, toml++, libmnl, libnftables, Boost.Asio/Beast, libtins, OpenSSL, CLI11, JSON)
  libabsl-dev libtomlplusplus-dev libmnl-dev libnftables-dev libboost-dev libboost-system-dev
  libtins-dev libssl-dev libcli11-dev nlohmann-json3-dev
  # cluster DNS (lib/dns): DNS messages parsed and built by NLnet Labs' ldns
  libldns-dev
  # capture and trace: libpcap compiles their filters (tcpdump's syntax)
  libpcap-dev
  # proxy_mode = "ebpf": the programs built with clang -target bpf, their skeleton made by bpftool
  # (which also shows what is loaded: README), loaded by libbpf
  clang libbpf-dev bpftool
  # what the README's walkthrough runs in a lab (python3: the Services walkthrough's getpeername
  # and UDP socket steps; nftables: `nft list`; bpftool, above: what the ebpf mode loaded)
  iproute2 iputils-ping tcpdump tshark curl util-linux procps iperf3 nftables containernetworking-plugins
  python3
  # network = "bgp": the BGP speakers (BIRD 2: bird, birdc) in every node and router of a lab
  bird2
  # examples/cni: iptables for portmap and firewall (Debian 1.1.1 has no nftables backend), jq and socat
  # for the by-hand scripts
  iptables jq socat
  # `graph -o svg` runs Graphviz's dot
  graphviz
)
if [[ $mode != runtime ]]; then
  packages+=(
    # tests, and ci/lint.sh's format check; python3 (in the runtime list) also crafts
    # examples/geneve's forged datagrams and drives chromium (headless, over the DevTools protocol)
    # against the live dashboard (examples/ui_test.sh)
    libgtest-dev libgmock-dev libbenchmark-dev clang-format chromium
    # cluster DNS's tests and benchmark: dig (dnsutils), dnsperf
    dnsutils dnsperf
    # benchmarks: sockperf; references (Mininet and nginx run only inside the sandbox; wrk drives
    # bench/ingress)
    sockperf mininet bridge-utils nginx-light wrk
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer for it.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  # nginx's and bird2's postinst would start a web server on the host's port 80 and a BGP daemon in its
  # root namespace; benchmarks and labs start their own, inside the sandbox and lab namespaces. Deny
  # service starts for this install unless a policy is already there (containers have one).
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT  # ours: removed however the install ends
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # bird2 enables a bird.service for the host's own routing: minikube-net runs BIRD only inside lab
  # namespaces, one daemon per node and router, so the host's stays off (it would start at boot).
  if [[ " ${missing[*]} " == *" bird2 "* ]] && command -v systemctl >/dev/null; then
    systemctl disable --now bird.service >/dev/null 2>&1 || true
  fi
fi

case $mode in
  full)
    # CI's build (ci/test.sh configures the same dir with the same flags): mold links (CMakeLists.txt
    # picks it when installed), the test binaries share one precompiled header and each target's
    # sources compile in batches (MKN_PCH, MKN_UNITY: on, as there is no ccache here), and
    # debug information is line tables only (MKN_DEBUG_INFO=lines: a third less compile time; the
    # build stays -O2 -DNDEBUG). For gdb, a build dir of your own: CONTRIBUTING.md "CI time budget".
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMKN_WERROR=ON -DMKN_TESTS=ON -DMKN_DEBUG_INFO=lines >/dev/null
    cmake --build build -j"$(nproc)"
    ;;
  runtime)
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMKN_TESTS=OFF >/dev/null
    cmake --build build -j"$(nproc)" --target minikube-net
    ;;
esac
