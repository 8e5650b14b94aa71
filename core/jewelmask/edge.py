"""Edge controls as retouchers know them from Photoshop's Select and Mask.

:func:`adjust_edge` applies, in Photoshop's order, **smooth** (irons out
jaggies and small bumps of the outline), **feather** (a soft blur of the
edge), **contrast** (hardens a soft edge) and **shift edge** (moves the edge
out or in). Every control defaults to "no change", so
``adjust_edge(alpha)`` returns the mask as it was.

============  =============  ========  ==================================
control       range          default   unit
============  =============  ========  ==================================
``smooth``    0 ... 100      0         strength (integer, as in Photoshop)
``feather``   0 ... 250      0.0       pixels
``contrast``  0 ... 100      0.0       percent (as in Photoshop)
``shift``     -50 ... 50     0.0       pixels (Photoshop: percent)
============  =============  ========  ==================================

Photoshop gives Shift Edge in percent of an internal radius; jewelmask gives
it in pixels, because a mask for a packshot has to land on a known pixel.
Smoothing, feathering and shifting a mask inwards all cost thin structures
first: a 1 px chain does not survive ``shift=-1``. Use them on the bulk of a
piece, or limit them with a selection in the editor.

This module is pure numpy/OpenCV.
"""

from __future__ import annotations

import math
import numbers

import cv2
import numpy as np

from .dtypes import as_mask

__all__ = ["adjust_edge", "SMOOTH_RANGE", "FEATHER_RANGE", "CONTRAST_RANGE", "SHIFT_RANGE"]

SMOOTH_RANGE = (0, 100)
FEATHER_RANGE = (0.0, 250.0)
CONTRAST_RANGE = (0.0, 100.0)
SHIFT_RANGE = (-50.0, 50.0)

#: Blur (Gaussian sigma, px) that ``smooth=100`` applies to the outline.
SMOOTH_MAX_SIGMA = 4.0

#: Edge pixels resampled by one ``cv2.remap`` call (its maps must be narrower than 32767).
_REMAP_CHUNK = 16384


def _number(name, value, lo, hi, *, integer=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
    if integer and value != int(value):
        raise ValueError(f"{name} must be a whole number in [{lo}, {hi}], got {value!r}")
    if not (lo <= value <= hi) or math.isnan(value):
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value!r}")
    return int(value) if integer else float(value)


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(a, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)


def _smooth(a: np.ndarray, smooth: int) -> np.ndarray:
    """Blur the outline, then restore the edge's steepness around 0.5.

    A straight edge stays where it was (the blurred 0.5 level does not move)
    while bumps and notches narrower than the blur are ironed out.
    """
    sigma = SMOOTH_MAX_SIGMA * smooth / 100.0
    if sigma < 0.3:
        return a
    b = _blur(a, sigma)
    # slope of a blurred step at its centre is 1 / (sigma * sqrt(2 pi)) per px;
    # scaling by the inverse gives back a one-pixel ramp
    gain = sigma * math.sqrt(2.0 * math.pi)
    return np.clip(0.5 + gain * (b - 0.5), 0.0, 1.0)


