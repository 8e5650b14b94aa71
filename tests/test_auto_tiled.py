"""auto's detail steps, done in tiles and only where needed, equal the same
rules applied to whole arrays (the way auto was written before tiling)."""

import cv2
import numpy as np
import pytest

from conftest import ring_scene
from jewelmask.backdrop import backdrop_difference, backdrop_plate, rgb01
from jewelmask.detail import _disk, _evidence, keep_connected, line_energy, open_gaps, plate_alpha
from jewelmask.recipes import (
    PRESETS,
    AutoSettings,
    RecipeSettings,
    _auto,
    _line_levels,
    _long,
    _roi,
    auto_stages,
    choose_preset,
)
from jewelmask.refine import refine_edge


def _auto_dense(image, ai, settings):
    """auto's rules on whole arrays, as recipes.auto_stages did before tiling.

    Returns (alpha, combined, detail, bulk, gaps_opened, box), the maps of the box.
    """
    rgb = rgb01(image)
    H, W = rgb.shape[:2]
    plate = backdrop_plate(rgb, ai, smoothness=(settings.detail or PRESETS["white-sweep"]).plate_smoothness)
    preset = settings.preset if settings.preset != "auto" else choose_preset(plate)
    cfg = settings.detail or PRESETS[preset]
    box = _roi(rgb, ai, plate)
    alpha = np.zeros((H, W), np.float32)
    r0, c0, r1, c1 = box
    diff = backdrop_difference(rgb, plate, box=box)
    a_ai = ai[r0:r1, c0:c1]
    strong, weak = _evidence(diff, k_noise=cfg.k_noise, min_delta=cfg.min_delta, keep_shadows=cfg.keep_shadows)
    pa = plate_alpha(diff, min_contrast=cfg.min_contrast, keep_shadows=cfg.keep_shadows)
    core = a_ai >= 0.5
    eff = diff.total if cfg.keep_shadows else diff.evidence
    le = line_energy(eff, length=cfg.line_length)
    step, med, strong_at, weak_at = _line_levels(le, cfg)  # measured once over the box, not tiled
    line_strong = le > strong_at
    line_weak = le > weak_at
    strong |= line_strong
    weak |= line_weak
    seeds = strong & (cv2.dilate(core.astype(np.uint8), _disk(2)) > 0)
    hint = strong & (a_ai > 0.03)
    linked = keep_connected(weak, seeds | (strong & core), min_area=80, min_extent=40)
    linked &= keep_connected(weak, seeds | hint | (strong & core))
    linked &= keep_connected(weak, strong, min_area=0, min_extent=0)
    crisp = cv2.dilate((diff.sharp > cfg.crisp_k * diff.noise).astype(np.uint8), _disk(2)) > 0
    linked &= crisp | (cv2.dilate(core.astype(np.uint8), _disk(1)) > 0)
    lmax = cv2.dilate(le, np.ones((5, 5), np.uint8))
    a_line = np.clip((le - med) / np.maximum(lmax - med, 1e-3), 0, 1) ** 2
    a_line = np.where(line_weak, a_line, 0.0)
    a_faint = a_line
    ridge = None
    chain = _long(linked & line_strong, cfg.wire_extent * max(H, W)) if cfg.wire_extent else None
    if chain is not None and chain.any():
        lt = line_energy(diff.total, length=cfg.line_length)
        med_t = float(np.median(lt[::step, ::step]))
        lmax_t = cv2.dilate(lt, np.ones((5, 5), np.uint8))
        a_t = np.clip((lt - med_t) / np.maximum(lmax_t - med_t, 1e-3), 0, 1) ** 2
        a_line = np.maximum(a_line, np.where(chain, a_t, 0.0))
        mid = (lt >= 0.9 * cv2.dilate(lt, np.ones((3, 3), np.uint8))).view(np.uint8)
        ridge = chain & (cv2.dilate(mid, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))) > 0)
    detail = np.where(linked, np.maximum(pa, a_line), 0.0).astype(np.float32)
    inner = cv2.erode(core.astype(np.uint8), _disk(2)) > 0
    band = (cv2.dilate(core.astype(np.uint8), _disk(2)) > 0) & ~inner
    bulk = np.where(inner, 1.0, np.where(band, pa, 0.0)).astype(np.float32)
    opened = open_gaps(bulk, diff, coverage=pa, k_noise=cfg.k_noise * 0.75,
                       min_area=cfg.gap_min_area, min_delta=cfg.min_delta * 0.75) if cfg.open_gaps else bulk
    out = np.maximum(opened, detail)
    if cfg.open_gaps:
        holes = opened < bulk
        wire = np.where(linked & line_strong, a_faint, 0.0)
        out[holes] = np.minimum(out[holes], np.maximum(pa[holes], wire[holes]))
    alpha[r0:r1, c0:c1] = out
    combined = alpha.copy()
    if settings.refine is not None:
        alpha = refine_edge(rgb, alpha, background=plate.rgb(), settings=settings.refine)
        if ridge is not None:
            keep = np.zeros((H, W), bool)
            keep[r0:r1, c0:c1] = ridge & (out >= 0.5)
            alpha[keep] = np.maximum(alpha[keep], 0.5)
    return alpha, combined, detail, bulk, opened, box, ridge is not None


