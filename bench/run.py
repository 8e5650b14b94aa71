"""Run methods on a synthetic benchmark set and tabulate the metrics.

    python -m bench.run --set 1600 [--methods a,b,c] [--limit N] [--save-images DIR]

Each method runs in its own child process (multiprocessing "spawn"): the
child builds the method once (model load, reported as ``load s``), then for
every image resets the kernel's peak-RSS counter (writes ``5`` to
``/proc/self/clear_refs``), times the call and reads ``VmHWM`` from
``/proc/self/status``. So ``s/img`` excludes the model load and the peak is
that image's own (including the resident model). Where ``clear_refs`` is not
writable, the peak falls back to ``ru_maxrss`` (the process's peak so far).

Writes ``bench/out/results-<set>.json`` (merged with earlier runs of other
methods) and ``bench/out/results-<set>.md``; a run with ``--limit N`` smaller
than the set writes ``results-<set>-firstN.*`` instead.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from . import metrics as M
from . import synth

OUT = synth.OUT_DIR

# column title, metric key, scale, format
_COLUMNS = (
    ("SAD", "sad", 1.0, "{:.2f}"),
    ("MSE×1e3", "mse", 1e3, "{:.2f}"),
    ("Grad", "grad", 1.0, "{:.2f}"),
    ("Conn", "conn", 1.0, "{:.2f}"),
    ("IoU↑", "iou", 1.0, "{:.3f}"),
    ("thin↑", "thin_recall", 1.0, "{:.3f}"),
    ("prong↑", "prong_recall", 1.0, "{:.3f}"),
    ("gap↓", "gap_fill", 1.0, "{:.3f}"),
    ("bgFP↓", "bg_fp", 1.0, "{:.4f}"),
    ("shadowFP↓", "shadow_fp", 1.0, "{:.4f}"),
    ("reflFP↓", "reflection_fp", 1.0, "{:.4f}"),
)


# --------------------------------------------------------------------------
# memory accounting (child side)
# --------------------------------------------------------------------------


def _status_kb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mb(can_reset: bool) -> float:
    hwm = _status_kb("VmHWM") if can_reset else None
    if hwm is None:
        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return hwm / 1024.0


# --------------------------------------------------------------------------
# pictures for humans
# --------------------------------------------------------------------------


def _checker(h: int, w: int, cell: int = 16) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    c = ((yy // cell + xx // cell) % 2).astype(np.float32)
    return (0.62 + 0.2 * c)[..., None] * np.ones(3, np.float32)


def _save_pngs(folder: Path, stem: str, image: np.ndarray, gt: np.ndarray, pred: np.ndarray, first: bool) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    u8 = lambda a: np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8)  # noqa: E731
    if first:
        Image.fromarray(image).save(folder.parent / f"{stem}-input.png")
        Image.fromarray(u8(gt)).save(folder.parent / f"{stem}-gt.png")
    Image.fromarray(u8(pred)).save(folder / f"{stem}-pred.png")
    img = image.astype(np.float32) / 255.0
    h, w = pred.shape
    cut = img * pred[..., None] + _checker(h, w) * (1.0 - pred[..., None])
    Image.fromarray(u8(cut)).save(folder / f"{stem}-cutout.png")
    grey = img.mean(axis=2, keepdims=True) * 0.5 + 0.25
    err = np.repeat(grey, 3, axis=2)
    missed = np.clip(gt - pred, 0, 1)[..., None]
    extra = np.clip(pred - gt, 0, 1)[..., None]
    err = err * (1 - missed) + missed * np.array([1.0, 0.0, 0.0], np.float32)
    err = err * (1 - extra) + extra * np.array([0.0, 0.3, 1.0], np.float32)
    Image.fromarray(u8(err)).save(folder / f"{stem}-error.png")


# --------------------------------------------------------------------------
# the child
# --------------------------------------------------------------------------


def _worker(method: str, set_name: str, n: int, save_dir: str | None, q) -> None:
    from . import methods as MM

    try:
        ss = synth.SceneSet(set_name, n)
        t0 = time.perf_counter()
        try:
            fn = MM.get(method).build()
            # one small call so that lazy allocations of the runtime land in the load time
            try:
                fn(np.full((96, 128, 3), 200, np.uint8))
            except Exception:  # noqa: BLE001 - a warm-up failure shows up on the real images
                pass
        except MM.MethodUnavailable as exc:
            q.put(("unavailable", str(exc)))
            return
        load_s = time.perf_counter() - t0
        rss = (_status_kb("VmRSS") or 0.0) / 1024.0
        q.put(("loaded", load_s, rss))
        can_reset = _reset_peak()
        for i in range(n):
            try:
                image = ss.image(i)
                can_reset = _reset_peak() and can_reset
                before = (_status_kb("VmRSS") or 0.0) / 1024.0
                t = time.perf_counter()
                pred = fn(image)
                dt = time.perf_counter() - t
                peak = _peak_mb(can_reset)
                scene = ss[i]
                pred = MM.as_alpha(pred, image.shape[:2])
                row = M.scene_metrics(pred, scene)
                if save_dir:
                    folder = Path(save_dir) / method
                    first = not (Path(save_dir) / f"{scene.name}-gt.png").exists()
                    _save_pngs(folder, scene.name, image, scene.alpha, pred, first)
                q.put(("image", i, scene.name, dt, peak, peak - before, row, can_reset))
                del scene, pred, image
            except Exception:  # noqa: BLE001 - record and go on with the next image
                q.put(("error", i, traceback.format_exc()))
        q.put(("done",))
    except Exception:  # noqa: BLE001
        q.put(("fatal", traceback.format_exc()))


def run_method(method: str, set_name: str, n: int, save_dir: str | None = None, log=print) -> dict:
    """Run one method on the first ``n`` scenes of a cached set in a spawned child."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_worker, args=(method, set_name, n, save_dir, q), daemon=True)
    p.start()
    res: dict = {"available": True, "reason": None, "load_s": math.nan, "images": [], "errors": []}
    while True:
        try:
            msg = q.get(timeout=5.0)
        except Exception:  # noqa: BLE001 - queue.Empty
            if not p.is_alive():
                res["errors"].append(f"child exited with code {p.exitcode}")
                break
            continue
        kind = msg[0]
        if kind == "unavailable":
            res["available"], res["reason"] = False, msg[1]
            log(f"  {method}: unavailable: {msg[1]}")
            break
        if kind == "loaded":
            res["load_s"], res["rss_after_load_mb"] = msg[1], msg[2]
            log(f"  {method}: loaded in {msg[1]:.1f} s (RSS {msg[2]:.0f} MB)")
        elif kind == "image":
            _, i, name, dt, peak, delta, row, exact = msg
            res["images"].append({"index": i, "scene": name, "seconds": dt, "peak_mb": peak, "delta_mb": delta, **row})
            res["peak_is_per_image"] = bool(exact)
            log(f"  {method}: {name} {dt:6.2f} s  peak {peak:6.0f} MB  IoU {row['iou']:.3f}  thin {row['thin_recall']:.3f}")
        elif kind == "error":
            res["errors"].append(f"scene {msg[1]}: {msg[2]}")
            log(f"  {method}: scene {msg[1]} failed:\n{msg[2]}")
        elif kind == "fatal":
            res["errors"].append(msg[1])
            log(f"  {method}: failed:\n{msg[1]}")
            break
        elif kind == "done":
            break
    p.join(timeout=30)
    if p.is_alive():  # pragma: no cover
        p.terminate()
    imgs = res["images"]
    if imgs:
        res["n"] = len(imgs)
        res["mean"] = M.mean_metrics([{k: r[k] for k in M.METRICS} for r in imgs])
        res["sec_per_image"] = float(np.mean([r["seconds"] for r in imgs]))
        res["peak_mb_mean"] = float(np.mean([r["peak_mb"] for r in imgs]))
        res["peak_mb_max"] = float(np.max([r["peak_mb"] for r in imgs]))
        res["delta_mb_mean"] = float(np.mean([r["delta_mb"] for r in imgs]))
    return res


