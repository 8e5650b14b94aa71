"""Recipes: named ways of combining the engine's methods into one mask.

A recipe takes the photo and returns a float32 alpha in [0, 1] the size of
the photo. The CLI, the batch and the editors all go through
:func:`run_recipe`, so a recipe gives the same mask everywhere.

The rules of ``auto`` are written down in ``docs/recipes.md``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from .ai import AISettings, _ai_alpha, ai_alpha
from .backdrop import _difference, _fit_plate, _plate_start, backdrop_plate, norm3, rgb01, to_lab
from .detail import (
    ChannelSettings,
    ColourSettings,
    _disk,
    _evidence,
    _outside_texture,
    channel_mask,
    colour_range_mask,
    keep_connected,
    line_energy,
    mirror_reflection,
    open_gaps,
    plate_alpha,
    stone_regions,
)
from .dtypes import as_float_image
from .fastops import TILE, components, pmap, tile_any, tile_boxes, tile_max, tiles
from .refine import WIRE_PEAK, RefineSettings, refine_edge

__all__ = ["RECIPES", "DEFAULT_RECIPE", "PRESETS", "AutoSettings", "RecipeSettings",
           "run_recipe", "choose_preset", "auto_stages"]

RECIPES = {
    "auto": "AI for the bulk, backdrop-plate detail for chains and prongs, gaps opened (default)",
    "ai": "the full-detail AI pass alone: a global look, then crops at a finer scale",
    "channel": "channel mask: the channel with most contrast to the backdrop, crushed by Levels (no AI)",
    "colour": "colour-range recovery of metal tones, relative to the backdrop (no AI)",
    "path": "the mask of the given vector paths alone (needs --paths; no AI)",
}
DEFAULT_RECIPE = "auto"


@dataclass(frozen=True)
class AutoSettings:
    """Settings of the detail steps of ``auto``.

    Attributes
    ----------
    k_noise : float
        A difference from the plate counts as jewelry when it is this many
        times the local backdrop scatter (higher for textured backdrops).
    min_delta : float
        ... and at least this Delta E.
    min_contrast : float
        Delta E of fully covered metal against the backdrop at least.
    open_gaps : bool
        Reopen backdrop seen through links, rings and prongs.
    gap_min_area : int
        Smallest hole reopened, in pixels. Smaller places inside the mask
        that agree with the backdrop are mostly highlights on metal, not
        link eyes (on the benchmark, of the places of one or two pixels
        it opened at 1, 95 % of the pixels were metal).
    keep_shadows : bool
        Keep shadows and reflections (off: they are backdrop).
    plate_smoothness : float
        Scale of the backdrop plate (fraction of the long side).
    line_length : int
        Length in pixels of the segments faint chains are looked for along.
    line_k : float
        How far above the backdrop (in robust standard deviations of the
        line energy) a faint line must stand.
    crisp_k : float
        Detail outside the AI's core needs an edge within 2 px whose sharp
        difference is this many times the backdrop scatter (reflections
        and shadows are blurred and have none).
    keep_stones : bool
        Keep stones whole: where the AI's blob is compact and convex with
        facets inside (:func:`jewelmask.detail.stone_regions`), the mask is
        solid, so a white stone on a light sweep keeps its light facets.
    wire_extent : float
        Strong lines whose connected extent is at least this fraction of
        the photo's long side are chains: their coverage is also measured
        on the full difference from the plate (a neutral silver wire is a
        darkening the shadow discount would take for a shadow), and the
        middle line of such a wire, with the pixels beside it, keeps at
        least half after refine.
        0 turns this off.
    """

    k_noise: float = 4.0
    min_delta: float = 4.0
    min_contrast: float = 10.0
    open_gaps: bool = True
    gap_min_area: int = 6
    keep_shadows: bool = False
    plate_smoothness: float = 0.035
    line_length: int = 11
    line_k: float = 8.0
    crisp_k: float = 3.0
    wire_extent: float = 0.09
    keep_stones: bool = True


PRESETS: dict[str, AutoSettings] = {
    "white-sweep": AutoSettings(),
    "grey-sweep": AutoSettings(k_noise=4.0, min_delta=3.5),
    "textured": AutoSettings(k_noise=6.0, min_delta=7.0, gap_min_area=8),
}


@dataclass(frozen=True)
class RecipeSettings:
    """Settings of every step a recipe may use; each front end builds one.

    ``preset`` names an entry of :data:`PRESETS`, or ``"auto"`` to choose
    one from the image; ``detail`` replaces it when given. ``overrides``
    changes fields of the chosen :class:`AutoSettings` by name (e.g.
    ``{"keep_shadows": True}``), after ``auto`` has chosen the preset.
    ``refine``
    re-solves the recipe's edge with :func:`jewelmask.refine.refine_edge`
    (with the backdrop plate as its background cue) before paths are
    applied; on by default (on the benchmark it cuts the SAD of ``auto``
    by about a third), ``None`` skips it.
    """

    ai: AISettings = field(default_factory=lambda: AISettings(tile_budget=6))
    preset: str = "auto"
    detail: AutoSettings | None = None
    overrides: dict = field(default_factory=dict)
    channel: ChannelSettings = field(default_factory=ChannelSettings)
    colour: ColourSettings = field(default_factory=ColourSettings)
    refine: RefineSettings | None = field(default_factory=RefineSettings)

    def __post_init__(self):
        if self.refine is not None and not isinstance(self.refine, RefineSettings):
            raise ValueError(f"refine must be a RefineSettings or None, got {type(self.refine).__name__}")
        if self.preset != "auto" and self.preset not in PRESETS:
            raise ValueError(f"preset must be 'auto' or one of {', '.join(PRESETS)}, got {self.preset!r}")
        known = AutoSettings.__dataclass_fields__
        unknown = sorted(set(self.overrides) - set(known))
        if unknown:
            raise ValueError(f"overrides must name fields of AutoSettings ({', '.join(known)}), got {unknown}")


def choose_preset(plate) -> str:
    """Pick a preset from the fitted plate: texture and brightness of the backdrop."""
    noise = float(np.median(plate.noise_small))
    light = float(np.median(plate.lab_small[..., 0]))
    if noise > 2.5:
        return "textured"
    return "white-sweep" if light > 85 else "grey-sweep"


def _roi_lab(rgb: np.ndarray) -> np.ndarray:
    """The photo in Lab at the working size of :func:`_roi` (1600 px at most)."""
    H, W = rgb.shape[:2]
    f = min(1.0, 1600 / max(H, W))
    h, w = max(8, round(H * f)), max(8, round(W * f))
    return to_lab(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA))


def _roi(rgb: np.ndarray, ai: np.ndarray, plate, margin_frac: float = 0.05, lab: np.ndarray | None = None):
    """The box that holds the jewelry: what the AI found and any long
    structure that differs from the plate at quarter resolution.

    `lab` is :func:`_roi_lab` of `rgb` when already made."""
    H, W = ai.shape
    f = min(1.0, 1600 / max(H, W))
    lab = _roi_lab(rgb) if lab is None else lab
    h, w = lab.shape[:2]
    pl = cv2.resize(plate.lab_small, (w, h), interpolation=cv2.INTER_LINEAR)
    nz = cv2.resize(plate.noise_small, (w, h), interpolation=cv2.INTER_LINEAR)
    d = norm3(lab - pl)
    ai_small = cv2.resize(ai, (w, h), interpolation=cv2.INTER_AREA)
    # grown by a pixel: a faint wire's difference is broken by highlights
    # and JPEG blocks, and the box must reach the whole of it
    cand = cv2.dilate((d > np.maximum(4.0 * nz, 4.0)).view(np.uint8), _disk(1)) > 0
    found = keep_connected(cand, ai_small > 0.3, min_area=30, min_extent=25) | (ai_small > 0.05)
    if not found.any():
        return None
    rows = np.flatnonzero(found.any(axis=1))
    cols = np.flatnonzero(found.any(axis=0))
    m = int(margin_frac * max(H, W))
    return (max(0, int(rows[0] / f) - m), max(0, int(cols[0] / f) - m),
            min(H, int((rows[-1] + 1) / f) + m), min(W, int((cols[-1] + 1) / f) + m))


def _long(mask: np.ndarray, extent: float) -> np.ndarray:
    """The connected parts (8-connected) of mask whose bounding box is at least extent long."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) >= extent
    keep[0] = False
    return keep[labels]


