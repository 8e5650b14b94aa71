"""Benchmark and accuracy report for the path rasteriser and tracer.

Run:  python bench/bench_paths.py [--runs N]

Prints
* the time to rasterise a 2,000-node closed Bezier path into a 6000 x 4000
  mask (wall clock and process CPU time; the first call in a process also
  pays for fresh memory pages),
* the coverage error against analytic references (a disc, a ring 1.5 px
  wide, a self-crossing star under both fill rules): mean absolute error over
  edge pixels, largest error, and total area error,
* the time and node count of tracing a mask back into a clipping path.

Benchmarks measure; the tests assert.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from jewelmask.paths import Path, Subpath, ellipse_path, path_to_mask, polygon_path, trace_mask


def wavy_blob(n=2000, shape=(4000, 6000)):
    """A closed path of ``n`` smooth nodes covering most of the image."""
    h, w = shape
    th = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = 0.42 * h + 0.04 * h * np.sin(37 * th) + 0.012 * h * np.sin(111 * th + 1)
    p = np.stack([w / 2 + 1.45 * r * np.cos(th), h / 2 + r * np.sin(th)], 1)
    tan = (np.roll(p, -1, 0) - np.roll(p, 1, 0)) / 6
    return Path((Subpath(np.stack([p - tan, p, p + tan], 1), True),), name="blob")


def coverage_from_intervals(intervals_at, shape, n_sub=256):
    """Reference coverage: exact along y, midpoint rule with n_sub lines per pixel in x."""
    h, w = shape
    out = np.zeros((h, w))
    rows = np.arange(h)[None, :]
    for c0 in range(0, w, 16):
        c1 = min(c0 + 16, w)
        xs = c0 + (np.arange((c1 - c0) * n_sub) + 0.5) / n_sub
        cov = np.zeros((xs.size, h))
        for a, b in intervals_at(xs):
            cov += np.clip(b[:, None], rows, rows + 1) - np.clip(a[:, None], rows, rows + 1)
        out[:, c0:c1] = cov.reshape(c1 - c0, n_sub, h).mean(axis=1).T
    return out


def disc_intervals(cx, cy, r):
    def f(xs):
        s = np.sqrt(np.clip(r * r - (xs - cx) ** 2, 0, None))
        return [(cy - s, cy + s)]

    return f


def polygon_intervals(pts, fill_rule):
    p = np.asarray(pts, float)
    q = np.roll(p, -1, axis=0)

    def f(xs):
        x0, y0, x1, y1 = p[:, 0], p[:, 1], q[:, 0], q[:, 1]
        X = xs[:, None]
        crosses = (X >= np.minimum(x0, x1)) & (X < np.maximum(x0, x1))
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(crosses, y0 + (X - x0) * (y1 - y0) / (x1 - x0), np.inf)
        d = np.where(crosses, np.where(x1 > x0, 1, -1), 0)
        order = np.argsort(y, axis=1)
        y = np.take_along_axis(y, order, 1)
        wnd = np.cumsum(np.take_along_axis(d, order, 1), axis=1)
        inside = (wnd != 0) if fill_rule == "nonzero" else (wnd % 2 != 0)
        return [(np.where(inside[:, k] & np.isfinite(y[:, k + 1]), y[:, k], 0.0),
                 np.where(inside[:, k] & np.isfinite(y[:, k + 1]), y[:, k + 1], 0.0))
                for k in range(y.shape[1] - 1)]

    return f


def shoelace(p):
    q = np.roll(p, -1, axis=0)
    return 0.5 * abs(np.sum(p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]))


def errors(ours, ref, true_area):
    # edge pixels: partly covered in the reference, or visibly partial in ours
    edge = ((ref > 1e-6) & (ref < 1 - 1e-6)) | ((ours > 1e-4) & (ours < 1 - 1e-4))
    err = np.abs(ours.astype(np.float64) - ref)
    area_err = abs(ours.sum(dtype=np.float64) - true_area) / true_area
    return err[edge].mean(), err.max(), area_err, int(edge.sum())


def accuracy_report():
    rows = []
    # disc
    cx, cy, r = 200.37, 198.81, 180.3
    shape = (400, 400)
    m = path_to_mask(ellipse_path(cx, cy, r), shape)
    rows.append(("disc r=180.3", *errors(m, coverage_from_intervals(disc_intervals(cx, cy, r), shape),
                                          np.pi * r * r)))
    # thin ring 1.5 px wide (inner circle drawn the other way)
    cx, cy, ro = 100.6, 101.3, 90.2
    ri = ro - 1.5
    shape = (203, 203)
    ring = Path(ellipse_path(cx, cy, ro).subpaths + ellipse_path(cx, cy, ri, clockwise=False).subpaths)
    ref = coverage_from_intervals(disc_intervals(cx, cy, ro), shape) - \
        coverage_from_intervals(disc_intervals(cx, cy, ri), shape)
    rows.append(("ring 1.5 px wide", *errors(path_to_mask(ring, shape), ref,
                                               np.pi * (ro * ro - ri * ri))))
    # self-crossing star
    cx, cy, R = 150.3, 152.1, 140.7
    ang = -np.pi / 2 + 2 * np.pi * np.arange(5) / 5
    outer = np.stack([cx + R * np.cos(ang), cy + R * np.sin(ang)], 1)
    star = outer[[0, 2, 4, 1, 3]]
    ang10 = -np.pi / 2 + 2 * np.pi * np.arange(10) / 10
    rin = R * np.cos(2 * np.pi / 5) / np.cos(np.pi / 5)
    rad = np.where(np.arange(10) % 2 == 0, R, rin)
    outline = np.stack([cx + rad * np.cos(ang10), cy + rad * np.sin(ang10)], 1)
    shape = (300, 300)
    for rule in ("evenodd", "nonzero"):
        area = shoelace(outline) - (shoelace(outline[1::2]) if rule == "evenodd" else 0.0)
        m = path_to_mask(polygon_path(star), shape, fill_rule=rule)
        ref = coverage_from_intervals(polygon_intervals(star, rule), shape)
        rows.append((f"star ({rule})", *errors(m, ref, area)))
    print("\nCoverage error against analytic references (1/255 = 0.00392)")
    print(f"  {'shape':22s} {'edge px':>8s} {'mean err':>10s} {'max err':>10s} {'area err':>10s}")
    for name, mean_e, max_e, area_e, n_edge in rows:
        print(f"  {name:22s} {n_edge:8d} {mean_e:10.2e} {max_e:10.2e} {100 * area_e:9.5f}%")


def timing_report(runs):
    shape = (4000, 6000)
    path = wavy_blob(2000, shape)
    t0 = time.perf_counter()
    m = path_to_mask(path, shape)
    cold = time.perf_counter() - t0
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        path_to_mask(path, shape)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(f"Rasterise 2,000-node path into {shape[1]} x {shape[0]} "
          f"(covers {m.mean():.0%} of the image)")
    print(f"  first call {cold:.3f} s; then over {runs} runs: wall min {min(wall):.3f} s, "
          f"median {statistics.median(wall):.3f} s; CPU min {min(cpu):.3f} s, "
          f"median {statistics.median(cpu):.3f} s")
    t0 = time.perf_counter()
    traced = trace_mask(m)
    dt = time.perf_counter() - t0
    back = path_to_mask(traced, shape) > 0.5
    inter = (back & (m > 0.5)).sum()
    union = (back | (m > 0.5)).sum()
    print(f"Trace that mask back (tolerance 0.5 px): {dt:.2f} s, {traced.n_nodes} nodes, "
          f"IoU {inter / union:.5f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    timing_report(args.runs)
    accuracy_report()


if __name__ == "__main__":
    main()
