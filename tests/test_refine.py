"""Refine edge (jewelmask.refine) on small scenes built here with exact coverage."""

import cv2
import numpy as np
import pytest

from jewelmask import refine
from jewelmask.refine import RefineSettings, refine_band, refine_edge

GOLD = np.array([0.78, 0.58, 0.22], np.float32)


def _sweep(shape):
    r, c = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    v = 0.93 - 0.06 * r / shape[0] - 0.02 * c / shape[1]
    return np.stack([v, v * 0.99, v * 0.97], axis=-1).astype(np.float32)


def _coverage(shape, shapes, ss=8):
    """Exact-ish coverage of union of shapes, supersampled ss x ss per pixel.

    `shapes` are callables (rows, cols) -> bool on continuous positions.
    """
    H, W = shape
    o = (np.arange(ss, dtype=np.float32) + 0.5) / ss
    r = (np.arange(H, dtype=np.float32)[:, None] + o[None, :]).ravel()
    c = (np.arange(W, dtype=np.float32)[:, None] + o[None, :]).ravel()
    R, C = np.meshgrid(r, c, indexing="ij")
    inside = np.zeros(R.shape, bool)
    for f in shapes:
        inside |= f(R, C)
    return inside.reshape(H, ss, W, ss).mean(axis=(1, 3)).astype(np.float32)


def scene(shape=(96, 128), noise=0.003, seed=0):
    """A gold disc, a 1 px horizontal wire at row 20, and a 1 px vertical
    wire straddling columns 100 and 101 (each half covered), on a sweep.

    Returns (image float32, alpha float32, background float32).
    """
    H, W = shape
    disc = lambda R, C: (R - 60) ** 2 + (C - 45) ** 2 <= 22.0 ** 2  # noqa: E731
    hwire = lambda R, C: (R >= 20) & (R < 21) & (C >= 8) & (C < 90)  # noqa: E731
    vwire = lambda R, C: (C >= 100.5) & (C < 101.5) & (R >= 8) & (R < 88)  # noqa: E731
    alpha = _coverage(shape, [disc, hwire, vwire])
    B = _sweep(shape)
    rng = np.random.default_rng(seed)
    img = alpha[..., None] * GOLD + (1 - alpha[..., None]) * B
    img = np.clip(img + rng.normal(0, noise, img.shape), 0, 1).astype(np.float32)
    return img, alpha, B


@pytest.fixture(scope="module")
def sc():
    return scene()


def test_output_is_float32_and_in_range(sc):
    img, alpha, _ = sc
    out = refine_edge(img, alpha)
    assert out.dtype == np.float32 and out.shape == alpha.shape
    assert out.min() >= 0 and out.max() <= 1


def test_one_pixel_wire_is_neither_erased_nor_fattened(sc):
    img, alpha, _ = sc
    soft = np.clip(alpha + 0.0, 0, 1)
    soft[19:22, 8:90] = [[0.2], [0.6], [0.2]]  # the mask is unsure about the wire
    out = refine_edge(img, soft)
    wire = out[20, 12:86]
    above, below = out[19, 12:86], out[21, 12:86]
    assert np.median(wire) > 0.85
    assert np.median(above) < 0.1 and np.median(below) < 0.1
    assert abs(out[18:23, 12:86].sum(axis=0).mean() - 1.0) < 0.15  # one pixel of coverage


def test_half_covered_pixels_come_out_near_half(sc):
    img, alpha, _ = sc
    assert np.allclose(alpha[12:84, 100:102], 0.5)
    guess = alpha.copy()
    guess[8:88, 99:103] = [0.1, 0.8, 0.8, 0.1]  # a fattened, wrong guess
    out = refine_edge(img, guess)
    half = out[12:84, 100:102]
    assert abs(np.median(half) - 0.5) < 0.12
    assert np.median(out[12:84, 99]) < 0.1 and np.median(out[12:84, 102]) < 0.1


def test_hard_mask_gets_fractional_edges(sc):
    img, alpha, _ = sc
    hard = (alpha >= 0.5).astype(np.float32)
    out = refine_edge(img, hard)
    edge = (alpha > 0.1) & (alpha < 0.9)
    edge[:, 95:] = False  # the half-covered wire is gone from a hard mask
    err_before = np.abs(hard - alpha)[edge].mean()
    err_after = np.abs(out - alpha)[edge].mean()
    assert err_after < 0.6 * err_before