def auto_stages(image, *, settings: RecipeSettings | None = None, progress=None,
                ai: np.ndarray | None = None, brush=None) -> dict:
    """Run ``auto`` and return every stage (for the docs and for debugging).

    Returns a dict of (H, W) float32 maps: ``ai``, ``detail`` (plate alpha
    of connected structures), ``bulk`` (the AI core with exact edges),
    ``gaps_opened``, ``combined`` (before refine) and ``alpha`` (the
    result, refined when ``settings.refine`` is set); ``preset`` (str) and
    ``plate`` (the fitted :class:`jewelmask.backdrop.Plate`).
    """
    return _auto(image, settings=settings, progress=progress, ai=ai, brush=brush, maps=True)


def _auto(image, *, settings, progress, ai, brush, maps: bool) -> dict:
    """``auto``; the stage maps (``detail``, ``bulk``, ``gaps_opened``) only with `maps`."""
    settings = settings or RecipeSettings()
    rgb = rgb01(image)
    H, W = rgb.shape[:2]
    report = progress or (lambda f: None)
    smoothness = (settings.detail or PRESETS["white-sweep"]).plate_smoothness
    if ai is None:
        # what needs no AI (the photo at the plate's and the box's working
        # sizes, the plate's unguided fit) runs beside the AI's global look,
        # a single network run that leaves the other core free
        with ThreadPoolExecutor(1) as ex:
            early = ex.submit(lambda: (_plate_start(rgb, smoothness=smoothness), _roi_lab(rgb)))
            ai = _ai_alpha(rgb, settings.ai, None, lambda f: report(0.7 * f))
            start, roi_lab = early.result()
    else:
        start, roi_lab = None, None
    plate = _fit_plate(rgb, ai, smoothness=smoothness, start=start)
    preset = settings.preset if settings.preset != "auto" else choose_preset(plate)
    cfg = replace(settings.detail or PRESETS[preset], **settings.overrides)
    report(0.75)
    stages = {"ai": ai, "preset": preset, "plate": plate}
    box = _roi(rgb, ai, plate, lab=roi_lab)
    alpha = np.zeros((H, W), np.float32)
    if box is None:
        stages.update(detail=alpha, bulk=alpha, gaps_opened=alpha, combined=alpha, alpha=alpha)
        report(1.0)
        return stages
    r0, c0, r1, c1 = box
    full = {name: np.zeros((H, W), np.float32) for name in ("detail", "bulk", "gaps_opened")} if maps else {}
    ridge = _detail(rgb, ai, plate, box, cfg, out=alpha[r0:r1, c0:c1],
                    maps={name: m[r0:r1, c0:c1] for name, m in full.items()} if maps else None)
    if not cfg.keep_shadows:
        # a standing piece's mirror image in a glossy floor is backdrop
        alpha[mirror_reflection(rgb, alpha, plate)] = 0.0
    stages.update(full, combined=alpha, alpha=alpha, box=box)
    if settings.refine is not None:
        report(0.9)
        refine = settings.refine
        if cfg.keep_shadows:
            # shadows were asked for: refine must not take them for backdrop
            refine = replace(refine, shadow_aware=False)
        refined = _refine(rgb, alpha, plate, refine, brush)
        # the middle line of a chain (and the pixels beside it) keeps at
        # least half where the refined alpha still sees a wire within 3 px
        # (as refine's keep_thin does for structures narrower than 7 px); a
        # vein of marble or a streak the line rule took has none
        g = 3
        held = []
        for (rows, cols), line in ridge:
            top, bottom, left, right = r0 + rows.start, r0 + rows.stop, c0 + cols.start, c0 + cols.stop
            t0, l0 = max(0, top - g), max(0, left - g)
            peak = cv2.dilate(refined[t0:min(H, bottom + g), l0:min(W, right + g)],
                              np.ones((2 * g + 1, 2 * g + 1), np.uint8))
            peak = peak[top - t0:top - t0 + line.shape[0], left - l0:left - l0 + line.shape[1]]
            at = np.s_[top:bottom, left:right]
            held.append((at, line & (alpha[at] >= 0.5) & (peak >= WIRE_PEAK)))
        for at, keep in held:
            refined[at][keep] = np.maximum(refined[at][keep], 0.5)
        stages["alpha"] = refined
    report(1.0)
    return stages


