"""Decontaminate colours: the true metal colour at soft edges.

At a soft edge a pixel mixes the jewelry and the sweep behind it,
``I = a F + (1 - a) B``. A cutout keeps ``I`` and the new alpha ``a``, so on
another backdrop the old one shows through: a white glow around every chain
link. :func:`decontaminate` estimates ``F`` where ``0 < a < 1``:

* ``B`` is the backdrop behind the pixel: a reference (the plate when the
  caller has one, otherwise a push-pull fill of the confident backdrop
  farther than ``shade_reach`` from the jewelry) times its shading
  ``I / reference``. Away from the jewelry the shading is a push-pull fill
  of the confident-backdrop pixels; under the soft edge, where a contact
  shadow is darkest and no backdrop pixel shows it, it is *modelled*: a
  linear function of the mask blurred at 1, 2, 4 and 8 px (and of the
  slopes of two of the blurs, for a shadow cast a little aside), fitted by
  ridge least squares to the shading of the confident backdrop within
  ``shade_reach`` (12 px) of the jewelry in the tile, and extrapolated
  under the edge (the fill keeps the colour of the correction);
* ``Q``, the backdrop's share of the photo, ``(1 - a) B`` as the lens
  records it: the lens's lateral chromatic aberration (red and blue scaled
  about the frame's centre against green) acts after the jewelry and the
  backdrop mix, so the glow it leaves is ``(1 - a) B`` with red and blue
  displaced. The displacement is estimated from the photo: near the mask's
  edge a 5 x 5 window of red (or blue) is an affine function of green,
  ``alpha + beta G``, and a radial displacement ``k (x - centre) / r_max``
  adds ``-beta k (x - centre) . grad G / r_max``; ``k`` is the least-squares
  value pooled over the windows of at most 48 tiles (photo smoothed by 1 px
  first, at most 0.5 % of ``r_max``);
* then through the camera's **sharpening**, an unsharp mask
  ``x + k (x - G * x)``, ``G`` a Gaussian of radius ``r``, both estimated
  from the halo it leaves on the backdrop within 3 px of the jewelry,
  ``-k G * (a (F - B))``, a bright rim beside dark metal. Per 256 px tile
  whose backdrop shows no contact shadow beside the edge (3-6 px and
  8-14 px from the jewelry within 1 % of each other: a shadow there is far
  larger than the halo), the luma of the photo over the reference backdrop
  is regressed on that halo (the contrast ``I - B`` read on the covered
  pixels, itself sharpened, so solved by fixed-point iteration), both less
  their local mean; per radius of 0.7, 1, 1.4, 2 and 2.8 px, ``k`` is the
  weighted median over at most 16 tiles, counted only if at least three
  tiles, and 70 % of them, give an amount in [-0.5, 1]; the radius is the
  one whose halo explains most (``sharpen_radius`` fixes it). No evidence:
  no sharpening;
* ``A``, the jewelry's coverage as the lens and the camera record it:
  ``a`` through the same displacement, per channel, and the same unsharp
  mask (the lens moves the metal's red and blue as much as the sweep's and
  the camera sharpens the metal too, so the cutout on black has the
  fringes and the inner halo as the photo does);
* ``Fl``, the local metal colour: the compositing equation ``I = A F + Q``
  solved in the least-squares sense over a small Gaussian window (sigma
  ``colour_radius``, 1 px) around the pixel, each neighbour weighted by
  its coverage squared::

      Fl = G * (A (I - Q)) / G * (A^2)

  (the window's fully covered pixels count fully, barely covered ones,
  whose un-mixed colour is mostly noise, hardly); where the window holds
  too little coverage, a push-pull fill of it;
* the pixel's own evidence, ``I - Q``, and ``A Fl`` are two estimates of
  the premultiplied foreground ``a F`` as the lens records it. The output
  takes the *luma* of the pixel's own estimate with weight
  ``a^2 / (a^2 + lam)`` (``lam``: ``regularisation``, 0.1) and the
  *chroma* of ``A Fl``: a JPEG stores colour at half resolution (4:2:0),
  so on a wire one or two pixels wide the chroma a pixel reads is its
  neighbours' as much as its own, while the luma is its own. ``F`` is that
  premultiplied estimate over ``a``.

On the benchmark (40 synthetic 1600x1200 packshots, ``docs/refine.md``) this
leaves 0.60 of the colour error of no decontamination on soft pixels (the
cutout on black against the jewelry as the camera records it on black;
0.61 without the plate): 0.65 without the sharpening, 0.67 with ``a`` in
place of ``A`` as well, 0.75 with the shading filled from the nearby
backdrop, no aberration and ``lam`` 0.3. The target, half, is not
reached. What is left is mostly the camera: the sharpening is found on 9
of the 23 sharpened frames (two at a wrong radius; 0.28 on one of the 17
others), not on the lying pieces, whose contact shadow fills the backdrop
beside the edge (the true radius given leaves 0.59); and the aberration
is estimated only
in part (the JPEG's 4:2:0 chroma blurs the fringes it is measured from;
the estimate is a quarter to two fifths of the true displacement on the
set; given it, 0.52). Given the frame's true sharpening and aberration
(passed through to ``Q`` and ``A`` alike), this estimator leaves 0.41.

The cost is per tile that holds soft pixels: it grows with the length of the
edge, not with the size of the photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .dtypes import as_float_image
from .refine import _as_mask, _check_image, _check_progress, _crop_rgb, _shaded_backdrop, _tile_boxes, fill

__all__ = ["DecontaminateSettings", "decontaminate"]


@dataclass(frozen=True)
class DecontaminateSettings:
    """Finer settings of :func:`decontaminate`.

    Attributes
    ----------
    regularisation : float
        ``lam`` above, in (0, 1]: how strongly a barely covered pixel takes
        the brightness of the metal nearby instead of its own. A pixel with
        ``a**2 == lam`` is half and half (0.1: at ``a`` of about 0.32).
        Lower trusts the pixel more, which the noise, sharpening halos and
        JPEG of a real photo punish (see ``docs/refine.md``).
    colour_radius : float
        Sigma (px) of the window the local metal colour ``Fl`` is solved
        over, in [0.5, 8].
    known_low : float
        Alpha at or below which a pixel is confident backdrop (the samples
        of ``B``).
    known_high : float
        Kept for callers that set it; unused since the local colour weighs
        every pixel by its coverage instead of taking confident foreground.
    tile : int
        Side of the square tiles the work is cut into (pixels).
    shade_reach : float
        How far from the jewelry (px) the confident backdrop is taken as
        evidence of the shading the backdrop has under the soft edge (a
        contact shadow), in [0, 40]; 0 fills the shading from the nearby
        backdrop instead of modelling it.
    chromatic_aberration : bool
        Estimate the lens's lateral chromatic aberration from the photo and
        pass the backdrop's share and the jewelry's coverage through it
        before un-mixing.
    sharpening : bool
        Estimate the camera's sharpening (an unsharp mask) from the halo
        it leaves on the backdrop beside the edge, and pass
        the backdrop's share and the jewelry's coverage through it too.
    sharpen_radius : float or None
        Sigma (px) of that unsharp mask, in [0.3, 4]; None (the default)
        estimates it too, as the radius of the grid 0.7, 1, 1.4, 2, 2.8 px
        whose halo explains most of the backdrop beside the edge.
    """

    regularisation: float = 0.1
    colour_radius: float = 1.0
    known_low: float = 0.02
    known_high: float = 0.98
    tile: int = 256
    shade_reach: float = 12.0
    chromatic_aberration: bool = True
    sharpening: bool = True
    sharpen_radius: float | None = None

    def __post_init__(self):
        if not 0 < self.regularisation <= 1:
            raise ValueError(f"regularisation must be in (0, 1], got {self.regularisation!r}")
        if not 0.5 <= self.colour_radius <= 8:
            raise ValueError(f"colour_radius must be in [0.5, 8], got {self.colour_radius!r}")
        if not 0 <= self.known_low < 0.5:
            raise ValueError(f"known_low must be in [0, 0.5), got {self.known_low!r}")
        if not 0.5 < self.known_high <= 1:
            raise ValueError(f"known_high must be in (0.5, 1], got {self.known_high!r}")
        if not 0 <= self.shade_reach <= 40:
            raise ValueError(f"shade_reach must be in [0, 40], got {self.shade_reach!r}")
        if self.sharpen_radius is not None and not 0.3 <= self.sharpen_radius <= 4:
            raise ValueError(f"sharpen_radius must be in [0.3, 4], got {self.sharpen_radius!r}")
        if not 32 <= self.tile <= 4096:
            raise ValueError(f"tile must be in [32, 4096], got {self.tile!r}")


# Rec. 601 luma weights (what JPEG uses): adding a grey level d to R, G and B
# changes the luma by d and leaves both chroma channels alone.
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _box(x, w):
    return cv2.boxFilter(x, -1, (w, w), borderType=cv2.BORDER_REFLECT)


def _ca_sums(I, a, origin, centre, rmax, s):
    """One crop's share of the lateral chromatic aberration's estimate.

    Near an edge of the mask a small window (5 x 5 px) of the red (or blue)
    channel is an affine function of the green one, ``alpha + beta G``,
    when the channels are aligned; a displacement ``d`` of the red channel
    adds ``-beta d . grad G``. With lateral chromatic aberration that
    displacement is radial, ``d = k (x - centre) / rmax``. Per channel this
    returns the numerator and the denominator of the least-squares ``k``
    pooled over the crop's windows (``grad G`` and the regression's
    residual after ``alpha + beta G`` in each window).
    """
    h, w = a.shape
    # all three channels smoothed alike (the noise and the JPEG's blocks out
    # of the slopes, without biasing the slope against the values)
    I = cv2.GaussianBlur(I, (0, 0), 1.0)
    g = np.ascontiguousarray(I[..., 1])
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=1) * 0.5
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=1) * 0.5
    xs = (np.arange(w, dtype=np.float32) + (origin[1] - centre[0])) / rmax
    ys = (np.arange(h, dtype=np.float32) + (origin[0] - centre[1])) / rmax
    vr = xs[None, :] * gx + ys[:, None] * gy
    x = g
    n = 5
    mx = _box(x, n)
    vxx = _box(x * x, n) - mx * mx
    sel = (a > s.known_low) & (a < s.known_high) & (vxx > 1e-3)
    if not sel.any():
        return np.zeros(2), np.zeros(2)
    iv = 1.0 / np.maximum(vxx, 1e-9)
    mz = _box(vr, n)
    cxz = _box(x * vr, n) - mx * mz
    czz = (_box(vr * vr, n) - mz * mz - cxz * cxz * iv)[sel]
    num, den = np.zeros(2), np.zeros(2)
    for j, ch in enumerate((0, 2)):
        y = np.ascontiguousarray(I[..., ch])
        my = _box(y, n)
        cxy = _box(x * y, n) - mx * my
        beta = (cxy * iv)[sel]
        czy = (_box(vr * y, n) - mz * my - cxz * cxy * iv)[sel]
        num[j] = -float(np.dot(czy, beta))
        den[j] = float(np.dot(czz, beta * beta))
    return num, den


def _lateral_ca(img, a, boxes, s):
    """The radial displacement (px at the corner) of red and of blue against green.

    Pooled over at most 48 of the tiles that hold soft pixels; 0 where the
    photo holds too little evidence, and at most 0.5 % of the half-diagonal.
    """
    H, W = a.shape
    centre = ((W - 1) / 2.0, (H - 1) / 2.0)
    rmax = math.hypot(W / 2.0, H / 2.0)
    num, den = np.zeros(2), np.zeros(2)
    step = max(1, len(boxes) // 48)
    for core, _ in boxes[::step]:
        # the tile and a margin for the windows and the smoothing (the
        # tiles' halos would count their windows twice)
        R0, C0 = max(0, core[0] - 6), max(0, core[1] - 6)
        R1, C1 = min(H, core[2] + 6), min(W, core[3] + 6)
        crop = (R0, C0, R1, C1)
        n_, d_ = _ca_sums(_crop_rgb(img, crop), a[R0:R1, C0:C1], (R0, C0), centre, rmax, s)
        num += n_
        den += d_
    k = np.where(den > 1e-9, num / np.maximum(den, 1e-12), 0.0)
    return np.clip(k, -0.005 * rmax, 0.005 * rmax), centre, rmax


def _through_ca(Q, k, origin, centre, rmax):
    """The backdrop's share as the lens records it: red and blue scaled about the centre."""
    out = Q.copy()
    h, w = Q.shape[:2]
    cx, cy = centre[0] - origin[1], centre[1] - origin[0]
    for ch, kc in ((0, k[0]), (2, k[1])):
        if abs(kc) < 1e-3:
            continue
        f = 1.0 + kc / rmax
        Mi = np.float32([[1 / f, 0, cx * (1 - 1 / f)], [0, 1 / f, cy * (1 - 1 / f)]])
        out[..., ch] = cv2.warpAffine(np.ascontiguousarray(Q[..., ch]), Mi, (w, h),
                                      flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                      borderMode=cv2.BORDER_REFLECT)
    return out


