"""Detail recovery: what the AI eats, this brings back.

Each step is a pure function usable alone (the editors expose each as a
command) and the ``auto`` recipe combines them:

:func:`channel_mask`
    Method 3 of the professional workflow: the channel with the most contrast
    between jewelry and the local backdrop, a Levels crush to a near-binary
    silhouette.
:func:`colour_range_mask`
    Method 2: metal tones (presets or sampled colours) restored as a soft
    mask, measured relative to the backdrop, keeping only structures
    connected to the jewelry.
:func:`plate_alpha`
    Fractional coverage from the distance to the backdrop plate, for wires
    and links of one or two pixels.
:func:`open_gaps`
    Background seen through links, inside rings and between prongs made
    transparent again where the AI filled it in, decided by agreement with
    the plate.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .backdrop import BackdropDifference, Plate, backdrop_difference, backdrop_plate, norm3, rgb01, to_lab
from .dtypes import as_float_image
from .fastops import TILE, components, pmap, tile_any, tiles

__all__ = [
    "METAL_PRESETS",
    "ChannelSettings",
    "channel_mask",
    "ColourSettings",
    "colour_range_mask",
    "plate_alpha",
    "open_gaps",
    "keep_connected",
    "stone_regions",
    "mirror_reflection",
]

# --- helpers --------------------------------------------------------------

_K3 = np.ones((3, 3), np.uint8)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def keep_connected(candidate: np.ndarray, anchor: np.ndarray, *, min_area: int = 0,
                   min_extent: int = 0) -> np.ndarray:
    """Keep the connected parts of `candidate` that touch `anchor`.

    Parts that do not touch it survive only when they are big enough to be
    jewelry on their own: at least `min_area` pixels *and* `min_extent`
    pixels long (a chain lying apart from the pendant), so isolated specks on
    the backdrop go.

    Parameters
    ----------
    candidate, anchor : (H, W) bool arrays

    Returns
    -------
    (H, W) bool array
    """
    comp = components(candidate)
    return comp.touching(anchor, min_area=min_area, min_extent=min_extent)[comp.labels]


def stone_regions(ai, strong, *, work_size: int = 600, min_ai: float = 0.25,
                  min_mean: float = 0.35, min_solidity: float = 0.85, max_aspect: float = 2.5,
                  min_facets: float = 0.15, min_area: float = 3e-4) -> np.ndarray:
    """Where the AI sees a stone: compact, convex blobs with facets inside.

    A clear or white stone on a light sweep is half transparent to the AI
    (its light facets look like the sweep) and its facets agree with the
    backdrop plate, so neither the AI's core nor the plate difference keeps
    it whole. Its outline is what gives it away: the AI's soft blob of a
    stone is convex and compact, and inside it there are facets (strong
    differences from the plate: dark and coloured facets, facet edges). A
    chain or a wire is long and thin (cut off by an opening), a ring seen
    through or the inside of a hoop that the AI filled has no facets inside
    (the plain sweep), a drop of a hook is not convex.

    Parameters
    ----------
    ai : (h, w) float array
        The AI's alpha.
    strong : (h, w) bool array
        Strong jewelry evidence (differences from the plate).
    work_size : int
        Long side of the working resolution of the shape analysis.
    min_ai : float
        The blob is where the AI gives at least this.
    min_mean : float
        The AI's mean over the blob (its holes filled), at least.
    min_solidity : float
        Area over the area of its convex hull, at least.
    max_aspect : float
        Long over short side of its smallest enclosing rectangle, at most.
    min_facets : float
        Fraction of its middle (the blob shrunk by half its radius) covered
        by facets, at least: strong evidence that an opening of a tenth of
        the radius leaves (areas, not lines; a ring's band lies outside
        the middle).
    min_area : float
        Smallest blob, as a fraction of the frame.

    Returns
    -------
    (h, w) bool array: the inner part of each stone (the blob shrunk by a
    fifth of its radius; the rim is left to the other steps).
    """
    ai = np.asarray(ai, np.float32)
    strong = np.asarray(strong, bool)
    if ai.ndim != 2 or strong.shape != ai.shape:
        raise ValueError(f"ai and strong must be (h, w) arrays of one shape, got {ai.shape} and {strong.shape}")
    h, w = ai.shape
    f = min(1.0, work_size / max(h, w))
    sw, sh = max(1, round(w * f)), max(1, round(h * f))
    small = cv2.resize(ai, (sw, sh), interpolation=cv2.INTER_AREA)
    facets = cv2.resize(strong.view(np.uint8) * np.uint8(255), (sw, sh), interpolation=cv2.INTER_AREA) / 255.0
    facets = (facets >= 0.5).view(np.uint8)
    blob = (small >= min_ai).astype(np.uint8)
    # the AI's blob of a stone is mottled (its light facets look like the
    # sweep): close it and fill its holes; then cut chains, bails and wires
    # off it (an opening wider than they are)
    r = max(2, round(0.006 * max(sw, sh)))
    blob = cv2.morphologyEx(blob, cv2.MORPH_CLOSE, _disk(r))
    blob = _fill_holes(blob).view(np.uint8)
    blob = cv2.morphologyEx(blob, cv2.MORPH_OPEN, _disk(r))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(blob, connectivity=8)
    found = np.zeros((sh, sw), np.uint8)
    for k in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[k])
        if area < min_area * sw * sh:
            continue
        m = (labels[y:y + bh, x:x + bw] == k).astype(np.uint8)
        contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        c = max(contours, key=cv2.contourArea)
        hull = cv2.contourArea(cv2.convexHull(c))
        (_, _), (rw, rh), _ = cv2.minAreaRect(c)
        if hull <= 0 or area / hull < min_solidity or max(rw, rh) > max_aspect * max(min(rw, rh), 1.0):
            continue
        if float(small[y:y + bh, x:x + bw][m > 0].mean()) < min_mean:
            continue
        radius = np.sqrt(area / np.pi)
        inner = cv2.erode(m, _disk(max(1, round(0.2 * radius))))
        # facets are areas a tenth of the stone across or more, not lines:
        # what an opening of that size leaves (a chain crossing a place the
        # AI filled is thinner); and they fill the middle of a stone, where
        # a ring's or hoop's band (around the inside the AI filled) is not
        middle = cv2.erode(m, _disk(max(1, round(0.5 * radius))))
        f_area = cv2.morphologyEx(facets[y:y + bh, x:x + bw], cv2.MORPH_OPEN, _disk(max(1, round(0.1 * radius))))
        if not middle.any() or float(f_area[middle > 0].mean()) < min_facets:
            continue
        # the outer fifth of the radius is left to the other steps: the AI's
        # blob also covers the basket or bezel and the backdrop seen between
        # it and the stone
        found[y:y + bh, x:x + bw] |= inner
    if not found.any():
        return np.zeros((h, w), bool)
    return cv2.resize(found * np.uint8(255), (w, h), interpolation=cv2.INTER_LINEAR) >= 128


def mirror_reflection(image, alpha, plate: Plate, *, work_size: int = 600, min_corr: float = 0.7,
                      max_fade: float = 0.4, max_contrast: float = 0.6, weaker: float = 0.6) -> np.ndarray:
    """Pixels of the mask that are the piece's mirror image in a glossy floor.

    A piece standing on a glossy sweep is mirrored in it, upside down below
    the line where it stands and fainter, and an AI mask often takes the
    mirror image for part of the piece. Per connected part of the mask it
    looks for a horizontal line below which the difference from the plate
    is the part above it, mirrored, times a fade: the colour differences
    correlate (at least `min_corr`) with a slope between 0.05 and
    `max_fade` (a glossy floor returns 5-40 % of the light), and the
    strongest differences below are at most `max_contrast` of the strongest
    above (a chain hanging on below a clasp is as strong as above, its
    mirror image is not). Below the line the mask's pixels whose mirror
    pixel above is the piece and whose difference is at most `weaker` times
    the mirror pixel's are the reflection.

    Parameters
    ----------
    image : (H, W, 3) or (H, W, 4) array
        The photo (any dtype of :func:`jewelmask.dtypes.as_float_image`).
    alpha : (H, W) float array
        The mask.
    plate : Plate
        The backdrop plate.
    work_size : int
        Long side of the working resolution of the search.

    Returns
    -------
    (H, W) bool array
        True where the mask holds the mirror image (to be set to 0 unless
        reflections are to be kept).
    """
    rgb = rgb01(image)
    H, W = alpha.shape
    out = np.zeros((H, W), bool)
    f = min(1.0, work_size / max(H, W))
    h, w = max(1, round(H * f)), max(1, round(W * f))
    d = (cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
         - cv2.resize(plate.rgb_small(), (w, h), interpolation=cv2.INTER_LINEAR))
    a = cv2.resize(np.asarray(alpha, np.float32), (w, h), interpolation=cv2.INTER_AREA)
    n, lab, stats, _ = cv2.connectedComponentsWithStats((a >= 0.5).view(np.uint8), connectivity=8)
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if bh < 24 or area < 100:
            continue
        comp = lab[y:y + bh, x:x + bw] == i
        dd = d[y:y + bh, x:x + bw]
        aa = np.where(comp, a[y:y + bh, x:x + bw], 0.0)
        best = None
        for y0 in range(int(0.3 * bh), bh - 6):
            K = min(y0, bh - y0)
            m = (aa[y0 - K:y0][::-1] >= 0.5) & (aa[y0:y0 + K] > 0.1)
            if m.sum() < 100:
                continue
            A, B = dd[y0 - K:y0][::-1][m], dd[y0:y0 + K][m]
            sab, saa, sbb = float((A * B).sum()), float((A * A).sum()), float((B * B).sum())
            corr, slope = sab / np.sqrt(saa * sbb + 1e-12), sab / (saa + 1e-12)
            if corr >= min_corr and 0.05 <= slope <= max_fade and (best is None or corr * m.sum() > best[0]):
                best = (corr * m.sum(), y0)
        if best is None:
            continue
        y0 = best[1]
        dn = norm3(dd)
        up, low = dn[:y0][comp[:y0]], dn[y0:][comp[y0:]]
        if low.size < 20 or np.percentile(low, 95) > max_contrast * np.percentile(up, 95):
            continue
        # at full resolution: rows below the line against their mirror rows above
        Y0 = int(round((y + y0) / f))
        c0, c1 = max(0, int(x / f) - 4), min(W, int(np.ceil((x + bw) / f)) + 4)
        r1 = min(H, int(np.ceil((y + bh) / f)) + 4, 2 * Y0)
        r0 = Y0 + 2  # the line itself and the row under it stay (the contact)
        if r1 <= r0:
            continue
        m0 = 2 * Y0 - r1  # the mirror rows: 2 Y0 - 1 - r for r in [r0, r1)
        box = (m0, c0, r1, c1)
        dn_box = norm3(rgb[m0:r1, c0:c1] - plate.rgb(box))
        below = dn_box[r0 - m0:]
        mirror = dn_box[:2 * Y0 - r0 - m0][::-1]
        held = np.asarray(alpha[r0:r1, c0:c1])
        # the mirror image is blurred by the floor: its fringe reaches past
        # the mirrored piece by a few pixels
        up_a = cv2.dilate(np.ascontiguousarray(alpha[m0:2 * Y0 - r0, c0:c1][::-1], np.float32), _disk(2))
        out[r0:r1, c0:c1] |= (held > 0) & (up_a >= 0.3) & (below <= weaker * mirror + 0.03)
    return out


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """`mask` (uint8 0/1) with every background place it encloses (4-connected) set."""
    n, labels = cv2.connectedComponents((mask == 0).view(np.uint8), connectivity=4)
    outside = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    enclosed = np.ones(n, bool)
    enclosed[outside] = False
    enclosed[0] = False  # label 0: the mask itself
    return (mask > 0) | enclosed[labels]


def _box_of(mask: np.ndarray, margin: int):
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    H, W = mask.shape
    return (max(0, rows[0] - margin), max(0, cols[0] - margin),
            min(H, rows[-1] + 1 + margin), min(W, cols[-1] + 1 + margin))


# --- plate alpha ------------------------------------------------------------


def plate_alpha(diff: BackdropDifference, *, min_contrast: float = 10.0,
                window: int = 7, keep_shadows: bool = False) -> np.ndarray:
    """Fractional coverage from the distance to the backdrop plate.

    A pixel of a wire that covers a fraction ``a`` of it has
    ``I = a F + (1 - a) B``, so its distance to the plate is ``a |F - B|``.
    ``|F - B|`` is estimated as the largest distance nearby (the wire's
    fully covered pixels), never below `min_contrast`.

    Parameters
    ----------
    diff : BackdropDifference
    min_contrast : float
        Delta E of fully covered metal against the backdrop at least.
    window : int
        Odd size of the neighbourhood that gives ``|F - B|``.
    keep_shadows : bool
        Measure the full difference (shadows and reflections count as
        coverage) instead of the one with soft shadows taken out.

    Returns
    -------
    (h, w) float32 array in [0, 1]
    """
    if window < 3 or window % 2 == 0:
        raise ValueError(f"window must be odd and >= 3, got {window}")
    total = diff.total if keep_shadows else diff.effective
    # a light denoise: the sensor and JPEG grain of one pixel is as large as
    # the signal of a faint 1 px wire
    total = cv2.GaussianBlur(total, (0, 0), 0.5)
    full = cv2.dilate(total, np.ones((window, window), np.uint8))
    full = np.maximum(full, min_contrast)
    # subtract the backdrop's own scatter so clean backdrop stays at 0
    a = (total - diff.noise) / np.maximum(full - diff.noise, 1e-3)
    return np.clip(a, 0.0, 1.0).astype(np.float32)


def _evidence(diff: BackdropDifference, *, k_noise: float, min_delta: float,
              keep_shadows: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(strong, weak) bool maps of jewelry evidence, shadows excluded.

    A pixel is jewelry evidence when its difference from the plate, with
    soft shadow darkening taken out, stands out of the backdrop scatter.
    The difference is ``diff.evidence`` when it was computed (colour that
    JPEG and aberration spread from neighbouring metal does not count),
    else ``diff.effective``.
    """
    thr = np.maximum(k_noise * diff.noise, min_delta)
    if keep_shadows:
        eff = diff.total
    else:
        eff = diff.effective if diff.evidence is None else diff.evidence
    strong = eff > thr
    weak = eff > 0.5 * thr
    return strong, weak