def _detail(rgb, ai, plate, box, cfg: AutoSettings, out: np.ndarray, maps: dict | None = None) -> list:
    """The detail steps of ``auto`` in `box`.

    Writes the mask into `out` (the box of the result) and, when `maps` is
    given, the ``detail``, ``bulk`` and ``gaps_opened`` maps into its
    (box-sized, zero) arrays. Returns the middle lines of chains that refine
    must keep at half, as a list of (pair of slices of the box, (h, w) bool).

    The per-pixel maps the rules need everywhere (the difference from the
    plate, line energy, evidence) are made in tiles over the whole box; the
    rest (coverage, crisp edges, line coverage, the AI core's edge, the
    chains' coverage) only in the tiles that hold linked detail or the AI's
    core. The connected structures are found on the whole box, the gaps in
    the part of it around the AI's core.
    """
    r0, c0, r1, c1 = box
    a_ai = ai[r0:r1, c0:c1]
    fields = ("effective", "evidence", "sharp", "noise") + (("total",) if cfg.keep_shadows or cfg.wire_extent else ())
    diff = _difference(rgb, plate, box, fields=fields)
    shape = diff.effective.shape
    # faint chains: evidence averaged along short lines (line_energy) lifts
    # wires that the pixel grain hides, and not the grain itself
    eff = diff.total if cfg.keep_shadows else diff.evidence
    le = line_energy(eff, length=cfg.line_length)
    step, med, line_strong_at, line_weak_at = _line_levels(le, cfg)
    strong = np.empty(shape, bool)
    weak = np.empty(shape, bool)

    def evidence(t):
        s, w = _evidence(diff.crop(t.inner), k_noise=cfg.k_noise, min_delta=cfg.min_delta,
                         keep_shadows=cfg.keep_shadows)
        lt = le[t.inner]
        strong[t.inner] = s | (lt > line_strong_at)
        weak[t.inner] = w | (lt > line_weak_at)

    pmap(evidence, tiles(shape))
    core = a_ai >= 0.5
    # detail: evidence connected (through weak evidence) to the AI core or to
    # long strong structures of its own. The anchors are gathered per tile,
    # where there is some AI core or trace (elsewhere they are empty).
    comp = components(weak)
    touched = np.zeros((3, comp.n), bool)
    touched[2, comp.labels[strong]] = True
    for t in tiles(shape, halo=2, mask=tile_any(core, grow=2) | (tile_max(a_ai) > 0.03)):
        labels, s, c = comp.labels[t.inner], strong[t.inner], core[t.inner]
        seeds = s & (cv2.dilate(core[t.outer].view(np.uint8), _disk(2))[t.crop] > 0)
        # structures apart from the core count when long and when the AI's
        # global look saw at least a trace of them (veins in marble, fibres in
        # linen and hairs are long too, and the AI ignores them)
        hint = s & (a_ai[t.inner] > 0.03)
        touched[0, labels[seeds | (s & c)]] = True
        touched[1, labels[seeds | hint | (s & c)]] = True
    keep = (comp.keep(touched[0], min_area=80, min_extent=40)
            & comp.keep(touched[1])
            & comp.keep(touched[2]))
    # the rest is local: where there is linked detail, and around the AI's
    # core (its edge, and the rims of the gaps opened in it: all within 16 px)
    near_core = tile_any(core, grow=16)
    active = near_core | tile_boxes(comp.bbox(keep)[keep], shape)
    part = _span(near_core, shape)  # the part of the box where bulk and its gaps can be
    pa = np.zeros((part[2] - part[0], part[3] - part[1]), np.float32)
    bulk = np.zeros(pa.shape, np.float32)
    wired = np.zeros(shape, bool) if cfg.wire_extent else None  # linked & line_strong
    local = {}

    def first(t):
        linked = keep[comp.labels[t.outer]]
        if not (near_core[t.index] or linked[t.crop].any()):
            return
        d = diff.crop(t.outer)
        p = plate_alpha(d, min_contrast=cfg.min_contrast, keep_shadows=cfg.keep_shadows)
        core_t = core[t.outer].view(np.uint8)
        here = local[t.index] = {"tile": t, "pa": p[t.crop]}
        if linked[t.crop].any():
            # outside the AI core, detail must have crisp edges nearby: mirror
            # reflections on glossy sweeps and soft shadows are blurred copies
            crisp = cv2.dilate((d.sharp > cfg.crisp_k * d.noise).view(np.uint8), _disk(2)) > 0
            linked &= crisp | (cv2.dilate(core_t, _disk(1)) > 0)
            le_t = le[t.outer]
            a_line = _line_coverage(le_t, med)
            here.update(linked=linked[t.crop], faint=np.where(le_t > line_weak_at, a_line, 0.0)[t.crop],
                        wired=(linked & (le_t > line_strong_at))[t.crop])
            if wired is not None:
                wired[t.inner] = here["wired"]
        if near_core[t.index]:
            # bulk: the AI's core, eroded so its soft edge is replaced by plate alpha
            inner = cv2.erode(core_t, _disk(2)) > 0
            band = (cv2.dilate(core_t, _disk(2)) > 0) & ~inner
            at = _within(t.inner, part)
            bulk[at] = np.where(inner, 1.0, np.where(band, p, 0.0))[t.crop]
            pa[at] = p[t.crop]

    pmap(first, tiles(shape, halo=8, mask=active))
    # chains: long confirmed lines, measured on the full difference too
    H, W = ai.shape
    chain = lt = med_t = None
    span = _span(tile_any(wired), shape) if wired is not None else (0, 0, 0, 0)
    if span[2] > span[0]:
        # labelled where the strong lines are (in the memory of the weak
        # evidence's labels, no longer needed)
        size = (span[2] - span[0]) * (span[3] - span[1])
        lines = components(wired[span[0]:span[2], span[1]:span[3]],
                           labels=comp.labels.reshape(-1)[:size].reshape(span[2] - span[0], span[3] - span[1]))
        b = lines.bbox()
        is_chain = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) >= cfg.wire_extent * max(H, W)
        is_chain[0] = False
        if is_chain.any():
            chain = (lines, is_chain)
            # (the line energy of eff is no longer needed: its memory is reused)
            lt = le if cfg.keep_shadows else line_energy(diff.total, length=cfg.line_length, out=le)
            med_t = float(np.median(lt[::step, ::step]))
    ridge = []

    def second(here):
        t = here["tile"]
        a_line = here["faint"]
        if chain is not None:
            lines, is_chain = chain
            on = is_chain[lines.labels[_within(t.inner, span)]] if _inside(t.inner, span) else None
            if on is not None and on.any():
                lt_t = lt[t.outer]
                a_t = _line_coverage(lt_t, med_t)
                a_line = np.maximum(a_line, np.where(on, a_t[t.crop], 0.0))
                # the middle line (the ridge of the line energy) and the pixels
                # beside it: a wire two or three pixels wide, whose flanks the
                # colour model may miss (the highlight on a round wire is
                # brighter than the sweep, its shaded side darker)
                mid = (lt_t >= 0.9 * cv2.dilate(lt_t, np.ones((3, 3), np.uint8))).view(np.uint8)
                line = on & (cv2.dilate(mid, _disk(1)) > 0)[t.crop]
                if line.any():
                    ridge.append((t.inner, line))
        here["detail"] = np.where(here["linked"], np.maximum(here["pa"], a_line), 0.0)

    pmap(second, [here for here in local.values() if "linked" in here])
    if cfg.open_gaps:
        rows, cols = np.s_[part[0]:part[2]], np.s_[part[1]:part[3]]
        opened = open_gaps(bulk, diff.crop((rows, cols)), coverage=pa, k_noise=cfg.k_noise * 0.75,
                           min_area=cfg.gap_min_area, min_delta=cfg.min_delta * 0.75,
                           outside_texture=lambda: _outside_texture(bulk, diff, part))
    else:
        opened = bulk
    for here in local.values():
        t = here["tile"]
        o = here.get("detail")
        if near_core[t.index]:
            at = _within(t.inner, part)
            o = np.array(opened[at]) if o is None else np.maximum(opened[at], o)
            if cfg.open_gaps:
                # the detail may not refill what was reopened, except along a strong
                # line: a faint wire running by the edge of what the AI filled
                holes = opened[at] < bulk[at]
                wire = np.where(here["wired"], here["faint"], 0.0) if "wired" in here else np.zeros_like(o)
                o[holes] = np.minimum(o[holes], np.maximum(pa[at][holes], wire[holes]))
        if o is not None:
            out[t.inner] = o
    if cfg.keep_stones:
        out[stone_regions(a_ai, strong)] = 1.0
    if maps is not None:
        for here in local.values():
            if "detail" in here:
                maps["detail"][here["tile"].inner] = here["detail"]
        maps["bulk"][part[0]:part[2], part[1]:part[3]] = bulk
        maps["gaps_opened"][part[0]:part[2], part[1]:part[3]] = opened
    return ridge