# the sharpening estimate: the halo is measured on backdrop pixels within
# _HALO_REACH px of the jewelry; a tile whose backdrop 3-6 px from the jewelry
# is more than _SHADOW_STEP darker or brighter than 8-14 px out holds a
# contact shadow (or a reflection) there, far larger than the halo, and is
# left out; a tile's amount outside _AMOUNT_RANGE is no camera's sharpening
# (a shadow the test missed) and counts against the estimate
_HALO_REACH = 3.0
_SHADOW_STEP = 0.01
_AMOUNT_RANGE = (-0.5, 1.0)


def _halo_sums(I, a, core, plate, radii, s):
    """One tile's least-squares sums for the sharpening amount at each radius, or None.

    On the backdrop next to the jewelry an unsharp mask of amount ``k``
    adds ``-k G * X``, ``X = a (F - B)`` the jewelry's contrast and ``G``
    the Gaussian of the radius: the contrast blurred onto the
    backdrop with the opposite sign, a bright rim beside dark metal. ``y``
    is the luma of the photo over the reference backdrop there; the
    contrast is read as ``D = I - B`` on the pixels the mask covers, which
    the unsharp mask has sharpened too, ``D = X + k (X - G * X)``, so on
    the covered pixels ``m`` the halo per unit amount is
    ``h(k) = -G * (m (D - k (D - G * D)))``. Both are taken less their
    mean over the backdrop in a 15 x 15 window (the shading), on the
    backdrop pixels within 3 px of the jewelry. Returns, per radius, the
    dot products of ``y``, ``h1 = -G * (m D)`` and ``h2 = -G * (m G * (m D))``:
    ``(h1.y, h2.y, h1.h1, h1.h2, h2.h2)``.
    """
    known_b = a <= s.known_low
    if not known_b.any() or known_b.all():
        return None
    dist = cv2.distanceTransform(known_b.astype(np.uint8), cv2.DIST_L2, 3)
    in_core = np.zeros(a.shape, bool)
    in_core[core] = True
    # all in luma: a JPEG keeps it at full resolution, and a third of the work
    luma = (I @ _LUMA)[..., None]
    if plate is None:
        far = known_b & (dist > s.shade_reach)
        plate_y = fill(luma, (far if far.any() else known_b).astype(np.float32))[..., 0]
    else:
        plate_y = plate @ _LUMA
    plate_y = np.maximum(plate_y, 1e-3)
    ratio = luma[..., 0] / plate_y
    mid = known_b & (dist > _HALO_REACH) & (dist <= 2 * _HALO_REACH) & in_core
    away = known_b & (dist > 8) & (dist <= 14) & in_core
    if mid.sum() < 50 or away.sum() < 50 or abs(float(ratio[away].mean() - ratio[mid].mean())) > _SHADOW_STEP:
        return None
    test = (a <= 0) & (dist <= _HALO_REACH) & in_core
    if not test.any():
        return None
    near = (known_b & (dist <= 2 * _HALO_REACH + 2)).astype(np.float32)
    # less the mean over the backdrop in a 15 x 15 window: the shading
    inv_count = 1.0 / np.maximum(_box(near, 15), 1e-6)

    def detrend(x):
        return (x - _box(x * near, 15) * inv_count)[test]

    y = detrend(ratio)
    # the backdrop behind the jewelry from beyond the halo (the tile has no
    # contact shadow, so a fill of the shading does)
    beyond = (known_b & (dist > _HALO_REACH)).astype(np.float32)
    backdrop_y = plate_y * fill(ratio[..., None], beyond, np.ones(1, np.float32))[..., 0]
    covered = (a > s.known_low).astype(np.float32)
    contrast = (luma[..., 0] - backdrop_y) * covered
    sums = []
    for radius in radii:
        blurred = cv2.GaussianBlur(contrast, (0, 0), radius)
        h1 = detrend(-blurred / plate_y)
        h2 = detrend(-cv2.GaussianBlur(blurred * covered, (0, 0), radius) / plate_y)
        sums.append([float(np.dot(u, v)) for u, v in ((h1, y), (h2, y), (h1, h1), (h1, h2), (h2, h2))])
    return sums


