"""Colour decontamination (jewelmask.decontaminate) on composites with known F and B."""

import io

import numpy as np
import pytest
from PIL import Image

from jewelmask.decontaminate import DecontaminateSettings, decontaminate

GOLD = np.array([0.72, 0.52, 0.18], np.float32)


def composite(shape=(80, 120), noise=0.003, seed=0):
    """Gold links and a soft-edged disc on a white sweep with a soft shadow.

    Returns (image, alpha, F, B), all float32.
    """
    H, W = shape
    r, c = np.mgrid[0:H, 0:W].astype(np.float32)
    disc = np.clip(18.0 - np.hypot(r - 40, c - 35) + 0.5, 0, 1)
    # a defocused edge: 3 px ramp
    disc = np.clip((20.0 - np.hypot(r - 40, c - 35)) / 3.0, 0, 1)
    # thin wires with fractional coverage
    wire1 = np.clip(1.0 - np.abs(c - 80.3), 0, 1) * ((r > 8) & (r < 72))
    wire2 = 0.6 * np.clip(1.0 - np.abs(r - 15.5) / 1.5, 0, 1) * ((c > 60) & (c < 115))
    alpha = np.maximum(np.maximum(disc, wire1), wire2).astype(np.float32)
    shade = 0.6 + 0.4 * np.sin(c / 5.0) ** 2  # polished metal varies
    F = (GOLD * shade[..., None]).astype(np.float32)
    v = 0.94 - 0.05 * r / H
    B = np.stack([v, v * 0.985, v * 0.96], -1).astype(np.float32)
    B *= (1 - 0.15 * np.exp(-((r - 48) ** 2 + (c - 40) ** 2) / 400.0))[..., None]
    rng = np.random.default_rng(seed)
    img = alpha[..., None] * F + (1 - alpha[..., None]) * B + rng.normal(0, noise, B.shape)
    return np.clip(img, 0, 1).astype(np.float32), alpha, F, B


def colour_error(rgb, alpha, F):
    """Mean error of the cutout composited on black, on soft pixels."""
    soft = (alpha >= 0.05) & (alpha <= 0.95)
    return float(np.abs(alpha[..., None] * (rgb - F))[soft].mean())


@pytest.fixture(scope="module")
def comp():
    return composite()


def jpeg_wires(shape=(96, 128), quality=90, seed=1):
    """Four wavy gold wires 1.0-2.2 px wide on a white sweep, through a 4:2:0 JPEG.

    Returns (uint8 image, alpha, F, B). No wire has a fully covered pixel
    next to a wide one: the metal colour must come from the wire itself.
    """
    H, W = shape
    r, c = np.mgrid[0:H, 0:W].astype(np.float32)
    alpha = np.zeros((H, W), np.float32)
    for k, x0 in enumerate((20.3, 45.7, 70.5, 95.2)):
        x = x0 + 6 * np.sin(r / 15.0 + k)
        alpha = np.maximum(alpha, np.clip((1.0 + 0.4 * k) / 2 + 0.5 - np.abs(c - x), 0, 1))
    alpha[:6] = 0
    alpha[-6:] = 0
    F = (GOLD * (0.7 + 0.3 * np.cos(r / 7.0) ** 2)[..., None]).astype(np.float32)
    B = np.full((H, W, 3), 0.93, np.float32) * np.array([1, 0.99, 0.97], np.float32)
    rng = np.random.default_rng(seed)
    img = alpha[..., None] * F + (1 - alpha[..., None]) * B + rng.normal(0, 0.004, B.shape)
    buf = io.BytesIO()
    Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)).save(buf, "JPEG", quality=quality,
                                                                               subsampling=2)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")), alpha, F, B


@pytest.mark.parametrize("use_plate", [False, True])
def test_halves_the_colour_error_on_soft_pixels(comp, use_plate):
    img, alpha, F, B = comp
    out = decontaminate(img, alpha, background=B if use_plate else None)
    before = colour_error(img, alpha, F)
    after = colour_error(out, alpha, F)
    assert after < 0.5 * before, (before, after)


def test_jpeg_thin_wires_lose_most_of_the_glow():
    """JPEG keeps colour at half resolution: the wires' chroma comes from the metal."""
    img, alpha, F, _ = jpeg_wires()
    before = colour_error(img.astype(np.float32) / 255, alpha, F)
    after = colour_error(decontaminate(img, alpha), alpha, F)
    assert after < 0.45 * before, (before, after)