def _line_levels(le: np.ndarray, cfg: AutoSettings) -> tuple[int, float, float, float]:
    """(step, median, strong, weak) of the line energy `le` of the box.

    The median is taken over a grid of every `step`-th pixel (about 250,000
    of them). A faint line stands out of the backdrop's own line energy
    (noise has a positive mean) by `line_k` robust deviations for strong,
    half that for weak, and at least by a fraction of `min_delta` on a very
    clean sweep.
    """
    step = max(1, int(np.sqrt(le.size / 250_000)))
    sample = le[::step, ::step]
    med = float(np.median(sample))
    mad = 1.4826 * float(np.median(np.abs(sample - med))) + 1e-3
    return (step, med, med + max(cfg.line_k * mad, cfg.min_delta * 0.4),
            med + max(0.5 * cfg.line_k * mad, cfg.min_delta * 0.2))


def _line_coverage(le: np.ndarray, med: float) -> np.ndarray:
    """Coverage on a faint line: how close its line energy `le` comes to the
    line's own peak (within 2 px), above the backdrop's level `med`, squared."""
    peak = cv2.dilate(le, np.ones((5, 5), np.uint8))
    return np.clip((le - med) / np.maximum(peak - med, 1e-3), 0, 1) ** 2


def _within(index, part):
    """`index` (a pair of slices of the box) relative to `part` (r0, c0, r1, c1)."""
    rows, cols = index
    return np.s_[rows.start - part[0]:rows.stop - part[0], cols.start - part[1]:cols.stop - part[1]]


