import os
from pathlib import Path

import numpy as np
import pytest

from jewelmask import models


@pytest.fixture(scope="session")
def have_model():
    """Skip (or, in CI, fail) when the u2netp weights are not installed."""
    if not models.is_installed("u2netp"):
        msg = "u2netp is not installed: run `python3 install/bootstrap.py` (or `jewelmask models fetch u2netp`)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return True


def ring_scene(shape=(600, 800), wire=2.0, seed=0):
    """A small test photo: a dark-gold ring outline and a thin chain on a light sweep.

    Returns (uint8 RGB image, float32 coverage alpha), rendered 4x supersampled.
    """
    import cv2

    H, W = shape
    s = 4
    big = np.zeros((H * s, W * s), np.uint8)
    cy, cx = H * s // 2, W * s // 2
    r = int(min(H, W) * s * 0.22)
    cv2.circle(big, (cx, cy), r, 255, thickness=int(6 * s))
    # a thin chain: a sagging polyline from the ring to the top-left corner
    t = np.linspace(0, 1, 200)
    xs = (cx - r) * (1 - t) + 10 * s * t
    ys = cy * (1 - t) + 10 * s * t + 40 * s * np.sin(np.pi * t)
    pts = np.stack([xs, ys], 1).astype(np.int32)
    cv2.polylines(big, [pts], False, 255, thickness=max(1, int(wire * s)))
    alpha = cv2.resize(big.astype(np.float32) / 255, (W, H), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[0:H, 0:W]
    bg = 0.93 - 0.08 * (rr / H) - 0.03 * ((cc - W / 2) / W) ** 2
    bg = np.stack([bg, bg * 0.99, bg * 0.97], -1)
    gold = np.array([0.78, 0.6, 0.25]) * (0.8 + 0.2 * np.sin(cc / 7.0))[..., None]
    img = alpha[..., None] * gold + (1 - alpha[..., None]) * bg
    img += rng.normal(0, 0.004, img.shape)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), alpha.astype(np.float32)


@pytest.fixture
def scene():
    return ring_scene()


@pytest.fixture
def sample_dir(tmp_path) -> Path:
    return tmp_path
