"""``jewelmask paths``: list the paths embedded in an image; path loading for ``cutout``.

Only the ``run`` function prints; :func:`load_paths` raises.
"""

from __future__ import annotations

import json
import os
import sys

from .errors import ImageReadError, PathDataError

__all__ = ["add_parser", "load_paths", "run"]


def add_parser(subparsers):
    """Register ``jewelmask paths IMAGE [--json]`` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "paths", help="list the Photoshop paths embedded in a JPEG or TIFF",
        description="List the paths saved in IMAGE (Photoshop paths in JPEG APP13 or TIFF tag "
                    "34377, as Photoshop, GIMP and jewelmask write them): name, number of "
                    "subpaths and nodes, role (a name starting with 'cut:' or '-' cuts), and "
                    "which one is the clipping path.",
    )
    p.add_argument("image", metavar="IMAGE", help="a JPEG or TIFF file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run ``jewelmask paths``; returns the exit status (0 ok, 1 error)."""
    from .paths.photoshop import WORKING_PATH_ID, list_paths, read_paths

    try:
        emb = read_paths(args.image)
        infos = list_paths(args.image)
    except (ImageReadError, PathDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        doc = {
            "image": os.fspath(args.image),
            "width": emb.shape[1],
            "height": emb.shape[0],
            "clipping_path": emb.clipping_name,
            "paths": [dict(i.as_dict(), working=i.resource_id == WORKING_PATH_ID) for i in infos],
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    if not infos:
        print(f"{args.image}: no paths")
        return 0
    print(f"{args.image}: {emb.shape[1]} x {emb.shape[0]} px, {len(infos)} path(s)")
    width = max(len(i.name) for i in infos)
    for i in infos:
        marks = []
        if i.clipping:
            marks.append("clipping path")
        if i.resource_id == WORKING_PATH_ID:
            marks.append("unsaved work path")
        if i.role == "cut":
            marks.append("cuts")
        extra = f"  ({', '.join(marks)})" if marks else ""
        print(f"  {i.name:<{width}}  {i.subpaths:3d} subpath(s) {i.nodes:6d} node(s){extra}")
    if emb.clipping_name is not None and not any(i.clipping for i in infos):
        print(f"  clipping path {emb.clipping_name!r} is named but not stored in the file")
    return 0


def _select(paths, path_name, where):
    if path_name is None:
        return list(paths)
    exact = [p for p in paths if p.name == path_name]
    if not exact:
        exact = [p for p in paths if p.name.casefold() == path_name.casefold()]
    if not exact:
        names = ", ".join(repr(p.name) for p in paths) or "none"
        raise PathDataError(f"{where} has no path named {path_name!r} (paths: {names})")
    return exact


def load_paths(spec, image_path, image_shape, path_name=None) -> list:
    """Paths for ``cutout --paths embedded|FILE.svg [--path-name NAME]``.

    Parameters
    ----------
    spec : str or os.PathLike
        ``"embedded"`` for the Photoshop paths saved in the image file itself,
        or an SVG file drawn over the image (its canvas is scaled to the image).
    image_path : str or os.PathLike
        The image being processed.
    image_shape : tuple of int
        ``(height, width)`` of the pixels the mask is made for.
    path_name : str, optional
        Use only the path with this name (exact, else case-insensitive). By
        default every saved path is used (Photoshop's unsaved work path is not).

    Returns
    -------
    list of Path
        In pixel coordinates of the image, each with its role (name prefix
        ``cut:`` or ``-`` cuts, anything else adds).

    Raises
    ------
    PathDataError
        No paths, no path of that name, empty paths, malformed data, or paths
        saved for differently oriented pixels.
    ImageReadError
        The image or SVG file cannot be read.
    ValueError
        `spec` is neither ``"embedded"`` nor an SVG file name.
    """
    from .paths.photoshop import read_paths
    from .paths.svg import paths_from_svg

    h, w = int(image_shape[0]), int(image_shape[1])
    spec_s = os.fspath(spec)
    if spec_s == "embedded":
        emb = read_paths(image_path)
        where = os.fspath(image_path)
        if not emb.paths:
            hint = (" (only an unsaved Work Path: save it in Photoshop's Paths panel first)"
                    if emb.working_path is not None else "")
            raise PathDataError(f"{where} has no saved paths{hint}")
        eh, ew = emb.shape
        if (eh, ew) != (h, w):
            if (eh, ew) == (w, h) and h != w:
                raise PathDataError(
                    f"{where}: the paths were saved for {ew} x {eh} pixels but the image reads as "
                    f"{w} x {h} (its EXIF orientation turns it); save it upright (orientation 1)"
                )
            # Photoshop coordinates are relative to the image size: rescale
            paths = [p.scaled(w / ew, h / eh) for p in emb.paths]
        else:
            paths = list(emb.paths)
        chosen = _select(paths, path_name, where)
    elif spec_s.lower().endswith(".svg"):
        if not os.path.isfile(spec_s):
            raise ImageReadError(f"cannot read {spec_s}: no such file")
        chosen = _select(paths_from_svg(spec_s, canvas_shape=(h, w)), path_name, spec_s)
        where = spec_s
        if not chosen:
            raise PathDataError(f"{spec_s} contains no shapes (path, rect, circle, ellipse, polygon)")
    else:
        raise ValueError(f"spec must be 'embedded' or an .svg file, got {spec_s!r}")
    empty = [p.name for p in chosen if p.n_nodes == 0]
    if empty:
        raise PathDataError(f"{where}: path {empty[0]!r} is empty")
    return chosen
