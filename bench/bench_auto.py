"""The ``auto`` recipe stage by stage on a synthetic set, with and without refine.

    python -m bench.bench_auto [--set 1600] [--limit N]

The AI pass of every scene (``jewelmask.ai.ai_alpha`` with the settings
``auto`` uses) is computed once and cached in
``bench/out/auto-ai-<set>-v<generator>/``, so tuning the detail steps does
not wait for the model; delete the folder after changing ``ai.py``. Then
``jewelmask.recipes.auto_stages(image, ai=...)`` runs with the default
settings and the table gives the metrics of its ``combined`` stage (``auto``
with ``--no-refine``) and of its result (``auto``, refine on), with their
ratios to plain rembg u2netp when ``bench/out/results-<set>.json`` holds a
``rembg-plain`` run (``python -m bench.run --methods rembg-plain``).

Writes ``bench/out/auto-<set>.md`` and ``.json`` (per-scene rows included).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import sys
import time

import numpy as np

from . import synth
from .metrics import label_counts, pooled_rates, scene_metrics

OUT = synth.OUT_DIR
KEYS = ("sad", "mse", "grad", "conn", "iou", "thin_recall", "prong_recall", "gap_fill", "bg_fp",
        "shadow_fp", "reflection_fp")
LOWER_RATIO = ("sad", "mse", "grad", "conn")


def ai_pass(scene, set_name):
    """The scene's AI pass, as ``auto`` computes it, cached."""
    from jewelmask.ai import ai_alpha
    from jewelmask.recipes import RecipeSettings

    folder = OUT / f"auto-ai-{set_name}-v{synth.GENERATOR_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{scene.name}.npy"
    if path.exists():
        return np.load(path).astype(np.float32)
    ai = ai_alpha(scene.image, settings=RecipeSettings().ai)
    np.save(path, ai.astype(np.float32))
    return ai


def run(ss, set_name, log=print):
    from jewelmask.recipes import auto_stages

    rows = {"auto --no-refine": [], "auto": []}
    counts = {name: [] for name in rows}
    secs = []
    for i, sc in enumerate(ss):
        ai = ai_pass(sc, set_name)
        t0 = time.perf_counter()
        st = auto_stages(sc.image, ai=ai)
        secs.append(time.perf_counter() - t0)
        for name, pred in (("auto --no-refine", st["combined"]), ("auto", st["alpha"])):
            m = scene_metrics(pred, sc)
            rows[name].append(dict(scene=sc.name, **{k: m[k] for k in KEYS}))
            counts[name].append(label_counts(pred, sc))
        r = rows["auto"][-1]
        log(f"  {i + 1}/{len(ss)} {sc.name}: SAD {r['sad']:.1f} thin {r['thin_recall']:.3f} "
            f"gap {r['gap_fill']:.3f} ({secs[-1]:.1f} s)")
    return rows, secs, {name: pooled_rates(c) for name, c in counts.items()}


def _mean(rows, k):
    v = [r[k] for r in rows if not (isinstance(r[k], float) and math.isnan(r[k]))]
    return float(np.mean(v)) if v else math.nan


def table(rows, plain):
    head = "| method | n | " + " | ".join(KEYS) + " |"
    out = [head, "|" + "---|" * (len(KEYS) + 2)]
    for name, rs in rows.items():
        out.append(f"| {name} | {len(rs)} | " + " | ".join(f"{_mean(rs, k):.4g}" for k in KEYS) + " |")
    if plain:
        for name, rs in rows.items():
            cells = [f"1/{plain[k] / _mean(rs, k):.1f}" if k in LOWER_RATIO and _mean(rs, k) > 0 else ""
                     for k in KEYS]
            out.append(f"| {name}: fraction of rembg plain | | " + " | ".join(cells) + " |")
    return "\n".join(out)


def pooled_table(pooled):
    """Label rates over every labelled pixel of the set (the table above: per-scene means)."""
    out = ["| method | thin_recall | prong_recall | gap_fill |", "|---|---|---|---|"]
    for name, r in pooled.items():
        out.append(f"| {name} | {r['thin']:.4g} | {r['prong']:.4g} | {r['gap']:.4g} |")
    return "\n".join(out)


def _plain_means(set_name, n):
    path = OUT / f"results-{set_name}.json"
    if not path.exists():
        return None
    m = json.loads(path.read_text())["methods"].get("rembg-plain", {})
    imgs = m.get("images") or []
    if len(imgs) < n:
        return None
    return {k: float(np.nanmean([r[k] for r in imgs[:n]])) for k in LOWER_RATIO}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="1600", choices=sorted(synth.SETS))
    ap.add_argument("--limit", type=int, default=None, help="only the first N scenes")
    args = ap.parse_args(argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    ss = synth.make_set(args.set, limit=args.limit)
    t0 = time.time()
    rows, secs, pooled = run(ss, args.set, log)
    plain = _plain_means(args.set, len(ss))
    stamp = (f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
             f"load {os.getloadavg()[0]:.1f}, {len(ss)} scenes of set {args.set}, {time.time() - t0:.0f} s, "
             f"auto_stages after the cached AI pass: {np.mean(secs):.2f} s/scene")
    text = (f"# auto recipe ({stamp})\n\n{table(rows, plain)}\n\n"
            f"Pooled over every labelled pixel of the set (above: the mean of the scenes' rates):\n\n"
            f"{pooled_table(pooled)}\n")
    print(text)
    suffix = "" if args.limit is None else f"-first{args.limit}"
    (OUT / f"auto-{args.set}{suffix}.md").write_text(text)
    (OUT / f"auto-{args.set}{suffix}.json").write_text(json.dumps(dict(stamp=stamp, rows=rows, pooled=pooled), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
