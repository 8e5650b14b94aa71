"""Refine edge: re-solve alpha in a narrow band around a mask's edge.

What Photoshop's Select and Mask calls *Refine Edge*, for jewelry on a
studio sweep. :func:`refine_edge` takes the photo and a mask (from the AI,
the detail steps or a retoucher), finds the **band** around its edge, and
computes a new, fractional alpha there; everything outside the band is kept
exactly. The band is

* every pixel the mask is unsure about (``known_low < alpha < known_high``),
* every pixel within ``radius`` px of the mask's 0.5 contour,
* with ``smart_radius``, up to ``max_radius`` px where the edge is soft or
  detailed (defocus, chains, fringing): the radius grows with the share of
  soft pixels around the edge,
* and every pixel of the refine **brush** (the editors' selection or a mask
  file on the CLI), so a missed link or prong painted over is re-evaluated
  however far it is from the edge.

Inside the band alpha comes from a local colour model of the compositing
equation ``I = a F + (1 - a) B``:

* ``B``, the backdrop behind the pixel: the caller's backdrop plate when
  given (corrected for local shading by the backdrop pixels next to the
  piece) or a push-pull fill of the confident-backdrop pixels; smooth band
  pixels that the mask calls backdrop count too, so a contact shadow next to
  the piece is backdrop, not metal;
* ``F``, the local foreground colour: a push-pull fill of the
  confident-foreground pixels and of the band pixels that stand out most
  from the backdrop in their neighbourhood (the middle of a wire), so a
  chain with no fully covered pixel still gets its own colour; beyond the
  tile, a coarse field of the whole photo;
* ``a = <I - B, F - B> / |F - B|^2``, trusted in proportion to the contrast
  ``|F - B|`` and to how well ``I`` lies on the line from ``B`` to ``F``
  on ``F``'s side of ``B``; where it is not (a highlight as white as the
  sweep, a stone of another colour), the current alpha stays;
* a small edge-aware clean-up (a 3 x 3 cross-bilateral mean guided by the
  colours) removes the JPEG and sensor noise.

``method="closed-form"`` instead solves Levin et al.'s closed-form matting
(matting Laplacian of 3 x 3 windows) on the band with a sparse conjugate
gradient, with the colour model as a weak prior: the classic method, kept
for comparison (see ``docs/refine.md`` for the benchmark: 2-8x slower at
1600x1200 and more at 24 MP, better on some measures and worse on others).

The work is cut into tiles and only tiles the band touches are processed,
so the cost grows with the length of the edge, not with the photo.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from .backdrop import norm3
from .dtypes import as_float_image, as_mask
from .fastops import pmap

__all__ = ["RefineSettings", "refine_edge", "refine_band", "METHODS"]

METHODS = ("local", "closed-form")


@dataclass(frozen=True)
class RefineSettings:
    """Settings of :func:`refine_edge`.

    Attributes
    ----------
    radius : float
        Half-width of the band around the mask's 0.5 contour, in pixels, on
        hard edges (Photoshop's Radius). 0 refines only the pixels the mask
        is unsure about.
    smart_radius : bool
        Widen the band where the edge is soft or detailed, up to
        `max_radius` (Photoshop's Smart Radius; off by default, as there:
        on the benchmark the fixed radius is as good).
    max_radius : float
        Widest band with `smart_radius`, in pixels.
    method : str
        ``"local"`` (the colour model, fast) or ``"closed-form"`` (Levin's
        matting Laplacian solved on the band; slow, for comparison).
    smoothing : float
        Strength of the edge-aware clean-up of the new alpha, in [0, 1].
    shadow_aware : bool
        Let smooth band pixels the mask calls backdrop (alpha < 0.5) inform
        the backdrop estimate, so a soft contact shadow next to the piece
        stays backdrop (and, with `shade_reach` and a plate, model the
        contact shadow under the edge, and where it is deeper than modelled
        solve a coloured metal's edge pixels with the backdrop's brightness
        left free). Turn off when the piece has large smooth parts the
        mask missed, or when shadows are to be kept.
    shade_reach : float
        With a plate and `shadow_aware`: model the shading of the backdrop
        under the soft edge from the confident backdrop within this many
        pixels, in [0, 40] (0: off). A piece lying on the backdrop darkens it most right
        under its edge (a contact shadow), where no backdrop pixel shows
        it; filled in from the backdrop a few pixels away, the backdrop
        there is too light and every edge pixel reads as more covered (a
        wire drawn fat, its link eyes filled). The model only darkens: the
        sharpening's light halo beside a dark wire is not extrapolated
        under it.
    known_low, known_high : float
        Alpha at or below which a pixel outside the band is confident
        backdrop, and at or above which it is confident foreground.
    min_contrast : float
        Contrast ``|F - B|`` (0-1 RGB units) at which the colour model is
        trusted half; below it the current alpha prevails. (0.05 before:
        on the 40 scenes 0.12 took `auto`'s SAD 6.65 -> 6.54 and gradient
        0.166 -> 0.162, refine of the AI mask SAD 51 -> 45; thin recall
        lost 0.002-0.006; 0.16 and 0.2 did worse.)
    keep_thin : int
        Structures of the mask (alpha >= 0.5) narrower than
        ``2 * keep_thin + 1`` pixels are not taken below half where the
        new alpha still peaks at 0.25 or more within that width: the band
        solve sees a wire thinner than the lens blur as partly covered
        even in its middle and would break a 1-2 px link. Nor are pixels
        of wider parts of the mask where the new alpha is at least half its
        peak there (a wire the mask drew too fat). Refine may still lower
        a fattened link to half, raise anything, and remove a thin speck
        or line of the mask where it finds no wire. 0 lets refine lower
        them freely.
    tile : int
        Side of the square tiles the work is cut into (pixels); the result
        hardly depends on it.
    threads : int
        Worker threads over the tiles (OpenCV and numpy release the GIL for
        part of the work; on two busy cores it does not pay).
    """

    radius: float = 2.0
    smart_radius: bool = False
    max_radius: float = 8.0
    method: str = "local"
    smoothing: float = 1.0
    shadow_aware: bool = True
    shade_reach: float = 12.0
    known_low: float = 0.02
    known_high: float = 0.98
    min_contrast: float = 0.12
    keep_thin: int = 3
    tile: int = 128
    threads: int = 2

    def __post_init__(self):
        if not 0 <= self.radius <= 32:
            raise ValueError(f"radius must be in [0, 32], got {self.radius!r}")
        if not self.radius <= self.max_radius <= 32:
            raise ValueError(f"max_radius must be in [radius, 32], got {self.max_radius!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if not 0 <= self.smoothing <= 1:
            raise ValueError(f"smoothing must be in [0, 1], got {self.smoothing!r}")
        if not 0 <= self.shade_reach <= 40:
            raise ValueError(f"shade_reach must be in [0, 40], got {self.shade_reach!r}")
        if not 0 <= self.known_low < 0.5:
            raise ValueError(f"known_low must be in [0, 0.5), got {self.known_low!r}")
        if not 0.5 < self.known_high <= 1:
            raise ValueError(f"known_high must be in (0.5, 1], got {self.known_high!r}")
        if not 0 < self.min_contrast <= 1:
            raise ValueError(f"min_contrast must be in (0, 1], got {self.min_contrast!r}")
        if not 1 <= self.threads <= 64:
            raise ValueError(f"threads must be in [1, 64], got {self.threads!r}")
        if not 0 <= self.keep_thin <= 8:
            raise ValueError(f"keep_thin must be in [0, 8], got {self.keep_thin!r}")
        if not 16 <= self.tile <= 4096:
            raise ValueError(f"tile must be in [16, 4096], got {self.tile!r}")


# --- shared helpers (also used by decontaminate) ---------------------------


def _as_mask(mask, name, shape, *, copy=True):
    m = np.asarray(mask)
    if (not copy and m.dtype == np.float32 and m.ndim == 2 and m.flags.c_contiguous
            and m.size and 0.0 <= float(m.min()) and float(m.max()) <= 1.0):
        # already a valid mask (NaN fails both comparisons): no 100 MB copy
        if m.shape != tuple(shape):
            raise ValueError(f"{name} must have shape {tuple(shape)}, got {m.shape}")
        return m
    try:
        m = as_mask(mask)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if m.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {m.shape}")
    return m


def _check_progress(progress):
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be callable or None, got {progress!r}")


def _check_image(image, name="image"):
    """Validate like dtypes.as_float_image without converting the whole photo."""
    a = np.asarray(image)
    if a.ndim not in (2, 3) or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (H, W) or (H, W, C) array, got shape {a.shape}")
    try:
        as_float_image(a[:1, :1])
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    return a


def _crop_rgb(a, box):
    """float32 RGB of a crop (r0, c0, r1, c1), scaled as dtypes.as_float_image does."""
    r0, c0, r1, c1 = box
    return as_float_image(a[r0:r1, c0:c1])[0]


def _tile_boxes(active, T, halo, grid=None):
    """(core, crop) boxes (r0, c0, r1, c1) of the T x T tiles where `active` is True.

    `grid`, a per-tile bool array, may be given instead of the per-pixel `active`.
    """
    H, W = active.shape[:2]
    nr, nc = -(-H // T), -(-W // T)
    if grid is None:
        pad = np.zeros((nr * T, nc * T), bool)
        pad[:H, :W] = active
        grid = pad.reshape(nr, T, nc, T).any(axis=(1, 3))
    boxes = []
    for tr, tc in zip(*np.nonzero(grid)):
        r0, c0 = int(tr) * T, int(tc) * T
        r1, c1 = min(H, r0 + T), min(W, c0 + T)
        boxes.append(((r0, c0, r1, c1),
                      (max(0, r0 - halo), max(0, c0 - halo), min(H, r1 + halo), min(W, c1 + halo))))
    return boxes


def _tile_min_max(a, T):
    """Per-tile minimum and maximum of a 2-D array, without copying it."""
    H, W = a.shape
    nr, nc = -(-H // T), -(-W // T)
    tmin = np.empty((nr, nc), a.dtype)
    tmax = np.empty((nr, nc), a.dtype)
    for i in range(nr):
        rows = a[i * T:(i + 1) * T]
        n_full = W // T
        if n_full:
            blocks = np.lib.stride_tricks.as_strided(
                rows, (rows.shape[0], n_full, T), (rows.strides[0], T * rows.strides[1], rows.strides[1]))
            tmin[i, :n_full] = blocks.min(axis=(0, 2))
            tmax[i, :n_full] = blocks.max(axis=(0, 2))
        if n_full < nc:
            rest = rows[:, n_full * T:]
            tmin[i, -1] = rest.min()
            tmax[i, -1] = rest.max()
    return tmin, tmax


def _spread(plane: np.ndarray, nch: int) -> np.ndarray:
    """An (h, w) plane repeated over `nch` channels, (h, w, nch), to multiply or
    divide an image with: the same values as broadcasting ``plane[..., None]``,
    several times faster (numpy's inner loop over 3 channels is slow)."""
    return cv2.merge([plane] * nch) if nch > 1 else plane[..., None]


def _half(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[:2]
    return cv2.resize(x, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)


def fill(values: np.ndarray, weight: np.ndarray, fallback=None, *, dense: bool = False) -> np.ndarray:
    """Push-pull fill: a local weighted mean of `values` that reaches everywhere.

    Where the weight is 1 the value is kept; elsewhere the estimate comes
    from the finest scale of a weighted pyramid that has enough samples,
    and from `fallback` where no scale has any.

    Parameters
    ----------
    values : (h, w, 3) float32 array
    weight : (h, w) float32 array in [0, 1]
    fallback : (3,) or (h2, w2, 3) array, optional
        A colour, or a coarse field of the same area (resampled), for where
        there is no sample at all. Without it, the weighted mean of all the
        samples; and `values` unchanged when there is no sample.
    dense : bool
        The weights are already area fractions of a reduced image (one
        sample in four counts as a full sample).

    Returns
    -------
    (h, w, 3) float32 array
    """
    nch = values.shape[2]
    vs = [values * _spread(weight, nch)]
    ws = [weight.astype(np.float32)]
    while min(ws[-1].shape) > 4:
        vs.append(_half(vs[-1]))
        ws.append(_half(ws[-1]))
    hc, wc = ws[-1].shape
    if fallback is None:
        tot = float(ws[-1].sum())
        if tot <= 1e-8:
            return values.astype(np.float32, copy=True)
        fallback = vs[-1].reshape(-1, nch).sum(0) / tot
    fb = np.asarray(fallback, np.float32)
    if fb.ndim == 1:
        est = np.broadcast_to(fb, (hc, wc, nch))
    else:
        est = cv2.resize(fb, (wc, hc), interpolation=cv2.INTER_AREA).reshape(hc, wc, nch)
    for level in range(len(vs) - 1, -1, -1):
        v, w = vs[level], ws[level]
        h_, w_ = w.shape
        if est.shape[:2] != (h_, w_):
            est = cv2.resize(np.ascontiguousarray(est), (w_, h_), interpolation=cv2.INTER_LINEAR)
        up = est.reshape(h_, w_, nch)
        k = 4.0 if (level > 0 or dense) else 1.0
        a = _spread(np.minimum(w * k, 1.0), nch)
        # est = a * (v / max(w, 1e-8)) + (1 - a) * up, with two temporaries
        new = v.reshape(h_, w_, nch) / _spread(np.maximum(w, 1e-8), nch)
        new *= a
        np.subtract(1, a, out=a)
        a *= up
        new += a
        est = new
    return est.astype(np.float32, copy=False)


def _fill_small(values, weight, fallback=None):
    """Push-pull fill at half resolution (the estimates are smooth)."""
    h, w = weight.shape
    hs, ws = (h + 1) // 2, (w + 1) // 2
    nch = values.shape[2]
    vw = cv2.resize(values * _spread(weight, nch), (ws, hs), interpolation=cv2.INTER_AREA)
    ww = cv2.resize(weight.astype(np.float32), (ws, hs), interpolation=cv2.INTER_AREA)
    vals = vw / _spread(np.maximum(ww, 1e-8), nch)
    return fill(vals, ww, fallback, dense=True)


def _sample_small(small, rr, cc):
    """Bilinear samples of a half-resolution map at full-resolution pixels."""
    n = rr.size
    cols = 1024
    rows = -(-n // cols)
    mr = np.zeros(rows * cols, np.float32)
    mc = np.zeros(rows * cols, np.float32)
    mr[:n] = (rr + 0.5) * 0.5 - 0.5
    mc[:n] = (cc + 0.5) * 0.5 - 0.5
    out = cv2.remap(small, mc.reshape(rows, cols), mr.reshape(rows, cols), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(rows * cols, -1)[:n]


def _backdrop_estimate(I, known_b, plate):
    """The backdrop behind every pixel of a crop, (h, w, 3) float32.

    With a plate: the plate times the ratio image / plate measured on the
    confident-backdrop pixels nearby, so a contact shadow or a slightly
    wrong plate is corrected next to the jewelry. Without: a push-pull fill
    of the confident-backdrop pixels.
    """
    w = np.asarray(known_b, np.float32)
    if plate is None:
        return fill(I, w)
    if not w.any():
        return plate
    ratio = fill(I / np.maximum(plate, 1e-3), w, np.ones(3, np.float32))
    return plate * ratio


# the shading model's features: the mask blurred at these sigmas (px), and the
# x and y slopes of the blurs marked with a star (a shadow cast a little aside)
_SHADE_SIGMAS = (1.0, 2.0, 4.0, 8.0)
_SHADE_SLOPES = (2.0, 4.0)


def _shade_features(a):
    """The blurred masks and the slopes of two of them: a list of (h, w) float32."""
    fs = []
    h, w = a.shape
    half = None
    for sg in _SHADE_SIGMAS:
        if sg >= 4.0:
            # wide blurs at half resolution (a quarter of the work), brought back
            if half is None:
                half = cv2.resize(a, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
            b = cv2.resize(cv2.GaussianBlur(half, (0, 0), sg / 2), (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            b = cv2.GaussianBlur(a, (0, 0), sg)
        fs.append(b)
        if sg in _SHADE_SLOPES:
            # the slope times sigma: a shift of the blur by a fraction of sigma
            fs.append(cv2.Sobel(b, cv2.CV_32F, 1, 0, ksize=1, scale=0.5 * sg))
            fs.append(cv2.Sobel(b, cv2.CV_32F, 0, 1, ksize=1, scale=0.5 * sg))
    return fs


def _shaded_backdrop(I, a, known_b, plate, reach, base=None, ratio=None):
    """B, the backdrop behind every pixel of a crop, (h, w, 3) float32.

    The reference backdrop (the plate, or without one a push-pull fill of
    the confident backdrop farther than `reach` px from the jewelry)
    times its shading ``I / reference``, as a push-pull fill of the
    confident-backdrop pixels. Where the jewelry lies on the backdrop a
    contact shadow darkens it most *under* the soft edge, where it cannot
    be seen, so near the jewelry the shading is modelled instead: a linear
    function of the mask blurred at 1, 2, 4 and 8 px (and shifted, through
    the slopes), fitted by least squares (a little ridge) to the shading of
    the confident backdrop within `reach` px of the jewelry, and
    extrapolated under the edge. The colour of the correction stays the
    fill's; the model gives its brightness. `base`, when the caller has
    it, is that fill of ``I / plate`` (h, w, 3), not made again (with a
    plate only) and scaled in place (the caller has no more use for it);
    `ratio`, when the caller has it, is ``I / np.maximum(plate, 1e-3)``.
    """
    if not known_b.any():
        if plate is None:
            return I.copy()
        return plate if base is None else plate * base
    if reach <= 0:
        return _backdrop_estimate(I, known_b, plate)
    dist = cv2.distanceTransform(known_b.astype(np.uint8), cv2.DIST_L2, 3)
    near = known_b & (dist <= reach)
    if plate is None:
        far = known_b & ~near
        plate = fill(I, far.astype(np.float32)) if far.any() else fill(I, known_b.astype(np.float32))
    if ratio is None:
        ratio = I / np.maximum(plate, 1e-3)
    if base is None:
        base = fill(ratio, known_b.astype(np.float32), np.ones(3, np.float32))
    idx = np.flatnonzero(near)
    n = idx.size
    if n < 10 * (len(_SHADE_SIGMAS) + 2 * len(_SHADE_SLOPES) + 1):
        return plate * base
    fs = _shade_features(a)
    Xn = np.empty((n, len(fs) + 1), np.float32)
    Xn[:, 0] = 1.0
    for j, f in enumerate(fs):
        Xn[:, j + 1] = f.ravel()[idx]
    A = (Xn.T @ Xn).astype(np.float64) + (1e-3 * n) * np.eye(Xn.shape[1])
    # the mean of the three channels written out: numpy's mean over a last
    # axis of 3 adds in the same order ((r + g) + b) / 3, 20 times slower
    rn = np.take(ratio.reshape(-1, 3), idx, axis=0)
    target = (rn[:, 0] + rn[:, 1] + rn[:, 2]) / 3
    coef = np.linalg.solve(A, (Xn.T @ target).astype(np.float64))
    shade = np.full(a.shape, coef[0], np.float32)
    for c, f in zip(coef[1:], fs):
        shade += np.float32(c) * f
    np.clip(shade, 0.2, 1.5, out=shade)
    # the fill's colour (a plate a little off in hue), the model's brightness
    shade /= np.maximum(base @ np.full(3, 1.0 / 3.0, np.float32), 1e-3)
    base *= _spread(shade, 3)
    return plate * base


# --- the band ------------------------------------------------------------------

_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


@functools.lru_cache(maxsize=8)
def _radius_kernel(radius: float) -> np.ndarray:
    """The offsets within `radius` of a pixel by the distance transform's
    5 x 5 chamfer distance, (k, k) uint8: a dilation of the seeds by it is
    the band ``distanceTransform(~seeds, DIST_L2, 5) <= radius + 1e-3``
    (a chamfer distance is the cheapest path of mask steps from the
    nearest seed), a third of the time for small radii."""
    R = int(math.ceil(radius)) + 2
    g = np.ones((2 * R + 1, 2 * R + 1), np.uint8)
    g[R, R] = 0
    return (cv2.distanceTransform(g, cv2.DIST_L2, 5) <= radius + 1e-3).astype(np.uint8)


def _band(a0, brush, s):
    """Bool band of a crop: soft pixels, pixels near the 0.5 contour, the brush."""
    hard = (a0 >= 0.5).astype(np.uint8)
    contour = cv2.dilate(hard, _CROSS) != cv2.erode(hard, _CROSS)
    soft = (a0 > s.known_low) & (a0 < s.known_high)
    seeds = contour | soft
    band = soft.copy()
    if seeds.any() and s.radius > 0:
        if s.smart_radius and s.max_radius > s.radius:
            R = max(1, int(round(s.max_radius)))
            k = 2 * R + 1
            frac = cv2.boxFilter(soft.astype(np.float32), -1, (k, k), borderType=cv2.BORDER_REFLECT)
            # a hard anti-aliased edge has about one soft pixel across; a
            # defocused edge or a chain many
            detail = np.clip((frac * k / 2.0 - 1.0) / 2.0, 0.0, 1.0)
            radius = s.radius + (s.max_radius - s.radius) * detail
            dist, lab = cv2.distanceTransformWithLabels(
                (~seeds).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
            rad_of = np.concatenate([[0.0], radius[seeds]]).astype(np.float32)
            band |= dist <= rad_of[lab] + 1e-3
        elif s.radius <= 4:
            band |= cv2.dilate(seeds.astype(np.uint8), _radius_kernel(float(s.radius))) > 0
        else:
            dist = cv2.distanceTransform((~seeds).astype(np.uint8), cv2.DIST_L2, 5)
            band |= dist <= s.radius + 1e-3
    if brush is not None:
        band |= brush >= 0.5
    return band


# --- the colour model -----------------------------------------------------------


def _line_dots(Ip, B, F):
    """Per band pixel, with d = I - B and e = F - B: (d.e, d.d, e.e), float32.

    `Ip`, `B` and `F` are (n, 3): the colours of the band pixels."""
    n = Ip.shape[0]
    de = np.zeros(n, np.float32)
    dd = np.zeros(n, np.float32)
    ee = np.zeros(n, np.float32)
    for ch in range(3):
        d = Ip[:, ch] - B[:, ch]
        e = F[:, ch] - B[:, ch]
        de += d * e
        dd += d * d
        ee += e * e
    return de, dd, ee


# the shading model of the contact shadow also learns from pixels the mask
# gives at most this: the mask's soft halo around a lying piece is mostly
# the shadow it took for coverage, and the shadow is darkest there, next to
# the rim (40 scenes: 0 -> 0.3 took SAD 6.92 -> 6.82, gradient 0.177 ->
# 0.173; 0.15 and 0.45 gained less)
_SHADE_KNOWN = 0.3

# squared distance (RGB, 0-1) beyond the backdrop, away from the metal, at
# which the colour model keeps 1/e of its trust: about 0.1, the sweep's
# texture, noise and plate error together, not the metal's contrast
_BEYOND_B = 0.01

# unmixing in a shadow (see _unmix_in_shadow): trusted in full where the
# metal's colour lies at least this far (squared, RGB 0-1) from the
# backdrop's colour ray, twice as far as where it starts to count (about 0.1
# in distance: gold on white, linen or paper; silver and white gold on a
# neutral sweep stay with the line model). 40 scenes: 0.01 gained about half
# of what 0.005 did, 0.0025 no more
_UNMIX_SEP = 0.005
# ... and where the modelled backdrop is darker than the plate by this
# fraction (a contact shadow is there): off on a sweep under a hanging
# piece, where a silver prong by a coloured stone took the stone's colour
# for its own and read as shadow (40 scenes: prong recall 0.810 without
# this, 0.819 with)
_UNMIX_SHADE = 0.1


def _colour_model(I, a0, band, plate, s, fb, rr, cc):
    """New alpha and its confidence at the band pixels (rr, cc) of a crop.

    `fb` is (backdrop, foreground) coarse colour fields of the crop's area
    (or None), for where the crop holds no confident pixel of that kind.
    """
    # pixels are picked by flat index, and (n, 3) colour rows with np.take:
    # 4-5 times faster than a[rr, cc] and I.reshape(-1, 3)[p] (the same values)
    h, w = a0.shape
    p = rr * w + cc
    rows = I.reshape(-1, 3)
    known_f = (a0 >= s.known_high) & ~band
    wb = ((a0 <= s.known_low) & ~band).astype(np.float32)
    if s.shadow_aware:
        # smooth pixels the mask calls backdrop: a soft shadow, not a wire
        q = np.flatnonzero(band & (a0 < 0.5))
        if q.size:
            G = cv2.GaussianBlur(I, (0, 0), 2.0)
            d = np.abs(np.take(rows, q, axis=0) - np.take(G.reshape(-1, 3), q, axis=0))
            hp = np.maximum(np.maximum(d[:, 0], d[:, 1]), d[:, 2])
            wb.ravel()[q] = (hp < 0.03) * np.clip(1.0 - 2.0 * a0.ravel()[q], 0.0, 1.0)
    fb_b, fb_f = fb if fb is not None else (None, None)
    shaded = None  # the modelled backdrop's brightness, with a contact-shadow model
    if plate is None:
        Bs = _fill_small(I, wb, fb_b)
        B = _sample_small(Bs, rr, cc)
        Bfull = cv2.resize(Bs, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        # I / plate once for both fills, and the shading scaled in place by
        # the shadow model (the second division and the copy were 3 % of
        # the tiles' time at 24 MP)
        ratio_full = I / np.maximum(plate, 1e-3)
        ratio = _fill_small(ratio_full, wb, fb_b)
        shading = cv2.resize(ratio, (w, h), interpolation=cv2.INTER_LINEAR)
        Bfull = plate * shading
        if s.shadow_aware and s.shade_reach > 0:
            # the contact shadow under the edge, modelled (it may only darken)
            known = (wb > 0.5) | (a0 <= _SHADE_KNOWN)
            np.minimum(Bfull, _shaded_backdrop(I, a0, known, plate, s.shade_reach, base=shading,
                                               ratio=ratio_full), out=Bfull)
            B = np.take(Bfull.reshape(-1, 3), p, axis=0)
            # at the band pixels only, and written out: numpy's sum over a
            # last axis of 3 adds in this order, 20 times slower
            shaded = B[:, 0] + B[:, 1] + B[:, 2]
        else:
            B = np.take(plate.reshape(-1, 3), p, axis=0) * _sample_small(ratio, rr, cc)
    # foreground samples: the confident foreground, and the band pixels that
    # stand out most from the backdrop in their 5 x 5 neighbourhood (the
    # middle of a wire), so a chain with no fully covered pixel and no
    # confident metal nearby still gets its own colour
    wf = known_f.astype(np.float32)
    dn = norm3(I - Bfull)
    dmax = cv2.dilate(dn, np.ones((5, 5), np.uint8))
    # the power only where the weight can be non-zero (in the band, a sixth
    # of the crop; the same values): 3 % of the tiles' time
    sel = band & (dmax > s.min_contrast)
    wc = np.zeros(dn.shape, np.float32)
    wc[sel] = (dn[sel] / np.maximum(dmax[sel], 1e-6)) ** 8
    F_known = _sample_small(_fill_small(I, wf, fb_f), rr, cc)
    F_wire = _sample_small(_fill_small(I, wc, F_known.mean(0) if rr.size else None), rr, cc)
    # the confident metal nearby is the better colour (it lets a half-covered
    # wire be 0.5) when the pixel lies on its colour line; a wire of another
    # colour (a gold chain by a diamond) takes its own
    Ip = np.take(rows, p, axis=0)
    dk, dd, kk = _line_dots(Ip, B, F_known)
    cos = dk / np.sqrt(np.maximum(dd * kk, 1e-12))
    t = np.clip((cos - 0.985) / 0.01, 0.0, 1.0)[:, None]
    F = t * F_known + (1.0 - t) * F_wire
    ad_num, dd, den = _line_dots(Ip, B, F)
    ad = ad_num / (den + 1e-6)
    lower = use = None
    if shaded is not None:
        # under the edge the shadow is darker than the model makes it: where
        # the metal's colour tells it apart from a darker backdrop, let the
        # backdrop's brightness be free and take the lower alpha
        Pp = np.take(plate.reshape(-1, 3), p, axis=0)
        darkening = 1.0 - shaded / np.maximum(Pp[:, 0] + Pp[:, 1] + Pp[:, 2], 1e-3)
        au, wu, off_plane = _unmix_in_shadow(Ip, F, B, darkening)
        lower = wu * np.maximum(ad - np.clip(au, 0.0, 1.0), 0.0)
        use = wu * (au < ad)
    # how far I is from the segment B-F, in two parts: the squared distance
    # from the line, |d|^2 - (d.e)^2 / |e|^2, on a scale that grows with the
    # contrast (the metal's own shading); and, when I lies beyond B away from
    # F (brighter than the sweep where the metal is darker: a highlight or a
    # shading the local F does not hold, which no mix of B and F makes), the
    # squared distance beyond B, on the fixed scale of the backdrop's own
    # uncertainty. The model is not trusted in proportion.
    off_line = np.maximum(dd - ad * ad_num, 0.0)
    if use is not None:
        # where the shadow explains the pixel, its distance from that plane
        off_line = use * off_plane + (1.0 - use) * off_line
        ad = ad - lower
    beyond_b = np.minimum(ad_num, 0.0) * ad
    conf = (den / (den + np.float32(s.min_contrast ** 2))
            * np.exp(-off_line / (0.5 * den + 1e-3) - beyond_b / _BEYOND_B))
    return np.clip(ad, 0.0, 1.0), conf


def _unmix_in_shadow(Ip, F, B, darkening):
    """Alpha of pixels `Ip` (n, 3) with the backdrop's brightness left free.

    A shadow scales the backdrop's colour, so a pixel of the soft edge is
    ``I = a F + b B`` with ``b <= 1 - a`` in the shadow rather than
    ``b = 1 - a``: two unknowns from three channels, solvable where F is
    not a shade of B (gold on a white or linen backdrop). Returns (a, the
    weight this solution deserves, the squared distance of I from the plane
    of F and B): no weight where F is too close to B's colour ray, where
    the backdrop's share would have to be brighter than B (a highlight, or
    a metal of another colour than F), or where the modelled backdrop
    (`darkening`: its shortfall from the plate) shows no shadow.
    """
    FF = np.einsum("ij,ij->i", F, F)
    FB = np.einsum("ij,ij->i", F, B)
    BB = np.einsum("ij,ij->i", B, B)
    FI = np.einsum("ij,ij->i", F, Ip)
    BI = np.einsum("ij,ij->i", B, Ip)
    det = FF * BB - FB * FB
    inv = 1.0 / np.maximum(det, 1e-9)
    a = (FI * BB - BI * FB) * inv
    b = (BI * FF - FI * FB) * inv
    wt = np.clip((det / np.maximum(BB, 1e-9) - _UNMIX_SEP) / _UNMIX_SEP, 0.0, 1.0)
    wt *= np.clip((1.05 - b / np.maximum(1.0 - a, 1e-3)) / 0.05, 0.0, 1.0)
    wt *= np.clip(darkening / _UNMIX_SHADE, 0.0, 1.0)
    R = Ip - a[:, None] * F - b[:, None] * B
    return a, wt, np.einsum("ij,ij->i", R, R)


def _clean_up(I, a1, conf_map, rr, cc, strength):
    """3 x 3 cross-bilateral mean of alpha at (rr, cc), guided by the colours
    of the crop `I` ((h, w, 3), C-contiguous)."""
    h, w = a1.shape
    p = np.clip(rr, 1, h - 2) * w + np.clip(cc, 1, w - 2)
    # the nine neighbours as rows of one (9, n) array, their colours taken
    # with np.take as (9, n, 3): a few calls on larger arrays instead of
    # 9 x 10 small ones (the same sums in the same order; 24 MP: the
    # clean-up took over half the time)
    q = p + np.array([dr * w + dc for dr in (-1, 0, 1) for dc in (-1, 0, 1)])[:, None]
    rows = I.reshape(-1, 3)
    t = np.take(rows, q, axis=0)
    t -= np.take(rows, p, axis=0)
    t *= t
    d2 = t[..., 0] + t[..., 1]
    d2 += t[..., 2]
    af = a1.ravel()
    # a Cauchy weight: cheaper than a Gaussian and as edge-aware
    d2 *= np.float32(1.0 / 0.04 ** 2)
    d2 += 1.0
    wgt = conf_map.ravel()[q]
    wgt /= d2
    num = np.zeros(p.size, np.float32)
    den = np.zeros(p.size, np.float32)
    wa = wgt * af[q]
    for k in range(9):
        num += wa[k]
        den += wgt[k]
    smooth = num / np.maximum(den, 1e-6)
    return (1 - strength) * af[p] + strength * smooth


def _solve_local(I, a0, band, plate, s, fb, work):
    # flat indices (see _colour_model), and the rows and columns from them:
    # np.nonzero of a 2-D mask takes 4 times as long
    p = np.flatnonzero(work)
    rr = p // a0.shape[1]
    cc = p - rr * a0.shape[1]
    ad, conf = _colour_model(I, a0, band, plate, s, fb, rr, cc)
    a1 = np.array(a0, np.float32)  # a contiguous copy
    a1f = a1.ravel()
    a1f[p] = conf * ad + (1 - conf) * a1f[p]
    if s.smoothing > 0:
        cmap = np.ones_like(a1)
        cmap[band] = 0.0  # band pixels not solved here carry no information
        cmap.ravel()[p] = 0.25 + 0.75 * conf
        a1f[p] = _clean_up(I, a1, cmap, rr, cc, s.smoothing)
    return np.clip(a1, 0.0, 1.0)


def _solve_closed_form(I, a0, band, plate, s, fb, work, *, eps=1e-5, prior=0.01):
    """Levin's closed-form matting on the band, the colour model as a weak prior."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    h, w = a0.shape
    unk = band.copy()
    unk[0, :] = unk[-1, :] = False
    unk[:, 0] = unk[:, -1] = False
    rr, cc = np.nonzero(unk)
    n = rr.size
    if n == 0:
        return a0
    ad, conf = _colour_model(I, a0, band, plate, s, fb, rr, cc)
    a1 = conf * ad + (1 - conf) * a0[rr, cc]
    cen = cv2.dilate(unk.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    cen[0, :] = cen[-1, :] = False
    cen[:, 0] = cen[:, -1] = False
    cr, ccn = np.nonzero(cen)
    index = np.full(h * w, -1, np.int64)
    index[rr * w + cc] = np.arange(n)
    dr, dc = np.mgrid[-1:2, -1:2]
    flat = (cr[:, None] + dr.ravel()[None]) * w + (ccn[:, None] + dc.ravel()[None])
    X = I.reshape(-1, 3)[flat].astype(np.float64)
    Xc = X - X.mean(1, keepdims=True)
    cov = np.einsum("nki,nkj->nij", Xc, Xc) / 9 + (eps / 9) * np.eye(3)
    G = (1 + np.einsum("nki,nij,nlj->nkl", Xc, np.linalg.inv(cov), Xc)) / 9
    vals = np.eye(9)[None] - G
    ri = np.broadcast_to(index[flat][:, :, None], vals.shape)
    ci = np.broadcast_to(index[flat][:, None, :], vals.shape)
    m_uu = (ri >= 0) & (ci >= 0)
    A = sp.coo_matrix((vals[m_uu], (ri[m_uu], ci[m_uu])), shape=(n, n)).tocsr()
    m_uk = (ri >= 0) & (ci < 0)
    kv = np.broadcast_to(a0.ravel()[flat][:, None, :], vals.shape)
    rhs = -np.bincount(ri[m_uk], weights=vals[m_uk] * kv[m_uk], minlength=n)
    wp = prior * np.maximum(conf, 0.05).astype(np.float64)
    A = A + sp.diags(wp)
    rhs = rhs + wp * a1
    M = sp.diags(1.0 / np.maximum(A.diagonal(), 1e-9))
    sol, _ = spla.cg(A, rhs, x0=a1.astype(np.float64), rtol=1e-5, maxiter=500, M=M)
    out = a0.copy()
    out[rr, cc] = np.clip(sol, 0.0, 1.0)
    return out


# --- public ---------------------------------------------------------------------


def refine_band(alpha, *, brush=None, settings: RefineSettings = RefineSettings()) -> np.ndarray:
    """The band :func:`refine_edge` re-solves (for display, like Photoshop's Show Edge).

    Parameters
    ----------
    alpha : (H, W) array
        The current mask (float in [0, 1], uint8, uint16 or bool).
    brush : (H, W) array, optional
        The refine brush; pixels at 0.5 or above join the band.
    settings : RefineSettings

    Returns
    -------
    (H, W) bool array
    """
    if not isinstance(settings, RefineSettings):
        raise ValueError(f"settings must be a RefineSettings, got {type(settings).__name__}")
    a = as_mask(alpha)
    b = None if brush is None else _as_mask(brush, "brush", a.shape)
    pad = int(math.ceil(settings.max_radius)) + 2
    ap = np.pad(a, pad, mode="edge")
    bp = None if b is None else np.pad(b, pad)
    return _band(ap, bp, settings)[pad:-pad, pad:-pad]


def _coarse_fields(image, alpha, plate, s):
    """Backdrop (or backdrop / plate ratio) and foreground colour fields at
    1/8 scale, the context of every tile beyond its own halo.

    Returns (backdrop field, foreground field, scale factor). The
    reductions of the full-size maps, and the two fills, run side by side
    (on ``s.threads`` threads).
    """
    H, W = alpha.shape
    f = 8 if min(H, W) >= 128 else 1
    h, w = max(1, H // f), max(1, W // f)

    def small(x):
        # OpenCV cannot resize float16: such maps are reduced as float32
        x = np.ascontiguousarray(x, np.float32 if x.dtype == np.float16 else None)
        return x if f == 1 else cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA)

    image_s, a, *plate_s = pmap(small, [image, alpha] + ([] if plate is None else [plate]), s.threads)
    rgb = as_float_image(image_s)[0]
    wb = (a <= s.known_low).astype(np.float32)
    wf = (a >= s.known_high).astype(np.float32)
    grey = np.full(3, 0.5, np.float32)
    if plate is not None:
        ratio = rgb / np.maximum(as_float_image(plate_s[0])[0][..., :3], 1e-3)
        jobs = [(ratio, wb, np.ones(3, np.float32))]
    else:
        jobs = [(rgb, wb, grey if not wb.any() else None)]
    jobs.append((rgb, wf, grey if not wf.any() else None))
    fb, ff = pmap(lambda job: fill(*job), jobs, s.threads)
    return fb, ff, f


def _may_have_band(a, b, core, R, s) -> bool:
    """Whether the band can reach into the tile `core` (r0, c0, r1, c1): False
    when no seed of it (a soft pixel, or both sides of 0.5) lies within its
    reach (`R` px; the distance transform's 5 x 5 mask may shorten a
    distance by a few per cent) and no brush is in the core."""
    r0, c0, r1, c1 = core
    g = int(math.ceil(1.05 * R)) + 3
    near = a[max(0, r0 - g):r1 + g, max(0, c0 - g):c1 + g]
    if not (near.max() <= s.known_low or near.min() >= s.known_high):
        return True
    return b is not None and bool(b[r0:r1, c0:c1].max() >= 0.5)


# the least peak of the new alpha across a thin structure that keep_thin
# protects: a 1 px wire behind a lens blur of sigma 1.5 px shows about 0.27
WIRE_PEAK = 0.25


def _thin_parts(a: np.ndarray, r: int) -> np.ndarray:
    """Pixels of ``a >= 0.5`` that an opening with a disc of radius r removes."""
    m = (a >= 0.5).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return (m > 0) & ~(cv2.morphologyEx(m, cv2.MORPH_OPEN, k) > 0)


def refine_edge(image, alpha, *, brush=None, background=None,
                settings: RefineSettings = RefineSettings(), progress=None) -> np.ndarray:
    """Re-solve alpha in a narrow band around the edge of a mask.

    Parameters
    ----------
    image : (H, W, 3) or (H, W, 4) array, uint8, uint16 or float
        The photo (a fourth channel is ignored). Float images are taken as
        0-1 and not rescaled.
    alpha : (H, W) array
        The current mask: float in [0, 1], uint8, uint16 or bool.
    brush : (H, W) array, optional
        The refine brush (float in [0, 1], uint8, uint16 or bool): pixels
        at 0.5 or above are re-evaluated whatever their distance from the
        edge, to bring back a missed link or prong.
    background : (H, W, 3) array, optional
        The backdrop plate, the clean backdrop colour at every pixel
        (same dtype rules as `image`). A strong cue on a studio sweep: used
        when given, corrected for local shading next to the piece.
    settings : RefineSettings
    progress : callable(float), optional
        Called with the fraction done after each tile; may raise to cancel
        (the exception propagates, nothing is returned).

    Returns
    -------
    (H, W) float32 array in [0, 1]
        The refined mask: equal to `alpha` (as float32) outside the band.

    Raises
    ------
    ValueError
        On a bad argument (named in the message) or mismatched shapes.

    Examples
    --------
    >>> from jewelmask.refine import RefineSettings, refine_edge
    >>> alpha2 = refine_edge(photo, alpha, background=plate)  # doctest: +SKIP
    >>> wider = refine_edge(photo, alpha, settings=RefineSettings(smart_radius=True))  # doctest: +SKIP
    """
    if not isinstance(settings, RefineSettings):
        raise ValueError(f"settings must be a RefineSettings, got {type(settings).__name__}")
    _check_progress(progress)
    img = _check_image(image)
    H, W = img.shape[:2]
    a = _as_mask(alpha, "alpha", (H, W), copy=False)
    b = None if brush is None else _as_mask(brush, "brush", (H, W), copy=False)
    plate = None
    if background is not None:
        plate = _check_image(background, "background")
        if plate.ndim != 3 or plate.shape[:2] != (H, W) or plate.shape[2] < 3:
            raise ValueError(f"background must have shape {(H, W, 3)}, got {plate.shape}")
    s = settings
    report = progress or (lambda f: None)
    T = s.tile
    R = s.max_radius if s.smart_radius else s.radius
    halo = int(math.ceil(R)) + 2 * int(math.ceil(s.max_radius if s.smart_radius else 0)) + 14 + 2 * s.keep_thin
    # tiles that hold a seed of the band: a soft pixel, or both sides of 0.5
    tmin, tmax = _tile_min_max(a, T)
    seedy = ~((tmax <= s.known_low) | (tmin >= s.known_high)) | ((tmax >= 0.5) & (tmin < 0.5))
    grid = cv2.dilate(seedy.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    if b is not None:
        grid |= _tile_min_max(b, T)[1] >= 0.5
    boxes = [box for box in _tile_boxes(a, T, halo, grid=grid) if _may_have_band(a, b, box[0], R, s)]
    out = a.copy()
    if not boxes:
        report(1.0)
        return out
    coarse = _coarse_fields(img, a, plate, s)
    solve = _solve_local if s.method == "local" else _solve_closed_form

    def one(box):
        (r0, c0, r1, c1), (R0, C0, R1, C1) = box
        a0 = a[R0:R1, C0:C1]
        band = _band(a0, None if b is None else b[R0:R1, C0:C1], s)
        sl = (slice(r0 - R0, r1 - R0), slice(c0 - C0, c1 - C0))
        if not band[sl].any():
            return None
        # solve a one-pixel ring beyond the core too: the clean-up looks at it
        ir0, ic0 = max(r0 - R0 - 1, 0), max(c0 - C0 - 1, 0)
        work = np.zeros_like(band)
        work[ir0:r1 - R0 + 1, ic0:c1 - C0 + 1] = band[ir0:r1 - R0 + 1, ic0:c1 - C0 + 1]
        cb, cf, f = coarse
        cbox = (slice(R0 // f, max(R0 // f + 1, -(-R1 // f))),
                slice(C0 // f, max(C0 // f + 1, -(-C1 // f))))
        I = _crop_rgb(img, (R0, C0, R1, C1))
        pl = None if plate is None else _crop_rgb(plate, (R0, C0, R1, C1))
        res = solve(I, a0, band, pl, s, (cb[cbox], cf[cbox]), work)
        m = band[sl]
        new = res[sl][m]
        if s.keep_thin:
            # a wire narrower than the lens blur looks partly covered even in
            # its middle. Where the new alpha still sees a wire (a peak of
            # WIRE_PEAK or more within the structure's width; a speck of the
            # mask on bare sweep has none), what the mask holds keeps at
            # least half: all of a thin part of the mask, and elsewhere the
            # pixels at or above half the local peak (the edge of a blurred
            # step is at its half-maximum)
            thin = _thin_parts(a0, s.keep_thin)[sl][m]
            k = 2 * s.keep_thin + 1
            peak = cv2.dilate(res, np.ones((k, k), np.uint8))[sl][m]
            held = a0[sl][m]
            keep = (peak >= WIRE_PEAK) & (held >= 0.5) & (thin | (new >= 0.5 * peak))
            new = np.where(keep, np.maximum(new, np.minimum(held, 0.5)), new)
        return m, new

    workers = max(1, min(s.threads, len(boxes)))
    with _opencv_single_threaded(workers > 1):
        if workers == 1:
            results = map(one, boxes)
            pool = None
        else:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=workers)
            results = pool.map(one, boxes)
        try:
            for i, (box, res) in enumerate(zip(boxes, results)):
                if res is not None:
                    r0, c0, r1, c1 = box[0]
                    out[r0:r1, c0:c1][res[0]] = res[1]
                report((i + 1) / len(boxes))
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
    report(1.0)
    return out


_cv_lock = threading.Lock()
_cv_users = 0
_cv_saved = 1


@contextlib.contextmanager
def _opencv_single_threaded(on: bool):
    """OpenCV without its own threads while the tiles run on ours.

    The tiles are small: split further by OpenCV, its worker threads mostly
    wait for work, spinning, on the cores the tile threads need (24 MP,
    6000-02 on an idle 2-core machine: refine_edge 2.8-3.1 s CPU and
    1.7-1.9 s wall with OpenCV's 2 threads, 2.2-2.4 s and 1.6-1.7 s
    without; the same masks, as OpenCV's results do not depend on its
    threads). OpenCV's setting is the process's: it is restored when the
    last refine running in the process is done.
    """
    global _cv_users, _cv_saved
    if not on:
        yield
        return
    with _cv_lock:
        if _cv_users == 0:
            _cv_saved = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _cv_users += 1
    try:
        yield
    finally:
        with _cv_lock:
            _cv_users -= 1
            if _cv_users == 0:
                cv2.setNumThreads(_cv_saved)