# the radii (sigma, px) the sharpening is tried at when it is not given, and
# the side of the tiles it is measured in
_SHARPEN_RADII = (0.7, 1.0, 1.4, 2.0, 2.8)
_HALO_TILE = 256


def _sharpen_amount(img, a, boxes, plate, s):
    """The camera's unsharp mask, from the halo beside the edge: (amount, radius).

    Per tile (`boxes`: at most 16 of them, spread over the list) and radius, the
    least-squares amount ``k = h(k) . y / h(k) . h(k)`` of
    :func:`_halo_sums`, solved by fixed-point iteration from 0. At a radius
    the amount is the tiles' median weighted by ``h . h``, provided at least
    three tiles, and at least 70 % of the tiles and of the weight, give an
    amount a camera could have used (``_AMOUNT_RANGE``), else 0. The radius
    is ``sharpen_radius`` or, when that is None, the one whose plausible
    tiles' halos explain most of ``y`` (``sum (h.y)^2 / h.h``). The amount
    is in [0, 1]; 0 without evidence.
    """
    radii = _SHARPEN_RADII if s.sharpen_radius is None else (s.sharpen_radius,)
    H, W = a.shape
    sums = []
    for i in np.unique(np.linspace(0, len(boxes) - 1, min(16, len(boxes))).round().astype(int)):
        core = boxes[i][0]
        # a margin for the 14 px of the shadow test and the local means
        R0, C0 = max(0, core[0] - 24), max(0, core[1] - 24)
        R1, C1 = min(H, core[2] + 24), min(W, core[3] + 24)
        crop = (R0, C0, R1, C1)
        inner = (slice(core[0] - R0, core[2] - R0), slice(core[1] - C0, core[3] - C0))
        t = _halo_sums(_crop_rgb(img, crop), a[R0:R1, C0:C1], inner,
                       None if plate is None else _crop_rgb(plate, crop), radii, s)
        if t is not None:
            sums.append(t)
    best = (0.0, radii[0], 0.0)  # (amount, radius, halo explained)
    if not sums:
        return best[:2]
    for j, radius in enumerate(radii):
        h1y, h2y, h11, h12, h22 = np.array([t[j] for t in sums]).T
        if not (h11 > 0).all():
            continue
        k = np.zeros(len(sums))
        for _ in range(6):
            # h(k) = h1 - k (h1 - h2), each tile at its own amount
            num = h1y - k * (h1y - h2y)
            den = np.maximum(h11 - 2 * k * (h11 - h12) + k * k * (h11 - 2 * h12 + h22), 1e-12)
            k = np.clip(num / den, -2.0, 2.0)
        ok = (k >= _AMOUNT_RANGE[0]) & (k <= _AMOUNT_RANGE[1])
        if ok.sum() < 3 or ok.sum() < 0.7 * k.size or den[ok].sum() < max(0.02, 0.7 * den.sum()):
            continue
        explained = float((num[ok] ** 2 / den[ok]).sum())
        if explained > best[2]:
            order = np.argsort(k[ok])
            cum = np.cumsum(den[ok][order])
            amount = float(np.clip(k[ok][order][np.searchsorted(cum, 0.5 * cum[-1])], 0.0, 1.0))
            best = (amount, radius, explained)
    return best[:2]


