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
            elif self.kind == "str":
                value = str(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name} must be a {self.kind}, got {value!r}") from None
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


def run_op(name: str, image: np.ndarray, *, selection=None, paths=None,
           params: dict | None = None, progress=None) -> OpResult:
    """Run operation `name`; raises ValueError for unknown names or bad parameters."""
    try:
        op = OPS[name]
    except KeyError:
        raise ValueError(f"unknown operation {name!r}; known: {', '.join(OPS)}") from None
    params = op.check_params(params)
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image must be a non-empty (H, W[, C]) array, got shape {image.shape}")
    if selection is not None and selection.shape[:2] != image.shape[:2]:
        raise ValueError(f"selection shape {selection.shape} does not match image {image.shape[:2]}")
    return op.func(image, selection=selection, paths=paths, params=params,
                   progress=progress or (lambda f: None))


def combine_masks(old: np.ndarray | None, new: np.ndarray, mode: str, *,
                  selection: np.ndarray | None = None) -> np.ndarray:
    """Combine a new mask with an existing layer mask.

    ``replace`` takes the new one, ``add`` the maximum, ``subtract`` removes
    the new from the old, ``intersect`` the minimum. With no old mask every
    mode but ``subtract`` gives the new mask (``subtract`` then starts from an
    opaque layer: a white mask, as a new layer mask in both editors is).
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


def _ai_remove(image, *, selection, paths, params, progress):
    from .ai import AISettings, ai_alpha

    settings = AISettings(model=params["model"], tile_budget=params["tile_budget"])
    mask = ai_alpha(image[..., :3] if image.ndim == 3 and image.shape[2] >= 3 else image,
                    settings=settings, progress=progress)
    return OpResult(mask=mask, channels={"jewelmask: ai": mask}, info={"model": params["model"]})


register(Op(
    name="ai-remove",
    label="AI Remove Background",
    func=_ai_remove,
    params=(
        Param("model", "choice", "u2netp", "Model", choices=_MODEL_CHOICES,
              help="rembg model for the first pass"),
        Param("tile_budget", "int", 12, "Detail crops", 0, 100,
              help="how many close-up crops the model looks at (0 = one shrunken pass)"),
    ),
    default_mode="replace",
    needs=("model",),
    help="Full-detail AI background removal: a global pass plus close-up crops.",
))
