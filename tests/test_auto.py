"""The rules of the ``auto`` recipe on scenes whose answer is known by
construction (the AI pass is given, so no model is needed)."""

import cv2
import numpy as np

from jewelmask.recipes import AutoSettings, RecipeSettings, auto_stages


def silver_chain_on_grey(seed=0):
    """A pendant the AI found, and a long 1 px silver wire leaving it that
    the AI missed: a neutral darkening of a grey sweep with a soft contact
    shadow beside it, behind lens blur (what the shadow discount of the
    plate difference takes for more shadow)."""
    H, W = 400, 600
    rng = np.random.default_rng(seed)
    alpha = np.zeros((H, W), np.float32)
    cv2.circle(alpha, (300, 300), 40, 1.0, -1)
    wire = np.zeros((H * 4, W * 4), np.float32)  # drawn 4x finer, then averaged
    pts = np.array([[300 * 4, 262 * 4], [150 * 4, 120 * 4], [20 * 4, 20 * 4]], np.int32)
    cv2.polylines(wire, [pts], False, 1.0, 5)
    wire = cv2.resize(wire, (W, H), interpolation=cv2.INTER_AREA)
    alpha = np.maximum(alpha, wire)
    seen = cv2.GaussianBlur(alpha, (0, 0), 0.6)
    back = np.full((H, W, 3), 0.74, np.float32)
    shade = cv2.GaussianBlur(np.roll(wire, 2, axis=0), (0, 0), 3.0)
    back = back * (1 - 0.3 * np.clip(shade * 4, 0, 1))[..., None]
    metal = np.full(3, 0.62, np.float32)
    img = seen[..., None] * metal + (1 - seen[..., None]) * back
    img = np.clip(img + rng.normal(0, 0.004, img.shape), 0, 1).astype(np.float32)
    ai = cv2.GaussianBlur((alpha > 0.5).astype(np.float32) * (wire < 0.05), (0, 0), 2.0)
    return img, alpha, wire, ai


def test_a_long_silver_wire_the_ai_missed_comes_back():
    img, alpha, wire, ai = silver_chain_on_grey()
    middle = wire >= 0.5
    middle[:30] = False  # leave the frame's edge out
    on = auto_stages(img, ai=ai, settings=RecipeSettings(refine=None))["alpha"]
    assert (on[middle] >= 0.5).mean() > 0.6
    off = auto_stages(img, ai=ai, settings=RecipeSettings(refine=None, detail=AutoSettings(wire_extent=0)))
    assert (off["alpha"][middle] >= 0.5).mean() < 0.1  # without the chain rule it is lost
    far = cv2.dilate((alpha > 0).astype(np.uint8), np.ones((15, 15), np.uint8)) == 0
    assert (on[far] >= 0.5).mean() < 0.001  # and the sweep stays clear


def test_refine_keeps_the_middle_line_of_a_chain():
    img, alpha, wire, ai = silver_chain_on_grey()
    middle = wire >= 0.5
    middle[:30] = False
    st = auto_stages(img, ai=ai)  # refine on, the default
    kept = middle & (st["combined"] >= 0.5)
    assert kept.sum() > 100
    assert (st["alpha"][kept] >= 0.5).mean() > 0.95


def dashed_wire(seed=0):
    """A pendant the AI found and a 1 px wire leaving it across the frame that
    the AI missed, seen as dashes: three pixels darker than the sweep, two
    where its highlights match the sweep (a cable chain's links)."""
    H, W = 300, 800
    rng = np.random.default_rng(seed)
    alpha = np.zeros((H, W), np.float32)
    cv2.circle(alpha, (80, 150), 40, 1.0, -1)
    wire = np.zeros((H, W), np.float32)
    for x in range(120, 780, 5):
        wire[150, x:x + 3] = 1.0
    alpha = np.maximum(alpha, wire)
    back = np.full((H, W, 3), 0.75, np.float32)
    img = alpha[..., None] * np.float32(0.55) + (1 - alpha[..., None]) * back
    img = np.clip(img + rng.normal(0, 0.003, img.shape), 0, 1).astype(np.float32)
    ai = cv2.GaussianBlur((alpha > 0.5).astype(np.float32) * (wire < 0.5), (0, 0), 2.0)
    return img, wire, ai


def test_the_far_end_of_a_broken_wire_is_in_the_box():
    # no dash alone is large enough to count, so the box that holds the
    # jewelry must see the dashes as one line, or it stops at the pendant
    img, wire, ai = dashed_wire()
    on = auto_stages(img, ai=ai, settings=RecipeSettings(refine=None))["alpha"]
    far = wire > 0.5
    far[:, :600] = False
    assert (on[far] >= 0.5).mean() > 0.9