def _sharpened(x, amount, radius):
    """``x`` through the camera's unsharp mask."""
    return x + amount * (x - cv2.GaussianBlur(x, (0, 0), radius))


def _local_colour(I, A, Q, s, cap):
    """Fl: the foreground colour solved over a small window, (h, w, 3) float32.

    ``A`` (h, w, 3) is the jewelry's coverage as the lens records it in
    each channel and ``Q`` the backdrop's share of the photo, ``(1 - a) B``
    through the same lens. ``G * (A (I - Q)) / G * (A^2)``: the
    least-squares colour of the window under the compositing equation
    ``I = A F + Q``, each pixel weighted by its coverage squared. Where the
    window holds less than a fifth of a fully covered pixel's weight, a
    push-pull fill of the nearby estimates takes over.
    """
    num = cv2.GaussianBlur(A * (I - Q), (0, 0), s.colour_radius)
    den = cv2.GaussianBlur(A * A, (0, 0), s.colour_radius)
    Fl = np.clip(num / np.maximum(den, 1e-6), 0.0, cap)
    # a fully covered pixel alone has weight 1 / (2 pi sigma^2) at its centre
    full = 1.0 / (2.0 * math.pi * s.colour_radius ** 2)
    conf = np.clip(den.mean(2) / (0.2 * full), 0.0, 1.0).astype(np.float32)
    return fill(Fl.astype(np.float32), conf)


