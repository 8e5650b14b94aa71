"""The Krita plug-in in the real Krita 5.2, headless under Xvfb, in the
Debian 13 rootfs of tests/editors/rootfs.sh.

One Krita session (tests/krita/driver.py, run by the plug-in's test mode)
opens 8-bit, 16-bit and float documents (plus 16-bit float, greyscale,
CMYK, a moved layer and a vector layer), triggers every jewelmask action with
parameters, saves, and dumps what it sees; tests/krita/check.py recomputes
each mask with the engine on the same pixels. The tests below assert on
those reports.

Without the rootfs these tests skip with the command that builds it; with
CI=true (or JEWELMASK_BUILD_EDITORS=1) the rootfs is built when missing and a
test that cannot run fails instead of skipping. The engine environment inside
the rootfs (/opt/jewelmask-engine, editable from /src) is made by
install/install-krita on the first run. Outputs stay in the rootfs under
/tmp/jewelmask-krita-test (its host path is printed on failure).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.editor, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
ROOTFS_SH = ROOT / "tests" / "editors" / "rootfs.sh"
INSIDE_OUT = "/tmp/jewelmask-krita-test"
CASES = os.environ.get("JM_CASES", "shot,u8,u16,f32,f16,grey,cmyk,offset,vector,undo,preview,cancel,big")
BIG = (6000, 4000)  # 24 MP


def _skip(msg):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("editor test cannot run in CI: " + msg)
    pytest.skip(msg)


def _rootfs():
    if os.geteuid() != 0:
        _skip("the Krita tests need root (chroot into the editors rootfs)")
    proc = subprocess.run([str(ROOTFS_SH), "path"], capture_output=True, text=True)
    if proc.returncode != 0:
        build = (os.environ.get("CI", "").lower() in ("1", "true", "yes")
                 or os.environ.get("JEWELMASK_BUILD_EDITORS") == "1")
        if not build:
            _skip(f"the editors rootfs is not built: run `{ROOTFS_SH.relative_to(ROOT)} build` "
                  "(about 2 minutes, 2.2 GB; cached under /var/cache/jewelmask-editors), "
                  "or set JEWELMASK_BUILD_EDITORS=1")
        built = subprocess.run([str(ROOTFS_SH), "build"], capture_output=True, text=True)
        if built.returncode != 0:
            pytest.fail("building the editors rootfs failed:\n" + (built.stdout + built.stderr)[-3000:])
        proc = subprocess.run([str(ROOTFS_SH), "path"], capture_output=True, text=True, check=True)
    return Path(proc.stdout.strip())


def _images(out: Path):
    import cv2

    from conftest import ring_scene

    rgb, _alpha = ring_scene(shape=(300, 400))
    cv2.imwrite(str(out / "ring8.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    rr, cc = np.mgrid[0:300, 0:400]
    u16 = rgb.astype(np.uint32) * 257 + ((rr + cc) % 200)[..., None]
    u16 = np.clip(u16, 0, 65535).astype(np.uint16)
    cv2.imwrite(str(out / "ring16.png"), cv2.cvtColor(u16, cv2.COLOR_RGB2BGR))
    if "big" in CASES or "cancel" in CASES:
        big = cv2.resize(rgb, BIG, interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(out / "big.png"), cv2.cvtColor(big, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_PNG_COMPRESSION, 1])


def _model(rootfs: Path):
    from jewelmask import models

    src = models.model_path("u2netp")
    if src is None:
        _skip("u2netp is not installed on the host: run `python3 install/bootstrap.py`")
    dst = rootfs / "opt" / "jewelmask-models" / Path(src).name
    if not dst.exists() or dst.stat().st_size != Path(src).stat().st_size:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def _snapshot(dest: Path) -> Path:
    """A frozen copy of what the run needs (mounted at /src): the engine the
    plug-in runs and the one check.py compares with must be the same code,
    even while the checkout is being edited."""
    for name in ("core", "krita_plugin", "install"):
        shutil.copytree(ROOT / name, dest / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(ROOT / "tests" / "krita", dest / "tests" / "krita")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def krita_run(tmp_path_factory):
    rootfs = _rootfs()
    _model(rootfs)
    src = _snapshot(tmp_path_factory.mktemp("krita-src"))
    out = rootfs / INSIDE_OUT.lstrip("/")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    _images(out)
    env = ["env", f"JM_CASES={CASES}", f"JM_TIMEOUT={os.environ.get('JM_TIMEOUT', '2400')}"]
    if (out / "big.png").exists():
        env.append(f"JM_BIG={INSIDE_OUT}/big.png")
    t = time.time()
    proc = subprocess.run([str(ROOTFS_SH), "run", *env, "bash", "/src/tests/krita/run-in-rootfs.sh", INSIDE_OUT],
                          capture_output=True, text=True, timeout=3000,
                          env=dict(os.environ, JEWELMASK_SRC=str(src)))
    wall = time.time() - t
    print(proc.stdout[-3000:], proc.stderr[-3000:])
    rep_path = out / "report.json"
    if not rep_path.exists():
        log = (out / "krita.log").read_text(errors="replace")[-4000:] if (out / "krita.log").exists() else ""
        pytest.fail(f"Krita wrote no report (outputs in {out}):\n{proc.stdout[-2000:]}\n{log}")
    rep = json.loads(rep_path.read_text())
    check = json.loads((out / "check.json").read_text()) if (out / "check.json").exists() else {"steps": {}}
    run = json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else {}
    run["wall_s"] = round(wall, 1)
    (out / "pytest-summary.json").write_text(json.dumps(run))
    return {"out": out, "report": rep, "check": check, "run": run}


def test_krita_session_ran(krita_run):
    rep = krita_run["report"]
    assert rep["status"] == "ok", rep.get("traceback") or rep
    assert krita_run["run"].get("krita_rc") == 0, krita_run["run"]
    assert rep["engine_error"] is None, rep["engine_error"]


def test_every_action_registered_and_docker_present(krita_run):
    rep = krita_run["report"]
    assert all(rep["actions"].values()), rep["actions"]
    assert set(rep["actions"]) == {"jewelmask_auto", "jewelmask_ai_remove", "jewelmask_refine_edge",
                                   "jewelmask_colour_range", "jewelmask_channel_mask",
                                   "jewelmask_path_to_mask", "jewelmask_decontaminate"}
    assert rep["docker"]


@pytest.mark.parametrize("case", ["u8", "u16", "f32", "f16", "grey", "offset", "vector"])
def test_masks_match_the_engine(krita_run, case):
    rep, check = krita_run["report"], krita_run["check"]
    if case not in rep["cases"]:
        pytest.skip(f"case {case} not run (JM_CASES={CASES})")
    info = rep["cases"][case]
    ran = 0
    for i in info["steps"]:
        st = rep["steps"][i]
        c = check["steps"].get(str(i), {})
        if not rep["available"].get(st["op"]):
            # the engine lacks it: a clear message, nothing written
            assert "not available yet" in st["status"], st["status"]
            assert st["nodes"] == st["nodes_before"], (st["nodes_before"], st["nodes"])
            continue
        assert st["history"] and st["history"]["status"] == "ok", (st["op"], st["status"])
        assert "error" not in c, c
        if "max_diff" in c:
            assert c["max_diff"] <= 1, (case, st["op"], c)
        for name, d in c.get("channels", {}).items():
            assert d != "missing" and d <= 1, (case, st["op"], name, d)
        if "new_layers" in c:  # decontaminate: a new layer above, the source left alone
            assert c["new_layers"] == 1 and c["above_source"], (case, st["op"], c)
            assert c["layer_max_diff"] <= 1.0 / 255 + 1e-6, (case, st["op"], c)
            assert c["layer_changed"] > 0.02 and c["layer_mask_is_copy"], (case, st["op"], c)
            assert st["nodes"] == st["nodes_before"], "the source layer's masks changed"
        else:
            assert not st.get("new_layers"), (case, st["op"], st.get("new_layers"))
        if st["op"] == "refine-edge" and st.get("selection"):  # the selection is its brush
            assert c["changed_outside_selection"], (case, c)
        ran += 1
    assert ran > 0
    if "unchanged" in info:
        assert info["unchanged"], "the layer's pixels changed"
        assert info["saved"]


def test_layer_offset_region(krita_run):
    rep = krita_run["report"]
    if "offset" not in rep["cases"]:
        pytest.skip("offset case not run")
    x, y, w, h = rep["cases"]["offset"]["region"]
    assert (x, y) == (0, 0) and (w, h) == (440, 330)


def test_cmyk_gets_a_clear_message(krita_run):
    rep = krita_run["report"]
    if "cmyk" not in rep:
        pytest.skip("cmyk case not run")
    assert "CMYK" in rep["cmyk"]["status"] and rep["cmyk"]["level"] == "error"
    assert not [n for n in rep["cmyk"]["nodes"] if n[1] == "transparencymask"]


@pytest.mark.parametrize("case", ["preview", "big"])
def test_preview_appears_and_goes_away(krita_run, case):
    rep = krita_run["report"]
    p = rep.get("preview_" + case)
    if p is None:
        pytest.skip(f"{case} not run")
    names = lambda nodes: [n[0] for n in nodes]  # noqa: E731
    assert "jewelmask preview" in names(p["during"])
    main_during = [n for n in p["during"] if n[0] == p["main_before"]]
    assert main_during and main_during[0][2] is False  # the layer's mask hidden while previewing
    assert "jewelmask preview" not in names(p["after_cancel"])
    assert [n for n in p["after_cancel"] if n[0] == p["main_before"]][0][2] is True
    assert "jewelmask preview" in names(p["during2"])
    assert "jewelmask preview" not in names(p["after_apply"])
    assert p["apply_history"] and p["apply_history"]["status"] == "ok"
    assert p["preview_log"], "no preview was shown"
    assert p["docker_preview_bar"]
    # and the canvas shows it: the preview, the layer's mask after Cancel, the result after Apply
    assert p["canvas_after_command_s"] is not None
    assert p["canvas_preview_s"] is not None
    assert p["canvas_after_cancel_s"] is not None
    assert p["canvas_after_apply_s"] is not None


def test_edit_undo_brings_the_old_mask_back(krita_run):
    rep = krita_run["report"]
    if "undo" not in rep:
        pytest.skip("undo case not run")
    u = rep["undo"]
    assert u["changed"], "the second command did not change the mask"
    assert u["after_2_undos_is_first"], u


def test_foreground_colour_becomes_a_sample(krita_run):
    rep = krita_run["report"]
    if "colour" not in rep:
        pytest.skip("undo case not run")
    assert rep["colour"]["samples"] == [[212, 175, 55]], rep["colour"]
    assert rep["colour"]["metal"] == "sampled"
    assert "Click the metal" in rep["colour"]["status"], rep["colour"]


def test_cancel_stops_the_command(krita_run):
    rep = krita_run["report"]
    if "cancel" not in rep:
        pytest.skip("cancel case not run")
    c = rep["cancel"]
    assert c["history"]["status"] == "cancelled", c
    assert "cancel" in c["status"].lower()
    assert c["nodes_after"] == c["nodes_before"]


def test_docker_screenshot(krita_run):
    rep = krita_run["report"]
    if "screenshot" not in rep:
        pytest.skip("screenshot not taken")
    assert rep["screenshot"]
    shot = krita_run["out"] / "krita-docker.png"
    assert shot.stat().st_size > 5000
    if os.environ.get("JM_UPDATE_SCREENSHOT"):
        shutil.copy2(shot, ROOT / "docs" / "img" / "krita-docker.png")
