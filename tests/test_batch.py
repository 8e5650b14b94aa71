"""``jewelmask batch``: tree kept, per-folder settings, broken files, resume
after a kill, report, hot folder, and Dask == local byte for byte."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ring_scene
from jewelmask import batch
from jewelmask.cli import main


def _photo(path: Path, seed=0, shape=(150, 200)):
    path.parent.mkdir(parents=True, exist_ok=True)
    img, _ = ring_scene(shape, seed=seed)
    Image.fromarray(img).save(path, quality=92)
    return path


def _digest(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".jewelmask" not in p.parts
            and p.name not in ("report.json", "index.html")}


@pytest.fixture
def tree(tmp_path):
    src = tmp_path / "in"
    _photo(src / "a.jpg", 0)
    _photo(src / "rings" / "b.jpg", 1)
    _photo(src / "rings" / "gold" / "c.png", 2)
    good = (src / "a.jpg").read_bytes()
    (src / "broken").mkdir()
    (src / "broken" / "cut.jpg").write_bytes(good[: len(good) // 2])
    (src / "broken" / "text.png").write_bytes(b"not an image at all")
    (src / "rings" / "jewelmask.toml").write_text('save = "both"\n')
    (src / "rings" / "gold" / "jewelmask.toml").write_text('background = [0, 0, 0]\nopen_gaps = false\n')
    return src


def test_tree_settings_broken_files_report(tree, tmp_path):
    before = _digest(tree)
    out = tmp_path / "out"
    rc = main(["batch", str(tree), str(out), "--recipe", "channel", "--jobs", "1"])
    assert rc == 1  # two broken files
    assert _digest(tree) == before  # inputs untouched
    assert (out / "a.png").is_file()
    assert (out / "rings" / "b.png").is_file() and (out / "rings" / "b.mask.png").is_file()
    assert (out / "rings" / "gold" / "c.png").is_file() and (out / "rings" / "gold" / "c.mask.png").is_file()
    rep = json.loads((out / "report.json").read_text())
    by = {f["input"]: f for f in rep["files"]}
    assert rep["counts"]["ok"] == 3 and rep["counts"]["failed"] == 2
    assert by["broken/cut.jpg"]["status"] == "failed" and "truncated" in by["broken/cut.jpg"]["error"]
    assert by["broken/text.png"]["status"] == "failed" and "not a JPEG" in by["broken/text.png"]["error"]
    gold = by["rings/gold/c.png"]
    assert gold["options"]["save"] == "both" and gold["options"]["background"] == [0, 0, 0]
    assert gold["options"]["no_open_gaps"] is True and gold["recipe"] == "channel"
    assert set(gold["figures"]) >= {"coverage", "soft_fraction"}
    assert (out / gold["thumbs"]["cutout"]).is_file() and (out / gold["thumbs"]["photo"]).is_file()
    html = (out / "index.html").read_text()
    assert html.index("broken/cut.jpg") < html.index("rings/b.jpg")  # failed first
    assert "checker" in html and gold["thumbs"]["contrast"] in html
    assert not list(out.rglob(".*.tmp*"))  # no temporary files left


def test_settings_precedence_and_errors(tmp_path):
    src = tmp_path / "in"
    (src / "x" / "y").mkdir(parents=True)
    (src / "x" / "jewelmask.toml").write_text('recipe = "colour"\nquality = 80\n')
    base = dict(batch.OPTION_DEFAULTS, recipe="ai", save="cutout")
    per = {"x/y": {"quality": 70}}
    o = batch.folder_options(src, Path("x/y"), base, per)
    # deeper folders win: x/y's table beats x's file
    assert (o["recipe"], o["save"], o["quality"]) == ("colour", "cutout", 70)
    assert batch.folder_options(src, Path("x"), base, per)["quality"] == 80
    assert batch.folder_options(src, Path("."), base, per)["recipe"] == "ai"
    (src / "x" / "jewelmask.toml").write_text('recipe = "magic"\n')
    with pytest.raises(batch.BatchError, match="recipe must be one of"):
        batch.folder_options(src, Path("x"), base, {})
    (src / "x" / "jewelmask.toml").write_text('colour = 1\n')
    with pytest.raises(batch.BatchError, match="unknown setting 'colour'"):
        batch.folder_options(src, Path("x"), base, {})
    cfg = tmp_path / "c.toml"
    cfg.write_text('save = "tiff"\n[folders."x/y"]\npreset = "textured"\n')
    top, folders = batch.load_config(cfg)
    assert top == {"save": "tiff"} and folders == {"x/y": {"preset": "textured"}}


def test_output_name_clash_and_same_folder(tmp_path):
    src = tmp_path / "in"
    _photo(src / "a.jpg")
    _photo(src / "a.png")
    out = tmp_path / "out"
    assert main(["batch", str(src), str(out), "--recipe", "channel", "--jobs", "1"]) == 1
    rep = json.loads((out / "report.json").read_text())
    by = {f["input"]: f for f in rep["files"]}
    assert by["a.jpg"]["status"] == "ok"
    assert by["a.png"]["status"] == "failed" and "also the output of a.jpg" in by["a.png"]["error"]
    assert main(["batch", str(src), str(src), "--recipe", "channel"]) == 2
    # the output folder inside the input folder is not scanned
    assert main(["batch", str(src), str(src / "masks"), "--recipe", "channel", "--jobs", "1"]) == 1
    rep = json.loads((src / "masks" / "report.json").read_text())
    assert sorted(f["input"] for f in rep["files"]) == ["a.jpg", "a.png"]


def _state_lines(out: Path) -> list[dict]:
    p = out / ".jewelmask" / "state.jsonl"
    if not p.is_file():
        return []
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip().endswith("}")]


def test_killed_run_resumes_without_redoing(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(10):
        _photo(src / f"p{i:02d}.jpg", seed=i, shape=(300, 400))
    cmd = [sys.executable, "-m", "jewelmask", "batch", str(src), str(out), "--recipe", "colour",
           "--jobs", "1"]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(_state_lines(out)) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the batch and its worker, as a power cut would
        proc.wait()
    first = {r["input"] for r in _state_lines(out) if r["status"] == "ok"}
    assert 3 <= len(first) < 10, "the run was not killed mid-way; make the photos bigger"
    stamps = {n: (out / Path(n).with_suffix(".png")).stat().st_mtime_ns for n in first}
    assert main(["batch", str(src), str(out), "--recipe", "colour", "--jobs", "1"]) == 0
    lines = _state_lines(out)
    redone = [r["input"] for r in lines[len(lines) - (10 - len(first)):]]
    assert sorted(redone) == sorted(set(f"p{i:02d}.jpg" for i in range(10)) - first)
    assert all((out / Path(n).with_suffix(".png")).stat().st_mtime_ns == t for n, t in stamps.items())
    assert len(list(out.glob("p*.png"))) == 10 and not list(out.glob(".*.tmp*"))
    rep = json.loads((out / "report.json").read_text())
    assert rep["counts"] == {"ok": 10, "failed": 0, "flagged": rep["counts"]["flagged"]}
    # a third run does nothing; --force redoes all; a changed file is redone
    n = len(_state_lines(out))
    assert main(["batch", str(src), str(out), "--recipe", "colour", "--jobs", "1"]) == 0
    assert len(_state_lines(out)) == n
    _photo(src / "p03.jpg", seed=99, shape=(300, 400))
    assert main(["batch", str(src), str(out), "--recipe", "colour", "--jobs", "1"]) == 0
    assert [r["input"] for r in _state_lines(out)[n:]] == ["p03.jpg"]


def test_hot_folder_takes_files_once_complete(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    _photo(tmp_path / "whole.png", seed=3)
    data = (tmp_path / "whole.png").read_bytes()

    def slow_copy():
        time.sleep(0.5)
        with open(src / "late.png", "wb") as f:
            for i in range(0, len(data), len(data) // 4 + 1):
                f.write(data[i:i + len(data) // 4 + 1])
                f.flush()
                time.sleep(0.4)

    t = threading.Thread(target=slow_copy)
    t.start()
    opts = batch.BatchOptions(input_dir=src, output_dir=out,
                              base=dict(batch.OPTION_DEFAULTS, recipe="channel"), jobs=1)
    failed = batch.watch(opts, interval=0.2, settle=0.6, idle_exit=1.5)
    t.join()
    assert failed == 0
    recs = _state_lines(out)
    assert [r["input"] for r in recs] == ["late.png"] and recs[0]["status"] == "ok"
    assert recs[0]["key"]["size"] == len(data)
    assert json.loads((out / "report.json").read_text())["counts"]["ok"] == 1


@pytest.mark.slow  # about 40 s on the 2-core CI machine (a cluster of 2 processes)
def test_dask_matches_local_byte_for_byte(tmp_path, have_model):
    distributed = pytest.importorskip("distributed")  # in the test extra: CI runs it
    src = tmp_path / "in"
    _photo(src / "r1.jpg", 0, shape=(240, 320))
    _photo(src / "sub" / "r2.png", 1, shape=(240, 320))
    (src / "sub" / "jewelmask.toml").write_text('recipe = "colour"\nsave = "both"\n')
    local, remote = tmp_path / "local", tmp_path / "dask"
    assert main(["batch", str(src), str(local), "--jobs", "2"]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  memory_limit="2GiB") as cluster:
        assert main(["batch", str(src), str(remote), "--jobs", "2",
                     "--scheduler", cluster.scheduler_address]) == 0
    a, b = _digest(local), _digest(remote)
    assert set(a) == {"r1.png", "sub/r2.png", "sub/r2.mask.png"} and a == b
    rep = json.loads((remote / "report.json").read_text())
    assert rep["scheduler"].startswith("tcp://127.0.0.1")
    assert "ai_disagreement" in {f["input"]: f for f in rep["files"]}["r1.jpg"]["figures"]


def test_review_flags():
    recs = [{"input": f"{i}.jpg", "status": "ok",
             "figures": {"coverage": 0.02 + 0.001 * i, "soft_fraction": 0.5 + 0.01 * (i % 3),
                         "ai_disagreement": 0.3}} for i in range(10)]
    recs[4]["figures"]["soft_fraction"] = 0.9
    recs[7]["figures"]["coverage"] = 0.0
    recs.append({"input": "x.jpg", "status": "failed", "error": "truncated"})
    limits = batch.batch_limits(recs)
    flags = {r["input"]: batch.flags_for(r, limits) for r in recs}
    assert [k for k, v in flags.items() if v] == ["4.jpg", "7.jpg", "x.jpg"]
    assert "soft" in flags["4.jpg"][0] and "empty" in flags["7.jpg"][0] and flags["x.jpg"] == ["failed"]
    assert batch.batch_limits(recs[:5]) == {}  # too few photos to tell what is unusual


def test_output_lock_and_stale_temporaries(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    _photo(src / "a.jpg")
    (out / "sub").mkdir(parents=True)
    stale = out / "sub" / ".a.0123abcd.tmp.png"  # as left by atomic_write when killed
    stale.write_bytes(b"half")
    opts = batch.BatchOptions(input_dir=src, output_dir=out, base=dict(batch.OPTION_DEFAULTS))
    first = batch.Batch(opts)
    try:
        assert not stale.exists()
        with pytest.raises(batch.BatchError, match="another jewelmask batch"):
            batch.Batch(opts)
    finally:
        first.close()
    batch.Batch(opts).close()


class _CountingPool:
    """Stands in for the process pool: records how many photos run at once."""

    jobs = 3

    def __init__(self):
        self.running, self.most = 0, 0

    def submit(self, job):
        from concurrent.futures import Future

        self.running += 1
        self.most = max(self.most, self.running)
        fut = Future()
        fut.set_result(dict(batch._record(job), status="ok", seconds=0.0, figures={}))
        return fut

    def wait_first(self, futures):
        self.running -= 1
        return {next(iter(futures))}

    def result(self, fut, job):
        return fut.result()

    def after_round(self):
        pass

    def close(self):
        pass


@pytest.mark.parametrize("fits, most", [(1, 1), (2, 2), (10, 3)])
def test_memory_budget_limits_photos_at_once(tmp_path, fits, most):
    src = tmp_path / "in"
    for i in range(6):
        _photo(src / f"{i}.png", shape=(150, 200))
    one = 150 * 200 * batch.BYTES_PER_PIXEL + batch.WORKER_BASE_BYTES
    opts = batch.BatchOptions(input_dir=src, output_dir=tmp_path / "out",
                              base=dict(batch.OPTION_DEFAULTS), memory=fits * one)
    b = batch.Batch(opts)
    b.pool = pool = _CountingPool()
    try:
        assert b.run(batch.scan(src))["done"] == 6
    finally:
        b.close()
    assert pool.most == most  # a photo bigger than the budget still runs, alone


def test_sigterm_finishes_what_runs_and_writes_the_report(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(8):
        _photo(src / f"p{i}.jpg", seed=i, shape=(300, 400))
    proc = subprocess.Popen([sys.executable, "-m", "jewelmask", "batch", str(src), str(out),
                             "--recipe", "colour", "--jobs", "1"], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(_state_lines(out)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    rep = json.loads((out / "report.json").read_text())
    assert rep["counts"]["ok"] == len(_state_lines(out)) >= 2


def test_each_photo_hands_its_freed_memory_back(tmp_path, monkeypatch):
    # workers reuse freed memory within a photo (memory.reuse_freed_memory);
    # between photos it must go back, or the pixel budget undercounts them
    calls = []
    monkeypatch.setattr(batch, "give_back_freed_memory", lambda: calls.append(1))
    src = tmp_path / "in"
    _photo(src / "a.jpg", 0)
    (src / "broken.jpg").write_bytes(b"not an image")
    jobs = batch.plan_jobs(src, tmp_path / "out", ["a.jpg", "broken.jpg"], config_folders={},
                           base=dict(batch.OPTION_DEFAULTS, recipe="channel"))
    recs = [batch.process_job(job) for job in jobs]
    assert [r["status"] for r in recs] == ["ok", "failed"]
    assert len(calls) == 2  # after every photo, the failed one too
