#!/bin/bash
# Inside the editors rootfs (tests/editors/rootfs.sh run bash /src/tests/krita/run-in-rootfs.sh OUT):
# install the plug-in into a fresh HOME, run Krita under Xvfb with the driver,
# then compare with the engine. Env: JM_CASES, JM_TIMEOUT, JM_ENGINE, JM_BIG.
set -uo pipefail
OUT=${1:?usage: run-in-rootfs.sh OUT}
ENGINE=${JM_ENGINE:-/opt/jewelmask-engine}
mkdir -p "$OUT"
export HOME=$OUT/home
export XDG_CONFIG_HOME=$HOME/.config XDG_DATA_HOME=$HOME/.local/share XDG_CACHE_HOME=$HOME/.cache
export XDG_RUNTIME_DIR=$HOME/runtime
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
export U2NET_HOME=${U2NET_HOME:-/opt/jewelmask-models}
export JEWELMASK_WORKER_IDLE=120
t0=$(date +%s.%N)
python3 /src/install/install-krita --venv "$ENGINE" --dev --no-model > "$OUT/install.log" 2>&1 || {
  echo "install-krita failed:"; tail -20 "$OUT/install.log"; exit 3; }
t1=$(date +%s.%N)
export JEWELMASK_KRITA_TEST=/src/tests/krita/driver.py JM_OUT=$OUT
export JEWELMASK_KRITA_LOG=$OUT/jewelmask-krita.log
export JM_IN8=$OUT/ring8.png JM_IN16=$OUT/ring16.png JM_SHOT=$OUT/krita-docker.png
timeout "${JM_TIMEOUT:-1700}" xvfb-run -a -s '-screen 0 1600x1200x24' krita --nosplash > "$OUT/krita.log" 2>&1
rc=$?
t2=$(date +%s.%N)
# stop the persistent worker the plug-in started (it would outlive this run)
"$ENGINE/bin/python" -c "
import sys; sys.path.insert(0, '/src/core/jewelmask'); import bridge_client as b
b.Engine(['$ENGINE/bin/python']).stop()" 2>/dev/null
"$ENGINE/bin/python" /src/tests/krita/check.py "$OUT" > "$OUT/check.log" 2>&1 || { echo "check failed:"; tail -20 "$OUT/check.log"; }
t3=$(date +%s.%N)
python3 -c "import json; json.dump({'krita_rc': $rc, 'install_s': round($t1-$t0, 2), 'krita_s': round($t2-$t1, 2), 'check_s': round($t3-$t2, 2)}, open('$OUT/run.json', 'w'))"
echo "krita rc=$rc install $(python3 -c "print(round($t1-$t0,1))") s, krita $(python3 -c "print(round($t2-$t1,1))") s, check $(python3 -c "print(round($t3-$t2,1))") s"
