"""The GIMP 3 plug-in, run inside the real GIMP 3.0 (Debian 13 rootfs, headless).

One GIMP run (tests/editors/gimp/run-gimp-tests.sh + driver.py) installs the
engine and the plug-in with install/install-gimp, calls every
plug-in-jewelmask-* procedure on 8-bit, 16-bit and float images and on the
awkward cases (existing masks, selections, offset layers, several layers,
grey, indexed, no engine), and dumps what it saw. The tests here compare that
with the engine run in this process on the same pixels.

Needs root and the editors rootfs (``tests/editors/rootfs.sh build``). On a
developer machine without it the tests skip and say how to build it; with
``CI=true`` (or ``JEWELMASK_BUILD_EDITORS=1``) the rootfs is built when
missing and a test that cannot run fails instead of skipping.

On a mismatch the images compared are written as PNGs into the run's folder
(printed in the failure). ``JEWELMASK_GIMP_RUN=FOLDER`` checks an earlier
run's folder again without starting GIMP.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jewelmask.ops import OPS, combine_masks, layer_rgba, paths_from_editor, run_op

pytestmark = pytest.mark.editor

HERE = Path(__file__).resolve().parent
ROOTFS_SH = HERE / "editors" / "rootfs.sh"
sys.path.insert(0, str(HERE / "editors" / "gimp"))
sys.path.insert(0, str(HERE / "editors" / "fake_ops"))
import gimp_inputs as inputs  # noqa: E402
import jewelmask_test_ops  # noqa: E402  (registered in the GIMP run's engine only)

PREFIX = "plug-in-jewelmask-"
TOL = 1.0 / 255 + 1e-6
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BUILD = IN_CI or os.environ.get("JEWELMASK_BUILD_EDITORS") == "1"
DTYPES = {"u8": np.uint8, "u16": np.uint16, "f32": np.float32}
SCALE = {"u8": 255.0, "u16": 65535.0, "f32": 1.0}


def _cannot_run(msg):
    if IN_CI:
        pytest.fail("editor test cannot run in CI: " + msg)
    pytest.skip(msg)


class GimpRun:
    def __init__(self, out: Path, report: dict, seconds: float):
        self.out, self.report, self.seconds = out, report, seconds

    def cases(self, kind, op=None, **match):
        found = [c for c in self.report["cases"] if c["kind"] == kind and (op is None or c["op"] == op)
                 and all(c.get(k) == v for k, v in match.items())]
        assert found, f"the GIMP run has no {kind} case for {op} {match}; failures: {self.report['failures']}"
        return found

    def array(self, desc) -> np.ndarray:
        a = np.fromfile(self.out / desc["file"], dtype=DTYPES[desc["dtype"]])
        return a.reshape(desc["height"], desc["width"], desc["channels"])

    def plane(self, desc) -> np.ndarray | None:
        if not desc:
            return None
        return self.array(desc)[..., 0].astype(np.float32) / np.float32(SCALE[desc["dtype"]])


@pytest.fixture(scope="module")
def gimp(tmp_path_factory) -> GimpRun:
    reuse = os.environ.get("JEWELMASK_GIMP_RUN")  # check an earlier run's folder again
    if reuse:
        run = GimpRun(Path(reuse), json.loads((Path(reuse) / "report.json").read_text()), 0.0)
        gui = Path(reuse) / "gui-report.json"
        run.gui = json.loads(gui.read_text()) if gui.exists() else None
        return run
    if os.geteuid() != 0:
        _cannot_run("the GIMP tests chroot into the editors rootfs and need root")
    if subprocess.run([str(ROOTFS_SH), "path"], capture_output=True).returncode != 0:
        if not BUILD:
            _cannot_run("the editors rootfs (Debian 13 with GIMP 3) is not built: run "
                        f"`sudo {ROOTFS_SH.relative_to(HERE.parent)} build` once (about 3 minutes, "
                        "1.4 GB, cached in /var/cache/jewelmask-editors), or set JEWELMASK_BUILD_EDITORS=1")
        proc = subprocess.run([str(ROOTFS_SH), "build"], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail("building the editors rootfs failed:\n" + (proc.stdout + proc.stderr)[-3000:])
    rootfs = Path(subprocess.run([str(ROOTFS_SH), "path"], capture_output=True, text=True,
                                 check=True).stdout.strip())
    # The u2netp weights: reuse this machine's copy rather than download them again.
    from jewelmask.models import model_path

    have = model_path("u2netp")
    target = rootfs / "root" / ".u2net" / "u2netp.onnx"
    if have is not None and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(have, target)
    out = tmp_path_factory.mktemp("gimp-run")
    inputs.write_inputs(out / "in")
    try:  # JPEG and TIFF files with Photoshop paths, when the engine can write them
        from jewelmask.paths.demo import write_demo_files
    except ImportError:
        pass
    else:
        write_demo_files(out / "in")
    env = dict(os.environ, JEWELMASK_OUT=str(out))
    t = time.time()
    proc = subprocess.run([str(ROOTFS_SH), "run", "/src/tests/editors/gimp/run-gimp-tests.sh"],
                          env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.time() - t
    (out / "run.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0 or not (out / "report.json").exists():
        pytest.fail(f"the GIMP run failed (exit {proc.returncode}); logs in {out}:\n"
                    + (proc.stdout + proc.stderr)[-3000:])
    run = GimpRun(out, json.loads((out / "report.json").read_text()), seconds)
    gui = out / "gui-report.json"
    run.gui = json.loads(gui.read_text()) if gui.exists() else None
    return run


# --- the engine on the same pixels --------------------------------------------


def engine_image(raw: np.ndarray) -> np.ndarray:
    """Editor samples as the engine takes them: float32, grey replicated to RGB."""
    f = raw.astype(np.float32)
    if raw.dtype != np.float32:
        f /= np.float32(np.iinfo(raw.dtype).max)
    if f.shape[2] == 1:
        f = np.repeat(f, 3, axis=2)
    elif f.shape[2] == 2:
        f = np.concatenate([np.repeat(f[..., :1], 3, axis=2), f[..., 1:]], axis=2)
    return f


def expected_mask(run: GimpRun, case: dict, layer: dict):
    """The engine's answer on the pixels GIMP sent: (mask as the layer should
    have it, the OpResult with its layer as GIMP should write it)."""
    image = engine_image(run.array(layer["input"]))
    old, sel = run.plane(layer.get("old_mask")), run.plane(layer.get("selection"))
    paths = None
    if case.get("paths"):
        dx, dy = layer["offset"]
        paths = [p.transformed([[1, 0, -dx], [0, 1, -dy]]) for p in paths_from_editor(case["paths"])]
    if case["op"] == jewelmask_test_ops.NAME:
        res = jewelmask_test_ops.new_layer(image, mask=old, selection=sel, paths=paths)
        limit = sel
    else:
        res = run_op(case["op"], image, mask=old, selection=sel, paths=paths, params=case["params"])
        limit = sel if OPS[case["op"]].selection_role == "limits" else None  # refine-edge: a brush
    if res.layer is not None:
        res.layer = layer_rgba(image, res.layer, selection=limit)
    if res.mask is None:
        return old, res
    return combine_masks(old, res.mask, case["mode"], selection=limit), res


def assert_mask_matches(run: GimpRun, case: dict, layer: dict, label: str):
    assert case["status"] == "SUCCESS", f"{label}: {case['status']}: {case['message']}"
    assert layer["pixels_unchanged"], f"{label}: the layer's pixels changed"
    if layer.get("selection"):
        np.testing.assert_array_equal(run.array(layer["selection_after"]), run.array(layer["selection"]),
                                      err_msg=f"{label}: the selection changed")
    want, res = expected_mask(run, case, layer)
    if res.layer is not None:
        check_new_layer(run, case, layer, res, label)
    else:
        assert not case.get("new_layer_pixels"), f"{label}: a layer appeared"
    if want is None:  # the command makes no mask and the layer had none
        assert not layer.get("mask"), f"{label}: a mask appeared"
        return None, None, res
    assert layer.get("mask"), f"{label}: no layer mask"
    got = run.plane(layer["mask"])
    assert got.shape == want.shape, f"{label}: mask {got.shape}, engine {want.shape}"
    diff = float(np.abs(got - want).max())
    if diff > TOL:
        from PIL import Image

        folder = run.out / "failures"
        folder.mkdir(exist_ok=True)
        stem = label.replace(" ", "_").replace("/", "-")
        for name, a in (("gimp", got), ("engine", want), ("diff", np.abs(got - want) / max(diff, 1e-6))):
            Image.fromarray(np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8)).save(folder / f"{stem}-{name}.png")
        pytest.fail(f"{label}: GIMP's mask differs from the engine's by up to {diff:.4f} "
                    f"(> 1/255); images in {folder}")
    return got, want, res


def check_new_layer(run: GimpRun, case: dict, layer: dict, res, label: str):
    """A command that makes a layer puts it right above the source, same place,
    with a copy of the source's mask."""
    new = [n for n in case.get("new_layer_pixels", []) if n["offset"] == layer["offset"]]
    assert len(new) == 1, f"{label}: expected one new layer at {layer['offset']}, got {new}"
    got = run.array(new[0]["pixels"])
    want = np.asarray(res.layer, np.float32)  # RGBA, limited to the selection (expected_mask)
    if not case["precision"].startswith("float"):
        want = np.clip(want, 0, 1)
    assert got.shape == want.shape
    assert float(np.abs(got - want).max()) <= TOL, f"{label}: the new layer differs from the engine's"
    assert new[0]["has_mask"] == bool(layer.get("mask"))
    if layer.get("mask"):
        np.testing.assert_array_equal(run.array(new[0]["mask"]), run.array(layer["mask"]))
    if "position" in new[0] and len(case["layers"]) == 1:
        assert new[0]["position"] == case["source_position"][0] - 1, f"{label}: not right above"


