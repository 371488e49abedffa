#!/usr/bin/env bash
# ci/package.sh — make the Debian package from a build directory and check it as a workshop machine
# would get it.
#
#   ci/package.sh [BUILD_DIR]        (default: build; it must be built)
#
# Runs CPack (the `package` target's work: minikube-net_<version>_<arch>.deb, its library Depends
# computed by dpkg-shlibdeps) into a temporary directory, then checks without root:
#   - dpkg-deb -I: the package name, and Depends naming iproute2 and the shared libraries the binary
#     links (libabsl, libtomlplusplus, libmnl, libnftables, libssl);
#   - dpkg-deb -c: the binary, the sandbox wrapper, the example labs and the README are in it, and no
#     test script or test tool is;
#   - the installed tree (dpkg -x into a throw-away root): `minikube-net --version` answers, and
#     `validate` passes every shipped example lab that needs nothing the package does not bring.
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
for dep in iproute2 libabsl libtomlplusplus libmnl libnftables libssl libc6 libstdc++; do
  grep -q "$dep" <<<"$depends" || fail "Depends lacks $dep: $depends"
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
