"""Exact-area anti-aliased rasterisation of paths.

How it works
------------
1. Every cubic is flattened to chords that stay within ``tolerance`` pixels of
   the curve (default 0.002 px, see :data:`FLATTEN_TOLERANCE`).
2. Edges that cross other edges are split at the crossings, so that each
   stretch of boundary (a *run*) has one winding number on its left and one on
   its right. The fill rule decides, per run, whether it bounds the filled
   region (filled on one side only) and in which direction; runs that are
   filled (or empty) on both sides are dropped. What is left bounds the filled
   region exactly once, whatever the fill rule, overlaps and self-crossings.
3. The remaining edges are cut at every pixel row and column line. Each piece
   lies in one pixel; it adds its signed height times the part of the pixel to
   its right to that pixel, and its full signed height to every pixel further
   right (the "signed area accumulation" of font rasterisers, done as one
   ``bincount`` and one ``cumsum`` per row). The result is the exact area of
   each pixel covered by the flattened region; no supersampling, no blur.

Only the window where the path's bounding box meets the image is touched.
"""

from __future__ import annotations

import cv2
import numpy as np

from .model import FILL_RULES, Path, flatten_subpaths

__all__ = ["FLATTEN_TOLERANCE", "path_to_mask", "polygons_to_mask"]

#: Default chord tolerance in pixels. Chord vertices are moved off the curve so
#: that the area the chords cut off and add cancel (see
#: :func:`~jewelmask.paths.model.flatten_segments`); on circles what is left
#: is about 0.0002 per edge pixel (a twentieth of an 8-bit level).
FLATTEN_TOLERANCE = 0.002