def test_pixels_outside_the_band_do_not_change(sc):
    img, alpha, _ = sc
    rng = np.random.default_rng(3)
    guess = np.clip(alpha + rng.normal(0, 0.2, alpha.shape) * (alpha > 0) * (alpha < 1), 0, 1)
    guess = guess.astype(np.float32)
    for settings in (RefineSettings(), RefineSettings(smart_radius=True), RefineSettings(radius=0)):
        band = refine_band(guess, settings=settings)
        out = refine_edge(img, guess, settings=settings)
        np.testing.assert_array_equal(out[~band], guess[~band])
        assert band.sum() < 0.5 * band.size


def test_band_follows_radius_and_smart_radius(sc):
    _, alpha, _ = sc
    hard = (alpha >= 0.5).astype(np.float32)
    b0 = refine_band(hard, settings=RefineSettings(radius=0))
    b2 = refine_band(hard, settings=RefineSettings(radius=2))
    b4 = refine_band(hard, settings=RefineSettings(radius=4))
    assert b0.sum() == 0  # a hard mask has no unsure pixel
    assert b2.sum() < b4.sum() and np.all(b4[b2])
    # smart radius widens where the edge is soft, not on the hard edge
    soft = hard.copy()
    soft[:, 64:] = alpha[:, 64:]  # right half keeps its soft wire
    import cv2

    soft[:, 64:] = cv2.GaussianBlur(soft, (0, 0), 2.0)[:, 64:]
    plain = refine_band(soft, settings=RefineSettings())
    smart = refine_band(soft, settings=RefineSettings(smart_radius=True, max_radius=8))
    assert np.all(smart[plain])
    grown = smart & ~plain
    assert grown[:, 70:].sum() > 5 * max(1, grown[:, :58].sum())


def test_brush_widens_the_band_and_brings_back_a_missed_wire(sc):
    img, alpha, _ = sc
    missed = alpha.copy()
    missed[:, 96:106] = 0.0  # the AI lost the vertical wire entirely
    plain = refine_edge(img, missed)
    assert plain[12:84, 100:102].max() == 0.0  # nothing to refine there
    brush = np.zeros_like(alpha)
    brush[4:92, 94:108] = 1.0
    b0 = refine_band(missed)
    b1 = refine_band(missed, brush=brush)
    assert np.all(b1[b0]) and b1.sum() > b0.sum()
    out = refine_edge(img, missed, brush=brush)
    wire = out[12:84, 100:102]
    assert abs(np.median(wire) - 0.5) < 0.15
    assert np.median(out[12:84, 97]) < 0.1


def test_background_plate_is_used(sc):
    img, alpha, B = sc
    guess = alpha.copy()
    guess[8:88, 99:103] = [0.1, 0.8, 0.8, 0.1]
    out = refine_edge(img, guess, background=B)
    assert abs(np.median(out[12:84, 100:102]) - 0.5) < 0.1


def test_contact_shadow_is_not_metal():
    img, alpha, B = scene(noise=0.002)
    r, c = np.mgrid[0:96, 0:128].astype(np.float32)
    d = np.hypot(r - 64, c - 48)  # a soft shadow offset below the disc
    shade = 1 - 0.3 * np.clip((26 - d) / 8, 0, 1)
    Bs = B * shade[..., None]
    shot = alpha[..., None] * GOLD + (1 - alpha[..., None]) * Bs
    guess = np.clip(alpha + 0.35 * ((shade < 0.99) & (alpha < 0.02)), 0, 1).astype(np.float32)
    out = refine_edge(shot.astype(np.float32), guess, settings=RefineSettings(radius=3))
    shadow = (shade < 0.95) & (alpha == 0)
    assert out[shadow].mean() < 0.5 * guess[shadow].mean()


def _lying_wire(reach, strength=0.3, metal=GOLD):
    """A 2 px wire (gold unless told) lying on the sweep, its contact shadow under its
    edges (the wire blurred and shifted a little, darkening the sweep by up
    to `strength`), refined from a fat mask with the unshadowed plate;
    returns (alpha, refined)."""
    shape = (96, 128)
    wire = lambda R, C: np.abs(R - 0.25 * C - 30) < 1.0  # noqa: E731
    alpha = _coverage(shape, [wire])
    B = _sweep(shape)
    shadow = strength * cv2.GaussianBlur(np.roll(alpha, 2, axis=0), (0, 0), 1.8)
    shot = alpha[..., None] * metal + (1 - alpha[..., None]) * B * (1 - shadow[..., None])
    shot = cv2.GaussianBlur(shot.astype(np.float32), (0, 0), 0.5)
    shot += np.random.default_rng(4).normal(0, 0.003, shot.shape).astype(np.float32)
    fat = cv2.GaussianBlur(cv2.dilate((alpha > 0.3).astype(np.float32), np.ones((5, 5), np.uint8)), (0, 0), 1)
    out = refine_edge(np.clip(shot, 0, 1), fat, background=B, settings=RefineSettings(shade_reach=reach))
    return alpha, out


