"""Editor commands as engine operations.

Every command an editor offers (GIMP procedure, Krita action, batch step) is
one entry here: a name, the parameters it takes (with types, defaults and
ranges, so front ends can build their dialogs from the same data), and a
function ``(image, *, selection, paths, params, progress) -> OpResult``.
The worker process (``python -m jewelmask.worker``) runs these by name;
nothing here knows about editors.

Image convention: ``image`` is (H, W, C) float32 in [0, 1] (C = 1, 2, 3 or 4,
straight alpha), ``selection`` an optional (H, W) float32 mask in [0, 1],
``paths`` an optional list of paths in pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["Param", "Op", "OpResult", "OPS", "run_op", "register"]


@dataclass(frozen=True)
class Param:
    """One parameter of an operation, described for UIs and validation."""

    name: str
    kind: str  # "int", "float", "bool", "choice", "str", "colours"
    default: Any
    label: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    help: str = ""

    def check(self, value):
        """Return `value` converted to this parameter's type, or raise ValueError."""
        try:
            if self.kind == "int":
                value = int(value)
            elif self.kind == "float":
                value = float(value)
            elif self.kind == "bool":
                value = bool(value)
            elif self.kind == "colours":
                value = tuple(tuple(int(round(float(v))) for v in c) for c in (value or ()))
                if any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in value):
                    raise ValueError
            elif self.kind == "str":
                value = str(value)
        except (TypeError, ValueError):
            expected = "list of (r, g, b) colours in 0-255" if self.kind == "colours" else self.kind
            raise ValueError(f"{self.name} must be a {expected}, got {value!r}") from None
        if self.kind == "choice" and value not in self.choices:
            raise ValueError(f"{self.name} must be one of {', '.join(map(str, self.choices))}, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{self.name} must be >= {self.minimum}, got {value!r}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{self.name} must be <= {self.maximum}, got {value!r}")
        return value


@dataclass
class OpResult:
    """What an operation gives back.

    Attributes
    ----------
    mask : (H, W) float32 array in [0, 1], or None
        The layer mask to write (combined with an existing one by the front
        end's mode).
    layer : (H, W, 3 or 4) float32 array, or None
        A new layer (decontaminated colours); never written over the original.
    channels : dict of str to (H, W) float32 arrays
        Each method's own result, kept as named channels ("jewelmask: chains").
    info : dict
        Figures to show or log (seconds, tiles, model, ...).
    """

    mask: np.ndarray | None = None
    layer: np.ndarray | None = None
    channels: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Op:
    name: str
    label: str
    func: Callable
    params: tuple[Param, ...] = ()
    default_mode: str = "replace"  # how the editors combine with an existing mask
    needs: tuple[str, ...] = ()  # "model", "selection", "paths"
    help: str = ""

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def check_params(self, params: dict | None) -> dict:
        params = dict(params or {})
        known = {p.name: p for p in self.params}
        unknown = set(params) - set(known)
        if unknown:
            raise ValueError(f"{self.name} takes no parameter {', '.join(sorted(unknown))}")
        out = self.defaults()
        for k, v in params.items():
            out[k] = known[k].check(v)
        return out


OPS: dict[str, Op] = {}

MASK_MODES = ("replace", "add", "subtract", "intersect")


def register(op: Op) -> Op:
    OPS[op.name] = op
    return op


def run_op(name: str, image: np.ndarray, *, mask=None, selection=None, paths=None,
           params: dict | None = None, progress=None) -> OpResult:
    """Run operation `name`; raises ValueError for unknown names or bad parameters.

    `mask` is the layer's current mask, if it has one ((H, W) float32 in
    [0, 1]): some operations use it as the jewelry found so far (chain
    recovery keeps what connects to it). The operation never combines with
    it; the front end does (:func:`combine_masks`).
    """
    try:
        op = OPS[name]
    except KeyError:
        raise ValueError(f"unknown operation {name!r}; known: {', '.join(OPS)}") from None
    params = op.check_params(params)
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image must be a non-empty (H, W[, C]) array, got shape {image.shape}")
    for label, m in (("selection", selection), ("mask", mask)):
        if m is not None and np.asarray(m).shape[:2] != image.shape[:2]:
            raise ValueError(f"{label} shape {np.asarray(m).shape} does not match image {image.shape[:2]}")
    return op.func(image, mask=mask, selection=selection, paths=paths, params=params,
                   progress=progress or (lambda f: None))


