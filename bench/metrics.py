"""Per-image quality metrics for a predicted alpha against the synthetic ground truth.

All functions take ``pred`` and ``gt`` as (H, W) float arrays in [0, 1] (the
prediction is clipped to [0, 1]); label masks are (H, W) bool from
:class:`bench.synth.Scene`. "Foreground" in the ground truth means
``gt > 0`` unless said otherwise; a decision on the prediction is always
``pred >= 0.5``.

Error measures (lower is better):

``sad``
    Sum of absolute differences, ``sum |pred - gt|``, divided by 1000 (as
    reported on alphamatting.com).
``mse``
    Mean squared error over all pixels, ``mean (pred - gt)^2``.
``grad``
    Gradient error (Rhemann et al. 2009): ``sum (|grad pred| - |grad gt|)^2 / 1000``
    where ``grad`` is the first derivative of a Gaussian with sigma 1.4 along
    rows and columns (``scipy.ndimage.gaussian_filter`` with ``order=1``) and
    ``|.|`` the Euclidean magnitude of the two.
``conn``
    Connectivity error (Rhemann et al. 2009), see :func:`connectivity`; / 1000.

Rates in [0, 1]:

``iou``
    Intersection over union of ``pred >= 0.5`` and ``gt >= 0.5`` (higher is better).
``thin_recall``
    Fraction of ``thin`` pixels with ``pred >= 0.5`` (higher is better).
``prong_recall``
    Fraction of ``prong`` pixels with ``pred >= 0.5`` (higher is better).
``gap_fill``
    Fraction of ``gap`` pixels (background in link eyes, ring interiors,
    between prongs) with ``pred >= 0.5`` (lower is better).
``bg_fp``
    Fraction of background pixels (``gt == 0``; shadows and reflections
    included) farther than 2 px from any ``gt > 0`` pixel that have
    ``pred >= 0.5`` (lower is better).
``shadow_fp`` / ``reflection_fp``
    The same restricted to ``shadow`` / ``reflection`` pixels farther than
    2 px from the foreground (lower is better).

A rate whose label is empty in an image is ``nan`` and is left out of a set's
mean (:func:`mean_metrics` uses ``nanmean``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import cv2
import numpy as np
from scipy import ndimage

METRICS = (
    "sad",
    "mse",
    "grad",
    "conn",
    "iou",
    "thin_recall",
    "prong_recall",
    "gap_fill",
    "bg_fp",
    "shadow_fp",
    "reflection_fp",
)
"""Keys of :func:`all_metrics`, in table order."""

HIGHER_IS_BETTER = frozenset({"iou", "thin_recall", "prong_recall"})

_FAR_PX = 2.0


def _check(pred, gt) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.ndim != 2:
        raise ValueError(f"pred must be a 2-D (H, W) array, got shape {pred.shape}")
    if gt.shape != pred.shape:
        raise ValueError(f"pred and gt must have the same shape, got {pred.shape} and {gt.shape}")
    return np.clip(pred.astype(np.float32), 0.0, 1.0), np.clip(gt.astype(np.float32), 0.0, 1.0)


def sad(pred, gt) -> float:
    """Sum of absolute alpha differences / 1000."""
    p, g = _check(pred, gt)
    return float(np.abs(p - g).sum(dtype=np.float64) / 1000.0)


def mse(pred, gt) -> float:
    """Mean squared alpha difference over all pixels."""
    p, g = _check(pred, gt)
    d = (p - g).astype(np.float64)
    return float(np.mean(d * d))


def _grad_mag(a: np.ndarray, sigma: float) -> np.ndarray:
    gr = ndimage.gaussian_filter(a, sigma, order=(1, 0), mode="nearest")
    gc = ndimage.gaussian_filter(a, sigma, order=(0, 1), mode="nearest")
    return np.sqrt(gr * gr + gc * gc)


def gradient_error(pred, gt, *, sigma: float = 1.4) -> float:
    """Sum of squared differences of Gaussian-derivative gradient magnitudes / 1000."""
    p, g = _check(pred, gt)
    d = (_grad_mag(p, sigma) - _grad_mag(g, sigma)).astype(np.float64)
    return float(np.sum(d * d) / 1000.0)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    if n <= 1:
        return np.zeros(mask.shape, bool)
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return lab == k


def connectivity(pred, gt, *, step: float = 0.1, theta: float = 0.15) -> float:
    """Connectivity error (Rhemann et al. 2009) / 1000.

    For thresholds ``t = step, 2 step, ..., 1`` the source region ``Omega_t``
    is the largest 4-connected component of ``(pred >= t) & (gt >= t)`` (at
    ``t = 1`` the fully opaque region both agree on). A pixel's level ``l``
    is the last threshold before the first one at which it is outside
    ``Omega_t`` (1 if it never is). With ``d = alpha - l``, its degree of
    connectivity is ``phi = 1 - d * [d >= theta]``, and the error is
    ``sum |phi(pred) - phi(gt)|`` over all pixels (no trimap: the whole frame).
    """
    p, g = _check(pred, gt)
    n = int(round(1.0 / step))
    level = np.full(p.shape, -1.0, np.float32)
    for i in range(1, n + 1):
        t = i * step
        omega = _largest_component((p >= t - 1e-6) & (g >= t - 1e-6))
        newly = (level < 0) & ~omega
        level[newly] = (i - 1) * step
    level[level < 0] = 1.0
    dp = p - level
    dg = g - level
    phi_p = 1.0 - dp * (dp >= theta)
    phi_g = 1.0 - dg * (dg >= theta)
    return float(np.abs(phi_p - phi_g).sum(dtype=np.float64) / 1000.0)


def iou(pred, gt) -> float:
    """Intersection over union of ``pred >= 0.5`` and ``gt >= 0.5`` (1 if both are empty)."""
    p, g = _check(pred, gt)
    a, b = p >= 0.5, g >= 0.5
    union = int(np.count_nonzero(a | b))
    if union == 0:
        return 1.0
    return float(np.count_nonzero(a & b) / union)


def _rate(pred: np.ndarray, region: np.ndarray | None) -> float:
    if region is None:
        return math.nan
    region = np.asarray(region, bool)
    if region.shape != pred.shape:
        raise ValueError(f"label mask must have shape {pred.shape}, got {region.shape}")
    n = int(np.count_nonzero(region))
    if n == 0:
        return math.nan
    return float(np.count_nonzero(pred[region] >= 0.5) / n)


POOLED = ("thin", "prong", "gap")
"""The labels whose rates :func:`pooled_rates` also gives pooled over a set."""


def label_counts(pred, scene) -> dict[str, tuple[int, int]]:
    """(pixels with ``pred >= 0.5``, pixels) of each label of :data:`POOLED` in a scene."""
    p = np.asarray(pred, np.float32)
    out = {}
    for name in POOLED:
        region = np.asarray(getattr(scene, name), bool)
        out[name] = (int(np.count_nonzero(p[region] >= 0.5)), int(np.count_nonzero(region)))
    return out


def pooled_rates(counts: Iterable[Mapping[str, tuple[int, int]]]) -> dict[str, float]:
    """Rates over every labelled pixel of a set (:func:`label_counts` of each scene).

    The per-scene means of :func:`mean_metrics` give a scene with a few
    dozen prong pixels the weight of a whole chain; pooled, every labelled
    pixel weighs the same. Both are reported; the targets are on the means.
    """
    hits = dict.fromkeys(POOLED, 0)
    total = dict.fromkeys(POOLED, 0)
    for c in counts:
        for name in POOLED:
            hits[name] += c[name][0]
            total[name] += c[name][1]
    return {name: hits[name] / total[name] if total[name] else math.nan for name in POOLED}


def far_background(gt, *, distance: float = _FAR_PX) -> np.ndarray:
    """Pixels with ``gt == 0`` farther than ``distance`` px (Euclidean) from every ``gt > 0`` pixel."""
    g = np.asarray(gt)
    bg = (g <= 0).astype(np.uint8)
    if not bg.any():
        return np.zeros(g.shape, bool)
    if bg.all():
        return np.ones(g.shape, bool)
    dist = cv2.distanceTransform(bg, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist > distance


def thin_recall(pred, gt, thin) -> float:
    p, _ = _check(pred, gt)
    return _rate(p, thin)


def prong_recall(pred, gt, prong) -> float:
    p, _ = _check(pred, gt)
    return _rate(p, prong)


def gap_fill(pred, gt, gap) -> float:
    p, _ = _check(pred, gt)
    return _rate(p, gap)


def all_metrics(
    pred,
    gt,
    *,
    thin=None,
    prong=None,
    gap=None,
    shadow=None,
    reflection=None,
) -> dict[str, float]:
    """Every metric of :data:`METRICS` for one image, as a dict.

    Parameters
    ----------
    pred, gt : (H, W) float arrays in [0, 1]
    thin, prong, gap, shadow, reflection : (H, W) bool, optional
        Label masks; a missing or empty one gives ``nan`` for its rate.
    """
    p, g = _check(pred, gt)
    far = far_background(g)
    out = {
        "sad": sad(p, g),
        "mse": mse(p, g),
        "grad": gradient_error(p, g),
        "conn": connectivity(p, g),
        "iou": iou(p, g),
        "thin_recall": _rate(p, thin),
        "prong_recall": _rate(p, prong),
        "gap_fill": _rate(p, gap),
        "bg_fp": _rate(p, far),
        "shadow_fp": _rate(p, None if shadow is None else np.asarray(shadow, bool) & far),
        "reflection_fp": _rate(p, None if reflection is None else np.asarray(reflection, bool) & far),
    }
    return out


def scene_metrics(pred, scene) -> dict[str, float]:
    """:func:`all_metrics` with the ground truth and labels of a :class:`bench.synth.Scene`."""
    return all_metrics(
        pred,
        scene.alpha,
        thin=scene.thin,
        prong=scene.prong,
        gap=scene.gap,
        shadow=scene.shadow,
        reflection=scene.reflection,
    )


def mean_metrics(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each metric over a set, ignoring ``nan`` (a label absent from an image)."""
    rows = list(rows)
    out: dict[str, float] = {}
    keys = [k for k in METRICS if any(k in r for r in rows)]
    keys += sorted({k for r in rows for k in r} - set(keys))
    for k in keys:
        vals = np.array([float(r[k]) for r in rows if k in r], np.float64)
        ok = vals[~np.isnan(vals)]
        out[k] = float(ok.mean()) if len(ok) else math.nan
    return out
