"""``jewelmask batch``: a folder tree of photos, resumable, with a report.

Only :func:`run` prints; the work is in :mod:`jewelmask.batch`.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    """Register ``jewelmask batch INPUT_DIR OUTPUT_DIR ...`` on an argparse subparsers object."""
    from .cli import SAVE_CHOICES, _rgb_triplet, add_refine_arguments
    from .models import MODELS
    from .recipes import PRESETS, RECIPES

    p = subparsers.add_parser(
        "batch", help="mask a folder tree of photos (resumable, with a report)",
        description="Mask every photo under INPUT_DIR (recursive) into the same folder tree under "
                    "OUTPUT_DIR, as `jewelmask cutout` does for one photo. A run that is stopped "
                    "and started again redoes nothing that finished. Settings per folder come "
                    "from --config [folders.\"a/b\"] tables and from jewelmask.toml files in the "
                    "input folders; a folder's own settings beat the command line, which beats "
                    "the config file's top level. Writes OUTPUT_DIR/report.json and "
                    "OUTPUT_DIR/index.html (a contact sheet, flagged photos first). Exit status 1 "
                    "when any photo failed (docs/batch.md).",
    )
    p.add_argument("input_dir", metavar="INPUT_DIR")
    p.add_argument("output_dir", metavar="OUTPUT_DIR")
    p.add_argument("--config", metavar="FILE.toml", help="settings: top level and [folders.\"sub/dir\"]")
    p.add_argument("--recipe", choices=list(RECIPES), help="default: auto")
    p.add_argument("--save", choices=SAVE_CHOICES, help="what to write (default: mask)")
    p.add_argument("--preset", choices=("auto", *PRESETS), help="kind of backdrop (default: auto)")
    p.add_argument("--model", choices=list(MODELS), help="AI model (default: u2netp)")
    p.add_argument("--bits", type=int, choices=(8, 16), help="output bit depth (default: the photo's)")
    p.add_argument("--background", type=_rgb_triplet, metavar="R,G,B",
                   help="background of clipped JPEGs (default 255,255,255)")
    p.add_argument("--quality", type=int, choices=range(1, 101), metavar="1-100", help="JPEG quality")
    p.add_argument("--tiles", type=int, metavar="N", help="AI close-up crops (default 6)")
    p.add_argument("--keep-shadows", action="store_const", const=True)
    p.add_argument("--no-open-gaps", action="store_const", const=True)
    p.add_argument("--paths", choices=("embedded",), help="use the paths embedded in each photo")
    add_refine_arguments(p, brush=False)
    g = p.add_argument_group("running")
    g.add_argument("--jobs", type=int, default=0, metavar="N",
                   help="worker processes, each with one model session (default: all cores)")
    g.add_argument("--memory", type=float, metavar="GB",
                   help="memory the running photos may take together (default: 60%% of what is "
                        "available); big photos then run fewer at a time")
    g.add_argument("--force", action="store_true", help="redo photos that are already done")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask distributed cluster (tcp://host:8786); needs "
                        "pip install 'jewelmask[distributed]'")
    g = p.add_argument_group("hot folder")
    g.add_argument("--watch", action="store_true",
                   help="keep running and process new photos once completely written")
    g.add_argument("--interval", type=float, default=2.0, metavar="S", help="poll every S seconds")
    g.add_argument("--settle", type=float, default=2.0, metavar="S",
                   help="a file is complete when unchanged for S seconds (default 2)")
    g.add_argument("--idle-exit", type=float, metavar="S",
                   help="with --watch: stop after S seconds with nothing new")
    p.set_defaults(func=run)
    return p


class Progress:
    """A progress bar with ETA on a terminal; a line per photo otherwise."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()

    def __call__(self, *, done, failed, total, elapsed, last):
        if last is not None and last["status"] != "ok":
            self._line(f"FAILED {last['input']}: {last.get('error', '')}")
        if done == 0 or total == 0:
            return
        rate = done / elapsed * 60 if elapsed > 0 else 0.0
        eta = (total - done) * elapsed / done
        text = (f"{done}/{total} photos, {failed} failed, {rate:.1f}/min, "
                f"ETA {int(eta // 60)}:{int(eta % 60):02d}")
        if self.tty:
            bar = int(round(20 * done / total))
            self.stream.write(f"\r[{'#' * bar}{'.' * (20 - bar)}] {text}   ")
            if done == total:
                self.stream.write("\n")
            self.stream.flush()
        elif last is not None and last["status"] == "ok":
            self._line(f"{text}  {last['input']} ({last['seconds']:.1f} s)")

    def _line(self, msg):
        if self.tty:
            self.stream.write("\r" + " " * 90 + "\r")
        print(msg, file=self.stream, flush=True)


def _base_options(args) -> dict:
    from .batch import OPTION_DEFAULTS, load_config

    base = dict(OPTION_DEFAULTS)
    folders = {}
    if args.config:
        top, folders = load_config(args.config)
        base.update(top)
    given = {k: getattr(args, k) for k in OPTION_DEFAULTS if getattr(args, k, None) is not None}
    base.update(given)
    return base, folders


def _stop_on_sigterm():
    """SIGTERM (systemd, docker stop, kill) stops like Ctrl+C: the photos under way are
    finished and the report is written."""
    import signal
    import threading

    def stop(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def run(args) -> int:
    """Run ``jewelmask batch``; returns the exit status (0 all done, 1 something failed)."""
    from .batch import BatchOptions, run_batch, watch
    from .errors import JewelmaskError

    log = Progress()
    _stop_on_sigterm()
    try:
        base, folders = _base_options(args)
        opts = BatchOptions(input_dir=Path(args.input_dir), output_dir=Path(args.output_dir),
                            base=base, config_folders=folders, jobs=max(0, args.jobs),
                            force=args.force, scheduler=args.scheduler,
                            memory=int(args.memory * 2**30) if args.memory else None)
        if args.watch:
            print(f"watching {opts.input_dir} (Ctrl+C to stop)", file=sys.stderr, flush=True)
            failed = watch(opts, interval=args.interval, settle=args.settle,
                           idle_exit=args.idle_exit, progress=log)
            return 1 if failed else 0
        counts, report, failed = run_batch(opts, progress=log)
    except (JewelmaskError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{counts['done']} done, {counts['skipped']} done earlier, {len(failed)} failed; "
          f"report: {report}, contact sheet: {report.parent / 'index.html'}", file=sys.stderr)
    for rec in failed:
        print(f"  failed: {rec['input']}: {rec.get('error', '')}", file=sys.stderr)
    return 1 if failed else 0
