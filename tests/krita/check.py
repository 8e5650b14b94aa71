"""Compare what the Krita driver dumped with the engine's own answer.

    ENGINE_PYTHON tests/krita/check.py OUT

Runs with the engine environment's python (numpy, jewelmask). For every step
the driver ran, it recomputes the mask from the very pixels Krita held
(``run_op`` on them, then ``combine_masks`` with the old mask by the mode
inside the selection, rounded to 8 bits as a transparency mask holds it) and
writes OUT/check.json with the largest difference per step; the test asserts.
Krita's byte orders are undone here independently of the plug-in: B,G,R,A
for integer RGBA, R,G,B,A for float, grey + alpha.
"""
import json
import os
import sys

import numpy as np

from jewelmask.dtypes import quantize
from jewelmask.ops import OPS, combine_masks, layer_rgba, run_op

_DT = {"U8": np.uint8, "U16": np.uint16, "F16": np.float16, "F32": np.float32}


def engine_image(path, model, depth, w, h):
    a = np.fromfile(path, dtype=_DT[depth])
    ch = 4 if model == "RGBA" else 2
    a = a.reshape(h, w, ch)
    if model == "RGBA" and depth in ("U8", "U16"):
        a = a[..., [2, 1, 0, 3]]
    a = a.astype(np.float32)
    if depth == "U8":
        a /= np.float32(255.0)
    elif depth == "U16":
        a /= np.float32(65535.0)
    if ch == 2:
        a = np.concatenate([np.repeat(a[..., :1], 3, axis=2), a[..., 1:]], axis=2)
    return a


def plane(out, name, w, h):
    if not name:
        return None
    return np.fromfile(os.path.join(out, name), dtype=np.uint8).reshape(h, w)


def check_layer(out, st, img, want, old8, r, w, h):
    """A new layer: one, above the source, the engine's colours (the source's own
    pixels outside the selection) in its colour space, and a copy of the mask."""
    layers = st.get("new_layers") or []
    r["new_layers"] = len(layers)
    if len(layers) != 1:
        r["error"] = "expected one new layer, got %d" % len(layers)
        return
    new = layers[0]
    r["above_source"] = new["above_source"]
    got = engine_image(os.path.join(out, new["pixels"]), new["model"], new["depth"], w, h)
    if new["depth"] in ("U8", "U16"):
        want = np.clip(want, 0.0, 1.0)
    r["layer_max_diff"] = float(np.abs(got - want).max())
    r["layer_changed"] = float(np.abs(want[..., :3] - img[..., :3]).max())
    masks = [plane(out, m, w, h) for m in new["masks"]]
    r["layer_mask_is_copy"] = len(masks) == 1 and old8 is not None and bool(np.array_equal(masks[0], old8))


def main(out):
    rep = json.load(open(os.path.join(out, "report.json")))
    result = {"steps": {}}
    for case, info in rep.get("cases", {}).items():
        x, y, w, h = info["region"]
        img = engine_image(os.path.join(out, info["pixels"]), info["model"], info["depth"], w, h)
        for i in info.get("steps", []):
            st = rep["steps"][i]
            r = {"op": st["op"], "case": case}
            result["steps"][str(i)] = r
            hist = st.get("history") or {}
            if st["op"] not in OPS:
                r["skipped"] = "engine has no %s" % st["op"]
                continue
            if hist.get("status") != "ok":
                r["error"] = "the plug-in did not finish: %s" % st.get("status")
                continue
            old8 = plane(out, st.get("old"), w, h)
            sel8 = plane(out, st.get("selection"), w, h)
            old = None if old8 is None else old8.astype(np.float32) / 255.0
            sel = None if sel8 is None else sel8.astype(np.float32) / 255.0
            paths = None
            if "paths" in OPS[st["op"]].needs:
                from jewelmask.paths.svg import paths_from_krita_svg

                paths = []
                for svg in info.get("shapes", []):
                    paths += paths_from_krita_svg(svg, info["resolution"])
            res = run_op(st["op"], img, mask=old, selection=sel, paths=paths, params=st["params"])
            limit = sel if OPS[st["op"]].selection_role == "limits" else None  # refine-edge: a brush
            if res.layer is not None:
                check_layer(out, st, img, layer_rgba(img, res.layer, selection=limit), old8, r, w, h)
            if res.mask is not None:
                want = quantize(combine_masks(old, res.mask, st["mode"], selection=limit), np.uint8)
                got = plane(out, st.get("mask"), w, h)
                if got is None:
                    r["error"] = "no transparency mask after the command"
                else:
                    d = np.abs(got.astype(np.int16) - want.astype(np.int16))
                    r["max_diff"] = int(d.max())
                    if sel8 is not None and old8 is not None:
                        r["changed_outside_selection"] = bool((got != old8)[sel8 == 0].any())
                    r["n_diff"] = int((d > 1).sum())
                    r["mask_mean"] = float(got.mean())
                    if d.max() > 1:
                        np.save(os.path.join(out, "s%d_want.npy" % i), want)
            r["channels"] = {}
            for cname, cmask in (res.channels or {}).items():
                name = cname if cname.startswith("jewelmask: ") else "jewelmask: " + cname
                got = plane(out, st.get("channels", {}).get(name), w, h)
                if got is None:
                    r["channels"][name] = "missing"
                    continue
                want = quantize(np.clip(cmask, 0, 1), np.uint8)
                r["channels"][name] = int(np.abs(got.astype(np.int16) - want.astype(np.int16)).max())
    with open(os.path.join(out, "check.json"), "w") as f:
        json.dump(result, f, indent=1)
    print("check:", json.dumps(result)[:2000])


if __name__ == "__main__":
    main(sys.argv[1])