def _rim_error(alpha, out):
    rim = (alpha < 0.3) & (cv2.dilate((alpha > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
    rim[:, :8] = rim[:, -8:] = False
    return np.abs(out - alpha)[rim].mean()


def test_the_contact_shadow_under_a_lying_wire_does_not_fatten_it():
    alpha, modelled = _lying_wire(12.0)
    _, filled = _lying_wire(0.0)
    assert _rim_error(alpha, modelled) < 0.8 * _rim_error(alpha, filled)
    # without a shadow the model changes nothing that matters
    _, plain = _lying_wire(12.0, strength=0.0)
    _, plain0 = _lying_wire(0.0, strength=0.0)
    assert _rim_error(alpha, plain) < _rim_error(alpha, plain0) + 0.01
    core = alpha > 0.9
    assert modelled[core].mean() > 0.9  # the wire itself stays


def test_a_gold_rim_in_a_deep_contact_shadow_is_unmixed_with_the_backdrop_free(monkeypatch):
    # a shadow darker under the edge than the model makes it: gold differs
    # from a darker sweep in colour, so the backdrop's brightness is solved
    # for, and the rim is not read as covered
    alpha, unmixed = _lying_wire(12.0, strength=0.45)
    monkeypatch.setattr(refine, "_UNMIX_SEP", 1e9)  # no colour counts as apart: unmixing off
    _, line_only = _lying_wire(12.0, strength=0.45)
    assert _rim_error(alpha, unmixed) < 0.7 * _rim_error(alpha, line_only)  # 0.076 against 0.144
    assert unmixed[alpha > 0.9].mean() > 0.98  # the wire itself stays
    # no shadow: nothing to unmix
    _, plain = _lying_wire(12.0, strength=0.0)
    monkeypatch.undo()
    _, plain_unmixed = _lying_wire(12.0, strength=0.0)
    assert np.abs(plain_unmixed - plain).max() < 0.02


def test_a_neutral_wire_is_left_to_the_line_model(monkeypatch):
    # silver on a neutral sweep is a shade of the backdrop: its colour cannot
    # tell metal from shadow, so unmixing must not act
    silver = np.array([0.62, 0.62, 0.63], np.float32)
    _, on = _lying_wire(12.0, strength=0.45, metal=silver)
    monkeypatch.setattr(refine, "_UNMIX_SEP", 1e9)
    _, off = _lying_wire(12.0, strength=0.45, metal=silver)
    assert np.array_equal(on, off)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("channels", [3, 4])
def test_image_dtypes_and_alpha_channel(sc, dtype, channels):
    img, alpha, _ = sc
    if channels == 4:
        img = np.dstack([img, np.ones(img.shape[:2], np.float32)])
    if np.dtype(dtype).kind == "u":
        x = np.round(img * np.iinfo(dtype).max).astype(dtype)
    else:
        x = img.astype(dtype)
    ref = refine_edge(img[..., :3], alpha)
    out = refine_edge(x, alpha)
    assert out.dtype == np.float32
    tol = 0.08 if dtype == np.uint8 else 1e-3
    assert np.abs(out - ref).mean() < tol


def test_float16_inputs_and_plate():
    # float16 is a float image like any other (OpenCV cannot resize it)
    img, alpha, B = scene((200, 260))
    ref = refine_edge(img, alpha, background=B)
    out = refine_edge(img.astype(np.float16), alpha.astype(np.float16), background=B.astype(np.float16))
    assert out.dtype == np.float32
    assert np.abs(out - ref).mean() < 2e-3


@pytest.mark.parametrize("adtype", [np.uint8, np.uint16, bool])
def test_alpha_dtypes(sc, adtype):
    img, alpha, _ = sc
    if adtype is bool:
        a = alpha >= 0.5
    else:
        a = np.round(alpha * np.iinfo(adtype).max).astype(adtype)
    out = refine_edge(img, a)
    assert out.dtype == np.float32 and out.shape == alpha.shape


def test_tile_size_does_not_change_the_result(sc):
    img, alpha, _ = sc
    guess = np.clip(alpha * 0.9 + 0.05, 0, 1).astype(np.float32)
    a = refine_edge(img, guess, settings=RefineSettings(tile=32))
    b = refine_edge(img, guess, settings=RefineSettings(tile=512))
    assert np.abs(a - b).mean() < 0.01


def test_threads_give_the_same_result(sc):
    img, alpha, _ = sc
    a = refine_edge(img, alpha, settings=RefineSettings(tile=32, threads=1))
    b = refine_edge(img, alpha, settings=RefineSettings(tile=32, threads=2))
    np.testing.assert_array_equal(a, b)


def test_closed_form_method_runs_and_agrees(sc):
    img, alpha, _ = sc
    guess = alpha.copy()
    guess[8:88, 99:103] = [0.1, 0.8, 0.8, 0.1]
    out = refine_edge(img, guess, settings=RefineSettings(method="closed-form"))
    assert out.dtype == np.float32
    assert abs(np.median(out[12:84, 100:102]) - 0.5) < 0.2


def test_does_not_modify_inputs(sc):
    img, alpha, B = sc
    i0, a0 = img.copy(), alpha.copy()
    refine_edge(img, alpha, background=B, brush=np.ones_like(alpha))
    np.testing.assert_array_equal(img, i0)
    np.testing.assert_array_equal(alpha, a0)


def test_empty_and_full_masks():
    img, _, _ = scene(shape=(40, 50))
    for v in (0.0, 1.0):
        a = np.full((40, 50), v, np.float32)
        np.testing.assert_array_equal(refine_edge(img, a), a)


def test_progress_reports_and_can_cancel(sc):
    img, alpha, _ = sc
    seen = []
    refine_edge(img, alpha, settings=RefineSettings(tile=32), progress=seen.append)
    assert seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)
    assert seen == sorted(seen) and len(seen) > 2

    class Stop(Exception):
        pass

    def cancel(f):
        if f > 0.2:
            raise Stop

    with pytest.raises(Stop):
        refine_edge(img, alpha, settings=RefineSettings(tile=32), progress=cancel)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(radius=-1), "radius"),
        (dict(radius=40), "radius"),
        (dict(radius=4, max_radius=3), "max_radius"),
        (dict(method="magic"), "method"),
        (dict(smoothing=1.5), "smoothing"),
        (dict(shade_reach=50), "shade_reach"),
        (dict(known_low=0.6), "known_low"),
        (dict(known_high=0.4), "known_high"),
        (dict(min_contrast=0), "min_contrast"),
        (dict(tile=8), "tile"),
        (dict(threads=0), "threads"),
    ],
)
def test_settings_validation(kwargs, name):
    with pytest.raises(ValueError, match=name):
        RefineSettings(**kwargs)


