"""Synthetic macro jewelry packshots with an exact fractional ground-truth alpha.

Every scene is drawn, not photographed: the jewelry is a display list of flat
polygons (stone facets) and shaded metal tubes (wire, links, prongs, bands),
rasterised as binary shapes at ``SS`` x ``SS`` supersampling with OpenCV fill
functions and box-downsampled. The coverage of a pixel *is* its alpha, so the
ground truth is exact by construction, and the image is composited from it::

    I = alpha * F + (1 - alpha) * B        (display-referred values in [0, 1])

with ``F`` the true foreground colour and ``B`` the clean background (studio
sweep or textured backdrop, with the piece's shadows and mirror reflection
painted in: those are background). A camera then adds a slight defocus
(applied to ``alpha`` and ``alpha * F`` alike, so the ground truth stays the
coverage of the blurred image), lateral chromatic aberration (R and B scaled
radially by a fraction of a pixel; the ground truth stays with G), noise,
mild sharpening on some frames and JPEG compression.

Aberration and sharpening act after the composite, on the jewelry as much as
on the backdrop, so ``fg`` and ``bg`` are the colours that were *mixed*, not
what the photo shows of the jewelry: that is ``Scene.fg_on_black``, the
premultiplied foreground through the same optics (the reference of the
decontamination benchmark). ``Scene.camera`` records what the camera did.

Public API
----------
``Scene``                 one rendered frame with its ground truth and labels.
``Camera``, ``apply_optics`` the frame's camera and its linear steps after compositing.
``render_scene(seed, ...)`` render one scene (deterministic for a seed).
``make_set(name)``        the benchmark sets ``"1600"`` (40 scenes, 1600x1200)
                          and ``"6000"`` (3 scenes, 6000x4000), cached under
                          ``bench/out/`` keyed by ``GENERATOR_VERSION``.
``DisplayList``, ``rasterize`` the supersampled rasteriser (used by the tests).

Command line::

    python -m bench.synth --set 1600 --png /tmp/scenes        # render, cache, dump PNGs
    python -m bench.synth --sample core/jewelmask/data/sample.jpg
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

GENERATOR_VERSION = 1
"""Bumped whenever a change alters rendered pixels; it keys the on-disk cache."""

SS = 4
"""Supersampling factor per axis: alpha is quantised to 1/SS**2 before defocus."""

TILE = 256
"""Output pixels per tile side; a tile's supersampled buffers are (TILE*SS)**2."""

_SHIFT = 3  # fractional bits of the vertex coordinates handed to OpenCV
_INSET = 0.45  # OpenCV fills about this far (supersampled px) outside a true edge

LAB_METAL = 1
LAB_PRONG = 2
LAB_STONE = 3

OUT_DIR = Path(__file__).resolve().parent / "out"

SETS = {
    "1600": (1600, 1200, 40),
    "6000": (6000, 4000, 3),
}

# Linear-light reflectance tints of the metals (index = material id).
MATERIALS = ("gold", "rose gold", "silver", "white gold")
_TINTS = np.array(
    [
        [1.00, 0.64, 0.20],
        [0.98, 0.56, 0.42],
        [0.94, 0.94, 0.92],
        [0.86, 0.85, 0.82],
    ],
    np.float32,
)
GOLD, ROSE, SILVER, WHITE_GOLD = range(4)


# --------------------------------------------------------------------------
# Scene container
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Camera:
    """What the synthetic camera did to a frame (drawn per scene from its seed).

    Attributes
    ----------
    defocus : float
        Gaussian sigma (px) applied to ``alpha`` and ``alpha * F`` before
        compositing (so ``alpha`` and ``fg`` already include it).
    ca : float
        Lateral chromatic aberration: displacement (px) of R (outwards) and B
        (inwards) at the frame's corner; R is scaled about the centre by
        ``1 + ca / r_corner``, B by ``1 - ca / r_corner``, G is untouched.
    sharpen : float
        Unsharp-mask amount (0: not sharpened), ``I + sharpen * (I - G * I)``
        with a Gaussian ``G`` of sigma ``sharpen_sigma`` px.
    sharpen_sigma : float
    jpeg_quality : int
        Quality of the JPEG (4:2:0 chroma) the camera wrote.
    """

    defocus: float
    ca: float
    sharpen: float
    sharpen_sigma: float
    jpeg_quality: int = 0

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Camera":
        return cls(**json.loads(text))


def apply_optics(img: np.ndarray, cam: Camera) -> np.ndarray:
    """The camera's linear steps after compositing: chromatic aberration, then sharpening.

    Applied to the composite to make every frame's image; being linear, it
    splits the noise-free photo into ``apply_optics(alpha * fg)`` (the jewelry)
    plus ``apply_optics((1 - alpha) * bg)`` (what shows of the backdrop).

    Parameters
    ----------
    img : (H, W, 3) float32
    cam : Camera

    Returns
    -------
    (H, W, 3) float32, a new array (not clipped).
    """
    height, width = img.shape[:2]
    out = img.copy()
    # lateral chromatic aberration: R magnified, B shrunk by a fraction of a pixel
    rmax = math.hypot(width / 2, height / 2)
    k = cam.ca / rmax
    cx, cy = (width - 1) / 2, (height - 1) / 2
    for ch, f in ((0, 1.0 + k), (2, 1.0 - k)):
        # output (x, y) samples the input at centre + (x - centre) / f: a pure scaling
        Mi = np.float32([[1 / f, 0, cx * (1 - 1 / f)], [0, 1 / f, cy * (1 - 1 / f)]])
        out[..., ch] = cv2.warpAffine(
            np.ascontiguousarray(out[..., ch]), Mi, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT
        )
    if cam.sharpen:
        out = out + cam.sharpen * (out - cv2.GaussianBlur(out, (0, 0), cam.sharpen_sigma))
    return out


