"""Mask to clipping path: sub-pixel contours fitted with smooth cubic Beziers.

1. The mask's 0.5 iso-line is found with marching squares
   (:func:`skimage.measure.find_contours`) on the mask padded with zeros, so
   every contour is closed. Contour points are converted to pixel coordinates
   (pixel centres at ``+0.5``).
2. Contours enclosing less than ``min_area`` square pixels (specks, and pin
   holes) are dropped.
3. Corners are found where the contour turns by more than ``corner_angle``
   degrees within about 2.5 px on either side; the stretches between corners
   are fitted by least-squares cubic Beziers with fixed end tangents, split
   recursively at the worst point and re-parameterised by Newton steps until
   every contour point is within ``tolerance`` pixels of the curve
   (P. J. Schneider, "An algorithm for automatically fitting digitized
   curves", Graphics Gems, 1990). Joins between fitted pieces are smooth
   (collinear handles) except at corners.

Outer boundaries run clockwise on screen and holes counter-clockwise, so the
traced path fills correctly with either fill rule.
"""

from __future__ import annotations

import numpy as np

from .model import Path, Subpath

__all__ = ["trace_mask"]


def _as_float_mask(mask):
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D (height, width), got shape {m.shape}")
    if m.dtype == bool:
        return m.astype(np.float32)
    if m.dtype == np.uint8:
        return m.astype(np.float32) / 255.0
    if m.dtype == np.uint16:
        return m.astype(np.float32) / 65535.0
    if np.issubdtype(m.dtype, np.floating):
        return m.astype(np.float32, copy=False)
    raise ValueError(f"mask must be bool, uint8, uint16 or float, got {m.dtype}")


def trace_mask(mask, *, tolerance: float = 0.5, min_area: float = 4.0,
               corner_angle: float = 60.0, name: str = "Traced mask") -> Path:
    """Trace a mask's 0.5 silhouette as a smooth Bezier path.

    Parameters
    ----------
    mask : ndarray, shape (H, W)
        bool, uint8 (0-255), uint16 (0-65535) or float in [0, 1].
    tolerance : float
        Largest distance in pixels between any point of the mask's 0.5 contour
        and the fitted curve. Smaller values give more nodes.
    min_area : float
        Contours enclosing less than this many square pixels are dropped (both
        specks and holes). 0 keeps everything.
    corner_angle : float
        Turning (in degrees, measured over about 2.5 px each side) above which
        a contour point becomes a corner node.
    name : str
        Name of the returned path.

    Returns
    -------
    Path
        Closed subpaths in pixel coordinates, ``fill_rule="evenodd"``, role
        ``"add"``.
    """
    from skimage.measure import find_contours

    if not (tolerance > 0 and np.isfinite(tolerance)):
        raise ValueError(f"tolerance must be a positive number of pixels, got {tolerance!r}")
    if not (min_area >= 0):
        raise ValueError(f"min_area must be >= 0, got {min_area!r}")
    if not (0 < corner_angle <= 180):
        raise ValueError(f"corner_angle must be in (0, 180] degrees, got {corner_angle!r}")
    m = _as_float_mask(mask)
    padded = np.pad(m, 1)
    subs = []
    for c in find_contours(padded, 0.5):
        pts = np.stack([c[:, 1] - 0.5, c[:, 0] - 0.5], axis=1)  # x, y in pixels
        if len(pts) > 1 and np.allclose(pts[0], pts[-1]):
            pts = pts[:-1]
        if len(pts) < 3:
            continue
        x, y = pts[:, 0], pts[:, 1]
        area = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
        if abs(area) < min_area or area == 0:
            continue
        # remove exact duplicates
        keep = np.r_[True, np.any(np.diff(pts, axis=0) != 0, axis=1)]
        pts = pts[keep]
        nodes = fit_closed_curve(pts, tolerance, corner_angle)
        subs.append(Subpath(nodes, True))
    return Path(tuple(subs), name=name, role="add", fill_rule="evenodd")


# ----------------------------------------------------------------------------- corner detection


def _corners(pts, corner_angle, span=2.5):
    """Indices of corner points of a closed polyline."""
    n = len(pts)
    seg = np.diff(np.vstack([pts, pts[:1]]), axis=0)
    seglen = np.hypot(seg[:, 0], seg[:, 1])
    total = seglen.sum()
    if n < 8 or total < 8 * span:
        return np.zeros(0, np.int64)
    s = np.r_[0.0, np.cumsum(seglen)[:-1]]  # arc length at each point
    ext_s = np.r_[s - total, s, s + total]
    ext_p = np.vstack([pts, pts, pts])
    idx_b = np.searchsorted(ext_s, s - span, side="right") - 1
    idx_a = np.searchsorted(ext_s, s + span, side="left")
    pb = ext_p[idx_b]
    pa = ext_p[idx_a]
    d1 = pts - pb
    d2 = pa - pts
    cross = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    dot = (d1 * d2).sum(1)
    ang = np.degrees(np.abs(np.arctan2(cross, dot)))
    # corners: above the threshold and the sharpest within the span
    from scipy.ndimage import maximum_filter1d

    k = max(1, int(np.ceil(span / max(np.median(seglen), 1e-6))))
    peak = maximum_filter1d(ang, size=2 * k + 1, mode="wrap")
    cand = np.flatnonzero((ang > corner_angle) & (ang >= peak))
    if cand.size > 1:  # plateaus: keep the first of neighbouring equal peaks
        gap = np.diff(np.r_[cand, cand[0] + n])
        cand = cand[np.roll(gap, 1) > k] if np.any(gap > k) else cand[:1]
    return cand