def test_refine_holds_a_wide_chain_across_its_width():
    # the line the chain rule holds at half after refine is the middle line
    # and the pixels beside it: all three rows of a 3 px wire, not its middle
    from jewelmask.backdrop import rgb01
    from jewelmask.recipes import PRESETS, _detail, _fit_plate, _roi, choose_preset

    H, W = 300, 700
    rng = np.random.default_rng(0)
    alpha = np.zeros((H, W), np.float32)
    cv2.circle(alpha, (70, 150), 40, 1.0, -1)
    wire = np.zeros((H, W), np.float32)
    wire[149:152, 110:690] = 1.0
    alpha = np.maximum(alpha, wire)
    img = alpha[..., None] * np.float32(0.5) + (1 - alpha[..., None]) * np.float32(0.74)
    img = cv2.GaussianBlur(np.repeat(img, 3, axis=2), (0, 0), 0.6)
    img = np.clip(img + rng.normal(0, 0.004, img.shape), 0, 1).astype(np.float32)
    ai = cv2.GaussianBlur((alpha > 0.5).astype(np.float32) * (wire < 0.5), (0, 0), 2.0)
    rgb = rgb01(img)
    plate = _fit_plate(rgb, ai, smoothness=0.035)
    box = _roi(rgb, ai, plate)
    out = np.zeros((box[2] - box[0], box[3] - box[1]), np.float32)
    held = np.zeros((H, W), bool)
    for (rows, cols), line in _detail(rgb, ai, plate, box, PRESETS[choose_preset(plate)], out):
        held[box[0] + rows.start:box[0] + rows.stop, box[1] + cols.start:box[1] + cols.stop] |= line
    for row in (149, 150, 151):
        assert held[row, 200:680].mean() > 0.95
    assert not held[146, 200:680].any() and not held[154, 200:680].any()


def test_single_highlight_pixels_on_a_wire_are_not_holes():
    """A polished gold band the AI found, with specular glints of one or two
    pixels as light as the sweep: they agree with the backdrop, but they are
    metal, not link eyes; only a place of a few pixels is reopened."""
    H, W = 200, 300
    rng = np.random.default_rng(2)
    alpha = np.zeros((H, W), np.float32)
    cv2.ellipse(alpha, (150, 100), (110, 60), 0, 0, 360, 1.0, 12)
    back = np.full((H, W, 3), 0.9, np.float32)
    gold = np.array([0.78, 0.6, 0.3], np.float32)
    img = alpha[..., None] * gold + (1 - alpha[..., None]) * back
    glints = np.zeros((H, W), bool)
    on_band = np.argwhere(cv2.erode(alpha, np.ones((7, 7), np.uint8)) > 0.99)
    for r, c in on_band[rng.choice(len(on_band), 40, replace=False)]:
        glints[r, c:c + 1 + (r % 2)] = True  # one or two pixels
    img[glints] = back[glints]
    img = np.clip(img + rng.normal(0, 0.003, img.shape), 0, 1).astype(np.float32)
    ai = cv2.GaussianBlur(alpha, (0, 0), 1.5)
    st = auto_stages(img, ai=ai, settings=RecipeSettings(refine=None))
    assert (st["alpha"][glints] >= 0.5).mean() > 0.95
    interior = np.zeros((H, W), np.uint8)
    cv2.ellipse(interior, (150, 100), (90, 40), 0, 0, 360, 1, -1)
    assert st["alpha"][interior > 0].max() < 0.5  # the band's interior is not the AI's
    opened = auto_stages(img, ai=ai, settings=RecipeSettings(refine=None, overrides={"gap_min_area": 1}))
    assert (opened["alpha"][glints] >= 0.5).mean() < 0.5  # what the former default did


def test_kept_shadows_are_not_refined_away():
    """With keep_shadows the user asked for the shadow in the mask: refine
    must not take the contact shadow beside the wire for backdrop."""
    img, alpha, wire, ai = silver_chain_on_grey()
    shadow = (cv2.GaussianBlur(np.roll(wire, 2, axis=0), (0, 0), 3.0) * 4 > 0.5) & (alpha < 0.05)
    shadow[:30] = False
    ai = np.maximum(ai, cv2.GaussianBlur(wire, (0, 0), 2.0) * 4).clip(0, 1)
    kept = auto_stages(img, ai=ai, settings=RecipeSettings(overrides={"keep_shadows": True}))
    dropped = auto_stages(img, ai=ai)
    assert kept["combined"][shadow].mean() > 0.3  # the detail step kept it
    assert kept["alpha"][shadow].mean() > 0.95 * kept["combined"][shadow].mean()
    assert dropped["alpha"][shadow].mean() < 0.5 * kept["alpha"][shadow].mean()
