#!/bin/bash
# Build the Debian 13 (trixie) root filesystem the editor tests run in.
#
#   tests/editors/build-rootfs.sh ROOTFS
#
# Called by tests/editors/rootfs.sh, which caches the result as a tarball keyed
# by a hash of THIS file: any change here means a rebuild. Needs root and
# debootstrap (apt-get install debootstrap).
#
# Contents: GIMP 3.0 with its Python plug-in support (python3-gi, gir1.2-gimp-3.0),
# Krita 5.2 with pykrita (python3-pyqt5), Xvfb + xauth + xwd/xdotool (dialogs and
# screenshots), python3-venv for the engine environment the installers create.
# Deliberately WITHOUT python3-numpy: GIMP's and Krita's own Python must not be
# able to import the engine's dependencies, as on Windows, macOS and Flatpak.
set -euo pipefail
ROOTFS=${1:?usage: build-rootfs.sh ROOTFS}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECMIRROR=${SECMIRROR:-http://deb.debian.org/debian-security}
SUITE=trixie
PACKAGES=(
  gimp gir1.2-gimp-3.0 python3-gi
  krita python3-pyqt5
  python3-venv
  xvfb xauth x11-apps xdotool fonts-dejavu-core
  ca-certificates
)

t0=$(date +%s)
say() { echo "=== build-rootfs: $* ($(( $(date +%s) - t0 )) s)"; }

[ "$(id -u)" = 0 ] || { echo "build-rootfs.sh must run as root" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install -y debootstrap" >&2; exit 2; }
[ ! -e "$ROOTFS" ] || [ -z "$(ls -A "$ROOTFS")" ] || { echo "$ROOTFS exists and is not empty" >&2; exit 2; }

debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR"
say "bootstrap done"

cat > "$ROOTFS/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECMIRROR $SUITE-security main
SRC
# no daemons inside the chroot; no docs, man pages or translations
printf '#!/bin/sh\nexit 101\n' > "$ROOTFS/usr/sbin/policy-rc.d"
chmod +x "$ROOTFS/usr/sbin/policy-rc.d"
cat > "$ROOTFS/etc/dpkg/dpkg.cfg.d/01-jewelmask-nodoc" <<'NODOC'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
NODOC
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
  > "$ROOTFS/etc/apt/apt.conf.d/90-jewelmask-norecommends"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"

# Mounts live in a private mount namespace: they vanish when it ends, whatever
# happens; the trap unmounts them explicitly as well.
unshare --mount --propagation private bash -euo pipefail -c '
  R=$1; shift
  cleanup() { umount -R "$R/dev" 2>/dev/null || true; umount "$R/sys" "$R/proc" 2>/dev/null || true; }
  trap cleanup EXIT
  mount -t proc proc "$R/proc"
  mount -t sysfs sys "$R/sys"
  mount --rbind /dev "$R/dev"; mount --make-rslave "$R/dev"
  run() { env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin chroot "$R" "$@"; }
  run apt-get update -q
  run apt-get install -y -q --no-install-recommends "$@"
  if run python3 -c "import numpy" 2>/dev/null; then
    echo "python3-numpy got into the rootfs; the editors Python must not have it" >&2; exit 1
  fi
  run apt-get clean
' build-rootfs "$ROOTFS" "${PACKAGES[@]}"
rm -rf "$ROOTFS"/var/lib/apt/lists/*_Packages "$ROOTFS"/var/cache/apt/*.bin
say "packages done; size $(du -sxh "$ROOTFS" | cut -f1)"
