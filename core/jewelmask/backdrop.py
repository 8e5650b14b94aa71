"""The backdrop plate: what the studio sweep looks like behind the jewelry.

A sweep is never flat: gradients, vignette, tinted light and soft shadows.
:func:`backdrop_plate` estimates it as a smooth surface fitted robustly to
the pixels that are backdrop, so the jewelry does not bend it, and
:func:`backdrop_difference` measures every pixel against it in a perceptual
(CIE Lab) space, so one threshold holds across the frame.

Shadows are darker, of the same chromaticity, and soft: the difference map
separates a *sharp* part (edges narrower than a few pixels: metal, wires,
prongs) from a *soft* part (shadows, reflections, defocused backdrop), and
reports how neutral a darkening is, which is what tells a shadow from metal.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .dtypes import as_float_image
from .fastops import THREADS, median_blur_u8, pmap, tiles

__all__ = ["Plate", "backdrop_plate", "BackdropDifference", "backdrop_difference", "to_lab", "norm3"]


def norm3(a: np.ndarray) -> np.ndarray:
    """Euclidean length over the last axis of an (..., 3) float32 array.

    Written out per channel: numpy's reductions over a last axis of size 3
    are several times slower than three multiply-adds.
    """
    x, y, z = a[..., 0], a[..., 1], a[..., 2]
    out = x * x
    out += y * y
    out += z * z
    return np.sqrt(out, out=out)


def rgb01(image) -> np.ndarray:
    """The image as float32 (H, W, 3) in [0, 1], without a copy when it already is."""
    if (isinstance(image, np.ndarray) and image.dtype == np.float32 and image.ndim == 3
            and image.shape[2] == 3 and image.flags.c_contiguous
            and image.min() >= 0.0 and image.max() <= 1.0):
        return image
    rgb, _ = as_float_image(image)
    if np.asarray(image).dtype.kind == "u":  # scaled from integers: in [0, 1] already
        return rgb
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB float in [0, 1] (H, W, 3) to CIE Lab (L in [0, 100]), float32."""
    if not (rgb.dtype == np.float32 and rgb.flags.c_contiguous):
        rgb = np.ascontiguousarray(rgb, np.float32)
    if rgb.size and (rgb.min() < 0.0 or rgb.max() > 1.0):
        rgb = np.clip(rgb, 0.0, 1.0)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)


@dataclass(frozen=True)
class Plate:
    """A fitted backdrop.

    Attributes
    ----------
    lab_small : (h, w, 3) float32
        The plate in Lab at the working resolution.
    noise_small : (h, w) float32
        Local scatter of the backdrop around the plate (Delta E), robust:
        high on textured paper or marble, low on a clean sweep.
    scale : float
        Working resolution over full resolution.
    shape : (H, W)
        Full image size.
    support : float
        Fraction of the frame used as backdrop evidence.
    """

    lab_small: np.ndarray
    noise_small: np.ndarray
    scale: float
    shape: tuple[int, int]
    support: float

    def lab(self, box=None) -> np.ndarray:
        """The plate in Lab at full resolution, optionally only in box (r0, c0, r1, c1)."""
        return _upsample(self.lab_small, self.shape, box)

    def noise(self, box=None) -> np.ndarray:
        return _upsample(self.noise_small, self.shape, box)

    def rgb(self, box=None) -> np.ndarray:
        """The plate as sRGB float32 in [0, 1] at full resolution (or in box).

        Converted at the working resolution and then upsampled: the plate is
        smooth, so this equals converting at full resolution within about
        1e-4, for a fraction of the cost (24 MP: about 0.1 s instead of 0.5-3 s).
        """
        return _upsample(self.rgb_small(), self.shape, box)

    def rgb_small(self) -> np.ndarray:
        """The plate as sRGB float32 in [0, 1] at its working resolution."""
        return np.clip(cv2.cvtColor(self.lab_small, cv2.COLOR_Lab2RGB), 0, 1)