def combine_masks(old: np.ndarray | None, new: np.ndarray, mode: str, *,
                  selection: np.ndarray | None = None) -> np.ndarray:
    """Combine a new mask with an existing layer mask.

    ``replace`` takes the new one, ``add`` the maximum, ``subtract`` removes
    the new from the old, ``intersect`` the minimum. With no old mask the
    layer is opaque everywhere, as a new white layer mask in both editors
    is: ``replace`` and ``intersect`` give the new mask, ``subtract`` its
    inverse, and ``add`` leaves it white (nothing to add to an opaque layer;
    the editors say so before running).
    With a `selection` (float32 in [0, 1]) the result is blended with the old
    mask by it: the command acts only where the user selected.
    """
    if mode not in MASK_MODES:
        raise ValueError(f"mode must be one of {', '.join(MASK_MODES)}, got {mode!r}")
    new = np.clip(np.asarray(new, np.float32), 0.0, 1.0)
    if old is None:
        old = np.ones_like(new)
    old = np.clip(np.asarray(old, np.float32), 0.0, 1.0)
    if mode == "replace":
        out = new
    elif mode == "add":
        out = np.maximum(old, new)
    elif mode == "subtract":
        out = np.clip(old - new, 0.0, 1.0)
    else:
        out = np.minimum(old, new)
    if selection is not None:
        sel = np.clip(np.asarray(selection, np.float32), 0.0, 1.0)
        out = sel * out + (1.0 - sel) * old
    return out.astype(np.float32)


# --- the operations -------------------------------------------------------

_MODEL_CHOICES = ("u2netp", "u2net", "silueta", "isnet-general-use", "birefnet-general-lite")


def _rgb(image: np.ndarray) -> np.ndarray:
    from .dtypes import as_float_image

    return as_float_image(image)[0]


def _ai_remove(image, *, mask, selection, paths, params, progress):
    from .ai import AISettings, ai_alpha

    settings = AISettings(model=params["model"], tile_budget=params["tile_budget"])
    out = ai_alpha(_rgb(image), settings=settings, progress=progress)
    return OpResult(mask=out, channels={"jewelmask: ai": out}, info={"model": params["model"]})


def _auto(image, *, mask, selection, paths, params, progress):
    from .ai import AISettings
    from .recipes import PRESETS, RecipeSettings, auto_stages

    preset = params["preset"]
    detail = None
    if params["keep_shadows"] or not params["open_gaps"]:
        from dataclasses import replace

        base = PRESETS["white-sweep" if preset == "auto" else preset]
        detail = replace(base, keep_shadows=params["keep_shadows"], open_gaps=params["open_gaps"])
    settings = RecipeSettings(ai=AISettings(model=params["model"], tile_budget=params["tile_budget"]),
                              preset=preset, detail=detail)
    st = auto_stages(_rgb(image), settings=settings, progress=progress)
    return OpResult(mask=st["alpha"],
                    channels={"jewelmask: ai": st["ai"], "jewelmask: chains": st["detail"]},
                    info={"preset": st["preset"], "model": params["model"]})


def _channel_mask(image, *, mask, selection, paths, params, progress):
    from .detail import ChannelSettings, channel_mask

    auto = params["auto_levels"]
    settings = ChannelSettings(channel=params["channel"],
                               black=None if auto else params["black"],
                               white=None if auto else params["white"],
                               gamma=params["gamma"])
    out, info = channel_mask(_rgb(image), settings=settings, hint=mask, return_info=True)
    progress(1.0)
    return OpResult(mask=out, channels={"jewelmask: channel": out}, info=info)


def _colour_range(image, *, mask, selection, paths, params, progress):
    from .detail import ColourSettings, colour_range_mask

    samples = tuple(tuple(int(v) for v in c) for c in params["samples"]) if params["samples"] else ()
    settings = ColourSettings(metal=params["metal"], samples=samples,
                              tolerance=params["tolerance"], feather=params["feather"],
                              connect=params["connect"])
    out = colour_range_mask(_rgb(image), settings=settings, anchor=mask)
    progress(1.0)
    return OpResult(mask=out, channels={"jewelmask: chains": out}, info={"metal": params["metal"]})


register(Op(
    name="ai-remove",
    label="AI Remove Background",
    func=_ai_remove,
    params=(
        Param("model", "choice", "u2netp", "Model", choices=_MODEL_CHOICES,
              help="rembg model for the first pass"),
        Param("tile_budget", "int", 6, "Detail crops", 0, 100,
              help="how many close-up crops the model looks at (0 = one shrunken pass)"),
    ),
    default_mode="replace",
    needs=("model",),
    help="Full-detail AI background removal: a global pass plus close-up crops.",
))


