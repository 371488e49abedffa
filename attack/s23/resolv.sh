#!/usr/bin/env bash
# Run inside ci/sandbox.sh. /etc/resolv.conf missing, a dangling symlink, a symlink: in a private
# mount namespace of this script's own (a copy of /etc bound over /etc), never the host's.
cd /work/wt-atk
MKN=$PWD/build-h/minikube-net
before=$(stat -c '%i %s %Y' /etc/resolv.conf; sha256sum /etc/resolv.conf)
for c in missing dangling symlink; do
  echo "== /etc/resolv.conf $c"
  unshare -m --propagation private bash -c '
    set -u; c=$1; MKN=$2; E=/tmp/atk-s23-etc-$c; rm -rf $E; cp -a /etc $E; rm -f $E/resolv.conf
    case $c in
      dangling) ln -s /run/systemd/resolve/stub-resolv.conf $E/resolv.conf ;;
      symlink) mkdir -p /tmp/atk-s23-r; echo "nameserver 192.0.2.53" >/tmp/atk-s23-r/real.conf; ln -s /tmp/atk-s23-r/real.conf $E/resolv.conf ;;
    esac
    mount --bind $E /etc
    ls -la /etc/resolv.conf 2>&1
    timeout 60 $MKN up -d examples/dns/lab.toml 2>&1 | tail -3
    timeout 10 $MKN exec client -- cat /etc/resolv.conf 2>&1 | head -3
    timeout 10 $MKN exec client -- getent hosts web 2>&1
    [[ $c == symlink ]] && echo "target after: $(cat /tmp/atk-s23-r/real.conf)"
    timeout 60 $MKN down dns 2>&1 | tail -1
    umount /etc; rm -rf $E /tmp/atk-s23-r
  ' _ $c $MKN
done
after=$(stat -c '%i %s %Y' /etc/resolv.conf; sha256sum /etc/resolv.conf)
[[ $before == "$after" ]] && echo "host /etc/resolv.conf unchanged ($after)" || echo "CHANGED: $before -> $after"
