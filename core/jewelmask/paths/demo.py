"""Sample files with embedded Photoshop paths, for tests and editor checks.

:func:`write_demo_files` writes a JPEG and a TIFF of a synthetic ring photo
carrying two named paths, the first marked as the clipping path. The editor
test harness opens them in GIMP 3 and compares the imported paths with
:func:`demo_paths`.
"""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path as FsPath

import numpy as np

from .model import Path, ellipse_path
from .photoshop import embed_paths_jpeg, tiff_with_paths
from .raster import path_to_mask

__all__ = ["DEMO_CLIPPING_NAME", "DEMO_SHAPE", "demo_image", "demo_paths", "write_demo_files"]

DEMO_SHAPE = (480, 640)
DEMO_CLIPPING_NAME = "Ring outline"


def demo_paths(shape=DEMO_SHAPE) -> list[Path]:
    """The two demo paths in pixels: ``"Ring outline"`` and ``"Stone"``.

    "Ring outline" has two closed subpaths (the band and its hole, drawn in
    opposite directions, 16 nodes each); "Stone" is one closed 8-node circle.
    """
    h, w = shape
    cx, cy = 0.5 * w, 0.55 * h
    r_out, r_in = 0.30 * h, 0.22 * h
    outer = ellipse_path(cx, cy, r_out * 1.1, r_out, n_arcs=16, clockwise=True)
    inner = ellipse_path(cx, cy, r_in * 1.1, r_in, n_arcs=16, clockwise=False)
    ring = Path(outer.subpaths + inner.subpaths, name=DEMO_CLIPPING_NAME, fill_rule="evenodd")
    stone = ellipse_path(cx, cy - r_out, 0.08 * h, n_arcs=8, name="Stone", fill_rule="evenodd")
    return [ring, stone]


def demo_image(shape=DEMO_SHAPE) -> np.ndarray:
    """A synthetic ring photo (uint8 RGB): gold band and a blue stone on white."""
    h, w = shape
    ring, stone = demo_paths(shape)
    a = path_to_mask(ring, shape)[..., None]
    s = path_to_mask(stone, shape)[..., None]
    r, c = np.mgrid[:h, :w]
    shade = (0.85 + 0.15 * np.sin(c / w * 6.0))[..., None]
    img = np.full((h, w, 3), 245.0)
    img = img * (1 - a) + np.array([212.0, 175.0, 55.0]) * shade * a
    img = img * (1 - s) + np.array([40.0, 90.0, 200.0]) * s
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def write_demo_files(directory) -> dict:
    """Write ``paths-demo.jpg`` and ``paths-demo.tif`` into ``directory``.

    Returns
    -------
    dict
        ``{"jpeg": path, "tiff": path, "paths": [Path, Path],
        "clipping_name": "Ring outline", "shape": (480, 640)}``.
    """
    from PIL import Image

    from ..io import atomic_write

    folder = FsPath(os.fspath(directory))
    img = demo_image()
    paths = demo_paths()
    buf = BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=92)
    jpeg = embed_paths_jpeg(buf.getvalue(), paths, DEMO_CLIPPING_NAME)
    tiff = tiff_with_paths(img, paths, DEMO_CLIPPING_NAME)
    out = {}
    for key, name, data in (("jpeg", "paths-demo.jpg", jpeg), ("tiff", "paths-demo.tif", tiff)):
        target = folder / name
        with atomic_write(target) as tmp:
            FsPath(tmp).write_bytes(data)
        out[key] = target
    out.update(paths=paths, clipping_name=DEMO_CLIPPING_NAME, shape=DEMO_SHAPE)
    return out
