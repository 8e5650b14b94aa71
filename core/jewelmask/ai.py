"""The AI first pass, at full detail.

Every rembg model looks at the photo through a 320 or 1024 px window, so a
2 px chain in a 6000 px photo is a tenth of a pixel to the network and
vanishes. :func:`ai_alpha` runs the network twice over:

1. a **global pass** on the whole frame (what ``rembg.remove`` does) to find
   where the jewelry is;
2. **overlapping crops** around what it found, at the largest scale the tile
   budget allows (native pixels when the piece is small, a moderate reduction
   when it fills a 24 MP frame), blended with a smooth window so no seam
   shows, keeping the soft probabilities.

The result is a float32 alpha in [0, 1] the size of the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .backdrop import rgb01
from .dtypes import as_float_image
from .fastops import pimap
from .models import DEFAULT_MODEL, get_model, get_session

__all__ = ["AISettings", "ai_alpha", "global_alpha", "plan_tiles"]


@dataclass(frozen=True)
class AISettings:
    """Settings of the full-detail AI pass.

    Attributes
    ----------
    model : str
        Registry name of the model (``jewelmask models list``).
    tile_budget : int
        Most crops the network runs on after the global pass. Each costs
        about 0.4 s with u2netp on two CPU cores. 0 gives the plain global
        pass (rembg's behaviour).
    max_scale : float
        Largest scale a crop is looked at (1.0 = native pixels; the network
        never sees an upscaled photo).
    overlap : float
        Fraction of a crop shared with its neighbour, in [0, 0.5].
    find_threshold : float
        Global-pass probability above which a place counts as jewelry when
        placing crops.
    find_margin : float
        How far around what the global pass found crops still go, as a
        fraction of the longer image side (thin chains leaving the piece are
        faint in the global pass).
    """

    model: str = DEFAULT_MODEL
    tile_budget: int = 12
    max_scale: float = 1.0
    overlap: float = 0.25
    find_threshold: float = 0.03
    find_margin: float = 0.06

    def __post_init__(self):
        get_model(self.model)
        if not 0 <= self.tile_budget <= 400:
            raise ValueError(f"tile_budget must be in [0, 400], got {self.tile_budget}")
        if not 0 < self.max_scale <= 4:
            raise ValueError(f"max_scale must be in (0, 4], got {self.max_scale}")
        if not 0 <= self.overlap <= 0.5:
            raise ValueError(f"overlap must be in [0, 0.5], got {self.overlap}")
        if not 0 <= self.find_threshold < 1:
            raise ValueError(f"find_threshold must be in [0, 1), got {self.find_threshold}")
        if not 0 <= self.find_margin <= 1:
            raise ValueError(f"find_margin must be in [0, 1], got {self.find_margin}")


def _resize(img: np.ndarray, shape_rc: tuple[int, int]) -> np.ndarray:
    """Resize to (rows, cols): area averaging when shrinking, bilinear otherwise."""
    rows, cols = shape_rc
    shrink = rows * cols < img.shape[0] * img.shape[1]
    return cv2.resize(img, (cols, rows), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def global_alpha(image, *, model: str = DEFAULT_MODEL, session=None) -> np.ndarray:
    """The plain pass: the whole frame squeezed into the network's input.

    Equivalent to ``rembg.remove(..., only_mask=True)``: the output is
    stretched to [0, 1] the way rembg stretches it, and scaled back to the
    image size.

    Parameters
    ----------
    image : (H, W, 3) or (H, W, 4) array, uint8, uint16 or float
    model : str
    session : models.Session, optional

    Returns
    -------
    (H, W) float32 array in [0, 1]
    """
    rgb, _ = as_float_image(image)
    session = session or get_session(model)
    small = _global_small(rgb, session)
    return np.clip(_resize(small, rgb.shape[:2]), 0.0, 1.0)


def _global_small(rgb: np.ndarray, session, *, clipped: bool = False) -> np.ndarray:
    s = session.info.input_size
    p = session.predict(_resize(rgb if clipped else np.clip(rgb, 0.0, 1.0), (s, s)))
    lo, hi = float(p.min()), float(p.max())
    if hi - lo < 0.05:  # nothing salient at all: do not stretch noise
        return np.zeros_like(p) if hi < 0.5 else np.ones_like(p)
    return (p - lo) / (hi - lo)


@dataclass(frozen=True)
class TilePlan:
    """Where the crops go.

    ``box`` is the (r0, c0, r1, c1) region of the full image covered,
    ``scale`` the factor it is resized by, and ``tiles`` the (r, c) top-left
    corners of the crops in the resized region.
    """

    box: tuple[int, int, int, int]
    scale: float
    size: int
    tiles: tuple[tuple[int, int], ...]


def _starts(length: int, size: int, stride: int) -> list[int]:
    if length <= size:
        return [0]
    n = math.ceil((length - size) / stride) + 1
    return [round(i * (length - size) / (n - 1)) for i in range(n)]


def plan_tiles(found: np.ndarray, shape_rc: tuple[int, int], *, size: int,
               settings: AISettings) -> TilePlan | None:
    """Choose the region, scale and crops for the detail pass.

    Parameters
    ----------
    found : (h, w) bool array
        Where the global pass saw jewelry, at any resolution (rescaled here).
    shape_rc : (H, W)
        Full image size.
    size : int
        Network input side.
    settings : AISettings

    Returns
    -------
    TilePlan or None
        None when nothing was found or the budget is 0.
    """
    H, W = shape_rc
    if settings.tile_budget == 0 or not found.any():
        return None
    fh, fw = found.shape
    margin = settings.find_margin * max(H, W)
    # dilate in the small map, then take the bounding box in full-res pixels
    k = max(1, int(round(margin * fw / W)))
    grown = cv2.dilate(found.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8))
    rows = np.flatnonzero(grown.any(axis=1))
    cols = np.flatnonzero(grown.any(axis=0))
    r0 = int(rows[0] * H / fh)
    r1 = int(math.ceil((rows[-1] + 1) * H / fh))
    c0 = int(cols[0] * W / fw)
    c1 = int(math.ceil((cols[-1] + 1) * W / fw))
    bh, bw = r1 - r0, c1 - c0
    overlap = settings.overlap
    stride = max(1, int(size * (1 - overlap)))
    scale = settings.max_scale
    floor = size / max(bh, bw)  # the whole box in one crop
    while True:
        sh, sw = max(1, round(bh * scale)), max(1, round(bw * scale))
        tiles = []
        for tr in _starts(sh, size, stride):
            for tc in _starts(sw, size, stride):
                # keep a crop only when it touches what the global pass found
                gr0 = (r0 + tr / scale) * fh / H
                gr1 = (r0 + (tr + size) / scale) * fh / H
                gc0 = (c0 + tc / scale) * fw / W
                gc1 = (c0 + (tc + size) / scale) * fw / W
                sub = grown[int(gr0):int(math.ceil(gr1)), int(gc0):int(math.ceil(gc1))]
                if sub.any():
                    tiles.append((tr, tc))
        if len(tiles) <= settings.tile_budget or scale <= floor:
            break
        scale = max(floor, scale * 0.85)
    return TilePlan((r0, c0, r1, c1), float(scale), int(size), tuple(tiles))


def _window(size: int) -> np.ndarray:
    w = np.hanning(size + 2)[1:-1].astype(np.float32)
    w = 0.02 + 0.98 * w
    return np.outer(w, w)


def ai_alpha(image, *, settings: AISettings = AISettings(), session=None,
             progress=None) -> np.ndarray:
    """Full-detail AI alpha: a global pass, then crops at a finer scale.

    Parameters
    ----------
    image : (H, W, 3) or (H, W, 4) array, uint8, uint16 or float
        The photo. An alpha channel, if any, is ignored.
    settings : AISettings
    session : models.Session, optional
        A session to reuse; by default the cached one for ``settings.model``.
    progress : callable(float), optional
        Called with the fraction done; may raise to cancel.

    Returns
    -------
    (H, W) float32 array in [0, 1]
        Soft foreground probability.

    Raises
    ------
    jewelmask.errors.ModelUnavailableError
        When the model is not installed (the message says what to run).

    Examples
    --------
    >>> alpha = ai_alpha(photo, settings=AISettings(tile_budget=8))  # doctest: +SKIP
    """
    return _ai_alpha(rgb01(image), settings, session, progress)


def _ai_alpha(rgb, settings, session, progress) -> np.ndarray:
    """:func:`ai_alpha` for an image already in ``rgb01`` form (float32 in [0, 1]; not copied)."""
    H, W = rgb.shape[:2]
    session = session or get_session(settings.model)
    size = session.info.input_size
    report = progress or (lambda f: None)

    small = _global_small(rgb, session, clipped=True)
    out = _resize(small, (H, W))
    np.clip(out, 0.0, 1.0, out=out)
    report(1.0 / (settings.tile_budget + 1))
    plan = plan_tiles(small > settings.find_threshold, (H, W), size=size, settings=settings)
    if plan is None or not plan.tiles:
        report(1.0)
        return out
    r0, c0, r1, c1 = plan.box
    sh = max(1, round((r1 - r0) * plan.scale))
    sw = max(1, round((c1 - c0) * plan.scale))
    region = _resize(rgb[r0:r1, c0:c1], (sh, sw))
    # pad so every crop is whole; replicate the border (backdrop continues)
    ph, pw = max(sh, size), max(sw, size)
    if (ph, pw) != (sh, sw):
        region = cv2.copyMakeBorder(region, 0, ph - sh, 0, pw - sw, cv2.BORDER_REPLICATE)
    acc = np.zeros((ph, pw), np.float32)
    wsum = np.zeros((ph, pw), np.float32)
    win = _window(size)

    def predict(tile):
        tr, tc = tile
        return session.predict(np.ascontiguousarray(region[tr:tr + size, tc:tc + size]))

    # the crops run side by side (session.threads at once); they are added up
    # in plan order, so the sums do not depend on which finishes first
    preds = pimap(predict, plan.tiles, session.threads)
    try:
        for i, ((tr, tc), p) in enumerate(zip(plan.tiles, preds)):
            acc[tr:tr + size, tc:tc + size] += p * win
            wsum[tr:tr + size, tc:tc + size] += win
            report((i + 2) / (len(plan.tiles) + 1))
    finally:
        preds.close()
    covered = wsum > 0
    detail = np.where(covered, acc / np.maximum(wsum, 1e-6), 0.0)[:sh, :sw]
    cover = np.minimum(wsum / 0.5, 1.0)[:sh, :sw]  # fade to the global pass outside the crops
    # cover * detail + (1 - cover) * base, clipped, in place (the same float
    # operations), band by band of rows so the three arrays stay in the cache;
    # outside the box `out` is clipped already
    detail_full = _resize(detail.astype(np.float32), (r1 - r0, c1 - c0))
    cover_full = _resize(cover.astype(np.float32), (r1 - r0, c1 - c0))
    for a in range(0, r1 - r0, 64):
        d, c, base = detail_full[a:a + 64], cover_full[a:a + 64], out[r0 + a:min(r1, r0 + a + 64), c0:c1]
        d *= c
        np.subtract(1, c, out=c)
        c *= base
        np.add(d, c, out=base)
        np.clip(base, 0.0, 1.0, out=base)
    del detail_full, cover_full
    report(1.0)
    return out
