"""The path data model: Bezier nodes in pixel coordinates.

Coordinates follow the editors and the file formats: ``x`` to the right, ``y``
down, in pixels, with pixel ``(r, c)`` covering ``[c, c + 1] x [r, r + 1]`` (so
its centre is at ``(c + 0.5, r + 0.5)``). This is GIMP's path coordinate
system, SVG's user space once scaled to pixels, and what Photoshop's
relative coordinates become when multiplied by the image width and height.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

__all__ = [
    "FILL_RULES",
    "ROLES",
    "Path",
    "Subpath",
    "ellipse_path",
    "from_gimp_stroke",
    "polygon_path",
    "rectangle_path",
    "to_gimp_strokes",
]

FILL_RULES = ("nonzero", "evenodd")
ROLES = ("add", "cut")

#: Largest number of line segments one cubic is flattened into.
_MAX_STEPS = 4096


def _check_choice(value, choices, name):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


@dataclass(frozen=True, eq=False)
class Subpath:
    """One connected run of cubic Bezier segments.

    Parameters
    ----------
    nodes : array_like, shape (N, 3, 2)
        For each node: the in-handle, the anchor and the out-handle, each as
        ``(x, y)`` in pixels. A straight segment has its handles on the anchors.
    closed : bool
        Whether the last node joins back to the first with a curve (through the
        last out-handle and the first in-handle). An open subpath is closed with
        a straight line when it is filled.
    """

    nodes: np.ndarray
    closed: bool = True

    def __post_init__(self):
        nodes = np.array(self.nodes, dtype=np.float64, copy=True)
        if nodes.size == 0:
            nodes = nodes.reshape(0, 3, 2)
        if nodes.ndim != 3 or nodes.shape[1:] != (3, 2):
            raise ValueError(
                f"nodes must have shape (N, 3, 2) (in-handle, anchor, out-handle as x, y), "
                f"got shape {nodes.shape}"
            )
        if not np.all(np.isfinite(nodes)):
            raise ValueError("nodes must be finite numbers, got NaN or infinity")
        nodes.flags.writeable = False
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "closed", bool(self.closed))

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def anchors(self) -> np.ndarray:
        """Anchor points, shape (N, 2) as ``(x, y)``."""
        return self.nodes[:, 1]

    def segments(self) -> np.ndarray:
        """Cubic segments as control points, shape (S, 4, 2).

        The closing segment of a closed subpath is included; an open subpath's
        implicit closing line (used only for filling) is not.
        """
        n = len(self.nodes)
        if n < 2:
            return np.zeros((0, 4, 2))
        nxt = np.arange(1, n + (1 if self.closed else 0)) % n
        cur = nxt - 1
        cur[cur < 0] += n
        return np.stack(
            [self.nodes[cur, 1], self.nodes[cur, 2], self.nodes[nxt, 0], self.nodes[nxt, 1]], axis=1
        )

    def transformed(self, matrix) -> "Subpath":
        """Apply a 2x3 or 3x3 affine matrix (acting on column vectors ``(x, y, 1)``)."""
        m = _as_affine(matrix)
        pts = self.nodes.reshape(-1, 2) @ m[:2, :2].T + m[:2, 2]
        return Subpath(pts.reshape(self.nodes.shape), self.closed)

    def reversed(self) -> "Subpath":
        """The same curve traversed backwards (swaps in- and out-handles)."""
        return Subpath(self.nodes[::-1, ::-1], self.closed)


@dataclass(frozen=True, eq=False)
class Path:
    """A named compound path: several subpaths filled together.

    Parameters
    ----------
    subpaths : sequence of Subpath
    name : str
        The name shown by the editor (Photoshop path name, GIMP path name, SVG
        ``inkscape:label`` or ``id``).
    role : {"add", "cut"}
        How the hybrid recipe uses the region: ``"add"`` makes it hard and
        opaque, ``"cut"`` removes it. See :func:`jewelmask.paths.role_from_name`.
    fill_rule : {"nonzero", "evenodd"}
        Default fill rule for :func:`jewelmask.paths.path_to_mask`.
    inverted : bool
        Photoshop's "initial fill rule" flag: the region is everything *outside*
        the path. Rarely set; honoured by the rasteriser.
    """

    subpaths: tuple = ()
    name: str = ""
    role: str = "add"
    fill_rule: str = "nonzero"
    inverted: bool = False

    def __post_init__(self):
        subs = tuple(self.subpaths)
        for i, s in enumerate(subs):
            if not isinstance(s, Subpath):
                raise ValueError(f"subpaths[{i}] must be a Subpath, got {type(s).__name__}")
        object.__setattr__(self, "subpaths", subs)
        object.__setattr__(self, "name", str(self.name))
        _check_choice(self.role, ROLES, "role")
        _check_choice(self.fill_rule, FILL_RULES, "fill_rule")
        object.__setattr__(self, "inverted", bool(self.inverted))

    def __len__(self) -> int:
        return len(self.subpaths)

    def __iter__(self) -> Iterator[Subpath]:
        return iter(self.subpaths)

    def __getitem__(self, i) -> Subpath:
        return self.subpaths[i]

    @property
    def n_nodes(self) -> int:
        """Total number of nodes over all subpaths."""
        return sum(len(s) for s in self.subpaths)

    def replace(self, **changes) -> "Path":
        """A copy with some fields changed (``name``, ``role``, ``fill_rule``, ...)."""
        return dataclasses.replace(self, **changes)

    def transformed(self, matrix) -> "Path":
        """Apply a 2x3 or 3x3 affine matrix to every point."""
        return self.replace(subpaths=tuple(s.transformed(matrix) for s in self.subpaths))

    def scaled(self, sx: float, sy: float | None = None) -> "Path":
        """Scale about the origin (``sy`` defaults to ``sx``)."""
        sy = sx if sy is None else sy
        return self.transformed([[sx, 0, 0], [0, sy, 0]])

    def bounds(self) -> tuple[float, float, float, float] | None:
        """Bounding box of all control points as ``(x0, y0, x1, y1)``, or None if empty.

        The curve lies inside its control points, so this box contains it.
        """
        pts = [s.nodes.reshape(-1, 2) for s in self.subpaths if len(s)]
        if not pts:
            return None
        p = np.concatenate(pts)
        return (float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max()))

    def flatten(self, tolerance: float = 0.01) -> list[np.ndarray]:
        """Flatten every subpath to a closed polygon.

        Parameters
        ----------
        tolerance : float
            Largest distance, in pixels, between a curve and its chords.

        Returns
        -------
        list of ndarray, shape (M, 2)
            One ``(x, y)`` vertex list per subpath with at least two nodes; the
            closing edge from the last vertex back to the first is implied.
        """
        return flatten_subpaths(self.subpaths, tolerance)

    def to_svg_d(self, scale: float = 1.0, precision: int = 4) -> str:
        """SVG path data (``M``/``C``/``Z``) for this path, coordinates times ``scale``."""
        parts = []
        fmt = f"{{:.{precision}f}}"

        def p(pt):
            return f"{_trim(fmt.format(pt[0] * scale))},{_trim(fmt.format(pt[1] * scale))}"

        for s in self.subpaths:
            if len(s) == 0:
                continue
            parts.append("M" + p(s.nodes[0, 1]))
            for seg in s.segments():
                if np.allclose(seg[1], seg[0]) and np.allclose(seg[2], seg[3]):
                    parts.append("L" + p(seg[3]))
                else:
                    parts.append("C" + " ".join(p(q) for q in seg[1:]))
            if s.closed:
                parts.append("Z")
        return " ".join(parts)


def _trim(s: str) -> str:
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _as_affine(matrix) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape == (2, 3):
        m = np.vstack([m, [0.0, 0.0, 1.0]])
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise ValueError(f"matrix must be a finite 2x3 or 3x3 affine matrix, got shape {m.shape}")
    return m


# ----------------------------------------------------------------------------- flattening


def _steps_for(seg: np.ndarray, tolerance: float) -> np.ndarray:
    """Number of uniform parameter steps that keep each cubic within ``tolerance``.

    Uses the classic bound on the distance between a cubic and the chords of a
    uniform subdivision into n pieces: ``max|B''| / (8 n^2)`` with
    ``max|B''| <= 6 max(|P0 - 2P1 + P2|, |P1 - 2P2 + P3|)``. Cubics whose control
    points are collinear are straight lines and get one step.
    """
    d1 = seg[:, 0] - 2 * seg[:, 1] + seg[:, 2]
    d2 = seg[:, 1] - 2 * seg[:, 2] + seg[:, 3]
    dd = np.maximum(np.hypot(d1[:, 0], d1[:, 1]), np.hypot(d2[:, 0], d2[:, 1]))
    n = np.ceil(np.sqrt(0.75 * dd / tolerance))
    # Straight lines: both handles on the chord's line (spikes along it have no area).
    chord = seg[:, 3] - seg[:, 0]
    clen = np.hypot(chord[:, 0], chord[:, 1])
    a = seg[:, 1] - seg[:, 0]
    b = seg[:, 2] - seg[:, 0]
    cross = np.maximum(np.abs(chord[:, 0] * a[:, 1] - chord[:, 1] * a[:, 0]),
                       np.abs(chord[:, 0] * b[:, 1] - chord[:, 1] * b[:, 0]))
    straight = (cross <= 1e-9 * np.maximum(clen, 1e-300) * np.maximum(clen, 1.0)) & (clen > 0)
    straight |= dd == 0
    n[straight] = 1
    return np.clip(n, 1, _MAX_STEPS).astype(np.int64)


def flatten_segments(seg: np.ndarray, tolerance: float, *,
                     area_correct: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Flatten cubics (S, 4, 2) to points.

    With ``area_correct``, every point is moved off the curve, away from its
    centre of curvature, by 2/3 of the local chord sagitta (``h^2 |B''_n| / 12``
    for parameter step ``h``). Chords then cut as much area off the curve's
    outside as they add inside, so the enclosed area is right to second order
    instead of being short by about ``2/3 * tolerance`` per unit of perimeter;
    the points stay within ``tolerance`` of the curve.

    Returns
    -------
    points : ndarray, shape (P, 2)
        For each cubic, its start point and interior points (not its end point).
    owner : ndarray of int, shape (P,)
        Index of the cubic each point belongs to.
    """
    if tolerance <= 0 or not np.isfinite(tolerance):
        raise ValueError(f"tolerance must be a positive number of pixels, got {tolerance!r}")
    n = _steps_for(seg, tolerance)
    owner = np.repeat(np.arange(len(seg)), n)
    start = np.cumsum(n) - n
    k = np.arange(owner.size) - start[owner]
    t = (k / n[owner])[:, None]
    mt = 1.0 - t
    s = seg[owner]
    pts = (mt * mt * mt) * s[:, 0] + (3 * mt * mt * t) * s[:, 1] + (3 * mt * t * t) * s[:, 2] + (t * t * t) * s[:, 3]
    if area_correct:
        d1 = 3 * ((mt * mt) * (s[:, 1] - s[:, 0]) + (2 * mt * t) * (s[:, 2] - s[:, 1])
                  + (t * t) * (s[:, 3] - s[:, 2]))
        d2 = 6 * (mt * (s[:, 2] - 2 * s[:, 1] + s[:, 0]) + t * (s[:, 3] - 2 * s[:, 2] + s[:, 1]))
        speed2 = (d1 * d1).sum(1, keepdims=True)
        ok = speed2[:, 0] > 0
        d2n = d2.copy()
        d2n[ok] -= ((d2[ok] * d1[ok]).sum(1, keepdims=True) / speed2[ok]) * d1[ok]
        d2n[~ok] = 0.0
        h = (1.0 / n[owner])[:, None]
        pts = pts - (h * h / 12.0) * d2n
    return pts, owner


