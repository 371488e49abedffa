#!/usr/bin/env bash
# ci/lint.sh — the house rules CI can check without building: layering, formatting, file length.
#
#   ci/lint.sh              check every tracked source file
#   ci/lint.sh --changed    format check only on files changed against origin/main (or HEAD~1)
#
# Rules (CONTRIBUTING.md "Layout" and "Style"):
#   1. layering: lib/ includes no kernel, socket or Asio headers and nothing of vnet/ or cmd/; vnet/ never
#      includes cmd/; a vnet/ room includes only the rooms below it (the order in vnet/CMakeLists.txt);
#      toml++ is included only in lib/config/toml (the lab file's reader).
#   2. clang-format (Debian's clang-format 14, .clang-format at the top) reports nothing.
#   3. no file in lib/ or vnet/ is longer than 800 lines unless its banner says why, in a line that starts
#      with "// Long file:" among its first 40 lines.
#   4. one errno table: vnet/ and cmd/ make a Status of an errno with KernelError (vnet/kernel/errors.h),
#      never absl::ErrnoToStatus (whose table differs, so declarations' codes would not hold).
# The fifth rule, no compiler warnings, is the build's: ci/setup.sh and ci/test.sh build with
# -DMKN_WERROR=ON.
# Exit status: 0 clean, 1 a rule is broken (every finding printed as file:line: rule: what), 2 usage.
set -uo pipefail
cd "$(dirname "$0")/.."

changed=0
case "${1:-}" in
  "") ;;
  --changed) changed=1 ;;
  *) echo "usage: ci/lint.sh [--changed]" >&2; exit 2 ;;
esac

fail=0
finding() { echo "$1" >&2; fail=1; }

mapfile -t sources < <(git ls-files -- '*.cc' '*.h')

# --- 1. layering -------------------------------------------------------------------------------------
# Headers that reach the kernel, a socket or Asio. lib/ is pure: it computes, vnet/ carries out.
kernel_re='#include <(linux/|sys/socket\.h|sys/ioctl\.h|sys/mount\.h|net/if\.h|netinet/|netlink/|libmnl/|nftables/|boost/asio|boost/beast|openssl/|pcap|bpf/)'
while IFS= read -r hit; do
  finding "$hit: layering: lib/ must stay pure (no kernel, socket, Asio or TLS headers): move this to vnet/"
done < <(grep -nE "$kernel_re" lib --include='*.cc' --include='*.h' -r)
# System calls and I/O (files, threads) are vnet/'s too; a test (and a folder's testing.h) may read its
# testdata. std::filesystem stays allowed: lib/config joins paths with it (no I/O).
while IFS= read -r hit; do
  finding "$hit: layering: lib/ does no I/O and makes no system calls (files, threads, fds): that is vnet/'s"
done < <(grep -nE '#include <(unistd\.h|fcntl\.h|sys/[a-z_]+\.h|arpa/inet\.h|poll\.h|sched\.h|signal\.h|pthread\.h|fstream|thread|mutex|condition_variable)>' \
  lib --include='*.cc' --include='*.h' -r | grep -vE '_test\.cc:|/testing\.h:')
# libtins (which can open sockets) only as an independent cross-check in lib/'s tests.
while IFS= read -r hit; do
  finding "$hit: layering: lib/ uses libtins only in *_test.cc (a cross-check), never in its code"
done < <(grep -nE '#include <tins/' lib --include='*.cc' --include='*.h' -r | grep -v '_test\.cc:')
while IFS= read -r hit; do
  finding "$hit: layering: lib/ must not include vnet/ or cmd/ (cmd/ -> vnet/ -> lib/)"
done < <(grep -nE '#include "(vnet|cmd)/' lib --include='*.cc' --include='*.h' -r)
while IFS= read -r hit; do
  finding "$hit: layering: vnet/ must not include cmd/"
