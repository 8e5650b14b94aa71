"""``auto`` against a reference engine: same inputs, same cached AI alpha.

    python -m bench.bench_auto_speed ai      --set 1600          # cache the AI alphas (once)
    python -m bench.bench_auto_speed run     --set 1600 --core DIR --tag NAME
    python -m bench.bench_auto_speed compare --set 1600 --ref NAME --new NAME
    python -m bench.bench_auto_speed time    --set 6000 --scene 0 [--repeat 3] [--stages] [--no-reuse]

``ai`` runs the full-detail AI pass (``RecipeSettings().ai``) once per scene
and stores it as float32, so both engines see exactly the same AI alpha.
``run`` imports ``jewelmask`` from ``--core`` (e.g. an unpacked copy of main's
``core/``; default: whatever ``PYTHONPATH`` gives) in this process and stores
``auto_stages(image, ai=cached)`` per scene (``alpha``, and ``combined``: before
refine). ``compare`` (``--combined``: before refine) prints the
mean metrics (bench/metrics.py) of both and the per-scene max and mean
absolute alpha difference. ``time`` times one scene's whole ``auto``
(``run_recipe(image, recipe="auto")`` as bench/methods.py calls it: AI pass
included, model session loaded first) in one process, best of
``--repeat``, with the peak resident memory of each call (clear_refs +
VmHWM, as bench/run.py) and the load average; ``--stages`` adds a
per-stage profile of the detail steps with the cached AI alpha.

Everything is written under ``$JEWELMASK_SPEED_OUT`` (default
``/tmp/speed-ref``). Benchmarks measure; nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(os.environ.get("JEWELMASK_SPEED_OUT", "/tmp/speed-ref"))


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def _scenes(set_name: str):
    from . import synth

    n = synth.SETS[set_name][2]
    return synth.SceneSet(set_name, n)


def cmd_ai(args) -> None:
    from jewelmask.ai import ai_alpha
    from jewelmask.recipes import RecipeSettings

    ss = _scenes(args.set)
    folder = OUT / "ai" / args.set
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(len(ss)):
        path = folder / f"{i:03d}.npy"
        if path.exists():
            continue
        a = ai_alpha(ss.image(i), settings=RecipeSettings().ai)
        np.save(path, a.astype(np.float32))
        print(f"ai {args.set} {i}", flush=True)


def _ai(set_name: str, i: int) -> np.ndarray:
    return np.load(OUT / "ai" / set_name / f"{i:03d}.npy")


def cmd_run(args) -> None:
    if args.core:
        sys.path.insert(0, str(Path(args.core).resolve()))
    import jewelmask
    from jewelmask.recipes import auto_stages

    print(f"jewelmask from {jewelmask.__file__}", flush=True)
    ss = _scenes(args.set)
    folder = OUT / "out" / args.tag / args.set
    folder.mkdir(parents=True, exist_ok=True)
    n = len(ss) if args.limit is None else min(args.limit, len(ss))
    total = 0.0
    for i in range(n):
        image = ss.image(i)
        t = time.perf_counter()
        st = auto_stages(image, ai=_ai(args.set, i))
        total += time.perf_counter() - t
        np.save(folder / f"{i:03d}.npy", st["alpha"].astype(np.float32))
        np.save(folder / f"{i:03d}-combined.npy", st["combined"].astype(np.float32))
    print(f"{args.tag}: {n} scenes, detail steps {total:.1f} s in all (load {_loadavg()})")


def cmd_compare(args) -> None:
    from . import metrics as M

    ss = _scenes(args.set)
    ref_dir, new_dir = OUT / "out" / args.ref / args.set, OUT / "out" / args.new / args.set
    rows = {args.ref: [], args.new: []}
    worst = []
    suffix = "-combined" if args.combined else ""
    for i in range(len(ss)):
        pr, pn = ref_dir / f"{i:03d}{suffix}.npy", new_dir / f"{i:03d}{suffix}.npy"
        if not (pr.exists() and pn.exists()):
            continue
        scene = ss[i]
        a, b = np.load(pr), np.load(pn)
        rows[args.ref].append(M.scene_metrics(a, scene))
        rows[args.new].append(M.scene_metrics(b, scene))
        d = np.abs(a - b)
        flips = int(((a >= 0.5) != (b >= 0.5)).sum())
        worst.append((i, float(d.max()), float(d.mean()), int((d > 0.01).sum()), flips))
    keys = ("sad", "grad", "iou", "thin_recall", "prong_recall", "gap_fill", "bg_fp", "shadow_fp", "reflection_fp")
    print(f"{len(worst)} scenes of set {args.set}")
    print(f"{'':14s}" + "".join(f"{k:>14s}" for k in keys))
    means = {}
    for tag, r in rows.items():
        means[tag] = M.mean_metrics(r)
        print(f"{tag:14s}" + "".join(f"{means[tag][k]:14.4f}" for k in keys))
    print(f"{'new - ref':14s}" + "".join(f"{means[args.new][k] - means[args.ref][k]:+14.4f}" for k in keys))
    mx = max(w[1] for w in worst)
    mean = float(np.mean([w[2] for w in worst]))
    print(f"|alpha difference|: max {mx:.4g}, mean over scenes of the per-pixel mean {mean:.3g}")
    for i, m, mm, n01, flips in sorted(worst, key=lambda w: -w[1])[: args.show]:
        print(f"  scene {i:3d}: max {m:.4f}  mean {mm:.2e}  pixels > 0.01: {n01}  flips at 0.5: {flips}")


def _reset_peak():
    from .run import _reset_peak as reset

    return reset()


def _peak_mb():
    from .run import _peak_mb as peak

    return peak(True)


def cmd_time(args) -> None:
    from jewelmask.models import get_session
    from jewelmask.recipes import RecipeSettings, run_recipe

    import jewelmask

    print(f"jewelmask from {jewelmask.__file__}")
    if not args.no_reuse:
        # as the command line, the batch's workers and the editors' worker run
        from jewelmask.memory import reuse_freed_memory

        print(f"reuse freed memory: {reuse_freed_memory()}")
    ss = _scenes(args.set)
    image = ss.image(args.scene)
    settings = RecipeSettings(refine=None) if args.no_refine else RecipeSettings()
    get_session(settings.ai.model)  # the model session first, as a batch or an editor has it
    run_recipe(np.full((96, 128, 3), 200, np.uint8), recipe="auto", settings=settings)
    walls, peaks = [], []
    for _ in range(args.repeat):
        load = _loadavg()
        _reset_peak()
        t = time.perf_counter()
        run_recipe(image, recipe="auto", settings=settings)
        dt = time.perf_counter() - t
        peak = _peak_mb()
        walls.append(dt)
        peaks.append(peak)
        print(f"auto {image.shape[1]}x{image.shape[0]}: {dt:.2f} s, peak {peak:.0f} MB (load {load})", flush=True)
    print(f"best of {args.repeat}: {min(walls):.2f} s; peak max {max(peaks):.0f} MB (load now {_loadavg()})")
    if args.stages:
        _stage_profile(image, args)


def _stage_profile(image, args) -> None:
    """Wall time of each call inside auto's detail steps (cProfile, cumulative)."""
    import cProfile
    import pstats

    from jewelmask.recipes import auto_stages

    ai = _ai(args.set, args.scene) if (OUT / "ai" / args.set / f"{args.scene:03d}.npy").exists() else None
    auto_stages(image, ai=ai)
    prof = cProfile.Profile()
    load = _loadavg()
    t = time.perf_counter()
    prof.enable()
    auto_stages(image, ai=ai)
    prof.disable()
    print(f"\ndetail steps with a cached AI alpha: {time.perf_counter() - t:.2f} s (load {load})")
    st = pstats.Stats(prof)
    st.sort_stats("tottime").print_stats(25)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_auto_speed")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ai")
    p.add_argument("--set", default="1600")
    p = sub.add_parser("run")
    p.add_argument("--set", default="1600")
    p.add_argument("--core", default=None)
    p.add_argument("--tag", required=True)
    p.add_argument("--limit", type=int, default=None)
    p = sub.add_parser("compare")
    p.add_argument("--set", default="1600")
    p.add_argument("--ref", required=True)
    p.add_argument("--new", required=True)
    p.add_argument("--show", type=int, default=8)
    p.add_argument("--combined", action="store_true", help="compare the stage before refine")
    p = sub.add_parser("time")
    p.add_argument("--set", default="6000")
    p.add_argument("--scene", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--stages", action="store_true")
    p.add_argument("--no-refine", action="store_true", help="auto without refine (RecipeSettings(refine=None))")
    p.add_argument("--no-reuse", action="store_true",
                   help="leave glibc's allocator as it is (fresh pages for every large array; "
                        "jewelmask's entry points call memory.reuse_freed_memory)")
    args = ap.parse_args(argv)
    {"ai": cmd_ai, "run": cmd_run, "compare": cmd_compare, "time": cmd_time}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
