#!/bin/bash
# Inside the editors rootfs, after run-gimp-tests.sh installed the plug-in into
# the same profile: the full GIMP under Xvfb, driving gui_driver.py (undo with
# Ctrl+Z / Ctrl+Y, dialog screenshots with JM_SHOTS=all). Writes
# $JM_OUT/gui-report.json and gimp-dialog-*.png.
set -euo pipefail
export JM_OUT=${JM_OUT:-/out}
PROFILE=${JM_PROFILE:-/var/tmp/jewelmask-gimp-profile}
export GIMP3_DIRECTORY=$PROFILE
export JM_PLUGIN_DIR=$PROFILE/plug-ins/jewelmask
export JEWELMASK_WORKER_IDLE=${JEWELMASK_WORKER_IDLE:-60}
# no welcome dialog, no tips: nothing but the image window and our dialogs
grep -q show-welcome-dialog "$PROFILE/gimprc" 2>/dev/null || echo '(show-welcome-dialog no)' >> "$PROFILE/gimprc"
export NO_AT_BRIDGE=1 GTK_A11Y=none
rc=0
timeout "${GIMP_TIMEOUT:-300}" xvfb-run -a -s "-screen 0 1280x900x24" \
  gimp-3.0 --no-splash --batch-interpreter python-fu-eval \
  -b "exec(open('/src/tests/editors/gimp/gui_driver.py').read())" --quit \
  > "$JM_OUT/gimp-gui.log" 2>&1 || rc=$?
python3 -c "import sys; sys.path.insert(0, '$JM_PLUGIN_DIR'); import bridge_client as b; b.find_engine('$JM_PLUGIN_DIR').stop()" || true
echo "gimp (GUI) exit $rc"
[ $rc -eq 0 ] || grep -vE 'CRITICAL|^$' "$JM_OUT/gimp-gui.log" | tail -30
exit $rc
