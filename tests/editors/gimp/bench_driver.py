# Timings of every Jewelry Mask command on a 24 MP photo inside GIMP 3
# (run by bench-gimp.sh; GIMP's python-fu-eval). Writes $JM_OUT/bench.json:
# per command the wall time of the PDB call, and the plug-in's own breakdown
# (JEWELMASK_DEBUG lines in the GIMP log: reading pixels from GIMP, the bridge,
# the worker, writing the mask back).
import json
import os
import time

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio  # noqa: E402

OUT = os.environ.get("JM_OUT", "/out")
PLUGIN_DIR = os.environ["JM_PLUGIN_DIR"]
OPS = json.load(open(os.path.join(PLUGIN_DIR, "jewelmask-ops.json")))["ops"]
pdb = Gimp.get_pdb()
result = {"gimp": Gimp.version(), "runs": []}
src = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(os.path.join(OUT, "in", "photo24.png")))
result["size"] = [src.get_width(), src.get_height()]
svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="6000" height="4000">'
       '<path d="M 2500 1500 L 3500 1500 L 3500 2500 L 2500 2500 Z"/></svg>')
for rep in range(int(os.environ.get("JM_REPEAT", "1"))):
    for op in OPS:
        img = src.duplicate()
        layer = img.get_layers()[0]
        if "paths" in op.get("needs", ()):
            ok, paths = img.import_paths_from_string(svg, len(svg), False, False)
            img.set_selected_paths(list(paths))
        proc = pdb.lookup_procedure("plug-in-jewelmask-" + op["name"])
        cfg = proc.create_config()
        cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
        cfg.set_property("image", img)
        cfg.set_core_object_array("drawables", [layer])
        t = time.time()
        status = proc.run(cfg).index(0)
        result["runs"].append({"op": op["name"], "status": str(status), "wall": round(time.time() - t, 3)})
        img.delete()
        with open(os.path.join(OUT, "bench.json"), "w") as f:
            json.dump(result, f, indent=1)
src.delete()