# --- the tests ----------------------------------------------------------------


def test_gimp_python_has_no_numpy(gimp):
    assert gimp.report["numpy_in_gimp"] is False
    assert gimp.report["failures"] == [], gimp.report["failures"]


def test_every_engine_op_is_a_procedure(gimp):
    procs = set(gimp.report["procedures"])
    assert procs == {PREFIX + n for n in OPS} | {PREFIX + "engine-status", PREFIX + jewelmask_test_ops.NAME}
    for name, op in OPS.items():
        paths = gimp.report["menu_paths"][PREFIX + name]
        assert "<Image>/Layer/Mask/Jewelry Mask" in paths and any(p.startswith("<Layers>") for p in paths)
        args = gimp.report["arguments"][PREFIX + name]
        for p in op.params:
            assert p.name.replace("_", "-") in args, f"{name}: no argument for {p.name}"
        assert ("mode" in args) == (op.writes == "mask"), name  # a new layer has no mode


@pytest.mark.parametrize("dtype", ["u8", "u16", "f32"])
@pytest.mark.parametrize("op", sorted(OPS) + [jewelmask_test_ops.NAME])
def test_command_matches_engine(gimp, op, dtype):
    """Every procedure, non-interactively, on 8-bit, 16-bit and float images:
    the mask equals the engine's on the same pixels, the layer is untouched,
    each method's result is kept as a named channel, and the pixels GIMP gave
    are those of the file."""
    (case,) = gimp.cases("basic", op, dtype=dtype)
    layer = case["layers"][0]
    _, _, res = assert_mask_matches(gimp, case, layer, f"{op} {dtype}")
    assert case["new_layers"] == (0 if res.layer is None else 1)
    for name in res.channels:
        assert name in case["channels"], f"no channel {name!r}; the image has {case['channels']}"
    raw = gimp.array(layer["input"])
    if dtype == "u8":
        from PIL import Image

        np.testing.assert_array_equal(raw, np.asarray(Image.open(gimp.out / "in" / "ring.png")))
    elif dtype == "u16":
        np.testing.assert_array_equal(raw, inputs.read_png16(gimp.out / "in" / "ring16.png"))
    else:
        src = inputs.read_png16(gimp.out / "in" / "ring16.png").astype(np.float32) / 65535
        assert float(np.abs(raw - src).max()) < 1e-6