def test_thin_wire_loses_the_white_glow(comp):
    img, alpha, F, B = comp
    out = decontaminate(img, alpha)
    col = (alpha[:, 79:83] > 0.05) & (alpha[:, 79:83] < 0.95)
    # composited on black, the wire's edge pixels get darker (no sweep in them)
    on_black_before = (alpha[:, 79:83, None] * img[:, 79:83])[col].mean()
    on_black_after = (alpha[:, 79:83, None] * out[:, 79:83])[col].mean()
    truth = (alpha[:, 79:83, None] * F[:, 79:83])[col].mean()
    assert abs(on_black_after - truth) < 0.4 * abs(on_black_before - truth)


def test_only_soft_pixels_change(comp):
    img, alpha, _, _ = comp
    out = decontaminate(img, alpha)
    hard = (alpha == 0) | (alpha == 1)
    np.testing.assert_array_equal(out[hard], img[hard])
    assert out.dtype == np.float32 and out.shape == img.shape


def test_strength_blends(comp):
    img, alpha, _, _ = comp
    full = decontaminate(img, alpha, strength=1.0)
    none = decontaminate(img, alpha, strength=0.0)
    half = decontaminate(img, alpha, strength=0.5)
    np.testing.assert_array_equal(none, img)
    np.testing.assert_allclose(half, 0.5 * (img + full), atol=1e-5)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
def test_dtypes(comp, dtype):
    img, alpha, F, _ = comp
    if np.dtype(dtype).kind == "u":
        x = np.round(img * np.iinfo(dtype).max).astype(dtype)
    else:
        x = img.astype(dtype)
    out = decontaminate(x, alpha)
    assert out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    assert colour_error(out, alpha, F) < 0.5 * colour_error(img, alpha, F)


def test_tiles_do_not_show(comp):
    img, alpha, _, _ = comp
    a = decontaminate(img, alpha, settings=DecontaminateSettings(tile=32))
    b = decontaminate(img, alpha, settings=DecontaminateSettings(tile=512))
    # the push-pull pyramid is aligned to the crop, so tiles differ a little
    assert np.abs(a - b).mean() < 0.002 and np.abs(a - b).max() < 0.1


def test_progress_and_cancel(comp):
    img, alpha, _, _ = comp
    seen = []
    decontaminate(img, alpha, settings=DecontaminateSettings(tile=32), progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen)

    def cancel(f):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        decontaminate(img, alpha, progress=cancel)


def test_validation(comp):
    img, alpha, _, B = comp
    for bad in (-0.1, 1.5, float("nan"), True, "1"):
        with pytest.raises(ValueError, match="strength"):
            decontaminate(img, alpha, strength=bad)
    with pytest.raises(ValueError, match="background"):
        decontaminate(img, alpha, background=B[:-1])
    with pytest.raises(ValueError, match="alpha"):
        decontaminate(img, alpha[:, :-1])
    with pytest.raises(ValueError, match="regularisation"):
        DecontaminateSettings(regularisation=0)
    with pytest.raises(ValueError, match="tile"):
        DecontaminateSettings(tile=4)
    for bad in (0.2, 9.0):
        with pytest.raises(ValueError, match="colour_radius"):
            DecontaminateSettings(colour_radius=bad)


def test_input_and_plate_untouched_and_rgba_and_grey_plate(comp):
    img, alpha, F, B = comp
    rgba = np.dstack([img, np.full(alpha.shape, 0.25, np.float32)])
    keep, keep_b = rgba.copy(), B.copy()
    out = decontaminate(rgba, alpha, background=B)
    np.testing.assert_array_equal(rgba, keep)
    np.testing.assert_array_equal(B, keep_b)
    np.testing.assert_allclose(out, decontaminate(img, alpha, background=B), atol=1e-6)
    grey = B.mean(axis=2)
    assert colour_error(decontaminate(img, alpha, background=grey), alpha, F) < 0.5 * colour_error(img, alpha, F)


def test_colour_radius_changes_the_answer(comp):
    img, alpha, F, _ = comp
    a = decontaminate(img, alpha, settings=DecontaminateSettings(colour_radius=0.5))
    b = decontaminate(img, alpha, settings=DecontaminateSettings(colour_radius=4.0))
    assert np.abs(a - b).max() > 0.01


