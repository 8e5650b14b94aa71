"""Throughput and peak memory of ``jewelmask batch``.

    python -m bench.bench_batch --set 1600 --count 200 --jobs 2
    python -m bench.bench_batch --set 6000 --count 4 --jobs 2

Writes the scenes of ``bench.synth`` as JPEG (quality 92) into a folder,
cycling through the set until ``--count`` photos, runs ``jewelmask batch``
on them in a child process and samples the resident memory of that
process and its workers every 0.25 s. Prints one JSON line and appends it
to ``bench/out/batch-results.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .synth import OUT_DIR, make_set


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> tuple[int, int]:
    """(sum, largest) resident memory of `pid` and all its descendants."""
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    sizes = [_rss(p) for p in seen]
    return sum(sizes), max(sizes)


def prepare(set_name: str, count: int, folder: Path) -> list[Path]:
    from PIL import Image

    scenes = make_set(set_name)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        p = folder / f"{i:04d}.jpg"
        if not p.exists():
            Image.fromarray(scenes[i % len(scenes)].image).save(p, quality=92)
        paths.append(p)
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="1600", choices=("1600", "6000"))
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--save", default="mask")
    ap.add_argument("--memory", type=float, default=None, help="--memory GB for the batch")
    ap.add_argument("--work", default=None, help="folder for inputs and outputs (default: a temp dir)")
    a = ap.parse_args(argv)
    work = Path(a.work or tempfile.mkdtemp(prefix="jm-bench-batch-"))
    src = work / f"in-{a.set}-{a.count}"
    prepare(a.set, a.count, src)
    out = work / f"out-{a.set}-{a.count}-j{a.jobs}"
    cmd = [sys.executable, "-m", "jewelmask", "batch", str(src), str(out), "--jobs", str(a.jobs),
           "--save", a.save, "--force"]
    if a.memory:
        cmd += ["--memory", str(a.memory)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    peak_sum = peak_one = 0
    while proc.poll() is None:
        s, m = tree_rss(proc.pid)
        peak_sum, peak_one = max(peak_sum, s), max(peak_one, m)
        time.sleep(0.25)
    wall = time.perf_counter() - t0
    err = proc.stderr.read()
    report = json.loads((out / "report.json").read_text())
    secs = [f["seconds"] for f in report["files"] if f["status"] == "ok"]
    res = {
        "set": a.set, "count": a.count, "jobs": a.jobs, "save": a.save, "exit": proc.returncode,
        "ok": report["counts"]["ok"], "failed": report["counts"]["failed"],
        "wall_s": round(wall, 1), "photos_per_min": round(60 * len(secs) / wall, 2),
        "mean_s_per_photo_in_worker": round(sum(secs) / max(1, len(secs)), 2),
        "peak_rss_total_mb": round(peak_sum / 2**20), "peak_rss_one_process_mb": round(peak_one / 2**20),
        "cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg()[0],
        "when": time.strftime("%Y-%m-%d %H:%M"),
    }
    line = json.dumps(res)
    print(line)
    with open(OUT_DIR / "batch-results.jsonl", "a") as f:
        f.write(line + "\n")
    if proc.returncode not in (0, 1):
        print(err[-2000:], file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
