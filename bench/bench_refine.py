"""Benchmark of refine edge, colour decontamination and their speed.

    python -m bench.bench_refine [--set 1600] [--limit N] [--matting-limit 8] [--no-big]

On the synthetic set (``bench.synth.make_set``) it measures:

1. **refine_edge** applied to several starting masks, before and after, with
   the metrics of ``bench.metrics`` (SAD, MSE, gradient, connectivity, IoU,
   thin and prong recall, gap fill, background false positives) and the time
   of the refine call alone:

   ``gt-blur`` / ``gt-erode`` / ``gt-dilate``
       the ground truth blurred (Gaussian sigma 1.5 px), eroded or dilated by
       one pixel (3x3 grey morphology): does refine find the true edge?
   ``rembg``
       plain rembg u2netp (``only_mask=True``);
   ``ai``
       the full-detail AI pass, ``run_recipe(image, recipe="ai")``;
   ``auto``
       the ``auto`` recipe as it is now (without refine).

   Each starting mask is refined without a backdrop plate, and (``+plate``)
   with the plate of ``jewelmask.backdrop.backdrop_plate`` fitted around the
   AI mask, as ``auto`` would pass it.
2. **rembg's alpha matting** (``remove(..., alpha_matting=True)``, the cutout's
   alpha) on the first ``--matting-limit`` scenes, side by side with refine
   on the same scenes: time and thin-structure recall.
3. **decontaminate**: on soft-edge pixels (ground-truth alpha in
   [0.05, 0.95]) the colour error of the cutout composited on black,
   ``mean |a F_est - scene.fg_on_black|`` over pixels and channels, pooled
   over the set. ``scene.fg_on_black`` is the jewelry as the synthetic camera
   records it on a black backdrop (``alpha * fg`` through the frame's
   chromatic aberration and sharpening, before noise and JPEG; see
   ``bench/README.md``). With the ground-truth alpha ``a`` (to isolate the
   colour): without decontamination (``F = I``), with it (no plate, and
   with the plate); two floors: exact un-mixing with the true backdrop and
   the ground-truth alpha (``F = (I - (1 - a) B_gt) / a``), and exact
   un-mixing with the backdrop's share of the photo as the camera made it
   (``I - optics((1 - a) B_gt)``: what is left is only noise and JPEG).
   Then with the alpha users decontaminate, ``refine_edge`` of the AI mask
   with the plate (``a = a_refined``): none and decontaminate + plate.
   For comparison with earlier runs, the ratio against the former reference
   ``a fg`` is kept too.
4. **6000x4000**: refine time (best and median of ``--repeats``) and peak
   memory above the resident set on ``make_set("6000")``, for the AI and
   ``auto`` masks.

Starting masks and plates are cached in ``bench/out/refine-inputs-<set>/``
(keyed by the generator version), so a second run only times the refine.
Results: ``bench/out/refine-<set>.json`` and ``.md``; the tables are printed.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from . import metrics as M
from . import synth

OUT = synth.OUT_DIR
INPUTS = ("gt-blur", "gt-erode", "gt-dilate", "rembg", "ai", "auto")
_COLS = (("SAD", "sad", 1.0, "{:.2f}"), ("MSE×1e3", "mse", 1e3, "{:.2f}"), ("Grad", "grad", 1.0, "{:.3f}"),
         ("Conn", "conn", 1.0, "{:.2f}"), ("IoU↑", "iou", 1.0, "{:.3f}"), ("thin↑", "thin_recall", 1.0, "{:.3f}"),
         ("prong↑", "prong_recall", 1.0, "{:.3f}"), ("gap↓", "gap_fill", 1.0, "{:.3f}"),
         ("bgFP↓", "bg_fp", 1.0, "{:.4f}"))


# --- memory ---------------------------------------------------------------------


# /proc/self/status and clear_refs helpers: the runner's own
from bench.run import _reset_peak, _status_kb  # noqa: E402


# --- starting masks -----------------------------------------------------------------


def _degrade(gt, kind):
    if kind == "gt-blur":
        return cv2.GaussianBlur(gt, (0, 0), 1.5)
    k = np.ones((3, 3), np.uint8)
    return cv2.erode(gt, k) if kind == "gt-erode" else cv2.dilate(gt, k)


class _Inputs:
    """Starting masks and the plate of a scene, computed once and cached."""

    def __init__(self, set_name):
        self.dir = OUT / f"refine-inputs-{set_name}-v{synth.GENERATOR_VERSION}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._fns = {}

    def _fn(self, name):
        if name not in self._fns:
            if name == "rembg":
                from .methods import get

                self._fns[name] = get("rembg-plain").build()
            else:
                from jewelmask.recipes import RecipeSettings, run_recipe

                # the masks before refine: refine is what is measured
                self._fns[name] = lambda img, r=name: run_recipe(img, recipe=r,
                                                                 settings=RecipeSettings(refine=None))
        return self._fns[name]

    def get(self, scene, kinds):
        path = self.dir / f"{scene.name}.npz"
        have = dict(np.load(path)) if path.exists() else {}
        changed = False
        for k in kinds:
            if k.startswith("gt-") or k in have:
                continue
            have[k] = self._fn(k)(scene.image).astype(np.float16)  # halves the cache
            changed = True
        if "plate" not in have:
            from jewelmask.backdrop import backdrop_plate

            ai = have["ai"].astype(np.float32) if "ai" in have else self._fn("ai")(scene.image)
            have["plate"] = backdrop_plate(scene.image, ai).rgb().astype(np.float16)
            changed = True
        if changed:
            np.savez_compressed(path, **have)
        out = {k: (have[k].astype(np.float32) if k in have else _degrade(scene.alpha, k)) for k in kinds}
        return out, have["plate"].astype(np.float32)


# --- parts ----------------------------------------------------------------------------


def _timed(fn, *a, **kw):
    t0 = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t0


def bench_refine(ss, kinds, inputs, log):
    from jewelmask.refine import refine_edge

    rows = {}  # (input, variant) -> list of metric dicts
    for i, sc in enumerate(ss):
        starts, plate = inputs.get(sc, kinds)
        for k in kinds:
            a0 = np.clip(starts[k], 0, 1)
            rows.setdefault((k, "before"), []).append(M.scene_metrics(a0, sc))
            for variant, bg in (("refine", None), ("refine+plate", plate)):
                out, t = _timed(refine_edge, sc.image, a0, background=bg)
                m = M.scene_metrics(out, sc)
                m["seconds"] = t
                rows.setdefault((k, variant), []).append(m)
        log(f"  refine {i + 1}/{len(ss)} {sc.name}")
    return {key: M.mean_metrics(v) for key, v in rows.items()}


def bench_matting(ss, n, inputs, log):
    """rembg alpha matting against refine on the first n scenes: time and recall."""
    from jewelmask.refine import refine_edge

    from .methods import MethodUnavailable, get

    try:
        matting = get("rembg-matting").build()
    except MethodUnavailable as exc:
        log(f"  rembg alpha matting unavailable: {exc}")
        return {}
    rows = {}
    for i in range(min(n, len(ss))):
        sc = ss[i]
        starts, plate = inputs.get(sc, ["rembg", "ai"])
        out, t = _timed(matting, sc.image)
        m = M.scene_metrics(out, sc)
        m["seconds"] = t
        rows.setdefault("rembg alpha matting", []).append(m)
        for k in ("rembg", "ai"):
            out, t = _timed(refine_edge, sc.image, starts[k], background=plate)
            m = M.scene_metrics(out, sc)
            m["seconds"] = t
            rows.setdefault(f"{k} + refine+plate", []).append(m)
            rows.setdefault(f"{k} (no refine)", []).append(M.scene_metrics(starts[k], sc))
        log(f"  matting {i + 1}/{n} {sc.name}")
    return {key: M.mean_metrics(v) for key, v in rows.items()}


DECON_ROWS = ("none", "decontaminate", "decontaminate+plate", "floor (exact B, un-mixing)",
              "noise floor (exact camera backdrop term)")
DECON_REFINED = ("refined alpha: none", "refined alpha: decontaminate+plate")


def bench_decontaminate(ss, inputs, log, *, refined=True):
    """Colour error of the cutout on black at soft pixels (see the module docstring, part 3)."""
    from jewelmask.decontaminate import decontaminate
    from jewelmask.refine import refine_edge

    sums = dict.fromkeys(DECON_ROWS + (DECON_REFINED if refined else ()) + ("old label: none", "old label: decontaminate"), 0.0)
    n = 0
    secs = []
    per_scene = []
    for i, sc in enumerate(ss):
        starts, plate = inputs.get(sc, ["ai"] if refined else [])
        g = sc.alpha
        soft = (g >= 0.05) & (g <= 0.95)
        if not soft.any():
            continue
        img = sc.image.astype(np.float32) / 255.0
        ref = sc.fg_on_black[soft]
        g3 = g[..., None]

        def err(F, a=g3, target=ref):
            return float(np.abs((a * F)[soft] - target).sum())

        F1, t = _timed(decontaminate, sc.image, g)
        secs.append(t)
        F2 = decontaminate(sc.image, g, background=plate)
        a3 = np.maximum(g3, 1e-6)
        Fx = np.clip((img - (1 - g3) * sc.bg) / a3, 0, 1)
        Q = synth.apply_optics((1 - g3) * sc.bg, sc.camera)  # the backdrop's share, through the camera
        Fq = np.clip((img - Q) / a3, 0, 1)
        row = dict(zip(DECON_ROWS, (err(img), err(F1), err(F2), err(Fx), err(Fq))))
        old = (g3 * sc.fg)[soft]
        row["old label: none"] = err(img, target=old)
        row["old label: decontaminate"] = err(F1, target=old)
        if refined:
            ar = refine_edge(sc.image, starts["ai"], background=plate)[..., None]
            row["refined alpha: none"] = err(img, a=ar)
            row["refined alpha: decontaminate+plate"] = err(decontaminate(sc.image, ar[..., 0], background=plate), a=ar)
        for k, v in row.items():
            sums[k] += v
        n += soft.sum() * 3
        e0 = max(row["none"], 1e-12)
        per_scene.append((sc.name, row["decontaminate"] / e0, row["decontaminate+plate"] / e0))
        log(f"  decontaminate {i + 1}/{len(ss)} {sc.name}: {row['decontaminate'] / e0:.2f}, "
            f"+plate {row['decontaminate+plate'] / e0:.2f}")
    out = {k: v / max(n, 1) for k, v in sums.items()}
    out["seconds"] = float(np.mean(secs)) if secs else math.nan
    out["scenes_halved"] = int(sum(r[1] <= 0.5 for r in per_scene))
    out["scenes_halved_plate"] = int(sum(r[2] <= 0.5 for r in per_scene))
    out["scenes"] = len(per_scene)
    out["per_scene"] = per_scene
    return out


def bench_big(repeats, log):
    from jewelmask.refine import refine_edge

    ss = synth.make_set("6000", progress=lambda d, t, s: log(f"  rendered 6000 scene {d}/{t} ({s:.0f} s)"))
    inputs = _Inputs("6000")
    rows = []
    for sc in ss:
        starts, plate = inputs.get(sc, ["ai", "auto"])
        starts["gt-blur"] = _degrade(sc.alpha, "gt-blur")
        for k in ("gt-blur", "ai", "auto"):
            for variant, bg in (("refine", None), ("refine+plate", plate)):
                times, peaks = [], []
                for _ in range(repeats):
                    rss = _status_kb("VmRSS") or math.nan
                    ok = _reset_peak()
                    out, t = _timed(refine_edge, sc.image, starts[k], background=bg)
                    peak = (_status_kb("VmHWM") or math.nan) if ok else math.nan
                    times.append(t)
                    peaks.append((peak - rss) / 1024.0)
                m = M.scene_metrics(out, sc)
                m0 = M.scene_metrics(starts[k], sc)
                rows.append(dict(scene=sc.name, input=k, variant=variant, best=min(times),
                                 median=float(np.median(times)), extra_mb=float(np.nanmax(peaks)),
                                 sad_before=m0["sad"], sad_after=m["sad"],
                                 thin_before=m0["thin_recall"], thin_after=m["thin_recall"]))
                log(f"  6000 {sc.name} {k} {variant}: {min(times):.2f} s, +{np.nanmax(peaks):.0f} MB")
    return rows


# --- tables -------------------------------------------------------------------------


def _fmt(v, scale, fmt):
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v * scale)


def table_refine(res, kinds):
    head = "| start | refine | " + " | ".join(c[0] for c in _COLS) + " | s/img |"
    lines = [head, "|" + "---|" * (len(_COLS) + 3)]
    for k in kinds:
        for variant in ("before", "refine", "refine+plate"):
            m = res.get((k, variant))
            if m is None:
                continue
            cells = [_fmt(m.get(c[1]), c[2], c[3]) for c in _COLS]
            sec = _fmt(m.get("seconds", math.nan), 1, "{:.2f}") if variant != "before" else ""
            lines.append(f"| {k} | {variant} | " + " | ".join(cells) + f" | {sec} |")
    return "\n".join(lines)


def table_matting(res):
    lines = ["| method | n | thin↑ | prong↑ | SAD | Grad | s/img |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, m in res.items():
        lines.append(f"| {name} | {m.get('n', '')} | {m['thin_recall']:.3f} | {m['prong_recall']:.3f} | "
                     f"{m['sad']:.2f} | {m['grad']:.3f} | {_fmt(m.get('seconds', math.nan), 1, '{:.2f}')} |")
    return "\n".join(lines)


def table_decontaminate(res):
    lines = ["| colours | alpha | error on soft pixels | vs none |", "|---|---|---:|---:|"]
    for k in DECON_ROWS:
        lines.append(f"| {k} | ground truth | {res[k]:.4f} | {res[k] / res['none']:.2f} |")
    if "refined alpha: none" in res:
        base = res["refined alpha: none"]
        for k in DECON_REFINED:
            lines.append(f"| {k.split(': ')[1]} | refine_edge(AI mask, plate) | {res[k]:.4f} | {res[k] / base:.2f} |")
    lines.append(f"\nscenes where the error is at least halved: {res['scenes_halved']} of {res['scenes']} "
                 f"({res['scenes_halved_plate']} with the plate); {res['seconds']:.2f} s per 1600x1200 image. "
                 f"Against the former reference alpha·fg (no camera optics): decontaminate "
                 f"{res['old label: decontaminate'] / res['old label: none']:.2f} of none.")
    return "\n".join(lines)


def table_big(rows):
    lines = ["| scene | start | refine | best s | median s | peak MB above RSS | SAD before→after | thin before→after |",
             "|---|---|---|---:|---:|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['scene']} | {r['input']} | {r['variant']} | {r['best']:.2f} | {r['median']:.2f} | "
                     f"{r['extra_mb']:.0f} | {r['sad_before']:.1f}→{r['sad_after']:.1f} | "
                     f"{r['thin_before']:.3f}→{r['thin_after']:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="1600", choices=sorted(synth.SETS))
    ap.add_argument("--limit", type=int, default=None, help="only the first N scenes")
    ap.add_argument("--inputs", default=",".join(INPUTS), help=f"starting masks, from {','.join(INPUTS)}")
    ap.add_argument("--matting-limit", type=int, default=8, help="scenes for rembg alpha matting (0: skip)")
    ap.add_argument("--no-big", action="store_true", help="skip the 6000x4000 timing")
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats at 6000x4000")
    args = ap.parse_args(argv)
    kinds = [k for k in args.inputs.split(",") if k]
    bad = set(kinds) - set(INPUTS)
    if bad:
        ap.error(f"unknown inputs {', '.join(sorted(bad))}")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    ss = synth.make_set(args.set, limit=args.limit,
                        progress=lambda d, t, s: log(f"  rendered scene {d}/{t} ({s:.1f} s)"))
    inputs = _Inputs(args.set)
    t0 = time.time()
    res = bench_refine(ss, kinds, inputs, log)
    mat = bench_matting(ss, args.matting_limit, inputs, log) if args.matting_limit else {}
    for k in mat:
        mat[k]["n"] = min(args.matting_limit, len(ss))
    dec = bench_decontaminate(ss, inputs, log)
    big = [] if args.no_big else bench_big(args.repeats, log)
    stamp = (f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, {len(ss)} scenes of set {args.set}, "
             f"{time.time() - t0:.0f} s")
    md = [f"# refine benchmark ({stamp})", "", "## refine_edge: before and after", "", table_refine(res, kinds)]
    if mat:
        md += ["", f"## rembg alpha matting against refine (first {min(args.matting_limit, len(ss))} scenes)", "",
               table_matting(mat)]
    md += ["", "## decontaminate (cutout on black against scene.fg_on_black)", "", table_decontaminate(dec)]
    if big:
        md += ["", "## 6000x4000", "", table_big(big)]
    text = "\n".join(md) + "\n"
    print(text)
    suffix = "" if args.limit is None else f"-first{args.limit}"
    (OUT / f"refine-{args.set}{suffix}.md").write_text(text)
    (OUT / f"refine-{args.set}{suffix}.json").write_text(json.dumps(
        dict(stamp=stamp, refine={f"{k}|{v}": m for (k, v), m in res.items()}, matting=mat,
             decontaminate=dec, big=big), indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