@dataclasses.dataclass(eq=False)
class Scene:
    """One synthetic packshot and its ground truth.

    Attributes
    ----------
    image : (H, W, 3) uint8
        RGB, what the camera wrote (decoded JPEG).
    alpha : (H, W) float32
        Exact coverage in [0, 1] (after the defocus applied to the foreground).
    fg : (H, W, 3) float32
        True foreground colour in [0, 1], display-referred; 0 where alpha == 0.
    bg : (H, W, 3) float32
        Clean background in [0, 1] (shadows and reflections included).
    thin, prong, gap, shadow, reflection : (H, W) bool
        Labels. ``thin``: foreground (alpha >= 0.5) of local width <= 4 px.
        ``prong``: foreground (alpha >= 0.5) that is an exposed prong.
        ``gap``: background (alpha == 0) enclosed by the jewelry or in a
        narrow space between its parts (link eyes, ring and hoop interiors,
        between prongs). ``shadow`` / ``reflection``: background (alpha == 0)
        darkened by a shadow by >= 4 % / covered by the mirror image by >= 3 %.
    description : str
        What is in the frame.
    seed : int
        The seed it was rendered from.
    name : str
        Stable identifier, e.g. ``"1600-07"``.
    jpeg : bytes
        The JPEG file the camera wrote (``image`` decoded).
    camera : Camera or None
        What the camera did (None only for a scene built by hand).

    ``fg`` and ``bg`` are the colours *mixed* by the composite; the camera's
    chromatic aberration and sharpening act after it, on the jewelry as much
    as on the backdrop. The jewelry as the camera records it is
    :attr:`fg_on_black`.
    """

    image: np.ndarray
    alpha: np.ndarray
    fg: np.ndarray
    bg: np.ndarray
    thin: np.ndarray
    prong: np.ndarray
    gap: np.ndarray
    shadow: np.ndarray
    reflection: np.ndarray
    description: str
    seed: int
    name: str = ""
    jpeg: bytes = b""
    camera: Camera | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.alpha.shape

    @property
    def fg_on_black(self) -> np.ndarray:
        """(H, W, 3) float32: the jewelry alone, as this camera records it on black.

        ``clip(apply_optics(alpha * fg, camera), 0, 1)``: the premultiplied
        foreground through the frame's chromatic aberration and sharpening,
        before noise and JPEG. It is what the photo holds of the jewelry (its
        noise-free part), so it is the ground truth of a cutout composited on
        black; ``alpha * fg`` is not, by up to the aberration's fraction of a
        pixel in R and B and the sharpening halo. Computed on access.
        """
        if self.camera is None:
            raise ValueError(f"scene {self.name!r} has no camera record")
        prem = self.alpha[..., None] * self.fg
        return np.clip(apply_optics(prem, self.camera), 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------
# Display list and rasteriser
# --------------------------------------------------------------------------

_K_TUBE, _K_CIRC, _K_POLY, _K_PAINT = range(4)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


class DisplayList:
    """Ordered drawing operations in output-pixel coordinates (x right, y down).

    Later operations cover earlier ones (painter's algorithm). Point ``(x, y)``
    is a continuous position: pixel ``(r, c)`` spans ``[c, c+1) x [r, r+1)``.
    """

    def __init__(self) -> None:
        self.ops: list[tuple] = []
        self._bb: list[tuple[float, float, float, float]] = []

    def __len__(self) -> int:
        return len(self.ops)

    def bboxes(self) -> np.ndarray:
        return np.array(self._bb, np.float64).reshape(-1, 4)

    def _push(self, op: tuple, x0: float, y0: float, x1: float, y1: float) -> None:
        self.ops.append(op)
        self._bb.append((x0, y0, x1, y1))

    # -- metal -------------------------------------------------------------
    def tube(
        self,
        pts,
        radius,
        *,
        mat: int,
        closed: bool = False,
        mult=1.0,
        label: int = LAB_METAL,
        caps: bool = True,
    ) -> None:
        """A round wire of ``radius`` (px, scalar or per point) along a polyline.

        Shading is computed per supersample from the position across the wire,
        so a tube reads as polished metal at any width. ``mult`` (scalar or per
        point) scales the light it reflects (occlusion, along-wire gradients).
        """
        p = np.asarray(pts, np.float64).reshape(-1, 2)
        n = len(p)
        rad = np.broadcast_to(np.asarray(radius, np.float64), (n,)).copy()
        mul = np.broadcast_to(np.asarray(mult, np.float64), (n,)).copy()
        if closed:
            p = np.vstack([p, p[:1]])
            rad = np.append(rad, rad[0])
            mul = np.append(mul, mul[0])
        d = np.diff(p, axis=0)
        ln = np.hypot(d[:, 0], d[:, 1])
        keep = np.concatenate([[True], ln > 1e-6])
        p, rad, mul = p[keep], rad[keep], mul[keep]
        if len(p) < 2:
            if len(p) == 1:
                self.circle(p[0], rad[0], mat=mat, mult=mul[0], label=label)
            return
        d = np.diff(p, axis=0)
        t = _unit(d)
        nrm = np.stack([-t[:, 1], t[:, 0]], axis=1)
        m = len(d)
        vn = np.empty((m + 1, 2))
        vn[1:-1] = nrm[:-1] + nrm[1:]
        if closed:
            vn[0] = vn[-1] = nrm[-1] + nrm[0]
        else:
            vn[0], vn[-1] = nrm[0], nrm[-1]
        vn = _unit(vn)
        # miter scale relative to the adjoining segment normal, clamped
        cosj = np.ones(m + 1)
        cosj[1:-1] = np.einsum("ij,ij->i", vn[1:-1], nrm[1:])
        if closed:
            cosj[0] = cosj[-1] = float(np.dot(vn[0], nrm[0]))
        sharp = cosj < 0.9
        scale = 1.0 / np.clip(cosj, 0.75, 1.0)
        rdraw = np.maximum(rad - _INSET / SS, 0.05)
        off = vn * (rdraw * scale)[:, None]
        a = p + off
        b = p - off
        quads = np.stack([a[:-1], a[1:], b[1:], b[:-1]], axis=1)  # (m, 4, 2)
        attrs = np.empty((m, 5))
        attrs[:, 0:2] = nrm
        attrs[:, 2] = np.einsum("ij,ij->i", nrm, p[:-1])
        attrs[:, 3] = 0.5 * (rad[:-1] + rad[1:])
        attrs[:, 4] = 0.5 * (mul[:-1] + mul[1:])
        lo, hi = quads.reshape(-1, 2).min(0), quads.reshape(-1, 2).max(0)
        self._push((_K_TUBE, quads, (attrs, mat, label)), lo[0], lo[1], hi[0], hi[1])
        # round joins where the miter was clamped, round caps at open ends
        for j in np.flatnonzero(sharp):
            if closed and j == m:
                continue
            if 0 < j < m or closed:
                i = j if j < m else m - 1
                nx, ny = nrm[i]
                c = nx * p[i, 0] + ny * p[i, 1]
                self._circle_attr(p[j], rad[j], (nx, ny, c, rad[j], mul[j], mat, label))
        if not closed and caps:
            for j, i in ((0, 0), (m, m - 1)):
                nx, ny = nrm[i]
                c = nx * p[i, 0] + ny * p[i, 1]
                self._circle_attr(p[j], rad[j], (nx, ny, c, rad[j], mul[j], mat, label))

    def loops(self, pts, radius: float, *, mat: int, mult=1.0, label: int = LAB_METAL) -> None:
        """Many closed tubes at once: ``pts`` (n, k, 2), ``mult`` scalar or (n, k).

        Same result as ``n`` calls of ``tube(..., closed=True)`` with smooth
        outlines (k large enough that no corner is sharper than ~30 degrees).
        """
        p = np.asarray(pts, np.float64)
        n, k, _ = p.shape
        mul = np.broadcast_to(np.asarray(mult, np.float64), (n, k))
        d = np.roll(p, -1, axis=1) - p
        t = _unit(d)
        nrm = np.stack([-t[..., 1], t[..., 0]], axis=-1)
        vn = _unit(nrm + np.roll(nrm, 1, axis=1))
        cosj = np.sum(vn * nrm, axis=-1)
        rdraw = max(radius - _INSET / SS, 0.05)
        off = vn * (rdraw / np.clip(cosj, 0.75, 1.0))[..., None]
        a, b = p + off, p - off
        quads = np.stack([a, np.roll(a, -1, axis=1), np.roll(b, -1, axis=1), b], axis=2)
        attrs = np.empty((n, k, 5))
        attrs[..., 0:2] = nrm
        attrs[..., 2] = np.sum(nrm * p, axis=-1)
        attrs[..., 3] = radius
        attrs[..., 4] = 0.5 * (mul + np.roll(mul, -1, axis=1))
        lo = quads.reshape(n, -1, 2).min(1)
        hi = quads.reshape(n, -1, 2).max(1)
        for i in range(n):
            self._push((_K_TUBE, quads[i], (attrs[i], mat, label)), lo[i, 0], lo[i, 1], hi[i, 0], hi[i, 1])

    def capsules(self, p0, p1, radius, *, mat: int, mult=1.0, label: int = LAB_METAL) -> None:
        """Many straight tubes with round caps: ``p0``, ``p1`` (n, 2), ``radius``, ``mult`` (n,) or scalar."""
        p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
        n = len(p0)
        rad = np.broadcast_to(np.asarray(radius, np.float64), (n,))
        mul = np.broadcast_to(np.asarray(mult, np.float64), (n,))
        t = _unit(p1 - p0)
        nrm = np.stack([-t[:, 1], t[:, 0]], axis=1)
        off = nrm * np.maximum(rad - _INSET / SS, 0.05)[:, None]
        quads = np.stack([p0 + off, p1 + off, p1 - off, p0 - off], axis=1)
        c = np.sum(nrm * p0, axis=1)
        for i in range(n):
            at = np.array([[nrm[i, 0], nrm[i, 1], c[i], rad[i], mul[i]]])
            q = quads[i : i + 1]
            lo, hi = q.reshape(-1, 2).min(0), q.reshape(-1, 2).max(0)
            self._push((_K_TUBE, q, (at, mat, label)), lo[0], lo[1], hi[0], hi[1])
            attr = (nrm[i, 0], nrm[i, 1], c[i], rad[i], mul[i] * 0.85, mat, label)
            self._circle_attr(p0[i], rad[i], attr)
            self._circle_attr(p1[i], rad[i], attr)

    def _circle_attr(self, centre, radius, attr) -> None:
        cx, cy = float(centre[0]), float(centre[1])
        r = float(radius)
        self._push((_K_CIRC, (cx, cy, r), attr), cx - r, cy - r, cx + r, cy + r)

    def circle(self, centre, radius, *, mat: int, mult=1.0, label: int = LAB_METAL) -> None:
        """A metal bead: shaded as a tube seen end-on (horizontal wire)."""
        cx, cy = float(centre[0]), float(centre[1])
        self._circle_attr((cx, cy), radius, (0.0, 1.0, cy, float(radius), float(mult), mat, label))

    # -- flat colour -------------------------------------------------------
    def poly(self, pts, colour, *, label: int = LAB_STONE) -> None:
        """A convex polygon of one display colour that sets coverage (a silhouette)."""
        q = np.asarray(pts, np.float64).reshape(-1, 2)
        col = tuple(float(v) for v in colour)
        self._push((_K_POLY, q, (col, label)), *q.min(0), *q.max(0))

    def disc(self, centre, radius, colour, *, label: int = LAB_STONE) -> None:
        """A flat-coloured disc that sets coverage (exact area pi * radius**2)."""
        cx, cy = float(centre[0]), float(centre[1])
        r = float(radius)
        col = tuple(float(v) for v in colour)
        self._push((_K_POLY, (cx, cy, r), (col, label)), cx - r, cy - r, cx + r, cy + r)

    def paint(self, pts, colour) -> None:
        """Recolour a convex polygon without touching coverage (facets inside a silhouette)."""
        q = np.asarray(pts, np.float64).reshape(-1, 2)
        col = tuple(float(v) for v in colour)
        self._push((_K_PAINT, q, col), *q.min(0), *q.max(0))


def _inset_convex(q: np.ndarray, d: float) -> np.ndarray:
    """Move every edge of a convex polygon inwards by ``d`` (same units as q)."""
    n = len(q)
    if n < 3 or d <= 0:
        return q
    area2 = np.sum(q[:, 0] * np.roll(q[:, 1], -1) - np.roll(q[:, 0], -1) * q[:, 1])
    sgn = 1.0 if area2 > 0 else -1.0
    e = np.roll(q, -1, axis=0) - q
    en = _unit(np.stack([-e[:, 1], e[:, 0]], axis=1)) * sgn  # inward normals
    out = np.empty_like(q)
    for i in range(n):
        j = i - 1
        # lines: en_j . x = en_j . q_j + d  and  en_i . x = en_i . q_i + d
        m = np.array([en[j], en[i]])
        rhs = np.array([en[j] @ q[j] + d, en[i] @ q[i] + d])
        det = np.linalg.det(m)
        out[i] = np.linalg.solve(m, rhs) if abs(det) > 1e-6 else q[i] + en[i] * d
    return out


@dataclasses.dataclass
class Raster:
    """Output of :func:`rasterize` for one display list (full-frame arrays)."""

    alpha: np.ndarray  # (H, W) float32 coverage
    premult: np.ndarray  # (H, W, 3) float32, alpha * colour
    prong: np.ndarray  # (H, W) float32 fraction of the pixel that is exposed prong
    box: tuple[int, int, int, int]  # r0, c0, r1, c1 of the drawn region


@dataclasses.dataclass(frozen=True)
class Lighting:
    """Environment reflected by the metal (linear light, per scene)."""

    key_dir: tuple[float, float, float] = (-0.45, -0.55, 0.70)
    key: float = 2.6
    key_cos: float = 0.86
    fill_dir: tuple[float, float, float] = (0.65, -0.15, 0.74)
    fill: float = 1.1
    fill_cos: float = 0.88
    top: float = 0.9
    front: float = 0.55
    hole: float = 0.6
    horizon: tuple[float, float, float] = (0.35, 0.35, 0.35)
    ambient: tuple[float, float, float] = (0.05, 0.05, 0.05)


def _smoothstep(x, e0, e1):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _shade_metal(s, nx, ny, mult, mat, light: Lighting) -> np.ndarray:
    """Display colour of polished metal for supersamples of tubes.

    ``s`` is the signed position across the wire (-1..1) and ``(nx, ny)`` the
    wire's in-image normal: the surface normal is ``(s nx, s ny, sqrt(1-s^2))``,
    the camera looks down -z, and the reflected ray samples a studio made of
    soft boxes, a bright tent front with the camera's dark hole, and the
    backdrop near the horizon.
    """
    s = np.clip(s, -1.0, 1.0)
    nz = np.sqrt(np.maximum(1.0 - s * s, 0.0))
    rx, ry, rz = 2.0 * nz * s * nx, 2.0 * nz * s * ny, 2.0 * nz * nz - 1.0
    e = np.empty((len(s), 3), np.float32)
    e[:] = light.ambient
    kd = _unit(np.array(light.key_dir))
    fd = _unit(np.array(light.fill_dir))
    key = light.key * _smoothstep(rx * kd[0] + ry * kd[1] + rz * kd[2], light.key_cos, light.key_cos + 0.06)
    fill = light.fill * _smoothstep(rx * fd[0] + ry * fd[1] + rz * fd[2], light.fill_cos, light.fill_cos + 0.05)
    top = light.top * _smoothstep(-ry, 0.55, 0.8) * _smoothstep(rz, -0.1, 0.2)
    front = light.front * _smoothstep(rz, 0.55, 0.85) * (1.0 - light.hole * _smoothstep(rz, 0.975, 0.995))
    hor = 1.0 - _smoothstep(rz, 0.0, 0.45)
    e += (key + fill + top + front)[:, None].astype(np.float32)
    e += hor[:, None].astype(np.float32) * np.asarray(light.horizon, np.float32)
    e *= mult[:, None]
    # dim reflections have bounced off the metal more than once: deeper colour
    tint = _TINTS[mat] ** (1.0 + 0.7 * (1.0 - np.clip(e, 0.0, 1.0).mean(axis=1, keepdims=True)))
    lin = tint * e + (1.0 - tint) * np.clip(e - 1.0, 0.0, 1.0) * 0.85
    return np.power(np.clip(lin, 0.0, 1.0), 1.0 / 2.2).astype(np.float32)


def rasterize(
    dl: DisplayList,
    height: int,
    width: int,
    *,
    light: Lighting | None = None,
) -> Raster:
    """Rasterise a display list: exact box-filtered coverage and premultiplied colour.

    Parameters
    ----------
    dl : DisplayList
    height, width : int
        Frame size in output pixels.
    light : Lighting, optional
        Environment for the metal shading.

    Returns
    -------
    Raster
        ``alpha`` (H, W) float32 in [0, 1] in steps of ``1 / SS**2``,
        ``premult`` (H, W, 3) float32 and the exposed-prong fraction.
    """
    light = light or Lighting()
    alpha = np.zeros((height, width), np.float32)
    prem = np.zeros((height, width, 3), np.float32)
    prong = np.zeros((height, width), np.float32)
    if not len(dl):
        return Raster(alpha, prem, prong, (0, 0, 0, 0))
    bb = dl.bboxes()
    x0 = max(int(math.floor(bb[:, 0].min())) - 1, 0)
    y0 = max(int(math.floor(bb[:, 1].min())) - 1, 0)
    x1 = min(int(math.ceil(bb[:, 2].max())) + 2, width)
    y1 = min(int(math.ceil(bb[:, 3].max())) + 2, height)
    if x1 <= x0 or y1 <= y0:
        return Raster(alpha, prem, prong, (0, 0, 0, 0))
    k = float(1 << _SHIFT)
    tile_bufs = (
        np.empty((TILE * SS, TILE * SS, 4), np.float32),
        np.empty((TILE * SS, TILE * SS, 4), np.float32),
        np.empty((TILE * SS, TILE * SS), np.uint8),
        np.empty((TILE * SS, TILE * SS), np.uint8),
    )
    for ty in range(y0, y1, TILE):
        for tx in range(x0, x1, TILE):
            th, tw = min(TILE, y1 - ty), min(TILE, x1 - tx)
            sel = np.flatnonzero(
                (bb[:, 0] < tx + tw + 1) & (bb[:, 2] > tx - 1) & (bb[:, 1] < ty + th + 1) & (bb[:, 3] > ty - 1)
            )
            if not len(sel):
                continue
            hs, ws = th * SS, tw * SS
            ox, oy = tx * SS + 0.5, ty * SS + 0.5  # sub = p*SS - 0.5 - origin
            # nx, ny, c, 1/r (tube) or 0 (flat) | r, g, b (flat) or mult, mat (tube) | label | body
            A, Bc, L, body = (np.ascontiguousarray(b[:hs, :ws]) if (hs, ws) != b.shape[:2] else b for b in tile_bufs)
            for b in (A, Bc, L, body):
                b.fill(0)
            for i in sel:
                kind, geo, pay = dl.ops[i]
                if kind == _K_TUBE:
                    at, mat, lab = pay
                    qs = np.round((geo * SS - (ox, oy)) * k).astype(np.int32)
                    ct = SS * at[:, 2] - (at[:, 0] * ox + at[:, 1] * oy)
                    ir = 1.0 / (SS * at[:, 3])
                    fm = float(mat)
                    isbody = lab != LAB_PRONG
                    if len(qs) > 4:
                        vis = np.flatnonzero(
                            (qs[:, :, 0].max(1) >= -k) & (qs[:, :, 1].max(1) >= -k) & (qs[:, :, 0].min(1) <= (ws + 1) * k) & (qs[:, :, 1].min(1) <= (hs + 1) * k)
                        )
                    else:
                        vis = range(len(qs))
                    atl = at.tolist()
                    ctl, irl = ct.tolist(), ir.tolist()
                    for j in vis:
                        q = qs[j]
                        aj = atl[j]
                        cv2.fillConvexPoly(A, q, (aj[0], aj[1], ctl[j], irl[j]), cv2.LINE_8, _SHIFT)
                        cv2.fillConvexPoly(Bc, q, (aj[4], fm, 0.0, 0.0), cv2.LINE_8, _SHIFT)
                        cv2.fillConvexPoly(L, q, lab, cv2.LINE_8, _SHIFT)
                        if isbody:
                            cv2.fillConvexPoly(body, q, 1, cv2.LINE_8, _SHIFT)
                elif kind == _K_CIRC:
                    nx, ny, c, r, mu, mat, lab = pay
                    attr = (nx, ny, SS * c - (nx * ox + ny * oy), 1.0 / (SS * r))
                    bcol = (mu, float(mat), 0.0, 0.0)
                    cx, cy, rr = geo
                    ctr = (int(round((cx * SS - ox) * k)), int(round((cy * SS - oy) * k)))
                    rad = int(round(max(rr * SS - _INSET, 0.2) * k))
                    cv2.circle(A, ctr, rad, attr, -1, cv2.LINE_8, _SHIFT)
                    cv2.circle(Bc, ctr, rad, bcol, -1, cv2.LINE_8, _SHIFT)
                    cv2.circle(L, ctr, rad, lab, -1, cv2.LINE_8, _SHIFT)
                    if lab != LAB_PRONG:
                        cv2.circle(body, ctr, rad, 1, -1, cv2.LINE_8, _SHIFT)
                elif kind == _K_POLY:
                    col, lab = pay
                    attr = (0.0, 0.0, 0.0, 0.0)
                    bcol = (col[0], col[1], col[2], 0.0)
                    if isinstance(geo, tuple):  # disc
                        cx, cy, rr = geo
                        ctr = (int(round((cx * SS - ox) * k)), int(round((cy * SS - oy) * k)))
                        rad = int(round(max(rr * SS - _INSET, 0.2) * k))
                        for buf, val in ((A, attr), (Bc, bcol), (L, lab), (body, 1)):
                            cv2.circle(buf, ctr, rad, val, -1, cv2.LINE_8, _SHIFT)
                    else:
                        q = _inset_convex(geo * SS - (ox, oy), _INSET) * k
                        q = np.round(q).astype(np.int32)
                        for buf, val in ((A, attr), (Bc, bcol), (L, lab), (body, 1)):
                            cv2.fillConvexPoly(buf, q, val, cv2.LINE_8, _SHIFT)
                else:  # paint
                    q = np.round((geo * SS - (ox, oy)) * k).astype(np.int32)
                    cv2.fillConvexPoly(Bc, q, (*pay, 0.0), cv2.LINE_8, _SHIFT)
            Lf = L.ravel()
            idx = np.flatnonzero(Lf)
            if not len(idx):
                continue
            Af = A.reshape(-1, 4)[idx]
            Bf = Bc.reshape(-1, 4)[idx]
            col = Bf[:, :3].copy()
            tube = Af[:, 3] > 0
            if tube.any():
                ti = idx[tube]
                qy = (ti // ws).astype(np.float32)
                qx = (ti % ws).astype(np.float32)
                a = Af[tube]
                s = (a[:, 0] * qx + a[:, 1] * qy - a[:, 2]) * a[:, 3]
                col[tube] = _shade_metal(s, a[:, 0], a[:, 1], Bf[tube, 0], Bf[tube, 1].astype(np.int64), light)
            C = np.zeros((hs * ws, 3), np.float32)
            C[idx] = col
            cov = (Lf > 0).astype(np.float32).reshape(hs, ws)
            pr = ((Lf == LAB_PRONG) & (body.ravel() == 0)).astype(np.float32).reshape(hs, ws)
            size = (tw, th)
            alpha[ty : ty + th, tx : tx + tw] = cv2.resize(cov, size, interpolation=cv2.INTER_AREA)
            prem[ty : ty + th, tx : tx + tw] = cv2.resize(C.reshape(hs, ws, 3), size, interpolation=cv2.INTER_AREA)
            prong[ty : ty + th, tx : tx + tw] = cv2.resize(pr, size, interpolation=cv2.INTER_AREA)
    return Raster(alpha, prem, prong, (y0, x0, y1, x1))


# --------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------


class _Path:
    """Arc-length parametrised polyline."""

    def __init__(self, pts) -> None:
        p = np.asarray(pts, np.float64).reshape(-1, 2)
        d = np.hypot(*np.diff(p, axis=0).T)
        keep = np.concatenate([[True], d > 1e-9])
        self.p = p[keep]
        self.s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(self.p, axis=0).T))])
        self.length = float(self.s[-1])

    def at(self, s) -> np.ndarray:
        s = np.clip(np.asarray(s, np.float64), 0.0, self.length)
        return np.stack([np.interp(s, self.s, self.p[:, 0]), np.interp(s, self.s, self.p[:, 1])], axis=-1)