def _check_shape(shape):
    try:
        h, w = int(shape[0]), int(shape[1])
    except (TypeError, IndexError, ValueError):
        raise ValueError(f"shape must be (height, width), got {shape!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"shape must be positive (height, width), got {shape!r}")
    return h, w


def path_to_mask(path: Path, shape, *, fill_rule: str | None = None,
                 tolerance: float = FLATTEN_TOLERANCE) -> np.ndarray:
    """Rasterise a path to an anti-aliased coverage mask.

    Parameters
    ----------
    path : Path
        The path, in pixel coordinates (see :mod:`jewelmask.paths.model`).
        Open subpaths are closed with a straight line.
    shape : tuple of int
        ``(height, width)`` of the mask (extra trailing dimensions, as in an
        image's ``.shape``, are ignored).
    fill_rule : {"nonzero", "evenodd"}, optional
        Which regions are inside. Defaults to ``path.fill_rule``.
    tolerance : float, optional
        Largest distance in pixels between a curve and the chords it is
        flattened to.

    Returns
    -------
    mask : ndarray of float32, shape (height, width)
        In ``[0, 1]``: the fraction of each pixel's area inside the path.

    Examples
    --------
    >>> from jewelmask.paths import rectangle_path
    >>> m = path_to_mask(rectangle_path(1.5, 1, 3, 2), (3, 4))
    >>> m[1].tolist()
    [0.0, 0.5, 1.0, 0.0]
    """
    if not isinstance(path, Path):
        raise ValueError(f"path must be a jewelmask.paths.Path, got {type(path).__name__}")
    rule = path.fill_rule if fill_rule is None else fill_rule
    rings = flatten_subpaths(path.subpaths, tolerance, area_correct=True)
    mask = polygons_to_mask(rings, shape, fill_rule=rule)
    if path.inverted:
        np.subtract(1.0, mask, out=mask)
    return mask


def polygons_to_mask(rings, shape, *, fill_rule: str = "nonzero") -> np.ndarray:
    """Exact-area coverage of closed polygons (list of (M, 2) ``x, y`` arrays).

    See :func:`path_to_mask`; this is the same without the curve flattening.
    """
    if fill_rule not in FILL_RULES:
        raise ValueError(f"fill_rule must be one of {FILL_RULES}, got {fill_rule!r}")
    h, w = _check_shape(shape)
    out = np.zeros((h, w), np.float32)
    edges, ring_id = _ring_edges(rings)
    if len(edges) == 0:
        return out
    xs = edges[:, [0, 2]]
    ys = edges[:, [1, 3]]
    # Window: the path's bounding box on the image. Outside it every pixel row
    # is crossed as often upwards as downwards, so coverage there is zero; the
    # parts of the path left of the image still matter (they cover whole rows
    # of the window) and are kept, flattened onto its left edge.
    r0 = max(int(np.floor(ys.min())), 0)
    r1 = min(int(np.ceil(ys.max())), h)
    c0 = max(int(np.floor(xs.min())), 0)
    c1 = min(int(np.ceil(xs.max())), w)
    if r1 <= r0 or c1 <= c0:
        return out
    edges = edges - np.array([c0, r0, c0, r0], dtype=np.float64)
    edges, run_id = _split_at_crossings(edges, ring_id)
    _coverage(edges, run_id, r1 - r0, c1 - c0, fill_rule, out[r0:r1, c0:c1])
    return out


# ----------------------------------------------------------------------------- edges


def _ring_edges(rings):
    """Edges (E, 4) as x0, y0, x1, y1 and the ring each belongs to."""
    rings = [np.asarray(r, dtype=np.float64).reshape(-1, 2) for r in rings]
    rings = [r for r in rings if len(r) >= 2]
    if not rings:
        return np.zeros((0, 4)), np.zeros(0, np.int64)
    counts = np.array([len(r) for r in rings])
    pts = np.concatenate(rings)
    if not np.all(np.isfinite(pts)):
        raise ValueError("path coordinates must be finite, got NaN or infinity")
    start = np.cumsum(counts) - counts
    nxt = np.arange(len(pts)) + 1
    nxt[start + counts - 1] = start
    edges = np.concatenate([pts, pts[nxt]], axis=1)
    ring_id = np.repeat(np.arange(len(rings)), counts)
    keep = (edges[:, 0] != edges[:, 2]) | (edges[:, 1] != edges[:, 3])
    return edges[keep], ring_id[keep]


def _split_at_crossings(edges, ring_id):
    """Split edges where they cross other edges; return edges and run ids.

    A run is a maximal stretch of one ring between crossings: the winding
    numbers on either side of it are constant along it.
    """
    n = len(edges)
    ti, tt = _find_crossings(edges, ring_id)
    if len(ti) == 0:
        return edges, ring_id.copy()
    # Breaks: a crossing inside an edge splits it; one at its start (t ~ 0)
    # breaks the run before the edge; one at its end, before the next edge.
    eps = 1e-9
    interior = (tt > eps) & (tt < 1 - eps)
    brk_start = np.zeros(n, bool)
    brk_start[ti[tt <= eps]] = True
    end_hits = ti[tt >= 1 - eps]
    # the edge after an edge is the next one in the same ring (wrapping)
    nxt = np.arange(n) + 1
    ring_start = np.r_[0, np.flatnonzero(np.diff(ring_id)) + 1]
    ring_end = np.r_[ring_start[1:], n] - 1
    nxt[ring_end] = ring_start
    brk_start[nxt[end_hits]] = True
    ti, tt = ti[interior], tt[interior]
    # new vertices
    allt = np.concatenate([np.zeros(n), tt])
    owner = np.concatenate([np.arange(n), ti])
    order = np.argsort(owner * 2.0 + allt, kind="stable")
    allt, owner = allt[order], owner[order]
    is_cross = np.concatenate([np.zeros(n, bool), np.ones(len(tt), bool)])[order]
    tnext = np.r_[allt[1:], 1.0]
    last = np.r_[owner[1:] != owner[:-1], True]
    tnext[last] = 1.0
    e = edges[owner]
    d = e[:, 2:] - e[:, :2]
    a = e[:, :2] + allt[:, None] * d
    b = e[:, :2] + tnext[:, None] * d
    b[last] = e[last, 2:]
    new = np.concatenate([a, b], axis=1)
    brk = is_cross | ((allt == 0) & brk_start[owner])
    first_of_ring = np.r_[True, ring_id[owner][1:] != ring_id[owner][:-1]]
    run = np.cumsum(brk | first_of_ring) - 1
    keep = (new[:, 0] != new[:, 2]) | (new[:, 1] != new[:, 3])
    return new[keep], run[keep]


def _find_crossings(edges, ring_id):
    """All proper crossings between non-adjacent edges.

    Candidate pairs come from a uniform grid (long edges are cut into pieces no
    longer than a cell for the lookup); edges of the same y-monotone chain of a
    ring are never tested, since such a chain cannot cross itself.

    Returns
    -------
    idx : ndarray of int
        Edge index, one entry per edge per crossing.
    t : ndarray of float
        Parameter of the crossing along that edge.
    """
    n = len(edges)
    if n < 3:
        return np.zeros(0, np.int64), np.zeros(0)
    x0, y0, x1, y1 = edges.T
    dy = y1 - y0
    # y-monotone chains: a new chain starts where the vertical direction flips
    sgn = np.sign(dy)
    ring_start = np.r_[True, ring_id[1:] != ring_id[:-1]]
    # horizontal edges join the chain before them
    s_ff = sgn.copy()
    nz = s_ff != 0
    idx_nz = np.where(nz | ring_start, np.arange(n), 0)
    np.maximum.accumulate(idx_nz, out=idx_nz)
    s_ff = s_ff[idx_nz]
    chain = np.cumsum(ring_start | np.r_[True, s_ff[1:] != s_ff[:-1]])
    length = np.hypot(x1 - x0, dy)
    cell = float(np.clip(4.0 * np.median(length), 4.0, 256.0))
    cell = max(cell, float(length.sum()) / 200_000.0)  # bound the lookup work
    # cut edges into lookup pieces of at most one cell
    k = np.maximum(np.ceil(length / cell).astype(np.int64), 1)
    pe = np.repeat(np.arange(n), k)
    j = np.arange(pe.size) - (np.cumsum(k) - k)[pe]
    ta = j / k[pe]
    tb = (j + 1) / k[pe]
    px0 = x0[pe] + ta * (x1 - x0)[pe]
    px1 = x0[pe] + tb * (x1 - x0)[pe]
    py0 = y0[pe] + ta * dy[pe]
    py1 = y0[pe] + tb * dy[pe]
    xmin = np.floor(np.minimum(px0, px1) / cell).astype(np.int64)
    xmax = np.floor(np.maximum(px0, px1) / cell).astype(np.int64)
    ymin = np.floor(np.minimum(py0, py1) / cell).astype(np.int64)
    ymax = np.floor(np.maximum(py0, py1) / cell).astype(np.int64)
    # each piece covers at most 2 x 2 cells
    cx = np.concatenate([xmin, xmax, xmin, xmax])
    cy = np.concatenate([ymin, ymin, ymax, ymax])
    owner = np.tile(pe, 4)
    key = (cy - cy.min()) * (cx.max() - cx.min() + 1) + (cx - cx.min())
    kk = np.unique(key * n + owner)  # one entry per (cell, edge), sorted by cell
    key, owner = kk // n, kk % n
    grp_start = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
    sizes = np.diff(np.r_[grp_start, len(key)])
    multi = sizes > 1
    if not np.any(multi):
        return np.zeros(0, np.int64), np.zeros(0)
    pos = np.arange(len(key)) - np.repeat(grp_start, sizes)
    gsize = np.repeat(sizes, sizes)
    cnt = gsize - 1 - pos
    first = np.repeat(np.arange(len(key)), cnt)
    off = np.arange(first.size) - (np.cumsum(cnt) - cnt)[first]
    second = first + 1 + off
    a = owner[first]
    b = owner[second]
    ok = chain[a] != chain[b]
    a, b = a[ok], b[ok]
    # drop neighbours in the same ring (they share a vertex)
    nxt = np.arange(n) + 1
    rs = np.flatnonzero(ring_start)
    re = np.r_[rs[1:], n] - 1
    nxt[re] = rs
    ok = (nxt[a] != b) & (nxt[b] != a)
    a, b = a[ok], b[ok]
    if a.size == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pair = np.unique(lo * n + hi)
    a, b = pair // n, pair % n
    # segment intersection
    px, py = x0[a], y0[a]
    rx, ry = x1[a] - px, y1[a] - py
    qx, qy = x0[b], y0[b]
    sx, sy = x1[b] - qx, y1[b] - qy
    den = rx * sy - ry * sx
    wx, wy = qx - px, qy - py
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (wx * sy - wy * sx) / den
        u = (wx * ry - wy * rx) / den
    eps = 1e-12
    hit = (den != 0) & (t >= -eps) & (t <= 1 + eps) & (u >= -eps) & (u <= 1 + eps)
    a, b, t, u = a[hit], b[hit], np.clip(t[hit], 0, 1), np.clip(u[hit], 0, 1)
    return np.concatenate([a, b]), np.concatenate([t, u])


# ----------------------------------------------------------------------------- coverage


def _grid_pieces(edges, h, w):
    """Cut edges at every integer x in [0, w] and y in [0, h].

    Returns unclamped piece endpoints (P, 4) and the owning edge index.
    """
    x0, y0, x1, y1 = edges.T
    xmin, xmax = np.minimum(x0, x1), np.maximum(x0, x1)
    ymin, ymax = np.minimum(y0, y1), np.maximum(y0, y1)
    keep = (ymax > 0) & (ymin < h) & (xmin < w)
    idx = np.flatnonzero(keep)
    x0, y0, x1, y1 = x0[idx], y0[idx], x1[idx], y1[idx]
    xmin, xmax, ymin, ymax = xmin[idx], xmax[idx], ymin[idx], ymax[idx]
    m = len(idx)
    ts = [np.zeros(m), np.ones(m)]
    owners = [np.arange(m), np.arange(m)]
    for lo_v, hi_v, a, b, limit in ((xmin, xmax, x0, x1, w), (ymin, ymax, y0, y1, h)):
        k_lo = np.maximum(np.floor(lo_v) + 1, 0)
        k_hi = np.minimum(np.ceil(hi_v) - 1, limit)
        cnt = np.maximum(k_hi - k_lo + 1, 0).astype(np.int64)
        if cnt.sum() == 0:
            continue
        own = np.repeat(np.arange(m), cnt)
        k = k_lo[own] + (np.arange(own.size) - (np.cumsum(cnt) - cnt)[own])
        t = (k - a[own]) / (b - a)[own]
        ts.append(t)
        owners.append(own)
    t = np.concatenate(ts)
    own = np.concatenate(owners)
    order = np.argsort(own * 2.0 + t)
    t, own = t[order], own[order]
    same = own[1:] == own[:-1]
    o = own[:-1][same]
    ta, tb = t[:-1][same], t[1:][same]
    dx, dyy = (x1 - x0)[o], (y1 - y0)[o]
    pieces = np.stack([x0[o] + ta * dx, y0[o] + ta * dyy, x0[o] + tb * dx, y0[o] + tb * dyy], axis=1)
    return pieces, idx[o]


def _coverage(edges, run_id, h, w, fill_rule, cov):
    """Write the coverage of the window into ``cov`` (float32, shape (h, w))."""
    pieces, owner = _grid_pieces(edges, h, w)
    xa = np.clip(pieces[:, 0], 0, w)
    xb = np.clip(pieces[:, 2], 0, w)
    ya = np.clip(pieces[:, 1], 0, h)
    yb = np.clip(pieces[:, 3], 0, h)
    dy = yb - ya
    live = dy != 0
    pieces, owner = pieces[live], owner[live]
    xa, xb, ya, yb, dy = xa[live], xb[live], ya[live], yb[live], dy[live]
    row = np.floor((ya + yb) * 0.5).astype(np.int64)
    np.clip(row, 0, h - 1, out=row)
    xm = (xa + xb) * 0.5
    col = np.floor(xm).astype(np.int64)
    np.clip(col, 0, w, out=col)
    fx = np.clip(xm - col, 0.0, 1.0)
    run = run_id[owner]
    mult = _run_multipliers(pieces, run, row, dy, edges, owner, h, w, fill_rule)
    wgt = (dy * mult[run]).astype(np.float32)
    # Accumulate the per-row prefix sums with 2-D integral images: every
    # contribution is entered at its row and cancelled on the next row, so the
    # running sum down each column leaves each row's own values, and the
    # integral's running sum along the row is the coverage. The image is cut
    # into bands of _BAND rows (no cancelling across a band border) so that
    # float32 rounding does not build up down the columns.
    stride = w + 2
    flat = row * stride + col
    fx32 = fx.astype(np.float32)
    acc = np.zeros((h + 1) * stride, np.float32)
    a = wgt * (1.0 - fx32)
    b = wgt * fx32
    np.add.at(acc, flat, a)
    np.add.at(acc, flat + 1, b)
    inner = (row % _BAND) != (_BAND - 1)
    np.add.at(acc, flat[inner] + stride, -a[inner])
    np.add.at(acc, flat[inner] + stride + 1, -b[inner])
    acc = acc.reshape(h + 1, stride)
    for r in range(0, h, _BAND):
        r2 = min(r + _BAND, h)
        band = cv2.integral(acc[r:r2], sdepth=cv2.CV_32F)[1:, 1 : w + 1]
        np.clip(band, 0.0, 1.0, out=cov[r:r2])


#: Rows per band of the integral images (bounds float32 rounding down columns).
_BAND = 256


def _fill(wnd, fill_rule):
    if fill_rule == "nonzero":
        return (wnd != 0).astype(np.int64)
    return (wnd % 2 != 0).astype(np.int64)


def _run_multipliers(pieces, run, row, dy, edges, owner, h, w, fill_rule):
    """+1, -1 or 0 per run: how the run's edges bound the filled region.

    For each run, one piece (the tallest one inside the window) is taken; the
    winding number just left of its midpoint is counted from the pieces in the
    same pixel row whose crossing with the horizontal line lies further left.
    """
    n_runs = int(run.max()) + 1 if run.size else 0
    mult = np.zeros(max(n_runs, 1))
    if n_runs == 0:
        return mult
    xmid = (pieces[:, 0] + pieces[:, 2]) * 0.5
    ad = np.where(xmid < w, np.abs(dy), -1.0)
    # Pieces come in edge order, so each run's pieces are contiguous: take the
    # tallest piece of each run.
    starts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]])
    seg_max = np.maximum.reduceat(ad, starts)
    is_max = ad == np.repeat(seg_max, np.diff(np.r_[starts, len(ad)]))
    cand = np.flatnonzero(is_max)
    first = cand[np.r_[True, run[cand][1:] != run[cand][:-1]]]
    first = first[ad[first] > 0]
    if first.size == 0:
        return mult
    qx = xmid[first]
    qy = (pieces[first, 1] + pieces[first, 3]) * 0.5
    qr = row[first]
    qe = owner[first]
    # candidate edges: those spanning the query's pixel row (horizontal edges
    # never cross a horizontal line strictly inside a row)
    ey0, ey1 = edges[:, 1], edges[:, 3]
    ylo, yhi = np.minimum(ey0, ey1), np.maximum(ey0, ey1)
    span = (yhi > 0) & (ylo < h) & (ey0 != ey1)
    if first.size * len(edges) <= 4_000_000:
        qi_list, ej_list = [], []
        for q in range(first.size):
            ej = np.flatnonzero(span & (ylo <= qy[q]) & (yhi > qy[q]))
            ej_list.append(ej)
            qi_list.append(np.full(ej.size, q))
        qi = np.concatenate(qi_list)
        ej = np.concatenate(ej_list)
    else:
        idx = np.flatnonzero(span)
        r_lo = np.clip(np.floor(ylo[idx]), 0, h - 1).astype(np.int64)
        r_hi = np.clip(np.floor(yhi[idx]), 0, h - 1).astype(np.int64)
        cnt = r_hi - r_lo + 1
        pe = np.repeat(idx, cnt)
        pr = np.repeat(r_lo, cnt) + (np.arange(pe.size) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        order = np.argsort(pr, kind="stable")
        pe, pr = pe[order], pr[order]
        row_start = np.searchsorted(pr, np.arange(h + 1))
        cnt = row_start[qr + 1] - row_start[qr]
        qi = np.repeat(np.arange(first.size), cnt)
        off = np.arange(qi.size) - (np.cumsum(cnt) - cnt)[qi]
        ej = pe[row_start[qr][qi] + off]
    a_y, b_y = ey0[ej], ey1[ej]
    y = qy[qi]
    down = b_y > a_y
    crosses = np.where(down, (a_y <= y) & (y < b_y), (b_y <= y) & (y < a_y))
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = edges[ej, 0] + (y - a_y) * (edges[ej, 2] - edges[ej, 0]) / (b_y - a_y)
    hit = crosses & (xi < qx[qi]) & (ej != qe[qi])
    wl = np.bincount(qi[hit], weights=np.where(down, 1.0, -1.0)[hit], minlength=first.size)
    wl = np.rint(wl).astype(np.int64)
    s = np.where(pieces[first, 3] > pieces[first, 1], 1, -1)
    wr = wl + s
    mult[run[first]] = (_fill(wr, fill_rule) - _fill(wl, fill_rule)) * s
    return mult
