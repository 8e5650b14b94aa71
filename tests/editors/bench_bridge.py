"""What the editor bridge costs on top of the engine, on a 24 MP image.

    .venv/bin/python tests/editors/bench_bridge.py [--op ai-remove] [--size 6000x4000]
        [--dtype u8|u16|f32] [--repeat 3] [--param tile_budget=0]

Runs the operation three ways on the same pixels and prints wall times:

* engine alone: ``run_op`` in this process, model already loaded (the best an
  in-process plug-in could do);
* bridge, one worker per command (``JEWELMASK_WORKER_IDLE=0``; Windows);
* bridge, persistent worker (first command starts it, the next reuse it).

The overhead is the bridge's wall time minus the engine's: writing and
reading the raw files, starting Python and loading the model (one worker per
command only), converting samples, combining with the old mask and
quantising the result. Benchmarks measure; nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "core" / "jewelmask"))
import bridge_client  # noqa: E402  (the stdlib client, as the plug-ins load it)

from jewelmask.ops import combine_masks, run_op  # noqa: E402


def make_image(w, h, dtype):
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 4), np.float32)
    img[..., 0] = 0.92 - 0.05 * yy / h
    img[..., 1] = 0.92 - 0.05 * xx / w
    img[..., 2] = 0.90
    ring = np.abs(np.hypot(xx - w / 2, yy - h / 2) - min(w, h) / 4) < min(w, h) / 30
    img[ring, :3] = (0.80, 0.62, 0.20)
    img[..., :3] += rng.normal(0, 0.01, (h, w, 3)).astype(np.float32)
    img[..., 3] = 1.0
    img = np.clip(img, 0, 1)
    if dtype == "u8":
        return np.rint(img * 255).astype(np.uint8)
    if dtype == "u16":
        return np.rint(img * 65535).astype(np.uint16)
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--op", default="ai-remove")
    ap.add_argument("--size", default="6000x4000")
    ap.add_argument("--dtype", default="u8", choices=("u8", "u16", "f32"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--param", action="append", default=[], help="NAME=VALUE (int/float/str)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    params = {}
    for item in args.param or ["tile_budget=0"]:
        k, v = item.split("=", 1)
        for conv in (int, float):
            try:
                v = conv(v)
                break
            except ValueError:
                pass
        params[k] = v
    raw = make_image(w, h, args.dtype)
    data = raw.tobytes()
    print(f"{args.op} {params} on {w}x{h} RGBA {args.dtype} ({len(data) / 1e6:.0f} MB), "
          f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")

    # engine alone, warm
    scale = {"u8": 255.0, "u16": 65535.0}.get(args.dtype, 1.0)
    fimg = raw.astype(np.float32) / np.float32(scale)
    run_op(args.op, fimg, params=params)  # load the model, warm caches
    eng = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        res = run_op(args.op, fimg, params=params)
        combine_masks(None, res.mask, "replace")
        eng.append(time.perf_counter() - t)
    e = statistics.median(eng)
    print(f"engine alone (warm, incl. combine_masks): median {e:.3f} s  {[round(x, 3) for x in eng]}")
    del fimg

    img = bridge_client.RawImage(data, w, h, 4, args.dtype)
    python = [sys.executable]
    for label, persistent in (("one worker per command", False), ("persistent worker", True)):
        engine = bridge_client.Engine(python, persistent=persistent, idle=60)
        engine.stop()
        times, inside = [], []
        for _ in range(args.repeat + (1 if persistent else 0)):
            t = time.perf_counter()
            r = engine.run(args.op, img, params=params, mask_dtype=args.dtype)
            times.append(time.perf_counter() - t)
            inside.append(dict(r.seconds, **{"client_" + k: v for k, v in r.client_seconds.items()}))
        engine.stop()
        if persistent:
            first, times, inside = times[0], times[1:], inside[1:]
            print(f"{label}: first command (starts the worker, loads the model) {first:.3f} s, "
                  f"vs engine alone {first - e:+.3f} s")
        b = statistics.median(times)
        op_in_worker = statistics.median(s["op"] for s in inside)
        added = statistics.median(t - s["op"] for t, s in zip(times, inside))
        print(f"{label}: median {b:.3f} s  {[round(x, 3) for x in times]}; "
              f"bridge adds {added:.3f} s (wall minus the op's own time in the worker); "
              f"vs engine alone {b - e:+.3f} s (worker: read+convert "
              f"{statistics.median(s['read'] for s in inside):.3f} s, op {op_in_worker:.3f} s, "
              f"combine+write {statistics.median(s['write'] for s in inside):.3f} s; client: write "
              f"{statistics.median(s['client_write'] for s in inside):.3f} s, read "
              f"{statistics.median(s['client_read'] for s in inside):.3f} s; start/transport "
              f"{statistics.median(s['client_wait'] - s['total'] for s in inside):.3f} s)")


if __name__ == "__main__":
    main()
