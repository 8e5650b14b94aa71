"""Make the pictures in docs/img/ from the engine's real output.

    .venv/bin/python docs/make_figures.py

Writes:
- before-after.png: the bundled sample, plain rembg u2netp (one shrunken
  pass), and the auto recipe (cutouts over a checkerboard);
- stages-*.png: every stage of ``auto`` on the hard cases of the benchmark
  (a thin silver chain on a light grey sweep, and a gold chain with a
  solitaire), full frame and a close-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jewelmask.ai import AISettings, ai_alpha, global_alpha  # noqa: E402
from jewelmask.cli import sample_image_path  # noqa: E402
from jewelmask.io import read_image  # noqa: E402
from jewelmask.recipes import auto_stages  # noqa: E402

OUT = ROOT / "docs" / "img"


def checker(shape, size=12):
    rr, cc = np.mgrid[0:shape[0], 0:shape[1]]
    c = (((rr // size) + (cc // size)) % 2).astype(np.float32)
    return (0.75 + 0.2 * c)[..., None].repeat(3, axis=2)


def over_checker(rgb, alpha):
    a = alpha[..., None]
    return rgb * a + checker(alpha.shape) * (1 - a)


def grey(x):
    return np.repeat(np.clip(x, 0, 1)[..., None], 3, axis=2)


def label(img, text):
    img = (np.clip(img, 0, 1) * 255).astype(np.uint8).copy()
    cv2.rectangle(img, (0, 0), (img.shape[1], 26), (255, 255, 255), -1)
    cv2.putText(img, text, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20), 1, cv2.LINE_AA)
    return img


def save(path, tiles, cols):
    tiles = list(tiles)
    while len(tiles) % cols:
        tiles.append(np.full_like(tiles[0], 255))
    rows = [np.concatenate(tiles[i:i + cols], axis=1) for i in range(0, len(tiles), cols)]
    img = np.concatenate(rows, axis=0)
    OUT.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img[..., ::-1])
    print(path)


def before_after():
    photo = read_image(sample_image_path()).rgb
    plain = global_alpha(photo)
    auto = auto_stages(photo)["alpha"]
    H, W = plain.shape
    small = lambda x: cv2.resize(x, (W // 2, H // 2), interpolation=cv2.INTER_AREA)  # noqa: E731
    tiles = [label(small(photo), "photo"),
             label(small(over_checker(photo, plain)), "rembg u2netp, plain"),
             label(small(over_checker(photo, auto)), "jewelmask auto")]
    save(OUT / "before-after.png", tiles, 3)
    # a close-up of the chain where it leaves the pendant
    r, c = np.unravel_index(np.argmax(cv2.blur(auto * (plain < 0.5), (41, 41))), auto.shape)
    r0, c0 = max(0, r - 90), max(0, c - 120)
    crop = lambda x: cv2.resize(x[r0:r0 + 180, c0:c0 + 240], (480, 360), interpolation=cv2.INTER_NEAREST)  # noqa: E731
    tiles = [label(crop(photo), "photo (2x)"),
             label(crop(over_checker(photo, plain)), "rembg u2netp"),
             label(crop(over_checker(photo, auto)), "jewelmask auto")]
    save(OUT / "before-after-closeup.png", tiles, 3)


def stages(scene, name):
    st = auto_stages(scene.image, settings=None)
    img = scene.image.astype(np.float32) / 255
    H, W = img.shape[:2]
    f = 0.4
    small = lambda x: cv2.resize(x, (int(W * f), int(H * f)), interpolation=cv2.INTER_AREA)  # noqa: E731
    keys = [("ai", "1 AI pass (global + crops)"), ("detail", "2 plate alpha, connected detail"),
            ("bulk", "3 AI core with plate edges"), ("gaps_opened", "4 gaps opened"),
            ("combined", "5 combined (--no-refine)"), ("alpha", "6 refined: the result")]
    tiles = [label(small(img), "photo")] + [label(small(grey(st[k])), t) for k, t in keys]
    save(OUT / f"stages-{name}.png", tiles, 4)
    # close-up on the thin structure
    r, c = np.unravel_index(np.argmax(cv2.blur(scene.thin.astype(np.float32), (61, 61))), scene.alpha.shape)
    r0, c0 = max(0, min(H - 150, r - 75)), max(0, min(W - 200, c - 100))
    crop = lambda x: cv2.resize(x[r0:r0 + 150, c0:c0 + 200], (400, 300), interpolation=cv2.INTER_NEAREST)  # noqa: E731
    tiles = [label(crop(img), "photo (2x)"), label(crop(grey(scene.alpha)), "ground truth")] + \
        [label(crop(grey(st[k])), t) for k, t in keys]
    save(OUT / f"stages-{name}-closeup.png", tiles, 4)


def main():
    before_after()
    try:
        from bench import synth
    except ImportError:
        print("bench/ not importable: run from a checkout", file=sys.stderr)
        return 1
    hard = synth.render_scene(4242, 1600, 1200, kind="chain-lying", backdrop="grey", metal=synth.SILVER,
                              wire=(0.9, 1.3), name="hard")
    stages(hard, "silver-chain-grey-sweep")
    return 0


if __name__ == "__main__":
    sys.exit(main())