@pytest.mark.parametrize("mode", ["replace", "add", "subtract", "intersect"])
def test_existing_mask_is_combined_by_mode(gimp, mode):
    (case,) = gimp.cases("combine", mode=mode)
    layer = case["layers"][0]
    old = gimp.plane(layer["old_mask"])
    assert old[:, 0].max() == 0 and old[:, -1].min() == 1, "the test mask is not the left-right ramp"
    assert_mask_matches(gimp, case, layer, f"combine {mode}")


def test_selection_limits_the_command(gimp):
    (case,) = gimp.cases("selection")
    layer = case["layers"][0]
    got, _, _ = assert_mask_matches(gimp, case, layer, "selection")
    x, y, w, h = inputs.SELECTION
    outside = np.ones(got.shape, bool)
    outside[y:y + h, x:x + w] = False
    old = gimp.plane(layer["old_mask"])
    assert float(np.abs(got - old)[outside].max()) <= TOL, "the mask changed outside the selection"


def _selection_in_layer(shape, offset):
    """The test's selection rectangle, in the coordinates of a layer at `offset`."""
    x, y, w, h = inputs.SELECTION
    sel = np.zeros(shape, np.float32)
    r0, c0 = max(y - offset[1], 0), max(x - offset[0], 0)
    r1, c1 = min(y + h - offset[1], shape[0]), min(x + w - offset[0], shape[1])
    if r1 > r0 and c1 > c0:
        sel[r0:r1, c0:c1] = 1
    return sel


