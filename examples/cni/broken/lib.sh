# examples/cni/broken/lib.sh — sourced by the broken plugins next to it (POSIX sh).
#
# real_plugin NAME: the path of the real plugin NAME: the first directory of CNI_PATH holding an
# executable NAME other than this directory, else /usr/lib/cni (Debian's containernetworking-plugins).
# stdin_conf: the network configuration the runtime wrote on stdin, read once into $conf.
# cni_error CODE MSG: a well-formed CNI error on stdout (SPEC.md "Error"), exit 1.
here=$(cd "$(dirname "$0")" && pwd)

real_plugin() {
  _old_ifs=$IFS
  IFS=:
  for _d in ${CNI_PATH:-}; do
    _d=$(cd "$_d" 2>/dev/null && pwd) || continue
    if [ "$_d" != "$here" ] && [ -x "$_d/$1" ]; then IFS=$_old_ifs; echo "$_d/$1"; return 0; fi
  done
  IFS=$_old_ifs
  echo "/usr/lib/cni/$1"
}

stdin_conf() { conf=$(cat); }

cni_error() {
  printf '{"cniVersion":"1.0.0","code":%s,"msg":"%s"}\n' "$1" "$2"
  exit 1
}