def _upsample(small: np.ndarray, shape, box=None) -> np.ndarray:
    H, W = shape
    h, w = small.shape[:2]
    if box is None:
        box = (0, 0, H, W)
    r0, c0, r1, c1 = box
    if (r1 - r0) * (c1 - c0) > 0.5 * H * W:
        # most of the frame: a plain resize samples the same pixel centres
        # (OpenCV's bilinear maps x to (x + 0.5) * scale - 0.5, clamped)
        return np.ascontiguousarray(cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)[r0:r1, c0:c1])
    # sample the small map at the full-res pixel centres of the box
    sy, sx = h / H, w / W
    map_c = ((np.arange(c0, c1, dtype=np.float32) + 0.5) * sx - 0.5)
    map_r = ((np.arange(r0, r1, dtype=np.float32) + 0.5) * sy - 0.5)
    mx = np.broadcast_to(map_c[None, :], (r1 - r0, c1 - c0))
    my = np.broadcast_to(map_r[:, None], (r1 - r0, c1 - c0))
    return cv2.remap(small, np.ascontiguousarray(mx), np.ascontiguousarray(my),
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class _PlateColumns:
    """``plate.lab(box)[index]`` as three planes (L, a*, b*) and
    ``plate.noise(box)[index]``, for tiles visited column strip by column
    strip, without the whole box at full resolution: where ``plate.lab``
    resizes the whole frame, the horizontal pass is done once and the
    vertical one per strip (equal up to float rounding, about 1e-7
    relative); where it remaps, each tile is remapped alone (equal)."""

    def __init__(self, plate: Plate, box):
        self.plate, self.box = plate, box
        H, W = plate.shape
        r0, c0, r1, c1 = box
        self.resize = (r1 - r0) * (c1 - c0) > 0.5 * H * W  # as _upsample decides
        if self.resize:
            h = plate.lab_small.shape[0]
            self.across = list(cv2.split(cv2.resize(plate.lab_small, (W, h), interpolation=cv2.INTER_LINEAR)))
            self.across.append(cv2.resize(plate.noise_small, (W, h), interpolation=cv2.INTER_LINEAR))
        self.cols, self.strips = None, None

    def __call__(self, index) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """L, a*, b* and noise in `index` (a pair of slices of the box)."""
        rows, cols = index
        r0, c0 = self.box[:2]
        if not self.resize:
            sub = (r0 + rows.start, c0 + cols.start, r0 + rows.stop, c0 + cols.stop)
            return (*cv2.split(self.plate.lab(sub)), self.plate.noise(sub))
        if self.cols != (cols.start, cols.stop):
            a, b = c0 + cols.start, c0 + cols.stop
            H = self.plate.shape[0]
            if self.strips is None or self.strips[0].shape != (H, b - a):
                self.strips = [np.empty((H, b - a), np.float32) for _ in range(4)]  # reused strip to strip
            for x, dst in zip(self.across, self.strips):
                cv2.resize(np.ascontiguousarray(x[:, a:b]), (b - a, H), dst=dst, interpolation=cv2.INTER_LINEAR)
            self.cols = (cols.start, cols.stop)
        return tuple(x[r0 + rows.start:r0 + rows.stop] for x in self.strips)


def _norm_conv(values: np.ndarray, weight: np.ndarray, sigma: float,
               weight_blur: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian normalised convolution: a weighted local mean that ignores weight-0 pixels.

    The wide blurs of the weight and of each channel run on separate threads
    (OpenCV does not split a small image's blur). `weight_blur`, when the
    caller has it from an earlier call (the same weight and sigma), is the
    weight's blur, not made again.
    """
    planes = [weight] if weight_blur is None else []
    if values.ndim == 3:
        planes += [np.ascontiguousarray(values[..., k]) * weight for k in range(values.shape[2])]
    else:
        planes.append(values * weight)
    blurred = pmap(lambda x: cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT), planes)
    w, v = (blurred[0], blurred[1:]) if weight_blur is None else (weight_blur, blurred)
    norm = np.maximum(w, 1e-6)
    if values.ndim == 3:
        return cv2.merge(v) / norm[..., None], w
    return v[0] / norm, w


def backdrop_plate(image, exclude=None, *, work_size: int = 480, smoothness: float = 0.035,
                   iterations: int = 3) -> Plate:
    """Fit the backdrop plate.

    Parameters
    ----------
    image : (H, W, 3) array, uint8, uint16 or float
    exclude : (H, W) array, optional
        Where the jewelry probably is (e.g. the AI alpha); pixels with value
        above 0.05 are not used as backdrop evidence. Thin structures missed
        here are rejected by the robust fit anyway.
    work_size : int
        Long side of the working resolution.
    smoothness : float
        Scale of the plate, as a fraction of the long side: larger follows
        the sweep more loosely (and soft shadows less).
    iterations : int
        Robust re-weighting rounds.

    Returns
    -------
    Plate
    """
    if not 64 <= work_size <= 4096:
        raise ValueError(f"work_size must be in [64, 4096], got {work_size}")
    if not 0.002 <= smoothness <= 0.5:
        raise ValueError(f"smoothness must be in [0.002, 0.5], got {smoothness}")
    return _fit_plate(rgb01(image), exclude, work_size=work_size, smoothness=smoothness,
                      iterations=iterations)


@dataclass(frozen=True)
class _PlateStart:
    """What :func:`_fit_plate` does before it looks at the exclusion mask
    (:func:`_plate_start`): the photo in Lab at the working resolution, the
    plate's scale (sigma, pixels there) and the first, unguided robust fit
    (None when not asked for)."""

    lab: np.ndarray
    scale: float
    sigma: float
    iterations: int
    first: np.ndarray | None


def _plate_start(rgb, *, work_size: int = 480, smoothness: float = 0.035, iterations: int = 3,
                 unguided: bool = True) -> _PlateStart:
    """The part of :func:`_fit_plate` that needs no exclusion mask (so it can
    run while the AI looks for the jewelry); `unguided` adds the first fit."""
    H, W = rgb.shape[:2]
    scale = min(1.0, work_size / max(H, W))
    h, w = max(8, round(H * scale)), max(8, round(W * scale))
    lab = to_lab(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA))
    sigma = smoothness * max(h, w)
    first = _robust_fit(lab, np.ones((h, w), np.float32), sigma, iterations)[0] if unguided else None
    return _PlateStart(lab, scale, sigma, iterations, first)


def _fit_plate(rgb, exclude=None, *, work_size: int = 480, smoothness: float = 0.035,
               iterations: int = 3, start: _PlateStart | None = None) -> Plate:
    """:func:`backdrop_plate` for an image already in :func:`rgb01` form (not checked again).

    `start`, from :func:`_plate_start` with the same settings (and
    ``unguided=True`` when `exclude` is given), is used instead of doing
    that part here.
    """
    H, W = rgb.shape[:2]
    if start is None:
        start = _plate_start(rgb, work_size=work_size, smoothness=smoothness, iterations=iterations,
                             unguided=exclude is not None)
    lab, scale, sigma, iterations = start.lab, start.scale, start.sigma, start.iterations
    h, w = lab.shape[:2]
    weight = np.ones((h, w), np.float32)
    if exclude is not None:
        ex = np.asarray(exclude, np.float32)
        if ex.shape != (H, W):
            raise ValueError(f"exclude must have shape {(H, W)}, got {ex.shape}")
        ex_small = cv2.resize(ex, (w, h), interpolation=cv2.INTER_AREA) > 0.02
        # leave out only what also differs from a first, unguided robust fit:
        # an AI that takes a bright patch of the sweep for jewelry must not
        # punch a hole into the plate there
        resid = norm3(lab - start.first)
        scat = np.maximum(np.median(resid), 0.5)
        ex_small &= resid > 3.0 * scat
        ex_small = cv2.dilate(ex_small.astype(np.uint8), np.ones((5, 5), np.uint8))
        weight[ex_small > 0] = 0.0
    plate, wsum, w_new = _robust_fit(lab, weight, sigma, iterations)
    # far from any evidence (large excluded regions): widen the support
    thin = wsum < 0.05
    if thin.any():
        wide, _ = _norm_conv(lab, w_new.astype(np.float32), sigma * 4)
        t = np.clip(wsum / 0.05, 0, 1)[..., None]
        plate = t * plate + (1 - t) * wide
    resid = norm3(lab - plate)
    noise, _ = _norm_conv(resid, w_new.astype(np.float32), sigma, wsum)  # wsum: w_new's blur
    # the residual of a clean sweep at this resolution underestimates
    # full-resolution grain: keep a floor
    noise = np.maximum(noise, 0.6).astype(np.float32)
    return Plate(plate.astype(np.float32), noise, scale, (H, W), float(w_new.mean()))


def _robust_fit(lab, weight, sigma, iterations):
    """Normalised-convolution plate, re-weighted by the residual."""
    w_new = weight
    plate, wsum = _norm_conv(lab, weight, sigma)
    # the weight's wide blur is the same every round: made once (two of a
    # fit's 22 blurs, the widest; with the noise's reuse of wsum, 24 MP
    # plate fit 0.49-0.54 -> 0.46-0.49 s CPU, the same plate)
    wide = None
    for _ in range(iterations):
        resid = norm3(lab - plate)
        scat, wide = _norm_conv(resid, weight, sigma * 1.5, wide)
        scat = np.maximum(scat, 0.5)
        w_new = (weight * (resid < 3.0 * scat + 1.0)).astype(np.float32)
        plate, wsum = _norm_conv(lab, w_new, sigma)
    return plate, wsum, w_new



@dataclass(frozen=True)
class BackdropDifference:
    """How every pixel differs from the plate (all (h, w) float32, Delta E units).

    ``total`` is the full Lab distance. ``chroma`` is the distance in the
    a*b* plane after allowing for a neutral darkening (a shadow lowers L and
    scales a* and b* with it, keeping the hue). ``lightness`` is the change
    of L that a soft shadow does not explain: anything brighter than the
    plate, and darkening that is sharper than the surrounding shading (a
    median over `shadow_size` pixels, which thin wires do not survive and
    soft shadows do). ``effective`` combines chroma and lightness: the
    distance with shadows taken out, which measures coverage and agreement
    with the backdrop. ``evidence`` is ``effective`` with the chroma part
    taken as its minimum within 2 px (:data:`CHROMA_REACH`): a JPEG stores
    chroma at half resolution (4:2:0) and lateral chromatic aberration
    shifts it, so colour spreads up to about 2 px beyond the metal while
    lightness does not; it decides what is jewelry. ``sharp`` is the part
    of the difference that varies faster than a few pixels (texture),
    ``noise`` the local scatter of the backdrop.
    """

    total: np.ndarray
    effective: np.ndarray
    chroma: np.ndarray
    lightness: np.ndarray
    sharp: np.ndarray
    noise: np.ndarray
    evidence: np.ndarray | None = None

    def crop(self, index) -> "BackdropDifference":
        """The same maps in a part of the frame (views): ``diff.crop(np.s_[r0:r1, c0:c1])``."""
        return BackdropDifference(*(None if v is None else v[index]
                                    for v in (getattr(self, name) for name in FIELDS)))


FIELDS = ("total", "effective", "chroma", "lightness", "sharp", "noise", "evidence")
"""The maps of :class:`BackdropDifference`, in the order of its fields."""

CHROMA_REACH = 2
"""How far (px) colour spreads beyond the metal in a photo (JPEG 4:2:0, aberration)."""


def gaussian_radius(sigma: float) -> int:
    """Radius of the kernel ``cv2.GaussianBlur(float image, (0, 0), sigma)`` uses."""
    return (int(np.rint(sigma * 8 + 1)) | 1) // 2


def backdrop_difference(image, plate: Plate, *, box=None, sharp_sigma: float = 2.0,
                        shadow_size: int = 11, fields=FIELDS) -> BackdropDifference:
    """Compare the image with the plate, in Lab, at full resolution (or in box).

    Parameters
    ----------
    image : (H, W, 3) array
    plate : Plate
    box : (r0, c0, r1, c1), optional
        Work only there (the region around the jewelry), to keep 24 MP fast.
    sharp_sigma : float
        Scale in pixels that separates sharp detail from soft shading.
    shadow_size : int
        Odd window (pixels) of the median that estimates the local shadow
        darkening; wires narrower than half of it are not taken for shadow.
    fields : iterable of str
        The fields to compute (names of :class:`BackdropDifference`); the
        others are None. All by default.

    Notes
    -----
    The work is done in tiles (with a halo for the filters), so no
    full-resolution three-channel temporaries are made; the result is the
    same as computing each map over the whole box at once.
    """
    if shadow_size < 3 or shadow_size % 2 == 0:
        raise ValueError(f"shadow_size must be odd and >= 3, got {shadow_size}")
    fields = tuple(fields)
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"fields must be among {', '.join(FIELDS)}, got {sorted(unknown)}")
    rgb = rgb01(image)
    H, W = rgb.shape[:2]
    if box is None:
        box = (0, 0, H, W)
    return _difference(rgb, plate, box, sharp_sigma=sharp_sigma, shadow_size=shadow_size, fields=fields)


def _difference(rgb, plate, box, *, sharp_sigma: float = 2.0, shadow_size: int = 11,
                fields=FIELDS) -> BackdropDifference:
    """:func:`backdrop_difference` for an image already in :func:`rgb01` form, in a box, tile by tile."""
    r0, c0, r1, c1 = box
    h, w = r1 - r0, c1 - c0
    maps = {name: np.empty((h, w), np.float32) for name in fields}
    # the pixel grain is measured on the sharp part at a regular grid of the box
    step = max(1, int(np.sqrt(h * w / 250_000)))
    samples = []
    halo = max(gaussian_radius(sharp_sigma), shadow_size // 2, CHROMA_REACH)
    rgb = rgb[r0:r1, c0:c1]
    columns = {}
    for t in tiles((h, w), halo=halo):
        columns.setdefault(t.index[1], []).append(t)

    def columns_of(strips) -> np.ndarray:
        # column strip by column strip: each strip's plate is upsampled once
        plate_at = _PlateColumns(plate, box)
        samples = [np.zeros(0, np.float32)]
        for t in (t for strip in strips for t in strip):
            a0, b0 = t.outer[0].start, t.outer[1].start
            lab = cv2.cvtColor(rgb[t.outer], cv2.COLOR_RGB2Lab)
            *pl, noise = plate_at(t.outer)
            vals = _difference_tile(lab, pl, sharp_sigma, shadow_size, maps)
            vals["noise"] = noise
            for name, v in vals.items():
                if name in maps:
                    maps[name][t.inner] = v[t.crop]
            # grid points of the box inside this tile
            i0, j0 = t.inner[0].start, t.inner[1].start
            rows = np.arange(-(-i0 // step) * step, t.inner[0].stop, step) - a0
            cols = np.arange(-(-j0 // step) * step, t.inner[1].stop, step) - b0
            samples.append(vals["sharp"][np.ix_(rows, cols)].ravel())
        return np.concatenate(samples)

    strips = list(columns.values())
    samples = pmap(columns_of, [strips[k::THREADS] for k in range(THREADS)])
    # the plate's scatter is measured at its working resolution; the pixel
    # grain of the photo (sensor noise, JPEG) is measured here, robustly, from
    # the sharp part over the whole box (the jewelry is a minority of it)
    grain = 1.25 * float(np.median(np.concatenate(samples)))
    if "noise" in maps:
        np.maximum(maps["noise"], grain, out=maps["noise"])
    return BackdropDifference(*(maps.get(name) for name in FIELDS))


def _difference_tile(lab, pl, sharp_sigma, shadow_size, wanted) -> dict:
    """The difference maps of one tile: Lab image (h, w, 3) and plate planes (3 x (h, w)), float32."""
    L, A, B = lab.transpose(2, 0, 1).copy()  # one copy (cv2.split makes three, slower)
    pL, pA, pB = pl
    dL, dA, dB = L - pL, A - pA, B - pB
    out = {}
    if "total" in wanted:
        out["total"] = _norm(dL, dA, dB)
    # sharp: what varies faster than sharp_sigma
    soft = [cv2.GaussianBlur(x, (0, 0), sharp_sigma) for x in (dL, dA, dB)]
    out["sharp"] = _norm(*(np.subtract(x, s, out=s) for x, s in zip((dL, dA, dB), soft)))
    if not ({"effective", "chroma", "lightness", "evidence"} & set(wanted)):
        return out
    # local shadow darkening, -dL where positive: a median (in quarter Delta E
    # steps, uint8 for speed; times 4 is exact, so the same as truncating
    # clip(4 darker, 0, 255))
    darker = np.subtract(pL, L)
    np.maximum(darker, 0.0, out=darker)
    q = (np.minimum(darker, 63.75) * 4.0).astype(np.uint8)
    # shadow model: L drops by a factor k, a* and b* scale by about the same k
    # (L, A and B are not needed again: their memory is reused)
    k = np.divide(L, pL if pL.min() >= 1.0 else np.maximum(pL, 1.0), out=L)
    np.clip(k, 0.0, 1.0, out=k)
    da = k * pA
    np.subtract(A, da, out=da)
    db = np.multiply(k, pB, out=k)
    np.subtract(B, db, out=db)
    da *= da
    db *= db
    chroma = np.sqrt(np.add(da, db, out=da), out=da)
    shade = median_shade(q, shadow_size)
    lightness = np.maximum(dL, 0.0)
    np.maximum(lightness, np.subtract(darker, shade, out=darker), out=lightness)
    out["chroma"], out["lightness"] = chroma, lightness
    light2 = lightness * lightness
    if "evidence" in wanted:
        k = 2 * CHROMA_REACH + 1
        ev = cv2.erode(chroma, np.ones((k, k), np.uint8))
        ev *= ev
        ev += light2
        out["evidence"] = np.sqrt(ev, out=ev)
    eff = chroma * chroma
    eff += light2
    out["effective"] = np.sqrt(eff, out=eff)
    return out


def median_shade(q: np.ndarray, shadow_size: int) -> np.ndarray:
    """The median of `q` (uint8 quarter Delta E steps) over `shadow_size`, in Delta E."""
    shade = median_blur_u8(q, shadow_size).astype(np.float32)
    shade /= 4.0
    return shade


def _norm(x, y, z):
    out = x * x
    out += y * y
    out += z * z
    return np.sqrt(out, out=out)
