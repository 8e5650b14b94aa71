#!/bin/bash
# Inside the editors rootfs (tests/editors/rootfs.sh run ...), checkout at /src,
# test inputs in $JM_OUT/in (default /out/in). Installs the engine and the
# plug-in with install/install-gimp exactly as a user would (engine venv from
# PyPI, plug-in copied into a GIMP profile), runs driver.py in GIMP 3 headless,
# and leaves report.json, logs and raw dumps in $JM_OUT.
#   JM_PROFILE   GIMP profile to use (default: a reused one, so GIMP does not
#                query every system plug-in on each run; FRESH=1 for a new one)
set -euo pipefail
export JM_OUT=${JM_OUT:-/out}
PROFILE=${JM_PROFILE:-/var/tmp/jewelmask-gimp-profile}
[ -z "${FRESH:-}" ] || rm -rf "$PROFILE"
mkdir -p "$PROFILE"
export GIMP3_DIRECTORY=$PROFILE
export JM_PLUGIN_DIR=$PROFILE/plug-ins/jewelmask
# a leftover persistent worker from an earlier run must not outlive this one long
export JEWELMASK_WORKER_IDLE=${JEWELMASK_WORKER_IDLE:-60}
# a test-only operation that makes a new layer (the decontaminate path); the
# engine registers it, GIMP's own Python ignores it (tests/editors/fake_ops)
[ "${JM_FAKE_OPS:-1}" = 0 ] || export PYTHONPATH=/src/tests/editors/fake_ops${PYTHONPATH:+:$PYTHONPATH}
t0=$(date +%s.%N)
elapsed() { python3 -c "import time; print(round(time.time() - $t0, 1))"; }

echo "=== install-gimp"
python3 /src/install/install-gimp --profile "$PROFILE" --venv "${JM_ENGINE:-/var/tmp/jewelmask-gimp-engine}" \
  > "$JM_OUT/install.log" 2>&1 \
  || { cat "$JM_OUT/install.log"; echo "install-gimp failed"; exit 3; }
echo "install-gimp done at $(elapsed) s"
# GIMP's Python must not see numpy: the point of the worker bridge
if python3 -c "import numpy" 2>/dev/null; then echo "numpy importable by the system python3"; exit 4; fi

echo "=== GIMP"
rc=0
timeout "${GIMP_TIMEOUT:-900}" gimp-console-3.0 -i --batch-interpreter python-fu-eval \
  -b "exec(open('/src/tests/editors/gimp/driver.py').read())" --quit > "$JM_OUT/gimp.log" 2>&1 || rc=$?
echo "gimp-console exit $rc at $(elapsed) s"
# stop the persistent worker this run started
python3 -c "import sys; sys.path.insert(0, '$JM_PLUGIN_DIR'); import bridge_client as b; b.find_engine('$JM_PLUGIN_DIR').stop()" || true
if [ $rc -ne 0 ]; then grep -vE 'CRITICAL|^$' "$JM_OUT/gimp.log" | tail -40; exit $rc; fi

# The full GIMP under Xvfb: undo (Ctrl+Z) and, with JM_SHOTS, dialog screenshots.
if [ "${JM_GUI:-1}" != 0 ]; then
  echo "=== GIMP user interface (Xvfb)"
  /src/tests/editors/gimp/run-gimp-gui.sh || rc=$?
  echo "GIMP GUI done at $(elapsed) s"
fi
exit $rc