def _scene(shape, offset):
    """A ring and a faint chain, placed at `offset` in a larger sweep, and an
    AI alpha that has the ring (softly) but only a trace of the chain."""
    img, alpha = ring_scene((600, 800), wire=1.0, seed=3)
    H, W = shape
    r, c = offset
    bg = np.asarray(img[5:6, 5:6], np.float32)
    big = np.broadcast_to(bg, (H, W, 3)).astype(np.float32)
    big += np.random.default_rng(1).normal(0, 1.2, big.shape)
    big[r:r + 600, c:c + 800] = img
    truth = np.zeros((H, W), np.float32)
    truth[r:r + 600, c:c + 800] = alpha
    ai = cv2.GaussianBlur(np.where(truth > 0.6, 1.0, 0.0).astype(np.float32), (0, 0), 1.5)
    ai = cv2.erode(ai, _disk(1))
    ai[truth > 0.05] = np.maximum(ai[truth > 0.05], 0.04)  # a trace of the chain
    # a separate piece of chain, away from the ring (in tiles without any of
    # the AI's core), that only the AI's trace vouches for
    piece = np.zeros((H, W), np.uint8)
    cv2.line(piece, (c + 560, r + 530), (c + 790, r + 560), 1, 2)
    big[piece > 0] *= 0.6
    ai[piece > 0] = np.maximum(ai[piece > 0], 0.06)
    return np.clip(big, 0, 255).astype(np.uint8), np.clip(ai, 0, 1).astype(np.float32)


@pytest.mark.parametrize("shape,offset", [((600, 800), (0, 0)), ((900, 1500), (250, 600))])
@pytest.mark.parametrize("variant", ["default", "no-refine", "keep-shadows"])
def test_auto_tiled_equals_dense(shape, offset, variant):
    image, ai = _scene(shape, offset)
    settings = {"default": RecipeSettings(),
                "no-refine": RecipeSettings(refine=None),
                "keep-shadows": RecipeSettings(refine=None, detail=AutoSettings(keep_shadows=True))}[variant]
    want, w_combined, w_detail, w_bulk, w_opened, box, chained = _auto_dense(image, ai, settings)
    got = auto_stages(image, settings=settings, ai=ai)
    assert got["box"] == box
    r0, c0, r1, c1 = box
    assert (w_combined > 0.5).sum() > 1000  # the scene has something to keep
    r, c = offset
    assert (w_combined[r + 525:r + 566, c + 560:c + 790] > 0.5).sum() > 150  # and keeps the separate piece
    assert chained or variant == "keep-shadows"  # the chain rule is exercised
    np.testing.assert_allclose(got["combined"], w_combined, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got["alpha"], want, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got["detail"][r0:r1, c0:c1], w_detail, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got["bulk"][r0:r1, c0:c1], w_bulk, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got["gaps_opened"][r0:r1, c0:c1], w_opened, rtol=0, atol=1e-5)
    # run_recipe's path makes no stage maps and gives the same mask
    lean = _auto(image, settings=settings, progress=None, ai=ai, brush=None, maps=False)
    np.testing.assert_array_equal(lean["alpha"], got["alpha"])
    assert "detail" not in lean


def test_auto_tiled_without_ai_core():
    """Only a trace of the AI (no core at all): nothing to open, and nothing breaks."""
    image, ai = _scene((600, 800), (0, 0))
    ai = np.minimum(ai, 0.2)
    settings = RecipeSettings(refine=None)
    want = _auto_dense(image, ai, settings)[0]
    got = auto_stages(image, settings=settings, ai=ai)
    np.testing.assert_allclose(got["alpha"], want, rtol=0, atol=1e-5)