done < <(grep -nE '#include "cmd/' vnet --include='*.cc' --include='*.h' -r)
# The lab file's TOML is read in one place, so that only what reads a lab's text links toml++.
while IFS= read -r hit; do
  [[ $hit == lib/config/toml/* ]] && continue
  finding "$hit: layering: toml++ only in lib/config/toml (read a lab with Load() from its load.h)"
done < <(grep -rnE '#include <toml\+\+/' lib vnet cmd bench --include='*.cc' --include='*.h')

# Rooms of vnet/ and what each may include besides itself (tests may also use vnet/testing).
declare -A below=(
  [kernel]=""
  [testing]="kernel"
  [apps]="kernel"
  [proxy]="kernel"
  [geneve]="kernel"
  [edge]="kernel"
  [ebpf]="kernel"
  [cni]="kernel"
  [bgp]="kernel"
  [cluster]="kernel apps proxy geneve edge ebpf cni bgp"
  [capture]="kernel apps proxy geneve edge ebpf cni bgp cluster"
  [trace]="kernel apps proxy geneve edge ebpf cni bgp cluster capture"
  [graph]="kernel apps proxy geneve edge ebpf cni bgp cluster"
  [cni/verify]="kernel apps proxy geneve edge ebpf cni bgp cluster"
  [check]="kernel apps proxy geneve edge ebpf cni bgp cluster cni/verify"
  [ui]="kernel apps proxy geneve edge ebpf cni bgp cluster capture trace graph"
)
for f in "${sources[@]}"; do
  [[ $f == vnet/* ]] || continue
  rel=${f#vnet/}
  room=${rel%/*}
  [[ $rel == */* ]] || { finding "$f:1: layering: every vnet/ file lives in a room (vnet/<room>/)"; continue; }
  [[ -v below[$room] ]] || { finding "$f:1: layering: vnet/$room is not a room in ci/lint.sh's table"; continue; }
  allowed=" $room ${below[$room]} "
  [[ $f == *_test.cc ]] && allowed+="testing "
  while IFS=: read -r line inc; do
    target=${inc#*\"vnet/}
    target=${target%/*}
    # A header of a sub-room (vnet/cni/verify/x.h) belongs to that sub-room.
    [[ " $allowed " == *" $target "* ]] && continue
    list=$(echo $allowed | tr ' ' ',')
    finding "$f:$line: layering: vnet/$room may include only vnet/{$list} (found vnet/$target)"
  done < <(grep -nE '#include "vnet/' "$f" | sed -E 's/^([0-9]+):.*(#include "vnet\/[^"]+").*/\1:\2/')
done

# --- 4. one errno table --------------------------------------------------------------------------------
while IFS= read -r hit; do
  finding "$hit: errors: use KernelError (vnet/kernel/errors.h), the one errno -> code table"
done < <(grep -rn 'absl::ErrnoToStatus' vnet cmd --include='*.cc' --include='*.h')

# --- 2. clang-format ---------------------------------------------------------------------------------
if ! command -v clang-format >/dev/null; then
  finding "ci/lint.sh: clang-format is not installed (ci/setup.sh installs it)"
else
  files=("${sources[@]}")
  if ((changed)); then
    base=$(git merge-base HEAD origin/main 2>/dev/null || git rev-parse HEAD~1)
    mapfile -t files < <(git diff --name-only --diff-filter=d "$base" -- '*.cc' '*.h')
  fi
  if ((${#files[@]})); then
    if ! out=$(clang-format --dry-run -Werror "${files[@]}" 2>&1); then
      grep -E '^[^ ].*: error:' <<<"$out" | sed -E 's/: error: code should be clang-formatted.*/: format: run clang-format -i on this file/' |
        sort -u | while IFS= read -r l; do echo "$l" >&2; done
      fail=1
    fi
  fi
fi

# --- 3. file length ----------------------------------------------------------------------------------
for f in "${sources[@]}"; do
  [[ $f == lib/* || $f == vnet/* ]] || continue
  [[ $f == *_test.cc ]] && continue
  n=$(wc -l <"$f")
  ((n > 800)) || continue
  head -n 40 "$f" | grep -q '^// Long file:' && continue
  finding "$f:1: length: $n lines (over 800): split it by concern, or say why in a '// Long file:' banner line"
done

if ((fail)); then
  echo "ci/lint.sh: failed (rules: CONTRIBUTING.md)" >&2
  exit 1
fi
echo "ci/lint.sh: ok (${#sources[@]} files: layering, format, length)"