def decontaminate(image, alpha, *, background=None, strength: float = 1.0,
                  settings: DecontaminateSettings = DecontaminateSettings(),
                  progress=None) -> np.ndarray:
    """Estimate the foreground colour at soft edges, for a clean cutout.

    Parameters
    ----------
    image : (H, W, 3) or (H, W, 4) array, uint8, uint16 or float
        The photo (a fourth channel is ignored).
    alpha : (H, W) array
        The mask the cutout will use (float in [0, 1], uint8, uint16 or bool).
    background : (H, W, 3) float array, optional
        The backdrop plate: the clean backdrop colour at every pixel, in the
        same scale as `image` after conversion to float (0-1). Used when
        given, corrected for local shading around the jewelry.
    strength : float, 0 ... 1
        How much of the correction is applied (Photoshop's Amount):
        ``out = I + strength * (F - I)`` at soft pixels.
    settings : DecontaminateSettings
    progress : callable(float), optional
        Called with the fraction done; may raise to cancel.

    Returns
    -------
    (H, W, 3) float32 array
        The colours for the cutout, in [0, 1] for integer input (uint8 and
        uint16 are scaled to [0, 1], never back). Pixels with alpha 0 or 1
        keep their colour exactly.

    Raises
    ------
    ValueError
        On a bad parameter (named in the message) or mismatched shapes.

    Examples
    --------
    >>> rgb = decontaminate(photo, alpha, background=plate)  # doctest: +SKIP
    >>> cutout = np.dstack([rgb, alpha])  # doctest: +SKIP
    """
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) \
            or not 0.0 <= strength <= 1.0 or math.isnan(strength):
        raise ValueError(f"strength must be a number in [0, 1], got {strength!r}")
    _check_progress(progress)
    # the output is the only full-size float copy; tiles convert their own crop
    img = np.asarray(image)
    out, _ = as_float_image(img)
    H, W = out.shape[:2]
    a = _as_mask(alpha, "alpha", (H, W), copy=False)
    plate = None
    if background is not None:
        plate = _check_image(background, "background")
        if plate.shape[:2] != (H, W):
            raise ValueError(f"background must have shape {(H, W, 3)}, got {plate.shape}")
    s = settings
    report = progress or (lambda f: None)
    if strength == 0.0:
        report(1.0)
        return out
    cap = max(1.0, float(out.max()))  # float photos may hold highlights above 1
    soft_any = (a > 0.0) & (a < 1.0)
    boxes = _tile_boxes(soft_any, s.tile, halo=48)
    if s.chromatic_aberration and boxes:
        ca, centre, rmax = _lateral_ca(img, a, boxes, s)
    amount, radius = 0.0, 1.0
    if s.sharpening and boxes:
        # tiles of their own, so that the estimate does not depend on `tile`
        amount, radius = _sharpen_amount(img, a, _tile_boxes(soft_any, _HALO_TILE, halo=0), plate, s)
    for i, (core, crop) in enumerate(boxes):
        (r0, c0, r1, c1), (R0, C0, R1, C1) = core, crop
        I = _crop_rgb(img, crop)
        ac = a[R0:R1, C0:C1]
        known_b = ac <= s.known_low
        B = _shaded_backdrop(I, ac, known_b, None if plate is None else _crop_rgb(plate, crop), s.shade_reach)
        a3 = ac[..., None]
        Q = (1.0 - a3) * B  # the backdrop's share of the photo
        A = np.repeat(a3, 3, axis=2)  # the jewelry's coverage, per channel
        if s.chromatic_aberration:
            # the lens acts after the jewelry and the backdrop mix: on both shares alike
            Q = _through_ca(Q, ca, (R0, C0), centre, rmax)
            A = _through_ca(A, ca, (R0, C0), centre, rmax)
        if amount:
            # and the camera sharpens what the lens recorded
            Q = _sharpened(Q, amount, radius)
            A = _sharpened(A, amount, radius)
        Fl = _local_colour(I, A, Q, s, cap)
        prior = A * Fl  # premultiplied foreground from the local colour, through the lens
        own = I - Q  # ... and from the pixel alone
        w = ac * ac / (ac * ac + s.regularisation)
        P = prior + (w * ((own - prior) @ _LUMA))[..., None]
        F = np.clip(P / np.maximum(a3, 1e-6), 0.0, cap)
        sl = (slice(r0 - R0, r1 - R0), slice(c0 - C0, c1 - C0))
        m = soft_any[r0:r1, c0:c1]
        tile_out = out[r0:r1, c0:c1]
        tile_out[m] = I[sl][m] + strength * (F[sl][m] - I[sl][m])
        report((i + 1) / len(boxes))
    report(1.0)
    return out