def _contrast(a: np.ndarray, contrast: float) -> np.ndarray:
    """Stretch around 0.5: 100 % gives a hard (binary) edge."""
    c = contrast / 100.0
    if c >= 1.0:
        return (a >= 0.5).astype(np.float32)
    return np.clip(0.5 + (a - 0.5) / (1.0 - c), 0.0, 1.0)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _grow(a: np.ndarray, r: float) -> np.ndarray:
    """Move the edge outwards by r px (r > 0), keeping its soft profile.

    Whole pixels beyond the last two or three go by grey dilation with a
    disk, which translates a straight edge of any softness; the last two to
    four pixels go by resampling the mask along the edge normal, ``a'(p) = a(p + d n)``
    with ``n`` the unit normal pointing into the mask, which is exact to a
    fraction of a pixel in every direction (a disk of one pixel on the
    pixel grid is a cross, and would move a diagonal edge by 0.7 px only).
    """
    n = int(math.floor(r)) - 2 if r >= 4.0 else 0
    if n > 0:
        a = cv2.dilate(a, _disk(n), borderType=cv2.BORDER_REPLICATE)
    d = np.float32(r - n)
    g = cv2.GaussianBlur(a, (0, 0), 2.0, borderType=cv2.BORDER_REPLICATE)
    gc = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    gr = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    mag = np.sqrt(gr * gr + gc * gc)
    moving = mag > 1e-4
    if not moving.any():
        return a
    H, W = a.shape
    rr, cc = np.nonzero(moving)
    scale = d / mag[moving]
    map_c = (cc + gc[moving] * scale).astype(np.float32)
    map_r = (rr + gr[moving] * scale).astype(np.float32)
    sampled = np.empty(len(map_c), np.float32)
    for i in range(0, len(map_c), _REMAP_CHUNK):  # OpenCV's remap takes maps below 32767 wide
        part = slice(i, i + _REMAP_CHUNK)
        sampled[part] = cv2.remap(a, map_c[part].reshape(1, -1), map_r[part].reshape(1, -1),
                                  cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()
    out = a.copy()
    out[moving] = np.maximum(a[moving], sampled)
    return out


def _shift(a: np.ndarray, shift: float) -> np.ndarray:
    """Grow (shift > 0) or shrink (shift < 0) the mask by |shift| px."""
    if shift > 0:
        return _grow(a, shift)
    return 1.0 - _grow(1.0 - a, -shift)


def adjust_edge(alpha, *, smooth: int = 0, feather: float = 0.0, contrast: float = 0.0,
                shift: float = 0.0) -> np.ndarray:
    """Smooth, feather, contrast and shift the edge of a mask.

    Parameters
    ----------
    alpha : (H, W) array
        The mask: float in [0, 1], uint8, uint16 or bool.
    smooth : int, 0 ... 100
        Irons out jaggies and bumps of the outline. The outline is blurred
        with a Gaussian of sigma ``4 px * smooth / 100`` and the edge is then
        made as steep as before, so straight edges do not move; details
        narrower than about twice that sigma (thin wires, prongs) are lost.
    feather : float, 0 ... 250 px
        Soft edge: a Gaussian blur with sigma ``feather / 2``, so the ramp
        from 0 to 1 is about ``2 * feather`` px wide.
    contrast : float, 0 ... 100 %
        Hardens a soft edge: values are stretched around 0.5 by
        ``1 / (1 - contrast / 100)``; 100 % gives a binary mask.
    shift : float, -50 ... 50 px
        Moves the edge outwards (positive) or inwards (negative) by that
        many pixels, keeping its soft profile: grey-level dilation or
        erosion by a disk, and for the last one or two pixels a resampling
        along the edge normal, so fractions of a pixel and diagonal edges
        move by the right amount.

    Returns
    -------
    (H, W) float32 array in [0, 1]
        A new array, even when every control is at its default.

    Raises
    ------
    ValueError
        When a control is out of its range or not a number, or `alpha` is
        not a mask.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((5, 9), np.float32); a[:, 4:] = 1
    >>> adjust_edge(a, feather=2.0)[2, 2:6].round(2)
    array([0.06, 0.3 , 0.7 , 0.94], dtype=float32)
    """
    smooth = _number("smooth", smooth, *SMOOTH_RANGE, integer=True)
    feather = _number("feather", feather, *FEATHER_RANGE)
    contrast = _number("contrast", contrast, *CONTRAST_RANGE)
    shift = _number("shift", shift, *SHIFT_RANGE)
    try:
        a = as_mask(alpha)
    except ValueError as exc:
        raise ValueError(f"alpha: {exc}") from None
    if smooth:
        a = _smooth(a, smooth)
    if feather > 0:
        a = _blur(a, feather / 2.0)
    if contrast > 0:
        a = _contrast(a, contrast)
    if shift != 0:
        a = _shift(a, shift)
    return np.clip(a, 0.0, 1.0).astype(np.float32, copy=False)