def flatten_subpaths(subpaths: Iterable[Subpath], tolerance: float, *,
                     area_correct: bool = False) -> list[np.ndarray]:
    """Flatten subpaths to closed polygons (see :meth:`Path.flatten`).

    ``area_correct`` is passed to :func:`flatten_segments` (the rasteriser
    uses it; anchors of open subpaths' ends are not moved).
    """
    subpaths = [s for s in subpaths if len(s) >= 2]
    if not subpaths:
        return []
    segs = [s.segments() for s in subpaths]
    counts = np.array([len(g) for g in segs])
    allseg = np.concatenate(segs)
    pts, owner = flatten_segments(allseg, tolerance, area_correct=area_correct)
    sub_of_seg = np.repeat(np.arange(len(subpaths)), counts)
    sub_of_pt = sub_of_seg[owner]
    bounds = np.searchsorted(sub_of_pt, np.arange(len(subpaths) + 1))
    out = []
    for i, s in enumerate(subpaths):
        ring = pts[bounds[i]:bounds[i + 1]]
        if not s.closed:
            ring = np.vstack([ring, s.nodes[-1, 1][None]])
        out.append(ring)
    return out


# ----------------------------------------------------------------------------- constructors


def polygon_path(points, *, closed: bool = True, name: str = "", role: str = "add",
                 fill_rule: str = "nonzero") -> Path:
    """A path of straight segments through ``points`` (shape (N, 2) as ``x, y``)."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {p.shape}")
    nodes = np.repeat(p[:, None, :], 3, axis=1)
    return Path((Subpath(nodes, closed),), name=name, role=role, fill_rule=fill_rule)


def rectangle_path(x0: float, y0: float, x1: float, y1: float, **kwargs) -> Path:
    """An axis-aligned rectangle from ``(x0, y0)`` to ``(x1, y1)``."""
    return polygon_path([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], **kwargs)


def _arc_nodes(cx, cy, rx, ry, theta0, dtheta, n_arcs):
    """Cubic nodes of an elliptical arc (axis-aligned), ``n_arcs`` pieces."""
    th = theta0 + dtheta * np.arange(n_arcs + 1) / n_arcs
    h = dtheta / n_arcs
    k = 4.0 / 3.0 * np.tan(h / 4.0)
    c, s = np.cos(th), np.sin(th)
    anchor = np.stack([cx + rx * c, cy + ry * s], axis=1)
    tangent = np.stack([-rx * s, ry * c], axis=1)
    nodes = np.stack([anchor - k * tangent, anchor, anchor + k * tangent], axis=1)
    return nodes


def ellipse_path(cx: float, cy: float, rx: float, ry: float | None = None, *, n_arcs: int = 16,
                 clockwise: bool = True, name: str = "", role: str = "add",
                 fill_rule: str = "nonzero") -> Path:
    """An ellipse (or circle) made of ``n_arcs`` cubic arcs.

    With 16 arcs the radial error of the cubic approximation is below
    ``1e-7 * r``; 4 arcs (the usual editor construction) give ``2.7e-4 * r``.
    ``clockwise`` is as seen on screen (y down).
    """
    ry = rx if ry is None else ry
    if not (rx > 0 and ry > 0):
        raise ValueError(f"rx and ry must be positive, got {rx!r}, {ry!r}")
    if int(n_arcs) < 2:
        raise ValueError(f"n_arcs must be at least 2, got {n_arcs!r}")
    sign = 1.0 if clockwise else -1.0
    nodes = _arc_nodes(cx, cy, rx, ry, 0.0, sign * 2 * np.pi, int(n_arcs))[:-1]
    return Path((Subpath(nodes, True),), name=name, role=role, fill_rule=fill_rule)


# ----------------------------------------------------------------------------- GIMP


def from_gimp_stroke(points: Sequence[float], closed: bool) -> Subpath:
    """A subpath from GIMP's ``Path.stroke_get_points`` control points.

    Parameters
    ----------
    points : sequence of float
        Flat ``[x0, y0, x1, y1, ...]`` list of (in-handle, anchor, out-handle)
        triplets in image pixels, as GIMP 3's ``stroke_get_points`` returns them.
    closed : bool
        GIMP's closed flag for the stroke.
    """
    p = np.asarray(points, dtype=np.float64).ravel()
    if p.size % 6 != 0:
        raise ValueError(
            f"points must hold whole (in-handle, anchor, out-handle) triplets of x, y "
            f"(a multiple of 6 numbers), got {p.size} numbers"
        )
    return Subpath(p.reshape(-1, 3, 2), closed)


def to_gimp_strokes(path: Path) -> list[tuple[list[float], bool]]:
    """``(points, closed)`` per subpath, for GIMP's ``stroke_new_from_points``.

    The stroke type to pass along is ``Gimp.PathStrokeType.BEZIER``.
    """
    return [(s.nodes.ravel().tolist(), s.closed) for s in path.subpaths if len(s)]


def from_gimp_strokes(strokes, *, name: str = "", role: str | None = None,
                      fill_rule: str = "evenodd") -> Path:
    """A :class:`Path` from ``[(points, closed), ...]`` (see :func:`from_gimp_stroke`).

    GIMP turns paths into selections with the even-odd rule, hence the default.
    ``role`` defaults to the one the name implies (see ``role_from_name``).
    """
    from .roles import role_from_name

    subs = tuple(from_gimp_stroke(p, c) for p, c in strokes)
    return Path(subs, name=name, role=role or role_from_name(name), fill_rule=fill_rule)