def _ellipse(cx, cy, a, b, ang, n, t0=0.0) -> np.ndarray:
    t = t0 + np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    ca, sa = math.cos(ang), math.sin(ang)
    x, y = a * np.cos(t), b * np.sin(t)
    return np.stack([cx + ca * x - sa * y, cy + sa * x + ca * y], axis=1)


def _wander(rng, W, H, start, heading, length, *, curv, margin, step=2.0) -> np.ndarray:
    """A smooth meandering path (lying chain) that steers away from the frame edges."""
    n = int(length / step)
    freqs = rng.uniform(1 / 900, 1 / 150, 4)
    phases = rng.uniform(0, 2 * np.pi, 4)
    amps = rng.uniform(0.4, 1.0, 4)
    amps /= amps.sum()
    p = np.array(start, np.float64)
    th = heading
    out = [p.copy()]
    ctr = np.array([W / 2, H / 2])
    for i in range(n):
        s = i * step
        k = curv * float(np.sum(amps * np.sin(2 * np.pi * freqs * s + phases)))
        # steer towards the centre near the edges
        dxm = min(p[0] - margin, W - margin - p[0])
        dym = min(p[1] - margin, H - margin - p[1])
        near = min(dxm, dym)
        if near < margin:
            to_c = math.atan2(ctr[1] - p[1], ctr[0] - p[0])
            diff = (to_c - th + np.pi) % (2 * np.pi) - np.pi
            k += diff * (1.0 - max(near, 0.0) / margin) * 0.02
        th += k * step
        p = p + step * np.array([math.cos(th), math.sin(th)])
        out.append(p.copy())
    return np.array(out)


# --------------------------------------------------------------------------
# Chains
# --------------------------------------------------------------------------


