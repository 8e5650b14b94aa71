"""Refine edge and decontaminate colours as the editors' commands: the engine
operations and the worker that runs them. The algorithms themselves are
tested in test_refine.py, test_decontaminate.py and test_edge.py; here, that
the commands hand them the right inputs and answer what the editors write
(the CLI and the batch: test_cli_refine.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ring_scene
from jewelmask.backdrop import backdrop_plate
from jewelmask.decontaminate import decontaminate
from jewelmask.dtypes import quantize
from jewelmask.edge import CONTRAST_RANGE, FEATHER_RANGE, SHIFT_RANGE, SMOOTH_RANGE, adjust_edge
from jewelmask.ops import EDGE_PARAMS, OPS, REFINE_PARAMS, combine_masks, layer_rgba, run_op
from jewelmask.refine import RefineSettings, refine_band, refine_edge

ROOT = Path(__file__).resolve().parents[1]
BOX = (slice(25, 85), slice(15, 50))  # over the chain, away from the ring
INNER = (slice(32, 78), slice(22, 43))  # BOX less more than the refine radius


@pytest.fixture(scope="module")
def photo():
    """(float32 RGB image, true alpha, a mask with the chain cut out of BOX)."""
    img, alpha = ring_scene((240, 320))
    mask = alpha.copy()
    mask[BOX] = 0.0
    return img.astype(np.float32) / np.float32(255), alpha, mask


def _brush(shape):
    b = np.zeros(shape, np.float32)
    b[BOX] = 1.0
    return b


# --- the operations -----------------------------------------------------------


def test_ops_are_registered_with_retoucher_ranges():
    r = OPS["refine-edge"]
    assert [p.name for p in r.params] == ["radius", "smart_radius", "max_radius", "shadow_aware",
                                          "smooth", "feather", "contrast", "shift"]
    assert r.needs == ("mask",) and r.selection_role == "brush" and r.writes == "mask"
    assert r.default_mode == "replace"
    d = OPS["decontaminate"]
    assert [p.name for p in d.params] == ["amount"] and d.defaults() == {"amount": 100.0}
    assert d.needs == ("mask",) and d.writes == "layer" and d.selection_role == "limits"
    # the defaults are the engine's, and the ranges inside what the engine accepts
    s = RefineSettings()
    assert {p.name: p.default for p in REFINE_PARAMS} == {
        "radius": s.radius, "smart_radius": s.smart_radius, "max_radius": s.max_radius,
        "shadow_aware": s.shadow_aware}
    ranges = {"smooth": SMOOTH_RANGE, "feather": FEATHER_RANGE, "contrast": CONTRAST_RANGE,
              "shift": SHIFT_RANGE}
    for p in EDGE_PARAMS:
        lo, hi = ranges[p.name]
        assert lo <= p.minimum <= p.default <= p.maximum <= hi
    assert adjust_edge(np.eye(4, dtype=np.float32), **{p.name: p.default for p in EDGE_PARAMS}).tolist() \
        == np.eye(4).tolist()
    with pytest.raises(ValueError, match="shift"):
        r.check_params({"shift": 25})
    with pytest.raises(ValueError, match="smooth"):
        r.check_params({"smooth": 101})


def test_refine_edge_needs_the_layers_mask(photo):
    image, _, _ = photo
    for name in ("refine-edge", "decontaminate"):
        with pytest.raises(ValueError, match="existing mask.*masking command"):
            run_op(name, image)


def test_refine_edge_changes_only_the_band(photo):
    image, alpha, _ = photo
    # a mask one pixel too fat: refine must pull the edge in, and touch nothing else
    fat = cv2.dilate(alpha, np.ones((3, 3), np.uint8))
    res = run_op("refine-edge", image, mask=fat)
    band = refine_band(fat)
    assert res.mask.dtype == np.float32 and res.channels == {}
    np.testing.assert_array_equal(res.mask[~band], fat[~band])
    assert np.abs(res.mask - fat)[band].max() > 0.3
    assert np.abs(res.mask - alpha).sum() < 0.7 * np.abs(fat - alpha).sum()
    # it is the engine's refine_edge with the backdrop plate as its cue
    want = refine_edge(image, fat, background=backdrop_plate(image, fat).rgb())
    np.testing.assert_array_equal(res.mask, want)
    assert res.info["changed_pixels"] == int(np.count_nonzero(want != fat))


def test_refine_brush_brings_back_a_missed_chain(photo):
    image, alpha, mask = photo
    chain = alpha[INNER] > 0.8
    assert chain.sum() > 20
    plain = run_op("refine-edge", image, mask=mask).mask
    brushed = run_op("refine-edge", image, mask=mask, selection=_brush(mask.shape)).mask
    assert plain[INNER].max() == 0.0  # far from any edge: not refined without the brush
    assert brushed[INNER][chain].mean() > 0.8  # the chain is back under the brush
    assert brushed[INNER][alpha[INNER] < 0.02].max() < 0.1  # and the backdrop stays backdrop
    outside = np.ones(mask.shape, bool)
    outside[BOX] = False
    outside &= ~cv2.dilate(_brush(mask.shape), np.ones((9, 9), np.uint8)).astype(bool)
    # the brush adds to the band and limits nothing: the edge elsewhere is refined as without
    # it (up to the colour model, which the brushed pixels inform)
    assert np.abs(plain - mask)[outside].max() > 0.1
    np.testing.assert_allclose(brushed[outside], plain[outside], atol=0.05)


def test_refine_edge_applies_the_edge_controls_after(photo):
    image, alpha, _ = photo
    params = {"radius": 3.0, "smooth": 10, "feather": 0.5, "contrast": 20.0, "shift": -0.5}
    got = run_op("refine-edge", image, mask=alpha, params=params).mask
    refined = run_op("refine-edge", image, mask=alpha, params={"radius": 3.0}).mask
    want = adjust_edge(refined, smooth=10, feather=0.5, contrast=20.0, shift=-0.5)
    np.testing.assert_array_equal(got, want)
    assert alpha.sum() > got.sum()  # shifted in
    # a max radius below the radius is the radius (Photoshop has one slider)
    a = run_op("refine-edge", image, mask=alpha, params={"radius": 4.0, "max_radius": 1.0,
                                                        "smart_radius": True}).mask
    b = run_op("refine-edge", image, mask=alpha, params={"radius": 4.0, "max_radius": 4.0,
                                                        "smart_radius": True}).mask
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("channels", [3, 4])
def test_decontaminate_makes_a_layer_and_leaves_the_input(photo, channels):
    image, alpha, _ = photo
    if channels == 4:
        image = np.dstack([image, np.linspace(0.5, 1.0, image.shape[1], dtype=np.float32)[None, :]
                           .repeat(image.shape[0], 0)])
    before, mask_before = image.copy(), alpha.copy()
    res = run_op("decontaminate", image, mask=alpha)
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(alpha, mask_before)
    assert res.mask is None and res.channels == {}
    layer = res.layer
    assert layer.shape == image.shape[:2] + (4,) and layer.dtype == np.float32
    want_alpha = image[..., 3] if channels == 4 else np.ones(alpha.shape, np.float32)
    np.testing.assert_array_equal(layer[..., 3], want_alpha)  # the layer's own alpha; the mask stays a mask
    hard = (alpha == 0) | (alpha == 1)
    np.testing.assert_array_equal(layer[..., :3][hard], image[..., :3][hard])
    soft = ~hard
    assert np.abs(layer[..., :3] - image[..., :3])[soft].max() > 0.05
    want = decontaminate(image, alpha, background=backdrop_plate(image[..., :3], alpha).rgb())
    np.testing.assert_array_equal(layer[..., :3], want)
    none = run_op("decontaminate", image, mask=alpha, params={"amount": 0}).layer
    np.testing.assert_array_equal(none[..., :3], image[..., :3])


def test_layer_rgba_is_limited_by_the_selection():
    image = np.full((2, 3, 3), 0.25, np.float32)
    layer = np.full((2, 3, 3), 0.75, np.float32)
    sel = np.array([[1.0, 0.5, 0.0], [0.0, 0.0, 0.0]], np.float32)
    out = layer_rgba(image, layer, selection=sel)
    assert out.shape == (2, 3, 4)
    np.testing.assert_allclose(out[0, :, 0], [0.75, 0.5, 0.25])
    np.testing.assert_array_equal(out[..., 3], 1.0)
    with pytest.raises(ValueError, match="layer must be"):
        layer_rgba(image, layer[:1])


# --- through the worker, as the editors run them ----------------------------------


def _bridge():
    spec = importlib.util.spec_from_file_location("bridge_client", ROOT / "core" / "jewelmask" / "bridge_client.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_worker_runs_them_as_the_editors_need(photo, tmp_path):
    """refine-edge takes the selection as its brush (the mask is not limited to
    it); decontaminate's layer is limited to the selection; describe says so."""
    from jewelmask.worker import describe_ops

    bc = _bridge()
    image, alpha, mask = photo
    u8 = quantize(image, np.uint8)
    img = bc.RawImage(u8.tobytes(), 320, 240, 3, "u8")
    m8 = quantize(mask, np.uint8)
    old = bc.RawImage(m8.tobytes(), 320, 240, 1, "u8")
    sel = np.zeros(mask.shape, np.uint8)
    sel[BOX] = 255
    sel_raw = bc.RawImage(sel.tobytes(), 320, 240, 1, "u8")
    eng = bc.Engine([sys.executable], persistent=False, tmpdir=str(tmp_path))
    f_img, f_old, f_sel = u8 / np.float32(255), m8 / np.float32(255), sel / np.float32(255)

    res = eng.run("refine-edge", img, old_mask=old, selection=sel_raw, mask_dtype="f32")
    got = np.frombuffer(res.mask.data, "<f4").reshape(240, 320)
    want = run_op("refine-edge", f_img, mask=f_old, selection=f_sel).mask
    np.testing.assert_array_equal(got, combine_masks(f_old, want, "replace"))
    assert np.abs(got - f_old)[sel == 0].max() > 0.1  # refined outside the brush as well

    res = eng.run("decontaminate", img, old_mask=old, selection=sel_raw)
    assert res.mask is None and res.channels == {}
    layer = np.frombuffer(res.layer.data, "<f4").reshape(240, 320, 4)
    want = run_op("decontaminate", f_img, mask=f_old).layer
    np.testing.assert_array_equal(layer[sel > 0], want[sel > 0])
    np.testing.assert_array_equal(layer[sel == 0][:, :3], f_img[sel == 0])  # the photo's own pixels

    with pytest.raises(bc.EngineFailed, match="existing mask"):
        eng.run("refine-edge", img)
    described = {o["name"]: o for o in describe_ops()["ops"]}
    assert described["refine-edge"]["selection_role"] == "brush"
    assert described["decontaminate"]["writes"] == "layer"
    assert described["auto"]["writes"] == "mask" and described["auto"]["selection_role"] == "limits"