def line_energy(values: np.ndarray, *, length: int = 11, orientations: int = 8,
                out: np.ndarray | None = None) -> np.ndarray:
    """Mean of `values` along short straight segments, the best orientation.

    A faint chain is a line: averaging along it keeps its signal and
    averages the pixel grain (and JPEG blocks) away, by about the square root
    of `length`. Isolated noise does not line up and stays low.

    Parameters
    ----------
    values : (h, w) float32 array
    length : int
        Segment length in pixels (odd).
    orientations : int
        Number of directions over 180 degrees.
    out : (h, w) float32 array, optional
        Where to write the result (not `values`).

    Returns
    -------
    (h, w) float32 array
    """
    if length < 3 or length % 2 == 0:
        raise ValueError(f"length must be odd and >= 3, got {length}")
    if orientations < 2:
        raise ValueError(f"orientations must be >= 2, got {orientations}")
    values = np.ascontiguousarray(values, np.float32)
    kernels = _line_kernels(length, orientations)
    if out is None:
        out = np.empty_like(values)
    elif out.shape != values.shape or out.dtype != np.float32 or np.shares_memory(out, values):
        raise ValueError(f"out must be a float32 array of shape {values.shape} apart from values")

    # in tiles: the eight filtered copies of a tile stay in the cache
    def tile(t):
        v = values[t.outer]
        best = cv2.filter2D(v, -1, kernels[0], borderType=cv2.BORDER_REFLECT)
        e = np.empty_like(best)
        for kern in kernels[1:]:
            np.maximum(best, cv2.filter2D(v, -1, kern, dst=e, borderType=cv2.BORDER_REFLECT), out=best)
        out[t.inner] = best[t.crop]

    pmap(tile, tiles(values.shape, halo=length // 2))
    return out


@lru_cache(maxsize=8)
def _line_kernels(length: int, orientations: int) -> tuple[np.ndarray, ...]:
    """The normalised line kernels of :func:`line_energy` (read-only)."""
    half = length // 2
    kernels = []
    for k in range(orientations):
        ang = np.pi * k / orientations
        kern = np.zeros((length, length), np.float32)
        # an anti-aliased one-pixel line through the centre
        for t in np.linspace(-half, half, 4 * length):
            x, y = half + t * np.cos(ang), half + t * np.sin(ang)
            x0, y0 = int(np.floor(x)), int(np.floor(y))
            fx, fy = x - x0, y - y0
            for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                              (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
                if 0 <= x0 + dx < length and 0 <= y0 + dy < length:
                    kern[y0 + dy, x0 + dx] += w
        kern /= kern.sum()
        kern.setflags(write=False)
        kernels.append(kern)
    return tuple(kernels)


# --- channel mask -----------------------------------------------------------

CHANNELS = ("red", "green", "blue", "luminance", "yellow-blue", "saturation")


@dataclass(frozen=True)
class ChannelSettings:
    """Settings of the channel mask (Method 3).

    Attributes
    ----------
    channel : str
        ``"auto"`` picks the channel with the most contrast; or one of
        ``red, green, blue, luminance, yellow-blue, saturation``.
    black, white : float or None
        Levels input points on the channel's difference from the backdrop
        (0-1 scale of the channel). None sets them from the image.
    gamma : float
        Levels gamma (1 = linear).
    """

    channel: str = "auto"
    black: float | None = None
    white: float | None = None
    gamma: float = 1.0

    def __post_init__(self):
        if self.channel != "auto" and self.channel not in CHANNELS:
            raise ValueError(f"channel must be 'auto' or one of {', '.join(CHANNELS)}, got {self.channel!r}")
        if not 0.1 <= self.gamma <= 10:
            raise ValueError(f"gamma must be in [0.1, 10], got {self.gamma}")
        for name in ("black", "white"):
            v = getattr(self, name)
            if v is not None and not 0 <= v <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        if self.black is not None and self.white is not None and self.white <= self.black:
            raise ValueError(f"white ({self.white}) must be above black ({self.black})")


def _robust_spread(values: np.ndarray) -> float:
    """Standard deviation estimated by the median absolute deviation (outliers ignored)."""
    step = max(1, values.size // 200_000)
    v = values[::step]
    return 1.4826 * float(np.median(np.abs(v - np.median(v)))) + 1e-4


def _channel(rgb: np.ndarray, name: str) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if name == "red":
        return r
    if name == "green":
        return g
    if name == "blue":
        return b
    if name == "luminance":
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    if name == "yellow-blue":
        return 0.5 + 0.5 * ((r + g) / 2 - b)
    mx = rgb.max(axis=2)
    return (mx - rgb.min(axis=2)) / np.maximum(mx, 1e-3)


def channel_mask(image, mask=None, *, settings: ChannelSettings = ChannelSettings(),
                 plate: Plate | None = None, hint=None, return_info: bool = False):
    """Channel masking: the best channel against the backdrop, crushed by Levels.

    Parameters
    ----------
    image : (H, W, 3) array, uint8, uint16 or float
    mask : (H, W) array, optional
        Region to act in (the editor's selection); 0 outside.
    settings : ChannelSettings
    plate : Plate, optional
        The backdrop plate (fitted here when not given).
    hint : (H, W) array, optional
        A rough jewelry alpha (the AI's) used to rate the channels and to
        set Levels; without it the most deviating pixels are used.
    return_info : bool
        Also return a dict with the chosen channel and Levels points.

    Returns
    -------
    (H, W) float32 array in [0, 1]
        Near-binary silhouette with a one-pixel soft edge.
    """
    rgb = rgb01(image)
    H, W = rgb.shape[:2]
    if plate is None:
        plate = backdrop_plate(rgb, hint)
    prgb = plate.rgb()
    if hint is not None and (np.asarray(hint, np.float32) > 0.9).sum() >= 20:
        fg = np.asarray(hint, np.float32) > 0.9
    else:
        # no hint: the pixels that differ most from the plate, in Lab
        dist = norm3(to_lab(rgb) - plate.lab())
        fg = dist > max(float(np.quantile(dist, 0.99)), 1e-3)
    bgmask = ~(cv2.dilate(fg.astype(np.uint8), _disk(5)) > 0)
    if not fg.any():  # a flat image: nothing stands out of the backdrop
        out = np.zeros((H, W), np.float32)
        info = {"channel": None, "black": None, "white": None, "gamma": settings.gamma, "score": 0.0}
        return (out, info) if return_info else out
    best, best_score, best_diff = None, -np.inf, None
    names = CHANNELS if settings.channel == "auto" else (settings.channel,)
    for name in names:
        d = _channel(rgb, name) - _channel(prgb, name)
        sign = 1.0 if np.median(d[fg]) >= 0 else -1.0
        d = sign * d
        spread = _robust_spread(d[bgmask]) if bgmask.any() else 1e-2
        score = float(np.median(d[fg])) / spread
        if score > best_score:
            best, best_score, best_diff, best_fg = name, score, d, fg
    d = best_diff
    noise = _robust_spread(d[bgmask]) if bgmask.any() else 0.01
    black = settings.black if settings.black is not None else min(0.5, 3.0 * noise + 0.01)
    # the crush: everything with at least 60 % of the jewelry's typical
    # contrast turns white, so polished metal with highlights stays solid
    typical = float(np.median(d[best_fg])) if best_fg.any() else black + 0.1
    white = settings.white if settings.white is not None else max(black + 0.02, black + 0.6 * (typical - black))
    out = np.clip((d - black) / max(white - black, 1e-4), 0, 1)
    if settings.gamma != 1.0:
        out = out ** (1.0 / settings.gamma)
    if mask is not None:
        out = out * np.clip(np.asarray(mask, np.float32), 0, 1)
    out = out.astype(np.float32)
    if return_info:
        return out, {"channel": best, "black": float(black), "white": float(white),
                     "gamma": settings.gamma, "score": best_score}
    return out


# --- colour range -----------------------------------------------------------

# Reference metal tones (sRGB 0-255) from shadow to highlight, as they look
# on a light sweep. The colour range measures how well a pixel fits a mix
# of one of these with the local backdrop.
METAL_PRESETS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "yellow-gold": ((92, 62, 20), (150, 110, 40), (200, 160, 70), (230, 200, 120), (245, 225, 170)),
    "rose-gold": ((110, 60, 50), (170, 105, 85), (210, 145, 120), (235, 185, 165), (245, 215, 200)),
    "white-metal": ((45, 45, 48), (90, 90, 95), (140, 142, 146), (190, 192, 196), (225, 226, 228)),
}


@dataclass(frozen=True)
class ColourSettings:
    """Settings of the colour-range chain recovery (Method 2).

    Attributes
    ----------
    metal : str
        A key of :data:`METAL_PRESETS`, ``"auto"`` (all presets), or
        ``"sampled"`` (use `samples`).
    samples : tuple of (r, g, b) in 0-255
        Sampled metal colours.
    tolerance : float
        Delta E a pixel may stray from the metal-backdrop mix.
    feather : float
        Softness of the tolerance edge, in Delta E.
    connect : bool
        Keep only structures connected to the jewelry.
    """

    metal: str = "auto"
    samples: tuple = ()
    tolerance: float = 12.0
    feather: float = 6.0
    connect: bool = True

    def __post_init__(self):
        if self.metal not in (*METAL_PRESETS, "auto", "sampled"):
            raise ValueError(f"metal must be one of {', '.join((*METAL_PRESETS, 'auto', 'sampled'))}, got {self.metal!r}")
        if self.metal == "sampled" and not self.samples:
            raise ValueError("metal='sampled' needs samples: a list of (r, g, b) colours")
        for s in self.samples:
            if len(s) != 3 or not all(0 <= v <= 255 for v in s):
                raise ValueError(f"samples must be (r, g, b) triples in 0-255, got {s!r}")
        if not 1 <= self.tolerance <= 60:
            raise ValueError(f"tolerance must be in [1, 60], got {self.tolerance}")
        if not 0 <= self.feather <= 30:
            raise ValueError(f"feather must be in [0, 30], got {self.feather}")

    def references(self) -> np.ndarray:
        """Reference tones in Lab, (N, 3). A sampled colour stands for its
        shading too: polished metal runs from shadow to highlight, so each
        sample is expanded to darker and lighter versions of itself."""
        if self.metal == "sampled":
            base = np.asarray(self.samples, np.float32) / 255.0
            cols = [np.clip(base * f, 0, 1) for f in (0.55, 0.75, 1.0)]
            cols.append(base + (1 - base) * 0.35)  # towards the highlight
            rgb = np.concatenate(cols).reshape(-1, 1, 3).astype(np.float32)
            return to_lab(rgb).reshape(-1, 3)
        elif self.metal == "auto":
            cols = [c for v in METAL_PRESETS.values() for c in v]
        else:
            cols = METAL_PRESETS[self.metal]
        rgb = np.asarray(cols, np.float32).reshape(-1, 1, 3) / 255.0
        return to_lab(rgb).reshape(-1, 3)


def colour_range_mask(image, mask=None, *, settings: ColourSettings = ColourSettings(),
                      plate: Plate | None = None, anchor=None) -> np.ndarray:
    """Colour-range chain recovery: metal tones as a soft mask.

    Every pixel is explained as a mix ``a F + (1 - a) B`` of a reference
    metal tone ``F`` and the local backdrop ``B`` (from the plate); the mask
    is the mixing fraction ``a``, faded out as the residual grows past the
    tolerance. Shadows (a darker backdrop of the same hue) do not fit a metal
    tone, except a neutral one: for white metals a sharp edge is also needed.

    Parameters
    ----------
    image : (H, W, 3) array
    mask : (H, W) array, optional
        Region to act in (the editor's selection).
    settings : ColourSettings
    plate : Plate, optional
    anchor : (H, W) array, optional
        The jewelry found so far (e.g. AI alpha); with ``settings.connect``
        only structures touching it (or long enough to be a chain on their
        own) are kept. Without it, the most confident detections anchor.

    Returns
    -------
    (H, W) float32 array in [0, 1]
    """
    rgb = rgb01(image)
    H, W = rgb.shape[:2]
    if plate is None:
        plate = backdrop_plate(rgb, anchor)
    diff = backdrop_difference(rgb, plate)
    thr = np.maximum(3.0 * diff.noise, 4.0)
    # a soft neutral darkening is a shadow: only what remains with the shadow
    # taken out counts; the mixing model runs on those pixels only
    rr, cc = np.nonzero(diff.effective > thr * 0.5)
    out = np.zeros((H, W), np.float32)
    if rr.size:
        lab = to_lab(rgb[rr, cc][None])[0]
        B = plate.lab()[rr, cc] if rr.size > H * W // 4 else _plate_at(plate, rr, cc)
        d = lab - B
        best_a = np.zeros(rr.size, np.float32)
        best_res = np.full(rr.size, np.inf, np.float32)
        for F in settings.references():
            v = F[None, :] - B  # backdrop to metal
            vv = np.maximum(v[:, 0] * v[:, 0] + v[:, 1] * v[:, 1] + v[:, 2] * v[:, 2], 1.0)
            a = np.clip((d[:, 0] * v[:, 0] + d[:, 1] * v[:, 1] + d[:, 2] * v[:, 2]) / vv, 0.0, 1.0)
            res = norm3(d - a[:, None] * v)
            better = res < best_res
            best_res = np.where(better, res, best_res)
            best_a = np.where(better, a, best_a)
        if settings.feather == 0:
            fit = (best_res <= settings.tolerance).astype(np.float32)
        else:
            fit = np.clip(1.0 - (best_res - settings.tolerance) / settings.feather, 0, 1)
        out[rr, cc] = best_a * fit
    if mask is not None:
        out = out * np.clip(np.asarray(mask, np.float32), 0, 1)
    if settings.connect:
        cand = out > 0.25
        if anchor is not None:
            anc = np.asarray(anchor, np.float32) > 0.5
        else:
            anc = out > 0.9
        keep = keep_connected(cand, anc, min_area=60, min_extent=40)
        keep = cv2.dilate(keep.astype(np.uint8), _K3) > 0
        out = out * keep
    return out.astype(np.float32)


def _plate_at(plate: Plate, rr: np.ndarray, cc: np.ndarray) -> np.ndarray:
    """The plate's Lab colour at full-resolution pixels (rr, cc), (N, 3)."""
    H, W = plate.shape
    h, w = plate.lab_small.shape[:2]
    n = rr.size
    cols = 1024
    rows = -(-n // cols)
    y = np.zeros(rows * cols, np.float32)
    x = np.zeros(rows * cols, np.float32)
    y[:n] = (rr.astype(np.float32) + 0.5) * (h / H) - 0.5
    x[:n] = (cc.astype(np.float32) + 0.5) * (w / W) - 0.5
    out = cv2.remap(plate.lab_small, x.reshape(rows, cols), y.reshape(rows, cols),
                    interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, 3)[:n]


# --- gaps -------------------------------------------------------------------


def open_gaps(alpha, diff: BackdropDifference, *, coverage=None, k_noise: float = 3.0,
              min_area: int = 1, max_texture: float = 1.5, min_delta: float = 3.0,
              texture_area: int = 400, min_enclosed: float = 0.25,
              stray_area: int = 400, plain_area: int = 1000,
              plain_texture: float = 1.3, outside_texture=None) -> np.ndarray:
    """Make backdrop seen through the jewelry transparent again.

    Inside the current mask, where the plate says "little or no coverage",
    the connected places that agree with the backdrop in colour (within the
    local scatter), and the partly covered rim around them, are holes: link eyes,
    ring interiors, between prongs. The places become transparent and the
    rim around them takes the plate coverage (soft). A clear stone on a white sweep is not one:
    its facets differ from the backdrop in colour and, for large places,
    in texture, and it is kept.

    Parameters
    ----------
    alpha : (h, w) float32 array
        Current mask (e.g. the AI's), same size as the arrays in `diff`.
    diff : BackdropDifference
    coverage : (h, w) float32 array, optional
        Plate coverage (:func:`plate_alpha`); the rims of holes take this
        value (the holes themselves become 0). Without it rims become 0 too
        and candidates are the agreeing pixels.
    k_noise : float
        How many times the backdrop scatter still counts as agreement.
    min_area : int
        Smallest hole, in pixels.
    max_texture : float
        Largest mean sharp difference (in units of the scatter) inside a
        large hole, away from its rim: 2 px in from its border, or 4 px in
        where at least 50 of its pixels lie that deep.
    min_delta : float
        Delta E that always counts as agreement.
    texture_area : int
        Holes at least this large are also checked for texture.
    min_enclosed : float
        Fraction of the ring 2-3 px around a hole that must be solid jewelry
        (coverage >= 0.5); 0 turns the check off. A smaller place (of at
        least 20 px) also counts when at least half of the ring 2-7 px
        around it is solid jewelry or backdrop outside the mask (as for
        `stray_area`): the sweep between a stone and a thin basket wire,
        whose nearer ring lies on the soft rims of the wire and the stone.
    stray_area : int
        Places of at least this many pixels count as holes when at least
        half of the ring around them is solid jewelry or backdrop outside
        the mask.
    plain_area, plain_texture : int, float
        Places with at least `plain_area` pixels more than 6 px from their
        border, whose mean sharp difference
        (inside) is at most `plain_texture` times the backdrop's own (outside
        the mask) are holes whatever borders them: the sweep seen through a
        hoop behind a wire too faint to count as solid.
    outside_texture : float or callable, optional
        The backdrop's own texture: the median sharp difference, in units of
        the scatter, of the pixels outside the mask (``alpha <= 0.05``; see
        :func:`_outside_texture`). Measured from `alpha` and `diff` when not
        given (and only when a large place needs it); a caller that passes
        a part of a larger frame gives the frame's, or a function that
        returns it (None: too few pixels outside the mask).

    Returns
    -------
    (h, w) float32 array: `alpha` with holes opened.
    """
    alpha = np.asarray(alpha, np.float32)
    target = None if coverage is None else np.asarray(coverage, np.float32)
    # candidates lie inside the mask (coverage is in [0, 1]): only the part
    # of the frame that holds some of it is looked at, with a margin wider
    # than the ring test reaches (8 + 7 px), so nothing changes
    area = _box_of(alpha > (0.05 if target is None else 0.25), 16)
    if area is None:
        return alpha
    part = np.s_[area[0]:area[2], area[1]:area[3]]
    if outside_texture is None:
        outside_texture = lambda: _outside_texture(alpha, diff)  # noqa: E731 - over the whole input
    elif not callable(outside_texture):
        outside_texture = (lambda v: lambda: v)(float(outside_texture))
    out = alpha.copy()
    _open_gaps(alpha[part], diff.crop(part), None if target is None else target[part],
               k_noise, min_area, max_texture, min_delta, texture_area, min_enclosed, stray_area,
               plain_area, plain_texture, outside_texture, out[part])
    return out


def _open_gaps(alpha, diff, target, k_noise, min_area, max_texture, min_delta, texture_area,
               min_enclosed, stray_area, plain_area, plain_texture, outside_texture, out):
    """:func:`open_gaps` on arrays (h, w), tile by tile where the mask is; the
    holes are written into `out` (a copy of `alpha`)."""
    shape = alpha.shape
    work = tile_any(alpha > (0.05 if target is None else 0.25))
    cand = np.zeros(shape, bool)
    agree = np.zeros(shape, bool)
    for t in tiles(shape, mask=work):
        a = alpha[t.inner]
        thr = np.maximum(k_noise * diff.noise[t.inner], min_delta)
        ratio = diff.effective[t.inner] / thr
        if target is None:
            c = (ratio < 1) & (a > 0.05)
        else:
            # where the mask claims much more than the plate sees
            tg = target[t.inner]
            c = (tg < 0.5) & (a > tg + 0.25)
        cand[t.inner] = c
        # the places that show the backdrop itself; their rim (partly covered
        # metal around a link eye) follows them
        agree[t.inner] = c & (ratio < 1.0)
    comp = components(agree, connectivity=4)
    n, labels = comp.n, comp.labels
    if n <= 1:
        return
    area = comp.area
    hole = area >= min_area
    big = hole & (area >= texture_area)
    if big.any():
        # mean texture inside a large place: 2 px in from its border, or 4 px
        # in where at least 50 of its pixels lie that deep. The sharp part is
        # a high-pass at sigma 2 px: within 2 sigma of the place's border the
        # edges of the jewelry around it leak in (a band of sweep the AI
        # filled along a chain, or between two strands, reads as textured)
        sums = np.zeros((2, 2, n))  # (2 px in, 4 px in) x (sum, count)
        in_big = big[labels]
        for t in tiles(shape, halo=4, mask=tile_any(in_big)):
            tex = diff.sharp[t.inner] / np.maximum(diff.noise[t.inner], 0.5)
            for k, depth in enumerate((2, 4)):
                inner = (cv2.erode(agree[t.outer].view(np.uint8), _disk(depth)) > 0)[t.crop] & in_big[t.inner]
                lab = labels[t.inner][inner]
                sums[k, 0] += np.bincount(lab, weights=tex[inner], minlength=n)
                sums[k, 1] += np.bincount(lab, minlength=n)
        tex = np.where(sums[1, 1] >= 50, sums[1, 0] / np.maximum(sums[1, 1], 1), sums[0, 0] / np.maximum(sums[0, 1], 1))
        hole &= ~(big & (tex > max_texture))
    hole[0] = False
    # a large place with the backdrop's own grain all through is backdrop,
    # whatever borders it (a hoop's interior behind a fat, low-contrast
    # wire); facets of a stone carry more texture than the sweep
    plain = np.zeros(n, bool)
    if big.any():
        bg_tex = outside_texture()
        if bg_tex is not None:
            # deep: what is left 6 px in from the place's border (facets of a
            # stone are narrow; the inside of a hoop is not)
            deep_area = np.zeros(n, np.int64)
            for t in tiles(shape, halo=6, mask=tile_any(in_big)):
                deep = (cv2.erode(agree[t.outer].view(np.uint8), _disk(6)) > 0)[t.crop]
                deep_area += np.bincount(labels[t.inner][deep], minlength=n)
            plain = big & (deep_area >= plain_area) & (tex <= plain_texture * max(bg_tex, 0.3))
    if target is not None and min_enclosed > 0:
        # a hole is enclosed by the jewelry (a link eye by its link, a ring
        # interior by the band); a prong or a facet that happens to have the
        # backdrop's colour is bordered by backdrop or by other light facets
        # Large places (a ring interior, a necklace loop, a patch of sweep the
        # AI took for jewelry) may also be bordered by backdrop outside the
        # mask; what they may not be is surrounded by soft, light places of
        # the mask itself (the facets around a stone's table).
        disks = {k: _disk(k) for k in (1, 3, 7)}
        boxes = comp.bbox(hole)

        def ring_of(lab, k):
            # the ring between 2 px and k px around a place
            y, x, y1, x1 = (int(v) for v in boxes[lab])
            m = k + 1
            r0, c0 = max(0, y - m), max(0, x - m)
            r1, c1 = min(shape[0], y1 + m), min(shape[1], x1 + m)
            comp_px = (labels[r0:r1, c0:c1] == lab).astype(np.uint8)
            ring = (cv2.dilate(comp_px, disks[k]) > 0) & ~(cv2.dilate(comp_px, disks[1]) > 0)
            at = np.s_[r0:r1, c0:c1]
            return ring, target[at][ring] >= 0.5, alpha[at][ring] <= 0.05

        for lab in np.flatnonzero(hole):
            big = area[lab] >= stray_area
            # look further out for a large place: a wide band has a soft rim first
            ring, is_solid, is_out = ring_of(lab, 7 if big else 3)
            if not ring.any():
                continue
            frac_solid = is_solid.mean()
            if big:
                keep = frac_solid + is_out.mean() < 0.5
            else:
                keep = frac_solid < min_enclosed
                if keep and area[lab] >= 20:
                    # the sweep between a stone and a thin wire: its near ring
                    # lies on soft rims; further out are the stone, the wire and
                    # the backdrop beyond it (a facet's are other facets). Specks
                    # of grain (under 20 px) are not such places, and skipping
                    # them keeps this cheap.
                    ring, is_solid, is_out = ring_of(lab, 7)
                    keep = not ring.any() or is_solid.mean() + is_out.mean() < 0.5
            if keep and not plain[lab]:
                hole[lab] = False
    fill = np.zeros(shape, np.float32) if target is None else target
    for t in tiles(shape, halo=1, mask=work):
        core = hole[labels[t.outer]]
        rim = (cand[t.outer] & (cv2.dilate(core.view(np.uint8), _disk(1)) > 0) & ~core)[t.crop]
        o = out[t.inner]
        # the place itself agrees with the backdrop: what coverage the plate
        # reads there is the backdrop's grain (linen, paper), and left in, it
        # speckles a ring's interior and gives refine a band all over it; the
        # partly covered rim around it takes the plate's coverage
        o[core[t.crop]] = 0.0
        o[rim] = np.minimum(o[rim], fill[t.inner][rim])


def _outside_texture(alpha: np.ndarray, diff: BackdropDifference, part=None) -> float | None:
    """The backdrop's own sharp difference, in units of its scatter, outside the mask.

    The median of ``sharp / max(noise, 0.5)`` over every k-th pixel with
    ``alpha <= 0.05`` in row order (k from their count: about 200,000 of
    them at most), or None when there are fewer than 1000: the same sample
    as indexing the whole frame, gathered band by band without full-size
    temporaries. With `part` (r0, c0, r1, c1), `alpha` covers only that
    part of the frame of `diff` and is 0 elsewhere.
    """
    h, w = diff.sharp.shape
    r0, c0, r1, c1 = (0, 0, h, w) if part is None else part

    def outside(r):  # the band's pixels outside the mask
        band = np.ones((min(h, r + TILE) - r, w), bool)
        a, b = max(r, r0), min(r + TILE, r1)
        if a < b and c0 < c1:
            band[a - r:b - r, c0:c1] = alpha[a - r0:b - r0] <= 0.05
        return band

    bands = range(0, h, TILE)
    counts = [int(np.count_nonzero(outside(r))) for r in bands]
    total = sum(counts)
    if total < 1000:
        return None
    step = max(1, total // 200_000)
    values, seen = [], 0
    for r, count in zip(bands, counts):
        if count:
            idx = np.flatnonzero(outside(r))[(-seen) % step::step]
            rr, cc = np.divmod(idx, w)
            rr += r
            values.append(diff.sharp[rr, cc] / np.maximum(diff.noise[rr, cc], 0.5))
            seen += count
    return float(np.median(np.concatenate(values)))