def contact_shadow(shape=(96, 128), seed=3):
    """A gold bar and a ring lying on a white flat lay, their contact shadow
    darkest under their soft edges (where no backdrop pixel shows it).

    Returns (image, alpha, F, plate): the plate is the backdrop without the
    shadow, as a plate fitted around the jewelry would be.
    """
    import cv2

    H, W = shape
    r, c = np.mgrid[0:H, 0:W].astype(np.float32)
    ring = np.clip(2.0 - np.abs(np.hypot(r - 48, c - 40) - 22.0), 0, 1)
    bar = np.clip(np.minimum(6.0 - np.abs(r - 48), 5.0 - np.abs(c - 100)) / 2.0 + 0.5, 0, 1)
    alpha = cv2.GaussianBlur(np.maximum(ring, bar).astype(np.float32), (0, 0), 0.6)
    F = np.broadcast_to(GOLD * 0.9, (H, W, 3)).astype(np.float32)
    plate = np.broadcast_to(np.array([0.92, 0.91, 0.89], np.float32), (H, W, 3)).copy()
    moved = np.roll(alpha, (1, 1), axis=(0, 1))
    shade = 0.5 * cv2.GaussianBlur(moved, (0, 0), 1.8)
    B = plate * (1.0 - shade)[..., None]
    rng = np.random.default_rng(seed)
    img = alpha[..., None] * F + (1 - alpha[..., None]) * B + rng.normal(0, 0.003, B.shape)
    return np.clip(img, 0, 1).astype(np.float32), alpha, F, plate


@pytest.mark.parametrize("use_plate", [False, True])
def test_contact_shadow_under_the_edge_is_modelled(use_plate):
    """The shadow under a lying piece's edge is extrapolated from the backdrop
    next to it; filling the shading from the nearby backdrop alone
    (shade_reach=0) leaves a dark rim in the cutout's colour."""
    img, alpha, F, plate = contact_shadow()
    bg = plate if use_plate else None
    before = colour_error(img, alpha, F)
    modelled = colour_error(decontaminate(img, alpha, background=bg), alpha, F)
    filled = colour_error(decontaminate(img, alpha, background=bg,
                                        settings=DecontaminateSettings(shade_reach=0)), alpha, F)
    assert modelled < 0.35 * before, (before, modelled, filled)
    assert modelled < 0.6 * filled, (before, modelled, filled)


def test_shade_reach_is_checked():
    with pytest.raises(ValueError, match="shade_reach"):
        DecontaminateSettings(shade_reach=-1)


