#!/usr/bin/env bash
# ci/package.sh — make the Debian package from a build directory and check it as a workshop machine
# would get it.
#
#   ci/package.sh [BUILD_DIR]        (default: build; it must be built)
#
# Runs CPack (the `package` target's work: minikube-net_<version>_<arch>.deb, its library Depends
# computed by dpkg-shlibdeps) into a temporary directory, then checks without root:
#   - dpkg-deb -I: the package name, Depends naming iproute2 and the shared libraries the binary
#     links (libabsl, libtomlplusplus, libmnl, libnftables, libssl), and Recommends naming what the
#     README's steps and verify run (iputils-ping, curl, socat, the CNI plugins, iptables);
#   - dpkg-deb -c: the binary, the sandbox wrapper, the example labs and the README are in it, and no
#     test script or test tool is;
#   - the installed tree (dpkg -x into a throw-away root): the binary is stripped (no debug info),
#     `minikube-net --version` answers, `validate` passes every shipped example lab that needs
#     nothing the package does not bring, and the wrapper and the binary speak of themselves by
#     their installed names (minikube-net-sandbox, minikube-net), never ci/sandbox.sh or
#     build/minikube-net: the wrapper's header and usage, and `minikube-net --help`.
# Prints the .deb's path on success. Exit status: 0 ok, 1 a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
[[ -f $build/CPackConfig.cmake ]] || { echo "ci/package.sh: $build is not a configured build dir" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "ci/package.sh: $*" >&2; exit 1; }

(cd "$out" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$out/pkg" >"$out/cpack.log" 2>&1) ||
  { cat "$out/cpack.log" >&2; fail "cpack failed"; }
deb=$(ls "$out"/pkg/minikube-net_*.deb 2>/dev/null | head -1)
[[ -n $deb ]] || fail "no minikube-net_*.deb made (see cpack's output above)"

info=$(dpkg-deb -I "$deb")
grep -q '^ Package: minikube-net$' <<<"$info" || fail "package name: $(grep Package: <<<"$info")"
depends=$(sed -n 's/^ Depends: //p' <<<"$info")
for dep in iproute2 libabsl libtomlplusplus libmnl libnftables libpcap libssl libc6 libstdc++; do
  grep -q "$dep" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
recommends=$(sed -n 's/^ Recommends: //p' <<<"$info")
for dep in iputils-ping curl socat containernetworking-plugins iptables bird2 bpftool nftables python3 jq; do
  grep -qw -- "$dep" <<<"$recommends" || fail "Recommends lacks $dep: $recommends"
done

files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/minikube-net ./usr/bin/minikube-net-sandbox \
  ./usr/share/minikube-net/examples/quickstart/lab.toml ./usr/share/doc/minikube-net/README.md; do
  grep -qx "$f" <<<"$files" || fail "the package lacks $f"
done
! grep -qE '_test\.sh$|testlib\.sh$|/tools/|CMakeLists\.txt$' <<<"$files" || fail "the package ships test files: $(grep -E '_test\.sh$|testlib\.sh$|/tools/|CMakeLists\.txt$' <<<"$files" | head -3)"

root=$out/root
dpkg -x "$deb" "$root"
version=$("$root/usr/bin/minikube-net" --version) || fail "--version failed"
[[ $version == minikube-net* ]] || fail "--version printed: $version"
! readelf -S "$root/usr/bin/minikube-net" | grep -q '\.debug_' ||
  fail "the binary carries debug info ($(du -h "$root/usr/bin/minikube-net" | cut -f1)): not stripped"
size=$(sed -n 's/^ Installed-Size: //p' <<<"$info")
((size < 40000)) || fail "Installed-Size is $size KiB"

# The installed names, as a user on a workshop machine types them (bash gives $0 as the path PATH
# found, /usr/bin/minikube-net-sandbox on a real install).
sandbox=$root/usr/bin/minikube-net-sandbox
head=$(sed -n '2,8p' "$sandbox")
grep -q '^# minikube-net-sandbox — ' <<<"$head" || fail "the wrapper's header: $head"
! grep -q 'ci/sandbox.sh' <<<"$head" || fail "the wrapper's header names ci/sandbox.sh: $head"
rc=0; usage=$(PATH="$root/usr/bin:$PATH" minikube-net-sandbox 2>&1) || rc=$?
[[ $rc == 2 ]] || fail "minikube-net-sandbox without a command: exit $rc: $usage"
grep -q '^usage: minikube-net-sandbox CMD' <<<"$usage" || fail "the wrapper's usage: $usage"
grep -q 'minikube-net-sandbox minikube-net up --shell' <<<"$usage" || fail "the wrapper's hint: $usage"
help=$("$root/usr/bin/minikube-net" --help)
grep -q 'minikube-net-sandbox --join' <<<"$help" || fail "--help does not name minikube-net-sandbox: $help"
! grep -q 'ci/sandbox.sh' <<<"$help" || fail "--help names ci/sandbox.sh: $help"
grep -q "minikube-net-sandbox minikube-net up --shell $root/usr/share/minikube-net/examples/quickstart" \
  <<<"$("$root/usr/bin/minikube-net" up --help)" || fail "up --help: $("$root/usr/bin/minikube-net" up --help)"
labs=0
for lab in "$root"/usr/share/minikube-net/examples/*/lab.toml "$root"/usr/share/minikube-net/examples/cni/*.toml; do
  [[ -f $lab ]] || continue
  # CNI labs need the plugins (containernetworking-plugins: Recommends), not part of this check.
  grep -q '^network = "cni"' "$lab" && [[ ! -x /usr/lib/cni/bridge ]] && continue
  "$root/usr/bin/minikube-net" validate "$lab" >/dev/null 2>"$out/validate.err" ||
    fail "validate $lab failed: $(cat "$out/validate.err")"
  labs=$((labs + 1))
done
((labs >= 5)) || fail "only $labs example labs validated"
mkdir -p "$build/package"
cp "$deb" "$build/package/"
echo "ci/package.sh: ok: $build/package/$(basename "$deb") ($version; $labs example labs validate; Depends: $depends)"
