"""Decontaminate colours: the true metal colour at soft edges.

At a soft edge a pixel mixes the jewelry and the sweep behind it,
``I = a F + (1 - a) B``. A cutout keeps ``I`` and the new alpha ``a``, so on
another backdrop the old one shows through: a white glow around every chain
link. :func:`decontaminate` estimates ``F`` where ``0 < a < 1``:

* ``B`` is the backdrop behind the pixel: the plate when the caller has one
  (corrected for local shading, such as a contact shadow, measured on the
  backdrop next to the jewelry), otherwise a push-pull fill of the
  confident-background pixels around it;
* ``F`` solves the compositing equation, pulled towards ``F0``, the colour of
  the confident foreground nearby (and of the well-covered edge pixels, for
  a chain that has no fully covered pixel)::

      F = argmin |a F + (1 - a) B - I|^2 + lam |F - F0|^2
        = (a (I - (1 - a) B) + lam F0) / (a^2 + lam)

  so a nearly covered pixel keeps its own colour and a barely covered one
  takes the colour of the metal next to it.

The cost is per tile that holds soft pixels: it grows with the length of the
edge, not with the size of the photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .dtypes import as_float_image
from .refine import _as_mask, _backdrop_estimate, _check_progress, _tile_boxes, fill

__all__ = ["DecontaminateSettings", "decontaminate"]


@dataclass(frozen=True)
class DecontaminateSettings:
    """Finer settings of :func:`decontaminate`.

    Attributes
    ----------
    regularisation : float
        ``lam`` above, in (0, 1]: how strongly a barely covered pixel takes
        the colour of the metal nearby instead of solving the compositing
        equation on its own. A pixel with ``a**2 == lam`` is half and half
        (0.3: at ``a`` of about 0.55). Lower trusts the compositing equation
        more, which the noise, sharpening halos and JPEG of a real photo
        punish (see ``docs/refine.md``).
    known_low, known_high : float
        Alpha at or below which a pixel is confident backdrop, and at or
        above which it is confident foreground.
    tile : int
        Side of the square tiles the work is cut into (pixels).
    """

    regularisation: float = 0.3
    known_low: float = 0.02
    known_high: float = 0.98
    tile: int = 256

    def __post_init__(self):
        if not 0 < self.regularisation <= 1:
            raise ValueError(f"regularisation must be in (0, 1], got {self.regularisation!r}")
        if not 0 <= self.known_low < 0.5:
            raise ValueError(f"known_low must be in [0, 0.5), got {self.known_low!r}")
        if not 0.5 < self.known_high <= 1:
            raise ValueError(f"known_high must be in (0.5, 1], got {self.known_high!r}")
        if not 32 <= self.tile <= 4096:
            raise ValueError(f"tile must be in [32, 4096], got {self.tile!r}")


def _foreground_prior(I, a, B, s):
    """F0: the colour of confident foreground nearby, spread by push-pull.

    Well-covered edge pixels (a >= 0.5) also count, with their colour
    un-mixed from the backdrop and a weight that grows with a, so a thin
    chain with no fully covered pixel still gets its own metal colour.
    """
    known = a >= s.known_high
    mid = (a >= 0.5) & ~known
    vals = I.copy()
    if mid.any():
        am = a[mid][:, None]
        vals[mid] = np.clip((I[mid] - (1.0 - am) * B[mid]) / am, 0.0, max(1.0, float(I.max())))
    w = known.astype(np.float32)
    w[mid] = 0.25 * a[mid] ** 2
    return fill(vals, w)


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
    rgb, _ = as_float_image(image)
    a = _as_mask(alpha, "alpha", rgb.shape[:2])
    plate = None
    if background is not None:
        plate, _ = as_float_image(background)
        if plate.shape != rgb.shape:
            raise ValueError(f"background must have shape {rgb.shape}, got {plate.shape}")
    s = settings
    report = progress or (lambda f: None)
    out = rgb.copy()
    if strength == 0.0:
        report(1.0)
        return out
    soft_any = (a > 0.0) & (a < 1.0)
    boxes = _tile_boxes(soft_any, s.tile, halo=48)
    for i, (core, crop) in enumerate(boxes):
        (r0, c0, r1, c1), (R0, C0, R1, C1) = core, crop
        I = rgb[R0:R1, C0:C1]
        ac = a[R0:R1, C0:C1]
        known_b = ac <= s.known_low
        B = _backdrop_estimate(I, known_b, None if plate is None else plate[R0:R1, C0:C1])
        F0 = _foreground_prior(I, ac, B, s)
        lam = s.regularisation
        a3 = ac[..., None]
        F = (a3 * (I - (1.0 - a3) * B) + lam * F0) / (a3 * a3 + lam)
        F = np.clip(F, 0.0, max(1.0, float(I.max())))
        sl = (slice(r0 - R0, r1 - R0), slice(c0 - C0, c1 - C0))
        m = soft_any[r0:r1, c0:c1]
        tile_out = out[r0:r1, c0:c1]
        tile_out[m] = I[sl][m] + strength * (F[sl][m] - I[sl][m])
        report((i + 1) / len(boxes))
    report(1.0)
    return out