def _inside(index, part) -> bool:
    """Whether `index` (a pair of slices of the box) lies in `part` (r0, c0, r1, c1)."""
    rows, cols = index
    return part[0] <= rows.start and rows.stop <= part[2] and part[1] <= cols.start and cols.stop <= part[3]


def _span(grid: np.ndarray, shape, size: int = TILE) -> tuple[int, int, int, int]:
    """Pixel box (r0, c0, r1, c1) of the True tiles of `grid` (an empty box at 0 if none)."""
    rows, cols = np.flatnonzero(grid.any(axis=1)), np.flatnonzero(grid.any(axis=0))
    if rows.size == 0:
        return 0, 0, 0, 0
    return (int(rows[0]) * size, int(cols[0]) * size,
            min(shape[0], (int(rows[-1]) + 1) * size), min(shape[1], (int(cols[-1]) + 1) * size))


def _refine(rgb, alpha, plate, refine, brush):
    """Refine a recipe's mask, with the plate as the backdrop cue."""
    background = None if plate is None else plate.rgb()
    return refine_edge(rgb, alpha, brush=brush, background=background, settings=refine)


def run_recipe(image, *, recipe: str = DEFAULT_RECIPE,
               settings: RecipeSettings | None = None, model: str | None = None,
               paths=None, brush=None, progress=None) -> np.ndarray:
    """Run a recipe on a photo.

    Parameters
    ----------
    image : (H, W, 3) or (H, W, 4) array, uint8, uint16 or float
    recipe : str
        One of :data:`RECIPES`.
    settings : RecipeSettings, optional
    model : str, optional
        Shortcut that overrides ``settings.ai.model``.
    paths : list of jewelmask.paths.Path, optional
        Vector paths in image pixels. A path is hard, opaque and
        razor-sharp: ``add`` paths (prongs, stones) override the soft mask
        inside them, ``cut`` paths subtract (see docs/paths.md).
    brush : (H, W) array, optional
        The refine brush (see :func:`jewelmask.refine.refine_edge`); used
        only when ``settings.refine`` is set.
    progress : callable(float), optional
        Fraction done; may raise to cancel.

    Returns
    -------
    (H, W) float32 array in [0, 1]
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe={recipe!r} is not known; choose one of: {', '.join(RECIPES)}")
    settings = settings or RecipeSettings()
    if model is not None and model != settings.ai.model:
        settings = replace(settings, ai=replace(settings.ai, model=model))
    if recipe == "path":
        if not paths:
            raise ValueError("recipe 'path' needs paths (on the command line: --paths embedded|FILE.svg)")
        rgb, _ = as_float_image(image)
        soft = np.zeros(rgb.shape[:2], np.float32)
    else:
        soft = _soft_recipe(image, recipe, settings, progress, brush)
    if paths:
        from .paths import apply_path_roles, paths_to_mask

        add, cut = paths_to_mask(paths, soft.shape)
        soft = apply_path_roles(soft, add, cut)
    return soft


def _soft_recipe(image, recipe, settings, progress, brush=None):
    if recipe == "auto":
        return _auto(image, settings=settings, progress=progress, ai=None, brush=brush, maps=False)["alpha"]
    rgb, _ = as_float_image(image)
    if recipe == "ai":
        soft = ai_alpha(rgb, settings=settings.ai, progress=progress)
        plate = backdrop_plate(rgb, soft) if settings.refine is not None else None
    else:
        # channel and colour work on their own, without the AI (and its model)
        plate = backdrop_plate(rgb)
        if recipe == "channel":
            soft = channel_mask(rgb, settings=settings.channel, plate=plate)
        else:
            soft = colour_range_mask(rgb, settings=settings.colour, plate=plate)
    if settings.refine is not None:
        soft = _refine(rgb, soft, plate, settings.refine, brush)
    return soft