register(Op(
    name="auto",
    label="Auto Jewelry Mask",
    func=_auto,
    params=(
        Param("model", "choice", "u2netp", "Model", choices=_MODEL_CHOICES),
        Param("tile_budget", "int", 6, "Detail crops", 0, 100,
              help="close-up crops for the AI pass"),
        Param("preset", "choice", "auto", "Backdrop",
              choices=("auto", "white-sweep", "grey-sweep", "textured"),
              help="the kind of backdrop; auto decides from the image"),
        Param("keep_shadows", "bool", False, "Keep shadows and reflections"),
        Param("open_gaps", "bool", True, "Open gaps between links"),
    ),
    default_mode="replace",
    needs=("model",),
    help="AI for the bulk, backdrop-plate detail for chains and prongs, gaps between links opened.",
))

register(Op(
    name="channel-mask",
    label="Channel Mask",
    func=_channel_mask,
    params=(
        Param("channel", "choice", "auto", "Channel",
              choices=("auto", "red", "green", "blue", "luminance", "yellow-blue", "saturation")),
        Param("auto_levels", "bool", True, "Automatic Levels",
              help="set black and white points from the image"),
        Param("black", "float", 0.05, "Black point", 0.0, 1.0),
        Param("white", "float", 0.25, "White point", 0.0, 1.0),
        Param("gamma", "float", 1.0, "Gamma", 0.1, 10.0),
    ),
    default_mode="replace",
    help="The channel with the most contrast against the backdrop, crushed by Levels to a silhouette.",
))

register(Op(
    name="colour-range",
    label="Colour Range Chain Recovery",
    func=_colour_range,
    params=(
        Param("metal", "choice", "auto", "Metal",
              choices=("auto", "yellow-gold", "rose-gold", "white-metal", "sampled")),
        Param("samples", "colours", (), "Sampled colours",
              help="metal colours picked from the photo (for metal = sampled)"),
        Param("tolerance", "float", 12.0, "Tolerance", 1.0, 60.0),
        Param("feather", "float", 6.0, "Feather", 0.0, 30.0),
        Param("connect", "bool", True, "Only connected to the jewelry"),
    ),
    default_mode="add",
    help="Restores chains by their metal tone, relative to the backdrop, keeping only connected structures.",
))


def paths_from_editor(paths) -> list:
    """Editor path descriptions to :class:`jewelmask.paths.Path` objects.

    Each item is a Path, or a dict: ``{"format": "gimp", "name": str,
    "strokes": [[points, closed], ...]}`` (GIMP's anchor/handle triplets),
    ``{"format": "krita-svg", "svg": str, "resolution": float}`` (Krita's
    ``Shape.toSvg()`` in points), or ``{"format": "svg-d", "d": str,
    "name": str}`` (path data in pixels).
    """
    from .paths import Path, from_gimp_strokes, path_from_svg_d, paths_from_krita_svg, role_from_name

    out = []
    for i, p in enumerate(paths or ()):
        if isinstance(p, Path):
            out.append(p)
            continue
        if not isinstance(p, dict):
            raise ValueError(f"paths[{i}] must be a Path or a dict, got {type(p).__name__}")
        fmt = p.get("format")
        name = str(p.get("name", ""))
        if fmt == "gimp":
            strokes = [(list(map(float, pts)), bool(closed)) for pts, closed in p.get("strokes", ())]
            out.append(from_gimp_strokes(strokes, name=name))
        elif fmt == "krita-svg":
            out.extend(paths_from_krita_svg(p["svg"], float(p["resolution"])))
        elif fmt == "svg-d":
            out.append(path_from_svg_d(p["d"], name=name, role=role_from_name(name)))
        else:
            raise ValueError(f"paths[{i}] has an unknown format {fmt!r} (gimp, krita-svg or svg-d)")
    return out


def _path_to_mask(image, *, mask, selection, paths, params, progress):
    from .errors import PathDataError
    from .paths import paths_to_mask

    found = paths_from_editor(paths)
    if not found:
        raise PathDataError("no path to turn into a mask: draw or select a path (or a vector shape) first")
    H, W = image.shape[:2]
    add, cut = paths_to_mask(found, (H, W), fill_rule=None if params["fill_rule"] == "path" else params["fill_rule"])
    progress(1.0)
    # the mask of the paths; "cut" paths are returned as their own channel so
    # the front end's mode (subtract) can use them
    out = np.clip(add * (1.0 - cut), 0.0, 1.0).astype(np.float32)
    return OpResult(mask=out, channels={"jewelmask: prongs": out},
                    info={"paths": len(found), "cut": int(sum(p.role == "cut" for p in found))})


register(Op(
    name="path-to-mask",
    label="Path to Mask (prongs, stones)",
    func=_path_to_mask,
    params=(
        Param("fill_rule", "choice", "path", "Fill rule", choices=("path", "nonzero", "evenodd"),
              help="how overlapping subpaths fill; 'path' keeps each path's own rule"),
    ),
    default_mode="add",
    needs=("paths",),
    help="The active path(s) as a razor-sharp anti-aliased mask; paths named 'cut: ...' subtract.",
))