def test_argument_validation(sc):
    img, alpha, B = sc
    with pytest.raises(ValueError, match="alpha"):
        refine_edge(img, alpha[:-1])
    with pytest.raises(ValueError, match="alpha"):
        refine_edge(img, alpha * 3)
    with pytest.raises(ValueError, match="brush"):
        refine_edge(img, alpha, brush=np.ones((5, 5), np.float32))
    with pytest.raises(ValueError, match="background"):
        refine_edge(img, alpha, background=B[:, :, :2])
    with pytest.raises(ValueError, match="image"):
        refine_edge(img.astype(np.int32), alpha)
    with pytest.raises(ValueError, match="progress"):
        refine_edge(img, alpha, progress=3)
    with pytest.raises(ValueError, match="settings"):
        refine_edge(img, alpha, settings={"radius": 2})


def test_a_blurred_one_pixel_link_is_not_erased():
    """A 1 px silver wire behind lens blur looks partly covered even in its middle;
    refine keeps it at half at least (keep_thin) and can break it without."""
    H, W = 96, 128
    alpha = np.zeros((H, W), np.float32)
    alpha[:, 64] = 1.0
    seen = cv2.GaussianBlur(alpha, (0, 0), 1.5)  # apparent coverage about 0.27 in the middle
    B = np.full((H, W, 3), 0.75, np.float32)
    silver = np.full(3, 0.55, np.float32)  # a neutral darkening, as a silver wire on grey
    img = seen[..., None] * silver + (1 - seen[..., None]) * B
    out = refine_edge(img, alpha, background=B)
    assert (out[8:88, 64] >= 0.5).all()
    assert np.median(out[8:88, 66]) < 0.3  # and it is not fattened
    loose = refine_edge(img, alpha, background=B, settings=RefineSettings(keep_thin=0))
    assert np.median(loose[8:88, 64]) < 0.5


def test_a_thin_speck_of_the_mask_on_bare_sweep_goes():
    """keep_thin holds a thin part of the mask only where the photo shows a wire."""
    H, W = 96, 128
    B = np.full((H, W, 3), 0.75, np.float32)
    img = B.copy()
    img[:, 40] = 0.45  # a real 1 px wire
    alpha = np.zeros((H, W), np.float32)
    alpha[:, 40] = 1.0
    alpha[20:70, 90:92] = 0.8  # a 2 px streak of the mask over bare sweep
    out = refine_edge(img, alpha, background=B)
    assert (out[8:88, 40] >= 0.5).all()
    assert out[24:66, 90:92].max() < 0.2
