#!/bin/bash
# Every Jewelry Mask command on a 24 MP (6000x4000, 8-bit) photo in the real
# GIMP 3, with the plug-in's own timing breakdown. On the host, as root:
#   tests/editors/gimp/bench-gimp.sh [REPEAT]
# Prints a table; the raw figures stay in the printed folder.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
OUT=$(mktemp -d /tmp/jewelmask-bench-gimp.XXXXXX)
"$HERE/../rootfs.sh" build >/dev/null
"$REPO/.venv/bin/python" - "$OUT/in" <<'PY'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
sys.path.insert(0, "tests/editors/gimp")
import gimp_inputs as inputs
d = Path(sys.argv[1]); d.mkdir(parents=True, exist_ok=True)
Image.fromarray(np.rint(inputs.render(6000, 4000) * 255).astype(np.uint8)).save(d / "photo24.png", compress_level=1)
PY
JEWELMASK_OUT=$OUT "$HERE/../rootfs.sh" run env JM_REPEAT="${1:-1}" sh -c '
  set -e
  P=/var/tmp/jewelmask-gimp-profile
  python3 /src/install/install-gimp --profile $P --venv /var/tmp/jewelmask-gimp-engine > /out/install.log 2>&1
  export GIMP3_DIRECTORY=$P JM_PLUGIN_DIR=$P/plug-ins/jewelmask JEWELMASK_DEBUG=1 JEWELMASK_WORKER_IDLE=60
  gimp-console-3.0 -i --batch-interpreter python-fu-eval \
    -b "exec(open(\"/src/tests/editors/gimp/bench_driver.py\").read())" --quit > /out/gimp.log 2>&1
  python3 -c "import sys; sys.path.insert(0, \"$JM_PLUGIN_DIR\"); import bridge_client as b; b.find_engine(\"$JM_PLUGIN_DIR\").stop()"'
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
bench = json.load(open(out + "/bench.json"))
lines = [json.loads(l.split("jewelmask-timing ", 1)[1]) for l in open(out + "/gimp.log") if "jewelmask-timing " in l]
print("GIMP %s, %dx%d 8-bit RGB; seconds" % (bench["gimp"], *bench["size"]))
print("%-14s %8s %8s %9s %8s %10s %8s" % ("command", "wall", "engine", "gimp-read", "bridge", "gimp-write", "added"))
for run, t in zip(bench["runs"], lines):
    w = t["worker"]; b = t["bridge"]
    bridge = b["write"] + b["read"] + (b["wait"] - w["op"])
    added = run["wall"] - w["op"]
    print("%-14s %8.2f %8.2f %9.2f %8.2f %10.2f %8.2f  %s" % (run["op"], run["wall"], w["op"], t["gimp_read"],
          bridge, t["gimp_write"], added, "" if "SUCCESS" in run["status"] else run["status"]))
print("bridge = client file write + read + (wait - the op's own time in the worker);")
print("added = wall - the op's own time (GIMP plug-in start, pixel reading/writing, bridge)")
print("raw: " + out)
PY
