"""The ``jewelmask`` command line.

Only this module prints and exits; the engine raises.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .errors import JewelmaskError

SAVE_CHOICES = ("mask", "cutout", "both", "clipped-jpeg", "tiff")
CLIP_NAME = "jewelmask outline"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class _Progress:
    """A one-line progress display on stderr (only on a terminal)."""

    def __init__(self, label: str):
        self.label = label
        self.tty = sys.stderr.isatty()

    def __call__(self, fraction: float) -> None:
        if self.tty:
            bar = int(round(fraction * 20))
            sys.stderr.write(f"\r  {self.label} [{'#' * bar}{'.' * (20 - bar)}] {fraction:4.0%}")
            sys.stderr.flush()

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\r" + " " * (len(self.label) + 34) + "\r")
            sys.stderr.flush()


def _output_paths(image: Path, out_dir: Path, save: str) -> dict[str, Path]:
    stem = image.stem
    if save == "mask":
        return {"mask": out_dir / f"{stem}.png"}
    if save == "cutout":
        return {"cutout": out_dir / f"{stem}.png"}
    if save == "clipped-jpeg":
        return {"clipped-jpeg": out_dir / f"{stem}.jpg"}
    if save == "tiff":
        return {"tiff": out_dir / f"{stem}.tif"}
    return {"cutout": out_dir / f"{stem}.png", "mask": out_dir / f"{stem}.mask.png"}


def _write_clipped(targets, kind, rgb, alpha, args, loaded, source):
    """JPEG on a background colour, or TIFF with the original pixels, each
    with the mask traced into an embedded Photoshop clipping path."""
    from . import io
    from .dtypes import quantize
    from .paths import trace_mask
    from .paths.photoshop import (
        build_image_resources,
        photoshop_app13_payloads,
        photoshop_resources_for_paths,
        write_tiff_with_paths,
    )

    outline = trace_mask(alpha, tolerance=args.path_tolerance, name=CLIP_NAME)
    if not outline.subpaths:
        raise JewelmaskError(f"{source}: the mask is empty, there is no outline to write as a clipping path")
    if kind == "clipped-jpeg":
        bg = np.asarray(args.background, np.float32) / 255.0
        a = np.clip(alpha, 0, 1)[..., None]
        flat = rgb * a + bg * (1 - a)
        res = photoshop_resources_for_paths([outline], alpha.shape, CLIP_NAME)
        segs = [(0xED, p) for p in photoshop_app13_payloads(build_image_resources(res))]
        io.write_jpeg(targets[kind], flat, quality=args.quality, icc_profile=loaded.icc_profile,
                      app_segments=segs, protect=source)
    else:
        write_tiff_with_paths(targets[kind], quantize(np.clip(rgb, 0, 1), np.uint8), [outline],
                              CLIP_NAME)


def _process_one(path: Path, args, out_dir: Path, *, runner=None,
                 quiet: bool = False) -> dict[str, Path]:
    """Mask one photo and write its outputs; ``runner`` replaces
    :func:`run_recipe` (same signature; the batch uses it to keep the
    stages), ``quiet`` hides the per-photo progress bar."""
    from . import io
    from .recipes import run_recipe

    runner = runner or run_recipe

    targets = _output_paths(path, out_dir, args.save)
    for t in targets.values():
        if t.resolve() == path.resolve():
            raise JewelmaskError(
                f"{t} is the input image itself; choose another --out folder "
                "(jewelmask never overwrites an original)"
            )
        if t.exists() and not args.overwrite:
            raise JewelmaskError(f"{t} exists; pass --overwrite to replace it")
    loaded = io.read_image(path)
    bits = args.bits or (16 if loaded.bit_depth >= 16 else 8)
    paths = None
    if getattr(args, "paths", None):
        from .cli_paths import load_paths

        paths = load_paths(args.paths, path, loaded.rgb.shape[:2], args.path_name)
    if args.recipe == "path" and not paths:
        raise JewelmaskError("--recipe path needs --paths embedded or --paths FILE.svg")
    progress = _Progress(path.name)
    progress.tty = progress.tty and not quiet
    try:
        alpha = runner(loaded.rgb, recipe=args.recipe, settings=_settings(args),
                           paths=paths, progress=progress)
    finally:
        progress.done()
    for kind in ("clipped-jpeg", "tiff"):
        if kind in targets:
            _write_clipped(targets, kind, loaded.rgb, alpha, args, loaded, path)
    if "mask" in targets:
        io.write_mask(targets["mask"], alpha, bits=bits, protect=path)
    if "cutout" in targets:
        io.write_cutout(targets["cutout"], loaded.rgb, alpha, bits=bits,
                        icc_profile=loaded.icc_profile, protect=path)
    return targets


def _settings(args):
    """RecipeSettings from the command-line options."""
    from dataclasses import replace

    from .ai import AISettings
    from .detail import ChannelSettings, ColourSettings
    from .recipes import PRESETS, RecipeSettings

    ai = AISettings(model=args.model, tile_budget=getattr(args, "tiles", None) or 6)
    preset = getattr(args, "preset", "auto")
    detail = None
    keep = getattr(args, "keep_shadows", False)
    no_gaps = getattr(args, "no_open_gaps", False)
    if keep or no_gaps:
        detail = replace(PRESETS["white-sweep" if preset == "auto" else preset],
                         keep_shadows=keep, open_gaps=not no_gaps)
    samples = tuple(getattr(args, "sample", None) or ())
    metal = getattr(args, "metal", "auto")
    if samples and metal == "auto":
        metal = "sampled"
    try:
        colour = ColourSettings(metal=metal, samples=samples,
                                tolerance=getattr(args, "tolerance", 12.0))
        channel = ChannelSettings(channel=getattr(args, "channel", "auto"))
    except ValueError as exc:
        raise JewelmaskError(str(exc)) from None
    return RecipeSettings(ai=ai, preset=preset, detail=detail, channel=channel, colour=colour)


def _rgb_triplet(text: str):
    try:
        parts = [int(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        parts = []
    if len(parts) != 3 or not all(0 <= v <= 255 for v in parts):
        raise argparse.ArgumentTypeError(f"expected R,G,B with values 0-255, got {text!r}")
    return tuple(parts)


def cmd_cutout(args) -> int:
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    n = len(args.images)
    for i, name in enumerate(args.images, 1):
        path = Path(name)
        t0 = time.perf_counter()
        try:
            targets = _process_one(path, args, out_dir)
        except JewelmaskError as exc:
            failed += 1
            _log(f"[{i}/{n}] {path}: FAILED: {exc}")
            continue
        dt = time.perf_counter() - t0
        written = ", ".join(str(p) for p in targets.values())
        _log(f"[{i}/{n}] {path} -> {written} ({dt:.1f} s)")
    if failed:
        _log(f"{failed} of {n} images failed; the others were written.")
    return 1 if failed else 0


def sample_image_path() -> Path:
    """The sample photo shipped inside the package."""
    return Path(__file__).resolve().parent / "data" / "sample.jpg"


def cmd_demo(args) -> int:
    sample = sample_image_path()
    if not sample.is_file():
        _log(f"the sample photo is missing from the installation ({sample}); reinstall jewelmask")
        return 2
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    ns = argparse.Namespace(save="both", recipe=args.recipe, model=args.model,
                            bits=None, overwrite=True, tiles=6, paths=None, path_name=None)
    t0 = time.perf_counter()
    try:
        targets = _process_one(sample, ns, out_dir.resolve())
    except JewelmaskError as exc:
        _log(f"demo failed: {exc}")
        return 1
    _log(f"demo: {sample.name} ({args.recipe} recipe) in {time.perf_counter() - t0:.1f} s")
    print(f"cutout: {targets['cutout']}")
    print(f"mask:   {targets['mask']}")
    return 0


def cmd_models(args) -> int:
    from . import models

    if args.models_cmd == "list":
        print(f"model folder: {models.model_home()} (set U2NET_HOME to move it)")
        for info in models.MODELS.values():
            mark = "installed" if models.is_installed(info.name) else "not installed"
            default = " (default)" if info.name == models.DEFAULT_MODEL else ""
            print(f"  {info.name:24s} {info.input_size:5d} px  ~{info.approx_mb:4d} MB  "
                  f"{mark:13s} {info.good_for}{default}")
        return 0
    if args.models_cmd == "fetch":
        try:
            path = models.fetch_model(args.name, log=_log)
        except (JewelmaskError, ValueError) as exc:
            _log(f"error: {exc}")
            return 1
        print(path)
        return 0
    return 2


def build_parser() -> argparse.ArgumentParser:
    from .detail import CHANNELS, METAL_PRESETS
    from .models import DEFAULT_MODEL, MODELS
    from .recipes import DEFAULT_RECIPE, PRESETS, RECIPES

    recipes_help = "; ".join(f"{k}: {v}" for k, v in RECIPES.items())
    p = argparse.ArgumentParser(
        prog="jewelmask",
        description="Masks for jewelry product photos that keep chains, prongs and the gaps "
                    "between links. Results are masks or cutouts; originals are never changed.",
    )
    p.add_argument("--version", action="version", version=f"jewelmask {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    c = sub.add_parser(
        "cutout", help="mask or cut out product photos",
        description="Compute the jewelry mask of each IMAGE and write it into --out. "
                    "With --save mask: DIR/<name>.png, a greyscale mask the size of the photo "
                    "(white = jewelry). With cutout: DIR/<name>.png with transparency. "
                    "With both: the cutout as <name>.png and the mask as <name>.mask.png. "
                    "With clipped-jpeg: <name>.jpg, the cutout on a --background colour with "
                    "the mask traced into an embedded Photoshop clipping path. With tiff: "
                    "<name>.tif, the original pixels (8-bit) with that clipping path. "
                    "16-bit photos give 16-bit masks and cutouts.",
    )
    c.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG, PNG, TIFF or WebP files")
    c.add_argument("--out", required=True, metavar="DIR", help="folder for the results (created if needed)")
    c.add_argument("--save", choices=SAVE_CHOICES, default="mask", help="what to write (default: mask)")
    c.add_argument("--recipe", choices=list(RECIPES), default=DEFAULT_RECIPE,
                   help=f"how the mask is made (default: {DEFAULT_RECIPE}). {recipes_help}")
    c.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL,
                   help=f"AI model for the first pass (default: {DEFAULT_MODEL}; see `jewelmask models list`)")
    c.add_argument("--bits", type=int, choices=(8, 16), default=None,
                   help="bit depth of the outputs (default: that of the photo)")
    c.add_argument("--overwrite", action="store_true", help="replace results that already exist")
    g = c.add_argument_group("vector paths (prongs, stones)")
    g.add_argument("--paths", metavar="embedded|FILE.svg",
                   help="paths to combine: 'embedded' for the Photoshop paths saved in each photo "
                        "(JPEG or TIFF), or an SVG file drawn over the photo. A path is hard and "
                        "opaque; a path named 'cut: ...' or '-...' subtracts (docs/paths.md)")
    g.add_argument("--path-name", metavar="NAME", help="use only the path with this name")
    g = c.add_argument_group("clipped-jpeg and tiff outputs")
    g.add_argument("--background", type=_rgb_triplet, default=(255, 255, 255), metavar="R,G,B",
                   help="background colour of the clipped JPEG (default 255,255,255)")
    g.add_argument("--quality", type=int, default=95, choices=range(1, 101), metavar="1-100",
                   help="JPEG quality (default 95)")
    g.add_argument("--path-tolerance", type=float, default=0.5, metavar="PX",
                   help="how far the traced clipping path may stray from the mask edge, in pixels "
                        "(default 0.5)")
    g = c.add_argument_group("AI pass")
    g.add_argument("--tiles", type=int, default=6, metavar="N",
                   help="close-up crops the AI looks at after its global look (default 6; 0 = "
                        "one shrunken pass like plain rembg; each costs about 0.4 s)")
    g = c.add_argument_group("detail (recipe auto)")
    g.add_argument("--preset", choices=("auto", *PRESETS), default="auto",
                   help="kind of backdrop (default: auto, chosen from the photo)")
    g.add_argument("--keep-shadows", action="store_true",
                   help="keep shadows and reflections (by default they are backdrop)")
    g.add_argument("--no-open-gaps", action="store_true",
                   help="leave gaps between links and ring interiors as the AI filled them")
    g = c.add_argument_group("colour range (recipe colour)")
    g.add_argument("--metal", choices=("auto", *METAL_PRESETS, "sampled"), default="auto",
                   help="metal tone to recover (default: auto, every preset)")
    g.add_argument("--sample", type=_rgb_triplet, action="append", metavar="R,G,B",
                   help="a sampled metal colour (repeatable); implies --metal sampled")
    g.add_argument("--tolerance", type=float, default=12.0,
                   help="colour tolerance in Delta E (1-60, default 12)")
    g = c.add_argument_group("channel mask (recipe channel)")
    g.add_argument("--channel", choices=("auto", *CHANNELS), default="auto",
                   help="channel to crush (default: auto, the one with most contrast)")
    c.set_defaults(func=cmd_cutout)

    d = sub.add_parser("demo", help="run the main job on the sample photo shipped with jewelmask")
    d.add_argument("--out", default="jewelmask-demo", metavar="DIR",
                   help="folder for the results (default: ./jewelmask-demo)")
    d.add_argument("--recipe", choices=list(RECIPES), default=DEFAULT_RECIPE)
    d.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL)
    d.set_defaults(func=cmd_demo)

    m = sub.add_parser("models", help="list or install the AI models")
    msub = m.add_subparsers(dest="models_cmd", metavar="ACTION")
    msub.required = True
    msub.add_parser("list", help="the known models and which are installed")
    f = msub.add_parser("fetch", help="download a model into the model folder ($U2NET_HOME)")
    f.add_argument("name", choices=list(MODELS), metavar="NAME", help=", ".join(MODELS))
    m.set_defaults(func=cmd_models)

    try:
        from . import cli_paths
    except ImportError:
        pass
    else:
        cli_paths.add_parser(sub)
    try:
        from . import cli_batch
    except ImportError:
        pass
    else:
        cli_batch.add_parser(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        _log("interrupted")
        return 130
    except JewelmaskError as exc:
        _log(f"error: {exc}")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
