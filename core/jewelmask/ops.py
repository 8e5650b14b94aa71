"""Editor commands as engine operations.

Every command an editor offers (GIMP procedure, Krita action, batch step) is
one entry here: a name, the parameters it takes (with types, defaults and
ranges, so front ends can build their dialogs from the same data), and a
function ``(image, *, mask, selection, paths, params, progress) -> OpResult``.
The worker process (``python -m jewelmask.worker``) runs these by name;
nothing here knows about editors.

Image convention: ``image`` is (H, W, C) float32 in [0, 1] (C = 1, 2, 3 or 4,
straight alpha), ``mask`` (the layer's current mask) and ``selection``
optional (H, W) float32 masks in [0, 1], ``paths`` an optional list of paths
in pixel coordinates.
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
    needs: tuple[str, ...] = ()  # "model", "selection", "paths", "mask" (the layer's own)
    help: str = ""
    #: What the selection is to the operation: "limits" (the front end keeps the
    #: old mask, or the old pixels, outside it) or "brush" (the operation reads it
    #: itself, as refine-edge does; the result is not limited by it).
    selection_role: str = "limits"
    #: What the front ends write: "mask" (combined by the mode) or "layer" (a new
    #: layer; there is no mode to choose).
    writes: str = "mask"

    def __post_init__(self):
        if self.selection_role not in ("limits", "brush"):
            raise ValueError(f"selection_role must be 'limits' or 'brush', got {self.selection_role!r}")
        if self.writes not in ("mask", "layer"):
            raise ValueError(f"writes must be 'mask' or 'layer', got {self.writes!r}")

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
    recovery keeps what connects to it), and those that need it (``"mask"``
    in :attr:`Op.needs`: refine-edge, decontaminate) work on it. The
    operation never combines with it; the front end does
    (:func:`combine_masks`, and :func:`layer_rgba` for a new layer), limited
    to `selection` unless the operation takes the selection as its brush
    (:attr:`Op.selection_role`).
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


def layer_rgba(image: np.ndarray, layer: np.ndarray, *,
               selection: np.ndarray | None = None) -> np.ndarray:
    """A new layer as the front ends write it: (H, W, 4) float32, straight alpha.

    A 3-channel `layer` takes the alpha of `image` (opaque when it has none).
    With a `selection` (float32 in [0, 1]) the layer is the image's own pixels
    outside it and blended by it on a soft edge, as :func:`combine_masks`
    limits a mask: the command acts only where the user selected.
    """
    image = np.asarray(image, np.float32)
    layer = np.asarray(layer, np.float32)
    if layer.ndim != 3 or layer.shape[2] not in (3, 4) or layer.shape[:2] != image.shape[:2]:
        raise ValueError(f"layer must be (H, W, 3 or 4) the size of the image {image.shape[:2]}, "
                         f"got {layer.shape}")
    alpha = image[..., 3:4] if image.ndim == 3 and image.shape[2] in (2, 4) else None
    if layer.shape[2] == 3:
        layer = np.concatenate([layer, alpha if alpha is not None else np.ones_like(layer[..., :1])],
                               axis=2)
    if selection is None:
        return np.ascontiguousarray(layer)
    own = image if image.ndim == 3 else image[..., None]
    if own.shape[2] == 1:
        own = np.repeat(own, 3, axis=2)
    elif own.shape[2] == 2:
        own = np.concatenate([np.repeat(own[..., :1], 3, axis=2), own[..., 1:]], axis=2)
    if own.shape[2] == 3:
        own = np.concatenate([own, np.ones_like(own[..., :1])], axis=2)
    sel = np.clip(np.asarray(selection, np.float32), 0.0, 1.0)[..., None]
    return (sel * layer + (1.0 - sel) * own).astype(np.float32)


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
    from .recipes import RecipeSettings, auto_stages

    preset = params["preset"]
    overrides = {k: params[k] for k in ("keep_shadows", "open_gaps", "keep_stones")}
    settings = RecipeSettings(ai=AISettings(model=params["model"], tile_budget=params["tile_budget"]),
                              preset=preset, overrides=overrides)
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
        Param("keep_stones", "bool", True, "Keep stones whole",
              help="the inside of a faceted, convex stone the AI half sees is made solid"),
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


# --- refine edge and decontaminate colours (Photoshop's Select and Mask) -------

#: Edge detection of refine-edge; defaults are :class:`jewelmask.refine.RefineSettings`'s.
REFINE_PARAMS = (
    Param("radius", "float", 2.0, "Radius (px)", 0.0, 32.0,
          help="half-width of the band around the mask's edge that is re-solved"),
    Param("smart_radius", "bool", False, "Smart radius",
          help="widen the band, up to the max radius, where the edge is soft or detailed "
               "(a defocused edge, a chain)"),
    Param("max_radius", "float", 8.0, "Max radius (px)", 0.0, 32.0,
          help="widest band with smart radius (at least the radius)"),
    Param("shadow_aware", "bool", True, "Soft shadows are backdrop",
          help="smooth pixels next to the piece, and the contact shadow under its edge, count as "
               "backdrop; turn off for thin silver or white gold on grey, whose wires it can lose"),
)

#: Photoshop's global refinements, in its order; every default is "no change"
#: (:func:`jewelmask.edge.adjust_edge`, whose ranges are wider).
EDGE_PARAMS = (
    Param("smooth", "int", 0, "Smooth", 0, 100,
          help="irons out jaggies and bumps of the outline (thin wires and prongs go first)"),
    Param("feather", "float", 0.0, "Feather (px)", 0.0, 50.0,
          help="a soft edge: the mask blurred with sigma feather / 2"),
    Param("contrast", "float", 0.0, "Contrast (%)", 0.0, 100.0,
          help="hardens a soft edge; 100 % gives a hard mask"),
    Param("shift", "float", 0.0, "Shift edge (px)", -20.0, 20.0,
          help="moves the edge out (+) or in (-), fractions of a pixel too; a 1 px chain "
               "does not survive -1"),
)


def _existing_mask(mask, label):
    if mask is None:
        raise ValueError(f"{label} works on the layer's existing mask, and there is none: make one "
                         "first with a masking command (Auto Jewelry Mask, AI Remove Background, "
                         "Channel Mask, ...)")
    return np.clip(np.asarray(mask, np.float32), 0.0, 1.0)


def adjust_edge_with(alpha: np.ndarray, params: dict) -> np.ndarray:
    """:func:`jewelmask.edge.adjust_edge` with the values of :data:`EDGE_PARAMS`
    in `params`; `alpha` itself when they are all at "no change"."""
    values = {p.name: params.get(p.name, p.default) for p in EDGE_PARAMS}
    if all(values[p.name] == p.default for p in EDGE_PARAMS):
        return alpha
    from .edge import adjust_edge

    return adjust_edge(alpha, **values)


def _refine_edge(image, *, mask, selection, paths, params, progress):
    from .backdrop import backdrop_plate
    from .refine import RefineSettings, refine_edge

    alpha = _existing_mask(mask, "Refine Edge")
    # a float32 RGB photo (the editors' worker sends one) is used as it is:
    # the plate fit reads it without a copy and refine_edge converts only
    # its tiles, the same values as from _rgb's copy (24 MP: 288 MB less
    # memory, 0.03 s, and when the pages are new 0.1-1 s of system time)
    rgb = image if image.dtype == np.float32 and image.ndim == 3 and image.shape[2] == 3 else _rgb(image)
    settings = RefineSettings(radius=params["radius"], smart_radius=params["smart_radius"],
                              max_radius=max(params["max_radius"], params["radius"]),
                              shadow_aware=params["shadow_aware"])
    plate = backdrop_plate(rgb, alpha).rgb()
    progress(0.1)
    out = refine_edge(rgb, alpha, brush=selection, background=plate, settings=settings,
                      progress=lambda f: progress(0.1 + 0.85 * f))
    del plate
    out = adjust_edge_with(out, params)
    progress(1.0)
    return OpResult(mask=out, info={"changed_pixels": int(np.count_nonzero(out != alpha))})


def _decontaminate(image, *, mask, selection, paths, params, progress):
    from .backdrop import backdrop_plate
    from .decontaminate import decontaminate

    alpha = _existing_mask(mask, "Decontaminate Colours")
    rgb = _rgb(image)
    plate = backdrop_plate(rgb, alpha).rgb()
    progress(0.1)
    colours = decontaminate(rgb, alpha, background=plate, strength=params["amount"] / 100.0,
                            progress=lambda f: progress(0.1 + 0.85 * f))
    del plate
    progress(1.0)
    soft = int(np.count_nonzero((alpha > 0.0) & (alpha < 1.0)))
    return OpResult(layer=layer_rgba(image, colours), info={"soft_pixels": soft})


register(Op(
    name="refine-edge",
    label="Refine Edge",
    func=_refine_edge,
    params=REFINE_PARAMS + EDGE_PARAMS,
    default_mode="replace",
    needs=("mask",),
    selection_role="brush",
    help="Re-solves the layer's mask in a band around its edge from the colours of the photo and "
         "the backdrop plate; the selection is the refine brush (re-solved however far from the "
         "edge). Then smooth, feather, contrast and shift edge.",
))

register(Op(
    name="decontaminate",
    label="Decontaminate Colours",
    func=_decontaminate,
    params=(
        Param("amount", "float", 100.0, "Amount (%)", 0.0, 100.0,
              help="how much of the backdrop's glow is taken out of the soft edge"),
    ),
    default_mode="replace",
    needs=("mask",),
    writes="layer",
    help="The metal's own colour at the soft edges of the layer's mask, without the backdrop's "
         "glow, as a new layer above (with a copy of the mask); the layer itself is not changed.",
))
