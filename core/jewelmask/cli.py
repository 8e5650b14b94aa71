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
from .memory import reuse_freed_memory

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


def _process_one(path: Path, args, out_dir: Path, *, runner=None, quiet: bool = False,
                 brush=None, keep: dict | None = None) -> dict[str, Path]:
    """Mask one photo and write its outputs; ``runner`` replaces
    :func:`run_recipe` (same signature; the batch uses it to keep the
    stages), ``quiet`` hides the per-photo progress bar, ``brush`` is the
    refine brush (:func:`read_brush`), and ``keep`` (a dict) receives the
    final ``alpha`` and the ``colours`` the cutout got."""
    from . import io
    from .ops import adjust_edge_with
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
    if brush is not None and brush.shape != loaded.rgb.shape[:2]:
        (bh, bw), (h, w) = brush.shape, loaded.rgb.shape[:2]
        raise JewelmaskError(f"the refine brush {args.refine_brush} is {bw} x {bh} pixels and {path} "
                             f"is {w} x {h}: paint the brush over this photo, at its size")
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
                       paths=paths, brush=brush, progress=progress)
    finally:
        progress.done()
    # the edge controls last, on the whole mask (paths too), as Photoshop's global refinements
    alpha = adjust_edge_with(alpha, edge_values(args))
    colours = loaded.rgb
    if getattr(args, "decontaminate", None) and ("cutout" in targets or "clipped-jpeg" in targets):
        colours = _decontaminated(loaded.rgb, alpha)
    if keep is not None:
        keep.update(alpha=alpha, colours=colours)
    for kind in ("clipped-jpeg", "tiff"):
        if kind in targets:  # tiff: the original pixels, always
            _write_clipped(targets, kind, colours if kind == "clipped-jpeg" else loaded.rgb,
                           alpha, args, loaded, path)
    if "mask" in targets:
        io.write_mask(targets["mask"], alpha, bits=bits, protect=path)
    if "cutout" in targets:
        io.write_cutout(targets["cutout"], colours, alpha, bits=bits,
                        icc_profile=loaded.icc_profile, protect=path)
    return targets


def _decontaminated(rgb, alpha):
    """The cutout's colours: the metal's own at soft edges, the backdrop plate as the cue."""
    from .backdrop import backdrop_plate
    from .decontaminate import decontaminate

    return decontaminate(rgb, alpha, background=backdrop_plate(rgb, alpha).rgb())


def read_brush(name) -> np.ndarray:
    """The refine brush from an image file: (H, W) float32 in [0, 1].

    Any file :func:`jewelmask.io.read_image` reads, at any bit depth: the
    grey value (the mean of R, G and B), times the alpha when the file has
    one, so strokes painted on a transparent layer count and the rest not.
    """
    from . import io
    from .errors import ImageReadError

    try:
        loaded = io.read_image(name)
    except ImageReadError as exc:
        raise ImageReadError(f"refine brush: {exc}") from None
    brush = loaded.rgb.mean(axis=2)
    if loaded.alpha is not None:
        brush *= loaded.alpha
    return np.clip(brush, 0.0, 1.0).astype(np.float32)


def _option_params() -> dict:
    """The refine and edge options (command line and batch settings) with the
    engine parameter that gives each its range and default."""
    from dataclasses import replace

    from .ops import EDGE_PARAMS, REFINE_PARAMS

    ops = {p.name: p for p in REFINE_PARAMS + EDGE_PARAMS}
    names = {"refine_radius": "radius", "max_radius": "max_radius", "smooth": "smooth",
             "feather": "feather", "contrast": "contrast", "shift_edge": "shift"}
    return {key: replace(ops[name], name=key) for key, name in names.items()}


def edge_values(args) -> dict:
    """The edge controls of the options, as :data:`jewelmask.ops.EDGE_PARAMS` values."""
    opts = _option_params()
    out = {}
    for key in ("smooth", "feather", "contrast", "shift_edge"):
        value = getattr(args, key, None)
        out["shift" if key == "shift_edge" else key] = opts[key].default if value is None else value
    return out


def refine_settings(args):
    """The :class:`RefineSettings` the options ask for, or None for no refine.

    ``refine`` True or any of ``refine_radius``, ``smart_radius``,
    ``max_radius``, ``refine_brush`` turns it on, ``refine`` False off;
    otherwise the recipe's own default (:class:`RecipeSettings`) holds.
    """
    from dataclasses import replace

    from .recipes import RecipeSettings
    from .refine import RefineSettings

    asked = getattr(args, "refine", None)
    tuned = any(getattr(args, k, None) is not None
                for k in ("refine_radius", "smart_radius", "max_radius", "refine_brush"))
    base = RecipeSettings().refine
    if asked is False or not (asked or tuned or base is not None):
        return None
    base = base or RefineSettings()
    radius = base.radius if getattr(args, "refine_radius", None) is None else args.refine_radius
    smart = base.smart_radius if getattr(args, "smart_radius", None) is None else args.smart_radius
    widest = base.max_radius if getattr(args, "max_radius", None) is None else args.max_radius
    return replace(base, radius=radius, smart_radius=bool(smart), max_radius=max(widest, radius))


