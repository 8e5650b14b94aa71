"""Colour decontamination (jewelmask.decontaminate) on composites with known F and B."""

import numpy as np
import pytest

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


@pytest.mark.parametrize("use_plate", [False, True])
def test_halves_the_colour_error_on_soft_pixels(comp, use_plate):
    img, alpha, F, B = comp
    out = decontaminate(img, alpha, background=B if use_plate else None)
    before = colour_error(img, alpha, F)
    after = colour_error(out, alpha, F)
    assert after < 0.5 * before, (before, after)


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