# --------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    ram = round(float(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": ram, "python": platform.python_version(), "os": platform.platform()}


def _fmt(v, fmt: str, scale: float = 1.0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return fmt.format(v * scale)


def table_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    head = ["method", "n"] + [c[0] for c in _COLUMNS] + ["s/img", "peak MB", "load s"]
    rows = []
    for name, r in results["methods"].items():
        if not r.get("available", True):
            rows.append([name, "0"] + ["–"] * len(_COLUMNS) + ["–", "–", f"unavailable: {r.get('reason', '')}"])
            continue
        mean = r.get("mean", {})
        row = [name, str(r.get("n", 0))]
        row += [_fmt(mean.get(k, math.nan), f, s) for _, k, s, f in _COLUMNS]
        row += [
            _fmt(r.get("sec_per_image", math.nan), "{:.2f}"),
            _fmt(r.get("peak_mb_max", math.nan), "{:.0f}"),
            _fmt(r.get("load_s", math.nan), "{:.1f}"),
        ]
        rows.append(row)
    return head, rows


def format_text(results: dict) -> str:
    head, rows = table_rows(results)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def format_markdown(results: dict) -> str:
    head, rows = table_rows(results)
    m = results["machine"]
    out = [
        f"# jewelmask benchmark, set {results['set']}",
        "",
        f"- date: {results['date']}",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, Python {m['python']}",
        f"- scenes: synthetic generator v{results['generator_version']} (bench/synth.py), {results['size']}",
        "- SAD, Grad, Conn are /1000; MSE is shown ×1000; rates are fractions of the labelled pixels;"
        " ↑ higher is better, ↓ lower is better. Definitions: bench/README.md.",
        "- s/img excludes the one-time model load (load s); peak MB is the largest per-image peak RSS"
        " of the method's own process (model included).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    from . import methods as MM

    ap = argparse.ArgumentParser(prog="python -m bench.run", description="Score methods on a synthetic benchmark set.")
    ap.add_argument("--set", default="1600", choices=sorted(synth.SETS))
    ap.add_argument("--methods", default=",".join(MM.METHODS), help="comma-separated; known: " + ", ".join(MM.METHODS))
    ap.add_argument("--limit", type=int, default=None, help="only the first N scenes")
    ap.add_argument("--save-images", type=Path, default=None, help="write input/GT/prediction/cutout/error PNGs here")
    ap.add_argument("--out", type=Path, default=OUT, help="folder for results-<set>.json/.md (default bench/out)")
    args = ap.parse_args(argv)
    names = [s.strip() for s in args.methods.split(",") if s.strip()]
    for nm in names:
        try:
            MM.get(nm)
        except ValueError as exc:
            ap.error(str(exc))

    def prog(done, total, sec):
        print(f"rendered scene {done}/{total} in {sec:.1f} s", flush=True)

    ss = synth.make_set(args.set, limit=args.limit, progress=prog)
    W, H, _ = synth.SETS[args.set]
    print(f"set {args.set}: {len(ss)} scenes of {W}x{H}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    # a partial run (--limit) keeps its own files and never overwrites a full run's numbers
    stem = f"results-{args.set}" + (f"-first{len(ss)}" if len(ss) < synth.SETS[args.set][2] else "")
    jpath = args.out / f"{stem}.json"
    results = {"methods": {}}
    if jpath.exists():
        try:
            results = json.loads(jpath.read_text())
        except (OSError, ValueError):
            results = {"methods": {}}
    results.update(
        {
            "set": args.set,
            "size": f"{len(ss)} scenes of {W}x{H}" if not results.get("methods") else results.get("size", ""),
            "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine_info(),
            "generator_version": synth.GENERATOR_VERSION,
        }
    )
    this_run = {}
    for nm in names:
        print(f"running {nm} ...", flush=True)
        r = run_method(nm, args.set, len(ss), str(args.save_images) if args.save_images else None)
        this_run[nm] = r
        results["methods"][nm] = r
        results["size"] = f"{len(ss)} scenes of {W}x{H}"
        jpath.write_text(json.dumps(results, indent=1, allow_nan=True))
    mpath = args.out / f"{stem}.md"
    mpath.write_text(format_markdown(results))
    print()
    print(format_text({**results, "methods": this_run}))
    print(f"\nwrote {jpath} and {mpath}")
    failed = [nm for nm, r in this_run.items() if r.get("errors")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
