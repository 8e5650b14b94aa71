#!/bin/bash
# Screenshots of every Jewelry Mask dialog for the docs, from the real GIMP 3
# under Xvfb in the editors rootfs (as root):
#   tests/editors/gimp/make-screenshots.sh [DEST]     (default: docs/img)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
DEST=${1:-$REPO/docs/img}
OUT=$(mktemp -d /tmp/jewelmask-shots.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
"$HERE/../rootfs.sh" build >/dev/null
"$REPO/.venv/bin/python" "$HERE/gimp_inputs.py" "$OUT/in" >/dev/null
JEWELMASK_OUT=$OUT "$HERE/../rootfs.sh" run sh -c \
  'python3 /src/install/install-gimp --profile /var/tmp/jewelmask-gimp-profile --venv /var/tmp/jewelmask-gimp-engine >/out/install.log 2>&1 &&
   JM_SHOTS=all /src/tests/editors/gimp/run-gimp-gui.sh'
mkdir -p "$DEST"
cp "$OUT"/gimp-dialog-*.png "$DEST"/
ls -1 "$DEST"/gimp-dialog-*.png
