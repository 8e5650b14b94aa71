"""Studio batch: a folder tree of photos in, the same tree of results out.

Resumable (a state file in ``OUTPUT_DIR/.jewelmask/``), reviewable
(``report.json`` and ``index.html``), on a local process pool or a Dask
cluster. Each photo goes through :func:`jewelmask.cli._process_one`, the
code ``jewelmask cutout`` runs, so a batch gives the masks ``cutout`` gives.

Nothing here prints; :mod:`jewelmask.cli_batch` does.

How nothing is lost
-------------------
* Inputs are only read; every output goes through :func:`io.atomic_write`
  (a temporary file, then one rename), which refuses to replace the input.
* After each photo a line is appended to ``.jewelmask/state.jsonl`` and
  flushed to disk. A photo counts as done when its last line says ``ok``
  for the same input size, modification time and settings hash and its
  outputs exist. A killed run started again skips those and does the rest.
* A photo that cannot be read (corrupt, truncated, unsupported) is
  recorded as ``failed`` with the reason and the run goes on; failed
  photos are tried again on the next run.
* A worker process that dies (killed, out of memory) fails only the photos
  it had; the pool is started again for the rest.

How memory is bounded
---------------------
The photo's size is read from its header before it is handed out, and a
photo costs :data:`BYTES_PER_PIXEL` per pixel (measured peak of the
``auto`` recipe, see docs/batch.md) plus :data:`WORKER_BASE_BYTES`.
Photos are handed out only while the sum of the running photos' costs
stays under the budget (default: 60 % of the memory available at the
start), so a folder of 50 MP photos runs one or two at a time while
1600x1200 photos keep every worker busy. A photo bigger than the whole
budget runs alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import JewelmaskError
from .memory import give_back_freed_memory, reuse_freed_memory

__all__ = ["IMAGE_SUFFIXES", "OPTION_DEFAULTS", "BatchError", "Job", "scan", "folder_options",
           "plan_jobs", "process_job", "run_batch", "watch", "write_report"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"}
FOLDER_FILE = "jewelmask.toml"
STATE_DIR = ".jewelmask"
BYTES_PER_PIXEL = 160
WORKER_BASE_BYTES = 700 * 2**20
THUMB_PX = 320

# every setting a folder may change, with the value used when nobody says
OPTION_DEFAULTS = {
    "recipe": "auto", "preset": "auto", "model": "u2netp", "save": "mask",
    "background": (255, 255, 255), "quality": 95, "bits": None, "tiles": 6,
    "path_tolerance": 0.5, "keep_shadows": False, "no_open_gaps": False, "no_keep_stones": False,
    "metal": "auto", "sample": None, "tolerance": 12.0, "channel": "auto",
    "paths": None, "path_name": None,
    # refine, decontaminate and edge controls: None is "not given" (the recipe's
    # own setting, no change); see jewelmask.cli.add_refine_arguments
    "refine": None, "refine_radius": None, "smart_radius": None, "max_radius": None,
    "decontaminate": None, "smooth": None, "feather": None, "contrast": None, "shift_edge": None,
}
# options added after the first release: left out of the settings hash while
# not given, so a run resumed with a newer jewelmask keeps the photos it did
_NEWER_OPTIONS = ("refine", "refine_radius", "smart_radius", "max_radius", "decontaminate",
                  "smooth", "feather", "contrast", "shift_edge")
# review flags: absolute limits, and "unlike the rest of the batch" (a
# figure above the batch's median + OUTLIER_K robust deviations, with at
# least OUTLIER_MIN_FILES photos done); see docs/batch.md
FLAG_EMPTY = 0.0005
FLAG_FULL = 0.85
OUTLIER_K = 3.0
OUTLIER_MIN_FILES = 8
OUTLIER_FIGURES = {"soft_fraction": "much of the mask is soft",
                   "ai_disagreement": "AI and backdrop plate disagree",
                   "coverage": "the mask is much bigger"}


class BatchError(JewelmaskError):
    """A batch cannot start: bad folders or settings."""


# -- settings --------------------------------------------------------------

def _check_options(opts: dict, where: str) -> dict:
    """Validate and normalise option values read from TOML or the command line."""
    from .cli import SAVE_CHOICES, _option_params, _rgb_triplet
    from .models import MODELS
    from .recipes import PRESETS, RECIPES

    numbers = _option_params()
    out = {}
    for key, value in opts.items():
        k = key.replace("-", "_")
        if k in ("open_gaps", "keep_stones"):
            k, value = "no_" + k, not value
        if k not in OPTION_DEFAULTS:
            raise BatchError(f"{where}: unknown setting {key!r}; known: "
                             f"{', '.join(sorted(OPTION_DEFAULTS))}, open_gaps, keep_stones")
        choices = {"recipe": RECIPES, "save": SAVE_CHOICES, "model": MODELS,
                   "preset": ("auto", *PRESETS)}.get(k)
        if choices is not None and value not in choices:
            raise BatchError(f"{where}: {key} must be one of {', '.join(choices)}, got {value!r}")
        if k == "background":
            try:
                value = _rgb_triplet(value if isinstance(value, str) else ",".join(map(str, value)))
            except (argparse.ArgumentTypeError, TypeError) as exc:
                raise BatchError(f"{where}: background: {exc}") from None
        if k == "paths" and value not in (None, "embedded"):
            raise BatchError(f"{where}: paths can only be 'embedded' in a batch, got {value!r}")
        if k in ("refine", "smart_radius", "decontaminate") and not isinstance(value, (bool, type(None))):
            raise BatchError(f"{where}: {key} must be true or false, got {value!r}")
        if k in numbers and value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BatchError(f"{where}: {key} must be a number, got {value!r}")
            try:
                value = numbers[k].check(value)
            except ValueError as exc:
                raise BatchError(f"{where}: {exc}") from None
        out[k] = value
    return out


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BatchError(f"cannot read the settings file {path}: {exc}") from None


def load_config(path) -> tuple[dict, dict]:
    """Read a ``--config`` file: top-level settings and ``[folders."a/b"]`` tables.

    Returns (top-level options, {relative folder: options}).
    """
    doc = _read_toml(Path(path))
    folders = doc.pop("folders", {}) or {}
    top = _check_options(doc, str(path))
    per = {Path(k).as_posix().strip("/"): _check_options(v, f"{path} [folders.{k!r}]")
           for k, v in folders.items()}
    return top, per


def folder_options(input_dir: Path, rel_dir: Path, base: dict, config_folders: dict,
                   cache: dict | None = None) -> dict:
    """The options of the photos in ``input_dir/rel_dir``.

    From least to most specific: ``base`` (built-in defaults, the config
    file's top level, the command line), then for each folder from the top
    down to ``rel_dir``: its ``[folders."..."]`` table of the config file and
    the ``jewelmask.toml`` it holds.
    """
    cache = {} if cache is None else cache
    opts = dict(base)
    parts = rel_dir.parts
    for i in range(len(parts) + 1):
        rel = Path(*parts[:i]).as_posix() if i else ""
        opts.update(config_folders.get(rel, {}))
        local = input_dir / rel / FOLDER_FILE
        if local not in cache:
            cache[local] = _check_options(_read_toml(local), str(local)) if local.is_file() else {}
        opts.update(cache[local])
    return opts


def settings_hash(opts: dict) -> str:
    opts = {k: v for k, v in opts.items() if not (k in _NEWER_OPTIONS and v is None)}
    return hashlib.sha256(json.dumps(opts, sort_keys=True, default=list).encode()).hexdigest()[:16]


# -- planning ----------------------------------------------------------------

def scan(input_dir, output_dir=None) -> list[Path]:
    """Photos under ``input_dir``, recursive, sorted, as paths relative to it.

    Hidden files and folders are skipped, and so is ``output_dir`` when it
    lies inside ``input_dir``.
    """
    input_dir = Path(input_dir).resolve()
    skip = Path(output_dir).resolve() if output_dir is not None else None
    found = []
    for root, dirs, files in os.walk(input_dir):
        rootp = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (rootp / d).resolve() != skip)
        for name in files:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.append((rootp / name).relative_to(input_dir))
    return sorted(found)


@dataclass
class Job:
    """One photo to do: where it is, where its results go, with what settings."""

    rel: str
    input: str
    out_dir: str
    thumb_dir: str
    options: dict
    key: dict
    pixels: int = 0
    threads: int = 1
    error: str | None = None
    outputs: dict = field(default_factory=dict)


def _pixels(path: Path) -> int:
    try:
        from PIL import Image

        with Image.open(path) as im:
            return int(im.size[0]) * int(im.size[1])
    except Exception:  # the worker says what is wrong with it
        return 0


def plan_jobs(input_dir, output_dir, rels, *, base: dict, config_folders: dict,
              threads: int = 1, cache: dict | None = None) -> list[Job]:
    """A :class:`Job` per relative path; name clashes become failed jobs."""
    from .cli import _output_paths, check_combination

    input_dir, output_dir = Path(input_dir).resolve(), Path(output_dir).resolve()
    jobs, owner = [], {}
    for rel in rels:
        src = input_dir / rel
        opts = folder_options(input_dir, Path(rel).parent, base, config_folders, cache)
        try:
            st = src.stat()
            size, mtime, error = st.st_size, st.st_mtime_ns, None
        except OSError as exc:  # removed or moved since the scan
            size, mtime, error = -1, -1, f"cannot read it: {exc.strerror or exc}"
        try:
            check_combination(argparse.Namespace(**opts))
        except JewelmaskError as exc:  # this folder's settings do not go together
            error = error or f"settings of {Path(rel).parent.as_posix() or '.'}: {exc}"
        out_dir = output_dir / Path(rel).parent
        job = Job(rel=Path(rel).as_posix(), input=str(src), out_dir=str(out_dir),
                  thumb_dir=str(output_dir / STATE_DIR / "thumbs" / Path(rel).parent),
                  options=opts, threads=threads, error=error,
                  key={"size": size, "mtime_ns": mtime, "settings": settings_hash(opts)})
        targets = _output_paths(src, out_dir, opts["save"])
        job.outputs = {k: str(v.relative_to(output_dir)) for k, v in targets.items()}
        for t in targets.values():
            if t in owner:
                job.error = (f"its output {t.relative_to(output_dir)} is also the output of "
                             f"{owner[t]}; rename one of the two")
            owner.setdefault(t, job.rel)
        jobs.append(job)
    return jobs


# -- one photo (runs in a worker process) --------------------------------------

def _figures(alpha, stages) -> dict:
    """What the engine can tell about its own confidence, from the mask and,
    for ``auto``, its stages."""
    import numpy as np

    fg = alpha > 0.5
    seen = alpha > 0.02
    n_seen = max(1, int(seen.sum()))
    fig = {
        "coverage": round(float(fg.mean()), 5),
        "soft_fraction": round(float((seen & (alpha < 0.98)).sum()) / n_seen, 4),
        "touches_border": bool(fg[0].any() or fg[-1].any() or fg[:, 0].any() or fg[:, -1].any()),
    }
    if stages is not None:
        ai = stages["ai"] > 0.5
        union = max(1, int((ai | fg).sum()))
        fig["preset"] = stages["preset"]
        fig["ai_disagreement"] = round(float((ai ^ fg).sum()) / union, 4)
        fig["added_to_ai"] = round(float((fg & ~ai).sum()) / union, 4)
        fig["removed_from_ai"] = round(float((ai & ~fg).sum()) / union, 4)
    return fig


def batch_limits(records: list[dict]) -> dict:
    """Per figure, the value above which a photo is unlike the rest of the batch."""
    import numpy as np

    ok = [r.get("figures", {}) for r in records if r.get("status") == "ok"]
    limits = {}
    for name in OUTLIER_FIGURES:
        v = np.array([f[name] for f in ok if name in f], float)
        if len(v) >= OUTLIER_MIN_FILES:
            med = float(np.median(v))
            mad = 1.4826 * float(np.median(np.abs(v - med)))
            limits[name] = med + OUTLIER_K * max(mad, 0.02 * max(med, 0.01))
    return limits


def flags_for(record: dict, limits: dict | None = None) -> list[str]:
    """Reasons a human should look at this result (empty: none)."""
    if record.get("status") != "ok":
        return ["failed"]
    f = record.get("figures", {})
    out = []
    if f.get("coverage", 1) < FLAG_EMPTY:
        out.append("mask (nearly) empty")
    if f.get("coverage", 0) > FLAG_FULL:
        out.append("mask covers (nearly) the whole photo")
    for name, text in OUTLIER_FIGURES.items():
        if name in f and name in (limits or {}) and f[name] > limits[name]:
            out.append(f"{text} than in the rest of the batch ({name} {f[name]:.3g} > {limits[name]:.3g})")
    return out


def _contrast_colour(rgb_small, alpha_small):
    """A colour that stands out against the backdrop (to show fringes)."""
    import colorsys

    import numpy as np

    bg = rgb_small[alpha_small < 0.02]
    c = np.median(bg, axis=0) if len(bg) else np.array([1.0, 1.0, 1.0])
    h, s, v = colorsys.rgb_to_hsv(*map(float, c))
    r, g, b = colorsys.hsv_to_rgb((h + 0.5) % 1.0, 0.75, 0.25 if v > 0.5 else 0.95)
    return "#%02x%02x%02x" % (round(r * 255), round(g * 255), round(b * 255))


def _thumbnails(job: Job, rgb, alpha) -> dict:
    import cv2
    import numpy as np

    from . import io
    from .dtypes import as_float_image

    rgbf, _ = as_float_image(rgb)
    H, W = alpha.shape
    f = min(1.0, THUMB_PX / max(H, W))
    size = (max(1, round(W * f)), max(1, round(H * f)))
    small = np.clip(cv2.resize(np.ascontiguousarray(rgbf[..., :3]), size, interpolation=cv2.INTER_AREA), 0, 1)
    a_small = np.clip(cv2.resize(alpha, size, interpolation=cv2.INTER_AREA), 0, 1)
    folder = Path(job.thumb_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(job.rel).name
    photo, cut = folder / f"{stem}.photo.jpg", folder / f"{stem}.cutout.png"
    io.write_jpeg(photo, small, quality=85, protect=job.input)
    io.write_cutout(cut, small, a_small, bits=8, protect=job.input)
    rel = Path(STATE_DIR, "thumbs", Path(job.rel).parent)
    return {"photo": (rel / photo.name).as_posix(), "cutout": (rel / cut.name).as_posix(),
            "contrast": _contrast_colour(small, a_small)}


def _record(job: Job) -> dict:
    return {"input": job.rel, "recipe": job.options["recipe"], "key": job.key,
            "outputs": job.outputs, "options": job.options}


def _failed(job: Job, error: str) -> dict:
    return dict(_record(job), status="failed", error=error, seconds=0.0,
                finished=round(time.time(), 1))


def process_job(job: Job) -> dict:
    """Mask one photo, write its outputs and thumbnails; never raises.

    Returns the record that goes into the state file and the report.
    """
    t0 = time.perf_counter()
    if job.error:
        return _failed(job, job.error)
    rec = _record(job)
    try:
        from . import models
        from .cli import _process_one
        from .recipes import auto_stages, run_recipe

        opts = job.options
        if opts["recipe"] in ("auto", "ai"):
            models.get_session(opts["model"], threads=job.threads)
        seen = {}

        def runner(image, *, recipe, settings, paths=None, brush=None, progress=None):
            if recipe == "auto" and not paths:
                stages = auto_stages(image, settings=settings, progress=progress, brush=brush)
                seen["stages"] = stages
                return stages["alpha"]
            return run_recipe(image, recipe=recipe, settings=settings, paths=paths, brush=brush,
                              progress=progress)

        args = argparse.Namespace(**opts, overwrite=True)
        Path(job.out_dir).mkdir(parents=True, exist_ok=True)
        _process_one(Path(job.input), args, Path(job.out_dir), runner=runner, quiet=True, keep=seen)
        figures = _figures(seen["alpha"], seen.get("stages"))
        thumbs = _thumbnails(job, seen["colours"], seen["alpha"])
        h, w = seen["alpha"].shape
        rec.update(status="ok", figures=figures, thumbs=thumbs, width=w, height=h)
    except JewelmaskError as exc:
        rec.update(status="failed", error=str(exc))
    except MemoryError:
        rec.update(status="failed", error="out of memory; run with fewer --jobs or a smaller --memory")
    except Exception as exc:  # a bug or a decoder's surprise: recorded, the batch goes on
        rec.update(status="failed", error=f"unexpected {type(exc).__name__}: {exc}")
    finally:
        # freed memory is reused within a photo (reuse_freed_memory); between
        # photos it goes back, so the pixel budget charges what is resident
        give_back_freed_memory()
    rec["seconds"] = round(time.perf_counter() - t0, 3)
    rec["finished"] = round(time.time(), 1)
    return rec


def _init_worker(threads: int) -> None:
    import cv2

    cv2.setNumThreads(max(1, threads))
    reuse_freed_memory()


# -- state and report --------------------------------------------------------

class State:
    """``OUTPUT_DIR/.jewelmask/state.jsonl``: one line per finished photo."""

    def __init__(self, output_dir):
        self.path = Path(output_dir) / STATE_DIR / "state.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records: dict[str, dict] = {}
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:  # a line cut short by a kill
                        continue
                    self.records[rec["input"]] = rec

    def done(self, job: Job, output_dir: Path) -> bool:
        rec = self.records.get(job.rel)
        return (rec is not None and rec.get("status") == "ok" and rec.get("key") == job.key
                and all((output_dir / p).is_file() for p in rec.get("outputs", {}).values()))

    def add(self, rec: dict) -> None:
        self.records[rec["input"]] = rec
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())


def write_report(output_dir, records: list[dict], meta: dict) -> Path:
    """Write ``report.json`` and ``index.html`` (atomically); returns the JSON path."""
    from . import io
    from .report_html import render_index

    output_dir = Path(output_dir)
    limits = batch_limits(records)
    files = [dict(rec, flags=flags_for(rec, limits)) for rec in records]
    counts = {s: sum(r["status"] == s for r in files) for s in ("ok", "failed")}
    counts["flagged"] = sum(bool(r["flags"]) and r["status"] == "ok" for r in files)
    doc = {"jewelmask_batch": 1, **meta, "counts": counts,
           "flag_limits": {k: round(v, 4) for k, v in limits.items()}, "files": files}
    target = output_dir / "report.json"
    with io.atomic_write(target) as tmp:
        tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    with io.atomic_write(output_dir / "index.html") as tmp:
        tmp.write_text(render_index(doc), encoding="utf-8")
    return target


# -- executors ------------------------------------------------------------------

class _LocalPool:
    def __init__(self, jobs: int, threads: int):
        self.jobs, self.threads = jobs, threads
        self._start()

    def _start(self):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(self.jobs, mp_context=mp.get_context("spawn"),
                                        initializer=_init_worker, initargs=(self.threads,))

    def submit(self, job):
        return self.pool.submit(process_job, job)

    def wait_first(self, futures):
        from concurrent.futures import FIRST_COMPLETED, wait

        return wait(futures, return_when=FIRST_COMPLETED).done

    def result(self, fut, job):
        from concurrent.futures.process import BrokenProcessPool

        try:
            return fut.result()
        except BrokenProcessPool:
            self.broken = True
            return _failed(job, "the worker process died (killed, or out of memory); "
                                "it is tried again on the next run")

    def after_round(self):
        if getattr(self, "broken", False):
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.broken = False
            self._start()

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


class _DaskPool:
    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError as exc:
            raise ImportError("--scheduler needs Dask distributed: "
                              "pip install 'jewelmask[distributed]'") from exc
        self.client = Client(address, timeout="20s")
        self.jobs = max(1, sum(w["nthreads"] for w in
                               self.client.scheduler_info()["workers"].values()))

    def submit(self, job):
        return self.client.submit(process_job, job, pure=False)

    def wait_first(self, futures):
        from distributed import wait

        return wait(list(futures), return_when="FIRST_COMPLETED").done

    def result(self, fut, job):
        try:
            return fut.result()
        except Exception as exc:  # a worker lost, the job killed by the nanny
            return _failed(job, f"the Dask task failed: {type(exc).__name__}: {exc}")

    def after_round(self):
        pass

    def close(self):
        self.client.close()


def _local_label(jobs: int) -> str:
    return f"local, {jobs} worker process{'es' if jobs != 1 else ''}"


def memory_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def _cost(job: Job) -> int:
    return job.pixels * BYTES_PER_PIXEL + WORKER_BASE_BYTES


# -- the run -------------------------------------------------------------------

@dataclass
class BatchOptions:
    """What ``jewelmask batch`` was asked (see :func:`run_batch`)."""

    input_dir: Path
    output_dir: Path
    base: dict
    config_folders: dict = field(default_factory=dict)
    jobs: int = 0
    force: bool = False
    scheduler: str | None = None
    memory: int | None = None


def check_folders(input_dir: Path, output_dir: Path) -> None:
    if not input_dir.is_dir():
        raise BatchError(f"the input folder {input_dir} does not exist or is not a folder")
    if input_dir.resolve() == output_dir.resolve():
        raise BatchError("OUTPUT_DIR is INPUT_DIR; choose another output folder "
                         "(jewelmask never writes next to the originals)")


_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp(\.[A-Za-z0-9]+)?$")


def _lock_output(output_dir: Path):
    """Hold ``.jewelmask/lock`` so that two batches never share an output folder."""
    import fcntl

    (output_dir / STATE_DIR).mkdir(parents=True, exist_ok=True)
    f = open(output_dir / STATE_DIR / "lock", "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise BatchError(f"another jewelmask batch is writing into {output_dir}; "
                         "wait for it or choose another output folder") from None
    return f


def _remove_stale_temporaries(output_dir: Path) -> None:
    """Temporary files of :func:`io.atomic_write` left by a run that was killed."""
    for root, _dirs, files in os.walk(output_dir):
        for name in files:
            if _TEMPORARY.match(name):
                try:
                    os.unlink(os.path.join(root, name))
                except OSError:
                    pass


class Batch:
    """A pool, a state file and the records of one output folder."""

    def __init__(self, opts: BatchOptions, progress=None):
        check_folders(opts.input_dir, opts.output_dir)
        self.opts = opts
        self.output_dir = opts.output_dir.resolve()
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_output(self.output_dir)
        _remove_stale_temporaries(self.output_dir)
        self.state = State(self.output_dir)
        self.progress = progress or (lambda **kw: None)
        self.cores = os.cpu_count() or 1
        self.pool = None
        self.budget = opts.memory or int(0.6 * memory_available())
        self._cache: dict = {}
        self.started = time.time()

    def _pool(self):
        if self.pool is None:
            if self.opts.scheduler:
                self.pool = _DaskPool(self.opts.scheduler)
            else:
                jobs = self.opts.jobs or self.cores
                self.pool = _LocalPool(jobs, max(1, self.cores // jobs))
        return self.pool

    def plan(self, rels) -> list[Job]:
        jobs = self.opts.jobs or self.cores
        return plan_jobs(self.opts.input_dir, self.output_dir, rels, base=self.opts.base,
                         config_folders=self.opts.config_folders,
                         threads=max(1, self.cores // jobs), cache=self._cache)

    def run(self, rels) -> dict:
        """Do the photos ``rels`` (relative paths) that are not done yet.

        Returns counts: done now, skipped (finished earlier), failed now.
        """
        jobs = self.plan(rels)
        todo = [j for j in jobs if self.opts.force or not self.state.done(j, self.output_dir)]
        counts = {"done": 0, "skipped": len(jobs) - len(todo), "failed": 0, "total": len(todo)}
        if not todo:
            return counts
        pool = self._pool()
        for j in todo:
            j.pixels = _pixels(Path(j.input))
        queue = list(todo)
        running: dict = {}
        t0 = time.perf_counter()
        self.progress(done=0, failed=0, total=len(todo), elapsed=0.0, last=None)
        while queue or running:
            used = sum(_cost(j) for j in running.values())
            while queue and len(running) < pool.jobs and (not running or used + _cost(queue[0]) <= self.budget):
                job = queue.pop(0)
                running[pool.submit(job)] = job
                used += _cost(job)
            for fut in pool.wait_first(running):
                job = running.pop(fut)
                rec = pool.result(fut, job)
                self.state.add(rec)
                counts["done" if rec["status"] == "ok" else "failed"] += 1
                self.progress(done=counts["done"] + counts["failed"], failed=counts["failed"],
                              total=len(todo), elapsed=time.perf_counter() - t0, last=rec)
            pool.after_round()
        return counts

    def report(self, rels) -> Path:
        keep = {Path(r).as_posix() for r in rels}
        recs = [r for k, r in sorted(self.state.records.items()) if k in keep]
        from . import __version__

        meta = {"version": __version__, "input_dir": str(self.opts.input_dir.resolve()),
                "output_dir": str(self.output_dir),
                "scheduler": self.opts.scheduler or _local_label(self._pool_jobs()),
                "written": time.strftime("%Y-%m-%d %H:%M:%S")}
        return write_report(self.output_dir, recs, meta)

    def _pool_jobs(self):
        return self.pool.jobs if self.pool else (self.opts.jobs or self.cores)

    def close(self):
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def run_batch(opts: BatchOptions, progress=None) -> tuple[dict, Path, list[dict]]:
    """Run a batch once. Returns (counts, report path, failed records)."""
    batch = Batch(opts, progress)
    try:
        rels = scan(opts.input_dir, batch.output_dir)
        try:
            counts = batch.run(rels)
        except KeyboardInterrupt:  # Ctrl+C: the report still shows what is done
            batch.report(rels)
            raise
        path = batch.report(rels)
    finally:
        batch.close()
    failed = [r for k, r in batch.state.records.items()
              if r["status"] != "ok" and k in {p.as_posix() for p in rels}]
    return counts, path, failed


def watch(opts: BatchOptions, *, interval: float = 2.0, settle: float = 2.0,
          idle_exit: float | None = None, progress=None, on_round=None) -> int:
    """Hot folder: process photos as they arrive, once completely written.

    A file is taken when its size and modification time have not changed
    for ``settle`` seconds (seen on two polls). Runs until interrupted, or
    until nothing new has come for ``idle_exit`` seconds. Returns the
    number of photos that failed.
    """
    batch = Batch(opts, progress)
    seen: dict[str, tuple] = {}
    handled: dict[str, tuple] = {}
    last_new = time.monotonic()
    failed = 0
    try:
        while True:
            now = time.monotonic()
            ready = []
            rels = scan(opts.input_dir, batch.output_dir)
            for rel in rels:
                k = rel.as_posix()
                try:
                    st = (opts.input_dir / rel).stat()
                except OSError:
                    continue
                sig = (st.st_size, st.st_mtime_ns)
                if handled.get(k) == sig:
                    continue
                prev = seen.get(k)
                if prev is None or prev[0] != sig:
                    seen[k] = (sig, now)
                elif now - prev[1] >= settle and st.st_size > 0:
                    ready.append(rel)
            if ready:
                counts = batch.run(ready)
                failed += counts["failed"]
                for rel in ready:
                    handled[rel.as_posix()] = seen.pop(rel.as_posix())[0]
                batch.report(rels)
                if on_round:
                    on_round(counts)
                last_new = time.monotonic()
            elif idle_exit is not None and time.monotonic() - last_new > idle_exit and not seen:
                return failed
            time.sleep(interval)
    finally:
        batch.close()
