"""Test inputs for the GIMP driver, made on the host (numpy + Pillow).

``write_inputs(folder)`` writes ``ring.png`` (8-bit RGB), ``ring16.png``
(16-bit RGB, not just the 8-bit values stretched), ``patch.raw`` (RGBA u8,
the pixels of a small offset layer) and ``cases.json`` (what the driver
needs to know: parameters, selection rectangle, patch placement, a path).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

W, H = 320, 240
SELECTION = (100, 60, 150, 120)           # x, y, w, h on the canvas
PATCH = (160, 120, -40, 150)              # w, h, x offset, y offset (partly off-canvas)
PATH_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d">'
            '<path d="M 130.5 70 L 190 70.25 L 190 110 L 130.5 110 Z '
            'M 60 150 C 80 128 110 131 121.5 160 L 90 201 Z"/></svg>' % (W, H))
# Small tile budgets keep the AI commands quick on the test image.
PARAMS = {"ai-remove": {"tile_budget": 2}, "auto": {"tile_budget": 2}}


def render(w=W, h=H) -> np.ndarray:
    """A gold ring with a thin chain on a light sweep: float32 RGB in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[..., 0] = 0.94 - 0.06 * yy / h
    img[..., 1] = 0.93 - 0.05 * yy / h
    img[..., 2] = 0.91 - 0.03 * xx / w
    gold = np.array([0.86, 0.66, 0.24], np.float32)
    r = np.hypot(xx - w * 0.5, yy - h * 0.45)
    ring = np.clip(9.5 - np.abs(r - h * 0.25), 0, 1)
    shade = 0.75 + 0.25 * np.cos((xx - w * 0.5) / 20.0)
    img = img * (1 - ring[..., None]) + (gold * shade[..., None]) * ring[..., None]
    for i in range(14):  # a chain of small links going down-left
        cx, cy = w * 0.5 - 60 - i * 7.0, h * 0.45 + 60 + i * 5.0
        d = np.abs(np.hypot((xx - cx) / 1.6, yy - cy) - 2.5)
        link = np.clip(1.3 - d, 0, 1)
        img = img * (1 - link[..., None]) + gold * 0.8 * link[..., None]
    return np.clip(img, 0, 1)


def write_inputs(folder) -> dict:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    img = render()
    u8 = np.rint(img * 255).astype(np.uint8)
    u16 = np.rint(img * 65535).astype(np.uint16)
    Image.fromarray(u8).save(folder / "ring.png")
    _write_png16(folder / "ring16.png", u16)
    pw, ph, px, py = PATCH
    patch = np.full((ph, pw, 4), 255, np.uint8)
    src = np.rint(render(2 * W, 2 * H) * 255).astype(np.uint8)[H - ph // 2:H + ph - ph // 2,
                                                                  W - 40:W - 40 + pw]
    patch[..., :3] = src
    patch.tofile(folder / "patch.raw")
    spec = {"params": PARAMS, "selection": SELECTION, "patch": PATCH, "path_svg": PATH_SVG,
            "size": [W, H]}
    (folder / "cases.json").write_text(json.dumps(spec, indent=1))
    return spec


def _write_png16(path, rgb16: np.ndarray) -> None:
    """A 16-bit RGB PNG (Pillow cannot write one), with zlib and struct."""
    import struct
    import zlib

    h, w, _ = rgb16.shape
    raw = b"".join(b"\0" + rgb16[r].astype(">u2").tobytes() for r in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    Path(path).write_bytes(png)


def read_png16(path) -> np.ndarray:
    """Read back what _write_png16 wrote (for the host-side reference)."""
    import cv2

    a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return a[..., ::-1].copy()


if __name__ == "__main__":
    import sys

    print(write_inputs(sys.argv[1]))