def test_offset_layer_partly_off_canvas(gimp):
    (case,) = gimp.cases("offset")
    (layer,) = case["layers"]
    pw, ph, px, py = inputs.PATCH
    assert layer["offset"] == [px, py]
    sel = gimp.plane(layer["selection"])
    assert sel.shape == (ph, pw)
    np.testing.assert_array_equal(sel, _selection_in_layer((ph, pw), (px, py)))
    got, _, _ = assert_mask_matches(gimp, case, layer, "offset layer")
    assert got.shape == (ph, pw)
    patch = np.fromfile(gimp.out / "in" / "patch.raw", np.uint8).reshape(ph, pw, 4)
    np.testing.assert_array_equal(gimp.array(layer["input"]), patch)


def test_several_selected_layers_each_get_a_mask(gimp):
    (case,) = gimp.cases("several")
    assert len(case["layers"]) == 2
    for layer in case["layers"]:
        _, _, res = assert_mask_matches(gimp, case, layer, f"several {layer['name']}")
        sel = gimp.plane(layer["selection"])
        np.testing.assert_array_equal(sel, _selection_in_layer(sel.shape, layer["offset"]))
        for name in res.channels:  # one channel per layer and method
            assert f"{name} ({layer['name']})" in case["channels"], case["channels"]


@pytest.mark.parametrize("kind", ["grey", "rgba", "linear-float"])
def test_other_colour_models(gimp, kind):
    (case,) = gimp.cases(kind)
    layer = case["layers"][0]
    channels = {"grey": 1, "rgba": 4, "linear-float": 3}[kind]
    assert layer["input"]["channels"] == channels
    assert_mask_matches(gimp, case, layer, kind)


@pytest.mark.parametrize("dtype", ["u8", "f32"])
@pytest.mark.parametrize("op", sorted(n for n, o in OPS.items() if "mask" in o.needs))
def test_commands_on_the_existing_mask(gimp, op, dtype):
    """A masking command first, then refine-edge or decontaminate under a selection:
    refine-edge writes the layer mask by its mode with the selection as its brush
    (so the mask changes outside it too); decontaminate writes a new layer above,
    the photo's own pixels outside the selection, and leaves the layer and its
    mask as they were."""
    (case,) = gimp.cases("on-mask", op, dtype=dtype)
    assert case["first"] == "SUCCESS", case
    layer = case["layers"][0]
    assert layer["old_mask"] and layer["selection"]
    got, want, res = assert_mask_matches(gimp, case, layer, f"{op} on a mask {dtype}")
    old, sel = gimp.plane(layer["old_mask"]), gimp.plane(layer["selection"])
    if OPS[op].writes == "layer":
        assert case["new_layers"] == 1 and case["new_channels"] == 0
        assert float(np.abs(got - old).max()) == 0.0, "the layer's mask changed"
        (new,) = case["new_layer_pixels"]
        pixels, image = gimp.array(new["pixels"]), engine_image(gimp.array(layer["input"]))
        outside = sel == 0
        assert float(np.abs(pixels[..., :3] - image[..., :3])[outside].max()) <= TOL
        assert float(np.abs(pixels[..., :3] - image[..., :3])[~outside].max()) > 0.02
    else:
        assert case["new_layers"] == 0
        assert float(np.abs(got - old)[sel == 0].max()) > 0.1, "refined only inside the selection"


