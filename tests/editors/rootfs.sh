#!/bin/bash
# The Debian 13 root filesystem with GIMP 3 and Krita 5.2 that the editor tests
# run in, on a Debian 12 host (as root).
#
#   tests/editors/rootfs.sh build          build it, or unpack the cached tarball
#   tests/editors/rootfs.sh run CMD...     run CMD inside, the checkout at /src
#   tests/editors/rootfs.sh shell          an interactive shell inside
#   tests/editors/rootfs.sh path           print the rootfs folder (exit 1 if not built)
#   tests/editors/rootfs.sh clean          delete the unpacked rootfs (keeps the cache)
#
# Cache: /var/cache/jewelmask-editors/trixie-KEY.tar.zst, KEY = hash of
# build-rootfs.sh, so a CI machine reuses it until the package list changes.
# The unpacked tree lives in /var/tmp/jewelmask-editors/trixie-KEY and keeps
# what runs leave in it (engine venv, pip cache, GIMP profiles) between runs.
#
# Environment: JEWELMASK_EDITORS_CACHE, JEWELMASK_EDITORS_ROOT (the two folders),
# JEWELMASK_SRC (what `run` mounts at /src; default: this checkout),
# JEWELMASK_OUT (a host folder `run` mounts at /out, for test inputs and results),
# MIRROR / SECMIRROR (Debian mirrors for a build).
#
# `run` mounts /proc, /sys, /dev (rbind + rslave) and /src in a private mount
# namespace: they disappear when the command ends, even if it is killed, and
# the host's mounts are never touched. Variables for CMD: `run env A=1 CMD`.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_DIR=${JEWELMASK_EDITORS_CACHE:-/var/cache/jewelmask-editors}
ROOT_DIR=${JEWELMASK_EDITORS_ROOT:-/var/tmp/jewelmask-editors}
SRC=${JEWELMASK_SRC:-$(cd "$HERE/../.." && pwd)}
KEY=$(sha256sum "$HERE/build-rootfs.sh" | cut -c1-12)
NAME=trixie-$KEY
ROOTFS=$ROOT_DIR/$NAME
TARBALL=$CACHE_DIR/$NAME.tar.zst
READY=$ROOTFS/.jewelmask-rootfs-ready

die() { echo "rootfs.sh: $*" >&2; exit 2; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (chroot, mounts)"; }

ensure_host_tools() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v zstd >/dev/null || missing+=(zstd)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "=== rootfs: installing ${missing[*]} on the host"
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  fi
}

prune_old() {  # other keys' trees and tarballs: 2+ GB each
  local d
  for d in "$ROOT_DIR"/trixie-*; do
    [ -e "$d" ] && [ "$d" != "$ROOTFS" ] || continue
    case "$d" in *.tmp) ;; *) echo "=== rootfs: removing outdated $d";; esac
    rm -rf --one-file-system "$d"
  done
  for d in "$CACHE_DIR"/trixie-*.tar.zst; do
    [ -e "$d" ] && [ "$d" != "$TARBALL" ] || continue
    echo "=== rootfs: removing outdated $d"; rm -f "$d"
  done
}

cmd_build() {
  need_root
  mkdir -p "$CACHE_DIR" "$ROOT_DIR"
  exec 9>"$ROOT_DIR/.lock"
  flock 9                           # one builder at a time; others wait and reuse
  if [ -e "$READY" ]; then echo "$ROOTFS"; return 0; fi
  local t0=$(date +%s) tmp=$ROOTFS.tmp
  prune_old
  rm -rf --one-file-system "$tmp"; mkdir -p "$tmp"
  if [ -f "$TARBALL" ]; then
    echo "=== rootfs: unpacking $TARBALL"
    command -v zstd >/dev/null || ensure_host_tools
    tar -C "$tmp" --numeric-owner -xpf "$TARBALL" -I zstd
  else
    ensure_host_tools
    echo "=== rootfs: building $NAME with debootstrap (about 2 minutes)"
    "$HERE/build-rootfs.sh" "$tmp"
    echo "=== rootfs: caching it as $TARBALL"
    tar -C "$tmp" --numeric-owner -cpf - . | zstd -q -3 -T0 > "$TARBALL.part"
    mv "$TARBALL.part" "$TARBALL"
  fi
  mv "$tmp" "$ROOTFS"
  touch "$READY"
  echo "=== rootfs: ready in $(( $(date +%s) - t0 )) s: $ROOTFS ($(du -sxh "$ROOTFS" | cut -f1))"
  echo "$ROOTFS"
}

cmd_run() {
  need_root
  [ -e "$READY" ] || die "the editors rootfs is not built: run $HERE/rootfs.sh build"
  [ $# -gt 0 ] || die "usage: rootfs.sh run CMD..."
  mkdir -p "$ROOTFS/src"
  cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true
  local cert=()
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    # pip inside needs the host's CA bundle (TLS-intercepting proxies)
    cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/host-ca-bundle.crt"
    cert=(PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt)
  fi
  unshare --mount --propagation private bash -euo pipefail -c '
    R=$1 S=$2 O=$3; shift 3
    cleanup() {
      [ -z "$O" ] || umount "$R/out" 2>/dev/null || true
      umount "$R/src" 2>/dev/null || true
      umount -R "$R/dev" 2>/dev/null || true
      umount "$R/sys" "$R/proc" 2>/dev/null || true
    }
    trap cleanup EXIT
    mount -t proc proc "$R/proc"
    mount -t sysfs sys "$R/sys"
    mount --rbind /dev "$R/dev"; mount --make-rslave "$R/dev"
    mount --bind "$S" "$R/src"
    if [ -n "$O" ]; then mkdir -p "$R/out"; mount --bind "$O" "$R/out"; fi
    rc=0
    chroot "$R" "$@" || rc=$?
    exit $rc
  ' rootfs-run "$ROOTFS" "$SRC" "${JEWELMASK_OUT:-}" \
    env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      PIP_DISABLE_PIP_VERSION_CHECK=1 "${cert[@]}" "$@"
}

case "${1:-}" in
  build) shift; cmd_build "$@" ;;
  run) shift; cmd_run "$@" ;;
  shell) shift; cmd_run bash -l ;;
  path) [ -e "$READY" ] && echo "$ROOTFS" || { echo "not built: $HERE/rootfs.sh build" >&2; exit 1; } ;;
  key) echo "$KEY" ;;
  clean) need_root; rm -rf --one-file-system "$ROOTFS" "$ROOTFS.tmp"; echo "removed $ROOTFS" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