# ----------------------------------------------------------------------------- fitting


def _unit(v):
    n = np.hypot(v[0], v[1])
    return v / n if n > 0 else v


def _tangent_at(pts, i, direction, span=2.0):
    """Unit tangent at point i looking forward (direction=+1) or backward (-1)."""
    n = len(pts)
    acc = 0.0
    j = i
    while True:
        k = j + direction
        if k < 0 or k >= n:
            break
        acc += np.hypot(*(pts[k] - pts[j]))
        j = k
        if acc >= span:
            break
    return _unit(pts[j] - pts[i]) if j != i else np.zeros(2)


def _bezier(ctrl, u):
    mu = 1.0 - u
    return ((mu ** 3)[:, None] * ctrl[0] + (3 * mu * mu * u)[:, None] * ctrl[1]
            + (3 * mu * u * u)[:, None] * ctrl[2] + (u ** 3)[:, None] * ctrl[3])


def _chord_params(pts):
    d = np.r_[0.0, np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]
    return d / d[-1] if d[-1] > 0 else np.linspace(0, 1, len(pts))


def _generate(pts, u, t1, t2):
    """Least-squares cubic with end points fixed and tangent directions t1, t2."""
    p0, p3 = pts[0], pts[-1]
    mu = 1.0 - u
    b0, b1, b2, b3 = mu ** 3, 3 * u * mu * mu, 3 * u * u * mu, u ** 3
    a1 = b1[:, None] * t1
    a2 = b2[:, None] * t2
    c00 = (a1 * a1).sum()
    c01 = (a1 * a2).sum()
    c11 = (a2 * a2).sum()
    tmp = pts - (b0 + b1)[:, None] * p0 - (b2 + b3)[:, None] * p3
    x0 = (a1 * tmp).sum()
    x1 = (a2 * tmp).sum()
    det = c00 * c11 - c01 * c01
    seg = np.hypot(*(p3 - p0))
    alpha1 = alpha2 = 0.0
    if abs(det) > 1e-12:
        alpha1 = (x0 * c11 - x1 * c01) / det
        alpha2 = (c00 * x1 - c01 * x0) / det
    eps = 1e-6 * seg
    if alpha1 < eps or alpha2 < eps:
        alpha1 = alpha2 = seg / 3.0
    return np.array([p0, p0 + alpha1 * t1, p3 + alpha2 * t2, p3])


def _reparam(ctrl, pts, u):
    """One Newton step per point towards the closest curve parameter."""
    mu = 1.0 - u
    q = _bezier(ctrl, u)
    d1 = 3 * np.diff(ctrl, axis=0)
    d2 = 2 * np.diff(d1, axis=0)
    q1 = (mu * mu)[:, None] * d1[0] + (2 * mu * u)[:, None] * d1[1] + (u * u)[:, None] * d1[2]
    q2 = mu[:, None] * d2[0] + u[:, None] * d2[1]
    diff = q - pts
    num = (diff * q1).sum(1)
    den = (q1 * q1).sum(1) + (diff * q2).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(den != 0, num / den, 0.0)
    return np.clip(u - step, 0.0, 1.0)


def _max_error(ctrl, pts, u):
    d = _bezier(ctrl, u) - pts
    e = (d * d).sum(1)
    i = int(np.argmax(e))
    return float(e[i]), i


def tolerance_of(tol2):
    return float(np.sqrt(tol2))


