"""Roles of paths in the hybrid mask: hard opaque regions and cuts.

A path region is *added* as hard, fully opaque mask (prongs, stones, a
retoucher's clipping path) or *cut* away (the hole of a ring, the gap
between chain links). The hybrid recipe combines them with its soft mask as::

    final = max(soft, add) * (1 - cut)

How a path is marked
--------------------
By its name, so that it survives every editor and file format:

* ``cut:`` or ``cut `` or a leading ``-`` (e.g. ``"cut: ring hole"``,
  ``"-gap"``) marks a cut;
* ``add:`` or a leading ``+`` marks an addition explicitly;
* any other name adds.

Matching ignores case and leading spaces. The prefix stays part of the name.
Code can also set :attr:`Path.role` directly (the ``role`` parameter of the
readers overrides the name).
"""

from __future__ import annotations

import numpy as np

from .model import ROLES, Path
from .raster import FLATTEN_TOLERANCE, path_to_mask

__all__ = ["apply_path_roles", "paths_to_mask", "role_from_name"]

_CUT_PREFIXES = ("cut:", "cut ", "-")
_ADD_PREFIXES = ("add:", "add ", "+")


def role_from_name(name: str) -> str:
    """The role a path name implies: ``"cut"`` or ``"add"``.

    Examples
    --------
    >>> role_from_name("cut: hole"), role_from_name("-gap"), role_from_name("Prong 3")
    ('cut', 'cut', 'add')
    """
    n = (name or "").lstrip().lower()
    if n.startswith(_CUT_PREFIXES):
        return "cut"
    return "add"


def paths_to_mask(paths, shape, *, fill_rule: str | None = None,
                  tolerance: float = FLATTEN_TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise paths by role.

    Parameters
    ----------
    paths : iterable of Path
        Each path's :attr:`~Path.role` says where it goes.
    shape : tuple of int
        ``(height, width)``.
    fill_rule : {"nonzero", "evenodd"}, optional
        Overrides every path's own fill rule.
    tolerance : float, optional
        Curve flattening tolerance in pixels.

    Returns
    -------
    add, cut : ndarray of float32, shape (height, width)
        Union (per-pixel maximum) of the coverage of the ``"add"`` paths and of
        the ``"cut"`` paths. Both are zero where no path of that role is.
    """
    h, w = int(shape[0]), int(shape[1])
    add = np.zeros((h, w), np.float32)
    cut = np.zeros((h, w), np.float32)
    for i, p in enumerate(paths):
        if not isinstance(p, Path):
            raise ValueError(f"paths[{i}] must be a jewelmask.paths.Path, got {type(p).__name__}")
        if p.role not in ROLES:  # pragma: no cover - Path validates this
            raise ValueError(f"paths[{i}].role must be one of {ROLES}, got {p.role!r}")
        m = path_to_mask(p, (h, w), fill_rule=fill_rule, tolerance=tolerance)
        target = add if p.role == "add" else cut
        np.maximum(target, m, out=target)
    return add, cut


def apply_path_roles(soft, add=None, cut=None) -> np.ndarray:
    """``max(soft, add) * (1 - cut)``, as float32 in [0, 1].

    Parameters
    ----------
    soft : ndarray, shape (H, W)
        The soft mask, float in [0, 1].
    add, cut : ndarray, shape (H, W), optional
        From :func:`paths_to_mask`; None means nothing to add or cut.
    """
    out = np.asarray(soft, dtype=np.float32).copy()
    if out.ndim != 2:
        raise ValueError(f"soft must be a 2-D mask, got shape {out.shape}")
    for name, m in (("add", add), ("cut", cut)):
        if m is not None and np.shape(m) != out.shape:
            raise ValueError(f"{name} must have the shape of soft {out.shape}, got {np.shape(m)}")
    if add is not None:
        np.maximum(out, add, out=out)
    if cut is not None:
        out *= 1.0 - np.asarray(cut, dtype=np.float32)
    np.clip(out, 0.0, 1.0, out=out)
    return out