def _radial_ca(img, k):
    """Red scaled up, blue down about the centre: k px of displacement at the corner."""
    import cv2

    H, W = img.shape[:2]
    rmax = np.hypot(W / 2, H / 2)
    cx, cy = (W - 1) / 2, (H - 1) / 2
    out = img.copy()
    for ch, f in ((0, 1 + k / rmax), (2, 1 - k / rmax)):
        M = np.float32([[1 / f, 0, cx * (1 - 1 / f)], [0, 1 / f, cy * (1 - 1 / f)]])
        out[..., ch] = cv2.warpAffine(np.ascontiguousarray(img[..., ch]), M, (W, H),
                                      flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
    return out


def ca_wires(shape=(240, 320), k=0.8, seed=4):
    """Gold wires 1.5-3 px wide all over a white sweep, shot through a lens with
    lateral chromatic aberration (after the wires and the sweep mix).

    Returns (image, alpha, target, plate): the target is the wires alone as
    the lens records them on black.
    """
    H, W = shape
    r, c = np.mgrid[0:H, 0:W].astype(np.float32)
    alpha = np.zeros((H, W), np.float32)
    for i, x0 in enumerate(np.linspace(20, W - 20, 9)):
        alpha = np.maximum(alpha, np.clip(0.75 + 0.25 * (i % 3) - np.abs(c - x0 - 0.3 * i), 0, 1))
    for j, y0 in enumerate(np.linspace(20, H - 20, 6)):
        alpha = np.maximum(alpha, np.clip(0.9 + 0.2 * (j % 2) - np.abs(r - y0 - 0.4 * j), 0, 1))
    F = np.broadcast_to(GOLD, (H, W, 3)).astype(np.float32)
    plate = np.broadcast_to(np.array([0.93, 0.92, 0.90], np.float32), (H, W, 3)).copy()
    a3 = alpha[..., None]
    rng = np.random.default_rng(seed)
    img = _radial_ca(a3 * F + (1 - a3) * plate, k) + rng.normal(0, 0.003, plate.shape)
    return np.clip(img, 0, 1).astype(np.float32), alpha, _radial_ca(a3 * F, k), plate


def test_lateral_chromatic_aberration_is_estimated_from_the_photo():
    """With the backdrop's share passed through the aberration the photo
    shows (estimated from the red and blue edges against the green), the
    red and blue fringes of the sweep leave the cutout."""
    img, alpha, target, plate = ca_wires()
    soft = (alpha >= 0.05) & (alpha <= 0.95)

    def err(settings):
        out = decontaminate(img, alpha, background=plate, settings=settings)
        return float(np.abs(alpha[..., None] * out - target)[soft].mean())

    before = float(np.abs(alpha[..., None] * img - target)[soft].mean())
    with_ca = err(DecontaminateSettings())
    without = err(DecontaminateSettings(chromatic_aberration=False))
    assert with_ca < 0.5 * without, (before, with_ca, without)


def test_the_coverage_passes_through_the_aberration_too():
    """The lens displaces the jewelry's red and blue as much as the sweep's:
    the local metal colour is solved against the coverage as the lens
    records it, so the cutout keeps the fringes the target has (0.235 of
    the untreated error when only the backdrop's share went through it,
    0.17 now)."""
    img, alpha, target, plate = ca_wires()
    soft = (alpha >= 0.05) & (alpha <= 0.95)
    out = decontaminate(img, alpha, background=plate)
    before = float(np.abs(alpha[..., None] * img - target)[soft].mean())
    after = float(np.abs(alpha[..., None] * out - target)[soft].mean())
    assert after < 0.2 * before, (before, after)


def sharpened_wires(amount, shape=(256, 320), radius=1.0, seed=5):
    """Gold wires 1.5-4 px wide on a white sweep (no shadow), through a
    camera's unsharp mask of `amount` (after the wires and the sweep mix).

    Returns (image, alpha, target): the target is the wires alone as the
    camera records them on black.
    """
    import cv2

    H, W = shape
    r, c = np.mgrid[0:H, 0:W].astype(np.float32)
    alpha = np.zeros((H, W), np.float32)
    for i, x0 in enumerate(np.linspace(24, W - 24, 7)):
        x = x0 + 5 * np.sin(r / 19.0 + i)
        alpha = np.maximum(alpha, np.clip(0.75 + 0.4 * (i % 4) - np.abs(c - x), 0, 1))
    alpha[:8] = alpha[-8:] = 0
    F = (GOLD * (0.75 + 0.25 * np.cos(r / 9.0) ** 2)[..., None]).astype(np.float32)
    B = np.broadcast_to(np.array([0.93, 0.92, 0.90], np.float32), (H, W, 3)) * (1 - 0.05 * r / H)[..., None]
    a3 = alpha[..., None]

    def camera(x):
        return x + amount * (x - cv2.GaussianBlur(x, (0, 0), radius))

    rng = np.random.default_rng(seed)
    img = camera(a3 * F + (1 - a3) * B) + rng.normal(0, 0.003, B.shape)
    return np.clip(img, 0, 1).astype(np.float32), alpha.astype(np.float32), camera(a3 * F)


@pytest.mark.parametrize("amount, radius", [(0.0, 1.0), (0.3, 1.0), (0.6, 1.0), (0.3, 2.0)])
def test_the_sharpening_is_estimated_from_the_halo_beside_the_edge(amount, radius):
    from jewelmask.decontaminate import _sharpen_amount
    from jewelmask.refine import _tile_boxes

    img, alpha, _ = sharpened_wires(amount, radius=radius)
    boxes = _tile_boxes((alpha > 0) & (alpha < 1), 64, halo=0)
    found, found_radius = _sharpen_amount(img, alpha, boxes, None, DecontaminateSettings())
    assert abs(found - amount) < 0.05
    if amount:
        assert found_radius == radius


def test_the_backdrop_and_the_coverage_pass_through_the_sharpening():
    """The camera's halo on the sweep's share leaves the cutout; what
    sharpening did to the wires stays (as in the target)."""
    img, alpha, target = sharpened_wires(0.4, shape=(512, 640))
    soft = (alpha >= 0.05) & (alpha <= 0.95)

    def err(**kw):
        out = decontaminate(img, alpha, settings=DecontaminateSettings(**kw))
        return float(np.abs(alpha[..., None] * out - target)[soft].mean())

    with_it, without = err(), err(sharpening=False)
    assert with_it < 0.6 * without, (with_it, without)