def _fit(pts, t1, t2, tol2, out, depth=0):
    """Append fitted cubics (4, 2) for the open polyline ``pts`` to ``out``."""
    n = len(pts)
    if n == 2 or depth > 40:
        d = np.hypot(*(pts[-1] - pts[0])) / 3.0
        out.append(np.array([pts[0], pts[0] + d * t1, pts[-1] + d * t2, pts[-1]]))
        return
    chord = pts[-1] - pts[0]
    clen = np.hypot(chord[0], chord[1])
    if clen > 0:
        off = (pts - pts[0]) @ np.array([-chord[1], chord[0]]) / clen
        along = (pts - pts[0]) @ chord / clen
        if np.abs(off).max() ** 2 <= tol2 and along.min() >= -tolerance_of(tol2) \
                and along.max() <= clen + tolerance_of(tol2):
            # straight: a line segment (handles on the anchors)
            out.append(np.array([pts[0], pts[0], pts[-1], pts[-1]]))
            return
    u = _chord_params(pts)
    ctrl = _generate(pts, u, t1, t2)
    err, split = _max_error(ctrl, pts, u)
    if err <= 16 * tol2:
        # Newton re-parameterisation; keep polishing a fit that already meets
        # the tolerance while it still improves (same nodes, closer curve).
        best = (err, ctrl, split)
        for _ in range(8):
            u = _reparam(ctrl, pts, u)
            ctrl = _generate(pts, u, t1, t2)
            err, split = _max_error(ctrl, pts, u)
            if err < best[0]:
                improved = best[0] - err
                best = (err, ctrl, split)
                if err <= tol2 and improved < 0.01 * tol2:
                    break
        err, ctrl, split = best
    if err <= tol2:
        out.append(ctrl)
        return
    split = min(max(split, 1), n - 2)
    tc = _unit(_tangent_at(pts, split, -1) - _tangent_at(pts, split, +1))
    if not np.any(tc):
        tc = _unit(pts[split - 1] - pts[split + 1])
    _fit(pts[:split + 1], t1, tc, tol2, out, depth + 1)
    _fit(pts[split:], -tc, t2, tol2, out, depth + 1)


def _closed_tangent(pts, i):
    """Tangent direction at point i of a closed polyline (forward)."""
    n = len(pts)
    ext = np.vstack([pts[i:], pts[:i], pts[i:i + 1]])
    f = _tangent_at(ext, 0, +1)
    b = _tangent_at(np.vstack([pts[:i + 1][::-1], pts[i + 1:][::-1]]), 0, +1)
    return _unit(f - b)


def _sharpen_corners(pts, corners, near=0.75, far=3.0):
    """Move corner points to where the straight runs on either side meet.

    Marching squares cuts every corner of the silhouette by up to half a
    pixel; the lines fitted to the contour just before and after a corner
    meet where the corner really is. The point moves only if that is within
    one pixel.
    """
    pts = pts.copy()
    n = len(pts)
    for i in corners:
        sides = []
        for direction in (-1, 1):
            run, acc, j = [], 0.0, i
            for _ in range(n):
                k = (j + direction) % n
                acc += float(np.hypot(*(pts[k] - pts[j])))
                j = k
                if acc > far:
                    break
                if acc >= near:
                    run.append(pts[j])
            if len(run) < 2:
                break
            run = np.array(run)
            c = run.mean(0)
            _, _, vt = np.linalg.svd(run - c)
            sides.append((c, vt[0]))
        if len(sides) != 2:
            continue
        (c1, d1), (c2, d2) = sides
        den = d1[0] * d2[1] - d1[1] * d2[0]
        if abs(den) < np.sin(np.radians(20)):
            continue
        t = ((c2[0] - c1[0]) * d2[1] - (c2[1] - c1[1]) * d2[0]) / den
        x = c1 + t * d1
        if np.hypot(*(x - pts[i])) <= 1.0:
            pts[i] = x
    return pts


def fit_closed_curve(pts, tolerance, corner_angle=60.0) -> np.ndarray:
    """Fit a closed polyline (M, 2) with cubics; returns nodes (N, 3, 2)."""
    corners = _corners(pts, corner_angle)
    if corners.size:
        pts = _sharpen_corners(pts, corners)
    tol2 = tolerance * tolerance
    cubics = []
    if corners.size == 0:
        # start at the point farthest from the centroid (a stable, visible spot)
        i0 = int(np.argmax(((pts - pts.mean(0)) ** 2).sum(1)))
        ring = np.vstack([pts[i0:], pts[:i0], pts[i0:i0 + 1]])
        t = _closed_tangent(pts, i0)
        if len(ring) < 4:
            t = _unit(ring[1] - ring[0])
        _fit(ring, t, -t, tol2, cubics)
    else:
        k = len(corners)
        for j in range(k):
            a, b = corners[j], corners[(j + 1) % k]
            piece = pts[a:b + 1] if b > a else np.vstack([pts[a:], pts[:b + 1]])
            t1 = _tangent_at(piece, 0, +1)
            t2 = _tangent_at(piece, len(piece) - 1, -1)
            if not np.any(t1) or not np.any(t2):
                continue
            _fit(piece, t1, t2, tol2, cubics)
    cubics = np.array(cubics)  # (S, 4, 2): p0, c1, c2, p3; closed chain
    nodes = np.empty((len(cubics), 3, 2))
    nodes[:, 1] = cubics[:, 0]
    nodes[:, 2] = cubics[:, 1]
    nodes[:, 0] = np.roll(cubics[:, 2], 1, axis=0)
    return nodes