def test_saved_xcf_keeps_the_mask(gimp):
    for dtype, saved in gimp.report["saved"].items():
        assert saved["saved"] and saved["reloaded_mask"], dtype
        np.testing.assert_array_equal(gimp.array(saved["reloaded_mask"]), gimp.array(saved["mask"]))


def test_indexed_image_gets_a_clear_message(gimp):
    (case,) = gimp.cases("indexed")
    assert case["status"] != "SUCCESS"
    assert "indexed" in case["message"] and "Image > Mode > RGB" in case["message"]
    assert not case["layers"][0].get("mask")


@pytest.mark.parametrize("kind", ["no-engine", "broken-engine"])
def test_missing_engine_says_what_to_run(gimp, kind):
    (case,) = gimp.cases(kind)
    assert case["status"] == "EXECUTION-ERROR"
    assert "install-gimp" in case["message"], case["message"]
    assert not case["layers"][0].get("mask")


def test_a_channel_is_refused_with_a_message(gimp):
    (case,) = gimp.cases("channel-drawable")
    assert case["status"] != "SUCCESS" and "select one or more layers" in case["message"]


@pytest.mark.parametrize("start", ["existing-mask", "new-mask"])
def test_one_undo_takes_the_command_back(gimp, start):
    """In the full GIMP (Xvfb): one Ctrl+Z restores the mask (or removes the one
    the command added) and the named channel; Ctrl+Y redoes it. GIMP has no undo
    procedure in the PDB, so this needs the user interface."""
    assert gimp.gui is not None, "the GIMP user-interface run left no gui-report.json"
    assert gimp.gui["failures"] == [], gimp.gui["failures"]
    r = gimp.gui["undo"][start]
    assert "SUCCESS" in r["status"] and r["window"], r
    assert r["had_mask"] == (start == "existing-mask")
    assert r["changed"] and r["channels_added"] >= 1
    assert r["undo_restored_mask"] and r["undo_channels"] == 0, "Ctrl+Z did not take it all back"
    assert r["redo_mask"] and r["redo_channels"] == r["channels_added"]


def test_one_undo_takes_a_new_layer_back(gimp):
    """Decontaminate's new layer is one undo step as well (full GIMP, Xvfb)."""
    if not any(op.writes == "layer" for op in OPS.values()):
        pytest.skip("the engine has no command that makes a layer")
    assert gimp.gui is not None, "the GIMP user-interface run left no gui-report.json"
    r = gimp.gui["undo"]["new-layer"]
    assert "SUCCESS" in r["status"] and r["window"], r
    assert r["layers_added"] == 1 and r["undo_layers"] == 0 and r["undo_mask_kept"], r
    assert r["redo_layers"] == 1, r


@pytest.mark.parametrize("which", ["as-loaded", "all"])
@pytest.mark.parametrize("name", ["paths-demo.jpg", "paths-demo.tif"])
def test_photoshop_paths_from_jpeg_and_tiff(gimp, name, which):
    """GIMP imports the Photoshop paths of a JPEG or TIFF; path-to-mask fills the
    selected ones (GIMP selects one on loading; then all of them)."""
    try:
        from jewelmask.paths import demo
    except ImportError:
        _cannot_run("the engine cannot write files with Photoshop paths (jewelmask.paths.demo)")
    found = [c for c in gimp.report["cases"] if c["kind"] == "photoshop-paths"
             and c["file"] == name and c["which"] == which]
    if not found and not any("paths" in op.needs for op in OPS):
        _cannot_run("the engine has no command that takes paths")
    (case,) = found
    imported = sorted(paths_from_editor(case["imported"]), key=lambda p: p.name)  # GIMP stacks them
    want = sorted(demo.demo_paths(), key=lambda p: p.name)
    assert [p.name for p in imported] == [p.name for p in want]
    for got_p, want_p in zip(imported, want):
        assert len(got_p) == len(want_p)
        for gs, ws in zip(got_p, want_p):
            # Photoshop stores fixed-point fractions of the image size
            assert float(np.abs(gs.nodes - ws.nodes).max()) < 0.05, got_p.name
    assert len(case["paths"]) == (2 if which == "all" else 1)
    got, _, _ = assert_mask_matches(gimp, case, case["layers"][0], f"photoshop paths {name} {which}")
    assert got.max() == 1.0 and got.min() == 0.0