def check_combination(args) -> None:
    """Refuse options that cannot go together (the batch checks each folder's)."""
    if getattr(args, "decontaminate", None) and args.save in ("mask", "tiff"):
        what = "the mask" if args.save == "mask" else "the original pixels"
        raise JewelmaskError(f"decontaminate changes the colours of a cutout, and --save {args.save} "
                             f"writes {what} only: use --save cutout, both or clipped-jpeg")


def _settings(args):
    """RecipeSettings from the command-line options."""
    from .ai import AISettings
    from .detail import ChannelSettings, ColourSettings
    from .recipes import RecipeSettings

    ai = AISettings(model=args.model, tile_budget=getattr(args, "tiles", None) or 6)
    preset = getattr(args, "preset", "auto")
    # the switches change the preset auto chooses (or the one given)
    overrides = {name: value for name, value, default in (
        ("keep_shadows", getattr(args, "keep_shadows", False), False),
        ("open_gaps", not getattr(args, "no_open_gaps", False), True),
        ("keep_stones", not getattr(args, "no_keep_stones", False), True)) if value != default}
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
    return RecipeSettings(ai=ai, preset=preset, overrides=overrides, channel=channel, colour=colour,
                          refine=refine_settings(args))


def _rgb_triplet(text: str):
    try:
        parts = [int(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        parts = []
    if len(parts) != 3 or not all(0 <= v <= 255 for v in parts):
        raise argparse.ArgumentTypeError(f"expected R,G,B with values 0-255, got {text!r}")
    return tuple(parts)


def cmd_cutout(args) -> int:
    check_combination(args)
    if args.refine is False:
        given = [f for f, k in (("--refine-radius", "refine_radius"), ("--smart-radius", "smart_radius"),
                                ("--max-radius", "max_radius"), ("--refine-brush", "refine_brush"))
                 if getattr(args, k) is not None]
        if given:
            raise JewelmaskError(f"--no-refine contradicts {', '.join(given)}")
    brush = read_brush(args.refine_brush) if args.refine_brush else None
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    n = len(args.images)
    for i, name in enumerate(args.images, 1):
        path = Path(name)
        t0 = time.perf_counter()
        try:
            targets = _process_one(path, args, out_dir, brush=brush)
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


def _option_type(param):
    """An argparse type that converts and range-checks like the engine parameter."""
    def convert(text):
        try:
            return param.check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = param.kind
    return convert


def add_refine_arguments(parser, *, brush: bool) -> None:
    """The refine, decontaminate and edge options (``cutout``; ``batch`` without the brush).

    Every default is None, "not given": the recipe's own setting, or no change.
    """
    from .recipes import RecipeSettings

    opts = _option_params()

    def spec(key):
        p = opts[key]
        return {"type": _option_type(p), "default": None}

    default = "on" if RecipeSettings().refine is not None else "off"
    g = parser.add_argument_group("refine edge and decontaminate colours (docs/refine.md)")
    g.add_argument("--refine", action=argparse.BooleanOptionalAction, default=None,
                   help="re-solve the mask in a band around its edge from the photo's colours and "
                        f"the backdrop plate (default: {default})")
    g.add_argument("--refine-radius", metavar="PX", **spec("refine_radius"),
                   help="half-width of that band on hard edges (0-32, default 2); implies --refine")
    g.add_argument("--smart-radius", action="store_const", const=True, default=None,
                   help="widen the band up to --max-radius where the edge is soft or detailed "
                        "(defocus, chains); implies --refine")
    g.add_argument("--max-radius", metavar="PX", **spec("max_radius"),
                   help="widest band with --smart-radius (0-32, default 8, at least --refine-radius)")
    if brush:
        g.add_argument("--refine-brush", metavar="MASK_FILE",
                       help="an image the size of the photo (greyscale, any bit depth), white where "
                            "the mask is re-evaluated however far from its edge (a missed link or "
                            "prong); transparent counts as black; implies --refine")
    g.add_argument("--decontaminate", action="store_const", const=True, default=None,
                   help="the cutout (and clipped JPEG) gets the metal's own colour at soft edges "
                        "instead of its mix with the backdrop; the mask does not change. Not with "
                        "--save mask or tiff")
    g = parser.add_argument_group("edge controls (applied last, to the whole mask, paths included)")
    g.add_argument("--smooth", metavar="0-100", **spec("smooth"),
                   help="irons out jaggies and bumps of the outline (default 0; thin wires go first)")
    g.add_argument("--feather", metavar="PX", **spec("feather"),
                   help="soft edge: blurs the mask with sigma PX/2 (0-50, default 0)")
    g.add_argument("--contrast", metavar="PERCENT", **spec("contrast"),
                   help="hardens a soft edge (0-100, default 0; 100 gives a hard mask)")
    g.add_argument("--shift-edge", metavar="PX", **spec("shift_edge"),
                   help="moves the edge out (+) or in (-) by PX pixels, fractions too (-20 to 20, "
                        "default 0); a 1 px chain does not survive -1")


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
    g.add_argument("--no-keep-stones", action="store_true",
                   help="do not make the inside of a stone the AI sees as a faceted, convex blob "
                        "solid (by default it is, so a white stone on a light sweep keeps its "
                        "light facets)")
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
    add_refine_arguments(c, brush=True)
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
    reuse_freed_memory()
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