def _add_chain(
    dl: DisplayList,
    path,
    *,
    wire: float,
    style: str,
    mat: int,
    rng: np.random.Generator,
    twist: float = 0.0,
    slack: float = 1.0,
    s_range: tuple[float, float] | None = None,
) -> int:
    """Interlocking links along ``path``; returns the number of links.

    ``style``: ``"cable"`` (oval links alternating face-on and edge-on),
    ``"rolo"`` (round links) or ``"curb"`` (links twisted to lie flat, overlapping).
    ``twist`` is the amplitude (radians) of the slow rotation of the links about
    the chain's axis (hanging chains twist, lying ones lie flat).
    """
    pa = path if isinstance(path, _Path) else _Path(path)
    r = wire / 2.0
    if style == "rolo":
        a_c = wire * rng.uniform(1.5, 1.8)
        b_c = a_c
    elif style == "curb":
        a_c = wire * rng.uniform(2.2, 2.8)
        b_c = a_c * rng.uniform(0.6, 0.7)
    else:
        a_c = wire * rng.uniform(1.7, 2.3)
        b_c = a_c * rng.uniform(0.62, 0.75)
    pitch = 2.0 * (a_c - r) * slack
    if style == "curb":
        pitch = a_c * 1.25 * slack
    s0, s1 = s_range if s_range else (0.0, pa.length)
    n = int((s1 - s0) / pitch)
    if n < 1:
        return 0
    ph = rng.uniform(0, 2 * np.pi, 3)
    fr = rng.uniform(1 / 600, 1 / 120, 3)
    sv = s0 + (np.arange(n) + 0.5) * pitch
    cs = pa.at(sv)
    us = pa.at(sv + a_c) - pa.at(sv - a_c)
    angs = np.arctan2(us[:, 1], us[:, 0])
    tws = twist * np.sin(2 * np.pi * fr[None, :] * sv[:, None] + ph[None, :]).sum(axis=1) / 1.5
    odd = (np.arange(n) % 2).astype(bool)
    if style == "curb":
        thetas = 0.9 + tws + np.where(odd, 0.25, -0.25)
    else:
        thetas = tws + np.where(odd, math.pi / 2, 0.0)
    bbs = b_c * np.abs(np.cos(thetas))
    mults = np.clip(rng.normal(1.0, 0.08, n), 0.75, 1.2)
    links = [(i, cs[i], float(angs[i]), float(bbs[i]), float(mults[i])) for i in range(n)]
    order = links
    if style != "curb":
        even = [lk for lk in links if lk[0] % 2 == 0]
        odd = [lk for lk in links if lk[0] % 2 == 1]
        # the more face-on family first; the links threaded through its eyes on top
        if np.mean([lk[3] for lk in even]) < (np.mean([lk[3] for lk in odd]) if odd else 0):
            even, odd = odd, even
        order = even + odd
    npts = int(np.clip(2 * np.pi * a_c / 1.2, 14, 64))
    t = np.linspace(0.0, 2 * np.pi, npts, endpoint=False)
    # darker where the neighbouring links pass (the link's two tips)
    tip = np.minimum(np.abs(np.sin(t / 2)), np.abs(np.cos(t / 2)))
    ao = 1.0 - 0.35 * np.exp(-(tip**2) / 0.04)
    fam = [order[: (n + 1) // 2 if style != "curb" else n], order[(n + 1) // 2 if style != "curb" else n :]]
    if style != "curb":
        fam = [[lk for lk in order if lk[0] % 2 == order[0][0] % 2], [lk for lk in order if lk[0] % 2 != order[0][0] % 2]]
    for group in fam:
        ring = [lk for lk in group if lk[3] > r * 1.15]
        flat = [lk for lk in group if lk[3] <= r * 1.15]
        if ring:
            cs_ = np.array([lk[1] for lk in ring])
            an = np.array([lk[2] for lk in ring])[:, None]
            bb = np.array([lk[3] for lk in ring])[:, None]
            x, y = a_c * np.cos(t)[None, :], bb * np.sin(t)[None, :]
            pts = np.stack([cs_[:, :1] + np.cos(an) * x - np.sin(an) * y, cs_[:, 1:] + np.sin(an) * x + np.cos(an) * y], axis=-1)
            m = np.array([lk[4] for lk in ring])[:, None] * ao[None, :]
            dl.loops(pts, r, mat=mat, mult=m)
        if flat:
            cs_ = np.array([lk[1] for lk in flat])
            an = np.array([lk[2] for lk in flat])
            u = np.stack([np.cos(an), np.sin(an)], axis=1)
            bb = np.array([lk[3] for lk in flat])
            half = (a_c - 0.4 * r)
            dl.capsules(cs_ - u * half, cs_ + u * half, r + bb, mat=mat, mult=np.array([lk[4] for lk in flat]))
    return n


# --------------------------------------------------------------------------
# Stones
# --------------------------------------------------------------------------

_STONE_BASE = {
    "sapphire": (0.05, 0.10, 0.55),
    "ruby": (0.62, 0.03, 0.09),
    "emerald": (0.04, 0.42, 0.18),
    "amethyst": (0.40, 0.14, 0.58),
    "citrine": (0.85, 0.50, 0.06),
    "aquamarine": (0.45, 0.72, 0.85),
    "topaz": (0.25, 0.55, 0.95),
}


class _Palette:
    """Facet colours (display-referred) for a stone type."""

    def __init__(self, kind: str, rng: np.random.Generator, bg: np.ndarray) -> None:
        self.kind, self.rng, self.bg = kind, rng, np.asarray(bg, np.float64)

    def __call__(self, bright: float = 0.5) -> tuple[float, float, float]:
        rng = self.rng
        u = rng.random()
        if self.kind == "diamond":
            bias = 0.15 * (bright - 0.5)
            if u < 0.36 + bias:  # white reflections, a touch of the backdrop's colour
                v = rng.uniform(0.9, 1.0)
                c = v * (0.75 + 0.25 * self.bg / max(self.bg.max(), 1e-3))
            elif u < 0.62:
                v = rng.uniform(0.6, 0.85)
                c = np.array([v * 0.98, v, v * 1.03])
            elif u < 0.76:
                v = rng.uniform(0.3, 0.55)
                c = np.array([v, v, v * 1.04])
            elif u < 0.97:
                v = rng.uniform(0.05, 0.25)
                c = np.array([v, v, v * 1.1])
            else:  # fire
                hue = rng.uniform(0, 1)
                c = np.array([0.5 + 0.5 * math.cos(2 * np.pi * (hue + k / 3)) for k in range(3)])
                c = 0.6 + 0.4 * c
        else:
            base = np.array(_STONE_BASE[self.kind])
            if u < 0.1:
                c = np.array([0.95, 0.95, 0.95]) * rng.uniform(0.85, 1.0)
            else:
                f = rng.uniform(0.35, 1.5) * (0.7 + 0.6 * bright)
                c = np.clip(base * f, 0, 1)
                if f > 1.3:
                    c = c + (1 - c) * (f - 1.3)
        return tuple(float(v) for v in np.clip(c, 0, 1))


def _add_brilliant(dl: DisplayList, centre, R: float, pal: _Palette, *, aspect: float = 1.0, rot: float = 0.0) -> None:
    """A round (or oval, ``aspect`` < 1) brilliant seen from the top: 57 facets."""
    cx, cy = centre
    ca, sa = math.cos(rot), math.sin(rot)

    def P(rad, ang):
        x, y = rad * math.cos(ang), rad * aspect * math.sin(ang)
        return (cx + ca * x - sa * y, cy + sa * x + ca * y)

    girdle = np.array([P(R, a) for a in np.linspace(0, 2 * np.pi, 48, endpoint=False)])
    dl.poly(girdle, pal(0.3))
    d = np.pi / 8
    # a cut stone's facets repeat with its symmetry; some break it (reflections)
    sym = {f: [pal(b) for _ in range(2)] for f, b in (("star", 0.7), ("kite", 0.5), ("ug", 0.4))}

    def col(f, k, b):
        return pal(b) if pal.rng.random() < 0.3 else sym[f][k % 2]

    for k in range(8):
        a = k * np.pi / 4
        T0, T1 = P(0.54 * R, a - d), P(0.54 * R, a + d)
        S = P(0.80 * R, a)
        Gm, G0, G1 = P(R, a), P(R, a - d), P(R, a + d)
        S2 = P(0.80 * R, a + 2 * d)
        dl.paint([T0, T1, S], col("star", k, 0.7))
        dl.paint([T1, S, G1, S2], col("kite", k, 0.5))
        dl.paint([S, Gm, G1], col("ug", k, 0.4))  # upper girdle
        dl.paint([S, G0, Gm], col("ug", k + 1, 0.4))
    table = [P(0.54 * R, k * np.pi / 4 + d) for k in range(8)]
    dl.paint(table, pal(0.8))
    # the pavilion's arrows seen through the table
    for k in range(8):
        if pal.rng.random() < 0.5:
            a = k * np.pi / 4 + d
            dl.paint([P(0.05 * R, a - 0.3), P(0.5 * R, a - 0.12), P(0.5 * R, a + 0.12), P(0.05 * R, a + 0.3)], pal(0.3))


def _add_step_cut(dl: DisplayList, centre, w: float, h: float, pal: _Palette, *, rot: float = 0.0) -> None:
    """An emerald (step) cut seen from the top: concentric steps and a table."""
    cx, cy = centre
    ca, sa = math.cos(rot), math.sin(rot)

    def octo(f):
        c = 0.22 * min(w, h) * f
        hw, hh = w / 2 * f, h / 2 * f
        pts = [(-hw + c, -hh), (hw - c, -hh), (hw, -hh + c), (hw, hh - c), (hw - c, hh), (-hw + c, hh), (-hw, hh - c), (-hw, -hh + c)]
        return np.array([(cx + ca * x - sa * y, cy + sa * x + ca * y) for x, y in pts])

    outer = octo(1.0)
    dl.poly(outer, pal(0.3))
    rings = [1.0, 0.84, 0.7, 0.58]
    for f0, f1 in zip(rings[:-1], rings[1:]):
        o, i = octo(f0), octo(f1)
        for k in range(8):
            j = (k + 1) % 8
            dl.paint([o[k], o[j], i[j], i[k]], pal(0.3 + 0.6 * ((k + 1) % 4 == 0)))
    dl.paint(octo(0.58), pal(0.75))


def _add_stone_profile(dl: DisplayList, girdle_c, D: float, pal: _Palette) -> tuple[float, float]:
    """A round brilliant seen from the side (crown up). Returns (girdle_y, culet_y)."""
    cx, gy = girdle_c
    hw = D / 2
    crown_h, pav_h, gird = 0.16 * D, 0.43 * D, 0.025 * D
    table_hw = 0.28 * D
    culet = (cx, gy + gird + pav_h)
    outline = [
        (cx - table_hw, gy - crown_h),
        (cx + table_hw, gy - crown_h),
        (cx + hw, gy),
        (cx + hw, gy + gird),
        culet,
        (cx - hw, gy + gird),
        (cx - hw, gy),
    ]
    dl.poly(outline, pal(0.3))
    xs = np.linspace(-1, 1, 7)
    for a, b in zip(xs[:-1], xs[1:]):  # crown facets
        ta, tb = cx + a * table_hw, cx + b * table_hw
        ga, gb = cx + a * hw, cx + b * hw
        mid = gy - crown_h * 0.45
        dl.paint([(ta, gy - crown_h), (tb, gy - crown_h), ((tb + gb) / 2, mid), ((ta + ga) / 2, mid)], pal(0.75))
        dl.paint([((ta + ga) / 2, mid), ((tb + gb) / 2, mid), (gb, gy), (ga, gy)], pal(0.55))
    dl.paint([(cx - hw, gy), (cx + hw, gy), (cx + hw, gy + gird), (cx - hw, gy + gird)], pal(0.5))
    xs = np.linspace(-1, 1, 9)
    for a, b in zip(xs[:-1], xs[1:]):  # pavilion facets
        ga, gb = cx + a * hw, cx + b * hw
        ya = gy + gird
        mid_a = (cx + a * hw * 0.45, ya + pav_h * 0.55)
        mid_b = (cx + b * hw * 0.45, ya + pav_h * 0.55)
        dl.paint([(ga, ya), (gb, ya), mid_b, mid_a], pal(0.35))
        dl.paint([mid_a, mid_b, culet], pal(0.25))
    return gy, culet[1]


# --------------------------------------------------------------------------
# Settings and pieces
# --------------------------------------------------------------------------


def _add_claw(dl, base, tip, width, mat, bend=0.25):
    """A prong: a thin tube from ``base`` to ``tip``, bowed, with a bead at the tip."""
    base, tip = np.asarray(base, float), np.asarray(tip, float)
    d = tip - base
    nrm = np.array([-d[1], d[0]])
    t = np.linspace(0, 1, 8)[:, None]
    pts = base + d * t + nrm * bend * (t * (1 - t))
    dl.tube(pts, width / 2, mat=mat, label=LAB_PRONG, mult=np.linspace(0.8, 1.1, 8))
    # the claw's rounded head, shaded as a bead
    u = _unit(d)
    dl._circle_attr(tip, width * 0.7, (float(-u[1]), float(u[0]), float(-u[1] * tip[0] + u[0] * tip[1]), width * 0.7, 1.05, mat, LAB_PRONG))


def _add_solitaire(dl, c, R, *, mat, pal, prongs, prong_w, frame: bool, rot=0.0, aspect=1.0):
    """Top view of a claw-set stone; ``frame`` adds an open wire basket around it."""
    cx, cy = c
    if frame:
        fr = R * 1.16
        pts = _ellipse(cx, cy, fr, fr * aspect, rot, 96)
        dl.tube(pts, prong_w * 0.45, mat=mat, closed=True, mult=0.9)
    _add_brilliant(dl, c, R, pal, aspect=aspect, rot=rot)
    for k in range(prongs):
        a = rot + (k + 0.5) * 2 * np.pi / prongs
        ca, sa = math.cos(a), math.sin(a)
        # a claw shows a few wire widths: from the basket behind over the girdle
        rin = R - 1.8 * prong_w
        rout = R * 1.16 if frame else R + 1.2 * prong_w
        tip = (cx + rin * ca, cy + rin * sa * aspect)
        base = (cx + rout * ca, cy + rout * sa * aspect)
        _add_claw(dl, base, tip, prong_w, mat, bend=0.0)


def _add_bail(dl, top, size, wire, mat):
    """A bail loop above a pendant; returns its top point (where a chain passes)."""
    tx, ty = top
    pts = _ellipse(tx, ty - size, size * 0.55, size, 0.0, 40)
    dl.tube(pts, wire / 2, mat=mat, closed=True)
    return np.array([tx, ty - 2 * size + wire])


def _add_bezel_drop(dl, c, R, *, mat, pal, rim):
    """A pear-shaped stone in a bezel rim (point down), top view."""
    cx, cy = c
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    # pear: round top, pointed bottom
    x = R * np.sin(t) * (0.75 + 0.25 * np.cos(t))
    y = -R * np.cos(t) * 1.25
    out = np.stack([cx + x, cy + y], 1)
    dl.tube(out, rim / 2 + R * 0.04, mat=mat, closed=True)
    inner = np.stack([cx + x * 0.93, cy + y * 0.93], 1)
    dl.poly(inner, pal(0.3))
    for f0, f1 in ((0.93, 0.7), (0.7, 0.45)):
        for k in range(0, 64, 8):
            j = (k + 8) % 64
            q = [(cx + x[k] * f0, cy + y[k] * f0), (cx + x[j] * f0, cy + y[j] * f0), (cx + x[j] * f1, cy + y[j] * f1), (cx + x[k] * f1, cy + y[k] * f1)]
            dl.paint(q, pal(0.4 + 0.3 * (f1 < 0.6)))
    dl.paint(np.stack([cx + x * 0.45, cy + y * 0.45], 1), pal(0.8))
    return np.array([cx, cy - 1.25 * R - rim / 2])


def _add_ring(dl, c, Rb, *, mat, band_w, view, pal=None, stone_d=0.0, prong_w=2.0):
    """A ring standing upright, 3/4 view; optional claw-set stone on top (side view)."""
    cx, cy = c
    n = 120
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    a = Rb * view
    pts = np.stack([cx + a * np.cos(t), cy + Rb * np.sin(t)], 1)
    # the band shows its width where it turns away from the camera
    rad = band_w / 2 * (0.55 + 0.45 * np.abs(np.cos(t)) * (1 - view) + 0.45 * view)
    # the back half is the inside of the band: darker
    mult = np.where(np.cos(t) > 0, 0.72, 1.0) * (0.9 + 0.1 * np.sin(t))
    dl.tube(pts, rad, mat=mat, closed=True, mult=mult)
    if stone_d <= 0:
        return
    D = stone_d
    top_y = cy - Rb - band_w * 0.35
    gy = top_y - 0.43 * D - 0.25 * D
    # basket rail behind the stone and the back prongs
    for x in (-0.18, 0.18):
        _add_claw(dl, (cx + x * D, top_y + band_w * 0.3), (cx + x * 1.6 * D, gy - 0.09 * D), prong_w * 0.9, mat, bend=0.0)
    _add_stone_profile(dl, (cx, gy), D, pal)
    rail_y = gy + 0.28 * D
    dl.tube([(cx - 0.36 * D, rail_y), (cx + 0.36 * D, rail_y)], prong_w * 0.45, mat=mat, mult=0.95)
    for x in (-1, 1):
        base = (cx + x * 0.12 * D, top_y + band_w * 0.2)
        mid = (cx + x * 0.53 * D, gy + 0.02 * D)
        tip = (cx + x * 0.44 * D, gy - 0.12 * D)
        pts = np.array([base, (cx + x * 0.42 * D, gy + 0.3 * D), mid, tip])
        dl.tube(pts, prong_w / 2, mat=mat, label=LAB_PRONG, mult=np.array([0.8, 1.0, 1.1, 1.0]))
        dl._circle_attr(tip, prong_w * 0.6, (0.0, 1.0, float(tip[1]), prong_w * 0.6, 1.0, mat, LAB_PRONG))
    # a front prong crossing the crown
    _add_claw(dl, (cx + 0.06 * D, gy + 0.35 * D), (cx + 0.1 * D, gy - 0.14 * D), prong_w, mat, bend=0.0)


def _add_hoop(dl, c, R, *, mat, wire, view, rot=0.0):
    t = np.linspace(0, 2 * np.pi, 160, endpoint=False)
    pts = _ellipse(c[0], c[1], R * view, R, rot, 160)
    mult = 0.85 + 0.2 * np.cos(t - 2.3)
    dl.tube(pts, wire / 2, mat=mat, closed=True, mult=mult)


def _add_hook(dl, top, size, wire, mat):
    """A fish-hook ear wire; returns the point where a drop hangs."""
    tx, ty = top
    t = np.linspace(np.pi, -0.35 * np.pi, 40)
    arc = np.stack([tx + size * 0.5 + size * 0.5 * np.cos(t), ty + size * 0.55 * (1 - np.sin(t)) * 0.9], 1)
    tail = np.array([arc[-1] + (size * 0.05 * k, size * 0.35 * k) for k in np.linspace(0.1, 1.6, 8)])
    loop_c = (tx, ty + size * 0.55)
    dl.tube(np.vstack([[(tx, ty + size * 0.5)], arc, tail]), wire / 2, mat=mat)
    lp = _ellipse(loop_c[0], loop_c[1] + size * 0.12, size * 0.09, size * 0.12, 0.0, 24)
    dl.tube(lp, wire / 2, mat=mat, closed=True)
    return np.array([loop_c[0], loop_c[1] + size * 0.24])


def _add_clasp(dl, p, u, size, wire, mat):
    """A lobster clasp at ``p`` pointing along ``u``."""
    u = _unit(np.asarray(u, float))
    n = np.array([-u[1], u[0]])
    p = np.asarray(p, float)
    body = np.array([p + u * size * k + n * size * 0.18 * math.sin(math.pi * k) for k in np.linspace(0, 1, 10)])
    dl.tube(body, size * 0.2, mat=mat, mult=1.0)
    ring = _ellipse(*(p - u * size * 0.2), size * 0.18, size * 0.18, 0.0, 24)
    dl.tube(ring, wire / 2, mat=mat, closed=True)


# --------------------------------------------------------------------------
# Scenes
# --------------------------------------------------------------------------

KINDS = (
    "necklace-hanging",
    "chain-hanging",
    "chain-lying",
    "necklace-lying",
    "bracelet-lying",
    "ring-standing",
    "rings-pair",
    "hoops",
    "studs",
    "drops",
    "pendant-closeup",
)

BACKDROPS = ("white", "grey", "warm", "cool", "glossy-white", "glossy-grey", "paper", "marble", "linen")

# brightness range and tint of each backdrop
_BG_BASE = {
    "white": ((0.93, 1.0), (1.0, 1.0, 1.0)),
    "grey": ((0.74, 0.86), (1.0, 1.0, 1.0)),
    "warm": ((0.9, 0.98), (1.0, 0.96, 0.89)),
    "cool": ((0.86, 0.95), (0.94, 0.97, 1.0)),
    "paper": ((0.9, 0.97), (1.0, 0.99, 0.96)),
    "marble": ((0.9, 0.97), (1.0, 1.0, 0.985)),
    "linen": ((0.8, 0.9), (1.0, 0.95, 0.86)),
}


@dataclasses.dataclass
class _Piece:
    dl: DisplayList
    mode: str  # "hanging", "lying" or "standing"
    contact_y: float = 0.0


@dataclasses.dataclass
class _Ctx:
    rng: np.random.Generator
    W: int
    H: int
    s: float  # geometric scale: 1.0 at 1200 px frame height
    d: float  # detail scale for wire widths
    bg: np.ndarray  # backdrop base colour (display)
    mat: int
    backdrop: str
    pendant: str | None = None

    def wire(self, lo=0.7, hi=4.0) -> float:
        return float(self.rng.uniform(lo, hi) * self.d)

    def prong(self) -> float:
        return float(self.rng.uniform(1.5, 3.0) * self.d)

    def stone(self) -> str:
        r = self.rng.random()
        if r < 0.6:
            return "diamond"
        return str(self.rng.choice(list(_STONE_BASE)))


def _pendant(ctx: _Ctx, dl: DisplayList, bail_pt, size: float, kind: str | None = None) -> str:
    """A pendant hanging from ``bail_pt`` (the chain passes there). Returns a description."""
    rng = ctx.rng
    kind = kind or ctx.pendant or str(rng.choice(["solitaire", "solitaire", "drop"]))
    bx, by = bail_pt
    bw = ctx.prong() * 1.1
    stone = ctx.stone()
    pal = _Palette(stone, rng, ctx.bg)
    bail = size * 0.3
    if kind == "drop":
        stone = stone if stone != "diamond" else "sapphire"
        pal = _Palette(stone, rng, ctx.bg)
        top = (bx, by + 2 * bail)
        R = size
        c = (bx, top[1] + 1.25 * R + bw)
        _add_bail(dl, top, bail, bw, ctx.mat)
        _add_bezel_drop(dl, c, R, mat=ctx.mat, pal=pal, rim=bw)
        return f"{stone} drop in a bezel"
    n_pr = int(rng.choice([4, 6]))
    pw = ctx.prong()
    R = size
    frame = rng.random() < 0.7
    c = (bx, by + 2 * bail + R * (1.16 if frame else 1.0) + pw)
    _add_bail(dl, (bx, c[1] - R * (1.16 if frame else 1.0)), bail, bw, ctx.mat)
    _add_solitaire(dl, c, R, mat=ctx.mat, pal=pal, prongs=n_pr, prong_w=pw, frame=frame)
    return f"{stone} solitaire, {n_pr} prongs {pw:.1f} px{' in an open basket' if frame else ''}"


def _style(rng) -> str:
    return str(rng.choice(["cable", "cable", "rolo", "curb"]))


def _build(ctx: _Ctx, kind: str) -> tuple[list[_Piece], str]:
    rng, W, H, s = ctx.rng, ctx.W, ctx.H, ctx.s
    metal = MATERIALS[ctx.mat]
    pieces: list[_Piece] = []
    if kind in ("necklace-hanging", "pendant-closeup"):
        dl = DisplayList()
        close = kind == "pendant-closeup"
        P = np.array([W * rng.uniform(0.42, 0.58), H * (rng.uniform(0.18, 0.3) if close else rng.uniform(0.5, 0.66))])
        size = (rng.uniform(110, 170) if close else rng.uniform(40, 75)) * s
        desc = _pendant(ctx, dl, P, size)
        wire = ctx.wire(1.0, 3.0) if close else ctx.wire()
        style = _style(rng)
        for side in (-1, 1):
            c = rng.uniform(0.5, 1.2) * H
            dv = rng.uniform(0.15, 0.5) * c
            xv = P[0] - side * dv
            yv = P[1] + c * (math.cosh(dv / c) - 1.0)
            xs = P[0] + side * np.arange(0, W, 1.5)
            ys = yv - c * (np.cosh((xs - xv) / c) - 1.0)
            ok = ys > -40 * s
            pts = np.stack([xs[ok], ys[ok]], 1)[::-1]
            _add_chain(dl, pts, wire=wire, style=style, mat=ctx.mat, rng=rng, twist=rng.uniform(0.3, 1.2))
        pieces.append(_Piece(dl, "hanging"))
        what = f"{metal} {style} chain ({wire:.1f} px wire) hanging, {desc}"
        return pieces, ("close-up: " if close else "") + what
    if kind == "chain-hanging":
        dl = DisplayList()
        n = int(rng.integers(1, 3))
        style = _style(rng)
        wire = ctx.wire()
        for k in range(n):
            c = rng.uniform(0.35, 0.9) * H
            xv = W * rng.uniform(0.35, 0.65)
            yv = H * rng.uniform(0.45, 0.85) - k * rng.uniform(60, 160) * s
            xs = np.arange(-0.1 * W, 1.1 * W, 1.5)
            ys = yv - c * (np.cosh((xs - xv) / c) - 1.0)
            ok = ys > -40 * s
            _add_chain(dl, np.stack([xs[ok], ys[ok]], 1), wire=wire, style=style, mat=ctx.mat, rng=rng, twist=rng.uniform(0.3, 1.5))
        pieces.append(_Piece(dl, "hanging"))
        return pieces, f"{n} strand(s) of {metal} {style} chain ({wire:.1f} px wire) hanging"
    if kind == "chain-lying":
        dl = DisplayList()
        style = _style(rng)
        wire = ctx.wire()
        margin = 120 * s
        start = (rng.uniform(0.2, 0.8) * W, rng.uniform(0.2, 0.8) * H)
        path = _wander(rng, W, H, start, rng.uniform(0, 2 * np.pi), rng.uniform(1.6, 3.0) * W, curv=rng.uniform(1 / 220, 1 / 90) / s, margin=margin, step=2.0 * s)
        _add_chain(dl, path, wire=wire, style=style, mat=ctx.mat, rng=rng, twist=0.08, slack=rng.uniform(0.9, 1.0))
        pieces.append(_Piece(dl, "lying"))
        return pieces, f"{metal} {style} chain ({wire:.1f} px wire) lying in loose curves"
    if kind in ("necklace-lying", "bracelet-lying"):
        dl = DisplayList()
        style = _style(rng)
        wire = ctx.wire()
        brace = kind == "bracelet-lying"
        R = (rng.uniform(0.22, 0.33) if brace else rng.uniform(0.22, 0.3)) * H
        phi = np.linspace(0, 2 * np.pi, 1600, endpoint=False)
        rr = np.ones_like(phi)
        for kk in (2, 3, 4):
            rr += rng.uniform(0.02, 0.07) * np.cos(kk * phi + rng.uniform(0, 2 * np.pi))
        psize = rng.uniform(28, 50) * s
        sx = rng.uniform(1.05, 1.35)
        pull = 0.0 if brace else rng.uniform(0.1, 0.25)
        cx = W * rng.uniform(0.42, 0.58)
        if brace:
            cy = H * rng.uniform(0.42, 0.55)
        else:  # leave room for the pendant below the loop
            cy = min(H * rng.uniform(0.36, 0.44), H - 60 * s - 4.0 * psize - R * (1.1 + pull))
        dphi = (phi - np.pi / 2 + np.pi) % (2 * np.pi) - np.pi
        y = R * rr * np.sin(phi) + pull * R * np.exp(-((dphi / 0.55) ** 2))
        loop = np.stack([cx + sx * R * rr * np.cos(phi), cy + y], 1)
        loop = np.vstack([loop, loop[:1]])
        desc = ""
        if brace:
            pa = _Path(loop)
            gap = wire * 12
            _add_chain(dl, pa, wire=wire, style=style, mat=ctx.mat, rng=rng, twist=0.08, s_range=(gap, pa.length))
            p0, p1 = pa.at(0.0), pa.at(gap)
            _add_clasp(dl, p0, p1 - p0, gap * 0.9, wire, ctx.mat)
            desc = " with a lobster clasp"
        else:
            i = int(np.argmax(loop[:, 1]))
            loop = np.roll(loop[:-1], -i, axis=0)
            loop = np.vstack([loop, loop[:1]])
            desc = ", " + _pendant(ctx, dl, loop[0] + (0, wire), psize)
            _add_chain(dl, loop, wire=wire, style=style, mat=ctx.mat, rng=rng, twist=0.08)
        pieces.append(_Piece(dl, "lying"))
        name = "bracelet" if brace else "necklace"
        return pieces, f"{metal} {style} {name} ({wire:.1f} px wire) lying in a loop{desc}"
    if kind in ("ring-standing", "rings-pair"):
        n = 1 if kind == "ring-standing" else 2
        descs = []
        xs = [W * rng.uniform(0.42, 0.58)] if n == 1 else [W * rng.uniform(0.3, 0.38), W * rng.uniform(0.62, 0.7)]
        base_y = H * rng.uniform(0.72, 0.82)
        for k in range(n):
            dl = DisplayList()
            Rb = (rng.uniform(150, 230) if n == 1 else rng.uniform(110, 160)) * s
            band = rng.uniform(12, 24) * s
            view = rng.uniform(0.45, 0.9)
            with_stone = k == 0 or rng.random() < 0.5
            mat = ctx.mat if k == 0 else int(rng.integers(0, 4))
            stone = ctx.stone()
            D = Rb * rng.uniform(0.6, 0.85) if with_stone else 0.0
            pw = ctx.prong()
            cy = base_y - Rb - band / 2
            _add_ring(dl, (xs[k], cy), Rb, mat=mat, band_w=band, view=view, pal=_Palette(stone, rng, ctx.bg), stone_d=D, prong_w=pw)
            pieces.append(_Piece(dl, "standing", contact_y=base_y))
            descs.append(f"{MATERIALS[mat]} {'solitaire ring (' + stone + ', prongs ' + format(pw, '.1f') + ' px)' if with_stone else 'band'}")
        return pieces, " and ".join(descs) + " standing"
    if kind == "hoops":
        standing = rng.random() < 0.6
        wire = ctx.wire(3.0, 9.0)
        R = rng.uniform(120, 220) * s
        base_y = H * rng.uniform(0.72, 0.82)
        view = rng.uniform(0.45, 0.85) if standing else rng.uniform(0.92, 1.0)
        for x in (W * rng.uniform(0.28, 0.36), W * rng.uniform(0.64, 0.72)):
            dl = DisplayList()
            cy = base_y - R - wire / 2 if standing else H * rng.uniform(0.4, 0.6)
            rot = 0.0 if standing else rng.uniform(0, np.pi)
            _add_hoop(dl, (x, cy), R, mat=ctx.mat, wire=wire, view=view, rot=rot)
            # the post
            dl.tube([(x, cy - R), (x + R * 0.12, cy - R - R * 0.05)], wire * 0.3, mat=ctx.mat)
            pieces.append(_Piece(dl, "standing" if standing else "lying", contact_y=base_y))
        return pieces, f"pair of {metal} hoop earrings ({wire:.1f} px wire) {'standing' if standing else 'lying'}"
    if kind == "studs":
        R = rng.uniform(35, 70) * s
        stone = ctx.stone()
        pw = ctx.prong()
        n_pr = int(rng.choice([4, 4, 6]))
        for x in (W * rng.uniform(0.32, 0.4), W * rng.uniform(0.6, 0.68)):
            dl = DisplayList()
            pal = _Palette(stone, rng, ctx.bg)
            c = (x, H * rng.uniform(0.45, 0.55))
            if stone == "emerald":
                _add_step_cut(dl, c, R * 1.6, R * 2.0, pal, rot=rng.uniform(-0.2, 0.2))
                for sx in (-1, 1):
                    for sy in (-1, 1):
                        tip = (c[0] + sx * R * 0.7, c[1] + sy * R * 0.88)
                        _add_claw(dl, (c[0] + sx * R * 0.95, c[1] + sy * R * 1.15), tip, pw, ctx.mat, bend=0.0)
            else:
                _add_solitaire(dl, c, R, mat=ctx.mat, pal=pal, prongs=n_pr, prong_w=pw, frame=False, rot=rng.uniform(0, np.pi))
            pieces.append(_Piece(dl, "lying"))
        return pieces, f"pair of {metal} {stone} stud earrings, {n_pr} prongs {pw:.1f} px, lying"
    if kind == "drops":
        hanging = rng.random() < 0.5
        wire = ctx.wire(1.2, 2.6)
        size = rng.uniform(110, 170) * s
        R = rng.uniform(45, 80) * s
        total = size * 0.9 + R * 3.2
        kind_p = str(rng.choice(["solitaire", "drop"]))
        descs = ""
        for x in (W * rng.uniform(0.3, 0.38), W * rng.uniform(0.6, 0.68)):
            dl = DisplayList()
            top = (x - size * 0.2, max(H / 2 - total / 2 + rng.uniform(-30, 30) * s, 20 * s))
            hang = _add_hook(dl, top, size, wire, ctx.mat)
            jr = _ellipse(hang[0], hang[1] + size * 0.08, size * 0.07, size * 0.08, 0.0, 24)
            dl.tube(jr, wire / 2, mat=ctx.mat, closed=True)
            descs = _pendant(ctx, dl, (hang[0], hang[1] + size * 0.1), R, kind=kind_p)
            pieces.append(_Piece(dl, "hanging" if hanging else "lying"))
        return pieces, f"pair of {metal} drop earrings on hooks ({wire:.1f} px wire), {descs}, {'hanging' if hanging else 'lying'}"
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


# --------------------------------------------------------------------------
# Backdrop, shadows, reflections
# --------------------------------------------------------------------------


def _smooth_noise(rng, H, W, cell: float) -> np.ndarray:
    """Band-limited noise with features about ``cell`` px, std ~1, float32."""
    h, w = max(int(H / cell) + 3, 2), max(int(W / cell) + 3, 2)
    z = rng.standard_normal((h, w)).astype(np.float32)
    big = cv2.resize(z, (int(w * cell), int(h * cell)), interpolation=cv2.INTER_CUBIC)
    return big[:H, :W] / 0.8


def _backdrop(rng, W, H, kind: str, flat_lay: bool, s: float) -> tuple[np.ndarray, np.ndarray]:
    base_kind = kind.replace("glossy-", "")
    (lo, hi), tint = _BG_BASE[base_kind]
    base = (rng.uniform(lo, hi) * np.array(tint) * (1 + rng.normal(0, 0.006, 3))).astype(np.float32)
    sh, sw = max(H // 8, 8), max(W // 8, 8)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    yy, xx = (yy + 0.5) / sh, (xx + 0.5) / sw
    if flat_lay:
        a = rng.uniform(0, 2 * np.pi)
        g = 1.0 + rng.uniform(0.02, 0.08) * ((xx - 0.5) * math.cos(a) + (yy - 0.5) * math.sin(a))
    else:  # sweep: wall at the top falls off, floor brighter towards the camera
        g = 1.0 - rng.uniform(0.05, 0.16) * (1.0 - yy) ** 1.6 + rng.uniform(0.0, 0.04) * yy
    cxh, cyh = rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.65)
    r2 = ((xx - cxh) * W / H) ** 2 + (yy - cyh) ** 2
    g = g * (1.0 - rng.uniform(0.04, 0.2) * np.clip(r2 / 0.9, 0, 2) ** 1.25)
    g = g * (1.0 + 0.03 * np.exp(-r2 / 0.08))
    tint_shift = rng.normal(0, 0.01, 3).astype(np.float32)
    low = g[..., None] * base + tint_shift * (yy[..., None] - 0.5)
    B = cv2.resize(low.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    if base_kind == "paper":
        grain = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 0.7 * s)
        grain *= 0.012 / max(float(grain.std()), 1e-6)
        mott = _smooth_noise(rng, H, W, 70 * s) * 0.005
        B *= (1.0 + grain + mott)[..., None]
    elif base_kind == "marble":
        # veins are soft: work at half resolution and upsample once
        Hf, Wf, H, W, s = H, W, (H + 1) // 2, (W + 1) // 2, s / 2
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        M0 = np.ones((H, W, 3), np.float32)
        a = rng.uniform(0, np.pi)
        along = xx * math.cos(a) + yy * math.sin(a)
        clouds = _smooth_noise(rng, H, W, 300 * s)
        M0 *= (1.0 - 0.025 * clouds)[..., None]
        # a few long veins (level lines of a gently warped ramp) and fainter branches
        for amp, period, width, warp in ((rng.uniform(0.12, 0.25), 900, 0.018, 0.9), (rng.uniform(0.05, 0.1), 450, 0.012, 1.4)):
            turb = sum(_smooth_noise(rng, H, W, c * s) * w for c, w in ((500, 1.0), (220, 0.45), (90, 0.2), (35, 0.08)))
            ph = along / (period * s) * 2 * np.pi + turb * warp
            v = np.abs(np.sin(ph / 2))
            strength = np.clip(0.3 + 0.7 * _smooth_noise(rng, H, W, 200 * s), 0, 1)
            vein = np.exp(-((v / width) ** 2)) * strength
            vein = cv2.GaussianBlur(vein.astype(np.float32), (0, 0), 1.2 * s)
            vc = np.array([1.0, 1.0, 0.97], np.float32) * amp
            M0 *= 1.0 - vein[..., None] * vc
        H, W, s = Hf, Wf, s * 2
        B *= cv2.resize(M0, (W, H), interpolation=cv2.INTER_LINEAR)
        B *= (1.0 + 0.006 * cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 2.0 * s) * 4)[..., None]
    elif base_kind == "linen":
        p = rng.uniform(3.5, 6.0) * s
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        slub_r = cv2.resize(rng.standard_normal((H, max(W // int(40 * s + 1), 2))).astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
        slub_c = cv2.resize(rng.standard_normal((max(H // int(40 * s + 1), 2), W)).astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
        rows = np.cos(2 * np.pi * yy / p + 0.4 * slub_r) + 0.3 * slub_r
        cols = np.cos(2 * np.pi * xx / (p * 1.1) + 0.4 * slub_c) + 0.3 * slub_c
        weave = np.where((np.floor(yy / p) + np.floor(xx / (p * 1.1))) % 2 == 0, rows, cols)
        weave = cv2.GaussianBlur(weave, (0, 0), 0.6 * s)
        fib = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 0.5)
        B *= (1.0 + 0.035 * weave + 0.02 * fib)[..., None]
    return np.clip(B, 0.0, 1.0).astype(np.float32), base


def _soft_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; large sigmas run on a downsampled copy (shadows are soft)."""
    if sigma <= 0:
        return img
    H, W = img.shape[:2]
    f = int(sigma // 4)
    if f >= 2:
        small = cv2.resize(img, (max(W // f, 1), max(H // f, 1)), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), sigma / f)
        return cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(img, (0, 0), sigma)


def _shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    M = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, M, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def _shadow_map(rng, piece: _Piece, alpha: np.ndarray, s: float, light_dir: np.ndarray) -> np.ndarray:
    """Fraction by which the backdrop is darkened by this piece (0 = no shadow)."""
    dx, dy = light_dir
    if piece.mode == "lying":
        c = _shift(alpha, dx * 1.5 * s, dy * 1.5 * s)
        c = _soft_blur(c, rng.uniform(1.2, 2.5) * s) * rng.uniform(0.35, 0.6)
        far = rng.uniform(6, 18) * s
        k = _shift(alpha, dx * far, dy * far)
        k = _soft_blur(k, rng.uniform(5, 12) * s) * rng.uniform(0.25, 0.45)
        S = 1 - (1 - c) * (1 - k)
    elif piece.mode == "hanging":
        far = rng.uniform(25, 70) * s
        k = _shift(alpha, dx * far, dy * far)
        S = _soft_blur(k, rng.uniform(8, 22) * s) * rng.uniform(0.25, 0.5)
    else:  # standing: contact shadow under the base and a shadow cast on the floor
        y0 = piece.contact_y
        cols = np.flatnonzero(alpha.max(axis=0) > 0)
        S = np.zeros_like(alpha)
        if len(cols):
            x0, x1 = cols[0], cols[-1]
            cx, w = (x0 + x1) / 2, (x1 - x0) / 2
            cv2.ellipse(S, (int(cx), int(y0)), (int(w * 0.75), max(int(3 * s), 1)), 0, 0, 360, 1.0, -1)
            S = _soft_blur(S, rng.uniform(3, 6) * s) * rng.uniform(0.35, 0.55)
        squash = rng.uniform(0.12, 0.25)
        shear = -dx * rng.uniform(0.3, 0.8)
        M = np.float32([[1, shear * squash, -shear * squash * y0], [0, -squash, y0 * (1 + squash)]])
        cast = cv2.warpAffine(alpha, M, (alpha.shape[1], alpha.shape[0]), flags=cv2.INTER_LINEAR)
        cast = _soft_blur(cast, rng.uniform(6, 14) * s) * rng.uniform(0.2, 0.4)
        S = 1 - (1 - S) * (1 - cast)
    return np.clip(S, 0, 0.85).astype(np.float32)


def _reflection(rng, alpha, prem, y0, s) -> tuple[np.ndarray, np.ndarray]:
    """Mirror image of a standing piece in a glossy floor below ``y0``: (strength, premult colour)."""
    H, W = alpha.shape
    M = np.float32([[1, 0, 0], [0, -1, 2 * y0]])
    ra = cv2.warpAffine(alpha, M, (W, H), flags=cv2.INTER_LINEAR)
    rp = cv2.warpAffine(prem, M, (W, H), flags=cv2.INTER_LINEAR)
    sig = rng.uniform(1.0, 2.5) * s
    ra, rp = _soft_blur(ra, sig), _soft_blur(rp, sig)
    yy = np.arange(H, dtype=np.float32)[:, None]
    fade = rng.uniform(0.18, 0.4) * np.exp(-np.maximum(yy - y0, 0) / (rng.uniform(60, 160) * s)) * (yy > y0)
    return (ra * fade).astype(np.float32), (rp * fade[..., None] * 0.9).astype(np.float32)


# --------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------


def _labels(alpha, prong_frac, shadow_s, refl_s):
    """thin, prong, gap, shadow and reflection masks (see :class:`Scene`)."""
    thin, prong, gap = _fg_labels(alpha, prong_frac)
    bg = alpha == 0
    return thin, prong, gap, (shadow_s >= 0.04) & bg, (refl_s >= 0.03) & bg


def _fg_labels(alpha, prong_frac):
    fg = alpha >= 0.5
    k5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    wide = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, k5).astype(bool)
    thin = fg & ~wide
    prong = fg & (prong_frac >= 0.25)
    any_fg = alpha > 0
    bg = ~any_fg
    holes = ndimage.binary_fill_holes(any_fg) & bg
    k9 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    closed = cv2.morphologyEx(any_fg.astype(np.uint8), cv2.MORPH_CLOSE, k9).astype(bool)
    gap = (holes | closed) & bg
    return thin, prong, gap


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def _lighting(rng, bg: np.ndarray) -> Lighting:
    side = 1.0 if rng.random() < 0.7 else -1.0
    bg_lin = np.power(np.clip(bg, 0, 1), 2.2)
    return Lighting(
        key_dir=(-side * rng.uniform(0.25, 0.65), -rng.uniform(0.3, 0.7), rng.uniform(0.55, 0.8)),
        key=rng.uniform(2.0, 3.5),
        key_cos=rng.uniform(0.82, 0.9),
        fill_dir=(side * rng.uniform(0.5, 0.8), rng.uniform(-0.3, 0.3), rng.uniform(0.5, 0.8)),
        fill=rng.uniform(0.6, 1.3),
        fill_cos=rng.uniform(0.84, 0.9),
        top=rng.uniform(0.5, 1.2),
        front=rng.uniform(0.5, 1.0),
        hole=rng.uniform(0.3, 0.8),
        horizon=tuple(float(v) for v in bg_lin * rng.uniform(0.25, 0.8)),
        ambient=tuple(float(v) for v in bg_lin * rng.uniform(0.02, 0.08)),
    )


def render_scene(
    seed: int,
    width: int = 1600,
    height: int = 1200,
    *,
    kind: str | None = None,
    backdrop: str | None = None,
    metal: int | None = None,
    wire: tuple[float, float] | None = None,
    pendant: str | None = None,
    name: str = "",
) -> Scene:
    """Render one packshot; the same arguments always give the same pixels.

    Parameters
    ----------
    seed : int
        Seeds a ``numpy.random.Generator`` that decides everything not given.
    width, height : int
        Frame size in pixels (objects scale with ``height / 1200``).
    kind : str, optional
        One of ``KINDS``.
    backdrop : str, optional
        One of ``BACKDROPS`` (``glossy-*`` adds a mirror reflection under
        standing pieces).
    metal : int, optional
        Index into ``MATERIALS``.
    wire : (float, float), optional
        Range of chain wire widths in pixels at 1200 px frame height.
    pendant : {"solitaire", "drop"}, optional
        Pendant design where the scene has one.
    name : str
        Stored in the scene.

    Returns
    -------
    Scene
    """
    if width < 64 or height < 64:
        raise ValueError(f"width and height must be >= 64, got {width}x{height}")
    rng = np.random.default_rng(seed)
    kind = kind or str(rng.choice(KINDS))
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    standing_kinds = ("ring-standing", "rings-pair", "hoops")
    if backdrop is None:
        opts = [b for b in BACKDROPS if kind in standing_kinds or not b.startswith("glossy")]
        backdrop = str(rng.choice(opts))
    if backdrop not in BACKDROPS:
        raise ValueError(f"backdrop must be one of {BACKDROPS}, got {backdrop!r}")
    metal = int(rng.integers(0, len(MATERIALS))) if metal is None else int(metal)
    if pendant not in (None, "solitaire", "drop"):
        raise ValueError(f"pendant must be 'solitaire' or 'drop', got {pendant!r}")
    s = height / 1200.0
    d = max(1.0, math.sqrt(s))
    base_kind = backdrop.replace("glossy-", "")
    (lo, hi), tint = _BG_BASE[base_kind]
    bg_guess = (lo + hi) / 2 * np.array(tint)
    ctx = _Ctx(rng=rng, W=width, H=height, s=s, d=d, bg=bg_guess, mat=metal, backdrop=backdrop, pendant=pendant)
    if wire is not None:
        wlo, whi = wire
        ctx.wire = lambda lo=0.7, hi=4.0: float(rng.uniform(wlo, whi) * d)  # type: ignore[method-assign]
    light = _lighting(rng, bg_guess)
    pieces, desc = _build(ctx, kind)
    flat_lay = all(p.mode == "lying" for p in pieces)
    B, base = _backdrop(rng, width, height, backdrop, flat_lay, s)
    glossy = backdrop.startswith("glossy")

    kd = np.array(light.key_dir[:2])
    ldir = -kd / max(np.linalg.norm(kd), 1e-6)
    # the foreground only lives in the union of the pieces' boxes (plus the defocus)
    rasters = [rasterize(p.dl, height, width, light=light) for p in pieces]
    sig = rng.uniform(0.3, 0.7) * d
    boxes = [r.box for r in rasters if r.box[2] > r.box[0]] or [(0, 0, height, width)]
    m = int(math.ceil(4 * sig)) + 8
    r0, c0 = max(min(b[0] for b in boxes) - m, 0), max(min(b[1] for b in boxes) - m, 0)
    r1, c1 = min(max(b[2] for b in boxes) + m, height), min(max(b[3] for b in boxes) + m, width)
    R = (slice(r0, r1), slice(c0, c1))
    alpha_c = np.zeros((r1 - r0, c1 - c0), np.float32)
    prem_c = np.zeros((r1 - r0, c1 - c0, 3), np.float32)
    prong_c = np.zeros((r1 - r0, c1 - c0), np.float32)
    shade = np.zeros((height, width), np.float32)
    refl = np.zeros((height, width), np.float32)
    refl_col = np.zeros((height, width, 3), np.float32) if glossy else None
    for piece, ras in zip(pieces, rasters):
        S = _shadow_map(rng, piece, ras.alpha, s, ldir)
        shade = 1.0 - (1.0 - shade) * (1.0 - S)
        if glossy and piece.mode == "standing":
            r, rp = _reflection(rng, ras.alpha, ras.premult, piece.contact_y, s)
            refl_col = refl_col * (1.0 - r[..., None]) + rp
            refl = 1.0 - (1.0 - refl) * (1.0 - r)
        prem_c += ras.premult[R] * (1.0 - alpha_c)[..., None]
        alpha_c += ras.alpha[R] * (1.0 - alpha_c)
        np.maximum(prong_c, ras.prong[R], out=prong_c)
    del rasters, ras, S
    B *= (1.0 - shade)[..., None]
    if glossy:
        B = B * (1.0 - refl)[..., None] + refl_col
    del refl_col

    # camera: defocus the foreground (alpha and alpha*F alike)
    alpha_c = cv2.GaussianBlur(alpha_c, (0, 0), sig)
    prem_c = cv2.GaussianBlur(prem_c, (0, 0), sig)
    prong_c = cv2.GaussianBlur(prong_c, (0, 0), sig)
    F_c = prem_c / np.maximum(alpha_c, 1e-6)[..., None]
    del prem_c
    alpha_c[alpha_c < 1.0 / 512] = 0.0
    alpha_c[alpha_c > 1.0 - 1.0 / 512] = 1.0
    F_c[alpha_c == 0] = 0.0
    np.clip(F_c, 0.0, 1.0, out=F_c)
    I = B.copy()
    I[R] = alpha_c[..., None] * F_c + (1.0 - alpha_c)[..., None] * B[R]
    alpha = np.zeros((height, width), np.float32)
    alpha[R] = alpha_c
    F = np.zeros((height, width, 3), np.float32)
    F[R] = F_c
    del F_c

    # lateral chromatic aberration and sharpening: linear, after the composite
    disp = rng.uniform(0.15, 0.6) * d
    amt = rng.uniform(0.15, 0.45) if rng.random() < 0.5 else 0.0
    cam = Camera(defocus=float(sig), ca=float(disp), sharpen=float(amt), sharpen_sigma=float(d))
    I = apply_optics(I, cam)
    n_common = rng.standard_normal((height, width, 1), dtype=np.float32)
    n_chan = rng.standard_normal((height, width, 3), dtype=np.float32)
    sd = (rng.uniform(0.5, 1.2) + rng.uniform(1.0, 2.5) * np.clip(I, 0, 1)) / 255.0
    I = I + sd * (0.8 * n_common + 0.6 * n_chan)
    del n_common, n_chan, sd
    u8 = np.clip(I * 255.0 + 0.5, 0, 255).astype(np.uint8)
    del I
    q = int(rng.integers(85, 96))
    cam = dataclasses.replace(cam, jpeg_quality=q)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, "JPEG", quality=q, subsampling=2)
    jpeg = buf.getvalue()
    image = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).copy()

    thin, prg, gap = (np.zeros((height, width), bool) for _ in range(3))
    thin[R], prg[R], gap[R] = _fg_labels(alpha_c, prong_c)
    shadow = (shade >= 0.04) & (alpha == 0)
    reflection = (refl >= 0.03) & (alpha == 0)
    bits = [desc, f"on a {backdrop} {'flat lay' if flat_lay else 'sweep'}"]
    bits.append(f"defocus {sig:.2f} px, CA {disp:.2f} px, JPEG q{q}")
    return Scene(
        image=image,
        alpha=alpha,
        fg=F,
        bg=np.clip(B, 0, 1, out=B),
        thin=thin,
        prong=prg,
        gap=gap,
        shadow=shadow,
        reflection=reflection,
        description="; ".join(bits),
        seed=int(seed),
        name=name,
        jpeg=jpeg,
        camera=cam,
    )


# --------------------------------------------------------------------------
# Benchmark sets and the cache
# --------------------------------------------------------------------------

_PLAN_1600 = [
    ("necklace-hanging", GOLD, "white", None),
    ("chain-lying", SILVER, "grey", (0.7, 1.1)),  # the hard case: thin silver on light grey
    ("ring-standing", GOLD, "glossy-white", None),
    ("chain-lying", GOLD, "paper", None),
    ("hoops", SILVER, "glossy-grey", None),
    ("necklace-lying", ROSE, "marble", None),
    ("studs", WHITE_GOLD, "white", None),
    ("drops", GOLD, "warm", None),
    ("bracelet-lying", SILVER, "linen", None),
    ("pendant-closeup", GOLD, "white", None),
    ("chain-hanging", ROSE, "cool", None),
    ("ring-standing", SILVER, "grey", None),
    ("necklace-hanging", SILVER, "grey", (0.7, 1.3)),
    ("chain-lying", ROSE, "white", None),
    ("rings-pair", GOLD, "glossy-white", None),
    ("studs", GOLD, "marble", None),
    ("necklace-lying", GOLD, "white", None),
    ("drops", SILVER, "cool", None),
    ("chain-hanging", SILVER, "grey", (0.7, 1.0)),
    ("ring-standing", ROSE, "glossy-white", None),
    ("bracelet-lying", GOLD, "white", None),
    ("hoops", GOLD, "warm", None),
    ("necklace-hanging", ROSE, "warm", None),
    ("chain-lying", SILVER, "marble", None),
    ("pendant-closeup", WHITE_GOLD, "grey", None),
    ("studs", SILVER, "linen", None),
    ("rings-pair", SILVER, "glossy-grey", None),
    ("necklace-lying", SILVER, "paper", None),
    ("chain-hanging", GOLD, "white", None),
    ("drops", ROSE, "white", None),
    ("ring-standing", WHITE_GOLD, "cool", None),
    ("chain-lying", GOLD, "linen", None),
    ("hoops", ROSE, "white", None),
    ("necklace-hanging", GOLD, "cool", None),
    ("bracelet-lying", ROSE, "marble", None),
    ("chain-lying", SILVER, "grey", (0.8, 1.4)),
    ("studs", GOLD, "grey", None),
    ("ring-standing", GOLD, "white", None),
    ("necklace-lying", SILVER, "white", None),
    ("drops", GOLD, "paper", None),
]

_PLAN_6000 = [
    ("necklace-hanging", GOLD, "white", None),
    ("ring-standing", SILVER, "glossy-grey", None),
    ("chain-lying", SILVER, "marble", (0.8, 1.5)),
]

_PLANS = {"1600": _PLAN_1600, "6000": _PLAN_6000}
_SEED_BASE = {"1600": 16000, "6000": 60000}

SAMPLE_SEED = 424242
"""Seed of ``core/jewelmask/data/sample.jpg`` (see :func:`render_sample`)."""


def scene_spec(set_name: str, index: int) -> dict:
    """Arguments of :func:`render_scene` for scene ``index`` of a set."""
    if set_name not in SETS:
        raise ValueError(f"set_name must be one of {sorted(SETS)}, got {set_name!r}")
    W, H, n = SETS[set_name]
    if not 0 <= index < n:
        raise ValueError(f"index must be in [0, {n}), got {index}")
    kind, metal, backdrop, wire = _PLANS[set_name][index]
    return dict(
        seed=_SEED_BASE[set_name] + index,
        width=W,
        height=H,
        kind=kind,
        backdrop=backdrop,
        metal=metal,
        wire=wire,
        name=f"{set_name}-{index:02d}",
    )


def render_sample() -> Scene:
    """The demo photo: a gold chain with a claw-set pendant on a white sweep."""
    return render_scene(
        SAMPLE_SEED, 1600, 1200, kind="necklace-hanging", backdrop="white", metal=GOLD, wire=(1.4, 2.0), pendant="solitaire", name="sample"
    )


def _cache_dir(set_name: str) -> Path:
    return Path(os.environ.get("JEWELMASK_BENCH_OUT", OUT_DIR)) / f"synth-v{GENERATOR_VERSION}" / set_name


def _png16(a: np.ndarray) -> np.ndarray:
    ok, buf = cv2.imencode(".png", np.round(np.clip(a, 0, 1) * 65535).astype(np.uint16), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf


def _unpng16(buf: np.ndarray) -> np.ndarray:
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).astype(np.float32) / 65535.0


def save_scene(scene: Scene, path: Path) -> None:
    """Write a scene to a compressed ``.npz`` (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fg = scene.fg.copy()
    labels = np.stack([scene.thin, scene.prong, scene.gap, scene.shadow, scene.reflection])
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez_compressed(
        tmp,
        jpeg=np.frombuffer(scene.jpeg, np.uint8),
        alpha=scene.alpha,
        fg=_png16(fg),
        bg=_png16(scene.bg),
        labels=np.packbits(labels, axis=-1),
        meta=np.array([scene.description, scene.name, str(scene.seed), str(scene.alpha.shape[1])]),
        **({} if scene.camera is None else {"camera": np.array(scene.camera.to_json())}),
    )
    os.replace(tmp, path)


def _add_camera_record(path: Path, spec: dict) -> None:
    """Give a scene file written before the camera was recorded its :class:`Camera`.

    The scene is rendered again (deterministic) for its camera; every array
    already stored is written back byte for byte, after checking that the
    render reproduces its JPEG and alpha exactly (else ``RuntimeError``: the
    generator changed without ``GENERATOR_VERSION`` being bumped).
    """
    with np.load(path) as z:
        have = {k: z[k] for k in z.files}
    if "camera" in have:
        return
    sc = render_scene(**spec)
    if sc.jpeg != have["jpeg"].tobytes() or not np.array_equal(sc.alpha, have["alpha"]):
        raise RuntimeError(f"{path}: the generator no longer reproduces this scene; bump GENERATOR_VERSION")
    have["camera"] = np.array(sc.camera.to_json())
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez_compressed(tmp, **have)
    os.replace(tmp, path)


def load_scene(path: Path, *, image_only: bool = False):
    """Read a scene written by :func:`save_scene`; ``image_only`` returns just the uint8 image."""
    with np.load(path) as z:
        jpeg = z["jpeg"].tobytes()
        image = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).copy()
        if image_only:
            return image
        alpha = z["alpha"]
        W = alpha.shape[1]
        lab = np.unpackbits(z["labels"], axis=-1, count=W).astype(bool)
        desc, name, seed, _ = (str(v) for v in z["meta"])
        cam = Camera.from_json(str(z["camera"])) if "camera" in z.files else None
        return Scene(
            image=image,
            alpha=alpha,
            fg=_unpng16(z["fg"]),
            bg=_unpng16(z["bg"]),
            thin=lab[0],
            prong=lab[1],
            gap=lab[2],
            shadow=lab[3],
            reflection=lab[4],
            description=desc,
            seed=int(seed),
            name=name,
            jpeg=jpeg,
            camera=cam,
        )


class SceneSet(Sequence):
    """A benchmark set backed by the on-disk cache; scenes load on access.

    ``len(s)``, ``s[i]`` (a :class:`Scene`), ``s.image(i)`` (the uint8 image
    only, cheap) and ``s.description(i)``.
    """

    def __init__(self, name: str, n: int) -> None:
        self.name = name
        self.n = n
        self.dir = _cache_dir(name)

    def __len__(self) -> int:
        return self.n

    def path(self, i: int) -> Path:
        return self.dir / f"{i:03d}.npz"

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        if not -self.n <= i < self.n:
            raise IndexError(i)
        return load_scene(self.path(i % self.n))

    def __iter__(self) -> Iterator[Scene]:
        for i in range(self.n):
            yield self[i]

    def image(self, i: int) -> np.ndarray:
        return load_scene(self.path(i), image_only=True)

    def description(self, i: int) -> str:
        with np.load(self.path(i)) as z:
            return str(z["meta"][0])


def make_set(
    name: str,
    *,
    limit: int | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> SceneSet:
    """The benchmark set ``"1600"`` or ``"6000"``, rendered once and cached.

    Parameters
    ----------
    name : str
        ``"1600"``: 40 scenes of 1600x1200; ``"6000"``: 3 scenes of 6000x4000.
    limit : int, optional
        Only the first ``limit`` scenes (and only those are rendered).
    progress : callable, optional
        ``progress(done, total, seconds_for_this_scene)`` after each scene
        rendered (not called for cached scenes). May raise to cancel.

    Returns
    -------
    SceneSet
        A sequence of :class:`Scene`, loaded from ``bench/out/`` on access
        (``JEWELMASK_BENCH_OUT`` moves that folder).
    """
    if name not in SETS:
        raise ValueError(f"name must be one of {sorted(SETS)}, got {name!r}")
    n = SETS[name][2] if limit is None else max(0, min(int(limit), SETS[name][2]))
    ss = SceneSet(name, n)
    for i in range(n):
        if ss.path(i).exists():
            with np.load(ss.path(i)) as z:
                recorded = "camera" in z.files
            if not recorded:  # written before the camera was recorded: same pixels, one more record
                _add_camera_record(ss.path(i), scene_spec(name, i))
            continue
        t0 = time.perf_counter()
        scene = render_scene(**scene_spec(name, i))
        save_scene(scene, ss.path(i))
        del scene
        if progress is not None:
            progress(i + 1, n, time.perf_counter() - t0)
    return ss


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _overlay_labels(scene: Scene) -> np.ndarray:
    """A picture of the labels over the image, for eyeballing."""
    img = scene.image.astype(np.float32) / 255.0
    out = img * 0.55 + 0.45
    for mask, col in (
        (scene.gap, (0.1, 0.6, 1.0)),
        (scene.shadow, (0.6, 0.2, 0.9)),
        (scene.reflection, (0.1, 0.8, 0.3)),
        (scene.alpha >= 0.5, (0.55, 0.55, 0.55)),
        (scene.thin, (1.0, 0.6, 0.0)),
        (scene.prong, (1.0, 0.0, 0.0)),
    ):
        out[mask] = out[mask] * 0.3 + np.array(col) * 0.7
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.synth", description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=sorted(SETS), help="render (and cache) a benchmark set")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--png", type=Path, help="also write image/alpha/labels PNGs of the set here")
    ap.add_argument("--sample", type=Path, help="write the demo photo (JPEG) to this path")
    args = ap.parse_args(argv)
    if args.sample:
        t0 = time.perf_counter()
        sc = render_sample()
        args.sample.parent.mkdir(parents=True, exist_ok=True)
        args.sample.write_bytes(sc.jpeg)
        print(f"wrote {args.sample} ({len(sc.jpeg) // 1024} KB, {time.perf_counter() - t0:.1f} s): {sc.description}")
    if args.set:

        def prog(done, total, sec):
            print(f"  rendered {done}/{total} in {sec:.2f} s", flush=True)

        ss = make_set(args.set, limit=args.limit, progress=prog)
        for i in range(len(ss)):
            print(f"{i:3d} {ss.description(i)}")
            if args.png:
                sc = ss[i]
                args.png.mkdir(parents=True, exist_ok=True)
                stem = args.png / sc.name
                Image.fromarray(sc.image).save(f"{stem}-image.png")
                Image.fromarray(np.round(sc.alpha * 255).astype(np.uint8)).save(f"{stem}-alpha.png")
                Image.fromarray(_overlay_labels(sc)).save(f"{stem}-labels.png")
    if not (args.sample or args.set):
        ap.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
